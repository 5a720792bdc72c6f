"""The /ws/graphics consumer: every client message type, the `welcome`, the error codes the
services raise as they reach a WebSocket client, and what each role may do."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gal_dashboard.access import DELETE_GRAPHIC, LOCK_ADMIN, VIEWER
from graphics.models import Graphic
from locks.models import CanvasLock
from locks.services import lock_acquire
from realtime.models import Event
from realtime.protocol import PROTOCOL_VERSION
from tests.conftest import text_element, valid_canvas
from tests.realtime.conftest import token_for

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

FREE_LOCK = {
    "locked": False,
    "locked_by": None,
    "locked_by_id": None,
    "lock_time": None,
    "expires_at": None,
    "fencing_token": None,
}


def stored(graphic_id: int) -> Graphic | None:
    return Graphic.objects.filter(pk=graphic_id).first()


def parse_time(value: str) -> datetime:
    assert value.endswith("Z"), value
    return datetime.fromisoformat(value)


async def error_of(client: Any, message_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """Send one request and return its error reply's data (failing on an ack)."""
    reply = await client.request(message_type, data)
    assert reply["type"] == "error", reply
    return reply["data"]


# --- welcome --------------------------------------------------------------------------------


async def test_welcome_names_the_connection_the_user_and_the_protocol(
    ws_connect: Callable[..., Any], editor: Any
) -> None:
    """The welcome carries a connection id unique to each connection, the user's id and
    username, the server's current time in UTC and the protocol version."""
    first = await ws_connect(editor)
    second = await ws_connect(editor)

    assert first.welcome is not None and second.welcome is not None
    assert first.welcome["user"] == {"id": editor.pk, "username": "editor"}
    assert first.welcome["protocol_version"] == PROTOCOL_VERSION == 1
    assert first.welcome["auth_method"] == "token"
    assert first.welcome["connection_id"] != second.welcome["connection_id"]
    assert len(first.welcome["connection_id"]) >= 16
    skew = abs(datetime.now(UTC) - parse_time(first.welcome["server_time"]))
    assert skew < timedelta(seconds=5)


# --- subscribe / unsubscribe ------------------------------------------------------------------


async def test_subscribing_to_a_graphic_returns_its_full_snapshot(
    ws_connect: Callable[..., Any], db_call: Any, viewer: Any, graphic: Graphic
) -> None:
    """The snapshot of one graphic holds the whole graphic with its canvas, its lock state and
    the seq of the graphic's latest event."""
    client = await ws_connect(viewer)

    snapshot = await client.ack("subscribe", {"graphic_id": graphic.pk})

    latest = await db_call(lambda: Event.objects.filter(graphic_id=graphic.pk).last())
    assert snapshot["graphic_id"] == graphic.pk
    assert snapshot["seq"] == latest.pk
    assert snapshot["lock"] == FREE_LOCK
    assert snapshot["graphic"]["id"] == graphic.pk
    assert snapshot["graphic"]["title"] == "Round 3 Scoreboard"
    assert snapshot["graphic"]["version"] == 1
    assert snapshot["graphic"]["data"] == valid_canvas()
    assert snapshot["graphic"]["created_by"] == {"id": graphic.created_by_id, "username": "editor"}


async def test_a_graphic_snapshot_shows_who_holds_the_lock(
    ws_connect: Callable[..., Any], db_call: Any, viewer: Any, editor: Any, graphic: Graphic
) -> None:
    """A locked graphic's snapshot names the holder, the lock's times and fencing token."""
    lock = await db_call(lock_acquire, user=editor, graphic_id=graphic.pk)
    client = await ws_connect(viewer)

    snapshot = await client.ack("subscribe", {"graphic_id": graphic.pk})

    assert snapshot["lock"]["locked"] is True
    assert snapshot["lock"]["locked_by"] == "editor"
    assert snapshot["lock"]["locked_by_id"] == editor.pk
    assert snapshot["lock"]["fencing_token"] == lock.fencing_token
    assert parse_time(snapshot["lock"]["expires_at"]) == lock.expires_at


async def test_subscribing_to_all_returns_summaries_without_the_canvas(
    ws_connect: Callable[..., Any],
    db_call: Any,
    viewer: Any,
    editor: Any,
    make_graphic: Callable[..., Any],
) -> None:
    """The "all" snapshot lists every graphic, newest first, as a summary without `data`, each
    with its lock state, and the seq of the latest event overall."""
    first = await db_call(make_graphic, title="Lobby A", by=editor)
    second = await db_call(make_graphic, title="Lobby B", by=editor)
    await db_call(lock_acquire, user=editor, graphic_id=first.pk)
    client = await ws_connect(viewer)

    snapshot = await client.ack("subscribe", {"graphic_id": "all"})

    latest = await db_call(lambda: Event.objects.last())
    assert snapshot["graphic_id"] == "all"
    assert snapshot["seq"] == latest.pk
    assert [item["id"] for item in snapshot["graphics"]] == [second.pk, first.pk]
    assert all("data" not in item for item in snapshot["graphics"])
    by_id = {item["id"]: item for item in snapshot["graphics"]}
    assert by_id[first.pk]["title"] == "Lobby A"
    assert by_id[first.pk]["lock"]["locked_by"] == "editor"
    assert by_id[second.pk]["lock"] == FREE_LOCK


async def test_subscribing_to_a_missing_graphic_is_not_found_and_subscribes_nothing(
    ws_connect: Callable[..., Any], db_call: Any, viewer: Any
) -> None:
    """A subscription to a graphic that does not exist fails with not_found and leaves no
    subscription behind (unsubscribing it is not_subscribed)."""
    client = await ws_connect(viewer)

    error = await error_of(client, "subscribe", {"graphic_id": 999_999})
    assert error["code"] == "not_found"

    error = await error_of(client, "unsubscribe", {"graphic_id": 999_999})
    assert error["code"] == "not_subscribed"


async def test_unsubscribing_stops_the_events_of_that_subscription(
    ws_connect: Callable[..., Any], db_call: Any, viewer: Any, editor: Any, graphic: Graphic
) -> None:
    """After `unsubscribe` the client gets no more events of that graphic; a second
    `unsubscribe` is not_subscribed."""
    client = await ws_connect(viewer)
    await client.ack("subscribe", {"graphic_id": graphic.pk})

    reply = await client.ack("unsubscribe", {"graphic_id": graphic.pk})
    assert reply == {"graphic_id": graphic.pk}
    await db_call(lock_acquire, user=editor, graphic_id=graphic.pk)
    await client.no_event()

    error = await error_of(client, "unsubscribe", {"graphic_id": graphic.pk})
    assert error["code"] == "not_subscribed"


async def test_unsubscribing_from_all_without_a_subscription_is_not_subscribed(
    ws_connect: Callable[..., Any], viewer: Any
) -> None:
    """`unsubscribe` from "all" is not_subscribed unless "all" was subscribed."""
    client = await ws_connect(viewer)

    error = await error_of(client, "unsubscribe", {"graphic_id": "all"})
    assert error["code"] == "not_subscribed"

    await client.ack("subscribe", {"graphic_id": "all"})
    assert await client.ack("unsubscribe", {"graphic_id": "all"}) == {"graphic_id": "all"}


async def test_subscribing_again_replaces_the_subscription(
    ws_connect: Callable[..., Any], db_call: Any, viewer: Any, editor: Any, graphic: Graphic
) -> None:
    """Subscribing twice to one graphic gives a fresh snapshot and still one copy of each
    later event."""
    client = await ws_connect(viewer)
    await client.ack("subscribe", {"graphic_id": graphic.pk})
    await db_call(lock_acquire, user=editor, graphic_id=graphic.pk)
    acquired = await client.next_event()

    snapshot = await client.ack("subscribe", {"graphic_id": graphic.pk})

    assert snapshot["seq"] == acquired["data"]["seq"]
    assert snapshot["lock"]["locked_by"] == "editor"
    client.events.clear()  # anything that arrived before the second snapshot is superseded
    await db_call(lock_acquire, user=editor, graphic_id=graphic.pk)
    refreshed = await client.next_event()
    assert refreshed["data"]["reason"] == "refreshed"
    assert refreshed["data"]["seq"] > snapshot["seq"]
    await client.no_event()


# --- create / update --------------------------------------------------------------------------


async def test_an_editor_creates_a_graphic(
    ws_connect: Callable[..., Any], db_call: Any, editor: Any
) -> None:
    """`create` makes a graphic at version 1 and acks it in full."""
    client = await ws_connect(editor)

    reply = await client.ack(
        "create", {"title": "Week 2 Standings", "event_name": "GAL S3W2", "data": valid_canvas()}
    )

    created = reply["graphic"]
    assert created["title"] == "Week 2 Standings"
    assert created["version"] == 1
    assert created["data"] == valid_canvas()
    assert created["created_by"] == {"id": editor.pk, "username": "editor"}
    graphic = await db_call(stored, created["id"])
    assert graphic is not None
    assert graphic.event_name == "GAL S3W2"


async def test_create_without_data_starts_from_an_empty_canvas(
    ws_connect: Callable[..., Any], editor: Any
) -> None:
    """`data` is optional on `create`: the graphic starts with an empty canvas."""
    client = await ws_connect(editor)

    reply = await client.ack("create", {"title": "Blank", "event_name": "GAL S3W2"})

    assert reply["graphic"]["data"]["elements"] == []


async def test_update_with_the_lock_and_the_current_version_makes_a_new_version(
    ws_connect: Callable[..., Any], db_call: Any, editor: Any, graphic: Graphic
) -> None:
    """The lock holder updates title and canvas by naming the version they edited; the graphic
    moves to the next version."""
    client = await ws_connect(editor)
    token = (await client.ack("lock", {"graphic_id": graphic.pk}))["lock"]["fencing_token"]
    canvas = valid_canvas(elements=[text_element(content="Final standings")])

    reply = await client.ack(
        "update",
        {
            "graphic_id": graphic.pk,
            "version": 1,
            "fencing_token": token,
            "title": "Final",
            "data": canvas,
        },
    )

    assert reply["graphic"]["version"] == 2
    assert reply["graphic"]["title"] == "Final"
    assert reply["graphic"]["data"] == canvas
    saved = await db_call(stored, graphic.pk)
    assert (saved.version, saved.title, saved.data) == (2, "Final", canvas)


async def test_update_without_the_lock_is_a_lock_conflict(
    ws_connect: Callable[..., Any], db_call: Any, editor: Any, graphic: Graphic
) -> None:
    """Editing a graphic nobody has locked is refused: the lock is needed to edit."""
    client = await ws_connect(editor)

    error = await error_of(client, "update", {"graphic_id": graphic.pk, "version": 1, "title": "X"})

    assert error["code"] == "lock_conflict"
    assert error["details"]["locked_by"] is None
    assert (await db_call(stored, graphic.pk)).title == "Round 3 Scoreboard"


async def test_update_of_a_graphic_someone_else_locked_names_the_holder(
    ws_connect: Callable[..., Any], db_call: Any, editor: Any, editor2: Any, graphic: Graphic
) -> None:
    """An edit while another editor holds the lock is a lock_conflict naming that editor."""
    await db_call(lock_acquire, user=editor, graphic_id=graphic.pk)
    client = await ws_connect(editor2)

    error = await error_of(client, "update", {"graphic_id": graphic.pk, "version": 1, "title": "X"})

    assert error["code"] == "lock_conflict"
    assert error["details"]["locked_by"] == "editor"
    assert error["details"]["locked_by_id"] == editor.pk


async def test_update_with_a_stale_version_is_a_version_conflict(
    ws_connect: Callable[..., Any], db_call: Any, editor: Any, graphic: Graphic
) -> None:
    """A second edit that still names the old version is refused with the current version in
    `details.current_version`, and changes nothing."""
    client = await ws_connect(editor)
    token = (await client.ack("lock", {"graphic_id": graphic.pk}))["lock"]["fencing_token"]
    await client.ack(
        "update", {"graphic_id": graphic.pk, "version": 1, "fencing_token": token, "title": "First"}
    )

    error = await error_of(
        client,
        "update",
        {"graphic_id": graphic.pk, "version": 1, "fencing_token": token, "title": "Second"},
    )

    assert error["code"] == "version_conflict"
    assert error["details"]["current_version"] == 2
    saved = await db_call(stored, graphic.pk)
    assert (saved.version, saved.title) == (2, "First")


async def test_update_of_an_archived_graphic_is_a_state_conflict(
    ws_connect: Callable[..., Any], editor: Any, graphic: Graphic
) -> None:
    """Archived graphics cannot be edited (nor locked)."""
    client = await ws_connect(editor)
    token = (await client.ack("lock", {"graphic_id": graphic.pk}))["lock"]["fencing_token"]
    await client.ack("archive", {"graphic_id": graphic.pk})

    error = await error_of(
        client,
        "update",
        {"graphic_id": graphic.pk, "version": 1, "fencing_token": token, "title": "X"},
    )
    assert error["code"] == "state_conflict"
    error = await error_of(client, "lock", {"graphic_id": graphic.pk})
    assert error["code"] == "state_conflict"


async def test_an_oversized_canvas_is_too_large(
    ws_connect: Callable[..., Any], db_call: Any, settings: Any, editor: Any, graphic: Graphic
) -> None:
    """A canvas over GRAPHIC_DATA_MAX_BYTES is refused with too_large, on create and update."""
    settings.GRAPHIC_DATA_MAX_BYTES = 1024
    big = valid_canvas(elements=[text_element(content="x" * 2000)])
    client = await ws_connect(editor)
    token = (await client.ack("lock", {"graphic_id": graphic.pk}))["lock"]["fencing_token"]

    error = await error_of(client, "create", {"title": "Big", "event_name": "E", "data": big})
    assert error["code"] == "too_large"
    error = await error_of(
        client,
        "update",
        {"graphic_id": graphic.pk, "version": 1, "fencing_token": token, "data": big},
    )
    assert error["code"] == "too_large"

    assert await db_call(lambda: Graphic.objects.count()) == 1
    assert (await db_call(stored, graphic.pk)).version == 1


async def test_an_invalid_canvas_is_a_validation_error_per_field(
    ws_connect: Callable[..., Any], db_call: Any, editor: Any
) -> None:
    """A canvas with a string where a number belongs is refused, the field named in details."""
    client = await ws_connect(editor)
    canvas = valid_canvas(elements=[text_element(x="40")])

    error = await error_of(client, "create", {"title": "T", "event_name": "E", "data": canvas})

    assert error["code"] == "validation_error"
    assert "data.elements[0].x" in error["details"]
    assert await db_call(lambda: Graphic.objects.count()) == 0


@pytest.mark.parametrize(
    ("message_type", "data"),
    [
        ("subscribe", {"graphic_id": 1, "extra": True}),
        ("unsubscribe", {"graphic_id": 1, "extra": True}),
        ("create", {"title": "T", "event_name": "E", "colour": "red"}),
        ("update", {"graphic_id": 1, "version": 1, "title": "T", "locked": True}),
        ("archive", {"graphic_id": 1, "force": True}),
        ("restore", {"graphic_id": 1, "force": True}),
        ("delete", {"graphic_id": 1, "force": True}),
        ("lock", {"graphic_id": 1, "ttl": 60}),
        ("unlock", {"graphic_id": 1, "ttl": 60}),
        ("auth", {"token": "x", "user": 1}),
    ],
)
async def test_unknown_fields_are_a_validation_error(
    ws_connect: Callable[..., Any],
    db_call: Any,
    lock_admin: Any,
    graphic: Graphic,
    message_type: str,
    data: dict[str, Any],
) -> None:
    """Every message type refuses fields it does not know, naming them, and changes nothing."""
    client = await ws_connect(lock_admin)
    data = {**data, "graphic_id": graphic.pk} if "graphic_id" in data else data

    error = await error_of(client, message_type, data)

    assert error["code"] == "validation_error"
    unknown = set(data) - {"graphic_id", "version", "title", "event_name", "token"}
    assert set(error["details"]) == unknown
    saved = await db_call(stored, graphic.pk)
    assert saved is not None
    assert (saved.version, saved.archived) == (1, False)
    assert not await db_call(lambda: CanvasLock.objects.exists())


MISSING = object()
BAD_GRAPHIC_IDS: list[Any] = ["7", "abc", "", 0, -3, 1.5, True, None, [1], {"id": 1}, MISSING]


@pytest.mark.parametrize(
    "message_type",
    ["subscribe", "unsubscribe", "update", "archive", "restore", "delete", "lock", "unlock"],
)
async def test_a_bad_graphic_id_is_a_validation_error(
    ws_connect: Callable[..., Any], lock_admin: Any, message_type: str
) -> None:
    """graphic_id must be a positive whole number (or "all" for subscriptions); anything else,
    or nothing, is a validation_error on `graphic_id`."""
    client = await ws_connect(lock_admin)
    extra = {"version": 1, "title": "T"} if message_type == "update" else {}

    for bad_id in BAD_GRAPHIC_IDS:
        data = {**extra} if bad_id is MISSING else {**extra, "graphic_id": bad_id}
        error = await error_of(client, message_type, data)
        assert error["code"] == "validation_error", bad_id
        assert "graphic_id" in error["details"], bad_id


@pytest.mark.parametrize("message_type", ["update", "archive", "restore", "delete", "lock"])
async def test_a_missing_graphic_is_not_found(
    ws_connect: Callable[..., Any], lock_admin: Any, message_type: str
) -> None:
    """Writes to a graphic that does not exist fail with not_found."""
    client = await ws_connect(lock_admin)
    data: dict[str, Any] = {"graphic_id": 424_242}
    if message_type == "update":
        data.update(version=1, title="T")

    error = await error_of(client, message_type, data)

    assert error["code"] == "not_found"


# --- archive / restore / delete ---------------------------------------------------------------


async def test_an_editor_archives_and_restores_a_graphic(
    ws_connect: Callable[..., Any], db_call: Any, editor: Any, graphic: Graphic
) -> None:
    """`archive` marks the graphic archived (by whom, when, as a new version) and
    `restore` brings it back; archiving the archived or restoring the active is a
    state_conflict."""
    client = await ws_connect(editor)

    archived = (await client.ack("archive", {"graphic_id": graphic.pk, "reason": "done"}))[
        "graphic"
    ]
    assert archived["archived"] is True
    assert archived["archived_by"] == {"id": editor.pk, "username": "editor"}
    assert archived["archived_at"] is not None
    assert archived["version"] == 2
    error = await error_of(client, "archive", {"graphic_id": graphic.pk})
    assert error["code"] == "state_conflict"

    restored = (await client.ack("restore", {"graphic_id": graphic.pk}))["graphic"]
    assert restored["archived"] is False
    assert restored["archived_at"] is None
    error = await error_of(client, "restore", {"graphic_id": graphic.pk})
    assert error["code"] == "state_conflict"
    assert (await db_call(stored, graphic.pk)).archived is False


async def test_archiving_a_graphic_someone_else_locked_is_a_lock_conflict(
    ws_connect: Callable[..., Any], db_call: Any, editor: Any, editor2: Any, graphic: Graphic
) -> None:
    """Nobody archives a graphic another editor is working on."""
    await db_call(lock_acquire, user=editor, graphic_id=graphic.pk)
    client = await ws_connect(editor2)

    error = await error_of(client, "archive", {"graphic_id": graphic.pk})

    assert error["code"] == "lock_conflict"
    assert error["details"]["locked_by"] == "editor"
    assert (await db_call(stored, graphic.pk)).archived is False


async def test_a_lock_admin_deletes_a_graphic(
    ws_connect: Callable[..., Any], db_call: Any, lock_admin: Any, graphic: Graphic
) -> None:
    """A Lock admin deletes a graphic permanently; the ack confirms it."""
    client = await ws_connect(lock_admin)

    reply = await client.ack("delete", {"graphic_id": graphic.pk, "reason": "duplicate"})

    assert reply == {"graphic_id": graphic.pk, "deleted": True}
    assert await db_call(stored, graphic.pk) is None
    error = await error_of(client, "delete", {"graphic_id": graphic.pk})
    assert error["code"] == "not_found"


# --- lock / unlock ----------------------------------------------------------------------------


async def test_lock_acquires_then_refreshes_and_unlock_releases(
    ws_connect: Callable[..., Any], db_call: Any, editor: Any, graphic: Graphic
) -> None:
    """`lock` gives the caller the lock; locking again extends it (same fencing token);
    `unlock` releases it and reports the lock free; unlocking again releases nothing."""
    client = await ws_connect(editor)

    acquired = await client.ack("lock", {"graphic_id": graphic.pk})
    assert acquired["graphic_id"] == graphic.pk
    assert acquired["lock"]["locked_by"] == "editor"
    assert acquired["lock"]["locked_by_id"] == editor.pk
    refreshed = await client.ack("lock", {"graphic_id": graphic.pk})
    assert refreshed["lock"]["fencing_token"] == acquired["lock"]["fencing_token"]
    assert parse_time(refreshed["lock"]["expires_at"]) >= parse_time(acquired["lock"]["expires_at"])

    released = await client.ack("unlock", {"graphic_id": graphic.pk})
    assert released == {"graphic_id": graphic.pk, "released": True, "lock": FREE_LOCK}
    assert not await db_call(lambda: CanvasLock.objects.exists())

    again = await client.ack("unlock", {"graphic_id": graphic.pk})
    assert again == {"graphic_id": graphic.pk, "released": False, "lock": FREE_LOCK}


async def test_locking_or_unlocking_someone_elses_lock_is_a_lock_conflict(
    ws_connect: Callable[..., Any], db_call: Any, editor: Any, editor2: Any, graphic: Graphic
) -> None:
    """A second editor can neither take nor release the first one's lock; the conflict names
    the holder and the expiry."""
    owner = await ws_connect(editor)
    other = await ws_connect(editor2)
    held = await owner.ack("lock", {"graphic_id": graphic.pk})

    for message_type in ("lock", "unlock"):
        error = await error_of(other, message_type, {"graphic_id": graphic.pk})
        assert error["code"] == "lock_conflict"
        assert error["details"]["locked_by"] == "editor"
        assert error["details"]["expires_at"] == held["lock"]["expires_at"]

    lock = await db_call(lambda: CanvasLock.objects.get(graphic_id=graphic.pk))
    assert lock.holder_id == editor.pk


# --- ping / auth ------------------------------------------------------------------------------


async def test_ping_is_answered_with_pong_and_the_server_time(
    ws_connect: Callable[..., Any], viewer: Any
) -> None:
    """`ping` gets one `pong` with the request's request_id and the server's time."""
    client = await ws_connect(viewer)

    request_id = await client.send("ping", request_id="heartbeat-1")
    reply = await client.receive()

    assert reply["type"] == "pong"
    assert reply["request_id"] == "heartbeat-1"
    assert abs(datetime.now(UTC) - parse_time(reply["data"]["server_time"])) < timedelta(seconds=5)
    assert request_id == "heartbeat-1"
    await client.no_event()


async def test_auth_with_a_fresh_token_of_the_same_user_is_acknowledged(
    ws_connect: Callable[..., Any], db_call: Any, editor: Any
) -> None:
    """`auth` with a new access token of the connected user acks its expiry time."""
    client = await ws_connect(editor)
    token = await db_call(token_for, editor)

    reply = await client.ack("auth", {"token": token})

    assert isinstance(reply["token_expires_at"], int)
    assert reply["token_expires_at"] > datetime.now(UTC).timestamp()


@pytest.mark.parametrize("token_of", ["other user", "garbage", "not a string"])
async def test_auth_with_another_users_or_an_invalid_token_is_a_validation_error(
    ws_connect: Callable[..., Any], db_call: Any, editor: Any, editor2: Any, token_of: str
) -> None:
    """A token of another user, a malformed one or a non-string is a validation_error on
    `token`, and the connection stays open as the same user."""
    client = await ws_connect(editor)
    token: Any = {
        "other user": await db_call(token_for, editor2),
        "garbage": "not-a-jwt",
        "not a string": 12345,
    }[token_of]

    error = await error_of(client, "auth", {"token": token})

    assert error["code"] == "validation_error"
    assert "token" in error["details"]
    created = await client.ack("create", {"title": "Still me", "event_name": "E"})
    assert created["graphic"]["created_by"]["username"] == "editor"


# --- permissions per role ---------------------------------------------------------------------

WRITES: list[tuple[str, dict[str, Any]]] = [
    ("create", {"title": "T", "event_name": "E"}),
    ("update", {"version": 1, "title": "T"}),
    ("archive", {}),
    ("restore", {}),
    ("delete", {}),
    ("lock", {}),
    ("unlock", {}),
]


@pytest.mark.parametrize(("message_type", "data"), WRITES, ids=[name for name, _ in WRITES])
async def test_a_viewer_can_watch_but_not_write(
    ws_connect: Callable[..., Any],
    db_call: Any,
    viewer: Any,
    graphic: Graphic,
    message_type: str,
    data: dict[str, Any],
) -> None:
    """A Viewer subscribes, but every write is permission_denied, listing the permission it
    lacks, and nothing changes."""
    client = await ws_connect(viewer)
    await client.ack("subscribe", {"graphic_id": graphic.pk})
    if message_type != "create":
        data = {**data, "graphic_id": graphic.pk}

    error = await error_of(client, message_type, data)

    assert error["code"] == "permission_denied"
    assert error["details"]["required"]
    await client.no_event()
    saved = await db_call(stored, graphic.pk)
    assert (saved.version, saved.title, saved.archived) == (1, "Round 3 Scoreboard", False)
    assert await db_call(lambda: Graphic.objects.count()) == 1
    assert not await db_call(lambda: CanvasLock.objects.exists())


async def test_an_editor_edits_but_cannot_delete(
    ws_connect: Callable[..., Any], db_call: Any, editor: Any
) -> None:
    """An Editor creates, locks, updates, archives and restores; delete is permission_denied
    (it needs the Lock admin role)."""
    client = await ws_connect(editor)

    graphic_id = (await client.ack("create", {"title": "T", "event_name": "E"}))["graphic"]["id"]
    token = (await client.ack("lock", {"graphic_id": graphic_id}))["lock"]["fencing_token"]
    await client.ack(
        "update", {"graphic_id": graphic_id, "version": 1, "fencing_token": token, "title": "T2"}
    )
    await client.ack("unlock", {"graphic_id": graphic_id})
    await client.ack("archive", {"graphic_id": graphic_id})
    await client.ack("restore", {"graphic_id": graphic_id})
    error = await error_of(client, "delete", {"graphic_id": graphic_id})

    assert error["code"] == "permission_denied"
    assert error["details"]["required"] == [DELETE_GRAPHIC]
    assert await db_call(stored, graphic_id) is not None


@pytest.mark.parametrize("role", [VIEWER, LOCK_ADMIN])
async def test_delete_is_for_lock_admins_only(
    ws_connect: Callable[..., Any],
    db_call: Any,
    make_user: Callable[..., Any],
    graphic: Graphic,
    role: str,
) -> None:
    """A Lock admin may delete; a Viewer may not."""
    user = await db_call(make_user, role=role)
    client = await ws_connect(user)

    reply = await client.request("delete", {"graphic_id": graphic.pk})

    if role == LOCK_ADMIN:
        assert reply["type"] == "ack"
        assert await db_call(stored, graphic.pk) is None
    else:
        assert reply["data"]["code"] == "permission_denied"
        assert await db_call(stored, graphic.pk) is not None


async def test_a_superuser_can_do_everything(
    ws_connect: Callable[..., Any], db_call: Any, superuser: Any, graphic: Graphic
) -> None:
    """A superuser has no role yet may view, lock, edit and delete."""
    client = await ws_connect(superuser)

    await client.ack("subscribe", {"graphic_id": graphic.pk})
    token = (await client.ack("lock", {"graphic_id": graphic.pk}))["lock"]["fencing_token"]
    await client.ack(
        "update", {"graphic_id": graphic.pk, "version": 1, "fencing_token": token, "title": "Root"}
    )
    await client.ack("delete", {"graphic_id": graphic.pk})

    assert await db_call(stored, graphic.pk) is None

"""The /ws/graphics consumer at the edges: every client message type sent so that it changes
nothing (the current title again, `-0.0` for `0`, a patch of the current values, a second
`lock`, an `unlock` of a free graphic, a repeated `activity`, a second `subscribe`...) gets a
proper reply: an `ack`, or an `error` with a documented code, never `internal_error`.

Issue 14 found `update` with the current title answering `internal_error`: the reply read
related rows of the graphic from the event loop. Each handler now runs its service and builds its
reply in the same database thread."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from graphics.models import Graphic
from realtime.connection.consumers import GraphicsConsumer
from realtime.models import Event
from tests.conftest import text_element, valid_canvas
from tests.realtime.conftest import WsClient, token_for

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

# Every type this file sends; checked against the consumer's handlers, so a new message type
# cannot be added without its edge cases here.
COVERED_TYPES = {
    "subscribe",
    "unsubscribe",
    "create",
    "update",
    "delete",
    "archive",
    "restore",
    "lock",
    "unlock",
    "lock_refresh",
    "lock_override",
    "auth",
    "activity",
    "ping",
    "take",
    "clear",
    "set_live",
}


def state_of(graphic_id: int) -> tuple[int, str, Any, int]:
    """(version, title, data, events of the graphic): what a no-op must leave alone."""
    graphic = Graphic.objects.get(pk=graphic_id)
    events = Event.objects.filter(graphic_id=graphic_id).count()
    return graphic.version, graphic.title, graphic.data, events


async def acked(client: WsClient, message_type: str, data: dict[str, Any]) -> dict[str, Any]:
    reply = await client.request(message_type, data)
    assert reply["type"] == "ack", reply
    return dict(reply["data"])


async def refused(client: WsClient, message_type: str, data: dict[str, Any], code: str) -> None:
    reply = await client.request(message_type, data)
    assert reply["type"] == "error", reply
    assert reply["data"]["code"] == code, reply


async def locked_client(ws_connect: Callable[..., Any], user: Any, graphic_id: int) -> Any:
    """(a client of `user` holding the graphic's lock, its fencing token)."""
    client = await ws_connect(user)
    lock = await acked(client, "lock", {"graphic_id": graphic_id})
    return client, lock["lock"]["fencing_token"]


def test_every_client_message_type_has_its_edge_cases_here() -> None:
    assert set(GraphicsConsumer.handlers) | {"ping"} == COVERED_TYPES


async def test_an_update_to_the_current_title_is_acknowledged_and_changes_nothing(
    ws_connect: Callable[..., Any], db_call: Any, editor: Any, graphic: Graphic
) -> None:
    """The current title (and event name) sent again: an ack with the graphic as it is, at the
    same version, with no new event. REST answers 200 to the same request."""
    client, token = await locked_client(ws_connect, editor, graphic.pk)
    before = await db_call(state_of, graphic.pk)

    reply = await acked(
        client,
        "update",
        {
            "graphic_id": graphic.pk,
            "version": 1,
            "fencing_token": token,
            "title": graphic.title,
            "event_name": graphic.event_name,
        },
    )

    assert reply["graphic"]["version"] == 1
    assert reply["graphic"]["title"] == graphic.title
    assert reply["graphic"]["created_by"] == {"id": editor.pk, "username": "editor"}
    assert reply["graphic"]["updated_by"] == {"id": editor.pk, "username": "editor"}
    assert await db_call(state_of, graphic.pk) == before


async def test_an_update_with_minus_zero_is_acknowledged(
    ws_connect: Callable[..., Any],
    db_call: Any,
    editor: Any,
    make_graphic: Callable[..., Any],
) -> None:
    """`-0.0` is a number like any other: where the canvas has 0 it changes nothing (the same
    version), and where it has 40 it is an edit (the next version); both are acknowledged."""
    canvas = valid_canvas(elements=[text_element(x=0)])
    graphic = await db_call(make_graphic, data=canvas, by=editor)
    client, token = await locked_client(ws_connect, editor, graphic.pk)
    same = valid_canvas(elements=[text_element(x=-0.0)])
    assert '"x": -0.0' in json.dumps(same)

    reply = await acked(
        client,
        "update",
        {"graphic_id": graphic.pk, "version": 1, "fencing_token": token, "data": same},
    )
    assert reply["graphic"]["version"] == 1

    moved = valid_canvas(elements=[text_element(x=0, y=-0.0)])
    reply = await acked(
        client,
        "update",
        {"graphic_id": graphic.pk, "version": 1, "fencing_token": token, "data": moved},
    )
    assert reply["graphic"]["version"] == 2
    assert reply["graphic"]["data"]["elements"][0]["y"] == 0


async def test_a_patch_that_changes_nothing_is_acknowledged(
    ws_connect: Callable[..., Any], db_call: Any, editor: Any, graphic: Graphic
) -> None:
    """A patch of the current title, or of an element's current position, is acknowledged
    with the graphic unchanged."""
    client, token = await locked_client(ws_connect, editor, graphic.pk)
    before = await db_call(state_of, graphic.pk)

    for patch in (
        {"title": graphic.title},
        {"data": {"elements": {"title": {"x": 40, "y": 32}}}},
        {"data": {"background": graphic.data["background"]}},
    ):
        reply = await acked(
            client,
            "update",
            {"graphic_id": graphic.pk, "version": 1, "fencing_token": token, "patch": patch},
        )
        assert reply["graphic"]["version"] == 1, patch

    assert await db_call(state_of, graphic.pk) == before


async def test_locking_twice_and_refreshing_are_acknowledged_with_the_same_token(
    ws_connect: Callable[..., Any], editor: Any, graphic: Graphic
) -> None:
    """A second `lock` by the holder refreshes it, as `lock_refresh` does: the same fencing
    token each time."""
    client, token = await locked_client(ws_connect, editor, graphic.pk)

    again = await acked(client, "lock", {"graphic_id": graphic.pk})
    refreshed = await acked(client, "lock_refresh", {"graphic_id": graphic.pk})
    refreshed_again = await acked(client, "lock_refresh", {"graphic_id": graphic.pk})

    assert {
        again["lock"]["fencing_token"],
        refreshed["lock"]["fencing_token"],
        refreshed_again["lock"]["fencing_token"],
    } == {token}
    assert refreshed_again["lock"]["locked_by"] == "editor"


async def test_refreshing_or_releasing_a_lock_not_held(
    ws_connect: Callable[..., Any], editor: Any, editor2: Any, graphic: Graphic
) -> None:
    """`lock_refresh` of a free graphic is a lock_conflict; `unlock` of a free graphic is an
    ack with `released: false`, twice over; someone else's lock is a lock_conflict for both."""
    client = await ws_connect(editor)

    await refused(client, "lock_refresh", {"graphic_id": graphic.pk}, "lock_conflict")
    for _ in range(2):
        reply = await acked(client, "unlock", {"graphic_id": graphic.pk})
        assert reply["released"] is False
        assert reply["lock"]["locked"] is False

    other, _ = await locked_client(ws_connect, editor2, graphic.pk)
    await refused(client, "lock_refresh", {"graphic_id": graphic.pk}, "lock_conflict")
    await refused(client, "unlock", {"graphic_id": graphic.pk}, "lock_conflict")
    await other.close()


async def test_archive_and_restore_twice(
    ws_connect: Callable[..., Any], editor: Any, graphic: Graphic
) -> None:
    """Archiving answers the archived graphic; archiving it again is a state_conflict, as is
    restoring an active graphic; restoring answers the active graphic."""
    client = await ws_connect(editor)

    await refused(client, "restore", {"graphic_id": graphic.pk}, "state_conflict")
    archived = await acked(client, "archive", {"graphic_id": graphic.pk})
    await refused(client, "archive", {"graphic_id": graphic.pk}, "state_conflict")
    restored = await acked(client, "restore", {"graphic_id": graphic.pk})
    await refused(client, "restore", {"graphic_id": graphic.pk}, "state_conflict")

    assert archived["graphic"]["archived"] is True
    assert archived["graphic"]["created_by"] == {"id": editor.pk, "username": "editor"}
    assert restored["graphic"]["archived"] is False
    assert restored["graphic"]["archived_by"] is None


async def test_create_then_delete_twice(ws_connect: Callable[..., Any], lock_admin: Any) -> None:
    """A graphic created without data is acknowledged with its creator; deleting it twice is
    an ack, then not_found."""
    client = await ws_connect(lock_admin)

    created = await acked(client, "create", {"title": "Lobby A", "event_name": "Week 1"})
    graphic_id = created["graphic"]["id"]
    assert created["graphic"]["created_by"] == {"id": lock_admin.pk, "username": "lockadmin"}

    assert (await acked(client, "delete", {"graphic_id": graphic_id}))["deleted"] is True
    await refused(client, "delete", {"graphic_id": graphic_id}, "not_found")


async def test_overriding_a_free_lock_and_ones_own(
    ws_connect: Callable[..., Any], lock_admin: Any, graphic: Graphic
) -> None:
    """`lock_override` of a free graphic is a state_conflict; of one's own lock (taking it
    over again) an ack with a new fencing token."""
    client = await ws_connect(lock_admin)
    await refused(
        client, "lock_override", {"graphic_id": graphic.pk, "reason": "stuck"}, "state_conflict"
    )
    token = (await acked(client, "lock", {"graphic_id": graphic.pk}))["lock"]["fencing_token"]

    reply = await acked(
        client, "lock_override", {"graphic_id": graphic.pk, "reason": "again", "take_over": True}
    )

    assert reply["lock"]["locked_by"] == "lockadmin"
    assert reply["lock"]["fencing_token"] > token


async def test_subscribe_twice_activity_twice_and_unsubscribe_twice(
    ws_connect: Callable[..., Any], editor: Any, graphic: Graphic
) -> None:
    """A second `subscribe` answers the snapshot again; a repeated `activity` is acknowledged
    each time; a second `unsubscribe` is not_subscribed, and so is `activity` after it."""
    client = await ws_connect(editor)

    for key in (graphic.pk, "all"):
        first = await acked(client, "subscribe", {"graphic_id": key})
        second = await acked(client, "subscribe", {"graphic_id": key})
        assert first["seq"] == second["seq"]
    for action in ("editing", "editing", "viewing", "viewing"):
        reply = await acked(client, "activity", {"graphic_id": graphic.pk, "action": action})
        assert reply == {"graphic_id": graphic.pk, "action": action}
    for key in (graphic.pk, "all"):
        await acked(client, "unsubscribe", {"graphic_id": key})
        await refused(client, "unsubscribe", {"graphic_id": key}, "not_subscribed")
    await refused(
        client, "activity", {"graphic_id": graphic.pk, "action": "viewing"}, "not_subscribed"
    )


async def test_auth_with_the_same_token_twice_and_ping_twice(
    ws_connect: Callable[..., Any], db_call: Any, editor: Any
) -> None:
    """The token the connection was opened with, sent again (twice), is acknowledged; pings
    are answered each time."""
    token = await db_call(token_for, editor)
    client = await ws_connect(editor, token=token)

    for _ in range(2):
        reply = await acked(client, "auth", {"token": token})
        assert reply["token_expires_at"] == client.welcome["token_expires_at"]
    for _ in range(2):
        reply = await client.request("ping", {})
        assert reply["type"] == "pong", reply


async def test_take_twice_clear_twice_and_live_twice(
    ws_connect: Callable[..., Any], db_call: Any, editor: Any, graphic: Graphic
) -> None:
    """A second take of the version on air is a re-take (acknowledged, the program unchanged);
    a second clear, and live set to what it is, are acknowledged and record nothing; a take of
    a version that does not exist yet is a version_conflict, a take without a version a
    validation_error."""
    client = await ws_connect(editor)
    gid = graphic.pk
    for _ in range(2):
        reply = await acked(client, "take", {"graphic_id": gid, "expected_version": 1})
        assert (reply["graphic"]["on_air"], reply["graphic"]["program_version"]) == (True, 1)
    await refused(client, "take", {"graphic_id": gid, "expected_version": 2}, "version_conflict")
    await refused(client, "take", {"graphic_id": gid}, "validation_error")
    await refused(client, "take", {"graphic_id": gid, "expected_version": -0.0}, "validation_error")
    await acked(client, "set_live", {"graphic_id": gid, "live": True})
    before = await db_call(state_of, gid)
    reply = await acked(client, "set_live", {"graphic_id": gid, "live": True})
    assert reply["graphic"]["live"] is True
    assert await db_call(state_of, gid) == before
    await acked(client, "clear", {"graphic_id": gid, "reason": ""})
    before = await db_call(state_of, gid)
    reply = await acked(client, "clear", {"graphic_id": gid})
    assert reply["graphic"]["on_air"] is False
    reply = await acked(client, "set_live", {"graphic_id": gid, "live": False})
    assert reply["graphic"]["live"] is False
    assert await db_call(state_of, gid) == before
    await refused(client, "clear", {"graphic_id": gid, "extra": 1}, "validation_error")

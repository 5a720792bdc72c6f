"""Overlay view keys as credentials (in-process, the real application): `/ws/graphics?key=` reads
its own graphic (snapshot, live updates, resume by `last_seq`); a bad, revoked or doubled
credential is refused with 4001; revoking, rotating or deleting closes open connections; a
view-key connection is never present, has its own connection limit, the usual rate and size
limits, and is named `view-key:<id>` (never by its key) in the log, the metrics and the
registry. Also the polling fallback, `GET /api/events/?key=`."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async
from prometheus_client import REGISTRY
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from graphics.models import Graphic, GraphicViewKey
from graphics.on_air import graphic_set_live
from graphics.services import graphic_delete, graphic_update, view_key_revoke, view_key_rotate
from locks.services import lock_acquire
from realtime.connection.supervisor import get_supervisor
from realtime.ops.registry import server_id
from realtime.protocol import (
    CLOSE_MESSAGE_TOO_BIG,
    CLOSE_TOO_MANY_CONNECTIONS,
    CLOSE_UNAUTHENTICATED,
)
from tests.conftest import error_of
from tests.realtime.conftest import ORIGIN, WsClient, session_cookie_for, token_for

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def view_key(editor: Any, graphic: Graphic) -> GraphicViewKey:
    # On air in live mode (as every graphic was before on-air control): an overlay sees each
    # save (tests/realtime/test_on_air.py covers the draft and program rules).
    graphic_set_live(user=editor, graphic_id=graphic.pk, live=True)
    return view_key_rotate(graphic_id=graphic.pk, user=editor)


@pytest.fixture
def overlay(ws_connect: Callable[..., Any], view_key: GraphicViewKey) -> Callable[..., Any]:
    """overlay(key=..., origin=...) -> a WsClient connected with `?key=` (the fixture's key,
    no Origin, as OBS's browser source may connect, unless told otherwise)."""

    async def connect(
        key: str | None = None, *, origin: str | None = None, **options: Any
    ) -> WsClient:
        raw = view_key.key if key is None else key
        client: WsClient = await ws_connect(
            path=f"/ws/graphics?key={raw}", origin=origin, **options
        )
        return client

    return connect


async def assert_refused(client: Any, *, close_code: int, error_code: str) -> dict[str, Any]:
    """Accepted, then one `error` with `error_code`, then the close; returns the error."""
    assert client.connected, "the handshake should be accepted so the browser sees the code"
    error = await client.receive()
    assert error["type"] == "error", error
    assert error["data"]["code"] == error_code, error
    assert await client.receive() == {"type": "__closed__", "code": close_code}
    return dict(error["data"])


async def end_the_key(how: str, *, graphic: Graphic, editor: Any, lock_admin: Any) -> None:
    """Make the graphic's key stop working: "revoked", "rotated" or "graphic deleted"."""
    if how == "revoked":
        await database_sync_to_async(view_key_revoke)(graphic_id=graphic.pk, user=editor)
    elif how == "rotated":
        await database_sync_to_async(view_key_rotate)(graphic_id=graphic.pk, user=editor)
    else:
        await database_sync_to_async(graphic_delete)(user=lock_admin, graphic_id=graphic.pk)


def rename(editor: Any, graphic_id: int, title: str) -> None:
    current = Graphic.objects.get(pk=graphic_id)
    token = lock_acquire(user=editor, graphic_id=graphic_id).fencing_token
    graphic_update(
        user=editor,
        graphic_id=graphic_id,
        version=current.version,
        fencing_token=token,
        title=title,
    )


# --- connecting ---------------------------------------------------------------------------------


async def test_a_valid_key_connects_without_an_origin_and_is_not_a_user(
    overlay: Callable[..., Any], view_key: GraphicViewKey, graphic: Graphic
) -> None:
    """The welcome says how the connection authenticated and what it may read: no user, no
    token expiry, the key's graphic."""
    client = await overlay()

    assert client.welcome is not None
    assert client.welcome["auth_method"] == "view_key"
    assert client.welcome["user"] is None
    assert client.welcome["view_key"] == {"graphic_id": graphic.pk}
    assert client.welcome["token_expires_at"] is None
    assert view_key.key not in json.dumps(client.welcome)


async def test_a_page_of_ours_may_connect_with_a_key_and_a_foreign_origin_is_refused(
    overlay: Callable[..., Any],
) -> None:
    """The overlay page sends our own Origin and is welcome; a page on another site holding a
    leaked key is refused at the handshake, as every foreign Origin is."""
    ours = await overlay(origin=ORIGIN)
    assert ours.welcome is not None and ours.welcome["auth_method"] == "view_key"

    foreign = await overlay(origin="https://evil.example", expect_welcome=False)
    assert not foreign.connected


async def test_a_user_connection_says_it_has_no_view_key(
    ws_connect: Callable[..., Any], viewer: Any
) -> None:
    client = await ws_connect(viewer)

    assert client.welcome is not None and client.welcome["view_key"] is None


@pytest.mark.parametrize(
    "query",
    [
        "key=",
        "key",
        "key=not-a-key-anyone-made-0123456789abcdefghijk",
        "key=" + "x" * 5000,
        "key=%00%01",
        "key=%E2%9C%93",
        "key=a&key=b",
    ],
    ids=["empty", "no-value", "unknown", "oversized", "control-characters", "non-ascii", "two"],
)
async def test_a_bad_key_is_closed_with_4001(
    ws_connect: Callable[..., Any], view_key: GraphicViewKey, query: str
) -> None:
    """A key that is empty, unknown or cannot be a key is accepted at the handshake, then
    answered with `view_key_invalid` and closed with 4001, from a script or a page."""
    for origin in (None, ORIGIN):
        client = await ws_connect(path=f"/ws/graphics?{query}", origin=origin, expect_welcome=False)

        error = await assert_refused(
            client, close_code=CLOSE_UNAUTHENTICATED, error_code="view_key_invalid"
        )
        assert "view key" in error["message"]


@pytest.mark.parametrize("how", ["revoked", "rotated", "graphic deleted"])
async def test_a_key_that_no_longer_works_is_closed_with_4001(
    overlay: Callable[..., Any],
    db_call: Any,
    editor: Any,
    lock_admin: Any,
    view_key: GraphicViewKey,
    graphic: Graphic,
    how: str,
) -> None:
    await end_the_key(how, graphic=graphic, editor=editor, lock_admin=lock_admin)

    client = await overlay(expect_welcome=False)

    await assert_refused(client, close_code=CLOSE_UNAUTHENTICATED, error_code="view_key_invalid")


async def test_a_key_and_a_token_together_are_refused(
    ws_connect: Callable[..., Any], db_call: Any, editor: Any, view_key: GraphicViewKey
) -> None:
    """Which one would the connection be? Neither: `token_invalid`, "use one credential", 4001,
    even though each would be valid alone."""
    token = await db_call(token_for, editor)

    client = await ws_connect(
        path=f"/ws/graphics?token={token}&key={view_key.key}", expect_welcome=False
    )

    error = await assert_refused(
        client, close_code=CLOSE_UNAUTHENTICATED, error_code="token_invalid"
    )
    assert "use one credential" in error["message"]


async def test_a_bad_key_does_not_fall_back_to_the_session_cookie(
    ws_connect: Callable[..., Any], db_call: Any, editor: Any
) -> None:
    """An overlay page opened in a browser where someone is logged in still authenticates with
    its key only: a bad key is refused, however good the cookie."""
    cookie = await db_call(session_cookie_for, editor)

    client = await ws_connect(
        path="/ws/graphics?key=unknown-key",
        extra_headers=[("cookie", cookie)],
        expect_welcome=False,
    )

    await assert_refused(client, close_code=CLOSE_UNAUTHENTICATED, error_code="view_key_invalid")


async def test_a_good_key_with_a_session_cookie_is_still_only_a_view_key(
    ws_connect: Callable[..., Any], db_call: Any, editor: Any, view_key: GraphicViewKey
) -> None:
    cookie = await db_call(session_cookie_for, editor)

    client = await ws_connect(
        path=f"/ws/graphics?key={view_key.key}", extra_headers=[("cookie", cookie)]
    )

    assert client.welcome is not None
    assert (client.welcome["auth_method"], client.welcome["user"]) == ("view_key", None)
    reply = await client.request("create", {"title": "T", "event_name": "E"})
    assert reply["data"]["code"] == "permission_denied"


# --- reading its graphic ------------------------------------------------------------------------


async def test_the_overlay_gets_the_snapshot_then_every_live_update(
    overlay: Callable[..., Any], db_call: Any, editor: Any, graphic: Graphic
) -> None:
    client = await overlay()

    snapshot = await client.ack("subscribe", {"graphic_id": graphic.pk})
    await db_call(rename, editor, graphic.pk, "Week 2 Final Standings")

    assert snapshot["graphic"]["title"] == "Round 3 Scoreboard"
    assert snapshot["graphic"]["data"] == graphic.data
    lock_event = await client.next_event()
    update = await client.next_event()
    assert (lock_event["type"], lock_event["data"]["reason"]) == ("lock_status", "acquired")
    assert update["type"] == "graphic_update"
    assert update["subscription"] == graphic.pk
    assert update["data"]["version"] == 2
    assert update["data"]["seq"] > lock_event["data"]["seq"] > snapshot["seq"]


async def test_the_overlay_resumes_by_last_seq_after_a_reconnect(
    overlay: Callable[..., Any], db_call: Any, editor: Any, graphic: Graphic
) -> None:
    """Exactly as for users: the missed events are replayed after a recovered ack."""
    first = await overlay()
    seq = (await first.ack("subscribe", {"graphic_id": graphic.pk}))["seq"]
    await first.close()
    await db_call(rename, editor, graphic.pk, "Missed while away")

    second = await overlay()
    ack = await second.ack("subscribe", {"graphic_id": graphic.pk, "last_seq": seq})

    assert (ack["recovered"], ack["replayed"]) == (True, 2)
    replayed = [await second.next_event(), await second.next_event()]
    assert [event["type"] for event in replayed] == ["lock_status", "graphic_update"]
    assert replayed[1]["data"]["patch"] == {"title": "Missed while away"}
    assert replayed[-1]["data"]["seq"] == ack["seq"]


async def test_unsubscribing_stops_the_updates(
    overlay: Callable[..., Any], db_call: Any, editor: Any, graphic: Graphic
) -> None:
    client = await overlay()
    await client.ack("subscribe", {"graphic_id": graphic.pk})

    assert await client.ack("unsubscribe", {"graphic_id": graphic.pk}) == {"graphic_id": graphic.pk}
    await db_call(rename, editor, graphic.pk, "Nobody listening")

    await client.no_event(within=0.5)


# --- revocation closes open connections ---------------------------------------------------------


@pytest.mark.parametrize("how", ["revoked", "rotated", "graphic deleted"])
async def test_revoking_rotating_or_deleting_closes_the_open_connections_of_that_key(
    overlay: Callable[..., Any],
    ws_connect: Callable[..., Any],
    db_call: Any,
    editor: Any,
    lock_admin: Any,
    viewer: Any,
    make_graphic: Callable[..., Any],
    view_key: GraphicViewKey,
    graphic: Graphic,
    how: str,
) -> None:
    """Every connection of the key, listening or not, gets `view_key_revoked` and 4001 as soon
    as the change commits; a user and another graphic's overlay stay connected."""
    other_graphic = await db_call(make_graphic, title="Other", by=editor)
    other_key = await db_call(view_key_rotate, graphic_id=other_graphic.pk, user=editor)
    listening = await overlay()
    await listening.ack("subscribe", {"graphic_id": graphic.pk})
    idle = await overlay()
    bystanders = [await overlay(key=other_key.key), await ws_connect(viewer)]

    await end_the_key(how, graphic=graphic, editor=editor, lock_admin=lock_admin)

    if how == "graphic deleted":
        deleted = await listening.next_event()
        assert deleted["data"]["action"] == "deleted"
    for client in (listening, idle):
        error = await assert_refused(
            client, close_code=CLOSE_UNAUTHENTICATED, error_code="view_key_revoked"
        )
        assert "revoked" in error["message"]
    for bystander in bystanders:
        assert (await bystander.request("ping"))["type"] == "pong"


async def test_a_revocation_that_sent_no_close_is_caught_at_the_next_request(
    overlay: Callable[..., Any], db_call: Any, view_key: GraphicViewKey, graphic: Graphic
) -> None:
    """A queryset update (no signal, no close command) still ends the connection at its next
    request, which is not applied."""
    client = await overlay()
    await db_call(
        lambda: GraphicViewKey.objects.filter(pk=view_key.pk).update(revoked_at=view_key.created_at)
    )

    request_id = await client.send("subscribe", {"graphic_id": graphic.pk})

    error = await client.receive()
    assert (error["type"], error.get("request_id")) == ("error", request_id)
    assert error["data"]["code"] == "view_key_revoked"
    assert await client.receive() == {"type": "__closed__", "code": CLOSE_UNAUTHENTICATED}


async def test_a_revocation_whose_close_was_lost_is_caught_by_the_supervisor(
    overlay: Callable[..., Any], db_call: Any, settings: Any, view_key: GraphicViewKey
) -> None:
    """Should the close command never arrive (the channel layer away; here a queryset update
    that sends none), each server's supervisor finds the revoked key at its next tick and
    closes the listening overlay (which sends no requests) with 4001."""
    settings.WS_HEARTBEAT_INTERVAL_SECONDS = 0.2  # a tick every 0.2 s
    client = await overlay()
    await db_call(
        lambda: GraphicViewKey.objects.filter(pk=view_key.pk).update(revoked_at=view_key.created_at)
    )

    while (frame := await client.receive())["type"] == "heartbeat":
        pass
    assert frame["type"] == "error" and frame["data"]["code"] == "view_key_revoked", frame
    assert await client.receive() == {"type": "__closed__", "code": CLOSE_UNAUTHENTICATED}


# --- not a user: presence and connection limits ---------------------------------------------


async def test_an_overlay_never_appears_in_presence(
    overlay: Callable[..., Any],
    ws_connect: Callable[..., Any],
    editor: Any,
    viewer: Any,
    graphic: Graphic,
) -> None:
    """Editors see who is on a graphic; an on-air overlay is nobody: no `user_activity` when it
    subscribes or leaves, not in the ack's list, not in the counts. And it sees nobody: its ack
    carries no presence and no `user_activity` reaches it (staff usernames stay with staff)."""
    watcher = await ws_connect(editor)
    await watcher.ack("subscribe", {"graphic_id": graphic.pk})
    await watcher.next_presence()  # the editor's own arrival

    screen = await overlay()
    own_ack = await screen.ack("subscribe", {"graphic_id": graphic.pk})
    await watcher.no_presence(within=0.5)
    late = await ws_connect(viewer)
    ack = await late.ack("subscribe", {"graphic_id": graphic.pk})
    counts = (await late.ack("subscribe", {"graphic_id": "all"}))["presence_counts"]
    await screen.no_presence(within=0.5)  # the viewer's arrival is not sent to the overlay
    await screen.close()

    assert "presence" not in own_ack
    assert [user["username"] for user in ack["presence"]["users"]] == ["editor", "viewer"]
    assert (ack["presence"]["viewing"], ack["presence"]["editing"]) == (2, 0)
    assert counts == {str(graphic.pk): {"viewing": 2, "editing": 0}}
    arrivals = [await watcher.next_presence()]
    await watcher.no_presence(within=0.5)
    assert [frame["data"]["username"] for frame in arrivals] == ["viewer"]


async def test_a_key_has_its_own_connection_limit(
    overlay: Callable[..., Any],
    ws_connect: Callable[..., Any],
    db_call: Any,
    settings: Any,
    editor: Any,
    make_graphic: Callable[..., Any],
) -> None:
    """WS_MAX_CONNECTIONS_PER_VIEW_KEY per key: the next is refused with `too_many_connections`
    and 4029. They count against no user (the key's creator connects as usual) and another
    graphic's key has its own allowance; closing one frees a place."""
    settings.WS_MAX_CONNECTIONS_PER_VIEW_KEY = 2
    settings.WS_MAX_CONNECTIONS_PER_USER = 1
    scenes = [await overlay(), await overlay()]

    extra = await overlay(expect_welcome=False)
    error = await assert_refused(
        extra, close_code=CLOSE_TOO_MANY_CONNECTIONS, error_code="too_many_connections"
    )
    assert "2 connections" in error["message"] and "view key" in error["message"]
    assert (await ws_connect(editor)).welcome is not None
    other = await db_call(make_graphic, title="Other", by=editor)
    other_key = await db_call(view_key_rotate, graphic_id=other.pk, user=editor)
    assert (await overlay(key=other_key.key)).welcome is not None

    await scenes[0].close()
    assert (await overlay()).welcome is not None


async def test_rate_limits_apply_to_an_overlay(
    overlay: Callable[..., Any], settings: Any, graphic: Graphic
) -> None:
    settings.WS_RATE_LIMIT_BURST = 2
    settings.WS_RATE_LIMIT_PER_MINUTE = 6
    client = await overlay()

    replies = [await client.request("unsubscribe", {"graphic_id": graphic.pk}) for _ in range(3)]

    assert [reply["data"]["code"] for reply in replies] == [
        "not_subscribed",
        "not_subscribed",
        "rate_limited",
    ]


async def test_the_message_size_limit_applies_to_an_overlay(
    overlay: Callable[..., Any], settings: Any, graphic: Graphic
) -> None:
    client = await overlay()
    big = json.dumps({"type": "ping", "data": {"pad": "x" * settings.WS_MAX_MESSAGE_BYTES}})

    await client.send_raw(big)

    await assert_refused(client, close_code=CLOSE_MESSAGE_TOO_BIG, error_code="too_large")


# --- how operators see it -----------------------------------------------------------------------


async def test_the_registry_log_and_metrics_name_it_view_key_and_never_show_the_key(
    overlay: Callable[..., Any],
    view_key: GraphicViewKey,
    graphic: Graphic,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="gal.access")
    label = f"view-key:{view_key.pk}"

    def open_gauge() -> float:
        value = REGISTRY.get_sample_value(
            "gal_ws_view_key_connections_open", {"server": server_id(), "view_key": label}
        )
        return value or 0.0

    before = open_gauge()
    client = await overlay()
    await client.request("create", {"title": "T", "event_name": "E"})
    entries = await get_supervisor().registry.entries()
    during = open_gauge()
    await client.close()

    (entry,) = [entry for entry in entries if entry.view_key_id == view_key.pk]
    assert (entry.username, entry.user_id) == (label, 0)
    assert view_key.key not in entry.to_json()
    assert during == before + 1
    assert open_gauge() == before
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "gal.access"]
    events = {line["event"] for line in lines if line["username"] == label}
    assert {"connect", "permission_denied", "close"} <= events
    assert all(line["user_id"] is None for line in lines if line["username"] == label)
    assert view_key.key not in caplog.text


# --- polling: GET /api/events/?key= -------------------------------------------------------------


def poll(query: str, *, bearer: Any = None) -> Any:
    client = APIClient()
    if bearer is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(bearer)}")
    return client.get(f"/api/events/?{query}")


def test_polling_with_the_key_reads_its_graphic(
    editor: Any, view_key: GraphicViewKey, graphic: Graphic
) -> None:
    """Without credentials but the key: the snapshot, then the events after `since`, as any
    poller gets them."""
    first = poll(f"graphic={graphic.pk}&key={view_key.key}")
    assert first.status_code == 200, first.content
    assert first.json()["snapshot"]["graphic"]["title"] == "Round 3 Scoreboard"

    rename(editor, graphic.pk, "Polled")
    later = poll(f"graphic={graphic.pk}&since={first.json()['next_since']}&key={view_key.key}")

    assert later.status_code == 200
    assert [event["type"] for event in later.json()["events"]] == [
        "lock_status",
        "graphic_update",
    ]
    assert later.json()["events"][1]["data"]["patch"] == {"title": "Polled"}


@pytest.mark.parametrize("target", ["other", "all"])
def test_polling_another_graphic_or_all_with_a_key_is_forbidden(
    editor: Any, make_graphic: Any, view_key: GraphicViewKey, graphic: Graphic, target: str
) -> None:
    other = make_graphic(title="Other", by=editor)
    polled = other.pk if target == "other" else "all"

    response = poll(f"graphic={polled}&key={view_key.key}")

    error = error_of(response, 403, "permission_denied")
    assert error["details"] == {"view_key_graphic_id": graphic.pk}


@pytest.mark.parametrize("key", ["", "unknown-key", "revoked", "x" * 500, "%00"])
def test_polling_with_a_bad_key_is_401_view_key_invalid(
    editor: Any, view_key: GraphicViewKey, graphic: Graphic, key: str
) -> None:
    """Unknown, revoked, empty or malformed: 401 `view_key_invalid`, with the API's usual
    challenge, even when the request also carries a valid token (the key decides alone)."""
    if key == "revoked":
        key = view_key.key
        view_key_revoke(graphic_id=graphic.pk, user=editor)

    for bearer in (None, editor):
        response = poll(f"graphic={graphic.pk}&key={key}", bearer=bearer)

        error_of(response, 401, "view_key_invalid")
        assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_a_key_with_a_token_reads_as_the_key(
    editor: Any, make_graphic: Any, view_key: GraphicViewKey
) -> None:
    """The key narrows, never widens: with an editor's token too, "all" is still refused."""
    response = poll(f"graphic=all&key={view_key.key}", bearer=editor)

    error_of(response, 403, "permission_denied")


def test_polling_without_a_key_is_unchanged(viewer: Any, no_role_user: Any, graphic: Any) -> None:
    assert poll("graphic=all", bearer=viewer).status_code == 200
    error_of(poll("graphic=all"), 401, "not_authenticated")
    error_of(poll("graphic=all", bearer=no_role_user), 403, "permission_denied")

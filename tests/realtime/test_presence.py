"""Presence over the WebSocket, as clients of the real application see it: subscribing is
viewing, `activity` says editing, and the graphic's subscribers hear `user_activity` only when a
user's state there changes (three tabs are one presence; leaving is the last tab going). Every
graphic subscribe ack carries who is there; the list ("all") gets counts per graphic."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from graphics.models import Graphic
from realtime.presence.store import MemoryPresenceStore, PresenceEntry
from realtime.presence.tracker import get_presence
from tests.realtime.conftest import WsClient

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def activity_of(frame: dict[str, Any]) -> tuple[str, str]:
    return frame["data"]["username"], frame["data"]["action"]


async def subscribed(connect: Callable[..., Any], user: Any, graphic: Graphic) -> WsClient:
    client: WsClient = await connect(user)
    await client.ack("subscribe", {"graphic_id": graphic.pk})
    return client


async def test_subscribing_is_announced_to_the_others_as_viewing(
    ws_connect: Callable[..., Any], viewer: Any, editor: Any, graphic: Graphic
) -> None:
    """A user who subscribes to a graphic is announced to its subscribers, with the frame's
    documented shape: no seq, the subscription named as for events."""
    watcher = await subscribed(ws_connect, viewer, graphic)
    await watcher.next_presence()  # the watcher's own arrival

    await subscribed(ws_connect, editor, graphic)
    frame = await watcher.next_presence()

    assert frame["type"] == "user_activity"
    assert frame["subscription"] == graphic.pk
    assert set(frame) == {"type", "subscription", "data"}
    data = frame["data"]
    assert set(data) == {"graphic_id", "user_id", "username", "action", "target", "timestamp"}
    assert data["graphic_id"] == data["target"] == graphic.pk
    assert (data["user_id"], data["username"], data["action"]) == (editor.pk, "editor", "viewing")
    assert data["timestamp"].endswith("Z")
    assert "seq" not in data


async def test_the_ack_lists_who_is_there_including_the_subscriber(
    ws_connect: Callable[..., Any], viewer: Any, editor: Any, graphic: Graphic
) -> None:
    """The snapshot ack's `presence` names every present user, longest there first, with
    what they do and since when."""
    first = await subscribed(ws_connect, editor, graphic)
    await first.ack("activity", {"graphic_id": graphic.pk, "action": "editing"})
    second = await ws_connect(viewer)

    ack = await second.ack("subscribe", {"graphic_id": graphic.pk})

    presence = ack["presence"]
    assert presence["graphic_id"] == graphic.pk
    assert [(u["user_id"], u["username"], u["action"]) for u in presence["users"]] == [
        (editor.pk, "editor", "editing"),
        (viewer.pk, "viewer", "viewing"),
    ]
    assert all(u["since"].endswith("Z") for u in presence["users"])


async def test_a_second_tab_is_not_announced_and_only_the_last_tab_leaves(
    ws_connect: Callable[..., Any], viewer: Any, editor: Any, graphic: Graphic
) -> None:
    """Three tabs of one user: announced once; closing two announces nothing; closing the
    last announces `left`."""
    watcher = await subscribed(ws_connect, viewer, graphic)
    tabs = [await subscribed(ws_connect, editor, graphic) for _ in range(3)]
    assert activity_of(
        await watcher.next_presence(match=lambda f: f["data"]["user_id"] == editor.pk)
    ) == ("editor", "viewing")

    await tabs[0].close()
    await tabs[1].ack("unsubscribe", {"graphic_id": graphic.pk})
    await watcher.no_presence()
    await tabs[2].close()

    frame = await watcher.next_presence()
    assert activity_of(frame) == ("editor", "left")
    await watcher.no_presence()


async def test_unsubscribing_is_leaving(
    ws_connect: Callable[..., Any], viewer: Any, editor: Any, graphic: Graphic
) -> None:
    watcher = await subscribed(ws_connect, viewer, graphic)
    other = await subscribed(ws_connect, editor, graphic)
    await watcher.next_presence(match=lambda f: f["data"]["user_id"] == editor.pk)

    await other.ack("unsubscribe", {"graphic_id": graphic.pk})

    assert activity_of(await watcher.next_presence()) == ("editor", "left")
    ack = await (await ws_connect(viewer)).ack("subscribe", {"graphic_id": graphic.pk})
    assert [u["username"] for u in ack["presence"]["users"]] == ["viewer"]


async def test_editing_is_announced_once_whatever_the_tabs_say(
    ws_connect: Callable[..., Any], viewer: Any, editor: Any, graphic: Graphic
) -> None:
    """`activity` editing in one tab makes the user editing (acked, announced); the same
    again, or viewing in another tab, changes nothing; that tab back to viewing does."""
    watcher = await subscribed(ws_connect, viewer, graphic)
    editing_tab = await subscribed(ws_connect, editor, graphic)
    viewing_tab = await subscribed(ws_connect, editor, graphic)
    await watcher.next_presence(match=lambda f: f["data"]["user_id"] == editor.pk)

    ack = await editing_tab.ack("activity", {"graphic_id": graphic.pk, "action": "editing"})
    assert ack == {"graphic_id": graphic.pk, "action": "editing"}
    assert activity_of(await watcher.next_presence()) == ("editor", "editing")

    await editing_tab.ack("activity", {"graphic_id": graphic.pk, "action": "editing"})
    await viewing_tab.ack("activity", {"graphic_id": graphic.pk, "action": "viewing"})
    await watcher.no_presence()

    await editing_tab.ack("activity", {"graphic_id": graphic.pk, "action": "viewing"})
    assert activity_of(await watcher.next_presence()) == ("editor", "viewing")


async def test_closing_the_editing_tab_leaves_the_user_viewing(
    ws_connect: Callable[..., Any], viewer: Any, editor: Any, graphic: Graphic
) -> None:
    watcher = await subscribed(ws_connect, viewer, graphic)
    editing_tab = await subscribed(ws_connect, editor, graphic)
    await subscribed(ws_connect, editor, graphic)
    await editing_tab.ack("activity", {"graphic_id": graphic.pk, "action": "editing"})
    await watcher.next_presence(match=lambda f: f["data"]["action"] == "editing")

    await editing_tab.close()

    assert activity_of(await watcher.next_presence()) == ("editor", "viewing")


async def test_activity_is_refused_clearly_and_changes_nothing(
    ws_connect: Callable[..., Any], viewer: Any, editor: Any, graphic: Graphic
) -> None:
    """A Viewer may not say editing (permission_denied); activity needs a subscription to
    that graphic (not_subscribed); bad fields are validation errors. Nobody hears anything."""
    watcher = await subscribed(ws_connect, editor, graphic)
    await watcher.next_presence()
    client = await ws_connect(viewer)

    async def error_code(data: dict[str, Any]) -> str:
        reply = await client.request("activity", data)
        assert reply["type"] == "error", reply
        return str(reply["data"]["code"])

    assert await error_code({"graphic_id": graphic.pk, "action": "viewing"}) == "not_subscribed"
    await client.ack("subscribe", {"graphic_id": graphic.pk})
    await watcher.next_presence()  # the viewer's arrival
    denied = await client.request("activity", {"graphic_id": graphic.pk, "action": "editing"})
    assert denied["data"]["code"] == "permission_denied"
    assert denied["data"]["details"] == {"required": ["graphics.change_graphic"]}
    assert await error_code({"graphic_id": graphic.pk, "action": "left"}) == "validation_error"
    assert await error_code({"graphic_id": graphic.pk}) == "validation_error"
    assert await error_code({"graphic_id": "all", "action": "viewing"}) == "validation_error"
    assert await error_code({"graphic_id": 0, "action": "viewing"}) == "validation_error"
    assert (
        await error_code({"graphic_id": graphic.pk, "action": "viewing", "x": 1})
        == "validation_error"
    )
    await watcher.no_presence()


async def test_the_list_gets_counts_in_its_snapshot_and_when_they_change(
    ws_connect: Callable[..., Any], viewer: Any, editor: Any, graphic: Graphic
) -> None:
    """The "all" ack carries `presence_counts` per graphic with someone there; each change of
    a graphic's counts reaches the list's subscribers as a `presence_counts` frame."""
    await subscribed(ws_connect, viewer, graphic)
    lister = await ws_connect(viewer)

    ack = await lister.ack("subscribe", {"graphic_id": "all"})
    assert ack["presence_counts"] == {str(graphic.pk): {"viewing": 1, "editing": 0}}

    editor_client = await subscribed(ws_connect, editor, graphic)
    # Through Redis the viewer's arrival, already in the snapshot, may be heard after the ack.
    frame = await lister.next_presence(match=lambda f: f["data"]["viewing"] == 2)
    assert frame["type"] == "presence_counts"
    assert frame["subscription"] == "all"
    assert set(frame["data"]) == {"graphic_id", "viewing", "editing", "timestamp"}
    assert (frame["data"]["graphic_id"], frame["data"]["viewing"], frame["data"]["editing"]) == (
        graphic.pk,
        2,
        0,
    )

    await editor_client.ack("activity", {"graphic_id": graphic.pk, "action": "editing"})
    frame = await lister.next_presence()
    assert (frame["data"]["viewing"], frame["data"]["editing"]) == (1, 1)
    await editor_client.close()
    frame = await lister.next_presence()
    assert (frame["data"]["viewing"], frame["data"]["editing"]) == (1, 0)


async def test_a_silent_entry_is_swept_and_announced_as_left(
    ws_connect: Callable[..., Any], viewer: Any, graphic: Graphic
) -> None:
    """An entry its server stopped renewing (a crashed server) expires after the TTL; the
    next sweep announces its user `left` to the graphic's subscribers."""
    clock = [1_800_000_000.0]
    tracker = get_presence()
    tracker._store = MemoryPresenceStore(ttl=45, clock=lambda: clock[0])
    watcher = await subscribed(ws_connect, viewer, graphic)
    await watcher.next_presence()
    # A user of a server that then crashed: in the store, renewed by no one.
    ghost = PresenceEntry("crashed-server-conn", graphic.pk, 999, "ghost", "editing")
    await tracker.store.put(ghost)
    clock[0] += 30
    await tracker.refresh()  # the watcher's own entry is renewed; the ghost's is not
    clock[0] += 20

    await tracker.sweep()

    frame = await watcher.next_presence()
    assert activity_of(frame) == ("ghost", "left")
    ack = await watcher.ack("subscribe", {"graphic_id": graphic.pk})
    assert [u["username"] for u in ack["presence"]["users"]] == ["viewer"]


async def test_presence_frames_follow_the_ack_of_their_subscription(
    ws_connect: Callable[..., Any], viewer: Any, graphic: Graphic
) -> None:
    """A subscriber's first frame on the subscription is the ack, never a presence frame."""
    client = await ws_connect(viewer)
    request_id = await client.send("subscribe", {"graphic_id": graphic.pk})

    first = json.loads((await client.communicator.receive_output(5))["text"])

    assert first["request_id"] == request_id and first["type"] == "ack"
    assert activity_of(await client.next_presence()) == ("viewer", "viewing")


async def test_a_large_audience_hears_only_who_starts_editing(
    ws_connect: Callable[..., Any],
    make_user: Callable[..., Any],
    db_call: Any,
    editor: Any,
    graphic: Graphic,
    settings: Any,
) -> None:
    """Past PRESENCE_ANNOUNCE_MAX_AUDIENCE subscribers, a viewer's arrival is not announced to
    every one of them (N arrivals would cost N² frames); editing still is, and the ack of a
    new subscriber still lists everyone present."""
    settings.PRESENCE_ANNOUNCE_MAX_AUDIENCE = 2
    audience = []
    for number in range(3):
        user = await db_call(make_user, f"overlay{number}", role="Viewer")
        audience.append(await subscribed(ws_connect, user, graphic))
    for client in audience:
        # Let the announcements of the audience's own arrivals land, then forget them.
        while not await client.communicator.receive_nothing(0.3):
            await client._receive_any(5)
        client.presence.clear()

    late_viewer = await db_call(make_user, "late", role="Viewer")
    late = await subscribed(ws_connect, late_viewer, graphic)
    for client in audience:
        await client.no_presence()

    author = await subscribed(ws_connect, editor, graphic)
    await author.ack("activity", {"graphic_id": graphic.pk, "action": "editing"})
    for client in audience:
        frame = await client.next_presence()
        assert (frame["data"]["username"], frame["data"]["action"]) == ("editor", "editing")

    fresh = await ws_connect(late_viewer)
    ack = await fresh.ack("subscribe", {"graphic_id": graphic.pk})
    names = {user["username"] for user in ack["presence"]["users"]}
    assert names == {"overlay0", "overlay1", "overlay2", "late", "editor"}
    await late.close()


async def test_the_ack_lists_a_bounded_number_of_users_editors_first(
    ws_connect: Callable[..., Any],
    make_user: Callable[..., Any],
    db_call: Any,
    editor: Any,
    graphic: Graphic,
    settings: Any,
) -> None:
    """With an audience of thousands, every ack listing everyone would cost N² bytes: the ack
    lists PRESENCE_LIST_MAX users, editors first, with the full counts."""
    settings.PRESENCE_LIST_MAX = 2
    for number in range(3):
        user = await db_call(make_user, f"screen{number}", role="Viewer")
        await subscribed(ws_connect, user, graphic)
    author = await subscribed(ws_connect, editor, graphic)
    await author.ack("activity", {"graphic_id": graphic.pk, "action": "editing"})

    late = await db_call(make_user, "late", role="Viewer")
    ack = await (await ws_connect(late)).ack("subscribe", {"graphic_id": graphic.pk})

    presence = ack["presence"]
    assert (presence["viewing"], presence["editing"], presence["truncated"]) == (4, 1, True)
    assert [user["username"] for user in presence["users"]][:1] == ["editor"]
    assert len(presence["users"]) == 2

"""The hub's channel-layer groups (realtime.delivery.hub, realtime.delivery.events): it joins a
graphic's group when its first socket subscribes to that graphic and leaves when the last one goes,
is in the list group while it has an "all" subscriber, and receives no message for a graphic none of
its sockets watch. Runs on the in-memory channel layer, and on channels_redis when REDIS_URL is
set."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from channels.layers import get_channel_layer
from django.db import transaction

from graphics.models import Graphic
from locks.selectors import lock_state
from locks.services import lock_acquire, lock_release
from realtime.delivery.events import LIST_GROUP, event_groups, graphic_group_name, user_group_name
from realtime.delivery.hub import get_hub
from realtime.models import Event, EventType
from realtime.ops import observability

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def messages_received() -> float:
    return observability.HUB_EVENT_MESSAGES.labels(observability.server_id())._value.get()


async def settled() -> None:
    """Let the hub's scheduled group leaves run."""
    for _ in range(20):
        await asyncio.sleep(0.01)


async def test_the_first_subscriber_joins_the_graphics_group_and_the_last_leaves_it(
    ws_connect: Callable[..., Any], viewer: Any, graphic: Graphic
) -> None:
    group = graphic_group_name(graphic.pk)
    first = await ws_connect(viewer)
    second = await ws_connect(viewer)
    hub = get_hub()
    assert group not in hub.groups

    await first.ack("subscribe", {"graphic_id": graphic.pk})
    assert group in hub.groups
    await second.ack("subscribe", {"graphic_id": graphic.pk})
    await first.ack("unsubscribe", {"graphic_id": graphic.pk})
    await settled()
    assert group in hub.groups

    await second.ack("unsubscribe", {"graphic_id": graphic.pk})
    await settled()
    assert group not in hub.groups
    # Out of the group, the layer brings the hub nothing for that graphic.
    before = messages_received()
    await get_channel_layer().group_send(
        group,
        {
            "type": "hub.event",
            "seq": 10**9,
            "graphic_id": graphic.pk,
            "event_type": "x",
            "data": {},
        },
    )
    await settled()
    assert messages_received() == before


async def test_the_list_group_lasts_as_long_as_an_all_subscriber(
    ws_connect: Callable[..., Any], viewer: Any, graphic: Graphic
) -> None:
    client = await ws_connect(viewer)
    hub = get_hub()
    assert LIST_GROUP not in hub.groups
    await client.ack("subscribe", {"graphic_id": "all"})
    assert LIST_GROUP in hub.groups
    assert graphic_group_name(graphic.pk) not in hub.groups

    await client.close()
    await settled()
    assert LIST_GROUP not in hub.groups


async def test_a_connected_user_puts_the_hub_in_that_users_group(
    ws_connect: Callable[..., Any], editor: Any
) -> None:
    client = await ws_connect(editor)
    assert user_group_name(editor.pk) in get_hub().groups
    await client.close()
    await settled()
    assert user_group_name(editor.pk) not in get_hub().groups


async def test_events_of_an_unwatched_graphic_never_reach_the_hub(
    ws_connect: Callable[..., Any],
    db_call: Any,
    viewer: Any,
    editor: Any,
    make_graphic: Any,
) -> None:
    """A socket watches Y only: a change to X costs this process no channel-layer message,
    a change to Y one (however many sockets watch it)."""
    graphic_x = await db_call(make_graphic, title="X", by=editor)
    graphic_y = await db_call(make_graphic, title="Y", by=editor)
    watchers = [await ws_connect(viewer) for _ in range(3)]
    for watcher in watchers:
        await watcher.ack("subscribe", {"graphic_id": graphic_y.pk})
    before = messages_received()

    await db_call(lock_acquire, user=editor, graphic_id=graphic_x.pk)
    await db_call(lock_release, user=editor, graphic_id=graphic_x.pk)
    await settled()
    assert messages_received() == before
    for watcher in watchers:
        await watcher.no_event()

    await db_call(lock_acquire, user=editor, graphic_id=graphic_y.pk)
    for watcher in watchers:
        assert (await watcher.next_event())["data"]["graphic_id"] == graphic_y.pk
    assert messages_received() == before + 1


async def test_an_event_through_both_groups_is_delivered_once(
    ws_connect: Callable[..., Any], db_call: Any, viewer: Any, editor: Any, graphic: Graphic
) -> None:
    """Subscribed to the graphic and to the list, the hub gets each event twice (one per
    group) and delivers it once on each subscription."""
    client = await ws_connect(viewer)
    await client.ack("subscribe", {"graphic_id": graphic.pk})
    await client.ack("subscribe", {"graphic_id": "all"})
    before = messages_received()

    lock = await db_call(lock_acquire, user=editor, graphic_id=graphic.pk)

    frames = [await client.next_event() for _ in range(2)]
    assert sorted(str(frame["subscription"]) for frame in frames) == sorted(
        [str(graphic.pk), "all"]
    )
    await client.no_event()
    assert messages_received() == before + 2
    assert lock.graphic_id == graphic.pk


def test_an_event_goes_to_its_graphics_group_the_list_and_a_lock_losers_user() -> None:
    message = {"graphic_id": 7, "event_type": "graphic_update", "data": {}}
    assert event_groups(message) == ["graphic.7", LIST_GROUP]
    unbound = {"graphic_id": 0, "event_type": "standings_update", "data": {}}
    assert event_groups(unbound) == [LIST_GROUP]
    overridden = {
        "graphic_id": 7,
        "event_type": "lock_status",
        "data": {"reason": "overridden", "previous_holder_id": 3},
    }
    assert event_groups(overridden) == ["graphic.7", LIST_GROUP, "user.3"]
    released = {
        "graphic_id": 7,
        "event_type": "lock_status",
        "data": {"reason": "released", "previous_holder_id": 3},
    }
    assert event_groups(released) == ["graphic.7", LIST_GROUP]


async def test_a_lost_broadcast_of_a_lock_taken_from_a_holder_is_told_from_the_log(
    ws_connect: Callable[..., Any], db_call: Any, settings: Any, editor: Any, graphic: Graphic
) -> None:
    """The holder's connection subscribes to nothing, so its hub is in no graphic's group; a
    `lock_status` that took their lock and was never broadcast still reaches them as
    `lock_lost`, from the periodic log read."""
    settings.EVENT_POLL_INTERVAL_SECONDS = 0.1
    holder = await ws_connect(editor)

    def append_unpublished_override() -> None:
        with transaction.atomic():
            Event.objects.append(
                graphic_id=graphic.pk,
                type=EventType.LOCK_STATUS,
                data={
                    "graphic_id": graphic.pk,
                    **lock_state(None),
                    "reason": "overridden",
                    "previous_holder_id": editor.pk,
                    "previous_fencing_token": 7,
                    "actor": None,
                    "actor_id": None,
                    "note": "from a script",
                },
            )

    await db_call(append_unpublished_override)

    notice = await holder.next_event(timeout=2)
    assert notice["type"] == "lock_lost"
    assert (notice["data"]["graphic_id"], notice["data"]["fencing_token"]) == (graphic.pk, 7)
    await holder.no_event(within=0.5)

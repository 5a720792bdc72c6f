"""The per-process hub: in-order delivery that fills gaps from the event log, the periodic log
read that recovers lost broadcasts, the lock-expiry sweeper, commands to a user's connections,
and a clean stop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone

from graphics.models import Graphic, GraphicChange
from graphics.serialization import graphic_payload
from locks.models import CanvasLock
from locks.selectors import lock_state
from locks.services import lock_acquire
from realtime.delivery.events import HUB_GROUP, event_message, graphic_event_data
from realtime.delivery.frames import ALL, SubscriptionKey
from realtime.delivery.hub import get_hub
from realtime.models import Event, EventType
from realtime.protocol import CLOSE_UNAUTHENTICATED

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def append_unpublished_lock_event(graphic_id: int, note: str) -> Event:
    """A committed event whose broadcast never happened (as if Redis had dropped it)."""
    with transaction.atomic():
        return Event.objects.append(
            graphic_id=graphic_id,
            type=EventType.LOCK_STATUS,
            data={"graphic_id": graphic_id, **lock_state(None), "reason": "released", "note": note},
        )


def append_unpublished_graphic_event(graphic_id: int) -> Event:
    graphic = Graphic.objects.get(pk=graphic_id)
    data = graphic_event_data(
        graphic=graphic,
        change=GraphicChange(action="updated", actor_id=None, changed_fields=("title",)),
        payload=graphic_payload(graphic),
        at=timezone.now(),
    )
    with transaction.atomic():
        return Event.objects.append(graphic_id=graphic_id, type=EventType.GRAPHIC_UPDATE, data=data)


@pytest.fixture
def no_log_polling(settings: Any) -> None:
    """Only published messages move the hub: the periodic log read is pushed out of the test."""
    settings.EVENT_POLL_INTERVAL_SECONDS = 60


@pytest.fixture
def fast_log_polling(settings: Any) -> None:
    settings.EVENT_POLL_INTERVAL_SECONDS = 0.1


# --- ordering and gaps ------------------------------------------------------------------------


async def test_a_message_ahead_of_the_cursor_first_delivers_the_missing_events_from_the_log(
    ws_connect: Callable[..., Any],
    db_call: Any,
    no_log_polling: None,
    viewer: Any,
    graphic: Graphic,
) -> None:
    """When the message for seq N+2 arrives but N+1's broadcast was lost, the hub reads N+1
    from the log and delivers both, in seq order, each once."""
    client = await ws_connect(viewer)
    await client.ack("subscribe", {"graphic_id": graphic.pk})
    missing = await db_call(append_unpublished_lock_event, graphic.pk, "lost in transit")
    later = await db_call(append_unpublished_lock_event, graphic.pk, "published")

    await get_hub().receive_committed(event_message(later))

    first = await client.next_event()
    second = await client.next_event()
    assert [first["data"]["seq"], second["data"]["seq"]] == [missing.pk, later.pk]
    assert [first["data"]["note"], second["data"]["note"]] == ["lost in transit", "published"]
    await client.no_event()


async def test_a_late_or_repeated_message_is_not_delivered_twice(
    ws_connect: Callable[..., Any],
    db_call: Any,
    no_log_polling: None,
    viewer: Any,
    graphic: Graphic,
) -> None:
    """A message for a seq the hub has already delivered (a late publish, a duplicate) is
    dropped."""
    client = await ws_connect(viewer)
    await client.ack("subscribe", {"graphic_id": graphic.pk})
    missing = await db_call(append_unpublished_lock_event, graphic.pk, "first")
    later = await db_call(append_unpublished_lock_event, graphic.pk, "second")
    hub = get_hub()
    await hub.receive_committed(event_message(later))
    await client.next_event()
    await client.next_event()

    await hub.receive_committed(event_message(missing))
    await hub.receive_committed(event_message(later))

    await client.no_event()
    assert hub.cursor == later.pk


async def test_gap_filled_graphic_events_reach_all_as_summaries(
    ws_connect: Callable[..., Any],
    db_call: Any,
    no_log_polling: None,
    viewer: Any,
    graphic: Graphic,
) -> None:
    """An event read back from the log is shaped like a published one: full payload for the
    graphic's subscribers, summary on "all"."""
    client = await ws_connect(viewer)
    await client.ack("subscribe", {"graphic_id": graphic.pk})
    await client.ack("subscribe", {"graphic_id": "all"})
    missing = await db_call(append_unpublished_graphic_event, graphic.pk)
    later = await db_call(append_unpublished_lock_event, graphic.pk, "published")

    await get_hub().receive_committed(event_message(later))

    frames = [await client.next_event() for _ in range(4)]
    assert [(frame["data"]["seq"], frame["subscription"]) for frame in frames] == [
        (missing.pk, graphic.pk),
        (missing.pk, "all"),
        (later.pk, graphic.pk),
        (later.pk, "all"),
    ]
    assert frames[0]["data"]["payload"]["data"] == graphic.data
    assert "data" not in frames[1]["data"]["payload"]
    await client.no_event()


async def test_the_periodic_log_read_delivers_an_event_that_was_never_published(
    ws_connect: Callable[..., Any],
    db_call: Any,
    fast_log_polling: None,
    viewer: Any,
    graphic: Graphic,
) -> None:
    """An event committed without any broadcast reaches subscribers within the poll interval,
    once."""
    client = await ws_connect(viewer)
    await client.ack("subscribe", {"graphic_id": graphic.pk})
    await client.ack("subscribe", {"graphic_id": "all"})

    event = await db_call(append_unpublished_lock_event, graphic.pk, "written by a script")

    frames = [await client.next_event(timeout=2) for _ in range(2)]
    assert {frame["subscription"] for frame in frames} == {graphic.pk, "all"}
    assert all(frame["data"]["seq"] == event.pk for frame in frames)
    await client.no_event(within=0.5)


async def test_one_failing_connection_does_not_stop_delivery_to_the_others(
    ws_connect: Callable[..., Any], db_call: Any, viewer: Any, editor: Any, graphic: Graphic
) -> None:
    """A connection whose delivery raises is skipped; the others still get the event."""

    class BrokenConnection:
        connection_id: str = "broken"
        user_id: int | None = None
        token_family: str | None = None
        session_digest: str | None = None
        view_key_id: int | None = None
        view_key_graphic_id: int | None = None

        def deliver(self, key: SubscriptionKey, seq: int, message: dict[str, Any]) -> None:
            raise ConnectionResetError("socket gone")

        async def hub_command(self, command: dict[str, Any]) -> None:
            raise ConnectionResetError("socket gone")

        def deliver_ephemeral(self, key: SubscriptionKey, message: dict[str, Any]) -> None:
            raise ConnectionResetError("socket gone")

        def send_direct(self, message: dict[str, Any]) -> None:
            raise ConnectionResetError("socket gone")

        async def close_revoked_view_key(self) -> None:
            raise ConnectionResetError("socket gone")

    client = await ws_connect(viewer)
    hub = get_hub()
    broken = BrokenConnection()
    hub.subscribe(broken, graphic.pk)
    hub.subscribe(broken, ALL)
    await client.ack("subscribe", {"graphic_id": graphic.pk})
    try:
        await db_call(lock_acquire, user=editor, graphic_id=graphic.pk)

        event = await client.next_event()
        assert event["data"]["reason"] == "acquired"
    finally:
        hub.unsubscribe(broken, graphic.pk)
        hub.unsubscribe(broken, ALL)


# --- lock expiry --------------------------------------------------------------------------------


async def test_an_expired_lock_is_broadcast_once_without_anyone_asking(
    ws_connect: Callable[..., Any],
    db_call: Any,
    settings: Any,
    viewer: Any,
    editor: Any,
    graphic: Graphic,
) -> None:
    """A lock past `expires_at` is removed by the hub's sweeper and announced as `expired`
    (no actor, the previous holder named) within seconds, exactly once."""
    settings.LOCK_SWEEP_INTERVAL_SECONDS = 0.1
    client = await ws_connect(viewer)
    await client.ack("subscribe", {"graphic_id": graphic.pk})
    await client.ack("subscribe", {"graphic_id": "all"})
    await db_call(lock_acquire, user=editor, graphic_id=graphic.pk)
    await client.next_event()
    await client.next_event()
    past = timezone.now() - timedelta(seconds=1)

    await db_call(
        lambda: CanvasLock.objects.filter(graphic_id=graphic.pk).update(
            acquired_at=past - timedelta(minutes=5), expires_at=past
        )
    )

    frames = [await client.next_event(timeout=3) for _ in range(2)]
    assert {frame["subscription"] for frame in frames} == {graphic.pk, "all"}
    for frame in frames:
        assert frame["type"] == "lock_status"
        assert frame["data"]["reason"] == "expired"
        assert frame["data"]["locked"] is False
        assert frame["data"]["actor"] is None
        assert frame["data"]["previous_holder"] == "editor"
    await client.no_event(within=0.5)
    assert not await db_call(lambda: CanvasLock.objects.exists())


# --- commands -----------------------------------------------------------------------------------


async def test_a_close_command_for_a_user_closes_only_that_users_connections(
    ws_connect: Callable[..., Any], viewer: Any, editor: Any
) -> None:
    """A `hub.command` naming a user (a logout on any server) closes each of that user's
    connections, after an `error` saying why, with the given code and leaves everyone else
    connected."""
    first = await ws_connect(editor)
    second = await ws_connect(editor)
    bystander = await ws_connect(viewer)

    await get_channel_layer().group_send(
        HUB_GROUP,
        {
            "type": "hub.command",
            "user_id": editor.pk,
            "command": "close",
            "code": CLOSE_UNAUTHENTICATED,
            "error": "token_revoked",
            "message": "You logged out.",
        },
    )

    for client in (first, second):
        notice = await client.receive()
        assert notice["type"] == "error"
        assert notice["data"]["code"] == "token_revoked"
        assert await client.receive() == {"type": "__closed__", "code": CLOSE_UNAUTHENTICATED}
    assert (await bystander.request("ping"))["type"] == "pong"


async def test_a_send_command_for_a_connection_reaches_only_that_connection(
    ws_connect: Callable[..., Any], editor: Any
) -> None:
    """A `hub.command` naming a connection id sends its frame to that connection alone."""
    target = await ws_connect(editor)
    other = await ws_connect(editor)

    await get_channel_layer().group_send(
        HUB_GROUP,
        {
            "type": "hub.command",
            "connection_id": target.welcome["connection_id"],
            "command": "send",
            "frame": '{"type":"notice","data":{"text":"Going live in 5"}}',
        },
    )

    assert await target.receive() == {"type": "notice", "data": {"text": "Going live in 5"}}
    await other.no_event()


# --- lifecycle ----------------------------------------------------------------------------------


async def test_stopping_the_hub_leaves_no_task_behind(
    ws_connect: Callable[..., Any], viewer: Any
) -> None:
    """The hub's listener, log reader and lock sweeper all end when it stops."""
    await ws_connect(viewer)
    hub = get_hub()
    running = [task for task in asyncio.all_tasks() if task.get_name().startswith("hub-")]
    assert {task.get_name() for task in running} >= {"hub-poll", "hub-lock-expiry"}

    await hub.stop()

    assert all(task.done() for task in running)

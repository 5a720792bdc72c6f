"""Resuming a subscription with `last_seq`: the missed events are replayed after the ack, in
order, exactly as they were sent live, then the live stream continues with no gap and no
duplicate, including events that commit while the replay is being read. When the events after
`last_seq` may be gone (pruned), were never handed out, or are too many, the ack is the snapshot
with `"recovered": false`."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db import connection, transaction
from django.utils import timezone

from graphics.models import Graphic
from graphics.services import graphic_delete, graphic_update
from locks.services import lock_acquire, lock_release
from realtime.delivery.retention import events_prune
from realtime.delivery.snapshots import graphic_snapshot, latest_seq, list_snapshot
from realtime.models import Event, EventLogHorizon

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def change_while_away(*, editor: Any, graphic: Graphic, other: Graphic, rounds: int = 2) -> None:
    """Lock, edit and release `graphic`, and edit `other` in between: events for both."""
    lock_acquire(user=editor, graphic_id=graphic.pk)
    lock_acquire(user=editor, graphic_id=other.pk)
    for _ in range(rounds):
        current = Graphic.objects.get(pk=graphic.pk)
        graphic_update(
            user=editor,
            graphic_id=graphic.pk,
            version=current.version,
            title=f"Take {current.version}",
        )
        current_other = Graphic.objects.get(pk=other.pk)
        graphic_update(
            user=editor,
            graphic_id=other.pk,
            version=current_other.version,
            title=f"Other {current_other.version}",
        )
    lock_release(user=editor, graphic_id=graphic.pk)


async def events_until(client: Any, seq: int) -> list[dict[str, Any]]:
    """The client's next events, up to and including the one with `seq`."""
    events = [await client.next_event()]
    while events[-1]["data"]["seq"] < seq:
        events.append(await client.next_event())
    return events


def newest_seq_of(key: int | str) -> int:
    """The seq of the newest event of subscription `key` (a graphic id or "all")."""
    events = Event.objects.all() if key == "all" else Event.objects.filter(graphic_id=key)
    return int(events.order_by("-id").values_list("id", flat=True)[0])


@pytest.fixture
def other(make_graphic: Callable[..., Any], editor: Any) -> Graphic:
    return make_graphic(title="Other", by=editor)


# --- recovered ------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["graphic", "all"])
async def test_resuming_replays_what_a_live_subscriber_received_then_continues_live(
    ws_connect: Callable[..., Any],
    db_call: Any,
    viewer: Any,
    editor: Any,
    graphic: Graphic,
    other: Graphic,
    key: str,
) -> None:
    """A client that was away gets an ack with recovered true and the number of events it
    missed, then those events, frame for frame what a client that stayed received (the full
    graphic on a graphic subscription, summaries on "all"), then live events, each once."""
    graphic_id: int | str = graphic.pk if key == "graphic" else "all"
    stayed = await ws_connect(viewer)
    await stayed.ack("subscribe", {"graphic_id": graphic_id})
    away = await ws_connect(viewer)
    last_seq = (await away.ack("subscribe", {"graphic_id": graphic_id}))["seq"]
    await away.close()

    await db_call(change_while_away, editor=editor, graphic=graphic, other=other)
    missed = await events_until(stayed, await db_call(newest_seq_of, graphic_id))
    back = await ws_connect(viewer)
    ack = await back.ack("subscribe", {"graphic_id": graphic_id, "last_seq": last_seq})

    # Presence is not replayed: the resume ack carries it afresh (tests/realtime/test_presence).
    assert ack.pop("presence" if key == "graphic" else "presence_counts") is not None
    assert ack == {
        "graphic_id": graphic_id,
        "recovered": True,
        "replayed": len(missed),
        "seq": missed[-1]["data"]["seq"],
    }
    replayed = [await back.next_event() for _ in missed]
    assert replayed == missed
    if key == "graphic":
        assert all("data" in event["data"].get("payload", {"data": 1}) for event in replayed)
    else:
        assert all("data" not in event["data"].get("payload", {}) for event in replayed)
        assert {event["data"].get("id", event["data"].get("graphic_id")) for event in replayed} == {
            graphic.pk,
            other.pk,
        }
    await db_call(lock_acquire, user=editor, graphic_id=graphic.pk)
    live = await stayed.next_event(match=lambda e: e["type"] == "lock_status")
    assert await back.next_event() == live
    await back.no_event()


async def test_resuming_with_nothing_missed_replays_nothing(
    ws_connect: Callable[..., Any], db_call: Any, viewer: Any, editor: Any, graphic: Graphic
) -> None:
    """last_seq equal to where the subscription stands: recovered, zero events, and the stream
    goes on from there."""
    client = await ws_connect(viewer)
    snapshot = await client.ack("subscribe", {"graphic_id": graphic.pk})
    assert snapshot["recovered"] is False
    again = await ws_connect(viewer)

    ack = await again.ack("subscribe", {"graphic_id": graphic.pk, "last_seq": snapshot["seq"]})

    assert ack.pop("presence")["graphic_id"] == graphic.pk
    assert ack == {
        "graphic_id": graphic.pk,
        "recovered": True,
        "replayed": 0,
        "seq": snapshot["seq"],
    }
    await again.no_event()
    await db_call(lock_acquire, user=editor, graphic_id=graphic.pk)
    event = await again.next_event()
    assert event["data"]["seq"] > snapshot["seq"]
    assert event == await client.next_event()


async def test_last_seq_null_is_the_same_as_no_last_seq(
    ws_connect: Callable[..., Any], viewer: Any, graphic: Graphic
) -> None:
    """`"last_seq": null` subscribes as if it were left out: the snapshot."""
    client = await ws_connect(viewer)

    ack = await client.ack("subscribe", {"graphic_id": "all", "last_seq": None})

    assert ack["recovered"] is False
    assert "graphics" in ack


async def test_a_graphic_deleted_while_away_replays_to_its_deletion(
    ws_connect: Callable[..., Any],
    db_call: Any,
    viewer: Any,
    editor: Any,
    lock_admin: Any,
    graphic: Graphic,
) -> None:
    """The replay ends with the `deleted` event; resuming after that is not_found, as a fresh
    subscription to a graphic that is gone."""
    client = await ws_connect(viewer)
    last_seq = (await client.ack("subscribe", {"graphic_id": graphic.pk}))["seq"]
    await client.close()
    await db_call(lock_acquire, user=editor, graphic_id=graphic.pk)
    await db_call(lock_release, user=editor, graphic_id=graphic.pk)
    await db_call(graphic_delete, user=lock_admin, graphic_id=graphic.pk)
    back = await ws_connect(viewer)

    ack = await back.ack("subscribe", {"graphic_id": graphic.pk, "last_seq": last_seq})

    assert ack["recovered"] is True and ack["replayed"] == 3
    events = [await back.next_event() for _ in range(3)]
    assert [e["data"].get("reason") or e["data"].get("action") for e in events] == [
        "acquired",
        "released",
        "deleted",
    ]
    reply = await back.request(
        "subscribe", {"graphic_id": graphic.pk, "last_seq": events[-1]["data"]["seq"]}
    )
    assert reply["type"] == "error" and reply["data"]["code"] == "not_found"


# --- not recovered: a snapshot ------------------------------------------------------------


async def test_a_last_seq_older_than_the_pruned_log_gets_a_snapshot(
    ws_connect: Callable[..., Any],
    db_call: Any,
    settings: Any,
    viewer: Any,
    editor: Any,
    graphic: Graphic,
    other: Graphic,
) -> None:
    """Once prune_events has deleted events after last_seq, the ack is the fresh snapshot with
    recovered false, and the stream continues after the snapshot's seq."""
    settings.EVENT_RETENTION_MIN_EVENTS = 2
    client = await ws_connect(viewer)
    last_seq = (await client.ack("subscribe", {"graphic_id": graphic.pk}))["seq"]
    await client.close()
    await db_call(change_while_away, editor=editor, graphic=graphic, other=other)
    result = await db_call(events_prune, now=timezone.now() + timedelta(days=2))
    assert result.pruned_through > last_seq
    back = await ws_connect(viewer)

    ack = await back.ack("subscribe", {"graphic_id": graphic.pk, "last_seq": last_seq})

    fresh = await db_call(graphic_snapshot, graphic_id=graphic.pk)
    assert ack.pop("presence")["graphic_id"] == graphic.pk
    assert ack == {**fresh, "recovered": False}
    await back.no_event()
    # A last_seq at the horizon is still exact: every event above it is kept.
    again = await ws_connect(viewer)
    ack = await again.ack("subscribe", {"graphic_id": "all", "last_seq": result.pruned_through})
    assert ack["recovered"] is True and ack["replayed"] == 2


async def test_a_last_seq_never_handed_out_gets_a_snapshot(
    ws_connect: Callable[..., Any], db_call: Any, viewer: Any, graphic: Graphic
) -> None:
    """A seq above the newest (from another deployment, or a client's bug) is unknown."""
    client = await ws_connect(viewer)
    newest = await db_call(latest_seq)

    ack = await client.ack("subscribe", {"graphic_id": "all", "last_seq": newest + 1})

    assert ack.pop("presence_counts") == {}
    assert ack == {**(await db_call(list_snapshot)), "recovered": False}


async def test_more_than_the_replay_bound_gets_a_snapshot(
    ws_connect: Callable[..., Any],
    db_call: Any,
    settings: Any,
    viewer: Any,
    editor: Any,
    graphic: Graphic,
    other: Graphic,
) -> None:
    """EVENT_REPLAY_MAX_EVENTS events are replayed; one more and it is a snapshot."""
    client = await ws_connect(viewer)
    last_seq = (await client.ack("subscribe", {"graphic_id": "all"}))["seq"]
    await db_call(change_while_away, editor=editor, graphic=graphic, other=other, rounds=1)
    missed = await db_call(lambda: Event.objects.filter(id__gt=last_seq).count())
    settings.EVENT_REPLAY_MAX_EVENTS = missed
    at_bound = await ws_connect(viewer)
    assert (await at_bound.ack("subscribe", {"graphic_id": "all", "last_seq": last_seq}))[
        "replayed"
    ] == missed
    settings.EVENT_REPLAY_MAX_EVENTS = missed - 1
    past_bound = await ws_connect(viewer)

    ack = await past_bound.ack("subscribe", {"graphic_id": "all", "last_seq": last_seq})

    assert ack["recovered"] is False
    assert ack["seq"] == await db_call(latest_seq)
    await past_bound.no_event()


@pytest.mark.parametrize("last_seq", [-1, "12", 1.5, True, [3], {"seq": 3}])
async def test_a_bad_last_seq_is_a_validation_error_and_subscribes_nothing(
    ws_connect: Callable[..., Any], viewer: Any, graphic: Graphic, last_seq: Any
) -> None:
    """last_seq must be a non-negative whole number; anything else is refused and leaves the
    connection without that subscription."""
    client = await ws_connect(viewer)

    reply = await client.request("subscribe", {"graphic_id": graphic.pk, "last_seq": last_seq})

    assert reply["type"] == "error"
    assert reply["data"]["code"] == "validation_error"
    assert set(reply["data"]["details"]) == {"last_seq"}
    unsubscribe = await client.request("unsubscribe", {"graphic_id": graphic.pk})
    assert unsubscribe["data"]["code"] == "not_subscribed"


# --- the replay/live race ---------------------------------------------------------------------


class HorizonLock:
    """An ACCESS EXCLUSIVE lock on the horizon table, held by another connection in its own
    thread from `hold()` until `release()`: a resume's read then stops at the horizon, after
    its view of the log was taken, for as long as the test needs."""

    def __init__(self) -> None:
        self._locked, self._release = threading.Event(), threading.Event()
        self._failure: list[BaseException] = []
        self._thread = threading.Thread(target=self._hold, name="horizon-lock")

    def _hold(self) -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                table = EventLogHorizon._meta.db_table
                cursor.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
                self._locked.set()
                self._release.wait(30)
        except BaseException as exc:  # reported by hold(), not lost in the thread
            self._failure.append(exc)
            self._locked.set()
        finally:
            connection.close()

    def hold(self) -> None:
        self._thread.start()
        assert self._locked.wait(10) and not self._failure, self._failure

    def release(self) -> None:
        self._release.set()
        if self._thread.is_alive():
            self._thread.join(10)


@pytest.fixture
def horizon_lock(transactional_db: None) -> Iterator[HorizonLock]:
    lock = HorizonLock()
    yield lock
    lock.release()


def reads_waiting_on_the_horizon() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = %s::regclass",
            [EventLogHorizon._meta.db_table],
        )
        (count,) = cursor.fetchone()
    return int(count)


@pytest.mark.postgres
@pytest.mark.parametrize("key", ["graphic", "all"])
async def test_events_committed_while_the_replay_is_read_follow_it_once_in_order(
    ws_connect: Callable[..., Any],
    db_call: Any,
    settings: Any,
    horizon_lock: HorizonLock,
    viewer: Any,
    editor: Any,
    graphic: Graphic,
    other: Graphic,
    key: str,
) -> None:
    """The resume's read is held (a real lock, in another transaction) after it has taken its
    view of the log; meanwhile three more edits commit and are broadcast. The client receives
    the ack replaying only what its view held, that replay, then the three edits: exactly the
    events a client that stayed received, once each, in order."""
    settings.EVENT_POLL_INTERVAL_SECONDS = 60  # only broadcasts move the hub in this test
    graphic_id: int | str = graphic.pk if key == "graphic" else "all"
    stayed = await ws_connect(viewer)
    await stayed.ack("subscribe", {"graphic_id": graphic_id})
    away = await ws_connect(viewer)
    last_seq = (await away.ack("subscribe", {"graphic_id": graphic_id}))["seq"]
    await away.close()
    await db_call(change_while_away, editor=editor, graphic=graphic, other=other)
    await db_call(lock_acquire, user=editor, graphic_id=graphic.pk)  # for the edits below
    in_view = await events_until(stayed, await db_call(newest_seq_of, graphic_id))
    # Writers and the lock check use threads of their own: the held read occupies the
    # consumers' shared database thread.
    concurrent = database_sync_to_async(lambda fn, **kw: fn(**kw), thread_sensitive=False)
    back = await ws_connect(viewer)
    horizon_lock.hold()

    request_id = await back.send("subscribe", {"graphic_id": graphic_id, "last_seq": last_seq})
    deadline = time.monotonic() + 10
    while not await concurrent(reads_waiting_on_the_horizon):
        assert time.monotonic() < deadline, "the resume never reached the horizon read"
        await asyncio.sleep(0.02)
    for _ in range(3):
        current = await concurrent(Graphic.objects.get, pk=graphic.pk)
        await concurrent(
            graphic_update,
            user=editor,
            graphic_id=graphic.pk,
            version=current.version,
            title=f"During {current.version}",
        )
    newest = await concurrent(newest_seq_of, key=graphic_id)
    # The hub fans each event out to every subscriber at once: once the client that stayed has
    # the last edit, the held subscription has been handed all three.
    during = await events_until(stayed, newest)
    await stayed.no_event(within=0.1)
    horizon_lock.release()

    ack = (await back.reply_to(request_id))["data"]
    assert ack["recovered"] is True
    assert ack["replayed"] == len(in_view), "the replay holds what its view of the log held"
    received = [await back.next_event() for _ in range(len(in_view) + len(during))]
    assert received == in_view + during
    seqs = [event["data"]["seq"] for event in received]
    assert seqs == sorted(set(seqs))
    await back.no_event()

"""
Resuming from a seq: `subscribe` with `last_seq` on the WebSocket, and GET /api/events/.

Both ask the same question, "every event of this subscription after seq N", and both answer it
only when the answer is exact: N is not below the pruning horizon (events after it may be gone,
`realtime.delivery.retention`) and not above the newest seq (a seq this log never handed out, e.g.
from another deployment). Otherwise the caller gets the subscription's snapshot, as a subscribe
without `last_seq` does, flagged `"recovered": false`.

The events, the newest seq and the horizon are read in one consistent view
(`realtime.delivery.snapshots.consistent_read()`: REPEATABLE READ on PostgreSQL, SQLite's IMMEDIATE
transaction excludes writers), so a prune or a write committing meanwhile cannot make the answer
miss an event. Events committed after that view have greater seqs (seqs follow commit order),
and reach a WebSocket through the hub.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

from gal_dashboard.errors import ValidationFailed
from gal_dashboard.storable import BIGINT_MAX
from graphics.models import Graphic
from realtime.delivery.frames import (
    ALL,
    EventFrames,
    SubscriptionKey,
    event_frame,
    graphic_view_data,
    list_view_data,
)
from realtime.delivery.redaction import event_for_view_key, snapshot_for_view_key
from realtime.delivery.retention import events_pruned_through
from realtime.delivery.snapshots import (
    consistent_read,
    graphic_program_snapshot,
    graphic_snapshot,
    latest_seq,
    list_snapshot,
)
from realtime.models import Event


def check_seq(value: Any, *, field: str) -> int | None:
    """A client's seq: None (not given), or a non-negative whole number."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= BIGINT_MAX:
        raise ValidationFailed(details={field: ["A seq (non-negative whole number) or null."]})
    return value


@dataclass(frozen=True)
class EventsSince:
    events: list[Event]  # oldest first, at most the limit asked for
    more: bool  # whether more events follow the last one in `events`
    latest: int  # the newest seq in the log when it was read
    graphic_exists: bool  # for a graphic subscription; True for "all"


def events_since(*, key: SubscriptionKey, since: int, limit: int) -> EventsSince | None:
    """The events of subscription `key` with a seq above `since`, or None when that cannot be
    answered exactly (`since` below the pruning horizon, or above the newest seq)."""
    with consistent_read():
        latest = latest_seq()
        if since > latest or since < events_pruned_through():
            return None
        events = Event.objects.filter(id__gt=since).order_by("id")
        if key != ALL:
            events = events.filter(graphic_id=key)
        page = list(events[: limit + 1])
        graphic_exists = key == ALL or Graphic.objects.filter(pk=key).exists()
    return EventsSince(
        events=page[:limit], more=len(page) > limit, latest=latest, graphic_exists=graphic_exists
    )


def _snapshot(key: SubscriptionKey, *, view_key: bool) -> dict[str, Any]:
    if key == ALL:
        return list_snapshot()
    if view_key:
        # An overlay starts from the program, never the draft (issue 16).
        return snapshot_for_view_key(graphic_program_snapshot(graphic_id=key))
    return graphic_snapshot(graphic_id=key)


def _resumable(history: EventsSince | None) -> bool:
    # A graphic that is gone and has nothing to replay is not_found, as a fresh subscribe is;
    # one deleted after `since` replays up to its `deleted` event.
    return history is not None and (history.graphic_exists or bool(history.events))


@dataclass(frozen=True)
class SubscriptionStart:
    ack: dict[str, Any]
    # (seq, ASGI send message) of each replayed event, to send after the ack; None: a snapshot.
    replay: list[tuple[int, dict[str, Any]]] | None


def subscription_start(
    *, key: SubscriptionKey, last_seq: int | None, view_key: bool = False
) -> SubscriptionStart:
    """What a `subscribe` answers: the replay after `last_seq` when it is exact and at most
    EVENT_REPLAY_MAX_EVENTS long, else the snapshot. Runs in a thread (database reads).
    `view_key`: for an overlay's view key, without staff identities
    (realtime.delivery.redaction)."""
    if last_seq is not None:
        history = events_since(key=key, since=last_seq, limit=settings.EVENT_REPLAY_MAX_EVENTS)
        if history is not None and _resumable(history) and not history.more:
            replay = []
            for event in history.events:
                frames = EventFrames.from_event(event)
                if key == ALL:
                    message: dict[str, Any] | None = frames.for_list()
                else:
                    message = frames.for_view_key() if view_key else frames.for_graphic()
                if message is not None:  # None: a draft, which a view key never gets
                    replay.append((frames.seq, message))
            return SubscriptionStart(
                ack={
                    "graphic_id": key,
                    "recovered": True,
                    "replayed": len(replay),
                    # The last event read, delivered or not: a view key's stream has gaps.
                    "seq": history.events[-1].pk if history.events else last_seq,
                },
                replay=replay,
            )
    return SubscriptionStart(
        ack={**_snapshot(key, view_key=view_key), "recovered": False}, replay=None
    )


def _graphic_event_data(event: Event, *, view_key: bool) -> dict[str, Any] | None:
    data = graphic_view_data(event.type, event.data)
    return event_for_view_key(event.type, data) if view_key else data


def events_poll(
    *, key: SubscriptionKey, since: int | None, limit: int, view_key: bool = False
) -> dict[str, Any]:
    """The answer of GET /api/events/: the next page of events after `since`, in the objects
    the WebSocket sends, with the `since` to ask for next; or, when `since` is missing, pruned
    or unknown, the subscription's snapshot. `view_key`: as an overlay's view key sees them,
    without staff identities (realtime.delivery.redaction)."""
    history = None if since is None else events_since(key=key, since=since, limit=limit)
    if history is None or not _resumable(history):
        snapshot = _snapshot(key, view_key=view_key)
        return {
            "graphic": key,
            "recovered": False,
            "snapshot": snapshot,
            "events": [],
            "next_since": snapshot["seq"],
            "more": False,
        }
    events = []
    for event in history.events:
        data = (
            list_view_data(event.type, event.data)
            if key == ALL
            else _graphic_event_data(event, view_key=view_key)
        )
        if data is not None:  # None: a draft, which a view key never gets
            events.append(event_frame(event.type, data, seq=event.pk, subscription=key))
    return {
        "graphic": key,
        "recovered": True,
        "events": events,
        # A full page continues from its last event. Otherwise every event of this subscription
        # up to the newest seq has been answered, so the next poll may start there: that keeps
        # a poller of a quiet graphic above the pruning horizon.
        "next_since": history.events[-1].pk if history.more else history.latest,
        "more": history.more,
    }

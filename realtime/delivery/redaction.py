"""
What an overlay's view key sees: its graphic as it goes on air, never who works on it.

A view key is a URL pasted into OBS, shown on screens and in stream setups; whoever holds it
learns nothing about staff (issue 14, finding 7; presence is withheld for the same reason,
realtime.presence.tracker). Every path that hands a view key data goes through one function here,
per shape: the subscribe ack (snapshot or replay), live events (realtime.delivery.frames.EventFrames
encodes the redacted frame once for all view-key members), and polling (GET /api/events/?key=).

A view key also sees only what is on air (issue 16): the program version, never a draft. A
`graphic_update` reaches it only when that version went to air as it was saved (`live` true in
its data; events written before on-air control have no `live` and were all on air) or when the
graphic was deleted; a take, and live mode turned on, bring it the program whole; a clear
tells it the graphic is off air. `event_for_view_key` returns None for an event a view key does
not get, and its seq is a gap in the overlay's stream, which clients allow (docs/protocol.md).
Snapshots come from `realtime.delivery.snapshots.graphic_program_snapshot`.

The shapes stay those of docs/protocol.md, so a client reads them the same way: who (a username,
a user id, `{"id", "username"}`) becomes null, and what staff wrote (a lock override's `note`,
a change's `reason`) becomes "". The canvas, titles, versions, times, lock state (locked or not,
until when), a lock_status's `reason` (what happened to the lock: a fixed vocabulary that names
no one) and the standings (public, on-air data) stay.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# The people a graphic names: `{"id", "username"}` or null (graphics.serialization).
_GRAPHIC_PEOPLE = ("created_by", "updated_by", "archived_by")
# Who holds a lock (locks.selectors.lock_state).
_LOCK_PEOPLE = ("locked_by", "locked_by_id")
# Who did what in a lock_status (realtime.delivery.events.record_lock_change).
_LOCK_CHANGE_PEOPLE = ("actor", "actor_id", "previous_holder", "previous_holder_id")
# Who made a graphic_update or a standings_update.
_EVENT_PEOPLE = ("user", "user_id")
# Who took, cleared or switched live (realtime.delivery.events.record_air_change).
_AIR_PEOPLE = ("taken_by", "cleared_by", "by")
# What an on-air event says of the draft, which a view key never learns of.
_DRAFT_FIELDS = ("version", "draft_differs")


def _nulled(data: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {**data, **{key: None for key in keys if key in data}}


def _emptied(data: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {**data, **{key: "" for key in keys if key in data}}


def graphic_for_view_key(graphic: dict[str, Any]) -> dict[str, Any]:
    """A graphic payload or summary without the staff who created, edited or archived it."""
    return _nulled(graphic, _GRAPHIC_PEOPLE)


def lock_for_view_key(lock: dict[str, Any]) -> dict[str, Any]:
    """A lock state without its holder: whether it is locked, and until when."""
    return _nulled(lock, _LOCK_PEOPLE)


def graphic_update_for_view_key(data: dict[str, Any]) -> dict[str, Any]:
    """A graphic_update (full or patch form) without its author and the author's reason."""
    redacted = _emptied(_nulled(data, (*_EVENT_PEOPLE, "updated_by")), ("reason",))
    for key in ("payload", "summary"):
        if isinstance(redacted.get(key), dict):
            redacted[key] = graphic_for_view_key(redacted[key])
    return redacted


def lock_status_for_view_key(data: dict[str, Any]) -> dict[str, Any]:
    """A lock_status without holder, actor, previous holder and a Lock admin's note."""
    return _emptied(_nulled(lock_for_view_key(data), _LOCK_CHANGE_PEOPLE), ("note",))


def standings_update_for_view_key(data: dict[str, Any]) -> dict[str, Any]:
    """A standings_update without who saved the results; the standings stay (they are on air)."""
    return _nulled(data, _EVENT_PEOPLE)


def air_event_for_view_key(data: dict[str, Any]) -> dict[str, Any]:
    """A graphic_take, graphic_clear or graphic_live without who did it, their reason and the
    draft's version; the program's payload (take, live on) without its staff."""
    redacted = _emptied(_nulled(data, (*_EVENT_PEOPLE, *_AIR_PEOPLE)), ("reason",))
    for key in _DRAFT_FIELDS:
        redacted.pop(key, None)
    if isinstance(redacted.get("payload"), dict):
        redacted["payload"] = graphic_for_view_key(redacted["payload"])
    return redacted


EVENT_REDACTIONS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "graphic_update": graphic_update_for_view_key,
    "lock_status": lock_status_for_view_key,
    "standings_update": standings_update_for_view_key,
    "graphic_take": air_event_for_view_key,
    "graphic_clear": air_event_for_view_key,
    "graphic_live": air_event_for_view_key,
}


def on_air_for_view_key(event_type: str, data: dict[str, Any]) -> bool:
    """Whether a view key gets this event at all: every event but a graphic_update of a
    version that did not go to air (a draft)."""
    if event_type != "graphic_update":
        return True
    return bool(data.get("live", True)) or data.get("action") == "deleted"


def _any_event_for_view_key(data: dict[str, Any]) -> dict[str, Any]:
    # An event type without a redaction of its own (tests/realtime/test_redaction.py checks
    # there is none) still loses every field that names someone or carries their words.
    people = (*_EVENT_PEOPLE, *_LOCK_PEOPLE, *_LOCK_CHANGE_PEOPLE, *_GRAPHIC_PEOPLE)
    return _emptied(_nulled(data, people), ("note", "reason"))


def event_for_view_key(event_type: str, data: dict[str, Any]) -> dict[str, Any] | None:
    """An event's data (the graphic subscribers' copy, realtime.delivery.frames.graphic_view_data)
    as a view key receives it; None when a view key does not get it (a draft's graphic_update)."""
    if not on_air_for_view_key(event_type, data):
        return None
    return EVENT_REDACTIONS.get(event_type, _any_event_for_view_key)(data)


def snapshot_for_view_key(snapshot: dict[str, Any]) -> dict[str, Any]:
    """A graphic's program snapshot (realtime.delivery.snapshots.graphic_program_snapshot) as a view
    key receives it."""
    redacted = dict(snapshot)
    if isinstance(redacted.get("graphic"), dict):
        redacted["graphic"] = graphic_for_view_key(redacted["graphic"])
    if isinstance(redacted.get("lock"), dict):
        redacted["lock"] = lock_for_view_key(redacted["lock"])
    return redacted

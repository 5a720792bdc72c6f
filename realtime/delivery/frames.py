"""
Frames: what the server sends for an event or a presence change, and the subscription keys.

An event reaches three audiences, each with its own copy: the graphic's staff subscribers, the
graphic's overlays (view keys, realtime.delivery.redaction) and the list ("all"). `EventFrames`
encodes each copy at most once and shares it with every socket of its audience; `event_frame` is the
same frame as an object, for GET /api/events/ (realtime.delivery.replay). Presence frames
(`user_activity`, `presence_counts`) carry no seq: they are not in the event log.

The hub (realtime.delivery.hub), presence (realtime.presence.tracker), replay and the polling API
all take their frames and keys from here, and this module imports none of them.
"""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any

from graphics.serialization import summary_from_payload
from realtime.delivery.redaction import event_for_view_key
from realtime.models import Event

ALL = "all"
# The on-air events (realtime.delivery.events.record_air_change).
AIR_EVENT_TYPES = frozenset({"graphic_take", "graphic_clear", "graphic_live"})
SubscriptionKey = int | str  # a graphic id, or "all"


class EventFrames:
    """The ASGI messages of one event, each encoded at most once, shared by every socket of
    its audience (servers only read them)."""

    def __init__(self, *, seq: int, graphic_id: int, event_type: str, data: dict[str, Any]):
        self.seq = seq
        self.graphic_id = graphic_id
        self.event_type = event_type
        self.data = data

    @classmethod
    def from_event(cls, event: Event) -> EventFrames:
        return cls(
            seq=event.pk, graphic_id=event.graphic_id, event_type=event.type, data=event.data
        )

    def for_graphic(self) -> dict[str, Any]:
        return self._graphic_message

    def for_view_key(self) -> dict[str, Any] | None:
        """The graphic subscribers' frame as an overlay's view key gets it: without staff
        identities, notes or reasons, and None for a draft overlays never get
        (realtime.delivery.redaction)."""
        return self._view_key_message

    def for_list(self) -> dict[str, Any]:
        return self._list_message

    # Each copy is encoded on first use, then kept.

    @cached_property
    def _graphic_view(self) -> dict[str, Any]:
        return graphic_view_data(self.event_type, self.data)

    @cached_property
    def _graphic_message(self) -> dict[str, Any]:
        return self._message(self._graphic_view, self.graphic_id)

    @cached_property
    def _view_key_message(self) -> dict[str, Any] | None:
        data = event_for_view_key(self.event_type, self._graphic_view)
        return None if data is None else self._message(data, self.graphic_id)

    @cached_property
    def _list_message(self) -> dict[str, Any]:
        return self._message(list_view_data(self.event_type, self.data), ALL)

    def _message(self, data: dict[str, Any], subscription: SubscriptionKey) -> dict[str, Any]:
        frame = encode_event(self.event_type, data, seq=self.seq, subscription=subscription)
        return {"type": "websocket.send", "text": frame}


# What a patch-form graphic_update (realtime.delivery.events.graphic_event_data) carries for one
# audience only: the graphic's subscribers get the patch, the list its summary.
_PATCH_ONLY_KEYS = frozenset({"patch", "base_version", "updated_at", "updated_by"})


def graphic_view_data(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """The graphic subscribers' copy of an event: the full payload, or the merge patch from
    `base_version` when that is smaller (without the list's summary)."""
    if event_type == "graphic_update" and "summary" in data:
        return {key: value for key, value in data.items() if key != "summary"}
    return data


def list_view_data(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """The list view's copy of an event: graphic payloads without the canvas, standings
    without their tables (the list draws no canvas; it learns which graphic redrew)."""
    if event_type in AIR_EVENT_TYPES:
        payload = data.get("payload")
        if isinstance(payload, dict):
            return {**data, "payload": summary_from_payload(payload)}
        return data
    if event_type == "standings_update":
        standings = data.get("standings")
        if standings is None:
            return data
        return {
            **data,
            "standings": {key: value for key, value in standings.items() if key != "tables"},
        }
    if event_type != "graphic_update":
        return data
    if "summary" in data:
        listed = {
            key: value
            for key, value in data.items()
            if key not in _PATCH_ONLY_KEYS and key != "summary"
        }
        return {**listed, "payload": data["summary"]}
    if "payload" in data:
        return {**data, "payload": summary_from_payload(data["payload"])}
    return data


def event_frame(
    event_type: str, data: dict[str, Any], *, seq: int, subscription: SubscriptionKey
) -> dict[str, Any]:
    """An event frame as an object: what the WebSocket sends (encoded) and what
    GET /api/events/ lists, so the two cannot drift apart."""
    return {"type": event_type, "subscription": subscription, "data": {**data, "seq": seq}}


def encode_event(
    event_type: str, data: dict[str, Any], *, seq: int, subscription: SubscriptionKey
) -> str:
    return json.dumps(
        event_frame(event_type, data, seq=seq, subscription=subscription),
        separators=(",", ":"),
        ensure_ascii=False,
    )


def _send(frame: dict[str, Any]) -> dict[str, Any]:
    return {"type": "websocket.send", "text": json.dumps(frame, separators=(",", ":"))}


def user_activity_messages(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The `user_activity` frames (ASGI send messages) of a `hub.presence` message, for the
    graphic's subscribers."""
    graphic_id = message["graphic_id"]
    return [
        _send(
            {
                "type": "user_activity",
                "subscription": graphic_id,
                "data": {
                    "graphic_id": graphic_id,
                    "user_id": change["user_id"],
                    "username": change["username"],
                    "action": change["action"],
                    "target": graphic_id,
                    "timestamp": message["timestamp"],
                },
            }
        )
        for change in message["changes"]
    ]


def presence_counts_message(message: dict[str, Any]) -> dict[str, Any]:
    """The `presence_counts` frame of a `hub.presence` message, for the list's subscribers."""
    return _send(
        {
            "type": "presence_counts",
            "subscription": ALL,
            "data": {
                "graphic_id": message["graphic_id"],
                **message["counts"],
                "timestamp": message["timestamp"],
            },
        }
    )

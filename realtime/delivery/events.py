"""
Recording and publishing events.

`record_graphic_change` and `record_lock_change` append one row to the event log inside the
transaction that made the change, and register `publish_event` to run after it commits: a
rolled-back change is never broadcast, and a committed one is always in the log, whether or not
the broadcast reaches anyone (hubs catch up from the log).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from functools import partial
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from gal_dashboard.timestamps import iso_timestamp
from graphics.canvas import canvas_json
from graphics.models import Graphic, GraphicChange
from graphics.on_air import AirChange
from graphics.patch import canvas_diff
from graphics.serialization import (
    graphic_payload,
    on_air_state,
    program_payload,
    summary_from_payload,
)
from locks.models import CanvasLock, LockChange
from locks.selectors import lock_state
from realtime.delivery.lock_notices import LOST_REASONS as LOCK_LOST_REASONS
from realtime.models import Event, EventType
from realtime.ops.redis_outage import redis_outage
from standings.models import Tournament
from standings.selectors import graphic_standings, has_list_elements

logger = logging.getLogger(__name__)

# Every server process's hub is in this channel-layer group, for what concerns every process:
# commands to connections (`publish_hub_command`) and the broadcast probe. Events do not go
# through it.
HUB_GROUP = "gal.hub"

# Events go to the group of their graphic and to the list group. Their members are the hubs
# (one per server process) with a local socket that watches that graphic, or the list: a
# process receives only the events its sockets watch (docs/architecture.md).
LIST_GROUP = "graphics.list"


def graphic_group_name(graphic_id: int) -> str:
    """The channel-layer group of one graphic's events."""
    return f"graphic.{int(graphic_id)}"


def user_group_name(user_id: int) -> str:
    """The group of the hubs with a connection of this user: a `lock_status` that took a lock
    from its holder goes there too, so each of the holder's connections hears `lock_lost`
    (realtime.delivery.lock_notices), subscribed to the graphic or not."""
    return f"user.{int(user_id)}"


def event_groups(message: dict[str, Any]) -> list[str]:
    """The groups a committed event is sent to: its graphic's (none for a standings change
    that no graphic draws), the list's, and for a lock taken from its holder, the holder's."""
    groups = [LIST_GROUP]
    if message["graphic_id"] != NO_GRAPHIC:
        groups.insert(0, graphic_group_name(message["graphic_id"]))
    data = message["data"]
    if (
        message["event_type"] == EventType.LOCK_STATUS
        and data.get("previous_holder_id") is not None
        and data.get("reason") in LOCK_LOST_REASONS
    ):
        groups.append(user_group_name(data["previous_holder_id"]))
    return groups


def _username(user_id: int | None) -> str | None:
    if user_id is None:
        return None
    User = get_user_model()
    return User.objects.filter(pk=user_id).values_list("username", flat=True).first()


def _actor_username(actor_id: int | None, payload: dict[str, Any]) -> str | None:
    """The actor's username, from the payload where it names them (the last author, or the
    archiver), without a query."""
    for field in ("updated_by", "archived_by"):
        author = payload.get(field)
        if author is not None and author["id"] == actor_id:
            return str(author["username"])
    return _username(actor_id)


def graphic_event_data(
    *, graphic: Graphic, change: GraphicChange, payload: dict[str, Any], at: Any
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": graphic.pk,
        "action": change.action,
        "payload": payload,
        "version": graphic.version,
        "changed_fields": list(change.changed_fields),
        "reason": change.reason,
        "timestamp": iso_timestamp(at),
        "user": _actor_username(change.actor_id, payload),
        "user_id": change.actor_id,
        # Whether this version went to air as it was saved (live mode): only then do overlays
        # receive it (realtime.delivery.redaction.event_for_view_key).
        "live": graphic.live,
    }
    if change.reverted_from is not None:
        # Only a revert names the version it brought back; other actions keep their shape.
        data["reverted_from"] = change.reverted_from
    if change.previous is not None and "data" in payload:
        patch = graphic_patch_between(change.previous, payload)
        if len(canvas_json(patch)) < len(canvas_json(payload)):
            # Subscribers of the graphic get the patch from the version before; the list
            # view's summary rides along for the hubs (see realtime.delivery.frames.EventFrames).
            summary = summary_from_payload(payload)
            del data["payload"]
            data.update(
                base_version=graphic.version - 1,
                patch=patch,
                updated_at=summary["updated_at"],
                updated_by=summary["updated_by"],
                summary=summary,
            )
    return data


def graphic_patch_between(previous: Mapping[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
    """The merge patch from the content in `previous` (the changed fields' old values) to the
    content in `payload`: new titles whole, the canvas as a keyed diff (graphics.patch)."""
    patch: dict[str, Any] = {}
    for name, old_value in previous.items():
        if name == "data":
            patch["data"] = canvas_diff(old_value, payload["data"])
        else:
            patch[name] = payload[name]
    return patch


def record_graphic_change(
    graphic: Graphic, change: GraphicChange, *, payload: dict[str, Any] | None = None
) -> Event:
    """Append a `graphic_update` event for `change` and publish it after commit."""
    now = timezone.now()
    data = graphic_event_data(
        graphic=graphic,
        change=change,
        payload=payload if payload is not None else graphic_payload(graphic),
        at=now,
    )
    return _append_and_publish(graphic_id=graphic.pk, type=EventType.GRAPHIC_UPDATE, data=data)


AIR_EVENT_TYPES = {
    "take": EventType.GRAPHIC_TAKE,
    "clear": EventType.GRAPHIC_CLEAR,
    "live": EventType.GRAPHIC_LIVE,
}
# Who did it, per event type (a view key gets null, realtime.delivery.redaction).
AIR_ACTOR_FIELDS = {"take": "taken_by", "clear": "cleared_by", "live": "by"}


def record_air_change(graphic: Graphic, change: AirChange) -> Event:
    """Append a graphic_take, graphic_clear or graphic_live event for an on-air change
    (graphics.on_air) and publish it after commit. A take, and live mode turned on, carry the
    program's whole payload (`payload`), which overlays draw."""
    username = _username(change.actor_id)
    data: dict[str, Any] = {
        "id": graphic.pk,
        "graphic_id": graphic.pk,
        "action": change.action,
        "version": graphic.version,
        **on_air_state(graphic),
        AIR_ACTOR_FIELDS[change.action]: username,
        "user": username,
        "user_id": change.actor_id,
        "reason": change.reason,
        "timestamp": iso_timestamp(change.at),
    }
    if change.program is not None:
        data["payload"] = program_payload(graphic, change.program)
    return _append_and_publish(
        graphic_id=graphic.pk, type=AIR_EVENT_TYPES[change.action], data=data
    )


def record_lock_change(lock: CanvasLock, change: LockChange, *, deleted: bool) -> Event:
    """Append a `lock_status` event for `change` and publish it after commit."""
    now = timezone.now()
    state = lock_state(None if deleted else lock)
    data = {
        "graphic_id": lock.graphic_id,
        **state,
        "reason": change.action,
        "actor": _username(change.actor_id),
        "actor_id": change.actor_id,
        "previous_holder": _username(change.previous_holder_id),
        "previous_holder_id": change.previous_holder_id,
        "note": change.note,
        # The token of the lock term that ended (released, expired, overridden), so its holder
        # can tell which of its edits can no longer be written; null for acquire and refresh.
        "previous_fencing_token": _ended_fencing_token(lock, change, deleted=deleted),
        "timestamp": iso_timestamp(now),
    }
    return _append_and_publish(graphic_id=lock.graphic_id, type=EventType.LOCK_STATUS, data=data)


def _ended_fencing_token(lock: CanvasLock, change: LockChange, *, deleted: bool) -> int | None:
    if change.previous_fencing_token is not None:
        return change.previous_fencing_token
    if deleted:
        return int(lock.fencing_token)
    return None


def record_standings_change(
    *, event_names: list[str], action: str, actor_id: int | None
) -> list[Event]:
    """Append a `standings_update` for every graphic bound to one of `event_names` (a graphic
    whose `event_name` is one of them and which has list elements) and publish each after
    commit. Each carries the standings that graphic draws, read after taking the log's append
    lock, so that events follow the results in commit order (EventManager.hold_order). With no
    graphic bound, one event for no graphic (NO_GRAPHIC in the log, `graphic_id` null in its
    data, no tables), which only "all" receives."""
    Event.objects.hold_order()
    graphics = [
        graphic
        for graphic in Graphic.objects.filter(event_name__in=event_names)
        .only("pk", "event_name", "data")
        .order_by("pk")
        if has_list_elements(graphic.data)
    ]
    tournaments: dict[str, Tournament | None] = {name: None for name in event_names}
    for tournament in Tournament.objects.filter(name__in=event_names):
        tournaments[tournament.name] = tournament
    if not graphics:
        # Nothing on air draws this event, but the list ("all": the results page of another
        # scorekeeper, say) still hears of every results change: one event for no graphic.
        return [_record_unbound_standings(event_names[0], tournaments, action, actor_id)]
    cache: dict[tuple[int, str], list[dict[str, Any]]] = {}
    user = _username(actor_id)
    timestamp = iso_timestamp(timezone.now())
    events = []
    for graphic in graphics:
        standings = graphic_standings(
            event_name=graphic.event_name, data=graphic.data, cache=cache, tournaments=tournaments
        )
        events.append(
            _append_and_publish(
                graphic_id=graphic.pk,
                type=EventType.STANDINGS_UPDATE,
                data=standings_event_data(
                    graphic_id=graphic.pk,
                    standings=standings,
                    action=action,
                    user=user,
                    actor_id=actor_id,
                    timestamp=timestamp,
                ),
            )
        )
    return events


# The graphic_id of a standings_update that no graphic draws: only "all" receives it.
NO_GRAPHIC = 0


def _record_unbound_standings(
    event_name: str,
    tournaments: Mapping[str, Tournament | None],
    action: str,
    actor_id: int | None,
) -> Event:
    tournament = tournaments.get(event_name)
    return _append_and_publish(
        graphic_id=NO_GRAPHIC,
        type=EventType.STANDINGS_UPDATE,
        data=standings_event_data(
            graphic_id=None,
            standings={
                "event_name": event_name,
                "tournament_id": tournament.pk if tournament is not None else None,
                "revision": tournament.revision if tournament is not None else 0,
            },
            action=action,
            user=_username(actor_id),
            actor_id=actor_id,
            timestamp=iso_timestamp(timezone.now()),
        ),
    )


def record_graphic_standings(graphic: Graphic, *, actor_id: int | None) -> Event | None:
    """Append the standings a graphic draws now that its binding changed (its event name or
    the tables its lists draw), after the graphic_update that changed it."""
    Event.objects.hold_order()
    standings = graphic_standings(event_name=graphic.event_name, data=graphic.data)
    if standings is None:
        return None
    return _append_and_publish(
        graphic_id=graphic.pk,
        type=EventType.STANDINGS_UPDATE,
        data=standings_event_data(
            graphic_id=graphic.pk,
            standings=standings,
            action="graphic_bound",
            user=_username(actor_id),
            actor_id=actor_id,
            timestamp=iso_timestamp(timezone.now()),
        ),
    )


def standings_event_data(
    *,
    graphic_id: int | None,
    standings: dict[str, Any] | None,
    action: str,
    user: str | None,
    actor_id: int | None,
    timestamp: str | None,
) -> dict[str, Any]:
    return {
        "graphic_id": graphic_id,
        "action": action,
        "standings": standings,
        "timestamp": timestamp,
        "user": user,
        "user_id": actor_id,
    }


def _append_and_publish(*, graphic_id: int, type: str, data: dict[str, Any]) -> Event:
    event = Event.objects.append(graphic_id=graphic_id, type=type, data=data)
    # robust: a broadcast that fails (Redis away) is logged, never turned into an error for a
    # change that has already committed; hubs recover it from the log.
    transaction.on_commit(partial(publish_event, event_message(event)), robust=True)
    return event


def event_message(event: Event) -> dict[str, Any]:
    """The channel-layer message that tells the hubs about a committed event. `prev_seq` and
    `graphic_prev_seq` (the seq of the event before it in the log, and in its graphic's
    stream; null when unknown) let a hub that receives only some events tell a gap."""
    return {
        "type": "hub.event",
        "seq": event.pk,
        "graphic_id": event.graphic_id,
        "event_type": event.type,
        "data": event.data,
        "prev_seq": event.previous_seq,
        "graphic_prev_seq": event.previous_graphic_seq,
    }


async def _send_to_groups(layer: Any, groups: list[str], message: dict[str, Any]) -> None:
    await asyncio.gather(*(layer.group_send(group, message) for group in groups))


def publish_event(message: dict[str, Any]) -> None:
    """Send a committed event to its graphic's group and the list group (`event_groups`).
    Call from synchronous code only."""
    layer = get_channel_layer()
    if layer is None:
        return
    started = time.monotonic()
    try:
        async_to_sync(_send_to_groups)(layer, event_groups(message), message)
    except Exception:
        # While Redis is away, this line (one per event) is folded into the outage's one
        # (realtime.ops.redis_outage); any other failure is logged as it is.
        logger.warning(
            "could not publish event seq=%s; hubs will pick it up from the event log",
            message.get("seq"),
            exc_info=True,
        )
    else:
        redis_outage.succeeded(started_at=started)


def publish_hub_command(command: dict[str, Any]) -> None:
    """Send a command to the connections it addresses on every server (see
    `EventHub._run_command`): `{"command": "close" | "send", "user_id" | "token_family" |
    "session" | "view_key_id" | "connection_id": ..., ...}`. Call from synchronous code; never
    raises."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(HUB_GROUP, {"type": "hub.command", **command})
    except Exception:
        logger.warning("could not publish hub command %s", command.get("command"), exc_info=True)


async def send_hub_command(command: dict[str, Any]) -> None:
    """`publish_hub_command` for asynchronous callers (the staff pages). Raises when the
    channel layer cannot take the command, so the caller can say it was not delivered."""
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer is configured")
    await layer.group_send(HUB_GROUP, {"type": "hub.command", **command})


def deleted_graphic_payload(graphic: Graphic) -> dict[str, Any]:
    """What subscribers learn about a graphic that no longer exists: its last summary."""
    return summary_from_payload(graphic_payload(graphic))

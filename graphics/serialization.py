"""
The JSON shapes of a graphic, shared by the REST API, WebSocket snapshots and broadcast events,
so that a client sees one graphic the same way whichever path it came by.
"""

from __future__ import annotations

from typing import Any

from gal_dashboard.access import user_ref
from gal_dashboard.timestamps import iso_timestamp
from graphics.models import AirInterval, Graphic, GraphicVersion, GraphicViewKey
from graphics.selectors import overlay_url


def graphic_summary(graphic: Graphic) -> dict[str, Any]:
    """Every field but the canvas: what the list view needs."""
    return {
        "id": graphic.pk,
        "title": graphic.title,
        "event_name": graphic.event_name,
        "version": graphic.version,
        "archived": graphic.archived,
        "archived_at": iso_timestamp(graphic.archived_at),
        "archived_by": user_ref(graphic.archived_by) if graphic.archived_by_id else None,
        "created_by": user_ref(graphic.created_by) if graphic.created_by_id else None,
        "updated_by": user_ref(graphic.updated_by) if graphic.updated_by_id else None,
        "created_at": iso_timestamp(graphic.created_at),
        "updated_at": iso_timestamp(graphic.updated_at),
        **on_air_state(graphic),
    }


def on_air_state(graphic: Graphic) -> dict[str, Any]:
    """Where the graphic stands on air (issue 16), in every staff payload: whether it is on
    air, which version (or last was), live mode, its transition, and whether the draft (the
    current version) differs from air."""
    return {
        "on_air": graphic.on_air,
        "program_version": graphic.program_version,
        "live": graphic.live,
        "transition": graphic.transition,
        "transition_ms": graphic.transition_ms,
        "draft_differs": graphic.draft_differs,
    }


def graphic_payload(graphic: Graphic) -> dict[str, Any]:
    """The whole graphic, canvas included."""
    payload = graphic_summary(graphic)
    payload["data"] = graphic.data
    return payload


def summary_from_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """A summary cut from a full payload, without touching the database."""
    return {key: value for key, value in payload.items() if key != "data"}


def version_summary(version: GraphicVersion) -> dict[str, Any]:
    """A history entry without the canvas: which version, what made it, who, when and why."""
    return {
        "version": version.version,
        "action": version.action,
        "changed_fields": list(version.changed_fields),
        "actor": user_ref(version.actor) if version.actor_id else None,
        "created_at": iso_timestamp(version.created_at),
        "reason": version.reason,
        "reverted_from": version.reverted_from,
    }


def version_payload(version: GraphicVersion) -> dict[str, Any]:
    """The graphic as `version` left it, in `graphic_payload`'s shape: its content and archive
    state then, its author and time as `updated_by` / `updated_at`."""
    graphic = version.graphic
    return {
        "id": version.graphic_id,
        "title": version.title,
        "event_name": version.event_name,
        "version": version.version,
        "archived": version.archived,
        "archived_at": iso_timestamp(version.archived_at),
        "archived_by": user_ref(version.archived_by) if version.archived_by_id else None,
        "created_by": user_ref(graphic.created_by) if graphic.created_by_id else None,
        "updated_by": user_ref(version.actor) if version.actor_id else None,
        "created_at": iso_timestamp(graphic.created_at),
        "updated_at": iso_timestamp(version.created_at),
        # Where the graphic stands on air now (as the lock a version is served with is now).
        **on_air_state(graphic),
        "data": version.data,
    }


def program_payload(graphic: Graphic, program: GraphicVersion) -> dict[str, Any]:
    """What an overlay draws: the program version (`program`, its history row) in
    `graphic_payload`'s shape, with the graphic's on-air state."""
    program.graphic = graphic
    return version_payload(program)


def off_air_payload(graphic: Graphic) -> dict[str, Any]:
    """What an overlay learns of a graphic that is not on air: its id and on-air state, no
    title, no canvas (the overlay draws nothing)."""
    return {"id": graphic.pk, **on_air_state(graphic)}


def view_key_payload(view_key: GraphicViewKey | None) -> dict[str, Any] | None:
    """A graphic's active view key as operators see it: the key, the overlay URL to paste into
    OBS, and who made it when; None when the graphic has no active key."""
    if view_key is None:
        return None
    return {
        "key": view_key.key,
        "overlay_url": overlay_url(view_key.graphic_id, view_key.key),
        "created_at": iso_timestamp(view_key.created_at),
        "created_by": user_ref(view_key.created_by) if view_key.created_by_id else None,
    }


def air_interval_payload(interval: AirInterval) -> dict[str, Any]:
    """One interval of the on-air log: which graphic (null once deleted; its title as on air),
    which version, who took it when and why, who cleared it when and why (null while on air),
    and where that version renders (GET /api/graphics/{id}/history/{version}/)."""
    graphic_id = interval.graphic_id
    return {
        "graphic_id": graphic_id,
        "graphic_title": interval.graphic_title,
        "version": interval.version,
        "taken_at": iso_timestamp(interval.taken_at),
        "taken_by": user_ref(interval.taken_by) if interval.taken_by_id else None,
        "taken_reason": interval.taken_reason,
        "cleared_at": iso_timestamp(interval.cleared_at),
        "cleared_by": user_ref(interval.cleared_by) if interval.cleared_by_id else None,
        "cleared_reason": interval.cleared_reason,
        "version_url": (
            f"/api/graphics/{graphic_id}/history/{interval.version}/"
            if graphic_id is not None
            else None
        ),
    }

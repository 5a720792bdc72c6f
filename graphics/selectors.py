"""Reads of graphics: lookups, the list queries the API and the WebSocket share, history, and
the overlay view keys."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from gal_dashboard.errors import NotFound, ValidationFailed
from gal_dashboard.storable import BIGINT_MAX, text_problem
from graphics.models import (
    CONTENT_ACTIONS,
    VIEW_KEY_MAX_LENGTH,
    AirInterval,
    Graphic,
    GraphicVersion,
    GraphicViewKey,
)

ARCHIVED_FILTERS = ("false", "true", "all")

# What `secrets.token_urlsafe` makes. Anything else cannot be a key and never reaches a query
# (a NUL, say, would fail in PostgreSQL rather than simply match nothing).
_VIEW_KEY_SHAPE = re.compile(rf"[A-Za-z0-9_-]{{1,{VIEW_KEY_MAX_LENGTH}}}")


def check_graphic_id(graphic_id: Any) -> int:
    if isinstance(graphic_id, bool) or not isinstance(graphic_id, int) or graphic_id < 1:
        raise ValidationFailed(
            details={"graphic_id": ["A graphic id (positive whole number) is required."]}
        )
    if graphic_id > BIGINT_MAX:
        # A well-formed id no graphic can have: not found, without a query that would overflow.
        raise NotFound(f"Graphic {graphic_id} does not exist.")
    return graphic_id


def graphic_get(*, graphic_id: Any) -> Graphic:
    graphic_id = check_graphic_id(graphic_id)
    try:
        return Graphic.objects.select_related("created_by", "updated_by", "archived_by").get(
            pk=graphic_id
        )
    except Graphic.DoesNotExist:
        raise NotFound(f"Graphic {graphic_id} does not exist.") from None


def graphic_get_for_update(*, graphic_id: Any, without_canvas: bool = False) -> Graphic:
    """The graphic with its row locked until the transaction ends, so that lock and version
    checks cannot interleave. (A no-op on SQLite, whose IMMEDIATE transactions already
    serialise writers.) Lock operations pass `without_canvas`: they never read the canvas,
    which can be up to GRAPHIC_DATA_MAX_BYTES."""
    graphic_id = check_graphic_id(graphic_id)
    # Its authors come in the same query: the change's event names them. Only the graphic's row
    # is locked (an author's row is not the graphic's to lock, and PostgreSQL refuses to lock
    # the nullable side of an outer join).
    graphics = Graphic.objects.select_for_update(of=("self",)).select_related(
        "created_by", "updated_by", "archived_by"
    )
    if without_canvas:
        graphics = graphics.defer("data")
    try:
        return graphics.get(pk=graphic_id)
    except Graphic.DoesNotExist:
        raise NotFound(f"Graphic {graphic_id} does not exist.") from None


def graphic_list(
    *, archived: str = "false", event_name: str | None = None, query: str | None = None
) -> QuerySet[Graphic]:
    """Graphics newest first, for lists: `archived` is "false" (active), "true" or "all";
    `query` searches title and event name, case-insensitively. The canvas is not loaded: lists
    show summaries, and fifty canvases of up to a megabyte each would dominate the request."""
    if archived not in ARCHIVED_FILTERS:
        raise ValidationFailed(details={"archived": ["Must be one of false, true, all."]})
    # Searched text goes into a query: a NUL or an unpaired surrogate would fail in PostgreSQL.
    problems = {
        field: [problem]
        for field, value in (("event_name", event_name), ("q", query))
        if value and (problem := text_problem(value))
    }
    if problems:
        raise ValidationFailed(details=problems)
    graphics = Graphic.objects.select_related("created_by", "updated_by", "archived_by")
    if archived != "all":
        graphics = graphics.filter(archived=(archived == "true"))
    if event_name:
        graphics = graphics.filter(event_name=event_name)
    if query:
        graphics = graphics.filter(Q(title__icontains=query) | Q(event_name__icontains=query))
    return graphics.defer("data").order_by("-updated_at", "-id")


def graphic_event_names() -> list[str]:
    """Distinct event names, alphabetically."""
    return list(
        Graphic.objects.order_by("event_name").values_list("event_name", flat=True).distinct()
    )


def graphic_history(*, graphic_id: Any) -> QuerySet[GraphicVersion]:
    """The graphic's versions, newest first, without their canvases (a list shows what changed;
    `graphic_version_get` reads one whole). Archived graphics have their history too."""
    graphic_id = check_graphic_id(graphic_id)
    if not Graphic.objects.filter(pk=graphic_id).exists():
        raise NotFound(f"Graphic {graphic_id} does not exist.")
    return (
        GraphicVersion.objects.filter(graphic_id=graphic_id)
        .select_related("actor")
        .defer("data")
        .order_by("-version", "-id")
    )


def graphic_version_get(*, graphic_id: Any, version: Any) -> GraphicVersion:
    """One version of a graphic, whole. NotFound if the graphic does not exist, or if the
    version was never made or has been pruned (GRAPHIC_HISTORY_MAX_VERSIONS)."""
    graphic_id = check_graphic_id(graphic_id)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValidationFailed(
            details={"version": ["A version (positive whole number) is required."]}
        )
    found = (
        # The version's own row: on-air rows (take, clear, live) name a version they did not make.
        GraphicVersion.objects.filter(
            graphic_id=graphic_id, version=version, action__in=CONTENT_ACTIONS
        )
        .select_related("actor", "archived_by", "graphic__created_by")
        # The graphic's own canvas is the current one, not this version's: leave it unread.
        .defer("graphic__data")
        .first()
    )
    if found is None:
        if not Graphic.objects.filter(pk=graphic_id).exists():
            raise NotFound(f"Graphic {graphic_id} does not exist.")
        raise NotFound(
            f"Graphic {graphic_id} has no version {version}.",
            details={"graphic_id": graphic_id, "version": version},
        )
    return found


# -- the on-air log -----------------------------------------------------------------------------


def _check_instant(value: Any, *, field: str) -> datetime | None:
    """An ISO 8601 date-time from a query string (a time without a zone is UTC), or None."""
    if value is None:
        return None
    problem = "An ISO 8601 date-time, e.g. 2026-12-06T20:14:00Z."
    if not isinstance(value, str) or text_problem(value):
        raise ValidationFailed(details={field: [problem]})
    try:
        parsed = parse_datetime(value.strip())
    except ValueError:
        parsed = None
    if parsed is None:
        raise ValidationFailed(details={field: [problem]})
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, UTC)
    return parsed


def air_log(
    *, graphic_id: Any = None, since: Any = None, until: Any = None
) -> QuerySet[AirInterval]:
    """The on-air intervals, oldest first, that overlap [since, until] (ISO date-times, each
    optional): what was on air in that time. With `graphic_id`, that graphic's only (NotFound
    if it does not exist)."""
    start = _check_instant(since, field="from")
    end = _check_instant(until, field="to")
    if start is not None and end is not None and end < start:
        raise ValidationFailed(details={"to": ["Must not be before `from`."]})
    intervals = AirInterval.objects.select_related("taken_by", "cleared_by")
    if graphic_id is not None:
        graphic_id = check_graphic_id(graphic_id)
        if not Graphic.objects.filter(pk=graphic_id).exists():
            raise NotFound(f"Graphic {graphic_id} does not exist.")
        intervals = intervals.filter(graphic_id=graphic_id)
    if end is not None:
        intervals = intervals.filter(taken_at__lte=end)
    if start is not None:
        intervals = intervals.filter(Q(cleared_at__isnull=True) | Q(cleared_at__gte=start))
    return intervals.order_by("taken_at", "id")


# -- overlay view keys ---------------------------------------------------------------------------


def view_key_active(*, graphic_id: int) -> GraphicViewKey | None:
    """The graphic's active view key (its creator loaded), or None when it has none."""
    graphic_id = check_graphic_id(graphic_id)
    return (
        GraphicViewKey.objects.filter(graphic_id=graphic_id, revoked_at__isnull=True)
        .select_related("created_by")
        .first()
    )


def view_key_authenticate(*, key: Any) -> GraphicViewKey | None:
    """The active view key whose value is exactly `key`, its graphic existing; None for
    anything else: an unknown or revoked key, and any input that cannot be a key at all (not a
    string, empty, oversized, characters a key never has)."""
    if not isinstance(key, str) or _VIEW_KEY_SHAPE.fullmatch(key) is None:
        return None
    found = GraphicViewKey.objects.filter(
        key=key, revoked_at__isnull=True, graphic__isnull=False
    ).first()
    # Exactly this value, whatever the database's collation makes of case.
    if found is None or not secrets.compare_digest(found.key, key):
        return None
    return found


def view_keys_active_among(view_key_ids: Iterable[int]) -> set[int]:
    """Which of these view keys are still active (the others were revoked or deleted)."""
    ids = set(view_key_ids)
    if not ids:
        return set()
    return set(
        GraphicViewKey.objects.filter(pk__in=ids, revoked_at__isnull=True).values_list(
            "pk", flat=True
        )
    )


def overlay_url(graphic_id: int, key: str) -> str:
    """The on-air overlay page of a graphic, authenticated by its view key: what an operator
    pastes into OBS as a browser source (relative; prefix the dashboard's origin)."""
    return f"/overlay/{int(graphic_id)}/?{urlencode({'key': key})}"

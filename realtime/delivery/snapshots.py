"""
Snapshots: the state a subscriber starts from, with the `seq` it reflects.

Each snapshot is read consistently with its seq, so that "the snapshot, then every event with a
greater seq" is exactly the current state: each is read in one `consistent_read()`.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection, transaction
from django.db.models import Max, OuterRef, Subquery
from django.db.models.functions import Coalesce

from gal_dashboard.errors import NotFound
from graphics.models import CONTENT_ACTIONS, Graphic, GraphicVersion
from graphics.selectors import check_graphic_id
from graphics.serialization import (
    graphic_payload,
    graphic_summary,
    off_air_payload,
    program_payload,
)
from locks.models import CanvasLock
from locks.selectors import lock_state
from realtime.models import Event
from standings.selectors import graphic_standings

logger = logging.getLogger(__name__)


@contextmanager
def consistent_read() -> Iterator[None]:
    """One transaction whose reads all see the same committed state: REPEATABLE READ on
    PostgreSQL; SQLite's IMMEDIATE transaction already excludes writers. Only a transaction's
    first statement may set its isolation, so inside an outer transaction (a caller's, or a
    test's) the reads share that transaction's view instead."""
    starts_transaction = not connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor == "postgresql" and starts_transaction:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield


def _lock_of(graphic: Graphic) -> CanvasLock | None:
    try:
        return graphic.lock
    except CanvasLock.DoesNotExist:
        return None


def _graphics_with_lock() -> Any:
    return Graphic.objects.select_related(
        "created_by", "updated_by", "archived_by", "lock", "lock__holder"
    )


def graphic_snapshot(*, graphic_id: Any) -> dict[str, Any]:
    """{"graphic": full payload, "lock": lock state, "standings": what its lists draw (absent
    without list elements), "seq": last event of this graphic}."""
    graphic_id = check_graphic_id(graphic_id)
    latest_event = Event.objects.filter(graphic_id=OuterRef("pk")).order_by("-id").values("id")[:1]
    with consistent_read():
        graphic = (
            _graphics_with_lock()
            .annotate(last_seq=Coalesce(Subquery(latest_event), 0))
            .filter(pk=graphic_id)
            .first()
        )
        if graphic is None:
            raise NotFound(f"Graphic {graphic_id} does not exist.")
        standings = graphic_standings(event_name=graphic.event_name, data=graphic.data)
    snapshot = {
        "graphic_id": graphic.pk,
        "graphic": graphic_payload(graphic),
        "lock": lock_state(_lock_of(graphic)),
        "seq": graphic.last_seq,
    }
    if standings is not None:
        snapshot["standings"] = standings
    return snapshot


def graphic_program_snapshot(*, graphic_id: Any) -> dict[str, Any]:
    """What an overlay starts from (issue 16): `graphic_snapshot`'s shape with the program in
    `graphic` (the version on air, `graphic_payload`'s shape with the on-air fields) and the
    standings its lists draw; while the graphic is off air, `graphic` holds only its id and
    on-air fields (no title, no canvas) and there are no standings. Never the draft."""
    graphic_id = check_graphic_id(graphic_id)
    latest_event = Event.objects.filter(graphic_id=OuterRef("pk")).order_by("-id").values("id")[:1]
    with consistent_read():
        graphic = (
            _graphics_with_lock()
            .defer("data")
            .annotate(last_seq=Coalesce(Subquery(latest_event), 0))
            .filter(pk=graphic_id)
            .first()
        )
        if graphic is None:
            raise NotFound(f"Graphic {graphic_id} does not exist.")
        program = None
        if graphic.on_air and graphic.program_version is not None:
            program = (
                GraphicVersion.objects.filter(
                    graphic_id=graphic.pk,
                    version=graphic.program_version,
                    action__in=CONTENT_ACTIONS,
                )
                .select_related("actor", "archived_by")
                .first()
            )
            if program is None:  # kept from pruning (GraphicVersionManager.prune): never so
                logger.error("graphic %s has no row for its program version", graphic.pk)
        standings = (
            graphic_standings(event_name=program.event_name, data=program.data)
            if program is not None
            else None
        )
    snapshot = {
        "graphic_id": graphic.pk,
        "graphic": (
            program_payload(graphic, program) if program is not None else off_air_payload(graphic)
        ),
        "lock": lock_state(_lock_of(graphic)),
        "seq": graphic.last_seq,
    }
    if standings is not None:
        snapshot["standings"] = standings
    return snapshot


def list_snapshot() -> dict[str, Any]:
    """{"graphics": [summary + lock state for every graphic], "seq": last event overall}."""
    with consistent_read():
        seq = Event.objects.aggregate(last=Max("id"))["last"] or 0
        # Summaries only: the canvases stay in the database.
        graphics = list(_graphics_with_lock().defer("data").order_by("-updated_at", "-id"))
    return {
        "graphic_id": "all",
        "graphics": [
            {**graphic_summary(graphic), "lock": lock_state(_lock_of(graphic))}
            for graphic in graphics
        ],
        "seq": seq,
    }


def latest_seq() -> int:
    return Event.objects.aggregate(last=Max("id"))["last"] or 0


def events_after(
    *,
    seq: int,
    limit: int,
    graphic_ids: Collection[int] | None = None,
    before: int | None = None,
    event_type: str | None = None,
) -> list[Event]:
    """Committed events with a greater seq, oldest first, at most `limit` of them; only those
    of `graphic_ids`, before seq `before`, of type `event_type`, when given."""
    events = Event.objects.filter(id__gt=seq)
    if event_type is not None:
        events = events.filter(type=event_type)
    if graphic_ids is not None:
        events = events.filter(graphic_id__in=list(graphic_ids))
    if before is not None:
        events = events.filter(id__lt=before)
    return list(events.order_by("id")[:limit])

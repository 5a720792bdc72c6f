"""
Retention of the event log: which events may go, deleting them, and the horizon that records
how far deletion went.

An event may be pruned when it is older than `EVENT_RETENTION_SECONDS` *and* not among the
newest `EVENT_RETENTION_MIN_EVENTS`. Pruning always removes a prefix of the log (every event
below one seq), and moves `EventLogHorizon.pruned_through` up in the same transaction as each
delete, so "every event above the horizon is still here" holds at every commit. Resume and
polling (`realtime.delivery.replay`) rely on exactly that.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone

from realtime.models import Event, EventLogHorizon

# Rows deleted per transaction: small enough that a first prune of a long-neglected log does not
# hold one huge transaction (and its locks) open, large enough to finish quickly.
PRUNE_BATCH_SIZE = 5000


@dataclass(frozen=True)
class PruneResult:
    deleted: int  # events deleted (or that would be, for a dry run)
    first_kept: int | None  # the lowest seq left in the log (None: the log is empty)
    pruned_through: int  # the horizon afterwards: every event above it is retained
    kept: int  # events left in the log


def events_pruned_through() -> int:
    """The highest seq pruning has deleted (0: none). Every event above it is in the log."""
    value = EventLogHorizon.objects.filter(pk=EventLogHorizon.SINGLETON_PK).values_list(
        "pruned_through", flat=True
    )
    return value.first() or 0


def prune_bound(*, now: datetime) -> int:
    """The lowest seq that must stay: every event below it is both older than the retention
    period and outside the newest EVENT_RETENTION_MIN_EVENTS. Every event from it on stays,
    even one older than the period behind a newer one (clocks of several servers may differ):
    pruning removes a prefix of the log, never a hole."""
    cutoff = now - timedelta(seconds=settings.EVENT_RETENTION_SECONDS)
    first_recent = Event.objects.filter(created_at__gte=cutoff).aggregate(first=Min("id"))["first"]
    latest = Event.objects.aggregate(last=Max("id"))["last"] or 0
    bound = first_recent if first_recent is not None else latest + 1
    keep = settings.EVENT_RETENTION_MIN_EVENTS
    if keep > 0:
        newest = Event.objects.order_by("-id").values_list("id", flat=True)
        newest_kept = list(newest[keep - 1 : keep])
        # Fewer than `keep` events in all: every one of them stays.
        bound = min(bound, newest_kept[0] if newest_kept else 0)
    return bound


def events_prune(*, now: datetime | None = None, dry_run: bool = False) -> PruneResult:
    """Delete the events `prune_bound` allows, in batches, advancing the horizon with each.
    With `dry_run`, count them and change nothing."""
    bound = prune_bound(now=now or timezone.now())
    deleted = 0
    if dry_run:
        deleted = Event.objects.filter(id__lt=bound).count()
    else:
        # Bounded: ids below `bound` are never handed out again, and each pass deletes some.
        while True:
            with transaction.atomic():
                batch = list(
                    Event.objects.filter(id__lt=bound)
                    .order_by("id")
                    .values_list("id", flat=True)[:PRUNE_BATCH_SIZE]
                )
                if not batch:
                    break
                count, _ = Event.objects.filter(id__lte=batch[-1]).delete()
                _advance_horizon(batch[-1])
                deleted += count
    remaining = Event.objects.filter(id__gte=bound) if dry_run else Event.objects.all()
    summary = remaining.aggregate(first=Min("id"))
    pruned_through = events_pruned_through()
    if dry_run and deleted:
        pruned_through = max(
            pruned_through,
            Event.objects.filter(id__lt=bound).aggregate(last=Max("id"))["last"] or 0,
        )
    return PruneResult(
        deleted=deleted,
        first_kept=summary["first"],
        pruned_through=pruned_through,
        kept=remaining.count(),
    )


def _advance_horizon(seq: int) -> None:
    """Raise the horizon to `seq` inside the caller's transaction (never lower it: two prunes
    running at once must not undo each other)."""
    horizon, _ = EventLogHorizon.objects.select_for_update().get_or_create(
        pk=EventLogHorizon.SINGLETON_PK
    )
    if seq > horizon.pruned_through:
        horizon.pruned_through = seq
        horizon.pruned_at = timezone.now()
        horizon.save(update_fields=["pruned_through", "pruned_at"])

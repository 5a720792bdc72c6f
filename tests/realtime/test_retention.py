"""Retention of the event log and `manage.py prune_events`: only events both older than
EVENT_RETENTION_SECONDS and outside the newest EVENT_RETENTION_MIN_EVENTS go, always a prefix
of the log, and the horizon records how far pruning went so resumes can tell what is kept."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from locks.selectors import lock_state
from realtime.delivery.retention import events_pruned_through
from realtime.models import Event, EventLogHorizon, EventType

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


def log_events(count: int, *, age: timedelta) -> list[int]:
    """Append `count` events to the log, recorded `age` ago; their seqs."""
    seqs = []
    for _ in range(count):
        with transaction.atomic():
            event = Event.objects.append(
                graphic_id=1, type=EventType.LOCK_STATUS, data={"graphic_id": 1, **lock_state(None)}
            )
        seqs.append(event.pk)
    Event.objects.filter(pk__in=seqs).update(created_at=timezone.now() - age)
    return seqs


def prune(*args: str) -> str:
    out = io.StringIO()
    call_command("prune_events", *args, stdout=out)
    return out.getvalue()


def kept() -> list[int]:
    return list(Event.objects.order_by("id").values_list("id", flat=True))


@pytest.fixture(autouse=True)
def retention(settings: Any) -> Any:
    settings.EVENT_RETENTION_SECONDS = 24 * 60 * 60
    settings.EVENT_RETENTION_MIN_EVENTS = 3
    return settings


def test_events_older_than_retention_and_outside_the_newest_n_are_deleted() -> None:
    """Six two-day-old events with N=3: the three oldest go, the newest three stay, and the
    horizon is the highest seq deleted."""
    seqs = log_events(6, age=2 * DAY)

    output = prune()

    assert kept() == seqs[3:]
    assert events_pruned_through() == seqs[2]
    assert "Deleted 3 event(s)" in output
    assert f"kept 3 event(s) from seq {seqs[3]} on" in output
    assert f"recover from seq {seqs[2]} on" in output


def test_the_newest_n_stay_however_old() -> None:
    """Fewer old events than EVENT_RETENTION_MIN_EVENTS: nothing goes, the horizon stays 0."""
    seqs = log_events(3, age=30 * DAY)

    output = prune()

    assert kept() == seqs
    assert events_pruned_through() == 0
    assert "Deleted 0 event(s)" in output


def test_events_within_retention_stay_beyond_the_newest_n(retention: Any) -> None:
    """With no minimum count, exactly the events older than the period go."""
    retention.EVENT_RETENTION_MIN_EVENTS = 0
    old = log_events(2, age=2 * DAY)
    recent = log_events(4, age=timedelta(hours=1))

    prune()

    assert kept() == recent
    assert events_pruned_through() == old[-1]


def test_pruning_removes_a_prefix_never_a_hole(retention: Any) -> None:
    """An event older than retention that follows a recent one (another server's clock behind)
    stays with everything after the first recent event: every event above the horizon is kept."""
    retention.EVENT_RETENTION_MIN_EVENTS = 0
    old = log_events(2, age=2 * DAY)
    recent = log_events(1, age=timedelta(hours=1))
    straggler = log_events(1, age=2 * DAY)

    prune()

    assert kept() == recent + straggler
    assert events_pruned_through() == old[-1]


def test_a_dry_run_says_what_it_would_delete_and_deletes_nothing() -> None:
    """--dry-run reports the count and what would stay, and writes nothing, horizon included."""
    seqs = log_events(5, age=2 * DAY)

    output = prune("--dry-run")

    assert kept() == seqs
    assert not EventLogHorizon.objects.exists()
    assert "Would delete 2 event(s)" in output
    assert f"would keep 3 event(s) from seq {seqs[2]} on" in output


def test_the_horizon_only_moves_up_and_a_second_run_changes_nothing() -> None:
    """Running prune_events again at once deletes nothing and leaves the horizon where it was."""
    seqs = log_events(5, age=2 * DAY)
    prune()
    assert events_pruned_through() == seqs[1]

    output = prune()

    assert "Deleted 0 event(s)" in output
    assert kept() == seqs[2:]
    assert events_pruned_through() == seqs[1]


def test_an_empty_log_prunes_nothing() -> None:
    """An empty log is not an error: nothing deleted, nothing recorded."""
    output = prune()

    assert "Deleted 0 event(s)" in output
    assert events_pruned_through() == 0

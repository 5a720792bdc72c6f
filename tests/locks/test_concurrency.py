"""Races decided by the database: several servers (here, threads with their own connections)
acquiring one lock, sweeping expired locks or saving one version at the same moment.

These run on SQLite too, where IMMEDIATE transactions serialise writers, and again on
PostgreSQL in the services pass, where row locks (`select_for_update`) decide.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from gal_dashboard.access import EDITOR
from gal_dashboard.errors import LockConflict, VersionConflict
from graphics.models import Graphic
from graphics.services import graphic_update
from locks.models import CanvasLock, LockEvent
from locks.services import lock_acquire, lock_expire_due

# Real transactions (each thread commits on its own connection); the roles created by the
# data migration are restored after the flush for the tests that follow.
from tests.conftest import expire_lock

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

THREADS = 8
# Generous: on a loaded machine SQLite writers queue for up to its 20 s busy timeout.
JOIN_TIMEOUT_SECONDS = 60


def run_at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run each call in its own thread, all released together by a barrier; return each
    call's result or the exception it raised, in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=JOIN_TIMEOUT_SECONDS)
            results[index] = call()
        except BaseException as exc:  # reported to the test, which asserts on it
            results[index] = exc
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(index, call), daemon=True)
        for index, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT_SECONDS)
    assert not any(thread.is_alive() for thread in threads), "a thread did not finish"
    return results


@pytest.fixture
def editors(make_user: Callable[..., Any]) -> list[Any]:
    return [make_user(f"racer{n}", role=EDITOR) for n in range(THREADS)]


def acquire_as(user: Any, graphic: Graphic) -> Callable[[], Any]:
    return lambda: lock_acquire(user=user, graphic_id=graphic.pk)


def test_simultaneous_acquires_have_exactly_one_winner(
    graphic: Graphic, editors: list[Any]
) -> None:
    """Eight Editors click "edit" at the same moment: one gets the lock, the seven others get
    a lock conflict naming the winner, and the database holds one lock and one `acquired`
    record."""
    results = run_at_once([acquire_as(user, graphic) for user in editors])

    winners = [result for result in results if isinstance(result, CanvasLock)]
    conflicts = [result for result in results if isinstance(result, LockConflict)]
    assert len(winners) == 1, results
    assert len(conflicts) == THREADS - 1, results
    winner = winners[0].holder
    assert {conflict.details["locked_by"] for conflict in conflicts} == {winner.username}

    lock = CanvasLock.objects.get(graphic=graphic)
    assert lock.holder_id == winner.pk
    assert lock.fencing_token == 1
    assert CanvasLock.objects.count() == 1
    assert LockEvent.objects.filter(graphic_ref=graphic.pk, action="acquired").count() == 1


def test_simultaneous_acquires_of_an_expired_lock_record_one_expiry(
    graphic: Graphic, editor: Any, editors: list[Any]
) -> None:
    """When a lock has just expired and eight Editors grab it together, the old lock is
    recorded as expired once, one Editor wins with the next fencing token, and the rest see
    the winner."""
    lock_acquire(user=editor, graphic_id=graphic.pk)
    expire_lock(graphic)

    results = run_at_once([acquire_as(user, graphic) for user in editors])

    winners = [result for result in results if isinstance(result, CanvasLock)]
    assert len(winners) == 1, results
    assert sum(isinstance(result, LockConflict) for result in results) == THREADS - 1, results
    lock = CanvasLock.objects.get(graphic=graphic)
    assert lock.holder_id == winners[0].holder_id
    assert lock.fencing_token == 2
    actions = list(
        LockEvent.objects.filter(graphic_ref=graphic.pk)
        .order_by("created_at", "id")
        .values_list("action", flat=True)
    )
    assert actions == ["acquired", "expired", "acquired"]


def test_concurrent_sweeps_expire_each_lock_exactly_once(
    make_graphic: Callable[..., Graphic], editor: Any
) -> None:
    """Every server sweeps expired locks; four sweeps at once expire each past-due lock once
    between them, leave live locks alone, and record one `expired` event per lock."""
    stale = [make_graphic(title=f"Stale {n}") for n in range(6)]
    live = make_graphic(title="Live")
    for graphic in [*stale, live]:
        lock_acquire(user=editor, graphic_id=graphic.pk)
    for graphic in stale:
        expire_lock(graphic)

    results = run_at_once([lock_expire_due for _ in range(4)])

    assert all(isinstance(result, int) for result in results), results
    assert sum(results) == len(stale)
    assert list(CanvasLock.objects.values_list("graphic_id", flat=True)) == [live.pk]
    for graphic in stale:
        assert LockEvent.objects.filter(graphic_ref=graphic.pk, action="expired").count() == 1
    assert not LockEvent.objects.filter(graphic_ref=live.pk, action="expired").exists()


def test_two_saves_of_the_same_version_make_one_new_version(graphic: Graphic, editor: Any) -> None:
    """The lock holder saving from two tabs at once, both from version 1: one save makes
    version 2, the other is a version conflict naming version 2; nothing is lost silently."""
    lock_acquire(user=editor, graphic_id=graphic.pk)

    def save(title: str) -> Callable[[], Any]:
        return lambda: graphic_update(user=editor, graphic_id=graphic.pk, version=1, title=title)

    results = run_at_once([save("From tab A"), save("From tab B")])

    saved = [result for result in results if isinstance(result, Graphic)]
    conflicts = [result for result in results if isinstance(result, VersionConflict)]
    assert len(saved) == 1, results
    assert len(conflicts) == 1, results
    assert conflicts[0].details["current_version"] == 2
    fresh = Graphic.objects.get(pk=graphic.pk)
    assert fresh.version == 2
    assert fresh.title == saved[0].title

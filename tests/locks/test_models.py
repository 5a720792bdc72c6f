"""Canvas locks and their audit: the database allows one lock per graphic, every lock change
leaves a LockEvent, and the audit outlives the graphic it is about."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from graphics.models import Graphic
from graphics.services import graphic_delete
from locks.models import CanvasLock, LockAction, LockEvent
from locks.services import lock_acquire, lock_override, lock_release

pytestmark = pytest.mark.django_db


def new_lock(graphic: Graphic, holder: Any, *, token: int = 1) -> CanvasLock:
    now = timezone.now()
    return CanvasLock.objects.create(
        graphic=graphic,
        holder=holder,
        acquired_at=now,
        expires_at=now + timedelta(minutes=5),
        fencing_token=token,
    )


def actions(graphic_ref: int) -> list[str]:
    """The graphic's lock audit, oldest first."""
    return list(
        LockEvent.objects.filter(graphic_ref=graphic_ref)
        .order_by("created_at", "id")
        .values_list("action", flat=True)
    )


def test_a_second_lock_row_for_the_same_graphic_is_refused(
    graphic: Graphic, editor: Any, editor2: Any
) -> None:
    """The database keeps one lock per graphic, whoever tries to write a second."""
    new_lock(graphic, editor)
    with pytest.raises(IntegrityError), transaction.atomic():
        new_lock(graphic, editor2, token=2)
    assert CanvasLock.objects.filter(graphic=graphic).count() == 1


def test_a_lock_that_expires_before_it_was_acquired_is_refused(
    graphic: Graphic, editor: Any
) -> None:
    """`expires_at` must be after `acquired_at`."""
    now = timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        CanvasLock.objects.create(
            graphic=graphic, holder=editor, acquired_at=now, expires_at=now, fencing_token=1
        )


def test_an_override_event_without_a_reason_is_refused(graphic: Graphic, lock_admin: Any) -> None:
    """An override is never silent: the database refuses an `overridden` record with no
    reason."""
    with pytest.raises(IntegrityError), transaction.atomic():
        LockEvent.objects.create(
            graphic=graphic,
            graphic_ref=graphic.pk,
            graphic_title=graphic.title,
            action=LockAction.OVERRIDDEN,
            actor=lock_admin,
            reason="",
        )
    LockEvent.objects.create(
        graphic=graphic,
        graphic_ref=graphic.pk,
        action=LockAction.OVERRIDDEN,
        actor=lock_admin,
        reason="Operator left the desk",
    )


def test_a_lock_saved_directly_is_audited_as_acquired_refreshed_and_released(
    graphic: Graphic, editor: Any
) -> None:
    """A lock written from a shell, without the services, still leaves its audit trail."""
    lock = new_lock(graphic, editor)
    fetched = CanvasLock.objects.get(pk=lock.pk)
    fetched.expires_at += timedelta(minutes=1)
    fetched.save()
    CanvasLock.objects.get(pk=lock.pk).delete()
    assert actions(graphic.pk) == ["acquired", "refreshed", "released"]
    released = LockEvent.objects.get(action="released")
    assert released.actor == editor
    assert released.previous_holder == editor


def test_a_lock_knows_whether_it_is_live(graphic: Graphic, editor: Any) -> None:
    """A lock past `expires_at` is not live and has no seconds left; the `live()` query
    agrees."""
    lock = new_lock(graphic, editor)
    assert lock.is_live
    assert 290 <= lock.seconds_left <= 300
    assert CanvasLock.objects.live().filter(pk=lock.pk).exists()
    past = timezone.now() - timedelta(seconds=1)
    CanvasLock.objects.filter(pk=lock.pk).update(acquired_at=past - timedelta(minutes=5))
    CanvasLock.objects.filter(pk=lock.pk).update(expires_at=past)
    lock.refresh_from_db()
    assert not lock.is_live
    assert lock.seconds_left == 0
    assert not CanvasLock.objects.live().filter(pk=lock.pk).exists()
    assert CanvasLock.objects.expired().filter(pk=lock.pk).exists()


def test_deleting_a_graphic_keeps_its_lock_audit(
    graphic: Graphic, editor: Any, lock_admin: Any
) -> None:
    """When a graphic is deleted its LockEvents stay, unlinked from it but still naming it by
    id and title."""
    graphic_id, title = graphic.pk, graphic.title
    lock_acquire(user=editor, graphic_id=graphic_id)
    lock_override(user=lock_admin, graphic_id=graphic_id, reason="Cleaning up", take_over=True)
    graphic_delete(user=lock_admin, graphic_id=graphic_id)
    events = LockEvent.objects.filter(graphic_ref=graphic_id)
    assert [e.action for e in events.order_by("id")] == ["acquired", "overridden", "released"]
    assert all(e.graphic_id is None for e in events)
    assert all(e.graphic_title == title for e in events)
    assert not Graphic.objects.filter(pk=graphic_id).exists()


def test_deleting_a_locked_graphic_directly_audits_the_lock(graphic: Graphic, editor: Any) -> None:
    """A graphic deleted from a shell or the admin takes its lock with it; the release is
    recorded against the graphic's id, not a link to a row that no longer exists."""
    graphic_id = graphic.pk
    lock_acquire(user=editor, graphic_id=graphic_id)
    Graphic.objects.get(pk=graphic_id).delete()
    assert not CanvasLock.objects.exists()
    assert actions(graphic_id) == ["acquired", "released"]
    assert not LockEvent.objects.filter(graphic__isnull=False).exists()


def test_bulk_deleting_locked_graphics_audits_their_locks(make_graphic: Any, editor: Any) -> None:
    """The admin's "delete selected" deletes through a queryset; locked graphics go and
    their locks' release is recorded, as for a single delete."""
    first, second = make_graphic(title="One"), make_graphic(title="Two")
    lock_acquire(user=editor, graphic_id=first.pk)
    lock_acquire(user=editor, graphic_id=second.pk)
    Graphic.objects.filter(pk__in=[first.pk, second.pk]).delete()
    assert not Graphic.objects.exists()
    assert actions(first.pk) == ["acquired", "released"]
    assert actions(second.pk) == ["acquired", "released"]
    assert not LockEvent.objects.filter(graphic__isnull=False).exists()


def test_deleting_a_user_who_holds_a_lock_frees_the_graphic(
    graphic: Graphic, make_user: Any
) -> None:
    """Removing an operator's account releases their locks; the audit keeps the event
    without a link to the deleted account."""
    leaver = make_user("leaver", role="Editor")
    lock_acquire(user=leaver, graphic_id=graphic.pk)
    get_user_model().objects.get(pk=leaver.pk).delete()
    assert not CanvasLock.objects.exists()
    assert actions(graphic.pk) == ["acquired", "released"]
    assert not LockEvent.objects.filter(actor__isnull=False).exists()
    assert not LockEvent.objects.filter(previous_holder__isnull=False).exists()


def test_bulk_deleting_users_who_hold_locks_frees_their_graphics(
    make_graphic: Any, make_user: Any
) -> None:
    """Deleting accounts through a queryset (the admin's "delete selected") works the same."""
    first, second = make_graphic(title="One"), make_graphic(title="Two")
    leavers = [make_user(f"leaver{n}", role="Editor") for n in (1, 2)]
    lock_acquire(user=leavers[0], graphic_id=first.pk)
    lock_acquire(user=leavers[1], graphic_id=second.pk)
    get_user_model().objects.filter(pk__in=[u.pk for u in leavers]).delete()
    assert not CanvasLock.objects.exists()
    assert actions(first.pk) == ["acquired", "released"]
    assert actions(second.pk) == ["acquired", "released"]


def test_release_through_the_service_is_audited_once(graphic: Graphic, editor: Any) -> None:
    """A service release leaves exactly one `released` record naming the holder."""
    lock_acquire(user=editor, graphic_id=graphic.pk)
    assert lock_release(user=editor, graphic_id=graphic.pk) is True
    assert actions(graphic.pk) == ["acquired", "released"]

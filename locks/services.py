"""
Every write to a canvas lock: acquire, refresh, release, override and expiry.

The database decides races: each function locks the graphic's row (`select_for_update`) before
looking at its lock, so two users acquiring at once are served one after the other and exactly
one wins; the one-to-one column makes a second lock row impossible even without that. Every
change leaves a `LockEvent` (written by the model's receiver from `pending_change`) and an event
in the log, in the same transaction.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from gal_dashboard.access import ACQUIRE_LOCK, OVERRIDE_LOCK, require_permission
from gal_dashboard.errors import LockConflict, StateConflict, ValidationFailed
from gal_dashboard.storable import text_problem
from graphics.models import Graphic
from graphics.selectors import graphic_get_for_update
from locks.models import CanvasLock, LockAction, LockChange
from locks.selectors import lock_conflict_for, lock_current

REASON_MAX_LENGTH = 500


def check_reason(value: Any, *, required: bool = False) -> str:
    """An optional (or required) free-text reason of at most 500 characters."""
    if value is None or value == "":
        if required:
            raise ValidationFailed(details={"reason": ["A reason is required."]})
        return ""
    if not isinstance(value, str):
        raise ValidationFailed(details={"reason": ["Must be a string."]})
    problem = text_problem(value)
    if problem:
        raise ValidationFailed(details={"reason": [problem]})
    cleaned = value.strip()
    if required and not cleaned:
        raise ValidationFailed(details={"reason": ["A reason is required."]})
    if len(cleaned) > REASON_MAX_LENGTH:
        raise ValidationFailed(
            details={
                "reason": [f"Ensure this field has no more than {REASON_MAX_LENGTH} characters."]
            }
        )
    return cleaned


def _lock_ttl() -> timedelta:
    return timedelta(seconds=settings.LOCK_TTL_SECONDS)


def _next_fencing_token(graphic: Graphic) -> int:
    # The graphic's row is locked by the caller, so this increment cannot interleave.
    Graphic.objects.filter(pk=graphic.pk).update(lock_generation=F("lock_generation") + 1)
    graphic.lock_generation += 1
    return graphic.lock_generation


def lock_expire(lock: CanvasLock, *, graphic: Graphic) -> None:
    """Delete a lock that is past `expires_at`, recording the expiry (it has no actor)."""
    lock.graphic = graphic
    lock.pending_change = LockChange(
        action=LockAction.EXPIRED, actor_id=None, previous_holder_id=lock.holder_id
    )
    lock.delete()


def lock_live_or_clear_expired(graphic: Graphic) -> CanvasLock | None:
    """The graphic's live lock, or None after recording the expiry of a stale one.
    The caller holds the graphic's row lock."""
    lock = lock_current(graphic_id=graphic.pk)
    if lock is not None and not lock.is_live:
        lock_expire(lock, graphic=graphic)
        return None
    return lock


def lock_check_not_held_by_other(*, graphic: Graphic, user: Any) -> CanvasLock | None:
    """Raise LockConflict if another user holds the graphic's live lock; return `user`'s own
    live lock or None. The caller holds the graphic's row lock."""
    lock = lock_live_or_clear_expired(graphic)
    if lock is not None and lock.holder_id != user.pk:
        raise lock_conflict_for(lock)
    return lock


def lock_release_held(lock: CanvasLock, *, graphic: Graphic, user: Any, note: str = "") -> None:
    """Release a lock `user` holds, inside the caller's transaction (archive and delete)."""
    lock.graphic = graphic
    lock.pending_change = LockChange(
        action=LockAction.RELEASED, actor_id=user.pk, previous_holder_id=user.pk, note=note
    )
    lock.delete()


def lock_acquire(*, user: Any, graphic_id: Any) -> CanvasLock:
    """Acquire the graphic's lock, or refresh it if `user` already holds it.
    Raises LockConflict naming the holder and expiry if someone else holds it."""
    require_permission(user, ACQUIRE_LOCK)
    with transaction.atomic():
        graphic = graphic_get_for_update(graphic_id=graphic_id, without_canvas=True)
        if graphic.archived:
            raise StateConflict("Archived graphics cannot be locked; restore it first.")
        lock = lock_live_or_clear_expired(graphic)
        now = timezone.now()
        if lock is not None:
            if lock.holder_id != user.pk:
                raise lock_conflict_for(lock)
            lock.graphic = graphic
            lock.expires_at = now + _lock_ttl()
            lock.pending_change = LockChange(action=LockAction.REFRESHED, actor_id=user.pk)
            lock.save(update_fields=["expires_at"])
            return lock
        lock = CanvasLock(
            graphic=graphic,
            holder=user,
            acquired_at=now,
            expires_at=now + _lock_ttl(),
            fencing_token=_next_fencing_token(graphic),
        )
        lock.pending_change = LockChange(action=LockAction.ACQUIRED, actor_id=user.pk)
        lock.save()
        return lock


def lock_refresh(*, user: Any, graphic_id: Any) -> CanvasLock:
    """Extend `user`'s live lock by LOCK_TTL_SECONDS. Raises LockConflict if they do not hold
    it (it expired, was released, or is someone else's)."""
    require_permission(user, ACQUIRE_LOCK)
    with transaction.atomic():
        graphic = graphic_get_for_update(graphic_id=graphic_id, without_canvas=True)
        lock = lock_live_or_clear_expired(graphic)
        if lock is None:
            raise LockConflict(
                "You do not hold this graphic's lock; acquire it again.",
                details={"graphic_id": graphic.pk, "locked_by": None, "expires_at": None},
            )
        if lock.holder_id != user.pk:
            raise lock_conflict_for(lock)
        lock.graphic = graphic
        lock.expires_at = timezone.now() + _lock_ttl()
        lock.pending_change = LockChange(action=LockAction.REFRESHED, actor_id=user.pk)
        lock.save(update_fields=["expires_at"])
        return lock


def lock_release(*, user: Any, graphic_id: Any) -> bool:
    """Release `user`'s lock. Returns False (and changes nothing) if the graphic was not locked,
    so a page that releases on close never errors; raises LockConflict if someone else holds it."""
    require_permission(user, ACQUIRE_LOCK)
    with transaction.atomic():
        graphic = graphic_get_for_update(graphic_id=graphic_id, without_canvas=True)
        lock = lock_live_or_clear_expired(graphic)
        if lock is None:
            return False
        if lock.holder_id != user.pk:
            raise lock_conflict_for(lock)
        lock_release_held(lock, graphic=graphic, user=user)
        return True


def lock_override(
    *, user: Any, graphic_id: Any, reason: Any, take_over: bool = False
) -> CanvasLock | None:
    """Break another user's live lock (needs `locks.override_lock` and a reason). With
    `take_over`, `user` becomes the holder with a new fencing token and returns the lock;
    otherwise the lock is released and None is returned. Never silent: the audit names the
    previous holder and the reason."""
    require_permission(user, OVERRIDE_LOCK)
    reason = check_reason(reason, required=True)
    if not isinstance(take_over, bool):
        # A string "false" is truthy: only a real boolean may decide to take the lock.
        raise ValidationFailed(details={"take_over": ["Must be true or false."]})
    with transaction.atomic():
        graphic = graphic_get_for_update(graphic_id=graphic_id, without_canvas=True)
        lock = lock_live_or_clear_expired(graphic)
        if lock is None:
            raise StateConflict("The graphic is not locked; there is nothing to override.")
        previous_holder_id = lock.holder_id
        lock.graphic = graphic
        change = LockChange(
            action=LockAction.OVERRIDDEN,
            actor_id=user.pk,
            previous_holder_id=previous_holder_id,
            note=reason,
            previous_fencing_token=lock.fencing_token,
        )
        lock.pending_change = change
        if not take_over:
            lock.delete()
            return None
        now = timezone.now()
        lock.holder = user
        lock.acquired_at = now
        lock.expires_at = now + _lock_ttl()
        lock.fencing_token = _next_fencing_token(graphic)
        lock.save()
        return lock


def lock_expire_due(*, limit: int = 100) -> int:
    """Delete locks past `expires_at`, each recorded once as `expired`, and return how many.

    Every server runs this periodically; `skip_locked` (PostgreSQL) and the conditional filter
    inside the row lock mean each expiry is recorded by exactly one of them."""
    expired = 0
    for _ in range(limit):
        with transaction.atomic():
            lock = (
                CanvasLock.objects.select_for_update(skip_locked=True)
                .expired()
                .select_related("graphic")
                .order_by("expires_at")
                .first()
            )
            if lock is None:
                break
            lock_expire(lock, graphic=lock.graphic)
            expired += 1
    return expired

"""Reads of canvas locks, and the conflict error that names a lock's holder."""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from gal_dashboard.errors import LockConflict
from gal_dashboard.timestamps import iso_timestamp
from locks.models import CanvasLock


def lock_current(*, graphic_id: int) -> CanvasLock | None:
    """The graphic's lock row, live or expired, or None."""
    return CanvasLock.objects.select_related("holder").filter(graphic_id=graphic_id).first()


def lock_live(*, graphic_id: int) -> CanvasLock | None:
    """The graphic's lock if it has not expired, else None."""
    return CanvasLock.objects.live().select_related("holder").filter(graphic_id=graphic_id).first()


def locks_live() -> QuerySet[CanvasLock]:
    return CanvasLock.objects.live().select_related("holder", "graphic").order_by("expires_at")


def locks_expiring_within(*, seconds: float, holder_ids: Collection[int]) -> list[CanvasLock]:
    """The live locks of these holders that run out within `seconds` from now."""
    now = timezone.now()
    return list(
        CanvasLock.objects.live()
        .filter(holder_id__in=holder_ids, expires_at__lte=now + timedelta(seconds=seconds))
        .only("graphic_id", "holder_id", "fencing_token", "expires_at")
    )


def lock_state(lock: CanvasLock | None) -> dict[str, Any]:
    """A graphic's lock as clients see it; an expired lock shows as free."""
    if lock is None or not lock.is_live:
        return {
            "locked": False,
            "locked_by": None,
            "locked_by_id": None,
            "lock_time": None,
            "expires_at": None,
            "fencing_token": None,
        }
    return {
        "locked": True,
        "locked_by": lock.holder.get_username(),
        "locked_by_id": lock.holder_id,
        "lock_time": iso_timestamp(lock.acquired_at),
        "expires_at": iso_timestamp(lock.expires_at),
        "fencing_token": lock.fencing_token,
    }


def lock_conflict_for(lock: CanvasLock) -> LockConflict:
    """The error for a live lock held by someone else: it names the holder and the expiry."""
    return LockConflict(
        f"The graphic is being edited by {lock.holder.get_username()} "
        f"until {iso_timestamp(lock.expires_at)}.",
        details={
            "graphic_id": lock.graphic_id,
            "locked_by": lock.holder.get_username(),
            "locked_by_id": lock.holder_id,
            "expires_at": iso_timestamp(lock.expires_at),
        },
    )

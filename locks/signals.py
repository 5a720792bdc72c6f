"""
The lock audit: every save or delete of a CanvasLock leaves a LockEvent, in the same
transaction, whether it came from a service (which says why in `pending_change`) or from a plain
`.save()` in a shell (recorded as acquired/refreshed/released by the holder).
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from locks.models import CanvasLock, LockEvent


def record_lock_event(
    lock: CanvasLock, *, deleted: bool, created: bool = False, graphic_deleted: bool = False
) -> LockEvent:
    change = lock.change_for(created=created, deleted=deleted)
    graphic = lock.graphic
    return LockEvent.objects.create(
        # A lock removed because its graphic is being deleted must not point at that graphic.
        graphic_id=None if graphic_deleted else graphic.pk,
        graphic_ref=graphic.pk,
        graphic_title=graphic.title,
        action=change.action,
        actor_id=change.actor_id,
        previous_holder_id=change.previous_holder_id,
        holder_id=None if deleted else lock.holder_id,
        reason=change.note,
        fencing_token=lock.fencing_token,
        expires_at=None if deleted else lock.expires_at,
    )


@receiver(post_save, sender=CanvasLock, dispatch_uid="locks.audit_save")
def audit_lock_saved(sender: Any, instance: CanvasLock, created: bool, **kwargs: Any) -> None:
    record_lock_event(instance, deleted=False, created=created)


@receiver(post_delete, sender=CanvasLock, dispatch_uid="locks.audit_delete")
def audit_lock_deleted(sender: Any, instance: CanvasLock, **kwargs: Any) -> None:
    origin = kwargs.get("origin")
    graphic_deleted = origin is not None and not isinstance(origin, CanvasLock) and (
        getattr(origin, "_meta", None) is not None and origin._meta.label == "graphics.Graphic"
    )
    record_lock_event(instance, deleted=True, graphic_deleted=graphic_deleted)

"""
The lock audit: every save or delete of a CanvasLock leaves a LockEvent, in the same
transaction, whether it came from a service (which says why in `pending_change`) or from a plain
`.save()` in a shell (recorded as acquired/refreshed/released by the holder).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from locks.models import CanvasLock, LockEvent


def record_lock_event(
    lock: CanvasLock,
    *,
    deleted: bool,
    created: bool = False,
    graphic_deleted: bool = False,
    holder_deleted: bool = False,
) -> LockEvent:
    change = lock.change_for(created=created, deleted=deleted)
    graphic = lock.graphic

    def existing_user(user_id: int | None) -> int | None:
        # A lock removed because its holder's account is being deleted must not point at that
        # account: the new record would fail the foreign key when the deletion commits.
        return None if holder_deleted and user_id == lock.holder_id else user_id

    return LockEvent.objects.create(
        # Likewise for a lock removed because its graphic is being deleted.
        graphic_id=None if graphic_deleted else graphic.pk,
        graphic_ref=graphic.pk,
        graphic_title=graphic.title,
        action=change.action,
        actor_id=existing_user(change.actor_id),
        previous_holder_id=existing_user(change.previous_holder_id),
        holder_id=None if deleted else lock.holder_id,
        reason=change.note or ("holder's account deleted" if holder_deleted else ""),
        fencing_token=lock.fencing_token,
        expires_at=None if deleted else lock.expires_at,
    )


def _deleted_model_label(origin: Any) -> str | None:
    """The model whose deletion cascaded to a lock: `origin` is the instance, or the queryset
    (the admin's "delete selected"), that `delete()` was called on."""
    if isinstance(origin, QuerySet):
        return origin.model._meta.label
    meta = getattr(origin, "_meta", None)
    return meta.label if meta is not None else None


@receiver(post_save, sender=CanvasLock, dispatch_uid="locks.audit_save")
def audit_lock_saved(sender: Any, instance: CanvasLock, created: bool, **kwargs: Any) -> None:
    record_lock_event(instance, deleted=False, created=created)


@receiver(post_delete, sender=CanvasLock, dispatch_uid="locks.audit_delete")
def audit_lock_deleted(sender: Any, instance: CanvasLock, **kwargs: Any) -> None:
    deleted_model = _deleted_model_label(kwargs.get("origin"))
    record_lock_event(
        instance,
        deleted=True,
        graphic_deleted=deleted_model == "graphics.Graphic",
        # A lock's only link to a user is its holder, so a user deletion reaching a lock is
        # the deletion of its holder.
        holder_deleted=deleted_model == settings.AUTH_USER_MODEL,
    )

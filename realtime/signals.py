"""
Post-save and post-delete receivers: the hook that records every change to a graphic or a lock
in the event log, however it was made (a service, the admin, a management command, a plain
`.save()` in a shell). They run inside the change's transaction and only call `realtime.events`.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from graphics.models import Graphic, GraphicChange
from locks.models import CanvasLock
from realtime.events import deleted_graphic_payload, record_graphic_change, record_lock_change


@receiver(post_save, sender=Graphic, dispatch_uid="realtime.graphic_saved")
def graphic_saved(sender: Any, instance: Graphic, created: bool, **kwargs: Any) -> None:
    change = instance.pending_change
    if change is None and created:
        change = GraphicChange(action="created", actor_id=instance.created_by_id)
    if change is not None:
        record_graphic_change(instance, change)


@receiver(post_delete, sender=Graphic, dispatch_uid="realtime.graphic_deleted")
def graphic_deleted(sender: Any, instance: Graphic, **kwargs: Any) -> None:
    change = instance.pending_change
    if change is None or change.action != "deleted":
        # A queryset delete (the admin's bulk action) does not pass through Graphic.delete().
        change = GraphicChange(action="deleted", actor_id=None)
    record_graphic_change(instance, change, payload=deleted_graphic_payload(instance))


@receiver(post_save, sender=CanvasLock, dispatch_uid="realtime.lock_saved")
def lock_saved(sender: Any, instance: CanvasLock, created: bool, **kwargs: Any) -> None:
    record_lock_change(instance, instance.change_for(created=created), deleted=False)


@receiver(post_delete, sender=CanvasLock, dispatch_uid="realtime.lock_deleted")
def lock_deleted(sender: Any, instance: CanvasLock, **kwargs: Any) -> None:
    record_lock_change(instance, instance.change_for(deleted=True), deleted=True)

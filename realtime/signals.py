"""
Post-save and post-delete receivers: the hook that records every change to a graphic or a lock
(and to the standings a graphic draws, standings.signals) in the event log, however it was made
(a service, the admin, a management command, a plain `.save()` in a shell). They run inside the
change's transaction and only call `realtime.events`. The same hooks close the WebSockets of a
deactivated account or a revoked overlay view key.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from graphics.models import Graphic, GraphicChange, GraphicViewKey
from locks.models import CanvasLock
from realtime.auth import VIEW_KEY_REVOKED_MESSAGE
from realtime.events import (
    deleted_graphic_payload,
    publish_hub_command,
    record_graphic_change,
    record_graphic_standings,
    record_lock_change,
    record_standings_change,
)
from realtime.protocol import CLOSE_UNAUTHENTICATED
from standings.selectors import standings_binding
from standings.signals import standings_changed


@receiver(post_save, sender=Graphic, dispatch_uid="realtime.graphic_saved")
def graphic_saved(sender: Any, instance: Graphic, created: bool, **kwargs: Any) -> None:
    change = instance.pending_change
    if change is None and created:
        change = GraphicChange(action="created", actor_id=instance.created_by_id)
    if change is not None:
        record_graphic_change(instance, change)
        if _standings_binding_changed(instance, change):
            record_graphic_standings(instance, actor_id=change.actor_id)


def _standings_binding_changed(graphic: Graphic, change: GraphicChange) -> bool:
    """Whether a change makes the graphic draw other standings: a new graphic with lists, a
    new event name, or lists that draw other tables (round_id). Its subscribers then get
    those standings as a `standings_update` right after the `graphic_update`."""
    after = standings_binding(event_name=graphic.event_name, data=graphic.data)
    if after is None:
        return False
    if change.action == "created":
        return True
    previous = change.previous or {}
    before = standings_binding(
        event_name=previous.get("event_name", graphic.event_name),
        data=previous.get("data", graphic.data),
    )
    return before != after


@receiver(standings_changed, dispatch_uid="realtime.standings_changed")
def standings_changed_recorded(
    sender: Any, event_names: list[str], action: str, actor_id: int | None, **kwargs: Any
) -> None:
    record_standings_change(event_names=event_names, action=action, actor_id=actor_id)


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


# -- accounts -----------------------------------------------------------------------------------
# Deactivating or deleting an account closes its open WebSockets on every server at once, rather
# than at their next request (a viewer only listening would otherwise stay connected for good).
# A queryset .update(is_active=False) sends no signal; those connections still close at their
# next request, when the consumer loads the account afresh.


def _close_connections_of(user_id: int, message: str) -> None:
    transaction.on_commit(
        partial(
            publish_hub_command,
            {
                "command": "close",
                "user_id": user_id,
                "code": CLOSE_UNAUTHENTICATED,
                "error": "account_disabled",
                "message": message,
            },
        ),
        robust=True,
    )


@receiver(pre_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="realtime.user_saving")
def user_saving(sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any) -> None:
    if update_fields is not None and "is_active" not in update_fields:
        instance._was_active = False  # a login's last_login, say: costs no query
        return
    instance._was_active = (
        instance.pk is not None
        and sender._base_manager.filter(pk=instance.pk, is_active=True).exists()
    )


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="realtime.user_saved")
def user_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    if getattr(instance, "_was_active", False) and not instance.is_active:
        _close_connections_of(instance.pk, "Your account was deactivated.")


@receiver(post_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="realtime.user_deleted")
def user_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    _close_connections_of(instance.pk, "Your account was deleted.")


# -- overlay view keys --------------------------------------------------------------------------
# Revoking a view key (view_key_revoke, or view_key_rotate replacing it) closes every connection
# opened with it, on every server, once the change commits: a leaked overlay URL stops working at
# once, not at its next request (an overlay sends none). Should the command be lost (the channel
# layer away), each server's supervisor finds the revoked key at its next tick
# (realtime.supervisor). Deleting the graphic deletes its keys; each hub closes their
# connections after delivering the `deleted` event (realtime.hub), so overlays see it first.


def _close_view_key_connections(view_key_id: int) -> None:
    transaction.on_commit(
        partial(
            publish_hub_command,
            {
                "command": "close",
                "view_key_id": view_key_id,
                "code": CLOSE_UNAUTHENTICATED,
                "error": "view_key_revoked",
                "message": VIEW_KEY_REVOKED_MESSAGE,
            },
        ),
        robust=True,
    )


@receiver(post_save, sender=GraphicViewKey, dispatch_uid="realtime.view_key_saved")
def view_key_saved(sender: Any, instance: GraphicViewKey, created: bool, **kwargs: Any) -> None:
    if instance.revoked_at is not None:
        _close_view_key_connections(instance.pk)

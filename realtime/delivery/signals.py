"""
Post-save and post-delete receivers: the hook that records every change to a graphic or a lock
(and to the standings a graphic draws, standings.signals) in the event log, however it was made
(a service, the admin, a management command, a plain `.save()` in a shell). They run inside the
change's transaction and only call `realtime.delivery.events`. The same hooks close the WebSockets
of a deactivated account, of an account whose password changed, of a session that logged out, and of
a revoked overlay view key.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from graphics.models import Graphic, GraphicChange, GraphicViewKey
from graphics.on_air import AirChange, air_changed
from locks.models import CanvasLock
from realtime.connection.auth import VIEW_KEY_REVOKED_MESSAGE, session_digest
from realtime.delivery.events import (
    deleted_graphic_payload,
    publish_hub_command,
    record_air_change,
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
    """Whether a change makes the graphic draw other standings: a new event name, or lists
    that draw other tables (round_id). Its subscribers then get those standings as a
    `standings_update` right after the `graphic_update`. A new graphic has no subscribers yet:
    they start from its snapshot, which carries its standings."""
    after = standings_binding(event_name=graphic.event_name, data=graphic.data)
    if after is None or change.action == "created":
        return False
    previous = change.previous or {}
    before = standings_binding(
        event_name=previous.get("event_name", graphic.event_name),
        data=previous.get("data", graphic.data),
    )
    return before != after


@receiver(air_changed, dispatch_uid="realtime.air_changed")
def air_change_recorded(sender: Any, graphic: Graphic, change: AirChange, **kwargs: Any) -> None:
    record_air_change(graphic, change)


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
# Deactivating or deleting an account, or changing its password, closes its open WebSockets on
# every server at once, rather than at their next request (a viewer only listening would
# otherwise stay connected for good). A queryset .update() sends no signal; those connections
# still close at their next request, when the consumer loads the account afresh. Logging out of
# a page closes the WebSockets of that session.


def _close_connections(target: dict[str, Any], *, error: str, message: str) -> None:
    transaction.on_commit(
        partial(
            publish_hub_command,
            {
                "command": "close",
                **target,
                "code": CLOSE_UNAUTHENTICATED,
                "error": error,
                "message": message,
            },
        ),
        robust=True,
    )


def _close_connections_of(user_id: int, message: str) -> None:
    _close_connections({"user_id": user_id}, error="account_disabled", message=message)


@receiver(pre_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="realtime.user_saving")
def user_saving(sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any) -> None:
    saves = {"is_active", "password"} if update_fields is None else set(update_fields)
    instance._was_active = False
    instance._password_changed = False
    if instance.pk is None or not saves & {"is_active", "password"}:
        return  # a new account, or a login's last_login, say: costs no query
    before = (
        sender._base_manager.filter(pk=instance.pk).values_list("is_active", "password").first()
    )
    if before is not None:
        was_active, previous_password = before
        instance._was_active = "is_active" in saves and was_active
        # Any new hash counts, a login's rehash under a stronger hasher too: the tokens issued
        # under the old hash stop working then as well (gal_dashboard.tokens).
        instance._password_changed = "password" in saves and previous_password != instance.password


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="realtime.user_saved")
def user_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    if getattr(instance, "_was_active", False) and not instance.is_active:
        _close_connections_of(instance.pk, "Your account was deactivated.")
    elif getattr(instance, "_password_changed", False):
        _close_connections(
            {"user_id": instance.pk},
            error="token_revoked",
            message="Your password was changed; log in again.",
        )


@receiver(user_logged_out, dispatch_uid="realtime.user_logged_out")
def session_logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if session_key:
        _close_connections(
            {"session": session_digest(session_key)},
            error="token_revoked",
            message="You logged out.",
        )


@receiver(post_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="realtime.user_deleted")
def user_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    _close_connections_of(instance.pk, "Your account was deleted.")


# -- overlay view keys --------------------------------------------------------------------------
# Revoking a view key (view_key_revoke, or view_key_rotate replacing it) closes every connection
# opened with it, on every server, once the change commits: a leaked overlay URL stops working at
# once, not at its next request (an overlay sends none). Should the command be lost (the channel
# layer away), each server's supervisor finds the revoked key at its next tick
# (realtime.connection.supervisor). Deleting the graphic deletes its keys; each hub closes their
# connections after delivering the `deleted` event (realtime.delivery.hub), so overlays see it
# first.


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

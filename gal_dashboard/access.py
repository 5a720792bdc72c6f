"""
Roles and the permission check every service starts with.

Roles are Django groups created by a data migration (graphics/migrations/0002_roles.py):
Viewer reads; Editor creates, edits, archives, restores, duplicates and locks; Lock admin is an
Editor who may also delete permanently and override other people's locks. Superusers can do all.
Scorekeeper (standings/migrations/0002_scorekeeper_role.py) enters and corrects the league's
results and reads graphics, but cannot edit them; Lock admins may enter results too.
"""

from __future__ import annotations

from typing import Any

from gal_dashboard.errors import NotAuthenticated, PermissionDenied

VIEWER = "Viewer"
EDITOR = "Editor"
LOCK_ADMIN = "Lock admin"
SCOREKEEPER = "Scorekeeper"

VIEW_GRAPHIC = "graphics.view_graphic"
ADD_GRAPHIC = "graphics.add_graphic"
CHANGE_GRAPHIC = "graphics.change_graphic"
DELETE_GRAPHIC = "graphics.delete_graphic"
ACQUIRE_LOCK = "locks.acquire_lock"
OVERRIDE_LOCK = "locks.override_lock"
VIEW_STANDINGS = "standings.view_tournament"
MANAGE_RESULTS = "standings.manage_results"

ROLE_PERMISSIONS: dict[str, list[str]] = {
    VIEWER: [VIEW_GRAPHIC, VIEW_STANDINGS],
    EDITOR: [VIEW_GRAPHIC, ADD_GRAPHIC, CHANGE_GRAPHIC, ACQUIRE_LOCK, VIEW_STANDINGS],
    LOCK_ADMIN: [
        VIEW_GRAPHIC,
        ADD_GRAPHIC,
        CHANGE_GRAPHIC,
        ACQUIRE_LOCK,
        DELETE_GRAPHIC,
        OVERRIDE_LOCK,
        VIEW_STANDINGS,
        MANAGE_RESULTS,
    ],
    SCOREKEEPER: [VIEW_GRAPHIC, VIEW_STANDINGS, MANAGE_RESULTS],
}


def require_permission(user: Any, *permissions: str) -> None:
    """Raise NotAuthenticated for an anonymous or inactive user, PermissionDenied if `user`
    lacks any of `permissions`; return None otherwise."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        raise NotAuthenticated()
    missing = [perm for perm in permissions if not user.has_perm(perm)]
    if missing:
        raise PermissionDenied(
            "You do not have permission to do this.", details={"required": missing}
        )


def user_ref(user: Any) -> dict[str, Any] | None:
    """The public face of a user in payloads: id and username, nothing else."""
    if user is None:
        return None
    return {"id": user.pk, "username": user.get_username()}

"""
The authentication backend: Django's ModelBackend, reading a user's permissions in one query.

Every REST request and every WebSocket request loads its user afresh (so that a role change or
a deactivation applies at once), and Django's ModelBackend then spends two queries on the first
permission check: one for the user's own permissions, one for their groups'. Roles are groups
here, so every request paid both; one query with an OR over the two joins returns the same set.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.db.models import Q


class RoleModelBackend(ModelBackend):
    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            permissions = Permission.objects.all()
            if not user_obj.is_superuser:
                permissions = permissions.filter(
                    Q(user=user_obj) | Q(group__user=user_obj)
                ).distinct()
            user_obj._perm_cache = {
                f"{app_label}.{codename}"
                for app_label, codename in permissions.values_list(
                    "content_type__app_label", "codename"
                ).order_by()
            }
        # Typed through a variable: mypy reports the attribute of an Any differently when
        # checking this file alone and the whole project, so an ignore is wrong in one of them.
        cache: set[str] = user_obj._perm_cache
        return cache

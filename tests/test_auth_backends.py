"""RoleModelBackend: the same permissions as Django's ModelBackend, read in one query."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from gal_dashboard.access import VIEW_GRAPHIC
from gal_dashboard.auth_backends import RoleModelBackend

pytestmark = pytest.mark.django_db


def fresh(user: Any) -> Any:
    """The user as a request loads it: no permission cache yet."""
    return get_user_model().objects.get(pk=user.pk)


@pytest.mark.parametrize("role", ["viewer", "editor", "lock_admin", "superuser", "no_role_user"])
def test_same_permissions_as_model_backend(role: str, request: pytest.FixtureRequest) -> None:
    """Each role's permission set is exactly what Django's own backend computes."""
    user = request.getfixturevalue(role)
    assert RoleModelBackend().get_all_permissions(fresh(user)) == (
        ModelBackend().get_all_permissions(fresh(user))
    )


def test_direct_and_group_permissions_are_combined(editor: Any) -> None:
    """A permission granted to the user directly adds to those of their roles."""
    extra = Permission.objects.get(codename="view_lockevent")
    editor.user_permissions.add(extra)
    permissions = RoleModelBackend().get_all_permissions(fresh(editor))
    assert "locks.view_lockevent" in permissions
    assert "graphics.change_graphic" in permissions
    assert permissions == ModelBackend().get_all_permissions(fresh(editor))


def test_inactive_user_has_no_permissions(editor: Any) -> None:
    editor.is_active = False
    editor.save()
    user = fresh(editor)
    assert RoleModelBackend().get_all_permissions(user) == set()
    assert not user.has_perm(VIEW_GRAPHIC)


def test_first_check_costs_one_query_and_later_checks_none(editor: Any) -> None:
    """A request's permission checks cost one query in all (ModelBackend needs two)."""
    user = fresh(editor)
    with CaptureQueriesContext(connection) as queries:
        assert user.has_perm(VIEW_GRAPHIC)
        assert user.has_perm("graphics.change_graphic")
        assert not user.has_perm("auth.delete_user")
    assert len(queries.captured_queries) == 1

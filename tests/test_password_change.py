"""Changing a password revokes every token issued before it (gal_dashboard.tokens): the old
access token is refused, the old refresh token no longer refreshes nor verifies, whichever way
the password changed (set_password + save, the admin's password form, `changepassword`); a
login with the new password works."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.management.commands import changepassword
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from tests.conftest import TEST_PASSWORD, error_of

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-brand-new-long-passphrase-42"


def obtain(username: str, password: str = TEST_PASSWORD) -> dict[str, str]:
    response = APIClient().post(
        "/api/auth/token/", {"username": username, "password": password}, format="json"
    )
    assert response.status_code == 200, response.content
    pair: dict[str, str] = response.json()
    return pair


def bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def set_password_and_save(user: Any, root: Any, monkeypatch: Any) -> None:
    fresh = get_user_model().objects.get(pk=user.pk)
    fresh.set_password(NEW_PASSWORD)
    fresh.save()


def admin_password_form(user: Any, root: Any, monkeypatch: Any) -> None:
    admin = Client()
    admin.force_login(root)
    response = admin.post(
        reverse("admin:auth_user_password_change", args=[user.pk]),
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302, response.content


def changepassword_command(user: Any, root: Any, monkeypatch: Any) -> None:
    # The command reads the new password twice from the terminal.
    monkeypatch.setattr(changepassword.Command, "_get_pass", lambda self, prompt="": NEW_PASSWORD)
    call_command("changepassword", user.get_username(), stdout=None)


CHANGES: dict[str, Callable[[Any, Any, Any], None]] = {
    "set_password and save": set_password_and_save,
    "the admin's password form": admin_password_form,
    "manage.py changepassword": changepassword_command,
}


@pytest.mark.parametrize("change", CHANGES)
def test_a_password_change_revokes_every_earlier_token(
    change: str, viewer: Any, superuser: Any, monkeypatch: Any
) -> None:
    """Both logins made before the change stop working: access 401, refresh 401, verify 401.
    A login with the new password then works, and its tokens do."""
    first, second = obtain("viewer"), obtain("viewer")
    assert bearer(first["access"]).get("/api/graphics/").status_code == 200

    CHANGES[change](viewer, superuser, monkeypatch)

    client = APIClient()
    for pair in (first, second):
        error_of(bearer(pair["access"]).get("/api/graphics/"), 401, "not_authenticated")
        refreshed = client.post(
            "/api/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json"
        )
        error_of(refreshed, 401, "not_authenticated")
        for token in (pair["access"], pair["refresh"]):
            verified = client.post("/api/auth/token/verify/", {"token": token}, format="json")
            error_of(verified, 401, "not_authenticated")
    fresh = obtain("viewer", NEW_PASSWORD)
    assert bearer(fresh["access"]).get("/api/graphics/").status_code == 200
    refreshed = client.post(
        "/api/auth/token/refresh/", {"refresh": fresh["refresh"]}, format="json"
    )
    assert refreshed.status_code == 200


def test_a_token_refreshed_before_the_change_is_revoked_too(viewer: Any) -> None:
    """Rotation does not launder a token: the pair minted by a refresh before the change is
    as dead as the pair it replaced."""
    rotated = APIClient().post(
        "/api/auth/token/refresh/", {"refresh": obtain("viewer")["refresh"]}, format="json"
    )
    assert rotated.status_code == 200

    viewer.set_password(NEW_PASSWORD)
    viewer.save()

    error_of(bearer(rotated.json()["access"]).get("/api/graphics/"), 401, "not_authenticated")
    again = APIClient().post(
        "/api/auth/token/refresh/", {"refresh": rotated.json()["refresh"]}, format="json"
    )
    error_of(again, 401, "not_authenticated")


def test_saving_other_fields_keeps_the_tokens(viewer: Any) -> None:
    """Only the password revokes: a rename or a login's last_login leaves tokens working."""
    pair = obtain("viewer")

    viewer.first_name = "Renamed"
    viewer.save()

    assert bearer(pair["access"]).get("/api/graphics/").status_code == 200
    refreshed = APIClient().post(
        "/api/auth/token/refresh/", {"refresh": pair["refresh"]}, format="json"
    )
    assert refreshed.status_code == 200

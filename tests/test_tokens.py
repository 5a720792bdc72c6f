"""Token families: logging out (or rotating) a refresh token revokes the access tokens issued
with it, on every endpoint (gal_dashboard.tokens)."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from gal_dashboard.tokens import TOKEN_FAMILY_CLAIM
from tests.conftest import TEST_PASSWORD

pytestmark = pytest.mark.django_db

GRAPHICS_URL = "/api/graphics/"


def login(username: str) -> dict[str, str]:
    response = APIClient().post(
        "/api/auth/token/", {"username": username, "password": TEST_PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    pair: dict[str, str] = response.json()
    return pair


def status_with(access: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client.get(GRAPHICS_URL).status_code


def test_an_access_token_names_the_refresh_token_it_came_with(viewer: Any) -> None:
    """The access token's family claim is its refresh token's jti."""
    pair = login("viewer")
    access, refresh = AccessToken(pair["access"]), RefreshToken(pair["refresh"])  # type: ignore[arg-type]
    assert access[TOKEN_FAMILY_CLAIM] == refresh["jti"]


def test_logout_revokes_the_access_tokens_of_that_login_only(viewer: Any) -> None:
    """After logging out, the access token of that login gets 401 everywhere (REST and verify);
    another login of the same user keeps working."""
    mine, other = login("viewer"), login("viewer")
    assert status_with(mine["access"]) == 200

    logout = APIClient().post("/api/auth/logout/", {"refresh": mine["refresh"]}, format="json")
    assert logout.status_code == 204

    assert status_with(mine["access"]) == 401
    verify = APIClient().post("/api/auth/token/verify/", {"token": mine["access"]}, format="json")
    assert verify.status_code == 401
    assert verify.json()["error"]["code"] == "not_authenticated"
    assert status_with(other["access"]) == 200


def test_a_refresh_gives_a_working_access_token_and_retires_the_old_one(viewer: Any) -> None:
    """Rotation blacklists the refresh token it was given, so the access token issued with it
    is retired too; the new access token, of the new refresh token, works."""
    first = login("viewer")
    refreshed = APIClient().post(
        "/api/auth/token/refresh/", {"refresh": first["refresh"]}, format="json"
    )
    assert refreshed.status_code == 200
    second = refreshed.json()

    new_access = AccessToken(second["access"])
    new_refresh = RefreshToken(second["refresh"])
    assert new_access[TOKEN_FAMILY_CLAIM] == new_refresh["jti"]
    assert status_with(second["access"]) == 200
    assert status_with(first["access"]) == 401

"""Signing in to the API: JWT obtain/refresh/verify/logout, and the dashboard's session."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from tests.conftest import TEST_PASSWORD, error_of

pytestmark = pytest.mark.django_db


TOKEN_URL = "/api/auth/token/"
REFRESH_URL = "/api/auth/token/refresh/"
VERIFY_URL = "/api/auth/token/verify/"
LOGOUT_URL = "/api/auth/logout/"
GRAPHICS_URL = "/api/graphics/"
CHALLENGE = 'Bearer realm="api"'


def obtain(client: APIClient, username: str, password: str = TEST_PASSWORD) -> Any:
    return client.post(TOKEN_URL, {"username": username, "password": password}, format="json")


def bearer(token: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_jwt_flow_end_to_end(viewer: Any) -> None:
    """Obtain a pair, call the API with the access token, refresh, verify, log out; after
    logging out the refresh token no longer refreshes."""
    client = APIClient()

    pair = obtain(client, "viewer")
    assert pair.status_code == 200
    access, refresh = pair.json()["access"], pair.json()["refresh"]

    assert bearer(access).get(GRAPHICS_URL).status_code == 200

    refreshed = client.post(REFRESH_URL, {"refresh": refresh}, format="json")
    assert refreshed.status_code == 200
    new_access, new_refresh = refreshed.json()["access"], refreshed.json()["refresh"]
    assert new_refresh != refresh
    assert bearer(new_access).get(GRAPHICS_URL).status_code == 200

    verified = client.post(VERIFY_URL, {"token": new_access}, format="json")
    assert (verified.status_code, verified.json()) == (200, {})

    logout = client.post(LOGOUT_URL, {"refresh": new_refresh}, format="json")
    assert (logout.status_code, logout.content) == (204, b"")

    after = client.post(REFRESH_URL, {"refresh": new_refresh}, format="json")
    error = error_of(after, 401, "not_authenticated")
    assert "blacklisted" in error["message"]


def test_wrong_password_is_not_authenticated(viewer: Any) -> None:
    """Bad credentials are a 401 not_authenticated, with no tokens."""
    response = obtain(APIClient(), "viewer", "wrong password")

    error = error_of(response, 401, "not_authenticated")
    assert "No active account" in error["message"]
    assert response["WWW-Authenticate"] == CHALLENGE


def test_inactive_user_cannot_obtain_a_token(make_user: Any) -> None:
    """A deactivated account gets no tokens."""
    make_user("gone", role="Viewer", is_active=False)

    error_of(obtain(APIClient(), "gone"), 401, "not_authenticated")


def test_obtain_without_password_is_a_field_error(viewer: Any) -> None:
    """Missing credentials are a 400 naming the field."""
    response = APIClient().post(TOKEN_URL, {"username": "viewer"}, format="json")

    assert error_of(response, 400, "validation_error")["details"] == {
        "password": ["This field is required."]
    }


def test_obtain_with_malformed_json_is_invalid_json() -> None:
    """A broken body is a 400 invalid_json, not a 500."""
    response = APIClient().post(TOKEN_URL, "{", content_type="application/json")

    error_of(response, 400, "invalid_json")


def test_refresh_token_works_once(viewer: Any) -> None:
    """Refresh tokens rotate: the one used is blacklisted, so replaying it fails."""
    client = APIClient()
    refresh = obtain(client, "viewer").json()["refresh"]
    assert client.post(REFRESH_URL, {"refresh": refresh}, format="json").status_code == 200

    replay = client.post(REFRESH_URL, {"refresh": refresh}, format="json")

    error_of(replay, 401, "not_authenticated")


def test_access_token_cannot_refresh(viewer: Any) -> None:
    """Only a refresh token refreshes."""
    client = APIClient()
    access = obtain(client, "viewer").json()["access"]

    error_of(client.post(REFRESH_URL, {"refresh": access}, format="json"), 401, "not_authenticated")


def test_verify_rejects_a_garbage_token() -> None:
    """Verifying something that is not a token is a 401."""
    response = APIClient().post(VERIFY_URL, {"token": "not-a-token"}, format="json")

    error_of(response, 401, "not_authenticated")


def test_logout_with_a_garbage_token_is_not_authenticated() -> None:
    """Logging out with something that is not a refresh token is a 401."""
    response = APIClient().post(LOGOUT_URL, {"refresh": "not-a-token"}, format="json")

    error_of(response, 401, "not_authenticated")


def test_logout_without_a_token_is_a_field_error() -> None:
    """Logging out needs the refresh token."""
    response = APIClient().post(LOGOUT_URL, {}, format="json")

    assert error_of(response, 400, "validation_error")["details"] == {
        "refresh": ["This field is required."]
    }


def test_no_credentials_is_401_with_a_challenge(graphic: Any) -> None:
    """Without credentials the API answers 401 not_authenticated and says how to sign in."""
    response = APIClient().get(GRAPHICS_URL)

    error_of(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == CHALLENGE


def test_a_garbage_bearer_token_is_401(viewer: Any) -> None:
    """An unreadable token is a 401 not_authenticated with a challenge."""
    response = bearer("not-a-token").get(GRAPHICS_URL)

    error = error_of(response, 401, "not_authenticated")
    assert error["details"]["token"]
    assert response["WWW-Authenticate"] == CHALLENGE


def test_an_expired_access_token_is_401(viewer: Any) -> None:
    """An access token past its expiry is a 401 that says it expired."""
    token = AccessToken.for_user(viewer)
    token.set_exp(from_time=timezone.now() - timedelta(hours=1))

    response = bearer(token).get(GRAPHICS_URL)

    error = error_of(response, 401, "not_authenticated")
    assert error["details"] == {"token": ["Token is expired"]}
    assert response["WWW-Authenticate"] == CHALLENGE


def test_a_refresh_token_is_not_an_access_token(viewer: Any) -> None:
    """The refresh token cannot be used as a Bearer token."""
    client = APIClient()
    refresh = obtain(client, "viewer").json()["refresh"]

    error_of(bearer(refresh).get(GRAPHICS_URL), 401, "not_authenticated")


def test_the_token_of_a_deactivated_user_stops_working(viewer: Any) -> None:
    """Deactivating an account locks its tokens out at once."""
    token = AccessToken.for_user(viewer)
    viewer.is_active = False
    viewer.save()

    error_of(bearer(token).get(GRAPHICS_URL), 401, "not_authenticated")


def test_session_authentication_works_for_reads(viewer: Any, graphic: Any) -> None:
    """The dashboard's signed-in session reads the API without a token."""
    client = APIClient()
    assert client.login(username="viewer", password=TEST_PASSWORD)

    response = client.get(GRAPHICS_URL)

    assert response.status_code == 200
    assert response.json()["count"] == 1


def test_session_writes_need_the_csrf_token(editor: Any) -> None:
    """A session-authenticated write without the CSRF token is refused; with it, it works."""
    client = APIClient(enforce_csrf_checks=True)
    assert client.login(username="editor", password=TEST_PASSWORD)
    body = {"title": "Standings", "event_name": "Week 2"}

    refused = client.post(GRAPHICS_URL, body, format="json")
    csrf_secret = "a" * 32
    client.cookies["csrftoken"] = csrf_secret
    accepted = client.post(GRAPHICS_URL, body, format="json", HTTP_X_CSRFTOKEN=csrf_secret)

    assert "CSRF" in error_of(refused, 403, "permission_denied")["message"]
    assert accepted.status_code == 201


def test_bearer_writes_need_no_csrf_token(editor: Any) -> None:
    """Token clients are not browsers: their writes need no CSRF token."""
    client = bearer(AccessToken.for_user(editor))
    client.handler.enforce_csrf_checks = True

    response = client.post(GRAPHICS_URL, {"title": "T", "event_name": "E"}, format="json")

    assert response.status_code == 201

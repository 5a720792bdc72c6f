"""Brute-force protection (gal_dashboard.login_throttle): repeated failed logins lock out an
account and an address on the API's token endpoint, /login/ and /admin/login/, without telling
whether the username exists; the admin shows the lockout and lifts it; it ends by itself after
the cool-off."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from tests.conftest import TEST_PASSWORD, error_of

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/auth/token/"
LOGIN_URL = "/login/"
ADMIN_LOGIN_URL = "/admin/login/"
WRONG = "not-the-password"


def api_login(username: str, password: str, address: str = "127.0.0.1") -> Any:
    return APIClient().post(
        TOKEN_URL, {"username": username, "password": password}, format="json", REMOTE_ADDR=address
    )


def page_login(url: str) -> Callable[..., Any]:
    def attempt(username: str, password: str, address: str = "127.0.0.1") -> Any:
        return Client().post(url, {"username": username, "password": password}, REMOTE_ADDR=address)

    return attempt


LOGINS: dict[str, Callable[..., Any]] = {
    "api": api_login,
    "login page": page_login(LOGIN_URL),
    "admin login": page_login(ADMIN_LOGIN_URL),
}


def succeeded(path: str, response: Any) -> bool:
    if path == "api":
        return bool(response.status_code == 200 and "access" in response.json())
    return bool(response.status_code == 302 and "_auth_user_id" in response.client.session)


def assert_locked_out(path: str, response: Any) -> None:
    """429 with Retry-After (the whole cool-off); the API in its error shape, the pages with a
    page that says what happened and names no account."""
    seconds = settings.LOGIN_LOCKOUT_SECONDS
    if path == "api":
        error = error_of(response, 429, "too_many_attempts")
        assert error["details"] == {"retry_after": seconds}
    else:
        assert response.status_code == 429
        assert "Too many failed log-in attempts" in response.content.decode()
        assert "_auth_user_id" not in response.client.session
    assert response["Retry-After"] == str(seconds)


@pytest.fixture
def root(superuser: Any) -> Any:
    """A superuser, who may use every login (the admin's too)."""
    return superuser


@pytest.mark.parametrize("path", LOGINS)
def test_failures_lock_the_account_and_then_even_the_right_password_is_refused(
    path: str, root: Any
) -> None:
    """Up to the limit a wrong password is an ordinary failure; the failure that reaches it,
    and every attempt after it, the right password included, is 429 with Retry-After."""
    login = LOGINS[path]
    for _ in range(settings.LOGIN_FAILURE_LIMIT - 1):
        assert login("root", WRONG).status_code in (200, 401)  # the form again, or 401

    assert_locked_out(path, login("root", WRONG))
    right = login("root", TEST_PASSWORD)
    assert_locked_out(path, right)
    assert not succeeded(path, right)


@pytest.mark.parametrize("path", LOGINS)
def test_an_account_is_locked_whatever_address_the_guesses_come_from(
    path: str, root: Any, make_user: Any
) -> None:
    """Guesses spread over many addresses still lock the account, from a new address too;
    another account at that address is not affected."""
    login = LOGINS[path]
    make_user("bystander", superuser=True)
    for number in range(settings.LOGIN_FAILURE_LIMIT):
        login("root", WRONG, address=f"203.0.113.{number + 1}")

    assert_locked_out(path, login("root", TEST_PASSWORD, address="198.51.100.7"))
    assert succeeded(path, login("bystander", TEST_PASSWORD, address="198.51.100.7"))


@pytest.mark.parametrize("path", LOGINS)
def test_an_address_is_locked_whatever_accounts_it_guesses(
    path: str, root: Any, make_user: Any
) -> None:
    """One address guessing many usernames is locked out, for every account, its own right
    password included; the same account from another address still logs in."""
    login = LOGINS[path]
    for number in range(settings.LOGIN_FAILURE_LIMIT):
        login(f"guess-{number}", WRONG, address="203.0.113.9")

    assert_locked_out(path, login("root", TEST_PASSWORD, address="203.0.113.9"))
    assert succeeded(path, login("root", TEST_PASSWORD, address="198.51.100.7"))


@pytest.mark.parametrize("path", LOGINS)
def test_an_unknown_username_gets_exactly_the_answers_a_known_one_gets(
    path: str, root: Any
) -> None:
    """Failing, and then being locked out, reads the same for a username that does not
    exist as for one that does (from separate addresses, so neither locks the other)."""
    login = LOGINS[path]

    def answers(username: str, address: str) -> list[tuple[int, str | None, bytes]]:
        responses = [login(username, WRONG, address) for _ in range(settings.LOGIN_FAILURE_LIMIT)]
        responses.append(login(username, TEST_PASSWORD, address))
        return [
            (r.status_code, r.get("Retry-After"), r.content.replace(username.encode(), b"@"))
            for r in responses
        ]

    known, unknown = answers("root", "203.0.113.1"), answers("nobody-here", "203.0.113.2")

    assert [status for status, _, _ in known][-2:] == [429, 429]
    if path == "api":
        assert known == unknown
    else:
        # The pages carry a fresh CSRF token each time; everything else must match.
        assert [(s, retry) for s, retry, _ in known] == [(s, retry) for s, retry, _ in unknown]
        assert known[-1][2].count(b"@") == unknown[-1][2].count(b"@") == 0


def test_the_admin_lists_the_lockout_and_deleting_it_lets_the_account_in(
    root: Any, viewer: Any
) -> None:
    """A superuser sees the locked-out account under "Access attempts" and lifts the lockout
    by deleting its row (the admin's delete action); the right password works again."""
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        api_login("viewer", WRONG, address="203.0.113.5")
    assert_locked_out("api", api_login("viewer", TEST_PASSWORD, address="203.0.113.5"))
    admin = Client()
    admin.force_login(root)
    changelist = reverse("admin:axes_accessattempt_changelist")

    listing = admin.get(changelist).content.decode()
    assert "viewer" in listing and "203.0.113.5" in listing and "Locked Out" in listing

    attempts = list(AccessAttempt.objects.filter(username="viewer").values_list("pk", flat=True))
    confirmed = admin.post(
        changelist,
        {"action": "delete_selected", "_selected_action": attempts, "post": "yes"},
    )
    assert confirmed.status_code == 302
    assert not AccessAttempt.objects.filter(username="viewer").exists()
    assert succeeded("api", api_login("viewer", TEST_PASSWORD, address="203.0.113.5"))


def test_a_lockout_ends_by_itself_after_the_cool_off(viewer: Any) -> None:
    """Once LOGIN_LOCKOUT_SECONDS have passed since the latest failure, the right password
    works again (the failures are moved into the past rather than waited for)."""
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        api_login("viewer", WRONG)
    assert_locked_out("api", api_login("viewer", TEST_PASSWORD))

    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time
        - timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS + 1)
    )

    assert succeeded("api", api_login("viewer", TEST_PASSWORD))


def test_right_passwords_never_count(viewer: Any) -> None:
    """Only failures count: logging in many more times than the limit keeps working."""
    for _ in range(settings.LOGIN_FAILURE_LIMIT * 3):
        assert succeeded("api", api_login("viewer", TEST_PASSWORD))
    assert not AccessAttempt.objects.exists()


def test_failures_are_counted_against_the_address_the_trusted_proxy_names(
    settings: Any, viewer: Any
) -> None:
    """Behind the proxy (TRUSTED_PROXY_HEADER from TRUSTED_PROXY_NETWORKS), one client's
    failures lock that client's address, not the proxy's: others behind it still log in. A
    header from anyone else is ignored."""
    settings.TRUSTED_PROXY_HEADER = "X-Forwarded-For"

    def via_proxy(password: str, client_address: str) -> Any:
        return APIClient().post(
            TOKEN_URL,
            {"username": "someone", "password": password},
            format="json",
            REMOTE_ADDR="127.0.0.1",
            HTTP_X_FORWARDED_FOR=f"10.9.9.9, {client_address}",
        )

    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        via_proxy(WRONG, "203.0.113.77")

    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.77"}
    behind_the_same_proxy = APIClient().post(
        TOKEN_URL,
        {"username": "viewer", "password": TEST_PASSWORD},
        format="json",
        REMOTE_ADDR="127.0.0.1",
        HTTP_X_FORWARDED_FOR="198.51.100.20",
    )
    assert succeeded("api", behind_the_same_proxy)


def test_an_over_long_username_is_refused_before_it_reaches_the_throttle() -> None:
    """A username longer than any account's is a plain 400, not a failure the throttle would
    try to store (its column holds 255 characters: a 500 on PostgreSQL)."""
    response = api_login("x" * 300, WRONG)

    error = error_of(response, 400, "validation_error")
    assert set(error["details"]) == {"username"}
    assert not AccessAttempt.objects.exists()

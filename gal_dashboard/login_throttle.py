"""
Brute-force protection for every login: `POST /api/auth/token/`, `/login/` and `/admin/login/`.

django-axes counts failed logins in the database (so every server process shares the counts,
and the admin lists them under "Access attempts", where deleting a row lifts its lockout). An
account, or an address, with LOGIN_FAILURE_LIMIT failures is refused for LOGIN_LOCKOUT_SECONDS
after its latest try, whatever the password: 429 with `Retry-After`, the API in the error shape
(`too_many_attempts`), the pages with a page of their own. The answer names neither the
account nor whether it exists: a locked-out unknown username reads exactly like a known one.

Axes has three hooks here: `LoginThrottleBackend` (first in AUTHENTICATION_BACKENDS) refuses a
locked-out login before any password is checked, `client_address` tells it who is asking, and
`lockout_response` is what AxesMiddleware answers the pages with. The token endpoint raises
`login_locked_out()` itself (gal_dashboard.auth_api): axes marks DRF's request, which its
middleware never sees.
"""

from __future__ import annotations

import ipaddress
import math
from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_cool_off
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse

from gal_dashboard.api_errors import error_body
from gal_dashboard.errors import TooManyAttempts
from realtime.connection.network import trusted_client_address

LOCKED_OUT_TEMPLATE = "dashboard/login_locked.html"


class LoginThrottleBackend(AxesStandaloneBackend):
    """Axes' lockout check. `authenticate()` called without a request (Django's test client
    `login()`, a shell) comes from no address and no remote party, so there is nothing to
    throttle: it passes on to the next backend instead of raising, as axes would."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


def client_address(request: Any) -> str | None:
    """The address failures are counted against: the peer, or the client our trusted proxy
    names (TRUSTED_PROXY_HEADER, as for WebSockets). Anything that is not an address counts
    as the peer's."""
    peer = request.META.get("REMOTE_ADDR")
    header = settings.TRUSTED_PROXY_HEADER
    forwarded = request.META.get("HTTP_" + header.upper().replace("-", "_")) if header else None
    address = trusted_client_address(peer, forwarded)
    try:
        ipaddress.ip_address(address or "")
    except ValueError:
        return peer
    return address


def retry_after_seconds(request: Any = None) -> int:
    """How long a locked-out login waits: a whole cool-off, since the refused try itself
    counted as a failure and restarted it."""
    cool_off = get_cool_off(request)
    return max(1, math.ceil(cool_off.total_seconds())) if cool_off else 1


def login_locked_out(request: Any = None) -> TooManyAttempts:
    """The API's answer to a locked-out login (429 `too_many_attempts`, `Retry-After`)."""
    seconds = retry_after_seconds(request)
    return TooManyAttempts(
        "Too many failed login attempts for this account or from this address; "
        f"try again in {seconds} seconds.",
        details={"retry_after": seconds},
    )


def lockout_response(request: HttpRequest, *args: Any) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: what a locked-out login page answers (429 and `Retry-After`).
    (Axes passes the original response and the credentials, in an order that depends on
    whether it ran as sync or async middleware; neither is needed.)"""
    error = login_locked_out(request)
    seconds = error.details["retry_after"]
    response: HttpResponse
    if request.path.startswith("/api/"):
        # Not reached today (see the module docstring); should axes learn to flag DRF's
        # requests, the API still answers in its own shape.
        response = JsonResponse(error_body(error.code, error.message, error.details), status=429)
    else:
        response = render(
            request,
            LOCKED_OUT_TEMPLATE,
            {
                "retry_after_minutes": math.ceil(seconds / 60),
                "login_url": reverse("admin:login")
                if request.path.startswith(reverse("admin:index"))
                else settings.LOGIN_URL,
            },
            status=429,
        )
    response["Retry-After"] = str(seconds)
    return response

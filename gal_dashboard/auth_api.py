"""
JSON Web Tokens for API clients (simplejwt): obtain a pair, refresh, verify, and log out.

Refresh tokens rotate: each refresh answers with a new pair and blacklists the refresh token it
was given, so a stolen one works once at most. Logging out blacklists the refresh token sent,
and with it every access token issued with it (gal_dashboard.tokens): they are refused by REST
and WebSocket alike, and open WebSockets opened with them are closed. The dashboard pages use
the session instead; both work on every endpoint. Obtaining a pair is throttled like every
login (gal_dashboard.login_throttle): too many failures answer 429 `too_many_attempts`.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework_simplejwt.serializers import (
    TokenObtainPairSerializer,
    TokenRefreshSerializer,
    TokenVerifySerializer,
)
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import UntypedToken
from rest_framework_simplejwt.views import (
    TokenBlacklistView,
    TokenObtainPairView,
    TokenRefreshView,
    TokenVerifyView,
)

from gal_dashboard.api_errors import error_responses
from gal_dashboard.login_throttle import login_locked_out
from realtime.delivery.events import publish_hub_command
from realtime.protocol import CLOSE_UNAUTHENTICATED

TAG = "auth"


@extend_schema(
    tags=[TAG],
    summary="Obtain a token pair",
    description="Username and password in; an access token (send it as `Authorization: Bearer "
    "<access>`) and a refresh token out. After too many failed attempts for an account or from "
    "an address, every attempt is refused with 429 `too_many_attempts` and `Retry-After`.",
    responses={200: TokenObtainPairSerializer, **error_responses(400, 401, 429)},
)
class TokenObtainView(TokenObtainPairView):
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            return super().post(request, *args, **kwargs)
        except AuthenticationFailed:
            # django-axes marked the request: the account or the address is locked out.
            if getattr(request, "axes_locked_out", False):
                raise login_locked_out(request) from None
            raise


@extend_schema(
    tags=[TAG],
    summary="Refresh a token pair",
    description="A new access and refresh token; the refresh token sent is blacklisted.",
    responses={200: TokenRefreshSerializer, **error_responses(400, 401)},
)
class TokenRefreshPairView(TokenRefreshView):
    pass


@extend_schema(
    tags=[TAG],
    summary="Verify a token",
    description="200 with an empty object if the token is valid; 401 otherwise.",
    responses={200: TokenVerifySerializer, **error_responses(400, 401)},
)
class TokenCheckView(TokenVerifyView):
    pass


@extend_schema(
    tags=[TAG],
    summary="Log out",
    description="Blacklists the refresh token sent, so it can no longer be refreshed.",
    responses={204: None, **error_responses(400, 401)},
)
class LogoutView(TokenBlacklistView):
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        super().post(request, *args, **kwargs)
        # The refresh token is valid (or the view above raised) and now blacklisted: its access
        # tokens are refused from here on, and WebSockets opened with them are closed.
        family = UntypedToken(request.data["refresh"]).get(api_settings.JTI_CLAIM)
        transaction.on_commit(
            partial(
                publish_hub_command,
                {
                    "command": "close",
                    "token_family": family,
                    "code": CLOSE_UNAUTHENTICATED,
                    "error": "token_revoked",
                    "message": "You logged out.",
                },
            )
        )
        return Response(status=204)

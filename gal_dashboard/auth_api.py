"""
JSON Web Tokens for API clients (simplejwt): obtain a pair, refresh, verify, and log out.

Refresh tokens rotate: each refresh answers with a new pair and blacklists the refresh token it
was given, so a stolen one works once at most. Logging out blacklists the refresh token sent;
the access token stays valid until it expires (ACCESS_TOKEN_LIFETIME keeps that short). The
dashboard pages use the session instead; both work on every endpoint.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework_simplejwt.serializers import (
    TokenObtainPairSerializer,
    TokenRefreshSerializer,
    TokenVerifySerializer,
)
from rest_framework_simplejwt.views import (
    TokenBlacklistView,
    TokenObtainPairView,
    TokenRefreshView,
    TokenVerifyView,
)

from gal_dashboard.api_errors import error_responses

TAG = "auth"


@extend_schema(
    tags=[TAG],
    summary="Obtain a token pair",
    description="Username and password in; an access token (send it as `Authorization: Bearer "
    "<access>`) and a refresh token out.",
    responses={200: TokenObtainPairSerializer, **error_responses(400, 401)},
)
class TokenObtainView(TokenObtainPairView):
    pass


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
        return Response(status=204)

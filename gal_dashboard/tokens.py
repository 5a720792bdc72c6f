"""
Access tokens that die with their refresh token.

simplejwt blacklists refresh tokens only: an access token stays valid until it expires, even
after its user logged out. Here every access token carries the id (`jti`) of the refresh token
it was issued with, its *token family*; once that refresh token is blacklisted (logout, or a
rotation that replaced it) the access token is refused everywhere: REST
(`FamilyJWTAuthentication`) and WebSocket (`realtime.auth`). Logging out also closes the
WebSockets opened with that family, on every server.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.serializers import (
    TokenObtainPairSerializer,
    TokenRefreshSerializer,
    TokenVerifySerializer,
)
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken, Token, UntypedToken

TOKEN_FAMILY_CLAIM = "rjti"


class FamilyRefreshToken(RefreshToken):
    @property
    def access_token(self) -> AccessToken:
        access = super().access_token
        access[TOKEN_FAMILY_CLAIM] = self[api_settings.JTI_CLAIM]
        return access


class FamilyTokenObtainPairSerializer(TokenObtainPairSerializer):
    token_class = FamilyRefreshToken


class FamilyTokenRefreshSerializer(TokenRefreshSerializer):
    token_class = FamilyRefreshToken

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        data = super().validate(attrs)
        if "refresh" in data:
            # simplejwt mints the access token before rotating: it would belong to the refresh
            # token that rotation has just blacklisted. Mint it from the new one instead.
            data["access"] = str(FamilyRefreshToken(data["refresh"]).access_token)  # type: ignore[arg-type]
        return data


class FamilyTokenVerifySerializer(TokenVerifySerializer):
    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        data = super().validate(attrs)
        if token_family_revoked(token_family(UntypedToken(attrs["token"]))):
            raise InvalidToken("The token has been revoked (logged out).")
        return data


def token_family(token: Token | dict[str, Any]) -> str | None:
    value = token.get(TOKEN_FAMILY_CLAIM)
    return value if isinstance(value, str) else None


def token_family_revoked(family: str | None) -> bool:
    """True if the refresh token of this family has been blacklisted. (Tokens minted without
    a family, by code rather than by the token endpoints, have nothing to revoke.)"""
    if family is None:
        return False
    return BlacklistedToken.objects.filter(token__jti=family).exists()


class FamilyJWTAuthentication(JWTAuthentication):
    """simplejwt's JWT authentication, refusing access tokens of a logged-out family."""

    def get_validated_token(self, raw_token: bytes) -> Token:
        token = super().get_validated_token(raw_token)
        if token_family_revoked(token_family(token)):
            raise InvalidToken("The token has been revoked (logged out).")
        return token


class FamilyJWTScheme(SimpleJWTScheme):
    """The OpenAPI security scheme of FamilyJWTAuthentication: simplejwt's Bearer JWT."""

    target_class = "gal_dashboard.tokens.FamilyJWTAuthentication"

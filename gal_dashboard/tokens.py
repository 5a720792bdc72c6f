"""
Access tokens that die with their refresh token, and every token that dies with its password.

simplejwt blacklists refresh tokens only: an access token stays valid until it expires, even
after its user logged out. Here every access token carries the id (`jti`) of the refresh token
it was issued with, its *token family*; once that refresh token is blacklisted (logout, or a
rotation that replaced it) the access token is refused everywhere: REST
(`FamilyJWTAuthentication`) and WebSocket (`realtime.connection.auth`). Logging out also closes the
WebSockets opened with that family, on every server.

Changing a password revokes every token issued before: simplejwt's CHECK_REVOKE_TOKEN puts a
digest of the user's password hash in each token and refuses access tokens whose digest is no
longer the user's (REST here, WebSocket in `realtime.connection.auth`); `password_changed_since`
adds the same check where simplejwt leaves it out, refreshing and verifying. Saving the new password
closes the user's WebSockets on every server (realtime.delivery.signals).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Field
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework import serializers
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
from rest_framework_simplejwt.utils import get_md5_hash_password

TOKEN_FAMILY_CLAIM = "rjti"


class FamilyRefreshToken(RefreshToken):
    @property
    def access_token(self) -> AccessToken:
        access = super().access_token
        access[TOKEN_FAMILY_CLAIM] = self[api_settings.JTI_CLAIM]
        return access


class FamilyTokenObtainPairSerializer(TokenObtainPairSerializer):
    token_class = FamilyRefreshToken

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        # No username is longer than the model allows, so a longer one is refused (400) before
        # it reaches authentication and the login throttle, whose table would refuse it
        # (a 500 on PostgreSQL), as Django's login form does.
        username = get_user_model()._meta.get_field(self.username_field)
        assert isinstance(username, Field) and username.max_length is not None
        self.fields[self.username_field] = serializers.CharField(
            write_only=True, max_length=username.max_length
        )


class FamilyTokenRefreshSerializer(TokenRefreshSerializer):
    token_class = FamilyRefreshToken

    def validate(self, attrs: dict[str, Any]) -> dict[str, str]:
        if password_changed_since(self.token_class(attrs["refresh"])):
            raise InvalidToken(PASSWORD_CHANGED_MESSAGE)
        data = super().validate(attrs)
        if "refresh" in data:
            # simplejwt mints the access token before rotating: it would belong to the refresh
            # token that rotation has just blacklisted. Mint it from the new one instead.
            data["access"] = str(FamilyRefreshToken(data["refresh"]).access_token)  # type: ignore[arg-type]
        return data


class FamilyTokenVerifySerializer(TokenVerifySerializer):
    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        data = super().validate(attrs)
        token = UntypedToken(attrs["token"])
        if token_family_revoked(token_family(token)):
            raise InvalidToken("The token has been revoked (logged out).")
        if password_changed_since(token):
            raise InvalidToken(PASSWORD_CHANGED_MESSAGE)
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


PASSWORD_CHANGED_MESSAGE = "The password has changed since this token was issued; log in again."


def password_changed_since(token: Token) -> bool:
    """True if the token's user has changed password since it was issued, or is gone: the
    digest of the password hash it carries (CHECK_REVOKE_TOKEN) is not the user's now."""
    password = (
        get_user_model()
        ._default_manager.filter(
            **{api_settings.USER_ID_FIELD: token.get(api_settings.USER_ID_CLAIM)}
        )
        .values_list("password", flat=True)
        .first()
    )
    if password is None:
        return True
    return bool(token.get(api_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(password))


class FamilyJWTAuthentication(JWTAuthentication):
    """simplejwt's JWT authentication (which refuses tokens issued before a password change:
    CHECK_REVOKE_TOKEN), also refusing access tokens of a logged-out family."""

    def get_validated_token(self, raw_token: bytes) -> Token:
        token = super().get_validated_token(raw_token)
        if token_family_revoked(token_family(token)):
            raise InvalidToken("The token has been revoked (logged out).")
        return token


class FamilyJWTScheme(SimpleJWTScheme):
    """The OpenAPI security scheme of FamilyJWTAuthentication: simplejwt's Bearer JWT."""

    target_class = "gal_dashboard.tokens.FamilyJWTAuthentication"

"""
Who is on the other end of a WebSocket, decided before the consumer runs.

`OriginCheckMiddleware` refuses the handshake (HTTP 403) when an `Origin` header is present and
is neither the page's own origin (scheme, host and port of the request: its `Host`, which must be
in ALLOWED_HOSTS, and https when HTTPS is on or the socket is wss) nor one of
WS_ALLOWED_ORIGINS. `WebSocketAuthMiddleware` then authenticates, in this order:

1. an overlay view key in `?key=` (graphics.models.GraphicViewKey): if present it must be an
   active key, and it reads its own graphic only; never together with `?token=`;
2. a JWT access token in `?token=`: if present it must be valid, or the connection is closed
   with 4001 (no fallback to the cookie, so a stale token is never silently ignored);
3. the Django session cookie, only when the browser sent an `Origin` (a page of ours), so a
   cookie alone can never authenticate a cross-site or scripted connection.

It stores the outcome in the scope: `user` (an AnonymousUser for a view key), `auth_method`
("view_key" | "token" | "session" | None), `auth_error` (an error code, or None) and
`auth_error_message`, for token auth `token_expires_at` (a UNIX time) and `token_family` (see
gal_dashboard.tokens), for session auth `session_digest` (see `session_digest`: logging out
closes that session's connections), for view-key auth `view_key_id` and `view_key_graphic_id`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import import_module
from typing import Any
from urllib.parse import parse_qs, urlsplit

from channels.auth import get_user as get_session_user
from channels.security.websocket import WebsocketDenier
from channels.sessions import CookieMiddleware
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.request import split_domain_port, validate_host
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.tokens import AccessToken

from gal_dashboard.errors import DomainError, PermissionDenied
from gal_dashboard.tokens import token_family, token_family_revoked
from graphics.selectors import view_key_authenticate
from realtime.connection.network import NetworkAllowlistMiddleware
from realtime.db import database_sync_to_async

TOKEN_QUERY_PARAMETER = "token"
VIEW_KEY_QUERY_PARAMETER = "key"
VIEW_KEY_INVALID_MESSAGE = (
    "The overlay view key is invalid or has been revoked; get the overlay's current URL."
)
VIEW_KEY_REVOKED_MESSAGE = "This overlay view key was revoked; get the overlay's current URL."


def view_key_out_of_scope(view_key_graphic_id: int) -> PermissionDenied:
    """The refusal of anything a view key asks beyond reading its own graphic, the same over
    the WebSocket and GET /api/events/."""
    return PermissionDenied(
        "An overlay view key may only read its own graphic.",
        details={"view_key_graphic_id": view_key_graphic_id},
    )


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for header_name, value in scope.get("headers", []):
        if header_name == name:
            return value.decode("latin1")
    return None


# An origin as browsers compare them: (scheme, host, port), the port spelled out.
Origin = tuple[str, str, int]
DEFAULT_PORTS = {"http": 80, "https": 443}


def parse_origin(value: str) -> Origin | None:
    """An `Origin` header (or a WS_ALLOWED_ORIGINS entry) as an Origin: `scheme://host[:port]`
    and nothing more; None for anything else, such as "null" or a URL with a path."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    if (
        parts.scheme not in DEFAULT_PORTS
        or not parts.hostname
        or "@" in parts.netloc
        or parts.path
        or parts.query
        or parts.fragment
    ):
        return None
    return parts.scheme, parts.hostname, port or DEFAULT_PORTS[parts.scheme]


def page_origin(scope: dict[str, Any]) -> Origin | None:
    """The origin of a page of ours served where this WebSocket connects: the request's `Host`
    (an ALLOWED_HOSTS name, with its port) and scheme. Behind a TLS proxy (HTTPS on) the socket
    itself is plain ws:, but every page is https. None when the Host is missing or not ours."""
    host = _header(scope, b"host")
    if host is None:
        return None
    domain, port = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    if port and not port.isdigit():
        return None
    scheme = "https" if settings.HTTPS or scope.get("scheme") == "wss" else "http"
    return scheme, domain.strip("[]"), int(port) if port else DEFAULT_PORTS[scheme]


def origin_allowed(scope: dict[str, Any]) -> bool:
    """No Origin (a non-browser client) passes here. A present one must be the page's own
    origin, port included (a page on another port of our host is another site: issue 14,
    finding 6), or be listed in WS_ALLOWED_ORIGINS."""
    raw = _header(scope, b"origin")
    if raw is None:
        return True
    origin = parse_origin(raw)
    if origin is None:
        return False
    if origin == page_origin(scope):
        return True
    return any(origin == parse_origin(allowed) for allowed in settings.WS_ALLOWED_ORIGINS)


class OriginCheckMiddleware:
    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket" and not origin_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.app(scope, receive, send)


class TokenRejected(DomainError):
    code = "token_invalid"
    http_status = 401
    default_message = "The token is invalid."


class TokenExpired(TokenRejected):
    code = "token_expired"
    default_message = "The token has expired; log in again."


@dataclass(frozen=True)
class TokenIdentity:
    user: Any
    expires_at: int  # UNIX time
    family: str | None  # the refresh token it was issued with (gal_dashboard.tokens)


def authenticate_access_token(raw_token: str) -> TokenIdentity:
    """The identity behind a valid, unrevoked access token of an active user.
    Raise TokenExpired or TokenRejected otherwise. Runs in a thread (database access)."""
    if not raw_token or len(raw_token) > 4096:
        raise TokenRejected()
    try:
        token = AccessToken(raw_token)  # type: ignore[arg-type]  # stubs say Token; str is the API
    except TokenError as exc:
        if "expired" in str(exc).lower():
            raise TokenExpired() from None
        raise TokenRejected() from None
    try:
        user = JWTAuthentication().get_user(token)
    except InvalidToken:
        raise TokenRejected() from None
    except Exception as exc:  # simplejwt raises AuthenticationFailed for inactive users
        raise TokenRejected(str(exc)) from None
    if not user.is_active:
        raise TokenRejected("The user is inactive.")
    family = token_family(token)
    if token_family_revoked(family):
        raise TokenRejected("The token has been revoked (logged out).")
    return TokenIdentity(user=user, expires_at=int(token["exp"]), family=family)


class WebSocketAuthMiddleware:
    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        scope = dict(scope)
        scope.update(
            user=AnonymousUser(),
            auth_method=None,
            auth_error=None,
            auth_error_message=None,
            token_expires_at=None,
            token_family=None,
            session_digest=None,
            view_key_id=None,
            view_key_graphic_id=None,
        )
        # keep_blank_values: `?token=` is a token that is present (and invalid), not a missing
        # one; dropping it would let the session cookie authenticate in its place.
        params = parse_qs(scope.get("query_string", b"").decode("latin1"), keep_blank_values=True)
        tokens = params.get(TOKEN_QUERY_PARAMETER)
        view_keys = params.get(VIEW_KEY_QUERY_PARAMETER)
        if tokens is not None and view_keys is not None:
            # Which one would the connection be? Neither: a client must say.
            scope.update(
                auth_error=TokenRejected.code,
                auth_error_message="Send a token or a view key, not both: use one credential.",
            )
        elif view_keys is not None:
            view_key = await database_sync_to_async(view_key_authenticate)(key=view_keys[0])
            if view_key is None:
                scope.update(
                    auth_error="view_key_invalid", auth_error_message=VIEW_KEY_INVALID_MESSAGE
                )
            else:
                scope.update(
                    auth_method="view_key",
                    view_key_id=view_key.pk,
                    view_key_graphic_id=view_key.graphic_id,
                )
        elif tokens is not None:
            try:
                identity = await database_sync_to_async(authenticate_access_token)(tokens[0])
            except TokenRejected as exc:
                scope["auth_error"] = exc.code
            else:
                scope.update(
                    user=identity.user,
                    auth_method="token",
                    token_expires_at=identity.expires_at,
                    token_family=identity.family,
                )
        elif _header(scope, b"origin") is not None:
            user = await session_user(scope)
            if user.is_authenticated and user.is_active:
                session_key = scope["cookies"][settings.SESSION_COOKIE_NAME]
                scope.update(
                    user=user, auth_method="session", session_digest=session_digest(session_key)
                )
            else:
                scope["auth_error"] = "not_authenticated"
        else:
            scope["auth_error"] = "not_authenticated"
        return await self.app(scope, receive, send)


async def session_user(scope: dict[str, Any]) -> Any:
    """The user of the Django session named by the request's cookie, or an AnonymousUser.

    Channels' SessionMiddleware would do this too, but it wraps `send` to save the session on
    every outgoing message; a WebSocket never changes its session, and that wrapper measured as
    a real share of the per-delivery cost of a broadcast."""
    session_key = scope.get("cookies", {}).get(settings.SESSION_COOKIE_NAME)
    if not session_key:
        return AnonymousUser()
    session_store = import_module(settings.SESSION_ENGINE).SessionStore
    return await get_session_user({**scope, "session": session_store(session_key)})


def session_digest(session_key: str) -> str:
    """What names a session's connections in hub commands (realtime.delivery.signals closes them
    when it logs out): a digest, so the session key itself, a credential, never travels through the
    channel layer or reaches a log."""
    return hashlib.sha256(f"gal-session:{session_key}".encode()).hexdigest()


def websocket_auth_stack(app: Any) -> Any:
    """Origin check, network allowlist, cookies, then token-or-session authentication."""
    return OriginCheckMiddleware(
        NetworkAllowlistMiddleware(CookieMiddleware(WebSocketAuthMiddleware(app)))
    )

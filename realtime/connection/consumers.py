"""
The /ws/graphics consumer: the ASGI adapter of one WebSocket connection.

A Channels `AsyncJsonWebsocketConsumer`: `decode_json` parses each text frame strictly (today's
rules, realtime.protocol), `receive_json` is the entry of every client message, which it hands
to its handler (realtime.connection.handlers) and answers with one reply (`ack`, `pong` or `error`)
carrying the request's `request_id`. It owns no subsystem: once the handshake's checks pass,
the connection's state lives in its `ConnectionSession` (realtime.connection.session), which admits
it, attaches it to the process's hub and queues everything sent to it. Events reach the session
from the hub (realtime.delivery.hub), which is the member of the channel layer's groups, not from a
channel of its own: pre-encoded frames go out as text as they are.

A connection opened with an overlay view key (`?key=`, realtime.connection.auth) is not a user: it
may subscribe to its own graphic, unsubscribe and ping, and nothing else; it is never present
(realtime.presence.tracker) and counts against its key's connection limit, not a user's.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.db import InterfaceError, OperationalError

from gal_dashboard.access import VIEW_GRAPHIC
from gal_dashboard.errors import DomainError, clipped
from realtime.connection.handlers import HANDLERS, VIEW_KEY_MESSAGE_TYPES, graphic_key, out_of_scope
from realtime.connection.limits import message_too_large
from realtime.connection.session import ConnectionSession
from realtime.db import database_sync_to_async
from realtime.ops import observability
from realtime.protocol import (
    CLOSE_FORBIDDEN,
    CLOSE_MESSAGE_TOO_BIG,
    CLOSE_POLICY,
    CLOSE_UNAUTHENTICATED,
    ClientMessage,
    ProtocolError,
    encode_frame,
    error_data,
    parse_client_frame,
    server_time,
)

logger = logging.getLogger(__name__)


class GraphicsConsumer(AsyncJsonWebsocketConsumer):
    # No channel-layer channel per connection: the hub delivers to the session directly.
    channel_layer_alias = "__no_channel_layer__"
    # Client message type -> its handler (realtime.connection.handlers); `ping` is answered here.
    handlers = HANDLERS

    connection_id: str
    user_id: int | None = None
    view_key_id: int | None = None
    # The connection's state once it passed the handshake's checks (realtime.connection.session).
    session: ConnectionSession | None = None
    _opened = False
    _close_code: int | None = None  # for a connection refused before it had a session

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels 4 awaits `aclose_old_connections()` (a thread hop) before every handler.
        # Our handlers reach the database only through `database_sync_to_async`, which closes
        # stale connections itself, so the hop is pure cost on every frame.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            if self._opened:
                self._opened = False
                observability.connection_closed(self, self.close_code)
            # daphne stops by cancelling every connection's task, without a disconnect: leave
            # anyway, or its user's reconnects to another server would count this connection
            # against their limit until its registry entry expired.
            if self.session is not None:
                await self.session.close()

    @property
    def close_code(self) -> int | None:
        return self.session.close_code if self.session is not None else self._close_code

    @property
    def close_cause(self) -> str | None:
        """The type of the client message that made the server close, for recent errors."""
        return self.session.close_cause if self.session is not None else None

    # -- connection lifecycle ------------------------------------------------------------------

    async def connect(self) -> None:
        self.connection_id = uuid.uuid4().hex
        self.connected_at = time.time()
        self.user = self.scope["user"]
        self.user_id = self.user.pk if self.user.is_authenticated else None
        self.view_key_id = self.scope.get("view_key_id")
        await self.accept()
        self._opened = True
        observability.connection_opened(self)
        auth_error = self.scope.get("auth_error")
        if auth_error is not None or (self.view_key_id is None and not self.user.is_authenticated):
            await self._refuse_handshake(
                CLOSE_UNAUTHENTICATED,
                auth_error or "not_authenticated",
                self.scope.get("auth_error_message") or "Authentication failed; log in again.",
            )
            return
        if self.view_key_id is None and not await database_sync_to_async(self.user.has_perm)(
            VIEW_GRAPHIC
        ):
            await self._refuse_handshake(
                CLOSE_FORBIDDEN, "permission_denied", "You do not have permission to view graphics."
            )
            return
        self.session = ConnectionSession(
            scope=self.scope,
            send=self.base_send,
            connection_id=self.connection_id,
            connected_at=self.connected_at,
        )
        await self.session.open()

    async def _refuse_handshake(self, close_code: int, error_code: str, message: str) -> None:
        """Refuse a connection before it has a session: the error, then the close."""
        self._close_code = close_code
        data = error_data(error_code, message)
        observability.frame_sent(self, "error", data)
        await self.base_send({"type": "websocket.send", "text": encode_frame("error", data)})
        await self.base_send({"type": "websocket.close", "code": close_code})

    async def disconnect(self, code: int) -> None:
        if self.session is None:
            if self._close_code is None:
                self._close_code = code
            return
        self.session.closed_by_client(code)
        await self.session.close()

    # -- frames in -----------------------------------------------------------------------------

    @classmethod
    async def decode_json(cls, text_data: str) -> ClientMessage:
        """Strict: one JSON object with a known shape (realtime.protocol), else ProtocolError
        (`invalid_message`, with the request_id when one could be read)."""
        return parse_client_frame(text_data)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        session = self.session
        if session is None:
            return  # refused at the handshake, not closed yet
        session.last_received = time.monotonic()
        if not session.live:
            return  # a refused connection that has not closed yet
        if message_too_large(text_data, bytes_data):
            # Not parsed, not applied: the client learns why, then the connection closes.
            await session.refuse(
                CLOSE_MESSAGE_TOO_BIG,
                "too_large",
                f"Messages may be at most {settings.WS_MAX_MESSAGE_BYTES} bytes.",
            )
            return
        if text_data is None:
            observability.message_received(session, None)
            if await self._over_rate_limit(session, ping=False, request_id=None):
                return
            await session.send_frame(
                "error",
                error_data("invalid_message", "Binary frames are not supported; send JSON text."),
            )
            return
        try:
            message = await self.decode_json(text_data)
        except ProtocolError as exc:
            observability.message_received(session, None)
            # A malformed frame costs a token like any other.
            if not await self._over_rate_limit(session, ping=False, request_id=exc.request_id):
                await self._reply_error(session, exc, request_type=None)
            return
        await self.receive_json(message)

    async def receive_json(self, content: ClientMessage, **kwargs: Any) -> None:
        """One client message: rate limit, `ping`, the identity re-check, its handler, one
        reply."""
        session = self.session
        if session is None or not session.live:
            return
        message = content
        request_id = message.request_id
        request_type = message.type
        observability.message_received(session, message.type)
        if await self._over_rate_limit(
            session, ping=message.type == "ping", request_id=request_id, request_type=request_type
        ):
            return
        if message.type == "ping":
            # Answered at once, without the account check: a heartbeat costs no query.
            await session.send_frame("pong", {"server_time": server_time()}, request_id=request_id)
            return
        try:
            handler = self.handlers.get(message.type)
            if handler is None:
                raise ProtocolError(
                    "unknown_type",
                    f"Unknown message type {clipped(message.type)!r}.",
                    request_id=request_id,
                )
            if not await session.recheck_identity(request_id, request_type):
                return
            if session.view_key_id is not None and message.type not in VIEW_KEY_MESSAGE_TYPES:
                raise out_of_scope(session)
            result = await handler(session, message)
        except ProtocolError as exc:
            await self._reply_error(session, exc, request_type=request_type)
            return
        except DomainError as exc:
            await session.send_frame(
                "error", exc.as_dict(), request_id=request_id, request_type=request_type
            )
            return
        except (OperationalError, InterfaceError):
            logger.warning("database unavailable while handling a frame", exc_info=True)
            await session.send_frame(
                "error",
                error_data("unavailable", "The database is unavailable; try again shortly."),
                request_id=request_id,
                request_type=request_type,
            )
            return
        except Exception:
            # A bug must cost one request, not the connection: the client is told, the
            # traceback is logged, and the socket stays open.
            logger.exception("failed to handle a %s frame", message.type)
            await session.send_frame(
                "error",
                error_data("internal_error", "The server failed to handle this request."),
                request_id=request_id,
                request_type=request_type,
            )
            return
        sent = await session.send_frame(
            "ack", result, request_id=request_id, request_type=request_type
        )
        if not sent:
            if message.type == "subscribe":
                # The client never got the snapshot, so it is not subscribed either.
                await session.end_subscription(graphic_key(message.data.get("graphic_id")))
            return
        session.flush_pending()

    async def _reply_error(
        self, session: ConnectionSession, exc: ProtocolError, *, request_type: str | None
    ) -> None:
        await session.send_frame(
            "error",
            error_data(exc.code, exc.message, exc.details),
            request_id=exc.request_id,
            request_type=request_type,
        )

    async def _over_rate_limit(
        self,
        session: ConnectionSession,
        *,
        ping: bool,
        request_id: str | None,
        request_type: str | None = None,
    ) -> bool:
        """Apply the connection's rate limit (realtime.connection.limits) to one frame: True if it
        was refused (and the client told, or closed with 4008 for flooding)."""
        rejection = session.rate_limit.check(ping=ping)
        if rejection is None:
            return False
        if rejection.flooding:
            await session.refuse(
                CLOSE_POLICY,
                "rate_limited",
                "Too many messages rejected for exceeding the rate limit; closing.",
                request_id=request_id,
                details={"retry_after": rejection.retry_after},
                request_type=request_type,
            )
            return True
        await session.send_frame(
            "error",
            error_data(
                "rate_limited",
                f"Too many messages; this one was not applied. Retry after "
                f"{rejection.retry_after:g} s.",
                {"retry_after": rejection.retry_after},
            ),
            request_id=request_id,
            request_type=request_type,
        )
        return True

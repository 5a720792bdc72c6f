"""
The /ws/graphics consumer: one instance per WebSocket connection.

It is an edge: each client message type maps to one handler that validates the shape, calls
one service or snapshot, and sends one reply (`ack`, `pong` or `error`) carrying the request's
`request_id`. Events reach it from the process's hub (`realtime.hub`), not from the channel
layer, so it takes no channel-layer channel of its own.

A connection opened with an overlay view key (`?key=`, realtime.auth) is not a user: it may
subscribe to its own graphic, unsubscribe and ping, and nothing else; it is never present
(realtime.presence) and counts against its key's connection limit, not a user's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import InterfaceError, OperationalError

from gal_dashboard.access import CHANGE_GRAPHIC, VIEW_GRAPHIC, require_permission, user_ref
from gal_dashboard.errors import DomainError, PermissionDenied, ValidationFailed, clipped
from gal_dashboard.storable import BIGINT_MAX
from graphics.models import Graphic
from graphics.selectors import view_key_active
from graphics.serialization import graphic_payload
from graphics.services import (
    UNSET,
    graphic_archive,
    graphic_create,
    graphic_delete,
    graphic_restore,
    graphic_update,
)
from locks.models import CanvasLock
from locks.selectors import lock_live, lock_state
from locks.services import lock_acquire, lock_override, lock_refresh, lock_release
from realtime import observability
from realtime.auth import (
    VIEW_KEY_REVOKED_MESSAGE,
    TokenRejected,
    authenticate_access_token,
    view_key_out_of_scope,
)
from realtime.batching import delivery_round, wants_batches
from realtime.frames import ALL, SubscriptionKey
from realtime.hub import get_hub
from realtime.limits import (
    FrameRateLimit,
    check_subscription_room,
    message_too_large,
)
from realtime.outbox import Outbox
from realtime.presence import get_presence
from realtime.presence_store import ACTIONS, EDITING
from realtime.protocol import (
    CLOSE_FORBIDDEN,
    CLOSE_IDLE,
    CLOSE_MESSAGE_TOO_BIG,
    CLOSE_POLICY,
    CLOSE_SLOW_CONSUMER,
    CLOSE_TOO_MANY_CONNECTIONS,
    CLOSE_UNAUTHENTICATED,
    PROTOCOL_VERSION,
    ClientMessage,
    ProtocolError,
    encode_frame,
    error_data,
    parse_client_frame,
    server_time,
)
from realtime.registry import ConnectionEntry
from realtime.replay import check_seq, subscription_start
from realtime.supervisor import get_supervisor

logger = logging.getLogger(__name__)

Handler = Callable[["GraphicsConsumer", ClientMessage], Awaitable[dict[str, Any]]]

# All a view-key connection may send besides `ping`: it reads one graphic.
VIEW_KEY_MESSAGE_TYPES = frozenset({"subscribe", "unsubscribe"})


@dataclass
class Subscription:
    """Where one subscription of this connection stands in the event stream."""

    last_seq: int = 0
    # While the snapshot or the replay is being read, live events wait here (then those after
    # the snapshot's seq, or after the replay, are sent), so nothing is lost or sent twice
    # between the read and the stream. A replay's events are queued here too, ahead of them.
    pending: list[tuple[int, dict[str, Any]]] | None = field(default_factory=list)
    # Presence frames (no seq) that arrived meanwhile: sent after the ack, in arrival order.
    pending_ephemeral: list[dict[str, Any]] = field(default_factory=list)


def _allowed_keys(message: ClientMessage, allowed: set[str]) -> None:
    unknown = set(message.data) - allowed
    if unknown:
        raise ValidationFailed(
            details={key: ["Unknown field."] for key in sorted(unknown)},
        )


# The replies below are built in the database thread, with the service call they report on:
# a payload reads rows the service need not have loaded (a graphic's `created_by`, a lock's
# holder), and the ORM refuses to run on the event loop (SynchronousOnlyOperation). Issue 14: an
# `update` that changed nothing answered internal_error, because only a real change had loaded
# the graphic's users (for its broadcast) before the payload was built on the loop.


def _graphic_reply(service: Callable[..., Graphic], **arguments: Any) -> dict[str, Any]:
    """`{"graphic": payload}` of the graphic a service returns. Runs in the database thread."""
    return {"graphic": graphic_payload(service(**arguments))}


def _lock_reply(
    service: Callable[..., CanvasLock | None], *, graphic_id: Any, **arguments: Any
) -> dict[str, Any]:
    """`{"graphic_id", "lock": lock state}` after a lock service. Runs in the database thread."""
    lock = service(graphic_id=graphic_id, **arguments)
    return {"graphic_id": graphic_id, "lock": lock_state(lock)}


def _unlock_reply(*, user: Any, graphic_id: Any) -> dict[str, Any]:
    """The `unlock` ack: whether it released, and the lock as it is now (someone may have
    taken it since). Runs in the database thread."""
    released = lock_release(user=user, graphic_id=graphic_id)
    lock = lock_live(graphic_id=graphic_id)
    return {"graphic_id": graphic_id, "released": released, "lock": lock_state(lock)}


def _graphic_key(value: Any) -> SubscriptionKey:
    if value == ALL:
        return ALL
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= BIGINT_MAX:
        raise ValidationFailed(
            details={"graphic_id": ['A graphic id (positive whole number) or "all".']}
        )
    return value


class GraphicsConsumer(AsyncWebsocketConsumer):
    # No channel-layer channel per connection: the hub delivers to this object directly.
    channel_layer_alias = "__no_channel_layer__"

    connection_id: str
    user_id: int | None
    token_family: str | None = None
    # Set for a connection opened with a session cookie: logging out of it closes us.
    session_digest: str | None = None
    # Set for a connection opened with an overlay view key (then user_id is None).
    view_key_id: int | None = None
    view_key_graphic_id: int | None = None
    _closing_task: asyncio.Task[None] | None = None
    _admitted = False  # registered with this process's supervisor (and the registry)
    # The type of the client message that made the server close the connection, if one did.
    close_cause: str | None = None

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
            if getattr(self, "_opened", False):
                self._opened = False
                observability.connection_closed(self, self._close_code)
            # daphne stops by cancelling every connection's task, without a disconnect: remove
            # the registry entry anyway, or its user's reconnects to another server would count
            # it against their limit until it expired.
            await self._release()

    # -- connection lifecycle ------------------------------------------------------------------

    async def connect(self) -> None:
        self.connection_id = uuid.uuid4().hex
        self.connected_at = time.time()
        self.last_received = time.monotonic()
        self.rate_limit = FrameRateLimit.from_settings()
        self.user = self.scope["user"]
        self.user_id = self.user.pk if self.user.is_authenticated else None
        self.token_family = self.scope.get("token_family")
        self.session_digest = self.scope.get("session_digest")
        self.view_key_id = self.scope.get("view_key_id")
        self.view_key_graphic_id = self.scope.get("view_key_graphic_id")
        self.subscriptions: dict[SubscriptionKey, Subscription] = {}
        self._expiry_task: asyncio.Task[None] | None = None
        self._attached = False
        # Every frame after the handshake, replies and events alike, leaves through the outbox,
        # so they stay in order and a client that stops reading cannot stall the hub.
        self.outbox = Outbox(
            self.base_send,
            limit_bytes=settings.WS_SEND_BACKLOG_BYTES,
            on_overflow=self._slow_consumer,
            # Issue 17: `?batch=1` opts in to `batch` frames (realtime.batching).
            batch=wants_batches(self.scope),
            batch_max_bytes=settings.WS_MAX_MESSAGE_BYTES,
        )
        await self.accept()
        self._opened = True
        self._close_code: int | None = None
        observability.connection_opened(self)
        auth_error = self.scope.get("auth_error")
        if auth_error is not None or (self.view_key_id is None and not self.user.is_authenticated):
            await self._refuse(
                CLOSE_UNAUTHENTICATED,
                auth_error or "not_authenticated",
                self.scope.get("auth_error_message") or "Authentication failed; log in again.",
            )
            return
        if self.view_key_id is None and not await database_sync_to_async(self.user.has_perm)(
            VIEW_GRAPHIC
        ):
            await self._refuse(
                CLOSE_FORBIDDEN, "permission_denied", "You do not have permission to view graphics."
            )
            return
        if not await get_supervisor().admit(self):
            await self.close_over_limit()
            return
        self._admitted = True
        await get_hub().attach(self)
        self._attached = True
        self._schedule_token_expiry(self.scope.get("token_expires_at"))
        await self._send(
            "welcome",
            {
                "connection_id": self.connection_id,
                "user": user_ref(self.user) if self.view_key_id is None else None,
                "server_time": server_time(),
                "protocol_version": PROTOCOL_VERSION,
                "auth_method": self.scope.get("auth_method"),
                "token_expires_at": self.scope.get("token_expires_at"),
                # What a view key may read; null for a user.
                "view_key": (
                    {"graphic_id": self.view_key_graphic_id}
                    if self.view_key_id is not None
                    else None
                ),
                # True while the channel layer is away (see the `notice` message).
                "broadcast_degraded": get_hub().probe.degraded,
                "heartbeat_interval": settings.WS_HEARTBEAT_INTERVAL_SECONDS,
                # Issue 17: whether waiting frames come as `batch` frames (`?batch=1`).
                "batch": self.outbox.batch,
            },
        )

    async def disconnect(self, code: int) -> None:
        if getattr(self, "_close_code", None) is None:
            self._close_code = code  # the client closed (or the connection dropped)
        if self._expiry_task is not None:
            self._expiry_task.cancel()
        if getattr(self, "_attached", False):
            self._attached = False
            await get_hub().detach(self)
        await self._release()

    async def _release(self) -> None:
        """Leave the supervisor and the connection registry (once)."""
        if self._admitted:
            self._admitted = False
            release = asyncio.ensure_future(self._leave_everything())
            try:
                await asyncio.shield(release)
            except asyncio.CancelledError:
                # A server shutting down cancels connections mid-disconnect: finish removing
                # the entry first (daphne waits for this task), then stop.
                await release
                raise

    async def _leave_everything(self) -> None:
        await get_supervisor().release(self)
        # Any close counts as leaving every graphic (realtime.presence).
        await get_presence().release(self)

    async def _refuse(
        self,
        close_code: int,
        error_code: str,
        message: str,
        *,
        request_id: str | None = None,
        details: dict[str, Any] | None = None,
        request_type: str | None = None,
    ) -> None:
        self._close_code = close_code
        self.close_cause = request_type  # for the staff page's recent errors
        # Stop delivering events and handling frames now, not when the client completes the
        # close: a connection refused for an expired token must not write in the meantime.
        if getattr(self, "_attached", False):
            self._attached = False
            await get_hub().detach(self)
        await self._release()
        await self._send(
            "error",
            error_data(error_code, message, details),
            request_id=request_id,
            request_type=request_type,
        )
        self.outbox.put({"type": "websocket.close", "code": close_code})

    def _load_current_user(self) -> tuple[Any, bool]:
        """(the user as the database has them now or None if gone or deactivated, whether they
        may view graphics). Runs in a thread."""
        if self.user_id is None:
            return None, False
        user = get_user_model().objects.filter(pk=self.user_id, is_active=True).first()
        return user, user is not None and user.has_perm(VIEW_GRAPHIC)

    async def _act_as_current_user(self, request_id: str | None, request_type: str) -> bool:
        """Take the user afresh for each request, so that deactivating an account or changing
        its roles applies to open connections at their next request, as it does to the next
        REST call (the user loaded at connect caches its permissions for good). Refuse and
        close, as at connect, once the user may no longer be here; return whether to go on."""
        user, can_view = await database_sync_to_async(self._load_current_user)()
        if user is None:
            await self._refuse(
                CLOSE_UNAUTHENTICATED,
                "not_authenticated",
                "Your account is no longer active; log in again.",
                request_id=request_id,
                request_type=request_type,
            )
            return False
        if user.password != self.user.password:
            # The password changed since we connected (its save closes us; this catches a
            # close command that was lost, or a password written by a queryset update): the
            # token or session we connected with is revoked.
            await self._refuse(
                CLOSE_UNAUTHENTICATED,
                "token_revoked",
                "Your password was changed; log in again.",
                request_id=request_id,
                request_type=request_type,
            )
            return False
        if not can_view:
            await self._refuse(
                CLOSE_FORBIDDEN,
                "permission_denied",
                "You no longer have permission to view graphics.",
                request_id=request_id,
                request_type=request_type,
            )
            return False
        self.user = user
        return True

    async def _act_as_current_view_key(self, request_id: str | None) -> bool:
        """As `_act_as_current_user` for a view-key connection: its key must still be the
        graphic's active one (revoking closes its connections at once; this catches a
        revocation whose close command was lost). Return whether to go on."""
        assert self.view_key_graphic_id is not None
        active = await database_sync_to_async(view_key_active)(graphic_id=self.view_key_graphic_id)
        if active is not None and active.pk == self.view_key_id:
            return True
        await self.close_revoked_view_key(request_id=request_id)
        return False

    async def close_revoked_view_key(self, *, request_id: str | None = None) -> None:
        """The view key of this connection was revoked (or its graphic deleted): 4001."""
        await self._refuse(
            CLOSE_UNAUTHENTICATED,
            "view_key_revoked",
            VIEW_KEY_REVOKED_MESSAGE,
            request_id=request_id,
        )

    def _view_key_out_of_scope(self) -> PermissionDenied:
        assert self.view_key_graphic_id is not None
        return view_key_out_of_scope(self.view_key_graphic_id)

    def _schedule_token_expiry(self, expires_at: int | None) -> None:
        if self._expiry_task is not None:
            self._expiry_task.cancel()
            self._expiry_task = None
        if expires_at is not None:
            self._expiry_task = asyncio.create_task(self._close_at_expiry(expires_at))

    async def _close_at_expiry(self, expires_at: int) -> None:
        await asyncio.sleep(max(0.0, expires_at - time.time()))
        # From here on this task is the close itself: disconnect() must not cancel it halfway.
        self._expiry_task = None
        await self._refuse(
            CLOSE_UNAUTHENTICATED,
            "token_expired",
            "Your access token expired; send a fresh one with `auth` in time.",
        )

    # -- frames in -----------------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        self.last_received = time.monotonic()
        if not getattr(self, "_attached", False):
            return  # a refused connection that has not closed yet
        if message_too_large(text_data, bytes_data):
            # Not parsed, not applied: the client learns why, then the connection closes.
            await self._refuse(
                CLOSE_MESSAGE_TOO_BIG,
                "too_large",
                f"Messages may be at most {settings.WS_MAX_MESSAGE_BYTES} bytes.",
            )
            return
        if text_data is None:
            observability.message_received(self, None)
            if await self._over_rate_limit(ping=False, request_id=None):
                return
            await self._send(
                "error",
                error_data("invalid_message", "Binary frames are not supported; send JSON text."),
            )
            return
        request_id: str | None = None
        # The type of the message being handled, for the staff page's recent errors.
        request_type: str | None = None
        try:
            try:
                message = parse_client_frame(text_data)
            except ProtocolError as exc:
                observability.message_received(self, None)
                # A malformed frame costs a token like any other.
                if await self._over_rate_limit(ping=False, request_id=exc.request_id):
                    return
                raise
            request_id = message.request_id
            request_type = message.type
            observability.message_received(self, message.type)
            if await self._over_rate_limit(
                ping=message.type == "ping", request_id=request_id, request_type=request_type
            ):
                return
            if message.type == "ping":
                # Answered at once, without the account check: a heartbeat costs no query.
                await self._send("pong", {"server_time": server_time()}, request_id=request_id)
                return
            handler = self.handlers.get(message.type)
            if handler is None:
                raise ProtocolError(
                    "unknown_type",
                    f"Unknown message type {clipped(message.type)!r}.",
                    request_id=request_id,
                )
            if self.view_key_id is not None:
                if not await self._act_as_current_view_key(request_id):
                    return
                if message.type not in VIEW_KEY_MESSAGE_TYPES:
                    raise self._view_key_out_of_scope()
            elif not await self._act_as_current_user(request_id, request_type):
                return
            result = await handler(self, message)
        except ProtocolError as exc:
            await self._send(
                "error",
                error_data(exc.code, exc.message, exc.details),
                request_id=exc.request_id,
                request_type=request_type,
            )
            return
        except DomainError as exc:
            await self._send(
                "error", exc.as_dict(), request_id=request_id, request_type=request_type
            )
            return
        except (OperationalError, InterfaceError):
            logger.warning("database unavailable while handling a frame", exc_info=True)
            await self._send(
                "error",
                error_data("unavailable", "The database is unavailable; try again shortly."),
                request_id=request_id,
                request_type=request_type,
            )
            return
        except Exception:
            # A bug must cost one request, not the connection: the client is told, the
            # traceback is logged, and the socket stays open.
            logger.exception("failed to handle a %s frame", getattr(message, "type", "?"))
            await self._send(
                "error",
                error_data("internal_error", "The server failed to handle this request."),
                request_id=request_id,
                request_type=request_type,
            )
            return
        if not await self._send("ack", result, request_id=request_id, request_type=request_type):
            if message.type == "subscribe":
                # The client never got the snapshot, so it is not subscribed either.
                await self._end_subscription(_graphic_key(message.data.get("graphic_id")))
            return
        self._flush_pending()

    async def _over_rate_limit(
        self, *, ping: bool, request_id: str | None, request_type: str | None = None
    ) -> bool:
        """Apply the connection's rate limit (realtime.limits) to one frame: True if it was
        refused (and the client told, or closed with 4008 for flooding)."""
        rejection = self.rate_limit.check(ping=ping)
        if rejection is None:
            return False
        if rejection.flooding:
            await self._refuse(
                CLOSE_POLICY,
                "rate_limited",
                "Too many messages rejected for exceeding the rate limit; closing.",
                request_id=request_id,
                details={"retry_after": rejection.retry_after},
                request_type=request_type,
            )
            return True
        await self._send(
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

    # -- handlers: one service call each -------------------------------------------------------

    async def handle_subscribe(self, message: ClientMessage) -> dict[str, Any]:
        _allowed_keys(message, {"graphic_id", "last_seq"})
        key = _graphic_key(message.data.get("graphic_id"))
        if self.view_key_id is not None and key != self.view_key_graphic_id:
            raise self._view_key_out_of_scope()
        last_seq = check_seq(message.data.get("last_seq"), field="last_seq")
        check_subscription_room(self.subscriptions, key, request_id=message.request_id)
        hub = get_hub()
        hub.unsubscribe(self, key)
        subscription = self.subscriptions[key] = Subscription()
        hub.subscribe(self, key)
        try:
            start = await database_sync_to_async(subscription_start)(
                key=key, last_seq=last_seq, view_key=self.view_key_id is not None
            )
        except BaseException:
            self.subscriptions.pop(key, None)
            hub.unsubscribe(self, key)
            if key != ALL:
                await get_presence().leave(self, int(key))
            raise
        # Presence is not in the event log: every ack, snapshot or replay, carries it afresh.
        if key == ALL:
            start.ack["presence_counts"] = await get_presence().counts(self)
        else:
            await get_presence().join(self, int(key))
            # An overlay's view key reads the graphic, not who works on it: staff usernames stay
            # with staff (the presence store never counts a view key either).
            if self.view_key_id is None:
                start.ack["presence"] = await get_presence().graphic_presence(self, int(key))
        if last_seq is not None:
            observability.resumed(bool(start.ack.get("recovered")))
        if start.replay is None:
            subscription.last_seq = start.ack["seq"]
        else:
            # The replay goes out after the ack through the pending queue, ahead of the live
            # events that arrived during the read: _flush_pending sends each seq once, in order.
            assert last_seq is not None and subscription.pending is not None
            subscription.last_seq = last_seq
            subscription.pending[:0] = start.replay
        return start.ack

    async def handle_unsubscribe(self, message: ClientMessage) -> dict[str, Any]:
        _allowed_keys(message, {"graphic_id"})
        key = _graphic_key(message.data.get("graphic_id"))
        if not await self._end_subscription(key):
            raise ProtocolError(
                "not_subscribed", f"Not subscribed to {key!r}.", request_id=message.request_id
            )
        return {"graphic_id": key}

    async def _end_subscription(self, key: SubscriptionKey) -> bool:
        """Stop the subscription to `key` and leave its presence; False if there was none."""
        if self.subscriptions.pop(key, None) is None:
            return False
        get_hub().unsubscribe(self, key)
        if key != ALL:
            await get_presence().leave(self, int(key))
        return True

    async def handle_activity(self, message: ClientMessage) -> dict[str, Any]:
        """Say what this connection does on a graphic it is subscribed to (realtime.presence):
        `viewing`, or `editing` (Editors only)."""
        _allowed_keys(message, {"graphic_id", "action"})
        key = _graphic_key(message.data.get("graphic_id"))
        action = message.data.get("action")
        if key == ALL:
            raise ValidationFailed(details={"graphic_id": ['A graphic id, not "all".']})
        if action not in ACTIONS:
            raise ValidationFailed(details={"action": ['"viewing" or "editing".']})
        if key not in self.subscriptions:
            # Presence lasts as long as the subscription: an unsubscribe or a close ends it.
            raise ProtocolError(
                "not_subscribed",
                f"Subscribe to {key!r} before saying what you do there.",
                request_id=message.request_id,
            )
        if action == EDITING:
            await database_sync_to_async(require_permission)(self.user, CHANGE_GRAPHIC)
        await get_presence().set_action(self, int(key), action)
        return {"graphic_id": key, "action": action}

    async def handle_create(self, message: ClientMessage) -> dict[str, Any]:
        _allowed_keys(message, {"title", "event_name", "data"})
        return await database_sync_to_async(_graphic_reply)(
            graphic_create,
            user=self.user,
            title=message.data.get("title"),
            event_name=message.data.get("event_name"),
            data=message.data.get("data"),
        )

    async def handle_update(self, message: ClientMessage) -> dict[str, Any]:
        _allowed_keys(
            message,
            {"graphic_id", "version", "fencing_token", "title", "event_name", "data", "patch"},
        )
        return await database_sync_to_async(_graphic_reply)(
            graphic_update,
            user=self.user,
            graphic_id=message.data.get("graphic_id"),
            version=message.data.get("version"),
            title=message.data.get("title", UNSET),
            event_name=message.data.get("event_name", UNSET),
            data=message.data.get("data", UNSET),
            patch=message.data.get("patch", UNSET),
            fencing_token=message.data.get("fencing_token"),
        )

    async def handle_delete(self, message: ClientMessage) -> dict[str, Any]:
        _allowed_keys(message, {"graphic_id", "reason"})
        graphic_id = message.data.get("graphic_id")
        await database_sync_to_async(graphic_delete)(
            user=self.user, graphic_id=graphic_id, reason=message.data.get("reason", "")
        )
        return {"graphic_id": graphic_id, "deleted": True}

    async def handle_archive(self, message: ClientMessage) -> dict[str, Any]:
        _allowed_keys(message, {"graphic_id", "reason"})
        return await database_sync_to_async(_graphic_reply)(
            graphic_archive,
            user=self.user,
            graphic_id=message.data.get("graphic_id"),
            reason=message.data.get("reason", ""),
        )

    async def handle_restore(self, message: ClientMessage) -> dict[str, Any]:
        _allowed_keys(message, {"graphic_id", "reason"})
        return await database_sync_to_async(_graphic_reply)(
            graphic_restore,
            user=self.user,
            graphic_id=message.data.get("graphic_id"),
            reason=message.data.get("reason", ""),
        )

    async def handle_lock(self, message: ClientMessage) -> dict[str, Any]:
        _allowed_keys(message, {"graphic_id"})
        graphic_id = message.data.get("graphic_id")
        return await database_sync_to_async(_lock_reply)(
            lock_acquire, user=self.user, graphic_id=graphic_id
        )

    async def handle_unlock(self, message: ClientMessage) -> dict[str, Any]:
        _allowed_keys(message, {"graphic_id"})
        graphic_id = message.data.get("graphic_id")
        return await database_sync_to_async(_unlock_reply)(user=self.user, graphic_id=graphic_id)

    async def handle_lock_refresh(self, message: ClientMessage) -> dict[str, Any]:
        _allowed_keys(message, {"graphic_id"})
        graphic_id = message.data.get("graphic_id")
        return await database_sync_to_async(_lock_reply)(
            lock_refresh, user=self.user, graphic_id=graphic_id
        )

    async def handle_lock_override(self, message: ClientMessage) -> dict[str, Any]:
        _allowed_keys(message, {"graphic_id", "reason", "take_over"})
        graphic_id = message.data.get("graphic_id")
        return await database_sync_to_async(_lock_reply)(
            lock_override,
            user=self.user,
            graphic_id=graphic_id,
            reason=message.data.get("reason"),
            take_over=message.data.get("take_over", False),
        )

    async def handle_auth(self, message: ClientMessage) -> dict[str, Any]:
        _allowed_keys(message, {"token"})
        token = message.data.get("token")
        if not isinstance(token, str):
            raise ValidationFailed(details={"token": ["An access token string is required."]})
        try:
            identity = await database_sync_to_async(authenticate_access_token)(token)
        except TokenRejected as exc:
            raise ValidationFailed(exc.message, details={"token": [exc.message]}) from None
        if identity.user.pk != self.user_id:
            raise ValidationFailed(details={"token": ["The token belongs to another user."]})
        if self.scope.get("auth_method") == "token":
            self._schedule_token_expiry(identity.expires_at)
            self.token_family = identity.family
        return {"token_expires_at": identity.expires_at}

    handlers: dict[str, Handler] = {
        "subscribe": handle_subscribe,
        "unsubscribe": handle_unsubscribe,
        "create": handle_create,
        "update": handle_update,
        "delete": handle_delete,
        "archive": handle_archive,
        "restore": handle_restore,
        "lock": handle_lock,
        "unlock": handle_unlock,
        "lock_refresh": handle_lock_refresh,
        "lock_override": handle_lock_override,
        "auth": handle_auth,
        "activity": handle_activity,
    }

    # -- frames out ----------------------------------------------------------------------------

    def deliver(self, key: SubscriptionKey, seq: int, message: dict[str, Any]) -> None:
        """Called by the hub, in seq order, for each event of a subscription of ours. Never
        blocks: the outbox sends now or queues behind a send the socket is still taking."""
        subscription = self.subscriptions.get(key)
        if subscription is None:
            return
        if subscription.pending is not None:
            subscription.pending.append((seq, message))
            return
        if seq <= subscription.last_seq:
            return
        subscription.last_seq = seq
        self.outbox.put(message)

    def deliver_ephemeral(self, key: SubscriptionKey, message: dict[str, Any]) -> None:
        """Called by the hub for a presence frame of a subscription of ours (no seq): held
        back while that subscription's ack is being prepared, so it follows the ack."""
        subscription = self.subscriptions.get(key)
        if subscription is None:
            return
        if subscription.pending is not None:
            subscription.pending_ephemeral.append(message)
            return
        self.outbox.put(message)

    async def hub_command(self, command: dict[str, Any]) -> None:
        """Commands for this connection from any server (see `realtime.hub`)."""
        if command.get("command") == "send":
            self.outbox.put({"type": "websocket.send", "text": command["frame"]})
        elif command.get("command") == "close":
            await self._refuse(
                int(command.get("code", CLOSE_UNAUTHENTICATED)),
                str(command.get("error", "not_authenticated")),
                str(command.get("message", "The server closed this connection.")),
                details=command.get("details"),
            )

    def _flush_pending(self) -> None:
        # Issue 17: a snapshot's or a replay's waiting events go out as one delivery round.
        with delivery_round():
            self._flush_pending_now()

    def _flush_pending_now(self) -> None:
        for subscription in list(self.subscriptions.values()):
            if subscription.pending is None:
                continue
            for seq, message in subscription.pending:
                if seq > subscription.last_seq:
                    subscription.last_seq = seq
                    self.outbox.put(message)
            subscription.pending = None
            for message in subscription.pending_ephemeral:
                self.outbox.put(message)
            subscription.pending_ephemeral = []

    @property
    def username(self) -> str:
        """Who this connection is, in logs and the connection registry: the user's name, or
        `view-key:<id>` (the key's row, never the key itself)."""
        if self.view_key_id is not None:
            return observability.view_key_label(self.view_key_id)
        return str(self.user.get_username())

    # -- supervision (realtime.supervisor) ------------------------------------------------------

    def registry_entry(self) -> ConnectionEntry:
        client = self.scope.get("client")
        return ConnectionEntry(
            connection_id=self.connection_id,
            user_id=self.user_id or 0,
            username=self.username,
            view_key_id=self.view_key_id,
            server_id=get_supervisor().server_id,
            remote_address=f"{client[0]}:{client[1]}" if client else "",
            connected_at=self.connected_at,
            last_seen=time.time() - (time.monotonic() - self.last_received),
            subscriptions=list(getattr(self, "subscriptions", {})),
        )

    def send_heartbeat(self, message: dict[str, Any]) -> None:
        self.outbox.put(message)

    def send_direct(self, message: dict[str, Any]) -> None:
        """A frame for this connection's user rather than a subscription (lock notices)."""
        self.outbox.put(message)

    async def close_over_limit(self) -> None:
        """Its user (or view key) has the most connections allowed, on all servers: 4029. At
        connect; or later, for a connection admitted while the registry was unreachable, once
        Redis returns (realtime.supervisor)."""
        if self.view_key_id is not None:
            message = (
                f"This overlay view key already has {settings.WS_MAX_CONNECTIONS_PER_VIEW_KEY}"
                " connections open, the most allowed; close another scene or preview using it, "
                "then reconnect."
            )
        else:
            message = (
                f"You already have {settings.WS_MAX_CONNECTIONS_PER_USER} connections open, the "
                "most allowed; close another tab or window, then reconnect."
            )
        await self._refuse(CLOSE_TOO_MANY_CONNECTIONS, "too_many_connections", message)

    async def close_idle(self) -> None:
        await self._refuse(
            CLOSE_IDLE,
            "idle_timeout",
            f"Nothing received for {settings.WS_IDLE_TIMEOUT_SECONDS:g} s; answer each "
            "heartbeat with a ping. Reconnect and resume.",
        )

    def _slow_consumer(self) -> None:
        """The client stopped reading and its backlog passed WS_SEND_BACKLOG_BYTES: close it
        (4009) rather than buffer without bound; it reconnects and resumes from its seq."""
        logger.warning("closing slow consumer %s", self.connection_id)
        self._closing_task = asyncio.ensure_future(self._close_slow_consumer())

    async def _close_slow_consumer(self) -> None:
        self._close_code = CLOSE_SLOW_CONSUMER
        if getattr(self, "_attached", False):
            self._attached = False
            await get_hub().detach(self)
        await self._release()
        self.outbox.cancel()
        with contextlib.suppress(Exception):
            await self.base_send({"type": "websocket.close", "code": CLOSE_SLOW_CONSUMER})

    async def _send(
        self,
        message_type: str,
        data: dict[str, Any],
        *,
        request_id: str | None = None,
        request_type: str | None = None,
    ) -> bool:
        """Send one frame; `request_type` names the client message an `error` answers.

        A frame over WS_MAX_MESSAGE_BYTES would never arrive (daphne refuses to send it and
        drops it without a word; issue 14 saw a `subscribe` go unanswered so), so it is
        replaced by a small `reply_too_large` error: every request still gets exactly one
        reply. Returns False when it was replaced."""
        text = encode_frame(message_type, data, request_id=request_id)
        whole = not message_too_large(text, None)
        if not whole:
            limit = settings.WS_MAX_MESSAGE_BYTES
            logger.warning(
                "a %s reply of %d bytes is over WS_MAX_MESSAGE_BYTES (%d): sent reply_too_large",
                message_type,
                len(text.encode()),
                limit,
            )
            message_type = "error"
            data = error_data(
                "reply_too_large",
                f"The reply is over the {limit} bytes a message may have, so it was not sent.",
                {"limit": limit},
            )
            text = encode_frame(message_type, data, request_id=request_id)
        observability.frame_sent(self, message_type, data, request_type=request_type)
        self.outbox.put({"type": "websocket.send", "text": text})
        return whole

"""
One admitted WebSocket connection, as the subsystems see it.

The consumer (realtime.connection.consumers) is the ASGI adapter; once a connection has passed the
handshake's checks it opens a `ConnectionSession`, which admits it (realtime.connection.supervisor),
attaches it to the hub (realtime.delivery.hub), and from then on owns what exists only for an
admitted connection: its identity (re-checked at each request), its subscriptions, the outbox every
frame leaves through (realtime.connection.outbox), its token-expiry timer. It is the one object that
the hub (HubMember, which includes what the lock notices and the broadcast probe need), the
supervisor (SupervisedConnection) and presence (PresenceMember) hold. `close()` is the one teardown,
whichever way the connection ends: the client closing, the server refusing, a slow consumer, a
server shutting down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model

from gal_dashboard.access import VIEW_GRAPHIC, user_ref
from graphics.selectors import view_key_active
from realtime.connection.auth import VIEW_KEY_REVOKED_MESSAGE
from realtime.connection.batching import delivery_round, wants_batches
from realtime.connection.limits import FrameRateLimit, message_too_large
from realtime.connection.outbox import Message, Outbox, direct_text_writer
from realtime.connection.subscription import Subscription
from realtime.connection.supervisor import get_supervisor
from realtime.db import database_sync_to_async
from realtime.delivery.frames import ALL, SubscriptionKey
from realtime.delivery.hub import get_hub
from realtime.ops import observability
from realtime.ops.registry import ConnectionEntry
from realtime.presence.tracker import get_presence
from realtime.protocol import (
    CLOSE_FORBIDDEN,
    CLOSE_IDLE,
    CLOSE_SLOW_CONSUMER,
    CLOSE_TOO_MANY_CONNECTIONS,
    CLOSE_UNAUTHENTICATED,
    PROTOCOL_VERSION,
    encode_frame,
    error_data,
    server_time,
)

logger = logging.getLogger(__name__)


class ConnectionSession:
    """An admitted connection: what the hub (HubMember), the supervisor
    (SupervisedConnection), presence (PresenceMember) and the lock notices (NoticeRecipient)
    each take, in one object."""

    def __init__(
        self,
        *,
        scope: dict[str, Any],
        send: Callable[[Message], Awaitable[Any]],
        connection_id: str,
        connected_at: float,
    ) -> None:
        self.scope = scope
        self.connection_id = connection_id
        self.connected_at = connected_at
        self.last_received = time.monotonic()
        self.rate_limit = FrameRateLimit.from_settings()
        self.user = scope["user"]
        self.user_id: int | None = self.user.pk if self.user.is_authenticated else None
        self.token_family: str | None = scope.get("token_family")
        # Set for a connection opened with a session cookie: logging out of it closes us.
        self.session_digest: str | None = scope.get("session_digest")
        # Set for a connection opened with an overlay view key (then user_id is None).
        self.view_key_id: int | None = scope.get("view_key_id")
        self.view_key_graphic_id: int | None = scope.get("view_key_graphic_id")
        self.subscriptions: dict[SubscriptionKey, Subscription] = {}
        # The close code the server chose, and the type of the client message that caused it.
        self.close_code: int | None = None
        self.close_cause: str | None = None
        self._send_now = send
        self._expiry_task: asyncio.Task[None] | None = None
        self._closing_task: asyncio.Task[None] | None = None
        self._admitted = False  # registered with this process's supervisor (and the registry)
        self._attached = False  # a member of this process's hub: gets events, handles frames
        # Every frame after the handshake, replies and events alike, leaves through the outbox,
        # so they stay in order and a client that stops reading cannot stall the hub.
        self.outbox = Outbox(
            send,
            limit_bytes=settings.WS_SEND_BACKLOG_BYTES,
            on_overflow=self._slow_consumer,
            # `?batch=1` opts in to `batch` frames (realtime.connection.batching, issue 17).
            batch=wants_batches(scope),
            batch_max_bytes=settings.WS_MAX_MESSAGE_BYTES,
            write_text=direct_text_writer(scope),
        )

    # -- lifecycle -----------------------------------------------------------------------------

    async def open(self) -> bool:
        """Admit (or close with 4029 over the limit), attach to the hub, send `welcome`."""
        if not await get_supervisor().admit(self):
            await self.close_over_limit()
            return False
        self._admitted = True
        await get_hub().attach(self)
        self._attached = True
        self.schedule_token_expiry(self.scope.get("token_expires_at"))
        await self.send_frame(
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
                # Whether waiting frames come as `batch` frames (`?batch=1`, issue 17).
                "batch": self.outbox.batch,
            },
        )
        return True

    @property
    def live(self) -> bool:
        """Whether it still takes events and handles frames (not closing)."""
        return self._attached

    async def close(self) -> None:
        """Leave everything, once: the token timer, the hub (no more events), the supervisor
        and the connection registry, presence. Safe to call again, and from a cancelled task."""
        expiry, self._expiry_task = self._expiry_task, None
        if expiry is not None and expiry is not asyncio.current_task():
            expiry.cancel()
        if self._attached:
            self._attached = False
            await get_hub().detach(self)
        if self._admitted:
            self._admitted = False
            leave = asyncio.ensure_future(self._leave_everything())
            try:
                await asyncio.shield(leave)
            except asyncio.CancelledError:
                # A server shutting down cancels connections mid-close: finish removing the
                # registry entry first (daphne waits for this task), then stop.
                await leave
                raise

    async def _leave_everything(self) -> None:
        await get_supervisor().release(self)
        # Any close counts as leaving every graphic (realtime.presence.tracker).
        await get_presence().release(self)

    def closed_by_client(self, code: int) -> None:
        if self.close_code is None:
            self.close_code = code  # the client closed (or the connection dropped)

    async def refuse(
        self,
        close_code: int,
        error_code: str,
        message: str,
        *,
        request_id: str | None = None,
        details: dict[str, Any] | None = None,
        request_type: str | None = None,
    ) -> None:
        """Tell the client why, and close with `close_code`. Events and frames stop now, not
        when the client completes the close: a connection refused for an expired token must
        not write in the meantime."""
        self.close_code = close_code
        self.close_cause = request_type  # for the staff page's recent errors
        await self.close()
        await self.send_frame(
            "error",
            error_data(error_code, message, details),
            request_id=request_id,
            request_type=request_type,
        )
        self.outbox.put({"type": "websocket.close", "code": close_code})

    # -- identity ------------------------------------------------------------------------------

    @property
    def username(self) -> str:
        """Who this connection is, in logs and the connection registry: the user's name, or
        `view-key:<id>` (the key's row, never the key itself)."""
        if self.view_key_id is not None:
            return observability.view_key_label(self.view_key_id)
        return str(self.user.get_username())

    def _load_current_user(self) -> tuple[Any, bool]:
        """(the user as the database has them now or None if gone or deactivated, whether they
        may view graphics). Runs in a thread."""
        if self.user_id is None:
            return None, False
        user = get_user_model().objects.filter(pk=self.user_id, is_active=True).first()
        return user, user is not None and user.has_perm(VIEW_GRAPHIC)

    async def recheck_identity(self, request_id: str | None, request_type: str) -> bool:
        """Before each request: take the user afresh, so that deactivating an account or
        changing its roles applies to open connections at their next request, as it does to
        the next REST call; a view key must still be its graphic's active key. Refuse and
        close, as at connect, once the connection may no longer be here; return whether to go
        on."""
        if self.view_key_id is not None:
            return await self._recheck_view_key(request_id)
        user, can_view = await database_sync_to_async(self._load_current_user)()
        if user is None:
            refusal = (
                CLOSE_UNAUTHENTICATED,
                "not_authenticated",
                "Your account is no longer active; log in again.",
            )
        elif user.password != self.user.password:
            # The password changed since we connected (its save closes us; this catches a
            # close command that was lost, or a password written by a queryset update): the
            # token or session we connected with is revoked.
            refusal = (
                CLOSE_UNAUTHENTICATED,
                "token_revoked",
                "Your password was changed; log in again.",
            )
        elif not can_view:
            refusal = (
                CLOSE_FORBIDDEN,
                "permission_denied",
                "You no longer have permission to view graphics.",
            )
        else:
            self.user = user
            return True
        await self.refuse(*refusal, request_id=request_id, request_type=request_type)
        return False

    async def _recheck_view_key(self, request_id: str | None) -> bool:
        assert self.view_key_graphic_id is not None
        active = await database_sync_to_async(view_key_active)(graphic_id=self.view_key_graphic_id)
        if active is not None and active.pk == self.view_key_id:
            return True
        await self.close_revoked_view_key(request_id=request_id)
        return False

    def schedule_token_expiry(self, expires_at: int | None) -> None:
        if self._expiry_task is not None:
            self._expiry_task.cancel()
            self._expiry_task = None
        if expires_at is not None:
            self._expiry_task = asyncio.create_task(self._close_at_expiry(expires_at))

    async def _close_at_expiry(self, expires_at: int) -> None:
        await asyncio.sleep(max(0.0, expires_at - time.time()))
        # From here on this task is the close itself: close() must not cancel it halfway.
        self._expiry_task = None
        await self.refuse(
            CLOSE_UNAUTHENTICATED,
            "token_expired",
            "Your access token expired; send a fresh one with `auth` in time.",
        )

    # -- closes the subsystems ask for ---------------------------------------------------------

    async def close_revoked_view_key(self, *, request_id: str | None = None) -> None:
        """The view key of this connection was revoked (or its graphic deleted): 4001."""
        await self.refuse(
            CLOSE_UNAUTHENTICATED,
            "view_key_revoked",
            VIEW_KEY_REVOKED_MESSAGE,
            request_id=request_id,
        )

    async def close_over_limit(self) -> None:
        """Its user (or view key) has the most connections allowed, on all servers: 4029. At
        connect; or later, for a connection admitted while the registry was unreachable, once
        Redis returns (realtime.connection.supervisor)."""
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
        await self.refuse(CLOSE_TOO_MANY_CONNECTIONS, "too_many_connections", message)

    async def close_idle(self) -> None:
        await self.refuse(
            CLOSE_IDLE,
            "idle_timeout",
            f"Nothing received for {settings.WS_IDLE_TIMEOUT_SECONDS:g} s; answer each "
            "heartbeat with a ping. Reconnect and resume.",
        )

    async def hub_command(self, command: dict[str, Any]) -> None:
        """Commands for this connection from any server (see `realtime.delivery.hub`)."""
        if command.get("command") == "send":
            self.outbox.put({"type": "websocket.send", "text": command["frame"]})
        elif command.get("command") == "close":
            await self.refuse(
                int(command.get("code", CLOSE_UNAUTHENTICATED)),
                str(command.get("error", "not_authenticated")),
                str(command.get("message", "The server closed this connection.")),
                details=command.get("details"),
            )

    def _slow_consumer(self) -> None:
        """The client stopped reading and its backlog passed WS_SEND_BACKLOG_BYTES: close it
        (4009) rather than buffer without bound; it reconnects and resumes from its seq."""
        logger.warning("closing slow consumer %s", self.connection_id)
        self._closing_task = asyncio.ensure_future(self._close_slow_consumer())

    async def _close_slow_consumer(self) -> None:
        self.close_code = CLOSE_SLOW_CONSUMER
        await self.close()
        self.outbox.cancel()
        with contextlib.suppress(Exception):
            await self._send_now({"type": "websocket.close", "code": CLOSE_SLOW_CONSUMER})

    # -- subscriptions and deliveries ----------------------------------------------------------

    async def end_subscription(self, key: SubscriptionKey) -> bool:
        """Stop the subscription to `key` and leave its presence; False if there was none."""
        if self.subscriptions.pop(key, None) is None:
            return False
        get_hub().unsubscribe(self, key)
        if key != ALL:
            await get_presence().leave(self, int(key))
        return True

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

    def flush_pending(self) -> None:
        """After an ack: send what waited behind the snapshot or replay, each seq once, as one
        delivery round (one `batch` frame where the client opted in)."""
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

    def send_heartbeat(self, message: dict[str, Any]) -> None:
        self.outbox.put(message)

    def send_direct(self, message: dict[str, Any]) -> None:
        """A frame for this connection's user rather than a subscription (lock notices)."""
        self.outbox.put(message)

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
            subscriptions=list(self.subscriptions),
        )

    async def send_frame(
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

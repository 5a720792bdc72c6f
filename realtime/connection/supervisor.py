"""
The connection supervisor: one per server process (per event loop), beside the hub.

It admits each new connection through the connection registry (`realtime.ops.registry`), which
enforces WS_MAX_CONNECTIONS_PER_USER (WS_MAX_CONNECTIONS_PER_VIEW_KEY for an overlay's view key)
across servers, and then runs ONE timer loop for all of this process's connections, so ten
thousand idle sockets cost a dictionary entry each, not a task each. Every tick it:

- closes (4000) the connections from which nothing has arrived for WS_IDLE_TIMEOUT_SECONDS;
- closes (4001) the connections whose overlay view key has been revoked: revoking closes them
  at once through the channel layer (realtime.delivery.signals); this catches a command that was
lost;
- every WS_HEARTBEAT_INTERVAL_SECONDS, sends every connection the same `heartbeat` frame
  (encoded once) and renews every connection's registry entry in one round trip, and its
  presence entries in another (`realtime.presence.tracker`);
- sweeps expired presence entries (those of a crashed server) and announces who left.

A connection that arrives while the registry is unreachable (Redis away) is admitted without an
entry, and counted (realtime.ops.observability). Once Redis has answered again for a heartbeat
interval, each such connection is registered through the same limit check, oldest first, and
those over the limit then are closed with 4029 (`register_unregistered`).

See docs/protocol.md ("Heartbeats and idle close") for what clients see and must answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from django.conf import settings

from graphics.selectors import view_keys_active_among
from realtime.db import database_sync_to_async
from realtime.ops import observability
from realtime.ops.redis_outage import redis_outage
from realtime.ops.registry import (
    ConnectionEntry,
    ConnectionRegistry,
    connection_registry,
    server_id,
)
from realtime.per_loop import PerLoop
from realtime.presence.tracker import get_presence
from realtime.protocol import encode_frame, server_time

logger = logging.getLogger(__name__)

# Idle connections are looked for this many times per idle timeout, so one is closed at most a
# quarter of the timeout late (and at least once per heartbeat interval).
IDLE_CHECKS_PER_TIMEOUT = 4


class SupervisedConnection(Protocol):
    """What the supervisor needs of a connection (realtime.connection.session.ConnectionSession)."""

    connection_id: str
    last_received: float  # time.monotonic() of the last frame from the client
    view_key_id: int | None  # the overlay view key it was opened with, if any

    def registry_entry(self) -> ConnectionEntry: ...

    def send_heartbeat(self, message: dict[str, Any]) -> None:
        """Queue the heartbeat's ASGI send message; must not block."""

    async def close_idle(self) -> None: ...

    async def close_revoked_view_key(self) -> None: ...

    async def close_over_limit(self) -> None:
        """Close with 4029: admitted while the registry was unreachable, over the limit since."""


class ConnectionSupervisor:
    def __init__(self) -> None:
        self.server_id = server_id()
        self.members: dict[str, SupervisedConnection] = {}
        self._entries: dict[str, ConnectionEntry] = {}  # as admitted: for removal
        # Admitted while the registry was unreachable: no entry, not counted against the limit.
        self._unregistered: set[str] = set()
        self._registry: ConnectionRegistry | None = None
        self._task: asyncio.Task[None] | None = None
        self._busy = 0  # admissions and releases awaiting the registry
        self._refreshing = False
        self._left_while_refreshing: list[ConnectionEntry] = []
        self._stopping: asyncio.Future[None] | None = None
        self._ticking = False  # the loop is in the middle of a tick

    @property
    def registry(self) -> ConnectionRegistry:
        if self._registry is None:
            self._registry = connection_registry()
        return self._registry

    # -- membership ----------------------------------------------------------------------------

    async def admit(self, member: SupervisedConnection) -> bool:
        """Register `member` and supervise it; False (and nothing registered) if its user has
        WS_MAX_CONNECTIONS_PER_USER connections open already, on any server (its view key
        WS_MAX_CONNECTIONS_PER_VIEW_KEY)."""
        entry = member.registry_entry()
        # Refusing every connection while Redis is away would take the whole dashboard down;
        # admitting unregistered ones only loosens the limit until Redis returns and
        # `register_unregistered` applies it again. While Redis is away the warning is folded
        # into the outage's one (realtime.ops.redis_outage).
        registered = await self._register(
            entry, failure="connection registry unavailable; admitting %s unregistered"
        )
        unregistered = registered is None
        admitted = registered is not False
        if admitted:
            self.members[entry.connection_id] = member
            self._entries[entry.connection_id] = entry
            if unregistered:
                self._unregistered.add(entry.connection_id)
                observability.admitted_unregistered()
            self._ensure_running()
        return admitted

    async def _register(self, entry: ConnectionEntry, *, failure: str) -> bool | None:
        """Add `entry` to the registry within its owner's limit: whether it was added, or None
        when the registry did not answer (logged as `failure`, with the connection id)."""
        with self._in_flight():
            try:
                return await self.registry.admit(entry, limit=connection_limit(entry))
            except Exception:
                logger.warning(failure, entry.connection_id, exc_info=True)
                return None

    @contextmanager
    def _in_flight(self) -> Iterator[None]:
        """Counts a registry call in flight: the loop does not stop under it."""
        self._busy += 1
        try:
            yield
        finally:
            self._busy -= 1

    async def release(self, member: SupervisedConnection) -> None:
        """Stop supervising `member` and remove its registry entry. Idempotent."""
        self.members.pop(member.connection_id, None)
        if member.connection_id in self._unregistered:
            self._unregistered.discard(member.connection_id)
            observability.unregistered_resolved("closed")
        entry = self._entries.pop(member.connection_id, None)
        if entry is not None:
            if self._refreshing:
                # A refresh in flight may store the entry again after we remove it.
                self._left_while_refreshing.append(entry)
            await self._remove([entry])
        if not self.members and not self._busy:
            self._stop_soon()

    async def _remove(self, entries: list[ConnectionEntry]) -> None:
        with self._in_flight():
            try:
                await self.registry.remove(entries)
            except Exception:
                logger.warning("could not remove registry entries; they expire", exc_info=True)

    # -- the loop ------------------------------------------------------------------------------

    def _ensure_running(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="connection-supervisor")

    def _stop_soon(self) -> None:
        """Stop the loop without waiting for it: a release may run inside the loop's own task
        (closing an idle connection), and waiting for that task there would never end."""
        task, self._task = self._task, None
        registry, self._registry = self._registry, None
        if task is not None or registry is not None:
            self._stopping = asyncio.ensure_future(self._finish_stopping(task, registry))

    async def _finish_stopping(
        self, task: asyncio.Task[None] | None, registry: ConnectionRegistry | None
    ) -> None:
        if task is not None:
            if not self._ticking:
                task.cancel()
            # else: the loop is closing idle connections (one of which ended up here); it
            # returns by itself when that is done, and cancelling it would cut a close short.
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if registry is not None:
            with contextlib.suppress(Exception):
                await registry.close()

    async def stop(self) -> None:
        """Stop the loop and close the registry client, and wait until both are done."""
        self._stop_soon()
        stopping, self._stopping = self._stopping, None
        if stopping is not None and stopping is not asyncio.current_task():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await stopping

    @staticmethod
    def tick_seconds() -> float:
        return min(
            float(settings.WS_HEARTBEAT_INTERVAL_SECONDS),
            float(settings.WS_IDLE_TIMEOUT_SECONDS) / IDLE_CHECKS_PER_TIMEOUT,
        )

    async def _run(self) -> None:
        this_task = asyncio.current_task()
        next_heartbeat = time.monotonic() + settings.WS_HEARTBEAT_INTERVAL_SECONDS
        while self._task is this_task:
            await asyncio.sleep(self.tick_seconds())
            self._ticking = True
            try:
                await self.close_idle_connections()
                if self._task is not this_task:
                    return  # closing the last idle connection stopped the supervisor
                await self.close_revoked_view_keys()
                if self._task is not this_task:
                    return
                if time.monotonic() >= next_heartbeat:
                    next_heartbeat = time.monotonic() + settings.WS_HEARTBEAT_INTERVAL_SECONDS
                    self.send_heartbeats()
                    await self.refresh_registry()
                    await self.register_unregistered()
                    await get_presence().refresh()
                # Every tick, so a crashed server's users leave within TTL + one tick.
                await get_presence().sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("connection supervisor tick failed")
            finally:
                self._ticking = False

    async def close_idle_connections(self) -> None:
        deadline = time.monotonic() - settings.WS_IDLE_TIMEOUT_SECONDS
        idle = [member for member in self.members.values() if member.last_received < deadline]
        for member in idle:
            await self._drop(member, member.close_idle, "closing idle connection %s failed")

    async def close_revoked_view_keys(self) -> None:
        """Close the connections whose view key is no longer active: one query, and only when
        this process holds view-key connections."""
        by_key: dict[int, list[SupervisedConnection]] = {}
        for member in self.members.values():
            if member.view_key_id is not None:
                by_key.setdefault(member.view_key_id, []).append(member)
        if not by_key:
            return
        try:
            active = await database_sync_to_async(view_keys_active_among)(list(by_key))
        except Exception:
            logger.warning("could not check view keys; retrying at the next tick", exc_info=True)
            return
        for view_key_id, members in by_key.items():
            if view_key_id in active:
                continue
            for member in members:
                await self._drop(
                    member, member.close_revoked_view_key, "closing connection %s failed"
                )

    async def _drop(
        self, member: SupervisedConnection, close: Callable[[], Awaitable[None]], failure: str
    ) -> None:
        """Close `member` with `close` (a failure is logged as `failure`, with the connection
        id). Closed or not, it is no longer looked after: its disconnect releases it."""
        try:
            await close()
        except Exception:
            logger.exception(failure, member.connection_id)
        self.members.pop(member.connection_id, None)

    def send_heartbeats(self) -> None:
        frame = encode_frame(
            "heartbeat",
            {
                "server_time": server_time(),
                "interval": settings.WS_HEARTBEAT_INTERVAL_SECONDS,
                "idle_timeout": settings.WS_IDLE_TIMEOUT_SECONDS,
            },
        )
        message = {"type": "websocket.send", "text": frame}
        for member in list(self.members.values()):
            try:
                member.send_heartbeat(message)
            except Exception:
                logger.exception("heartbeat to %s failed", member.connection_id)

    async def refresh_registry(self) -> None:
        # Not the connections admitted unregistered: a refresh stores entries without the limit
        # check, which `register_unregistered` applies to them.
        entries = [
            member.registry_entry()
            for connection_id, member in self.members.items()
            if connection_id not in self._unregistered
        ]
        self._refreshing = True
        try:
            await self.registry.refresh(entries)
        except Exception:
            logger.warning("could not refresh the connection registry", exc_info=True)
        finally:
            self._refreshing = False
        for entry in entries:
            if entry.connection_id in self._entries:
                self._entries[entry.connection_id] = entry
        left, self._left_while_refreshing = self._left_while_refreshing, []
        if left:
            await self._remove(left)

    async def register_unregistered(self) -> None:
        """Register the connections admitted while the registry was unreachable, oldest first,
        through the limit check, and close (4029) those over the limit. Only once Redis has
        answered for a whole heartbeat interval: by then every server has renewed the entries of
        the connections it admitted normally (an outage without persistence loses them all), so
        those count first, and the connections closed are the ones the limit would have refused."""
        if not self._unregistered:
            return
        if redis_outage.answering_for() < settings.WS_HEARTBEAT_INTERVAL_SECONDS:
            return
        pending = sorted(
            (
                (member.registry_entry(), member)
                for connection_id, member in self.members.items()
                if connection_id in self._unregistered
            ),
            key=lambda pair: pair[0].connected_at,
        )
        over_limit: list[SupervisedConnection] = []
        for entry, member in pending:
            registered = await self._register(
                entry, failure="could not register connection %s; retrying at the next heartbeat"
            )
            if registered is None:
                return
            admitted = registered
            if entry.connection_id not in self._unregistered:
                # It closed meanwhile, and its release had no entry to remove yet.
                if admitted:
                    await self._remove([entry])
                continue
            self._unregistered.discard(entry.connection_id)
            if admitted:
                self._entries[entry.connection_id] = entry
                observability.unregistered_resolved("registered")
            else:
                observability.unregistered_resolved("over_limit")
                over_limit.append(member)
        for member in over_limit:
            try:
                await member.close_over_limit()
            except Exception:
                logger.exception("closing connection %s failed", member.connection_id)


def connection_limit(entry: ConnectionEntry) -> int:
    """How many connections the entry's owner may hold: a user, or an overlay's view key."""
    if entry.view_key_id is None:
        return int(settings.WS_MAX_CONNECTIONS_PER_USER)
    return int(settings.WS_MAX_CONNECTIONS_PER_VIEW_KEY)


_supervisors = PerLoop(ConnectionSupervisor)


def get_supervisor() -> ConnectionSupervisor:
    """The supervisor of the running event loop (one per server process)."""
    return _supervisors.get()

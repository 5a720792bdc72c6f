"""
The hub: one per server process (per event loop), between the event log and the sockets. Its one
job is ordered delivery of the log to this process's sockets.

Every committed event reaches each hub once, as one channel-layer message to the group
`gal.hub` (one Redis PUBLISH for all servers). The hub then fans it out in-process to the
connections subscribed to that graphic and to the list ("all"), serialising the frame once per
audience rather than once per socket (realtime.frames), and never sending one channel-layer
message per member.

The hub also guarantees order and completeness: it keeps a cursor (the last seq delivered) and
delivers strictly in seq order. A message whose seq is not the next one makes it read the
missing events from the log; a periodic read of the log picks up anything whose broadcast was
lost (Redis away, a process without a channel layer). Because seqs are assigned in commit order
(`EventManager.append`), "everything up to seq N" is complete once N has committed.

Two loops start and stop with it: the broadcast probe (realtime.broadcast_probe), which tells
connections when broadcasts are lost and come back, and the lock housekeeping
(realtime.housekeeping), which expires locks and tells holders of `lock_expiring` and
`lock_lost`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections import defaultdict
from collections.abc import Iterable
from typing import Any, Protocol

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from realtime import observability
from realtime.batching import WaitingReader, delivery_round
from realtime.broadcast_probe import BroadcastProbe
from realtime.events import HUB_GROUP
from realtime.frames import (
    ALL,
    EventFrames,
    SubscriptionKey,
    presence_counts_message,
    user_activity_messages,
)
from realtime.housekeeping import LockHousekeeping
from realtime.per_loop import PerLoop
from realtime.snapshots import events_after, latest_seq

logger = logging.getLogger(__name__)

# How many events one catch-up read fetches at a time.
CATCH_UP_BATCH = 500


class HubMember(Protocol):
    """A connection the hub delivers to (the WebSocket consumer)."""

    connection_id: str
    user_id: int | None
    token_family: str | None
    session_digest: str | None  # a connection opened with a session (realtime.auth)
    view_key_id: int | None  # a connection opened with an overlay view key
    view_key_graphic_id: int | None  # the graphic that key reads

    def deliver(self, key: SubscriptionKey, seq: int, message: dict[str, Any]) -> None:
        """Take an event's ASGI send message; must not block (see realtime.outbox)."""

    async def hub_command(self, command: dict[str, Any]) -> None: ...

    def deliver_ephemeral(self, key: SubscriptionKey, message: dict[str, Any]) -> None:
        """Take a frame without a seq (presence, realtime.presence); must not block."""

    def send_direct(self, message: dict[str, Any]) -> None:
        """Queue an ASGI send message outside any subscription (realtime.lock_notices)."""

    async def close_revoked_view_key(self) -> None:
        """Close a view-key connection whose key no longer works (its graphic was deleted)."""


class EventHub:
    def __init__(self) -> None:
        self.cursor = 0
        self.members: dict[str, HubMember] = {}
        self.subscriptions: dict[SubscriptionKey, set[HubMember]] = defaultdict(set)
        self._deliver_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._started: asyncio.Future[None] | None = None
        self._channel_name: str | None = None
        self._keep_running = False
        self.probe = BroadcastProbe(catch_up=self.catch_up, recipients=self._all_members)
        self.housekeeping = LockHousekeeping(members=self._all_members)
        # Closes started from a delivery (which cannot wait for them), kept until they finish.
        self._closing: set[asyncio.Future[None]] = set()

    # -- lifecycle -----------------------------------------------------------------------------

    async def ensure_started(self) -> None:
        if self._started is None:
            self._started = asyncio.get_running_loop().create_future()
            try:
                await self._start()
            except BaseException as exc:
                self._started.set_exception(exc)
                self._started = None
                raise
            self._started.set_result(None)
        await asyncio.shield(self._started)

    async def _start(self) -> None:
        layer = get_channel_layer()
        if layer is not None:
            self._channel_name = channel_name = await layer.new_channel()
            await layer.group_add(HUB_GROUP, channel_name)
        self.cursor = await database_sync_to_async(latest_seq)()
        if layer is not None:
            self._tasks.append(asyncio.create_task(self._listen(layer), name="hub-listen"))
            probe = self.probe.run(layer, channel_name=channel_name)
            self._tasks.append(asyncio.create_task(probe, name="hub-probe"))
        self._tasks.append(asyncio.create_task(self._poll_log(), name="hub-poll"))
        self._tasks.append(asyncio.create_task(self.housekeeping.run(), name="hub-lock-expiry"))

    @property
    def running(self) -> bool:
        return self._started is not None and self._started.done()

    def keep_running(self) -> None:
        """Keep the hub alive without members (a server process serving HTTP too)."""
        self._keep_running = True

    async def stop(self) -> None:
        # Reset first: if this coroutine is itself cancelled below, the hub can still restart.
        self._started = None
        channel_name, self._channel_name = self._channel_name, None
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        layer = get_channel_layer()
        if layer is not None and channel_name is not None:
            with contextlib.suppress(Exception):
                await layer.group_discard(HUB_GROUP, channel_name)

    # -- membership ----------------------------------------------------------------------------

    async def attach(self, member: HubMember) -> None:
        await self.ensure_started()
        self.members[member.connection_id] = member

    async def detach(self, member: HubMember) -> None:
        self.members.pop(member.connection_id, None)
        for key in [key for key, members in self.subscriptions.items() if member in members]:
            self.unsubscribe(member, key)
        if not self.members and not self._keep_running:
            await self.stop()

    def subscribe(self, member: HubMember, key: SubscriptionKey) -> None:
        self.subscriptions[key].add(member)

    def unsubscribe(self, member: HubMember, key: SubscriptionKey) -> None:
        members = self.subscriptions.get(key)
        if members is not None:
            members.discard(member)
            if not members:
                del self.subscriptions[key]

    def members_of_user(self, user_id: int) -> Iterable[HubMember]:
        return [member for member in self.members.values() if member.user_id == user_id]

    def _all_members(self) -> list[HubMember]:
        return list(self.members.values())

    # -- delivery ------------------------------------------------------------------------------

    async def receive_committed(self, message: dict[str, Any]) -> None:
        """Handle one published event: deliver it in order, reading any gap from the log."""
        async with self._deliver_lock:
            seq = message["seq"]
            if seq <= self.cursor:
                return
            if seq > self.cursor + 1:
                await self._catch_up_locked(until=seq - 1)
            if seq > self.cursor:
                self._fan_out(
                    EventFrames(
                        seq=seq,
                        graphic_id=message["graphic_id"],
                        event_type=message["event_type"],
                        data=message["data"],
                    )
                )

    async def catch_up(self) -> None:
        async with self._deliver_lock:
            await self._catch_up_locked(until=None)

    async def _catch_up_locked(self, *, until: int | None) -> None:
        while True:
            events = await database_sync_to_async(events_after)(
                seq=self.cursor, limit=CATCH_UP_BATCH
            )
            # Issue 17: events read together are delivered together (batched where opted in).
            with delivery_round(len(events) > 1):
                for event in events:
                    if until is not None and event.pk > until:
                        return
                    self._fan_out(EventFrames.from_event(event))
            if len(events) < CATCH_UP_BATCH:
                return

    def _fan_out(self, frames: EventFrames) -> None:
        """Hand the event to every local subscriber: synchronous, so no socket can make the
        others wait, and one encoded message per audience (the list, the graphic's staff, the
        graphic's view keys)."""
        self.cursor = frames.seq
        recipients = 0
        graphic_members = self.subscriptions.get(frames.graphic_id)
        if graphic_members:
            for member in list(graphic_members):
                message = frames.for_member(member)
                self._deliver_to(member, frames.graphic_id, frames.seq, message)
            recipients += len(graphic_members)
        list_members = self.subscriptions.get(ALL)
        if list_members:
            message = frames.for_list()
            for member in list(list_members):
                self._deliver_to(member, ALL, frames.seq, message)
            recipients += len(list_members)
        observability.events_delivered(frames.event_type, recipients, frames.data.get("timestamp"))
        if frames.event_type == "lock_status":
            self.housekeeping.tell_lock_lost(frames.data)
        elif frames.event_type == "graphic_update" and frames.data.get("action") == "deleted":
            self._close_overlays_of(frames.graphic_id)

    def _close_overlays_of(self, graphic_id: int) -> None:
        """A deleted graphic's view keys went with it: close the connections opened with them,
        after they got the `deleted` event. Driven by the event, which every hub gets (from the
        log if its broadcast was lost), so it needs no command between servers."""
        for member in list(self.members.values()):
            if member.view_key_graphic_id == graphic_id:
                closing = asyncio.ensure_future(member.close_revoked_view_key())
                self._closing.add(closing)
                closing.add_done_callback(self._closing.discard)

    def _deliver_to(
        self, member: HubMember, key: SubscriptionKey, seq: int, message: dict[str, Any]
    ) -> None:
        # One broken connection must not stop delivery to the others.
        try:
            member.deliver(key, seq, message)
        except Exception:
            logger.exception("delivery to connection %s failed", member.connection_id)

    def fan_out_presence(self, message: dict[str, Any]) -> None:
        """Hand a presence change (realtime.presence) to the graphic's local subscribers and
        its counts to the list's: frames without a seq, outside the event order."""
        graphic_members = self.subscriptions.get(message["graphic_id"])
        if graphic_members:
            changes = message["changes"]
            if len(graphic_members) > settings.PRESENCE_ANNOUNCE_MAX_AUDIENCE:
                # An on-air audience (hundreds of overlays and viewers) joining would otherwise
                # cost each join one frame per member: N² frames for N arrivals. Such an
                # audience hears only who starts editing; acks still carry the whole presence.
                changes = [change for change in changes if change["action"] == "editing"]
            # Who works on a graphic is for staff: overlays' view keys never hear it.
            staff = [member for member in graphic_members if member.view_key_id is None]
            for frame in user_activity_messages({**message, "changes": changes}):
                for member in staff:
                    self._deliver_ephemeral_to(member, message["graphic_id"], frame)
        list_members = self.subscriptions.get(ALL)
        if list_members:
            frame = presence_counts_message(message)
            for member in list(list_members):
                self._deliver_ephemeral_to(member, ALL, frame)

    def _deliver_ephemeral_to(
        self, member: HubMember, key: SubscriptionKey, message: dict[str, Any]
    ) -> None:
        try:
            member.deliver_ephemeral(key, message)
        except Exception:
            logger.exception("delivery to connection %s failed", member.connection_id)

    # -- background loops ----------------------------------------------------------------------

    async def _listen(self, layer: Any) -> None:
        assert self._channel_name is not None
        # Issue 17: take every message already waiting (a burst), and deliver them in one
        # delivery round so that batching connections get them as one frame.
        reader = WaitingReader(layer, self._channel_name)
        try:
            while True:
                try:
                    messages = await reader.receive_waiting(most=CATCH_UP_BATCH)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.warning("channel layer receive failed; retrying", exc_info=True)
                    await asyncio.sleep(1)
                    continue
                with delivery_round(len(messages) > 1):
                    for message in messages:
                        try:
                            await self._handle(message)
                        except asyncio.CancelledError:
                            raise
                        except Exception:
                            logger.exception("hub failed to handle %s", message.get("type"))
        finally:
            reader.cancel()

    async def _handle(self, message: dict[str, Any]) -> None:
        if message.get("type") == "hub.event":
            await self.receive_committed(message)
        elif message.get("type") == "hub.command":
            await self._run_command(message)
        elif message.get("type") == "hub.presence":
            self.fan_out_presence(message)
        elif message.get("type") == "hub.probe":
            self.probe.heard(message)

    async def _run_command(self, message: dict[str, Any]) -> None:
        """Commands addressed to connections by user, by token family (the connections opened
        with one login's tokens), by session (`session`: its digest, the connections opened
        with one page login), by overlay view key or by connection id, on every server."""
        targets: list[HubMember] = []
        if message.get("user_id") is not None:
            targets = list(self.members_of_user(message["user_id"]))
        elif message.get("token_family") is not None:
            family = message["token_family"]
            targets = [m for m in self.members.values() if m.token_family == family]
        elif message.get("session") is not None:
            session = message["session"]
            targets = [m for m in self.members.values() if m.session_digest == session]
        elif message.get("view_key_id") is not None:
            view_key_id = message["view_key_id"]
            targets = [m for m in self.members.values() if m.view_key_id == view_key_id]
        elif message.get("connection_id") in self.members:
            targets = [self.members[message["connection_id"]]]
        for member in targets:
            try:
                await member.hub_command(message)
            except Exception:
                logger.exception("command to connection %s failed", member.connection_id)

    async def _poll_log(self) -> None:
        while True:
            await asyncio.sleep(settings.EVENT_POLL_INTERVAL_SECONDS)
            try:
                newest = await database_sync_to_async(latest_seq)()
                observability.event_log_lag(max(0, newest - self.cursor))
                await self.catch_up()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("reading the event log failed; retrying", exc_info=True)


_hubs = PerLoop(EventHub)


def get_hub() -> EventHub:
    """The hub of the running event loop (one per server process)."""
    return _hubs.get()


class StartHubMiddleware:
    """Starts this process's hub on its first request, HTTP included, and keeps it running:
    lock expiry and the log reader must run on a server that only serves REST and polling."""

    def __init__(self, app: Any):
        self.app = app
        self._started_loops: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] in ("http", "websocket"):
            loop = asyncio.get_running_loop()
            if loop not in self._started_loops:
                self._started_loops.add(loop)
                hub = get_hub()
                hub.keep_running()
                try:
                    await hub.ensure_started()
                except Exception:
                    # The database may be briefly away; the next request tries again.
                    self._started_loops.discard(loop)
                    logger.warning("could not start the event hub", exc_info=True)
        return await self.app(scope, receive, send)

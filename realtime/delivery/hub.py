"""
The hub: one per server process (per event loop), between the channel layer and the sockets. Its
one job is ordered delivery of the log to this process's sockets.

A committed event goes to its graphic's group and the list group (realtime.delivery.events). The hub
is a member of the groups its local sockets watch (realtime.delivery.groups), and of the group of
each user and overlay view key connected here (for `lock_lost`, and to close overlays of a deleted
graphic). So a process receives only the events its sockets watch, one channel-layer message per
event and group, and fans it out in-process, one encoded frame per audience
(realtime.delivery.frames).

Order and completeness hold per subscription key (a graphic, or "all"): a cursor per key (the
last seq delivered to it), delivery in seq order. Each message names the seq of the event before
it in the log (`prev_seq`, for "all") and in its graphic (`graphic_prev_seq`); one past a key's
cursor means a broadcast was lost, and the hub reads the missing events from the log first. A
seq a key already has (the same event through two groups, a late publish) is dropped. A periodic
log read picks up anything whose broadcast was lost (Redis away, no channel layer). Seqs are
assigned in commit order (`EventManager.append`), so "everything up to seq N" is complete once N
has committed. docs/architecture.md tells the whole path.

Two loops start and stop with it: the broadcast probe (realtime.delivery.broadcast_probe) and the
lock housekeeping (realtime.delivery.housekeeping); commands to connections are in
realtime.delivery.commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections import defaultdict
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings

from realtime.connection.batching import WaitingReader, delivery_round
from realtime.db import database_sync_to_async
from realtime.delivery.broadcast_probe import BroadcastProbe
from realtime.delivery.commands import run_command
from realtime.delivery.events import HUB_GROUP
from realtime.delivery.frames import (
    ALL,
    EventFrames,
    SubscriptionKey,
    presence_counts_message,
    user_activity_messages,
)
from realtime.delivery.groups import GroupMembership, member_groups, subscription_group
from realtime.delivery.housekeeping import LockHousekeeping
from realtime.delivery.member import HubMember
from realtime.delivery.snapshots import events_after, latest_seq
from realtime.models import EventType
from realtime.ops import observability
from realtime.per_loop import PerLoop

logger = logging.getLogger(__name__)

# How many events one catch-up read fetches at a time.
CATCH_UP_BATCH = 500
# How many recent seqs a hub remembers having handled (see EventHub._first_handling).
HANDLED_MEMORY = 4096


def _gap_before(message: dict[str, Any], key: SubscriptionKey, cursor: int) -> bool:
    """Whether an event of `key`'s stream may have been missed before this message's."""
    previous = message.get("prev_seq") if key == ALL else message.get("graphic_prev_seq")
    return previous is None or previous > cursor


class EventHub:
    def __init__(self) -> None:
        # The highest seq this hub has handled (the log position it has reached).
        self.cursor = 0
        self.members: dict[str, HubMember] = {}
        self.subscriptions: dict[SubscriptionKey, set[HubMember]] = defaultdict(set)
        # Per subscription key: the last seq delivered to its subscribers here.
        self._cursors: dict[SubscriptionKey, int] = {}
        self._lock_cursor = 0  # how far the log read looked for lock_status events
        # Channel-layer groups this hub should be in (how many reasons each), and is in.
        self.membership = GroupMembership()
        # Seqs whose side effects (lock_lost, closing overlays, metrics) have run, recent ones.
        self._handled: dict[int, None] = {}
        self._handled_floor = 0
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
        self.cursor = self._lock_cursor = await database_sync_to_async(latest_seq)()
        if layer is not None:
            self.membership.channel_name = channel_name
            await self.membership.join_wanted()
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
        await self.membership.leave_all(layer)
        if layer is not None and channel_name is not None:
            with contextlib.suppress(Exception):
                await layer.group_discard(HUB_GROUP, channel_name)

    # -- membership ----------------------------------------------------------------------------

    async def attach(self, member: HubMember) -> None:
        await self.ensure_started()
        self.members[member.connection_id] = member
        for group in member_groups(member):
            self.membership.acquire(group)
            await self.membership.wait_joined(group)

    async def detach(self, member: HubMember) -> None:
        if self.members.pop(member.connection_id, None) is not None:
            for group in member_groups(member):
                self.membership.release(group)
        for key in [key for key, members in self.subscriptions.items() if member in members]:
            self.unsubscribe(member, key)
        if not self.members and not self._keep_running:
            await self.stop()

    def subscribe(self, member: HubMember, key: SubscriptionKey) -> None:
        """Add a subscriber of `key`; the first one makes this hub join its group (await
        `wait_joined` before reading the snapshot or the replay)."""
        members = self.subscriptions[key]
        if member in members:
            return
        members.add(member)
        if len(members) == 1:
            self._cursors[key] = self.cursor
            self.membership.acquire(subscription_group(key))

    async def wait_joined(self, key: SubscriptionKey) -> None:
        """Return once this hub is in `key`'s group, so that a snapshot or replay read after
        it misses nothing: an event published before is in the read, one published after
        reaches the hub."""
        await self.membership.wait_joined(subscription_group(key))

    def unsubscribe(self, member: HubMember, key: SubscriptionKey) -> None:
        members = self.subscriptions.get(key)
        if members is not None and member in members:
            members.discard(member)
            if not members:
                del self.subscriptions[key]
                self._cursors.pop(key, None)
                self.membership.release(subscription_group(key))

    @property
    def groups(self) -> frozenset[str]:
        """The event groups this hub is in now (for tests and the staff page)."""
        return self.membership.joined

    def _all_members(self) -> list[HubMember]:
        return list(self.members.values())

    # -- delivery ------------------------------------------------------------------------------

    async def receive_committed(self, message: dict[str, Any]) -> None:
        """Handle one published event: deliver it in order, reading any gap from the log."""
        async with self._deliver_lock:
            seq = message["seq"]
            graphic_id = message["graphic_id"]
            gapped = [
                key
                for key in (graphic_id, ALL)
                if key in self._cursors
                and self._cursors[key] < seq
                and _gap_before(message, key, self._cursors[key])
            ]
            if gapped:
                await self._read_log(gapped, before=seq)
            self._fan_out(
                EventFrames(
                    seq=seq,
                    graphic_id=graphic_id,
                    event_type=message["event_type"],
                    data=message["data"],
                )
            )

    async def catch_up(self) -> int:
        """Read the log for every key watched here and deliver what was missed; return how
        many events it read."""
        async with self._deliver_lock:
            self.membership.retry_missing()  # joins that failed while Redis was away
            newest = await database_sync_to_async(latest_seq)()
            keys = list(self._cursors)
            read = await self._read_log(keys) if keys else 0
            if self.members and newest > self._lock_cursor:
                # A lock taken from a holder connected here, whose broadcast was lost: tell them
                # (lock_lost) though nobody here subscribes to its graphic.
                for event in await database_sync_to_async(events_after)(
                    seq=self._lock_cursor, limit=CATCH_UP_BATCH, event_type=EventType.LOCK_STATUS
                ):
                    self._fan_out(EventFrames.from_event(event))
            self._lock_cursor = newest
            # Everything of these keys up to `newest` is delivered now (and a key subscribed
            # during the read had its snapshot read after `newest` committed).
            for key in keys:
                if key in self._cursors:
                    self._cursors[key] = max(self._cursors[key], newest)
            self.cursor = max(self.cursor, newest)
            return read

    async def _read_log(self, keys: list[SubscriptionKey], *, before: int | None = None) -> int:
        """Deliver the logged events of `keys` after the lowest of their cursors (and before
        seq `before`), in seq order; return how many were read."""
        seq = min(self._cursors[key] for key in keys)
        graphic_ids = None if ALL in keys else [int(key) for key in keys]
        read = 0
        while True:
            events = await database_sync_to_async(events_after)(
                seq=seq, limit=CATCH_UP_BATCH, graphic_ids=graphic_ids, before=before
            )
            # Events read together are delivered together (batched where opted in, issue 17).
            with delivery_round(len(events) > 1):
                for event in events:
                    self._fan_out(EventFrames.from_event(event))
            read += len(events)
            if len(events) < CATCH_UP_BATCH:
                return read
            seq = events[-1].pk

    def _fan_out(self, frames: EventFrames) -> None:
        """Hand the event to every local subscriber that does not have it yet: synchronous, so
        no socket can make the others wait, and one encoded message per audience (the list,
        the graphic's staff, the graphic's view keys)."""
        seq = frames.seq
        self.cursor = max(self.cursor, seq)
        recipients = 0
        if self._cursors.get(frames.graphic_id, seq) < seq:
            self._cursors[frames.graphic_id] = seq
            graphic_members = self.subscriptions.get(frames.graphic_id)
            if graphic_members:
                self._deliver_to_audience(graphic_members, frames.graphic_id, seq, frames)
                recipients += len(graphic_members)
        if self._cursors.get(ALL, seq) < seq:
            self._cursors[ALL] = seq
            list_members = self.subscriptions.get(ALL)
            if list_members:
                self._deliver_to_audience(list_members, ALL, seq, frames)
                recipients += len(list_members)
        if not self._first_handling(seq):
            return
        observability.events_delivered(frames.event_type, recipients, frames.data.get("timestamp"))
        if frames.event_type == "lock_status":
            self.housekeeping.tell_lock_lost(frames.data)
        elif frames.event_type == "graphic_update" and frames.data.get("action") == "deleted":
            self._close_overlays_of(frames.graphic_id)

    def _first_handling(self, seq: int) -> bool:
        """Whether this is the first time this hub handles `seq` (an event can come through
        the graphic's group, the list's and a user's, and from the log)."""
        if seq <= self._handled_floor or seq in self._handled:
            return False
        self._handled[seq] = None
        if len(self._handled) > HANDLED_MEMORY:
            oldest = next(iter(self._handled))
            del self._handled[oldest]
            self._handled_floor = max(self._handled_floor, oldest)
        return True

    def _close_overlays_of(self, graphic_id: int) -> None:
        """A deleted graphic's view keys went with it: close the connections opened with them,
        after they got the `deleted` event. Driven by the event, which every hub gets (from the
        log if its broadcast was lost), so it needs no command between servers."""
        for member in list(self.members.values()):
            if member.view_key_graphic_id == graphic_id:
                closing = asyncio.ensure_future(member.close_revoked_view_key())
                self._closing.add(closing)
                closing.add_done_callback(self._closing.discard)

    def _deliver_to_audience(
        self, members: set[HubMember], key: SubscriptionKey, seq: int, frames: EventFrames
    ) -> None:
        """One event to one audience (a graphic's subscribers, or the list's): the hot loop of
        every broadcast, one call per socket. One broken connection must not stop the others."""
        list_audience = key == ALL
        staff_message = frames.for_list() if list_audience else frames.for_graphic()
        for member in list(members):
            message = staff_message
            if not list_audience and member.view_key_id is not None:
                overlay_message = frames.for_view_key()
                if overlay_message is None:  # a draft, not for an overlay (issue 16)
                    continue
                message = overlay_message
            try:
                member.deliver(key, seq, message)
            except Exception:
                logger.exception("delivery to connection %s failed", member.connection_id)

    def _deliver_ephemeral(
        self, member: HubMember, key: SubscriptionKey, message: dict[str, Any]
    ) -> None:
        try:  # one broken connection must not stop delivery to the others
            member.deliver_ephemeral(key, message)
        except Exception:
            logger.exception("delivery to connection %s failed", member.connection_id)

    def fan_out_presence(self, message: dict[str, Any]) -> None:
        """Hand a presence change (realtime.presence.tracker) to the graphic's local subscribers and
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
                    self._deliver_ephemeral(member, message["graphic_id"], frame)
        list_members = self.subscriptions.get(ALL)
        if list_members:
            frame = presence_counts_message(message)
            for member in list(list_members):
                self._deliver_ephemeral(member, ALL, frame)

    # -- background loops ----------------------------------------------------------------------

    async def _listen(self, layer: Any) -> None:
        assert self._channel_name is not None
        # Take every message already waiting (a burst) and deliver them in one delivery round,
        # so that connections that opted in to batching get them as one frame (issue 17).
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
            observability.hub_event_received()
            await self.receive_committed(message)
        elif message.get("type") == "hub.command":
            await run_command(dict(message), self.members)
        elif message.get("type") == "hub.presence":
            self.fan_out_presence(message)
        elif message.get("type") == "hub.probe":
            self.probe.heard(message)

    async def _poll_log(self) -> None:
        while True:
            await asyncio.sleep(settings.EVENT_POLL_INTERVAL_SECONDS)
            try:
                # What the read finds was committed but not delivered here (in flight, or lost).
                observability.event_log_lag(await self.catch_up())
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

"""
Presence: who is viewing or editing each graphic, announced to the graphic's subscribers.

One `PresenceTracker` per server process (per event loop), beside the hub and the supervisor.
It keeps this process's connections' entries (connection, graphic, action), writes them to the
presence store (`realtime.presence.store`: Redis when REDIS_URL is set, memory otherwise) and
announces what the store says changed:

- subscribing to a graphic puts the connection there as `viewing`; `activity` sets `viewing`
  or `editing`; unsubscribing and closing (any close) remove it;
- the supervisor renews this process's entries every heartbeat (`refresh`, one round trip) and
  sweeps expired ones every tick (`sweep`): a crashed server's entries expire after
  PRESENCE_TTL_SECONDS and whichever live server sweeps them first announces `left`.

Announcements cross servers as ONE channel-layer message to the hub group per change
(`hub.presence`), like events; each hub hands the frames to its local subscribers: a
`user_activity` frame to the graphic's subscribers and a `presence_counts` frame to the list's
("all"), both built by realtime.delivery.frames. These frames are ephemeral: they carry no `seq`,
are not in the event log and are not replayed; a (re)subscribe's ack carries the current presence
instead.

Presence is advisory: if the store is unavailable the failure is logged and the request it came
with (a subscribe, an unsubscribe, a close) goes on.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any, Protocol

from channels.layers import get_channel_layer
from django.conf import settings

from gal_dashboard.timestamps import iso_utc
from realtime.delivery.events import HUB_GROUP
from realtime.delivery.hub import get_hub
from realtime.per_loop import PerLoop
from realtime.presence.store import (
    EDITING,
    VIEWING,
    PresenceEntry,
    PresenceStore,
    PresenceUpdate,
    presence_store,
)

logger = logging.getLogger(__name__)


class PresenceMember(Protocol):
    """What presence needs of a connection (realtime.connection.session.ConnectionSession)."""

    connection_id: str
    user_id: int | None

    @property
    def username(self) -> str: ...


def iso_time(at: float) -> str:
    return iso_utc(datetime.fromtimestamp(at, UTC))


def presence_message(update: PresenceUpdate) -> dict[str, Any]:
    """The channel-layer message that tells every hub about one update."""
    return {
        "type": "hub.presence",
        "graphic_id": update.graphic_id,
        "timestamp": iso_time(update.at),
        "changes": [
            {"user_id": c.user_id, "username": c.username, "action": c.action}
            for c in update.changes
        ],
        "counts": {"viewing": update.viewing, "editing": update.editing},
    }


class PresenceTracker:
    def __init__(self) -> None:
        self._store: PresenceStore | None = None
        # This process's entries: connection id -> {graphic id: entry}.
        self.local: dict[str, dict[int, PresenceEntry]] = {}
        # Connections that have used presence; the store's client is closed when none is left.
        self._users: set[str] = set()
        # Writes of this process go one at a time, so that a heartbeat's refresh (which stores
        # the entries as they were when it started) cannot undo an activity or a leave that
        # happens while it waits for Redis. Across servers, the store's scripts decide.
        self._writing = asyncio.Lock()

    @property
    def store(self) -> PresenceStore:
        if self._store is None:
            self._store = presence_store()
        return self._store

    # -- a connection's presence ---------------------------------------------------------------

    async def join(self, member: PresenceMember, graphic_id: int) -> None:
        """The connection subscribed to the graphic: present as `viewing`, unless it already
        was there (a subscribe that replaces its subscription keeps its action)."""
        current = self.local.get(member.connection_id, {}).get(graphic_id)
        await self.set_action(member, graphic_id, current.action if current else VIEWING)

    async def set_action(self, member: PresenceMember, graphic_id: int, action: str) -> None:
        if member.user_id is None:
            return
        self._users.add(member.connection_id)
        entry = PresenceEntry(
            connection_id=member.connection_id,
            graphic_id=graphic_id,
            user_id=member.user_id,
            username=member.username,
            action=action,
        )
        async with self._writing:
            self.local.setdefault(member.connection_id, {})[graphic_id] = entry
            await self._write(self.store.put(entry))

    async def leave(self, member: PresenceMember, graphic_id: int) -> None:
        entries = self.local.get(member.connection_id, {})
        if entries.pop(graphic_id, None) is None:
            return
        if not entries:
            self.local.pop(member.connection_id, None)
        async with self._writing:
            await self._write(
                self.store.remove(connection_id=member.connection_id, graphic_id=graphic_id)
            )

    async def release(self, member: PresenceMember) -> None:
        """The connection closed: leave every graphic; close the store when nobody uses it."""
        for graphic_id in list(self.local.get(member.connection_id, {})):
            await self.leave(member, graphic_id)
        self._users.discard(member.connection_id)
        if not self._users and self._store is not None:
            store, self._store = self._store, None
            try:
                await store.close()
            except Exception:
                logger.warning("closing the presence store failed", exc_info=True)

    async def _write(self, operation: Any) -> None:
        try:
            update = await operation
        except Exception:
            logger.warning("presence store unavailable; presence not updated", exc_info=True)
            return
        if update is not None:
            await announce([update])

    # -- what a subscribe's ack carries --------------------------------------------------------

    async def graphic_presence(self, member: PresenceMember, graphic_id: int) -> dict[str, Any]:
        """`{"graphic_id", "users": [{"user_id", "username", "action", "since"}], "viewing",
        "editing", "truncated"}`: at most PRESENCE_LIST_MAX users, editors first, so that the
        ack of one subscriber to an on-air audience of thousands stays small (every subscriber
        gets one: a full list would cost N² bytes for N arrivals)."""
        self._users.add(member.connection_id)
        try:
            users = await self.store.users(graphic_id)
        except Exception:
            logger.warning("presence store unavailable; empty presence sent", exc_info=True)
            users = []
        editing = sum(1 for user in users if user.action == EDITING)
        limit = settings.PRESENCE_LIST_MAX
        listed = sorted(users, key=lambda user: user.action != EDITING)[:limit]
        return {
            "graphic_id": graphic_id,
            "viewing": len(users) - editing,
            "editing": editing,
            "truncated": len(users) > limit,
            "users": [
                {
                    "user_id": user.user_id,
                    "username": user.username,
                    "action": user.action,
                    "since": iso_time(user.since),
                }
                for user in listed
            ],
        }

    async def counts(self, member: PresenceMember) -> dict[str, dict[str, int]]:
        """`{"<graphic id>": {"viewing": n, "editing": m}}` for graphics with someone there."""
        self._users.add(member.connection_id)
        try:
            counts = await self.store.counts()
        except Exception:
            logger.warning("presence store unavailable; no presence counts sent", exc_info=True)
            counts = {}
        return {
            str(graphic_id): {"viewing": viewing, "editing": editing}
            for graphic_id, (viewing, editing) in sorted(counts.items())
        }

    # -- the supervisor's tick -----------------------------------------------------------------

    async def refresh(self) -> None:
        """Renew this process's entries (every heartbeat)."""
        if not self.local:
            return
        async with self._writing:
            entries = [entry for graphic in self.local.values() for entry in graphic.values()]
            try:
                updates = await self.store.refresh(entries)
            except Exception:
                logger.warning("could not refresh presence entries", exc_info=True)
                return
        await announce(updates)

    async def sweep(self) -> None:
        """Remove expired entries, on every server, and announce what that changed."""
        if not self._users:
            return  # nobody here to tell, and no store open
        try:
            updates = await self.store.sweep()
        except Exception:
            logger.warning("could not sweep presence entries", exc_info=True)
            return
        await announce(updates)


async def announce(updates: list[PresenceUpdate]) -> None:
    """Send each update to every server's hub (one channel-layer message each)."""
    layer = get_channel_layer()
    for update in updates:
        message = presence_message(update)
        if layer is None:
            get_hub().fan_out_presence(message)
            continue
        try:
            await layer.group_send(HUB_GROUP, message)
        except Exception:
            logger.warning("could not broadcast a presence change", exc_info=True)


_trackers = PerLoop(PresenceTracker)


def get_presence() -> PresenceTracker:
    """The presence tracker of the running event loop (one per server process)."""
    return _trackers.get()

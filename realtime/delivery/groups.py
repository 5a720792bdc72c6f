"""
The hub's membership of the channel layer's event groups (realtime.delivery.events): `graphic.<id>`
per graphic and `graphics.list` for the list.

One `GroupMembership` per hub (realtime.delivery.hub). The hub says why it wants a group (`acquire`:
a first local subscriber of a graphic, an "all" subscriber, a connected user, an overlay's view
key) and when a reason ends (`release`); the membership joins and leaves to match, one change at
a time, so a leave and a join of the same group never cross. `wait_joined` returns once the hub
is in a group: a subscription reads its snapshot only after that, so an event published before
is in the snapshot and one published after reaches the hub.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from typing import Any

from channels.layers import get_channel_layer

from realtime.delivery.events import LIST_GROUP, graphic_group_name, user_group_name
from realtime.delivery.frames import ALL, SubscriptionKey
from realtime.delivery.member import HubMember

logger = logging.getLogger(__name__)


def subscription_group(key: SubscriptionKey) -> str:
    """The channel-layer group of a subscription key: a graphic's, or the list's."""
    return LIST_GROUP if key == ALL else graphic_group_name(int(key))


def member_groups(member: HubMember) -> list[str]:
    """The groups a connection needs this hub in whatever it subscribes to: its user's (for
    `lock_lost`), or its view key's graphic's (to close it when that graphic is deleted)."""
    if member.view_key_graphic_id is not None:
        return [graphic_group_name(member.view_key_graphic_id)]
    if member.user_id is not None:
        return [user_group_name(member.user_id)]
    return []


class GroupMembership:
    def __init__(self) -> None:
        self.channel_name: str | None = None  # the hub's channel, while it runs
        self._wanted: Counter[str] = Counter()  # group -> how many reasons to be in it
        self._joined: set[str] = set()
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def joined(self) -> frozenset[str]:
        return frozenset(self._joined)

    def acquire(self, group: str) -> None:
        self._wanted[group] += 1
        if self._wanted[group] == 1:
            self._schedule(group)

    def release(self, group: str) -> None:
        self._wanted[group] -= 1
        if self._wanted[group] <= 0:
            del self._wanted[group]
            self._schedule(group)

    async def wait_joined(self, group: str) -> None:
        if group not in self._joined and self._wanted[group] > 0:
            await self.sync(group)

    async def join_wanted(self) -> None:
        """Join every group wanted and not joined (at start, or after Redis came back)."""
        for group in [group for group in self._wanted if group not in self._joined]:
            await self.sync(group)

    def retry_missing(self) -> None:
        """Try again, in the background, the joins that failed (Redis away)."""
        for group in [group for group in self._wanted if group not in self._joined]:
            self._schedule(group)

    def _schedule(self, group: str) -> None:
        task = asyncio.get_running_loop().create_task(self.sync(group))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def sync(self, group: str) -> None:
        """Join or leave `group` so that membership matches whether anything wants it."""
        async with self._lock:
            channel_name = self.channel_name
            layer = get_channel_layer()
            if layer is None or channel_name is None:
                return  # no channel layer (or not started): the log read delivers
            wanted = self._wanted[group] > 0
            if wanted and group not in self._joined:
                try:
                    await layer.group_add(group, channel_name)
                except Exception:
                    # Redis away: the log read delivers meanwhile, and the next one retries.
                    logger.warning("could not join group %s; retrying", group, exc_info=True)
                    return
                self._joined.add(group)
            elif not wanted and group in self._joined:
                self._joined.discard(group)
                with contextlib.suppress(Exception):
                    await layer.group_discard(group, channel_name)

    async def leave_all(self, layer: Any) -> None:
        """The hub stops: cancel pending changes, leave every group."""
        tasks, self._tasks = list(self._tasks), set()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        channel_name, self.channel_name = self.channel_name, None
        joined, self._joined = self._joined, set()
        if layer is not None and channel_name is not None:
            for group in sorted(joined):
                with contextlib.suppress(Exception):
                    await layer.group_discard(group, channel_name)

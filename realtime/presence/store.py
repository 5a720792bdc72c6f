"""
The presence store: who is on which graphic, on every server, with a time-to-live.

Channel-layer groups only broadcast; they cannot say who is there (STYLE.md: "Groups are not a
registry"). This store holds one entry per (connection, graphic): the connection's user and
what it is doing there (`viewing` or `editing`). From the entries it keeps each user's
*aggregate* state per graphic: `editing` if any of the user's connections is editing, else
`viewing`, absent when none is there. Every write answers whether that aggregate changed, so a
user with three tabs is one presence and leaves only with the last tab.

Two backends with one contract:

- `RedisPresenceStore` when REDIS_URL is set: shared by every server. Each write is one Lua
  script (realtime.presence.scripts), so "did the user's state change" is decided atomically
  across servers: two servers never both announce one change, nor both miss it. Entries carry
  their expiry as a score in a per-graphic sorted set (Redis 7.0 has no per-field TTL); the
  owning server renews them every heartbeat, and any live server's sweep removes expired ones.
  The sweep is a script too, so exactly one server removes each expired entry, and that server
  announces the resulting `left`.
- `MemoryPresenceStore` otherwise: this process's memory (one server process only).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from realtime.presence.scripts import PUT_SCRIPT, REFRESH_SCRIPT, REMOVE_SCRIPT, SWEEP_SCRIPT
from realtime.redis_store import Clock, ExpiringStore, RedisExpiringStore, store_key, text

VIEWING = "viewing"
EDITING = "editing"
LEFT = "left"
ACTIONS = (VIEWING, EDITING)

# A graphic's Redis keys outlive its entries' expiry by this factor: when every server holding
# entries on a graphic has crashed, the keys must still be there when a survivor sweeps, or
# nobody would announce those users `left`.
KEY_TTL_FACTOR = 3


@dataclass(frozen=True)
class PresenceEntry:
    """One connection's presence on one graphic."""

    connection_id: str
    graphic_id: int
    user_id: int
    username: str
    action: str  # viewing | editing


@dataclass(frozen=True)
class PresenceChange:
    """A user's aggregate state on a graphic changed (to `left` when they are gone)."""

    user_id: int
    username: str
    action: str  # viewing | editing | left


@dataclass(frozen=True)
class PresenceUpdate:
    """What one store operation changed on one graphic, and the graphic's counts after it."""

    graphic_id: int
    changes: list[PresenceChange]
    at: float  # UNIX time the change was decided
    viewing: int  # users whose aggregate state is viewing, after the changes
    editing: int


@dataclass(frozen=True)
class PresentUser:
    user_id: int
    username: str
    action: str
    since: float  # UNIX time their current aggregate state began


class PresenceStore(ExpiringStore):
    """The contract both backends keep. Backend errors (Redis away) propagate: the caller
    (`realtime.presence.tracker`) logs them and carries on, presence being advisory."""

    async def put(self, entry: PresenceEntry) -> PresenceUpdate | None:
        """Store `entry` (a new one, or a new action), renewing its TTL; the update when its
        user's aggregate state on the graphic changed, else None."""
        raise NotImplementedError

    async def remove(self, *, connection_id: str, graphic_id: int) -> PresenceUpdate | None:
        """Forget one entry (nothing if it is not there: already swept)."""
        raise NotImplementedError

    async def refresh(self, entries: Iterable[PresenceEntry]) -> list[PresenceUpdate]:
        """Renew these entries' TTL in one round trip; an entry swept meanwhile (its server was
        too slow to renew) is stored again, and its user's return is in the updates."""
        raise NotImplementedError

    async def sweep(self) -> list[PresenceUpdate]:
        """Remove every expired entry; the updates are this caller's to announce (no other
        caller, on any server, gets them)."""
        raise NotImplementedError

    async def users(self, graphic_id: int) -> list[PresentUser]:
        """The users present on a graphic, longest there first."""
        raise NotImplementedError

    async def counts(self) -> dict[int, tuple[int, int]]:
        """{graphic id: (viewing, editing)} for every graphic with someone present."""
        raise NotImplementedError


def aggregate_action(actions: Iterable[str]) -> str | None:
    """A user's state on a graphic from their connections' actions: editing wins."""
    state = None
    for action in actions:
        if action == EDITING:
            return EDITING
        state = VIEWING
    return state


def _tally(users: Iterable[str]) -> tuple[int, int]:
    actions = list(users)
    editing = sum(1 for action in actions if action == EDITING)
    return len(actions) - editing, editing


# -- memory ------------------------------------------------------------------------------------


@dataclass
class _GraphicPresence:
    entries: dict[str, tuple[PresenceEntry, float]] = field(default_factory=dict)  # -> expiry
    users: dict[int, PresentUser] = field(default_factory=dict)


class MemoryPresenceStore(PresenceStore):
    def __init__(self, *, ttl: float, clock: Clock = time.time) -> None:
        super().__init__(ttl=ttl, clock=clock)
        self._lock = threading.Lock()
        self._graphics: dict[int, _GraphicPresence] = {}

    def _recompute(
        self, graphic: _GraphicPresence, user_id: int, username: str, now: float
    ) -> PresenceChange | None:
        state = aggregate_action(
            entry.action for entry, _ in graphic.entries.values() if entry.user_id == user_id
        )
        old = graphic.users.get(user_id)
        if state is None:
            if old is None:
                return None
            del graphic.users[user_id]
            return PresenceChange(user_id=user_id, username=old.username, action=LEFT)
        if old is not None and old.action == state:
            return None
        graphic.users[user_id] = PresentUser(user_id, username, state, now)
        return PresenceChange(user_id=user_id, username=username, action=state)

    def _update(
        self, graphic_id: int, changes: list[PresenceChange], now: float
    ) -> PresenceUpdate | None:
        graphic = self._graphics.get(graphic_id)
        users = graphic.users.values() if graphic is not None else []
        viewing, editing = _tally(user.action for user in users)
        if graphic is not None and not graphic.entries:
            del self._graphics[graphic_id]
        if not changes:
            return None
        return PresenceUpdate(graphic_id, changes, now, viewing, editing)

    def _put_locked(self, entry: PresenceEntry, now: float) -> PresenceUpdate | None:
        graphic = self._graphics.setdefault(entry.graphic_id, _GraphicPresence())
        graphic.entries[entry.connection_id] = (entry, now + self.ttl)
        change = self._recompute(graphic, entry.user_id, entry.username, now)
        return self._update(entry.graphic_id, [change] if change else [], now)

    async def put(self, entry: PresenceEntry) -> PresenceUpdate | None:
        now = self.clock()
        with self._lock:
            return self._put_locked(entry, now)

    async def remove(self, *, connection_id: str, graphic_id: int) -> PresenceUpdate | None:
        now = self.clock()
        with self._lock:
            graphic = self._graphics.get(graphic_id)
            if graphic is None or connection_id not in graphic.entries:
                return None
            entry, _ = graphic.entries.pop(connection_id)
            change = self._recompute(graphic, entry.user_id, entry.username, now)
            return self._update(graphic_id, [change] if change else [], now)

    async def refresh(self, entries: Iterable[PresenceEntry]) -> list[PresenceUpdate]:
        now = self.clock()
        updates = []
        with self._lock:
            for entry in entries:
                graphic = self._graphics.get(entry.graphic_id)
                if graphic is not None and entry.connection_id in graphic.entries:
                    graphic.entries[entry.connection_id] = (entry, now + self.ttl)
                    continue
                update = self._put_locked(entry, now)
                if update is not None:
                    updates.append(update)
        return updates

    async def sweep(self) -> list[PresenceUpdate]:
        now = self.clock()
        updates = []
        with self._lock:
            for graphic_id, graphic in list(self._graphics.items()):
                expired = [entry for entry, expires in graphic.entries.values() if expires <= now]
                for entry in expired:
                    del graphic.entries[entry.connection_id]
                changes = []
                for user_id, username in dict((e.user_id, e.username) for e in expired).items():
                    change = self._recompute(graphic, user_id, username, now)
                    if change is not None:
                        changes.append(change)
                update = self._update(graphic_id, changes, now)
                if update is not None:
                    updates.append(update)
        return updates

    async def users(self, graphic_id: int) -> list[PresentUser]:
        with self._lock:
            graphic = self._graphics.get(graphic_id)
            found = list(graphic.users.values()) if graphic is not None else []
        return sorted(found, key=lambda user: (user.since, user.user_id))

    async def counts(self) -> dict[int, tuple[int, int]]:
        with self._lock:
            return {
                graphic_id: _tally(user.action for user in graphic.users.values())
                for graphic_id, graphic in self._graphics.items()
                if graphic.users
            }


# -- Redis -------------------------------------------------------------------------------------


class RedisPresenceStore(RedisExpiringStore, PresenceStore):
    """Keys, under `<prefix>`: `:g:<graphic id>:exp` (connection ids scored by expiry),
    `:g:<id>:conns` (the entries), `:g:<id>:users` (each present user's aggregate state) and
    `:graphics` (the ids of graphics with entries, for the sweep and the counts)."""

    def __init__(
        self, *, url: str, prefix: str, ttl: float, clock: Clock = time.time, client: Any = None
    ) -> None:
        super().__init__(url=url, prefix=prefix, ttl=ttl, clock=clock, client=client)
        self._put = self.redis.register_script(PUT_SCRIPT)
        self._refresh = self.redis.register_script(REFRESH_SCRIPT)
        self._remove = self.redis.register_script(REMOVE_SCRIPT)
        self._sweep = self.redis.register_script(SWEEP_SCRIPT)

    def _keys(self, graphic_id: int) -> list[str]:
        base = f"{self.prefix}:g:{graphic_id}"
        return [f"{base}:exp", f"{base}:conns", f"{base}:users", self._graphics_key]

    @property
    def _graphics_key(self) -> str:
        return f"{self.prefix}:graphics"

    def _put_args(self, entry: PresenceEntry, now: float) -> list[Any]:
        return [
            entry.connection_id,
            str(entry.user_id),
            entry.username,
            entry.action,
            repr(now + self.ttl),
            repr(now),
            self.ttl_ms(KEY_TTL_FACTOR),
            entry.graphic_id,
        ]

    @staticmethod
    def _update(graphic_id: int, reply: list[Any], now: float) -> PresenceUpdate | None:
        if not reply:
            return None
        changes = [
            PresenceChange(user_id=int(text(reply[i])), username=text(reply[i + 1]),
                           action=text(reply[i + 2]))
            for i in range(2, len(reply), 3)
        ]  # fmt: skip
        return PresenceUpdate(graphic_id, changes, now, int(reply[0]), int(reply[1]))

    async def put(self, entry: PresenceEntry) -> PresenceUpdate | None:
        now = self.clock()
        reply = await self._put(keys=self._keys(entry.graphic_id), args=self._put_args(entry, now))
        return self._update(entry.graphic_id, reply, now)

    async def remove(self, *, connection_id: str, graphic_id: int) -> PresenceUpdate | None:
        now = self.clock()
        reply = await self._remove(
            keys=self._keys(graphic_id), args=[connection_id, repr(now), graphic_id]
        )
        return self._update(graphic_id, reply, now)

    async def refresh(self, entries: Iterable[PresenceEntry]) -> list[PresenceUpdate]:
        now = self.clock()
        # One round trip for every entry of this server, however many there are.
        pipe = self.redis.pipeline(transaction=False)
        graphic_ids = []
        for entry in entries:
            graphic_ids.append(entry.graphic_id)
            await self._refresh(
                keys=self._keys(entry.graphic_id), args=self._put_args(entry, now), client=pipe
            )
        if not graphic_ids:
            return []
        replies = await pipe.execute()
        updates = [
            self._update(gid, reply, now) for gid, reply in zip(graphic_ids, replies, strict=True)
        ]
        return [update for update in updates if update is not None]

    async def sweep(self) -> list[PresenceUpdate]:
        now = self.clock()
        graphic_ids = sorted(int(text(v)) for v in await self.redis.smembers(self._graphics_key))
        if not graphic_ids:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for graphic_id in graphic_ids:
            await self._sweep(
                keys=self._keys(graphic_id), args=[repr(now), graphic_id], client=pipe
            )
        replies = await pipe.execute()
        updates = [
            self._update(gid, reply, now) for gid, reply in zip(graphic_ids, replies, strict=True)
        ]
        return [update for update in updates if update is not None]

    async def users(self, graphic_id: int) -> list[PresentUser]:
        raw = await self.redis.hgetall(self._keys(graphic_id)[2])
        found = []
        for user_id, value in raw.items():
            state = json.loads(value)
            found.append(PresentUser(int(text(user_id)), state["n"], state["a"], float(state["s"])))
        return sorted(found, key=lambda user: (user.since, user.user_id))

    async def counts(self) -> dict[int, tuple[int, int]]:
        graphic_ids = sorted(int(text(v)) for v in await self.redis.smembers(self._graphics_key))
        if not graphic_ids:
            return {}
        pipe = self.redis.pipeline(transaction=False)
        for graphic_id in graphic_ids:
            pipe.hvals(self._keys(graphic_id)[2])
        counts = {}
        for graphic_id, values in zip(graphic_ids, await pipe.execute(), strict=True):
            if values:
                counts[graphic_id] = _tally(json.loads(value)["a"] for value in values)
        return counts


def presence_key_prefix() -> str:
    """Under the channel layer's prefix (CHANNEL_LAYER_PREFIX), like the connection registry:
    servers that hear each other's broadcasts share presence."""
    return store_key("presence")


def presence_store(*, clock: Clock = time.time) -> PresenceStore:
    """A store as the settings say: Redis when REDIS_URL is set, this process's memory
    otherwise. Close it when done (`close()`)."""
    ttl = float(settings.PRESENCE_TTL_SECONDS)
    if settings.REDIS_URL:
        return RedisPresenceStore(
            url=settings.REDIS_URL, prefix=presence_key_prefix(), ttl=ttl, clock=clock
        )
    return MemoryPresenceStore(ttl=ttl, clock=clock)

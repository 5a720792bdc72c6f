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
  script, so "did the user's state change" is decided atomically across servers: two servers
  never both announce one change, nor both miss it. Entries carry their expiry as a score in a
  per-graphic sorted set (Redis 7.0 has no per-field TTL); the owning server renews them every
  heartbeat, and any live server's sweep removes expired ones. The sweep is a script too, so
  exactly one server removes each expired entry, and that server announces the resulting
  `left`.
- `MemoryPresenceStore` otherwise: this process's memory (one server process only).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from realtime.redis_store import RedisBacked, store_key

Clock = Callable[[], float]

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


class PresenceStore:
    """The contract both backends keep. Backend errors (Redis away) propagate: the caller
    (`realtime.presence`) logs them and carries on, presence being advisory."""

    ttl: float
    clock: Clock

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

    async def close(self) -> None:
        """Release connections to the backend (nothing to do in memory)."""


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
        self.ttl = ttl
        self.clock = clock
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

# Shared by the scripts. An entry is JSON {u: user id (string), n: username, a: action} in the
# graphic's `conns` hash; a user's aggregate is JSON {n, a, s: since} in its `users` hash.
# `recompute` re-derives one user's aggregate from the entries and returns
# {user id, username, new action} when it changed. Results are flat arrays:
# {viewing, editing, user1, name1, action1, user2, ...}, or {} when nothing changed.
_LUA_COMMON = """
local function recompute(conns_key, users_key, user_id, username, now)
  local state = false
  for _, raw in ipairs(redis.call('HVALS', conns_key)) do
    local e = cjson.decode(raw)
    if e.u == user_id then
      if e.a == 'editing' then state = 'editing'; break end
      state = 'viewing'
    end
  end
  local old_raw = redis.call('HGET', users_key, user_id)
  local old = old_raw and cjson.decode(old_raw)
  if not state then
    if old then
      redis.call('HDEL', users_key, user_id)
      return {user_id, old.n, 'left'}
    end
    return false
  end
  if old and old.a == state then return false end
  redis.call('HSET', users_key, user_id, cjson.encode({n = username, a = state, s = now}))
  return {user_id, username, state}
end

local function result(users_key, changes)
  if #changes == 0 then return {} end
  local viewing, editing = 0, 0
  for _, raw in ipairs(redis.call('HVALS', users_key)) do
    if cjson.decode(raw).a == 'editing' then editing = editing + 1 else viewing = viewing + 1 end
  end
  local out = {viewing, editing}
  for _, change in ipairs(changes) do
    for _, value in ipairs(change) do table.insert(out, value) end
  end
  return out
end

local function put(conn, user_id, username, action, expires, now, key_ttl_ms, graphic_id)
  redis.call('ZADD', KEYS[1], expires, conn)
  redis.call('HSET', KEYS[2], conn, cjson.encode({u = user_id, n = username, a = action}))
  redis.call('SADD', KEYS[4], graphic_id)
  local change = recompute(KEYS[2], KEYS[3], user_id, username, now)
  for i = 1, 4 do redis.call('PEXPIRE', KEYS[i], key_ttl_ms) end
  return result(KEYS[3], change and {change} or {})
end
"""

# KEYS (every script): the graphic's expiry sorted set, entries hash, users hash; the set of
# graphics with entries. ARGV: connection id, user id, username, action, expires, now,
# key TTL in ms, graphic id.
_PUT_SCRIPT = (
    _LUA_COMMON
    + """
return put(ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8])
"""
)

# As _PUT_SCRIPT; an entry still there only gets its expiry pushed back (no aggregate to
# recompute: a heartbeat costs O(log n), however many people watch the graphic).
_REFRESH_SCRIPT = (
    _LUA_COMMON
    + """
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then
  redis.call('ZADD', KEYS[1], ARGV[5], ARGV[1])
  redis.call('SADD', KEYS[4], ARGV[8])
  for i = 1, 4 do redis.call('PEXPIRE', KEYS[i], ARGV[7]) end
  return {}
end
return put(ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8])
"""
)

# ARGV: connection id, now, graphic id.
_REMOVE_SCRIPT = (
    _LUA_COMMON
    + """
local raw = redis.call('HGET', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[1], ARGV[1])
if not raw then return {} end
local e = cjson.decode(raw)
redis.call('HDEL', KEYS[2], ARGV[1])
local change = recompute(KEYS[2], KEYS[3], e.u, e.n, ARGV[2])
if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('SREM', KEYS[4], ARGV[3]) end
return result(KEYS[3], change and {change} or {})
"""
)

# ARGV: now, graphic id. Whoever runs this first after an entry expires removes it and gets
# the resulting changes: no other server can.
_SWEEP_SCRIPT = (
    _LUA_COMMON
    + """
local users, order = {}, {}
for _, conn in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])) do
  local raw = redis.call('HGET', KEYS[2], conn)
  if raw then
    local e = cjson.decode(raw)
    if users[e.u] == nil then users[e.u] = e.n; table.insert(order, e.u) end
    redis.call('HDEL', KEYS[2], conn)
  end
  redis.call('ZREM', KEYS[1], conn)
end
local changes = {}
for _, user_id in ipairs(order) do
  local change = recompute(KEYS[2], KEYS[3], user_id, users[user_id], ARGV[1])
  if change then table.insert(changes, change) end
end
if redis.call('ZCARD', KEYS[1]) == 0 then
  redis.call('SREM', KEYS[4], ARGV[2])
  redis.call('DEL', KEYS[2], KEYS[3])
end
return result(KEYS[3], changes)
"""
)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisPresenceStore(RedisBacked, PresenceStore):
    """Keys, under `<prefix>`: `:g:<graphic id>:exp` (connection ids scored by expiry),
    `:g:<id>:conns` (the entries), `:g:<id>:users` (each present user's aggregate state) and
    `:graphics` (the ids of graphics with entries, for the sweep and the counts)."""

    def __init__(
        self, *, url: str, prefix: str, ttl: float, clock: Clock = time.time, client: Any = None
    ) -> None:
        super().__init__(url=url, client=client)
        self.ttl = ttl
        self.clock = clock
        self.prefix = prefix
        self._put = self.redis.register_script(_PUT_SCRIPT)
        self._refresh = self.redis.register_script(_REFRESH_SCRIPT)
        self._remove = self.redis.register_script(_REMOVE_SCRIPT)
        self._sweep = self.redis.register_script(_SWEEP_SCRIPT)

    def _keys(self, graphic_id: int) -> list[str]:
        base = f"{self.prefix}:g:{graphic_id}"
        return [f"{base}:exp", f"{base}:conns", f"{base}:users", self._graphics_key]

    @property
    def _graphics_key(self) -> str:
        return f"{self.prefix}:graphics"

    @property
    def _key_ttl_ms(self) -> int:
        return max(1, int(self.ttl * KEY_TTL_FACTOR * 1000))

    def _put_args(self, entry: PresenceEntry, now: float) -> list[Any]:
        return [
            entry.connection_id,
            str(entry.user_id),
            entry.username,
            entry.action,
            repr(now + self.ttl),
            repr(now),
            self._key_ttl_ms,
            entry.graphic_id,
        ]

    @staticmethod
    def _update(graphic_id: int, reply: list[Any], now: float) -> PresenceUpdate | None:
        if not reply:
            return None
        changes = [
            PresenceChange(user_id=int(_text(reply[i])), username=_text(reply[i + 1]),
                           action=_text(reply[i + 2]))
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
        graphic_ids = sorted(int(_text(v)) for v in await self.redis.smembers(self._graphics_key))
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
        import json

        raw = await self.redis.hgetall(self._keys(graphic_id)[2])
        found = []
        for user_id, value in raw.items():
            state = json.loads(value)
            found.append(
                PresentUser(int(_text(user_id)), state["n"], state["a"], float(state["s"]))
            )
        return sorted(found, key=lambda user: (user.since, user.user_id))

    async def counts(self) -> dict[int, tuple[int, int]]:
        import json

        graphic_ids = sorted(int(_text(v)) for v in await self.redis.smembers(self._graphics_key))
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

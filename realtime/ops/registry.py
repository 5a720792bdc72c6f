"""
The connection registry: one entry per open WebSocket connection, on every server.

Channel-layer groups only broadcast; they cannot say who is connected (STYLE.md: "Groups are
not a registry"). This store can: each entry names the connection, its user, the server process
holding it, the client's address, when it connected, when it last sent a frame and what it is
subscribed to. It decides the per-user connection limit (WS_MAX_CONNECTIONS_PER_USER), and the
per-key limit of overlay view keys (WS_MAX_CONNECTIONS_PER_VIEW_KEY), and feeds the staff page
(/staff/connections/).

Two backends with one contract:

- `RedisConnectionRegistry` when REDIS_URL is set: shared by every server. Each entry has a
  time-to-live, renewed by the owning server's supervisor every heartbeat (one pipeline per
  tick for all its connections), so the entries of a crashed server vanish within `ttl`.
- `MemoryConnectionRegistry` otherwise: this process's memory (one server process only).

Entries carry their expiry as a score in per-owner (a user, or a view key) and global sorted
sets, so counting an owner's connections and listing them ignores (and trims) entries whose
server stopped renewing them.
Admission checks the count and adds the entry in one step (a Lua script in Redis, a lock in
memory), so two tabs opening at once cannot both become the sixth.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from django.conf import settings

from realtime.redis_store import Clock, ExpiringStore, RedisExpiringStore, opened, store_key, text

# Entries outlive this many missed heartbeat refreshes: one late tick (a busy server, a slow
# Redis round trip) must not make live connections disappear from the count.
TTL_HEARTBEATS = 3

# MGET this many entries at a time when listing, to keep each reply small.
LIST_BATCH = 1000


def server_id() -> str:
    """This server process's name in the registry and the metrics' `server` label: SERVER_ID
    (which gal_dashboard.serve defaults to `<hostname>:<port>`), else the host name. Never the
    pid: a restarted process keeps its name, and its metric series."""
    return settings.SERVER_ID or socket.gethostname()


def registry_ttl() -> float:
    """How long an entry lives without a refresh."""
    return TTL_HEARTBEATS * float(settings.WS_HEARTBEAT_INTERVAL_SECONDS)


@dataclass
class ConnectionEntry:
    connection_id: str
    user_id: int  # 0 for a view-key connection
    username: str  # `view-key:<id>` for a view-key connection
    server_id: str
    remote_address: str
    connected_at: float  # UNIX time
    last_seen: float  # UNIX time of the last frame received (as of the last refresh)
    subscriptions: list[int | str] = field(default_factory=list)
    view_key_id: int | None = None  # the overlay view key it was opened with

    @property
    def owner(self) -> str:
        """Whose connection limit it counts against: `user:<id>` or `view-key:<id>`."""
        if self.view_key_id is not None:
            return f"view-key:{self.view_key_id}"
        return f"user:{self.user_id}"

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> ConnectionEntry:
        # Fields it does not know are left out: during a rolling deploy, servers of two
        # versions read each other's entries.
        known = {item.name for item in fields(cls)}
        return cls(**{key: value for key, value in json.loads(text).items() if key in known})


class ConnectionRegistry(ExpiringStore):
    """The contract both backends keep. Redis errors propagate: callers decide (the supervisor
    admits a connection it cannot register rather than refuse everyone while Redis is away)."""

    async def admit(self, entry: ConnectionEntry, *, limit: int) -> bool:
        """Add `entry` unless its owner (user or view key) already has `limit` live entries;
        True if added."""
        raise NotImplementedError

    async def refresh(self, entries: Iterable[ConnectionEntry]) -> None:
        """Store these entries afresh (last_seen, subscriptions) and renew their TTL."""
        raise NotImplementedError

    async def remove(self, entries: Iterable[ConnectionEntry]) -> None:
        """Forget these entries. Forgetting one that is not there does nothing."""
        raise NotImplementedError

    async def entries(self) -> list[ConnectionEntry]:
        """Every live entry, on every server this registry spans."""
        raise NotImplementedError

    async def count_for_user(self, user_id: int) -> int:
        raise NotImplementedError

    async def count_for_view_key(self, view_key_id: int) -> int:
        raise NotImplementedError

    async def entry(self, connection_id: str) -> ConnectionEntry | None:
        """The live entry of this connection, or None."""
        raise NotImplementedError


class MemoryStore:
    """The entries of one process, shared by every registry object (and event loop) in it: the
    staff page, served from a thread or another loop, sees the WebSocket connections."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: dict[str, tuple[ConnectionEntry, float]] = {}  # id -> (entry, expires)

    def live(self, now: float) -> list[ConnectionEntry]:
        expired = [key for key, (_, expires) in self.entries.items() if expires <= now]
        for key in expired:
            del self.entries[key]
        return [entry for entry, _ in self.entries.values()]


_process_store = MemoryStore()


class MemoryConnectionRegistry(ConnectionRegistry):
    def __init__(
        self, *, ttl: float, clock: Clock = time.time, store: MemoryStore | None = None
    ) -> None:
        super().__init__(ttl=ttl, clock=clock)
        self.store = store or _process_store

    async def admit(self, entry: ConnectionEntry, *, limit: int) -> bool:
        now = self.clock()
        with self.store.lock:
            held = sum(1 for live in self.store.live(now) if live.owner == entry.owner)
            if held >= limit:
                return False
            self.store.entries[entry.connection_id] = (entry, now + self.ttl)
            return True

    async def refresh(self, entries: Iterable[ConnectionEntry]) -> None:
        expires = self.clock() + self.ttl
        with self.store.lock:
            for entry in entries:
                self.store.entries[entry.connection_id] = (entry, expires)

    async def remove(self, entries: Iterable[ConnectionEntry]) -> None:
        with self.store.lock:
            for entry in entries:
                self.store.entries.pop(entry.connection_id, None)

    async def entries(self) -> list[ConnectionEntry]:
        with self.store.lock:
            return self.store.live(self.clock())

    async def count_for_user(self, user_id: int) -> int:
        return sum(1 for entry in await self.entries() if entry.owner == f"user:{user_id}")

    async def count_for_view_key(self, view_key_id: int) -> int:
        return sum(1 for entry in await self.entries() if entry.view_key_id == view_key_id)

    async def entry(self, connection_id: str) -> ConnectionEntry | None:
        with self.store.lock:
            found = self.store.entries.get(connection_id)
            if found is None or found[1] <= self.clock():
                return None
            return found[0]


# KEYS: the owner's sorted set, the global sorted set, the entry's key.
# ARGV: now, expires_at, limit, ttl in ms, connection id, entry JSON.
# One script, so the count and the add cannot interleave with another server's admission.
_ADMIT_SCRIPT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('SET', KEYS[3], ARGV[6], 'PX', ARGV[4])
return 1
"""


class RedisConnectionRegistry(RedisExpiringStore, ConnectionRegistry):
    """Keys, under `<prefix>`: `:conn:<id>` (the entry as JSON), `:user:<id>` and
    `:view-key:<id>` (sorted sets of an owner's connection ids scored by expiry) and `:all`
    (every connection id scored by expiry). Every key has the TTL, renewed with the entries."""

    def __init__(
        self, *, url: str, prefix: str, ttl: float, clock: Clock = time.time, client: Any = None
    ) -> None:
        super().__init__(url=url, prefix=prefix, ttl=ttl, clock=clock, client=client)
        self._admit = self.redis.register_script(_ADMIT_SCRIPT)

    def _entry_key(self, connection_id: str) -> str:
        return f"{self.prefix}:conn:{connection_id}"

    def _owner_key(self, owner: str) -> str:
        return f"{self.prefix}:{owner}"

    @property
    def _all_key(self) -> str:
        return f"{self.prefix}:all"

    async def admit(self, entry: ConnectionEntry, *, limit: int) -> bool:
        now = self.clock()
        added = await self._admit(
            keys=[
                self._owner_key(entry.owner),
                self._all_key,
                self._entry_key(entry.connection_id),
            ],
            args=[now, now + self.ttl, limit, self.ttl_ms(), entry.connection_id, entry.to_json()],
        )
        return bool(added)

    async def refresh(self, entries: Iterable[ConnectionEntry]) -> None:
        expires = self.clock() + self.ttl
        # One round trip for every connection of this server, however many there are.
        pipe = self.redis.pipeline(transaction=False)
        owners: set[str] = set()
        count = 0
        for entry in entries:
            count += 1
            pipe.set(self._entry_key(entry.connection_id), entry.to_json(), px=self.ttl_ms())
            pipe.zadd(self._owner_key(entry.owner), {entry.connection_id: expires})
            pipe.zadd(self._all_key, {entry.connection_id: expires})
            owners.add(entry.owner)
        for owner in owners:
            pipe.pexpire(self._owner_key(owner), self.ttl_ms())
        # The sets expire too once no server renews them: nothing outlives the last server.
        pipe.pexpire(self._all_key, self.ttl_ms())
        if count:
            await pipe.execute()

    async def remove(self, entries: Iterable[ConnectionEntry]) -> None:
        pipe = self.redis.pipeline(transaction=False)
        count = 0
        for entry in entries:
            count += 1
            pipe.zrem(self._owner_key(entry.owner), entry.connection_id)
            pipe.zrem(self._all_key, entry.connection_id)
            pipe.delete(self._entry_key(entry.connection_id))
        if count:
            await pipe.execute()

    async def entries(self) -> list[ConnectionEntry]:
        now = self.clock()
        await self.redis.zremrangebyscore(self._all_key, "-inf", now)
        ids = [text(value) for value in await self.redis.zrange(self._all_key, 0, -1)]
        found: list[ConnectionEntry] = []
        for start in range(0, len(ids), LIST_BATCH):
            batch = ids[start : start + LIST_BATCH]
            for raw in await self.redis.mget([self._entry_key(key) for key in batch]):
                if raw is not None:  # expired between the two reads
                    found.append(ConnectionEntry.from_json(raw))
        return found

    async def count_for_user(self, user_id: int) -> int:
        return await self._count_for_owner(f"user:{user_id}")

    async def count_for_view_key(self, view_key_id: int) -> int:
        return await self._count_for_owner(f"view-key:{view_key_id}")

    async def _count_for_owner(self, owner: str) -> int:
        key = self._owner_key(owner)
        await self.redis.zremrangebyscore(key, "-inf", self.clock())
        return int(await self.redis.zcard(key))

    async def entry(self, connection_id: str) -> ConnectionEntry | None:
        # Live as `entries()` sees it: by its expiry score, not only by its key's TTL.
        pipe = self.redis.pipeline(transaction=False)
        pipe.get(self._entry_key(connection_id))
        pipe.zscore(self._all_key, connection_id)
        raw, expires = await pipe.execute()
        if raw is None or expires is None or float(expires) <= self.clock():
            return None
        return ConnectionEntry.from_json(raw)


def registry_key_prefix() -> str:
    """The registry's Redis keys share the channel layer's prefix (CHANNEL_LAYER_PREFIX), so
    servers that hear each other's broadcasts also count each other's connections."""
    return store_key("connections")


def connection_registry(*, clock: Clock = time.time) -> ConnectionRegistry:
    """A registry as the settings say: Redis when REDIS_URL is set, this process's memory
    otherwise. Close it when done (`close()`)."""
    if settings.REDIS_URL:
        return RedisConnectionRegistry(
            url=settings.REDIS_URL, prefix=registry_key_prefix(), ttl=registry_ttl(), clock=clock
        )
    return MemoryConnectionRegistry(ttl=registry_ttl(), clock=clock)


def open_registry() -> AbstractAsyncContextManager[ConnectionRegistry]:
    """`async with open_registry() as registry:` for a one-off read (the staff page)."""
    return opened(connection_registry())

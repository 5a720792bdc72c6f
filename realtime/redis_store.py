"""
What the realtime stores share: the connection registry, the presence store and the recent
errors each have a memory backend (one server process) and a Redis one (every server), chosen by
REDIS_URL.

Their Redis backends use one kind of client (a small bounded pool with explicit timeouts, so
the three cannot drift apart), keep their keys under the channel layer's prefix
(CHANNEL_LAYER_PREFIX: servers that hear each other's broadcasts share these stores too), and
close their client the same way. The registry and the presence store hold entries that expire
(`ExpiringStore`: a time-to-live and a clock), built the same way in both backends
(`RedisExpiringStore` adds the client and the key prefix).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol, TypeVar

from django.conf import settings

Clock = Callable[[], float]

# Connections per server process: store calls are single short commands or one pipeline,
# so a few suffice; beyond this a caller waits (up to REDIS_STORE_TIMEOUT_SECONDS) for a free one.
REDIS_MAX_CONNECTIONS = 8


def redis_client(url: str) -> Any:
    """The asyncio Redis client of a store: a bounded, blocking pool with explicit timeouts."""
    import redis.asyncio as redis

    # A bound of its own, not the broadcasts' REDIS_SOCKET_TIMEOUT_SECONDS (5 s): these calls sit
    # on a WebSocket's admission and on every heartbeat's refresh, so a hung Redis must cost
    # them seconds, never the server, and the caller carries on without the store (the
    # supervisor admits a connection it cannot register). Its 2 s default is the number this
    # client has always used, kept so the behaviour does not change.
    timeout = float(settings.REDIS_STORE_TIMEOUT_SECONDS)
    pool = redis.BlockingConnectionPool.from_url(
        url,
        max_connections=REDIS_MAX_CONNECTIONS,
        timeout=timeout,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
    )
    return redis.Redis(connection_pool=pool)


def store_key(name: str) -> str:
    """A store's key (or key prefix) `<CHANNEL_LAYER_PREFIX>:<name>`."""
    config = settings.CHANNEL_LAYERS.get("default", {}).get("CONFIG", {})
    return f"{config.get('prefix', 'gal')}:{name}"


class RedisBacked:
    """The Redis half of a store, mixed in before the store's contract class: `self.redis` is
    the client given (tests share one) or a new `redis_client(url)`, and `close()` releases
    its connections. Redis errors propagate; each store's callers decide what to do."""

    def __init__(self, *, url: str, client: Any = None) -> None:
        self.redis = client if client is not None else redis_client(url)

    async def close(self) -> None:
        await self.redis.aclose(close_connection_pool=True)


class ExpiringStore:
    """A store whose entries expire `ttl` seconds after their last renewal, as `clock` (UNIX
    time; tests move it by hand) tells. The memory backends are this alone."""

    def __init__(self, *, ttl: float, clock: Clock = time.time) -> None:
        self.ttl = ttl
        self.clock = clock

    async def close(self) -> None:
        """Release connections to the backend (nothing to do in memory)."""


class RedisExpiringStore(RedisBacked, ExpiringStore):
    """The Redis backend of an `ExpiringStore`, mixed in before the store's contract class: its
    keys start with `prefix`."""

    def __init__(
        self, *, url: str, prefix: str, ttl: float, clock: Clock = time.time, client: Any = None
    ) -> None:
        RedisBacked.__init__(self, url=url, client=client)
        ExpiringStore.__init__(self, ttl=ttl, clock=clock)
        self.prefix = prefix

    def ttl_ms(self, factor: float = 1) -> int:
        """`factor` times the TTL in whole milliseconds (PEXPIRE's unit), at least 1."""
        return max(1, int(self.ttl * factor * 1000))


def text(value: Any) -> str:
    """A Redis reply's value as text (clients made without decode_responses answer bytes)."""
    return value.decode() if isinstance(value, bytes) else str(value)


class Closable(Protocol):
    async def close(self) -> None: ...


S = TypeVar("S", bound=Closable)


@asynccontextmanager
async def opened(store: S) -> AsyncIterator[S]:
    """`async with opened(store) as store:` closes the store after a one-off use (the staff
    page's reads)."""
    try:
        yield store
    finally:
        await store.close()

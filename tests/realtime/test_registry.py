"""The connection registry, in memory and in Redis: one entry per connection, the per-user
limit decided in one step (two admissions at once cannot both take the last place), entries
renewed by refresh and gone once their server stops renewing them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from django.conf import settings

from realtime.ops.registry import (
    ConnectionEntry,
    ConnectionRegistry,
    MemoryConnectionRegistry,
    MemoryStore,
    RedisConnectionRegistry,
)

TTL = 60.0


class FakeClock:
    """A wall clock the test moves by hand, so expiry needs no waiting."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def entry(user_id: int = 1, *, server: str = "web-1:100", **fields: Any) -> ConnectionEntry:
    values: dict[str, Any] = {
        "connection_id": uuid.uuid4().hex,
        "user_id": user_id,
        "username": f"user{user_id}",
        "server_id": server,
        "remote_address": "127.0.0.1:50000",
        "connected_at": 1_800_000_000.0,
        "last_seen": 1_800_000_000.0,
        "subscriptions": [],
    }
    values.update(fields)
    return ConnectionEntry(**values)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def memory_registry(clock: FakeClock) -> AsyncIterator[ConnectionRegistry]:
    yield MemoryConnectionRegistry(ttl=TTL, clock=clock, store=MemoryStore())


async def redis_registry(clock: FakeClock) -> AsyncIterator[ConnectionRegistry]:
    prefix = f"gal-test-registry-{uuid.uuid4().hex[:8]}"
    registry = RedisConnectionRegistry(url=settings.REDIS_URL, prefix=prefix, ttl=TTL, clock=clock)
    try:
        yield registry
    finally:
        keys = [key async for key in registry.redis.scan_iter(match=f"{prefix}:*")]
        if keys:
            await registry.redis.delete(*keys)
        await registry.close()


@pytest.fixture(
    params=[
        pytest.param(memory_registry, id="memory"),
        pytest.param(redis_registry, id="redis", marks=pytest.mark.redis),
    ]
)
async def registry(
    request: pytest.FixtureRequest, clock: FakeClock
) -> AsyncIterator[ConnectionRegistry]:
    factory: Callable[[FakeClock], AsyncIterator[ConnectionRegistry]] = request.param
    generator = factory(clock)
    yield await anext(generator)
    with pytest.raises(StopAsyncIteration):
        await anext(generator)


async def test_admits_up_to_the_limit_per_user_and_refuses_the_next(
    registry: ConnectionRegistry,
) -> None:
    """A user gets `limit` entries; the next admission is refused and stores nothing, while
    another user is still admitted."""
    for _ in range(5):
        assert await registry.admit(entry(1), limit=5)
    sixth = entry(1)
    assert not await registry.admit(sixth, limit=5)
    assert await registry.admit(entry(2), limit=5)

    assert await registry.count_for_user(1) == 5
    assert await registry.count_for_user(2) == 1
    assert sixth.connection_id not in {e.connection_id for e in await registry.entries()}


async def test_two_admissions_at_once_cannot_both_take_the_last_place(
    registry: ConnectionRegistry,
) -> None:
    """With four entries held, ten simultaneous admissions for the same user let exactly one
    in: the count and the add are one step."""
    for _ in range(4):
        assert await registry.admit(entry(1), limit=5)

    results = await asyncio.gather(*(registry.admit(entry(1), limit=5) for _ in range(10)))

    assert sorted(results) == [False] * 9 + [True]
    assert await registry.count_for_user(1) == 5


async def test_entries_list_every_field_and_removal_frees_a_place(
    registry: ConnectionRegistry,
) -> None:
    """`entries` returns what was stored; removing an entry frees its user's place, and
    removing it again does nothing."""
    first = entry(1, subscriptions=["all", 7], remote_address="10.0.0.5:41000")
    others = [entry(1) for _ in range(4)]
    for item in [first, *others]:
        assert await registry.admit(item, limit=5)
    assert not await registry.admit(entry(1), limit=5)

    listed = {item.connection_id: item for item in await registry.entries()}
    assert listed[first.connection_id] == first

    await registry.remove([first])
    await registry.remove([first])
    assert first.connection_id not in {item.connection_id for item in await registry.entries()}
    assert await registry.admit(entry(1), limit=5)


async def test_entries_of_a_server_that_stops_refreshing_vanish_after_the_ttl(
    registry: ConnectionRegistry, clock: FakeClock
) -> None:
    """Refreshed entries stay (with their new last_seen and subscriptions); entries whose
    server stopped refreshing them (it crashed) no longer count or list after the TTL."""
    live = entry(1, server="web-1:100")
    crashed = [entry(1, server="web-2:200") for _ in range(4)]
    for item in [live, *crashed]:
        assert await registry.admit(item, limit=5)

    clock.now += TTL * 0.75
    live.last_seen = clock.now
    live.subscriptions = ["all"]
    await registry.refresh([live])
    clock.now += TTL * 0.75

    assert [(item.connection_id, item.subscriptions) for item in await registry.entries()] == [
        (live.connection_id, ["all"])
    ]
    assert await registry.count_for_user(1) == 1
    for _ in range(4):
        assert await registry.admit(entry(1), limit=5)
    assert not await registry.admit(entry(1), limit=5)


async def test_one_entry_is_found_by_its_connection_id_while_it_lives(
    registry: ConnectionRegistry, clock: FakeClock
) -> None:
    """`entry` finds a live connection wherever its server is (the staff page's disconnect
    looks connections up this way), and nothing once it was removed or expired."""
    kept, removed, expiring = entry(1), entry(2), entry(3, server="web-2:200")
    for item in (kept, removed, expiring):
        assert await registry.admit(item, limit=5)
    await registry.remove([removed])

    assert await registry.entry(kept.connection_id) == kept
    assert await registry.entry(expiring.connection_id) == expiring
    assert await registry.entry(removed.connection_id) is None
    assert await registry.entry(uuid.uuid4().hex) is None

    clock.now += TTL * 0.75
    await registry.refresh([kept])
    clock.now += TTL * 0.75
    assert await registry.entry(kept.connection_id) == kept
    assert await registry.entry(expiring.connection_id) is None


@pytest.mark.redis
async def test_redis_entries_carry_a_ttl(clock: FakeClock) -> None:
    """In Redis each entry's key expires on its own (the server's clock is not needed for a
    crashed server's entries to go): its TTL is the registry's."""
    generator = redis_registry(clock)
    registry = await anext(generator)
    assert isinstance(registry, RedisConnectionRegistry)
    item = entry(1)
    assert await registry.admit(item, limit=5)
    ttl_ms = await registry.redis.pttl(f"{registry.prefix}:conn:{item.connection_id}")
    assert 0 < ttl_ms <= TTL * 1000
    await registry.refresh([item])
    for key in ("user:1", "all"):
        assert 0 < await registry.redis.pttl(f"{registry.prefix}:{key}") <= TTL * 1000
    with pytest.raises(StopAsyncIteration):
        await anext(generator)

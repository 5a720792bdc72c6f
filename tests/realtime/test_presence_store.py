"""The presence store, in memory and in Redis: entries per (connection, graphic) aggregated into
one state per user (editing wins; left only with the last tab), every write saying exactly what
changed, expiry with the clock moved by hand, and concurrent writers (two servers in Redis)
never both announcing, nor both missing, one change."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from django.conf import settings

from realtime.presence.store import (
    EDITING,
    LEFT,
    VIEWING,
    MemoryPresenceStore,
    PresenceChange,
    PresenceEntry,
    PresenceStore,
    PresenceUpdate,
    RedisPresenceStore,
)

TTL = 45.0
GRAPHIC = 7


class FakeClock:
    """A wall clock the test moves by hand, so expiry needs no waiting."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def tab(user_id: int = 1, *, graphic_id: int = GRAPHIC, action: str = VIEWING) -> PresenceEntry:
    """One connection of `user_id` on a graphic."""
    return PresenceEntry(
        connection_id=uuid.uuid4().hex,
        graphic_id=graphic_id,
        user_id=user_id,
        username=f"user{user_id}",
        action=action,
    )


def as_action(entry: PresenceEntry, action: str) -> PresenceEntry:
    return PresenceEntry(
        entry.connection_id, entry.graphic_id, entry.user_id, entry.username, action
    )


def changes(update: PresenceUpdate | None) -> list[tuple[int, str]]:
    return [] if update is None else [(c.user_id, c.action) for c in update.changes]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# Each backend as a factory of "servers": stores that share one state (one Redis prefix; in
# memory, one object, as only one process uses it).
StoreFactory = Callable[[], PresenceStore]


async def memory_stores(clock: FakeClock) -> AsyncIterator[StoreFactory]:
    store = MemoryPresenceStore(ttl=TTL, clock=clock)
    yield lambda: store


async def redis_stores(clock: FakeClock) -> AsyncIterator[StoreFactory]:
    prefix = f"gal-test-presence-{uuid.uuid4().hex[:8]}"
    made: list[RedisPresenceStore] = []

    def make() -> PresenceStore:
        store = RedisPresenceStore(url=settings.REDIS_URL, prefix=prefix, ttl=TTL, clock=clock)
        made.append(store)
        return store

    try:
        yield make
    finally:
        keys = [key async for key in made[0].redis.scan_iter(match=f"{prefix}:*")]
        if keys:
            await made[0].redis.delete(*keys)
        for store in made:
            await store.close()


@pytest.fixture(
    params=[
        pytest.param(memory_stores, id="memory"),
        pytest.param(redis_stores, id="redis", marks=pytest.mark.redis),
    ]
)
async def stores(request: pytest.FixtureRequest, clock: FakeClock) -> AsyncIterator[StoreFactory]:
    async for factory in request.param(clock):
        yield factory


@pytest.fixture
def store(stores: StoreFactory) -> PresenceStore:
    return stores()


async def test_a_first_tab_is_announced_as_viewing_with_the_counts(
    store: PresenceStore, clock: FakeClock
) -> None:
    """A user's first entry on a graphic is a change to viewing, timed now, counted."""
    update = await store.put(tab(1))

    assert update == PresenceUpdate(
        graphic_id=GRAPHIC,
        changes=[PresenceChange(user_id=1, username="user1", action=VIEWING)],
        at=clock.now,
        viewing=1,
        editing=0,
    )
    assert [(u.user_id, u.action, u.since) for u in await store.users(GRAPHIC)] == [
        (1, VIEWING, clock.now)
    ]


async def test_three_tabs_are_one_presence_that_leaves_with_the_last(
    store: PresenceStore,
) -> None:
    """Second and third tabs change nothing; closing tabs changes nothing until the last."""
    tabs = [tab(1), tab(1), tab(1)]
    assert changes(await store.put(tabs[0])) == [(1, VIEWING)]
    assert await store.put(tabs[1]) is None
    assert await store.put(tabs[2]) is None

    assert await store.remove(connection_id=tabs[0].connection_id, graphic_id=GRAPHIC) is None
    assert await store.remove(connection_id=tabs[2].connection_id, graphic_id=GRAPHIC) is None
    last = await store.remove(connection_id=tabs[1].connection_id, graphic_id=GRAPHIC)

    assert changes(last) == [(1, LEFT)]
    assert last is not None and (last.viewing, last.editing) == (0, 0)
    assert await store.users(GRAPHIC) == []
    assert await store.counts() == {}


async def test_editing_in_any_tab_makes_the_user_editing(store: PresenceStore) -> None:
    """One tab editing is the user editing; back to viewing when that tab stops or leaves."""
    viewing_tab, editing_tab = tab(1), tab(1)
    await store.put(viewing_tab)
    await store.put(editing_tab)

    update = await store.put(as_action(editing_tab, EDITING))
    assert changes(update) == [(1, EDITING)]
    assert update is not None and (update.viewing, update.editing) == (0, 1)
    assert await store.put(as_action(editing_tab, EDITING)) is None  # said again: no change
    left = await store.remove(connection_id=editing_tab.connection_id, graphic_id=GRAPHIC)
    assert changes(left) == [(1, VIEWING)]


async def test_users_and_counts_per_graphic(store: PresenceStore, clock: FakeClock) -> None:
    """Users longest-present first; counts per graphic with someone there."""
    await store.put(tab(1))
    clock.now += 1
    await store.put(tab(2, action=EDITING))
    await store.put(tab(3, graphic_id=8))

    assert [(u.username, u.action) for u in await store.users(GRAPHIC)] == [
        ("user1", VIEWING),
        ("user2", EDITING),
    ]
    assert await store.counts() == {GRAPHIC: (1, 1), 8: (1, 0)}


async def test_removing_an_entry_that_is_not_there_changes_nothing(store: PresenceStore) -> None:
    assert await store.remove(connection_id="gone", graphic_id=GRAPHIC) is None


async def test_expired_entries_are_swept_once_and_announced_as_left(
    store: PresenceStore, clock: FakeClock
) -> None:
    """An entry nobody renews is removed by the first sweep after its TTL; a renewed one
    stays; the sweep says who left."""
    quiet, renewed = tab(1), tab(2)
    await store.put(quiet)
    await store.put(renewed)
    clock.now += TTL - 1
    assert await store.sweep() == []
    assert await store.refresh([renewed]) == []
    clock.now += 2

    swept = await store.sweep()

    assert [changes(update) for update in swept] == [[(1, LEFT)]]
    assert (swept[0].viewing, swept[0].editing) == (1, 0)
    assert await store.sweep() == []
    assert [u.user_id for u in await store.users(GRAPHIC)] == [2]


async def test_one_expired_tab_of_several_changes_nothing(
    store: PresenceStore, clock: FakeClock
) -> None:
    """A user whose other tab is renewed stays present when one tab expires; an expired
    editing tab leaves them viewing."""
    live, crashed = tab(1), tab(1, action=EDITING)
    await store.put(live)
    await store.put(crashed)
    clock.now += TTL / 2
    await store.refresh([live])
    clock.now += TTL / 2 + 1

    assert [changes(update) for update in await store.sweep()] == [[(1, VIEWING)]]


async def test_a_refresh_after_a_sweep_brings_the_user_back(
    store: PresenceStore, clock: FakeClock
) -> None:
    """A server too slow to renew in time has its entry swept; its next refresh stores it
    again and says the user is back."""
    entry = tab(1)
    await store.put(entry)
    clock.now += TTL + 1
    await store.sweep()

    back = await store.refresh([entry])

    assert [changes(update) for update in back] == [[(1, VIEWING)]]
    assert [u.user_id for u in await store.users(GRAPHIC)] == [1]


async def test_concurrent_tabs_opening_announce_one_viewing(stores: StoreFactory) -> None:
    """Tabs of one user opening at once, through different servers: exactly one announces."""
    servers = [stores() for _ in range(4)]
    tabs = [tab(1) for _ in servers]

    updates = await asyncio.gather(*(s.put(t) for s, t in zip(servers, tabs, strict=True)))

    assert sorted(change for u in updates for change in changes(u)) == [(1, VIEWING)]


async def test_concurrent_last_tabs_closing_announce_one_left(stores: StoreFactory) -> None:
    servers = [stores() for _ in range(4)]
    tabs = [tab(1) for _ in servers]
    for server, entry in zip(servers, tabs, strict=True):
        await server.put(entry)

    updates = await asyncio.gather(
        *(
            s.remove(connection_id=t.connection_id, graphic_id=GRAPHIC)
            for s, t in zip(servers, tabs, strict=True)
        )
    )

    assert sorted(change for u in updates for change in changes(u)) == [(1, LEFT)]


async def test_concurrent_sweeps_announce_each_departure_once(
    stores: StoreFactory, clock: FakeClock
) -> None:
    """Every live server sweeps; each expired user is announced by exactly one of them."""
    crashed = stores()
    for user_id in range(1, 6):
        await crashed.put(tab(user_id))
    clock.now += TTL + 1
    survivors = [stores() for _ in range(3)]

    results: list[list[PresenceUpdate]] = await asyncio.gather(*(s.sweep() for s in survivors))

    announced = sorted(c for updates in results for u in updates for c in changes(u))
    assert announced == [(user_id, LEFT) for user_id in range(1, 6)]


def test_expiry_is_a_setting() -> None:
    """PRESENCE_TTL_SECONDS is read from the settings, at least two heartbeats long."""
    assert settings.PRESENCE_TTL_SECONDS >= 2 * settings.WS_HEARTBEAT_INTERVAL_SECONDS

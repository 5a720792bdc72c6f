"""The recent-errors store behind the staff page: capped at STAFF_RECENT_ERRORS_MAX, newest
first, shared by every server through Redis; and its writer, which never makes a connection wait
or fail, whatever the store does."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings as django_settings
from prometheus_client import REGISTRY

from realtime.ops import recent_errors
from realtime.ops.recent_errors import (
    BUFFER_FULL,
    ERROR,
    STORE_FAILED,
    MemoryRecentErrors,
    RecentError,
    RecentErrorStore,
    RecentErrorWriter,
    RedisRecentErrors,
    get_recent_error_writer,
    recent_errors_key,
)
from realtime.ops.registry import server_id


def dropped(reason: str) -> float:
    labels = {"server": server_id(), "reason": reason}
    return REGISTRY.get_sample_value("gal_recent_errors_dropped_total", labels) or 0.0


def entry(code: str, *, at: float | None = None, server: str = "live-1") -> RecentError:
    return RecentError(
        at=time.time() if at is None else at,
        server_id=server,
        connection_id="5f0c3c0b4f7a4f55b1d6a4a8e2f1c9d3",
        user_id=3,
        username="editor",
        remote_address="10.0.4.17",
        kind=ERROR,
        code=code,
        request_type="update",
    )


class GatedStore(RecentErrorStore):
    """Stands in for a Redis that answers only when the test says so, or not at all."""

    def __init__(self, *, fail: bool = False) -> None:
        self.fail = fail
        self.open = asyncio.Event()
        self.batches: list[list[str]] = []

    async def add(self, entries: list[RecentError]) -> None:
        await self.open.wait()
        if self.fail:
            raise ConnectionError("Redis went away")
        self.batches.append([item.code for item in entries])


@pytest.fixture
def short_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(recent_errors, "RETRY_AFTER_FAILURE_SECONDS", 0.01)


async def test_a_slow_store_never_makes_record_wait_and_holds_only_the_newest(
    settings: Any,
) -> None:
    """While the store does not answer, `record` still returns at once; the buffer keeps the
    newest STAFF_RECENT_ERRORS_MAX entries and counts each one it let go. When the store
    answers, everything still buffered reaches it, in order."""
    settings.STAFF_RECENT_ERRORS_MAX = 5
    store = GatedStore()
    writer = RecentErrorWriter(store_factory=lambda: store)
    before = dropped(BUFFER_FULL)

    started = time.monotonic()
    for number in range(12):
        writer.record(entry(f"e{number}"))
    assert time.monotonic() - started < 0.1
    assert [item.code for item in writer.buffer] == ["e7", "e8", "e9", "e10", "e11"]
    assert dropped(BUFFER_FULL) - before == 7

    await asyncio.sleep(0.01)  # the writer takes the batch and waits on the store
    writer.record(entry("e12"))
    store.open.set()
    await writer.flush()

    assert store.batches == [["e7", "e8", "e9", "e10", "e11"], ["e12"]]
    assert not writer.buffer


async def test_a_failing_store_costs_the_entries_never_the_caller(short_retry: None) -> None:
    """A store that raises loses that batch, counted as store_failed; `record` raises nothing,
    the writer stops, and the next entry starts it again."""
    store = GatedStore(fail=True)
    store.open.set()
    writer = RecentErrorWriter(store_factory=lambda: store)
    before = dropped(STORE_FAILED)

    for number in range(3):
        writer.record(entry(f"e{number}"))
    await writer.flush()

    assert dropped(STORE_FAILED) - before == 3
    assert not writer.buffer
    store.fail = False
    writer.record(entry("after"))
    await writer.flush()
    assert store.batches == [["after"]]


async def test_a_store_that_cannot_even_be_opened_costs_the_entries_never_the_caller() -> None:
    def unreachable() -> RecentErrorStore:
        raise ConnectionError("no Redis here")

    writer = RecentErrorWriter(store_factory=unreachable)
    before = dropped(STORE_FAILED)

    writer.record(entry("e0"))
    writer.record(entry("e1"))
    await writer.flush()

    assert dropped(STORE_FAILED) - before == 2


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
async def test_a_connection_whose_errors_cannot_be_stored_keeps_working(
    ws_connect: Callable[..., Any], viewer: Any, short_retry: None
) -> None:
    """With the store failing, a client provoking errors gets each reply as usual, and the
    lost entries are counted."""
    store = GatedStore(fail=True)
    store.open.set()
    get_recent_error_writer().store_factory = lambda: store
    before = dropped(STORE_FAILED)
    client = await ws_connect(viewer)

    for _ in range(3):
        reply = await client.request("subscribe", {"graphic_id": "seven"})
        assert reply["data"]["code"] == "validation_error"
    assert (await client.request("ping"))["type"] == "pong"
    await get_recent_error_writer().flush()

    assert dropped(STORE_FAILED) - before == 3


async def test_the_memory_store_keeps_the_newest_max_newest_first(settings: Any) -> None:
    settings.STAFF_RECENT_ERRORS_MAX = 3
    store = MemoryRecentErrors()
    await store.add([entry("e0"), entry("e1")])
    await store.add([entry("e2"), entry("e3"), entry("e4")])

    assert [item.code for item in await store.latest()] == ["e4", "e3", "e2"]


@pytest.mark.redis
async def test_the_redis_list_is_shared_by_servers_and_trimmed(settings: Any) -> None:
    """Two servers' stores write one list; it keeps the newest STAFF_RECENT_ERRORS_MAX of
    them, newest first, and each entry reads back as it was written."""
    settings.STAFF_RECENT_ERRORS_MAX = 4
    first = RedisRecentErrors(url=django_settings.REDIS_URL, key=recent_errors_key())
    second = RedisRecentErrors(url=django_settings.REDIS_URL, key=recent_errors_key())
    written = entry("e0", at=1795000000.5, server="live-1")
    try:
        await first.add([written, entry("e1", server="live-1")])
        await second.add([entry("e2", server="live-2"), entry("e3", server="live-2")])
        await first.add([entry("e4", server="live-1")])

        latest = await second.latest()
        assert [(item.code, item.server_id) for item in latest] == [
            ("e4", "live-1"),
            ("e3", "live-2"),
            ("e2", "live-2"),
            ("e1", "live-1"),
        ]
        assert await first.redis.llen(recent_errors_key()) == 4
        settings.STAFF_RECENT_ERRORS_MAX = 5
        await first.clear()
        await first.add([written])
        assert await second.latest() == [written]
    finally:
        await first.clear()
        await first.close()
        await second.close()

"""
Recent errors: the newest `error` frames sent and abnormal closes, on every server, for the
staff connections page (/staff/connections/).

Each entry names when, which server, which connection and user, the remote address, the error
code (or close code) and the client message type that caused it. Nothing else: no message text,
no `details`, no frame content, so no token or view key can end up here.

Two stores with one contract, beside the connection registry (`realtime.ops.registry`):

- `RedisRecentErrors` when REDIS_URL is set: one list shared by every server, newest first,
  capped with LTRIM at STAFF_RECENT_ERRORS_MAX.
- `MemoryRecentErrors` otherwise: a deque in this process's memory (one server process only).

Writing must never slow or break a connection: the hooks in `realtime.ops.observability` call
`record_recent_error`, which only appends to a bounded in-process buffer and returns. One task
per event loop drains the buffer to the store in batches and ends when it is empty. A full
buffer drops its oldest entry, a store that fails drops the batch; either way the loss is
counted (`gal_recent_errors_dropped_total{reason}`) and nothing is raised.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections import deque
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings
from prometheus_client import Counter

from realtime.ops.registry import server_id
from realtime.per_loop import PerLoop
from realtime.redis_store import RedisBacked, opened, store_key

logger = logging.getLogger(__name__)

ERROR = "error"  # an `error` frame was sent
CLOSE = "close"  # the connection closed with a code other than 1000 or 1001

DROPPED = Counter(
    "gal_recent_errors_dropped_total",
    "Recent-error entries lost before reaching the staff page's store, by reason.",
    ["server", "reason"],
)
BUFFER_FULL = "buffer_full"
STORE_FAILED = "store_failed"

# After a failed write, the writer waits this long before the next one, so a Redis that refuses
# connections costs one attempt a second rather than one per error frame.
RETRY_AFTER_FAILURE_SECONDS = 1.0


@dataclass(frozen=True)
class RecentError:
    at: float  # UNIX time
    server_id: str
    connection_id: str | None
    user_id: int | None
    username: str | None
    remote_address: str | None
    kind: str  # ERROR or CLOSE
    code: str  # the error code, or the close code as a number in text
    request_type: str | None  # the client message type that caused it; None: the connection's

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> RecentError:
        return cls(**json.loads(text))


def recent_errors_max() -> int:
    return int(settings.STAFF_RECENT_ERRORS_MAX)


class RecentErrorStore:
    """The contract both stores keep. Errors of the store propagate; the writer counts them."""

    async def add(self, entries: list[RecentError]) -> None:
        """Store `entries` (oldest first), keeping only the newest STAFF_RECENT_ERRORS_MAX."""
        raise NotImplementedError

    async def latest(self) -> list[RecentError]:
        """The newest STAFF_RECENT_ERRORS_MAX entries, newest first."""
        raise NotImplementedError

    async def clear(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        """Release connections to the store (nothing to do in memory)."""


# The memory store's entries: one deque per process, shared by every event loop in it (the
# staff page may be served from another loop or thread than the WebSocket that failed).
_process_lock = threading.Lock()
_process_entries: deque[RecentError] = deque()


class MemoryRecentErrors(RecentErrorStore):
    """This process's entries (one server process only)."""

    async def add(self, entries: list[RecentError]) -> None:
        keep = recent_errors_max()
        with _process_lock:
            _process_entries.extend(entries)
            while len(_process_entries) > keep:
                _process_entries.popleft()

    async def latest(self) -> list[RecentError]:
        with _process_lock:
            return list(reversed(_process_entries))[: recent_errors_max()]

    async def clear(self) -> None:
        clear_process_recent_errors()


def clear_process_recent_errors() -> None:
    """Forget this process's entries (the memory store's), e.g. between tests."""
    with _process_lock:
        _process_entries.clear()


class RedisRecentErrors(RedisBacked, RecentErrorStore):
    """One Redis list, `<prefix>:recent-errors`, newest at the head."""

    def __init__(self, *, url: str, key: str, client: Any = None) -> None:
        super().__init__(url=url, client=client)
        self.key = key

    async def add(self, entries: list[RecentError]) -> None:
        if not entries:
            return
        # One round trip: LPUSH puts the batch's last (newest) entry at the head, and LTRIM
        # keeps the list bounded however many servers push into it.
        pipe = self.redis.pipeline(transaction=False)
        pipe.lpush(self.key, *(entry.to_json() for entry in entries))
        pipe.ltrim(self.key, 0, recent_errors_max() - 1)
        await pipe.execute()

    async def latest(self) -> list[RecentError]:
        raw = await self.redis.lrange(self.key, 0, recent_errors_max() - 1)
        return [RecentError.from_json(item) for item in raw]

    async def clear(self) -> None:
        await self.redis.delete(self.key)


def recent_errors_key() -> str:
    """The list shares the channel layer's prefix, as the connection registry does, so the
    servers that count each other's connections also see each other's errors."""
    return store_key("recent-errors")


def recent_error_store() -> RecentErrorStore:
    """A store as the settings say: Redis when REDIS_URL is set, this process's memory
    otherwise. Close it when done (`close()`)."""
    if settings.REDIS_URL:
        return RedisRecentErrors(url=settings.REDIS_URL, key=recent_errors_key())
    return MemoryRecentErrors()


def open_recent_errors() -> AbstractAsyncContextManager[RecentErrorStore]:
    """`async with open_recent_errors() as store:` for a one-off read (the staff page)."""
    return opened(recent_error_store())


class RecentErrorWriter:
    """Fire and forget: `record` appends to a bounded buffer and returns at once; a task drains
    the buffer to the store and ends when it is empty. One per event loop (a Redis client
    belongs to the loop that made it)."""

    def __init__(self, *, store_factory: Callable[[], RecentErrorStore] = recent_error_store):
        self.store_factory = store_factory
        self.buffer: deque[RecentError] = deque()
        self._task: asyncio.Task[None] | None = None

    def record(self, entry: RecentError) -> None:
        """Queue `entry` for the store. Never blocks, never raises."""
        try:
            # Only the newest STAFF_RECENT_ERRORS_MAX can be shown, so holding more than that
            # while the store is slow would be memory spent on entries bound to be trimmed.
            if len(self.buffer) >= recent_errors_max():
                self.buffer.popleft()
                DROPPED.labels(server_id(), BUFFER_FULL).inc()
            self.buffer.append(entry)
            if self._task is None:
                self._task = asyncio.get_running_loop().create_task(
                    self._drain(), name="recent-errors-writer"
                )
        except Exception:
            logger.debug("could not queue a recent error", exc_info=True)

    async def flush(self) -> None:
        """Wait until everything recorded so far has been written (or dropped)."""
        while self._task is not None:
            await asyncio.shield(self._task)

    async def _drain(self) -> None:
        store: RecentErrorStore | None = None
        cancelled = False
        try:
            store = self.store_factory()
            while self.buffer:
                batch = list(self.buffer)
                self.buffer.clear()
                try:
                    await store.add(batch)
                except Exception:
                    DROPPED.labels(server_id(), STORE_FAILED).inc(len(batch))
                    logger.warning(
                        "could not store %d recent errors for the staff page",
                        len(batch),
                        exc_info=True,
                    )
                    await asyncio.sleep(RETRY_AFTER_FAILURE_SECONDS)
        except asyncio.CancelledError:
            cancelled = True  # the loop is shutting down: what is left goes with it
            raise
        except Exception:
            DROPPED.labels(server_id(), STORE_FAILED).inc(len(self.buffer))
            self.buffer.clear()
            logger.warning("the recent-errors writer failed", exc_info=True)
        finally:
            if store is not None:
                try:
                    await store.close()
                except BaseException:
                    logger.debug("closing the recent-errors store failed", exc_info=True)
            self._task = None
            if self.buffer and not cancelled:
                # Recorded while the store was closing: start again rather than strand them.
                self._task = asyncio.get_running_loop().create_task(
                    self._drain(), name="recent-errors-writer"
                )


_writers = PerLoop(RecentErrorWriter)


def get_recent_error_writer() -> RecentErrorWriter:
    """The writer of the running event loop."""
    return _writers.get()


def record_recent_error(entry: RecentError) -> None:
    """Queue one entry for the staff page. Never blocks, never raises; outside an event loop
    (a synchronous caller) it does nothing."""
    try:
        writer = get_recent_error_writer()
    except RuntimeError:
        return
    writer.record(entry)

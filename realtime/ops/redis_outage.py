"""
Redis outages as one server process sees them: logged once when they start, once when they end.

Everything that uses Redis (the channel layer's broadcasts and its receive task, the connection
registry, presence, the staff page's recent errors) carries on without it, and each used to log
its failure with a traceback every time: one per event committed during an outage, one a second
from channels_redis's receive task. Instead:

- `RedisOutageFilter`, on the log handlers (settings.LOGGING), takes every record whose
  exception is a Redis connection error or timeout out of the log and reports it here;
- the hub's broadcast probe reports each probe, failed or answered
(realtime.delivery.broadcast_probe), and a
  broadcast that goes through reports that Redis answered (realtime.delivery.events);
- the first failure while Redis was answering logs one WARNING, `Redis is unreachable`, naming
  what failed (no traceback); the first answer to an operation started after that logs one
  WARNING, `Redis answers again`, with how long it was away and how many failures went unlogged.

Metrics, labelled with this process's `server` id: `gal_redis_outages_total`,
`gal_redis_unreachable` (1 during an outage) and `gal_redis_errors_total{source}` (every failure,
logged or not; `source` is the logger that reported it, or `broadcast_probe`).

This module is imported while logging is configured, before the apps load: it must not import
models.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import redis.exceptions
from prometheus_client import Counter, Gauge

from realtime.ops.registry import server_id

logger = logging.getLogger(__name__)

# A failure this soon after Redis answered again is the tail of the outage that just ended (a
# pooled connection to the server that went away, a command that waited out its socket timeout
# of a few seconds), not a new outage: it is counted, not logged.
RECOVERY_GRACE_SECONDS = 5.0
# How far down an exception's causes to look for a Redis error (channels_redis and redis-py
# chain the socket error below their own).
_CAUSE_DEPTH = 5

OUTAGES = Counter(
    "gal_redis_outages_total", "Redis outages seen by this process (logged once each).", ["server"]
)
UNREACHABLE = Gauge(
    "gal_redis_unreachable",
    "1 while this process finds Redis unreachable.",
    ["server"],
    multiprocess_mode="livemax",
)
ERRORS = Counter(
    "gal_redis_errors_total",
    "Operations that failed because Redis was unreachable, logged or not.",
    ["server", "source"],
)


def is_redis_unreachable(error: BaseException | None) -> bool:
    """Whether `error`, or one of its causes, says Redis could not be reached or did not answer
    in time (redis-py's ConnectionError or TimeoutError), as opposed to a refused command."""
    for _ in range(_CAUSE_DEPTH):
        if error is None:
            return False
        if isinstance(error, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
            return True
        error = error.__cause__ or error.__context__
    return False


class RedisOutageTracker:
    """Whether Redis is reachable, from the failures and answers reported; thread-safe (broadcasts
    are published from request threads, everything else from the event loop)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self.down_since: float | None = None
        self.up_since = clock()
        self._recovered_at: float | None = None
        self._unlogged = 0

    @property
    def ongoing(self) -> bool:
        return self.down_since is not None

    def answering_for(self) -> float:
        """Seconds since Redis answered again (since this tracker began if it never went away);
        0 during an outage."""
        if self.down_since is not None:
            return 0.0
        return self.clock() - self.up_since

    def failed(self, source: str, error: BaseException) -> None:
        """An operation failed because Redis was unreachable. Logs only if that starts an
        outage."""
        ERRORS.labels(server_id(), source).inc()
        with self._lock:
            now = self.clock()
            recovering = (
                self._recovered_at is not None and now - self._recovered_at < RECOVERY_GRACE_SECONDS
            )
            if self.down_since is not None or recovering:
                self._unlogged += 1
                return
            self.down_since = now
            self._unlogged = 0
        OUTAGES.labels(server_id()).inc()
        UNREACHABLE.labels(server_id()).set(1)
        logger.warning(
            "Redis is unreachable (%s: %s: %s); working without it, and counting further Redis "
            "errors in gal_redis_errors_total instead of logging them, until it answers again",
            source,
            type(error).__name__,
            str(error) or "no answer in time",
        )

    def succeeded(self, *, started_at: float) -> None:
        """Redis answered an operation started at `started_at` (this tracker's clock). Ends an
        outage that began before the operation did; an answer to an older one proves nothing."""
        with self._lock:
            if self.down_since is None or started_at < self.down_since:
                return
            now = self.clock()
            away = now - self.down_since
            unlogged = self._unlogged
            self.down_since = None
            self.up_since = self._recovered_at = now
        UNREACHABLE.labels(server_id()).set(0)
        logger.warning(
            "Redis answers again after %.1f s; %d Redis errors meanwhile were counted, not logged",
            away,
            unlogged,
        )


redis_outage = RedisOutageTracker()


class RedisOutageFilter(logging.Filter):
    """Keeps Redis connection errors out of the log: each such record is reported to
    `redis_outage` (which logs the start and end of the outage once) and dropped. Other records
    pass untouched. Put it on each handler once: a handler filter sees the records of every
    logger, channels_redis's included, where a logger's filter sees only its own."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is None or not is_redis_unreachable(error):
            return True
        redis_outage.failed(record.name, error)
        return False

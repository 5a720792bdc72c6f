"""A Redis outage in the log: one line when it starts, one when it ends, and the failures in
between counted rather than logged (realtime.ops.redis_outage). The errors are real redis-py errors,
from a client pointed at a port where nothing listens."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import redis
from prometheus_client import REGISTRY
from redis.backoff import NoBackoff
from redis.retry import Retry

from realtime.ops import redis_outage as redis_outage_module
from realtime.ops.redis_outage import (
    RECOVERY_GRACE_SECONDS,
    RedisOutageFilter,
    RedisOutageTracker,
    is_redis_unreachable,
)
from realtime.ops.registry import server_id
from tests.e2e.conftest import HOST, free_port

UNREACHABLE = "Redis is unreachable"
BACK = "Redis answers again"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def redis_error() -> redis.ConnectionError:
    """What redis-py raises when Redis is away: connection refused, chained below its own."""
    client = redis.Redis(
        host=HOST, port=free_port(), socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)
    )
    try:
        client.ping()
    except redis.ConnectionError as error:
        return error
    finally:
        client.close()
    raise AssertionError("something answered on a free port")


def messages(caplog: Any, text: str) -> list[str]:
    return [record.getMessage() for record in caplog.records if text in record.getMessage()]


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, {"server": server_id(), **labels}) or 0.0


def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(caplog: Any) -> None:
    """However many operations fail meanwhile: one WARNING naming the first failure, without a
    traceback, and one when an operation started after it succeeds, with the count of the
    failures that were not logged."""
    caplog.set_level(logging.WARNING, logger="realtime.ops.redis_outage")
    clock = Clock()
    tracker = RedisOutageTracker(clock=clock)
    outages_before = metric("gal_redis_outages_total")
    errors_before = metric("gal_redis_errors_total", source="test")
    error = redis_error()
    before_the_outage = clock.now - 0.5

    for _ in range(100):
        tracker.failed("test", error)
        clock.now += 0.1
    assert tracker.ongoing
    assert metric("gal_redis_unreachable") == 1
    tracker.succeeded(started_at=before_the_outage)  # an answer to an older request
    assert tracker.ongoing
    tracker.succeeded(started_at=clock.now)

    assert not tracker.ongoing
    (started,) = messages(caplog, UNREACHABLE)
    assert "test: ConnectionError" in started
    (ended,) = messages(caplog, BACK)
    assert "after 10.0 s" in ended and "99 Redis errors" in ended
    assert all(record.exc_info is None for record in caplog.records)
    assert metric("gal_redis_outages_total") == outages_before + 1
    assert metric("gal_redis_errors_total", source="test") == errors_before + 100
    assert metric("gal_redis_unreachable") == 0


def test_a_failure_just_after_redis_returns_is_the_same_outage_and_a_later_one_a_new_one(
    caplog: Any,
) -> None:
    caplog.set_level(logging.WARNING, logger="realtime.ops.redis_outage")
    clock = Clock()
    tracker = RedisOutageTracker(clock=clock)
    error = redis_error()
    tracker.failed("test", error)
    clock.now += 1
    tracker.succeeded(started_at=clock.now)

    clock.now += RECOVERY_GRACE_SECONDS / 2
    tracker.failed("test", error)  # a request that waited out its timeout across the return
    assert not tracker.ongoing
    assert len(messages(caplog, UNREACHABLE)) == 1

    clock.now += RECOVERY_GRACE_SECONDS
    tracker.failed("test", error)
    assert tracker.ongoing
    assert len(messages(caplog, UNREACHABLE)) == 2


def test_the_log_filter_takes_redis_connection_errors_out_and_lets_the_rest_through(
    monkeypatch: Any,
) -> None:
    """Records carrying a Redis connection error, from any logger (channels_redis's included),
    become the outage's one line; other records, with or without a traceback, pass as they
    are."""
    tracker = RedisOutageTracker()
    monkeypatch.setattr(redis_outage_module, "redis_outage", tracker)
    written: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            written.append(record)

    handler = Collect()
    handler.addFilter(RedisOutageFilter())
    loggers = [
        logging.getLogger(name) for name in ("channels_redis.pubsub", "realtime.delivery.events")
    ]
    for logger in [*loggers, logging.getLogger("realtime.ops.redis_outage")]:
        logger.addHandler(handler)
        monkeypatch.setattr(logger, "propagate", False)
        monkeypatch.setattr(logger, "level", logging.INFO)
    try:
        error = redis_error()
        for _ in range(3):
            for logger in loggers:
                try:
                    raise error
                except redis.ConnectionError:
                    logger.exception("Unexpected exception in receive task")
        try:
            raise ValueError("a bug, not an outage")
        except ValueError:
            loggers[1].warning("could not publish event seq=1", exc_info=True)
        loggers[1].warning("no traceback at all")
    finally:
        for logger in [*loggers, logging.getLogger("realtime.ops.redis_outage")]:
            logger.removeHandler(handler)

    assert [record.getMessage()[:31] for record in written] == [
        "Redis is unreachable (channels_",
        "could not publish event seq=1",
        "no traceback at all",
    ]
    assert written[1].exc_info is not None
    assert tracker.ongoing


@pytest.mark.parametrize(
    ("error", "unreachable"),
    [
        (redis.TimeoutError("Timeout reading from socket"), True),
        (redis.ResponseError("WRONGTYPE Operation against a key"), False),
        (TimeoutError(), False),
        (OSError("disk full"), False),
    ],
)
def test_only_connection_errors_and_timeouts_of_redis_count_as_unreachable(
    error: BaseException, unreachable: bool
) -> None:
    assert is_redis_unreachable(error) is unreachable
    assert is_redis_unreachable(redis_error())
    try:
        try:
            raise error
        except BaseException as cause:
            raise RuntimeError("wrapped") from cause
    except RuntimeError as wrapped:
        assert is_redis_unreachable(wrapped) is unreachable

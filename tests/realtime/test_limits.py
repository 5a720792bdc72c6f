"""Per-connection limits as rules: the token bucket and its flood strikes, the message size
measured in UTF-8 bytes, and the subscription cap. (How a client meets them over a socket:
test_connection_limits.py and tests/e2e/test_limits.py.)"""

from __future__ import annotations

from typing import Any

import pytest

from realtime.connection.limits import (
    FrameRateLimit,
    TokenBucket,
    check_subscription_room,
    message_too_large,
    server_message_limit,
)
from realtime.protocol import ProtocolError


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_burst_then_says_how_long_to_wait() -> None:
    """20 tokens at once, then the next in 60/100 s at 100 per minute; waiting that long
    gives exactly one more."""
    clock = FakeClock()
    bucket = TokenBucket(capacity=20, per_second=100 / 60, clock=clock)
    assert [bucket.take() for _ in range(20)] == [0.0] * 20
    assert bucket.take() == pytest.approx(0.6)
    clock.now += 0.6
    assert bucket.take() == 0.0
    assert bucket.take() > 0


def test_a_bucket_refills_no_higher_than_its_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(capacity=3, per_second=1, clock=clock)
    clock.now += 3600
    assert [bucket.take() == 0.0 for _ in range(4)] == [True, True, True, False]


def test_pings_have_their_own_bucket_so_heartbeat_answers_are_never_refused() -> None:
    """A client that spent its whole request burst still has its pings answered, and pings
    do not use up requests."""
    clock = FakeClock()
    limit = FrameRateLimit(burst=5, per_minute=60, flood_rejections=10, clock=clock)
    assert all(limit.check(ping=False) is None for _ in range(5))
    assert limit.check(ping=False) is not None
    assert limit.check(ping=True) is None

    fresh = FrameRateLimit(burst=5, per_minute=60, flood_rejections=10, clock=clock)
    assert all(fresh.check(ping=True) is None for _ in range(5))
    assert fresh.check(ping=False) is None


def test_rejections_carry_retry_after_and_flooding_starts_past_the_strikes() -> None:
    """Each rejected frame is a strike; the one past `flood_rejections` outstanding is
    flooding. A client that waits `retry_after` gets through and collects no more."""
    clock = FakeClock()
    limit = FrameRateLimit(burst=2, per_minute=60, flood_rejections=3, clock=clock)
    assert limit.check(ping=False) is None and limit.check(ping=False) is None
    rejections = [limit.check(ping=False) for _ in range(4)]
    assert [r is not None and r.flooding for r in rejections] == [False, False, False, True]
    assert all(r is not None and r.retry_after == 1.0 for r in rejections)


def test_strikes_are_forgiven_over_time() -> None:
    """A client over the limit now and then (never more than the strikes in a minute) is
    rate-limited but never closed."""
    clock = FakeClock()
    limit = FrameRateLimit(burst=1, per_minute=60, flood_rejections=3, clock=clock)
    for _ in range(20):
        assert limit.check(ping=False) is None
        rejection = limit.check(ping=False)
        assert rejection is not None and not rejection.flooding
        clock.now += 20  # one strike forgiven per 20 s at 3 per minute


def test_message_size_counts_utf8_bytes(settings: Any) -> None:
    """The limit is in bytes on the wire: 1,000 ASCII characters fit 1,024 bytes, 1,000
    three-byte characters do not; binary frames count their bytes."""
    settings.GRAPHIC_DATA_MAX_BYTES = 1024
    settings.WS_MAX_MESSAGE_BYTES = 1024
    assert not message_too_large("a" * 1024, None)
    assert message_too_large("a" * 1025, None)
    assert not message_too_large("€" * 341, None)  # 1,023 bytes
    assert message_too_large("€" * 342, None)
    assert message_too_large(None, b"x" * 1025)
    assert not message_too_large(None, b"x" * 1024)
    assert server_message_limit("daphne") == 1024
    assert server_message_limit("uvicorn") == 2048


def test_subscription_room_counts_new_keys_only(settings: Any) -> None:
    """At the cap a new key is refused with too_many_subscriptions (and the limit in
    details); subscribing again to a held key is always allowed."""
    settings.WS_MAX_SUBSCRIPTIONS = 2
    held = {"all": object(), 7: object()}
    check_subscription_room(held, 7, request_id="r1")
    with pytest.raises(ProtocolError) as raised:
        check_subscription_room(held, 8, request_id="r2")
    assert raised.value.code == "too_many_subscriptions"
    assert raised.value.details == {"limit": 2}
    assert raised.value.request_id == "r2"

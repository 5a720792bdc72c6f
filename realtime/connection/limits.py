"""
Per-connection limits on what a client sends: message size, frame rate and subscriptions.

Each check is small and synchronous; the consumer applies them before a frame reaches a handler,
so a frame over a limit changes nothing. Numbers come from settings (README.md, docs/protocol.md):

- Size: a message over WS_MAX_MESSAGE_BYTES is never applied. The servers are started with a
  limit of their own by `gal_dashboard.serve` (see `server_message_limit`), so they refuse the
  largest messages before buffering them; the application answers the rest (`too_large`, 1009).
- Rate: a token bucket per connection (WS_RATE_LIMIT_BURST, refilled at
  WS_RATE_LIMIT_PER_MINUTE). A frame with no token is rejected (`rate_limited`, with
  `retry_after`) and not applied. `ping` has a bucket of its own with the same numbers, so a
  client's heartbeat answers can never be refused because of its requests (and vice versa).
- Flooding: each rejection is a strike; strikes are forgiven at WS_RATE_LIMIT_FLOOD_REJECTIONS
  per minute, and a connection with more outstanding than that is closed with 4008.
- Subscriptions: at most WS_MAX_SUBSCRIPTIONS per connection (`too_many_subscriptions`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from realtime.protocol import ProtocolError

Clock = Callable[[], float]

# The most bytes one character of a Python str takes in UTF-8: below a quarter of the limit in
# characters, a text frame is surely within it and is not encoded to be measured.
UTF8_MAX_BYTES_PER_CHAR = 4


def server_message_limit(server: str) -> int:
    """The limit the server process itself enforces on an incoming message.

    daphne: WS_MAX_MESSAGE_BYTES itself. autobahn refuses an application's close with 1009
    (only 1000 and 3000-4999 may be sent), so under daphne the server must be the one to
    enforce the limit: it drops the TCP connection of a larger message unread.
    uvicorn: twice WS_MAX_MESSAGE_BYTES. Messages up to that reach the application, which
    answers `too_large` and closes with 1009; past it, uvicorn closes with 1009 unread."""
    limit = int(settings.WS_MAX_MESSAGE_BYTES)
    return 2 * limit if server == "uvicorn" else limit


def message_too_large(text: str | None, data: bytes | None) -> bool:
    """Whether an incoming message is over WS_MAX_MESSAGE_BYTES (counted in UTF-8 bytes)."""
    limit = int(settings.WS_MAX_MESSAGE_BYTES)
    if data is not None:
        return len(data) > limit
    if text is None:
        return False
    if len(text) > limit:
        return True
    if len(text) * UTF8_MAX_BYTES_PER_CHAR <= limit:
        return False
    return len(text.encode()) > limit


class TokenBucket:
    """`capacity` tokens, refilled continuously at `per_second`."""

    __slots__ = ("capacity", "clock", "per_second", "tokens", "updated")

    def __init__(self, *, capacity: float, per_second: float, clock: Clock = time.monotonic):
        self.capacity = capacity
        self.per_second = per_second
        self.tokens = capacity
        self.clock = clock
        self.updated = clock()

    def take(self) -> float:
        """Take one token: 0.0 if there was one, else the seconds until there will be."""
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.per_second)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.per_second


@dataclass(frozen=True)
class Rejection:
    retry_after: float  # seconds, rounded up to the millisecond
    flooding: bool  # too many strikes: close with 4008


class FrameRateLimit:
    """The rate limits of one connection."""

    __slots__ = ("pings", "requests", "strikes")

    def __init__(
        self, *, burst: int, per_minute: int, flood_rejections: int, clock: Clock = time.monotonic
    ):
        self.requests = TokenBucket(capacity=burst, per_second=per_minute / 60, clock=clock)
        self.pings = TokenBucket(capacity=burst, per_second=per_minute / 60, clock=clock)
        self.strikes = TokenBucket(
            capacity=flood_rejections, per_second=flood_rejections / 60, clock=clock
        )

    @classmethod
    def from_settings(cls) -> FrameRateLimit:
        return cls(
            burst=settings.WS_RATE_LIMIT_BURST,
            per_minute=settings.WS_RATE_LIMIT_PER_MINUTE,
            flood_rejections=settings.WS_RATE_LIMIT_FLOOD_REJECTIONS,
        )

    def check(self, *, ping: bool) -> Rejection | None:
        """None if the frame may be handled; else why not."""
        wait = (self.pings if ping else self.requests).take()
        if wait == 0.0:
            return None
        flooding = self.strikes.take() > 0.0
        return Rejection(retry_after=math.ceil(wait * 1000) / 1000, flooding=flooding)


def check_subscription_room(
    subscriptions: Mapping[Any, Any], key: Any, *, request_id: str | None
) -> None:
    """Raise `too_many_subscriptions` if subscribing to `key` would pass WS_MAX_SUBSCRIPTIONS
    (subscribing again to a key already held replaces it, so it always has room)."""
    limit = int(settings.WS_MAX_SUBSCRIPTIONS)
    if key not in subscriptions and len(subscriptions) >= limit:
        raise ProtocolError(
            "too_many_subscriptions",
            f"A connection may hold at most {limit} subscriptions; unsubscribe from one first.",
            request_id=request_id,
            details={"limit": limit},
        )

"""
The channel layer of a single process (`make run`, no REDIS_URL): Channels' in-memory layer with
two changes.

- **Group memberships do not expire.** Channels drops a membership 24 hours after it was
  made (`group_expiry`), a guard for consumers that die without leaving. Ours are the hub's
  (realtime.delivery.hub): it joins its groups once and leaves them itself. After a day, a
  process on Channels' default would stop hearing its own broadcasts and its broadcast probe,
  and would run in "broadcasting down" mode, on the event log alone, until restarted.
- **Expired messages are swept at most once a second**, not on every send and receive. The
  sweep walks every group's members, and each connected user has a group (`user.<id>`), so on
  every event it cost time in proportion to the connections (issue 17's profile: 3% of the
  server's CPU at 1,000 connections). A message is still dropped at most a second after it
  expires.
"""

from __future__ import annotations

import time
from typing import Any

from channels.layers import InMemoryChannelLayer as ChannelsInMemoryChannelLayer

SWEEP_INTERVAL_SECONDS = 1.0
# "Never", in the form Channels' sweep compares against (seconds since a membership was made).
NO_GROUP_EXPIRY = 100 * 365 * 24 * 3600


class InMemoryChannelLayer(ChannelsInMemoryChannelLayer):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("group_expiry", NO_GROUP_EXPIRY)
        super().__init__(**kwargs)
        self._next_sweep = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + SWEEP_INTERVAL_SECONDS
            super()._clean_expired()

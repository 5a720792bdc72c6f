"""
realtime.delivery.memory_layer: the single-process channel layer keeps the hub's group
memberships for as long as the process runs (Channels' default drops them after a day, cutting
the process off from its own broadcasts), and still drops a message nobody read in time.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from realtime.delivery.memory_layer import SWEEP_INTERVAL_SECONDS, InMemoryChannelLayer

A_DAY_AND_A_BIT = 86400 + 3600


class Clock:
    """time.time and time.monotonic, moved by hand (the layer's timestamps use both)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.offset = 0.0
        real_time, real_monotonic = time.time, time.monotonic
        monkeypatch.setattr(time, "time", lambda: real_time() + self.offset)
        monkeypatch.setattr(time, "monotonic", lambda: real_monotonic() + self.offset)

    def advance(self, seconds: float) -> None:
        self.offset += seconds


async def test_a_group_membership_outlives_a_day(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(monkeypatch)
    layer = InMemoryChannelLayer()
    hub = await layer.new_channel()
    await layer.group_add("graphic.1", hub)
    clock.advance(A_DAY_AND_A_BIT)
    await layer.group_send("graphic.1", {"type": "event", "seq": 1})
    assert await asyncio.wait_for(layer.receive(hub), 5) == {"type": "event", "seq": 1}


async def test_a_message_nobody_read_in_time_is_still_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = Clock(monkeypatch)
    layer = InMemoryChannelLayer(expiry=60)
    gone, reader = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("graphic.1", gone)
    await layer.group_add("graphic.1", reader)
    await layer.send(gone, {"type": "event", "seq": 1})
    clock.advance(60 + SWEEP_INTERVAL_SECONDS + 1)
    # A group send (or a receive) sweeps first, at most once a second.
    await layer.group_send("graphic.1", {"type": "event", "seq": 2})
    assert gone not in layer.channels
    assert gone not in layer.groups["graphic.1"]  # Channels' rule: an expired channel leaves
    assert await layer.receive(reader) == {"type": "event", "seq": 2}


async def test_the_sweep_runs_at_most_once_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(monkeypatch)
    layer = InMemoryChannelLayer()
    sweeps: list[float] = []
    real_sweep = InMemoryChannelLayer.__mro__[1]._clean_expired  # Channels' own

    def counted(self: Any) -> None:
        sweeps.append(time.monotonic())
        real_sweep(self)

    monkeypatch.setattr(InMemoryChannelLayer.__mro__[1], "_clean_expired", counted)
    channel = await layer.new_channel()
    for _ in range(50):
        await layer.send(channel, {"type": "event"})
        await layer.receive(channel)
    assert len(sweeps) == 1
    clock.advance(SWEEP_INTERVAL_SECONDS)
    await layer.send(channel, {"type": "event"})
    await layer.receive(channel)
    assert len(sweeps) == 2

"""Per-loop singletons: one object per running event loop, made on first use."""

from __future__ import annotations

import asyncio

import pytest

from realtime.per_loop import PerLoop


class Thing:
    pass


def test_one_object_per_loop_and_a_new_one_on_another_loop() -> None:
    """Within a loop every call returns the same object; another loop gets its own."""
    things = PerLoop(Thing)

    async def twice() -> tuple[Thing, Thing]:
        return things.get(), things.get()

    first, again = asyncio.run(twice())
    other, _ = asyncio.run(twice())
    assert first is again
    assert other is not first


def test_outside_a_running_loop_it_raises() -> None:
    """Synchronous callers get RuntimeError (record_recent_error relies on it to do nothing)."""
    with pytest.raises(RuntimeError):
        PerLoop(Thing).get()

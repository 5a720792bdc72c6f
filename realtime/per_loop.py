"""
One object per running event loop: the process's hub, connection supervisor, presence tracker
and recent-errors writer.

Each of them owns tasks, futures or queues, which belong to the loop they were made on. A server
process runs one loop, so this is one object per process; a test, or an `async_to_sync` call,
runs a loop of its own and gets its own object. They are held weakly by their loop, so a closed
loop's object goes with it.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerLoop(Generic[T]):
    """`PerLoop(EventHub).get()` is the running loop's `EventHub`, made on first use.
    Outside a running loop `get()` raises RuntimeError, as `asyncio.get_running_loop` does."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self.factory = factory
        self._objects: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, T] = (
            weakref.WeakKeyDictionary()
        )

    def get(self) -> T:
        loop = asyncio.get_running_loop()
        found = self._objects.get(loop)
        if found is None:
            found = self._objects[loop] = self.factory()
        return found

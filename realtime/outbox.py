"""
The outgoing side of one WebSocket: sends in order, without letting one slow socket hold up
anyone else, and without spending a task per message.

A broadcast reaches hundreds of sockets from one loop in the hub. Awaiting each socket's ASGI
`send` in that loop would stall every delivery behind a socket whose buffer is full (uvicorn's
`send` waits for the transport to drain); giving each delivery its own task costs a task
creation and a loop wake-up per socket per event, a large share of the per-delivery budget.

So `Outbox.put` starts the ASGI `send` coroutine *eagerly*, in the caller: almost always it
completes without suspending (daphne never suspends; uvicorn only when the client is not
reading) and that is the whole cost. Only when it does suspend does the outbox hand the rest of
that send to a task and queue later messages behind it, in order, up to `limit_bytes` of frame
text; past that the socket is a slow consumer and `on_overflow` decides (the consumer closes
it with 4009 and the client resumes from its last seq). Python 3.12's eager task factory does
the first half of this for every task; this project runs on 3.11.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

logger = logging.getLogger(__name__)

Message = dict[str, Any]


async def _finish(coroutine: Coroutine[Any, Any, Any], awaiting: Any) -> None:
    """Drive a coroutine that suspended on `awaiting` to its end, as a Task would."""
    while True:
        try:
            if awaiting is None:
                await asyncio.sleep(0)  # a bare yield: give the loop one turn
            else:
                # The coroutine's own `await` marked the future as being waited on; a Task
                # clears that flag when it takes the future over, and so must we, or awaiting it
                # again raises "await wasn't used with future".
                awaiting._asyncio_future_blocking = False
                await awaiting
        except BaseException as exc:
            try:
                awaiting = coroutine.throw(exc)
            except StopIteration:
                return
            continue
        try:
            awaiting = coroutine.send(None)
        except StopIteration:
            return


class Outbox:
    def __init__(
        self,
        send: Callable[[Message], Awaitable[Any]],
        *,
        limit_bytes: int,
        on_overflow: Callable[[], None],
    ):
        self._send = send
        self._limit_bytes = limit_bytes
        self._backlog_bytes = 0
        self._on_overflow = on_overflow
        # None while the socket keeps up; a queue while a suspended send is being finished.
        self._backlog: deque[Message] | None = None
        self._drainer: asyncio.Task[None] | None = None
        self.overflowed = False

    @property
    def backlog(self) -> int:
        return len(self._backlog) if self._backlog is not None else 0

    def put(self, message: Message) -> None:
        """Send `message` after everything put before it. Never blocks, never raises."""
        if self.overflowed:
            return
        if self._backlog is not None:
            self._backlog_bytes += len(message.get("text") or message.get("bytes") or b"")
            if self._backlog_bytes > self._limit_bytes:
                self.overflowed = True
                self._backlog.clear()
                self._on_overflow()
                return
            self._backlog.append(message)
            return
        coroutine = self._send(message)
        try:
            awaiting = coroutine.send(None)  # type: ignore[attr-defined]
        except StopIteration:
            return
        except Exception:
            logger.debug("send failed on a closing socket", exc_info=True)
            return
        self._backlog = deque()
        self._backlog_bytes = 0
        self._drainer = asyncio.ensure_future(self._drain(coroutine, awaiting))  # type: ignore[arg-type]

    async def _drain(self, coroutine: Coroutine[Any, Any, Any], awaiting: Any) -> None:
        try:
            await _finish(coroutine, awaiting)
            while self._backlog:
                await self._send(self._backlog.popleft())
        except Exception:
            logger.debug("send failed on a closing socket", exc_info=True)
        finally:
            # No await between the emptiness check above and this line: nothing slips past.
            self._backlog = None
            self._drainer = None

    def cancel(self) -> None:
        """Drop what is queued (the connection is closing)."""
        if self._backlog is not None:
            self._backlog.clear()
        if self._drainer is not None:
            self._drainer.cancel()

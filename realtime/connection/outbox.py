"""
The outgoing side of one WebSocket: sends in order, without letting one slow socket hold up
anyone else, and without spending a task per message.

A broadcast reaches hundreds of sockets from one loop in the hub. Awaiting each socket's ASGI
`send` in that loop would stall every delivery behind a socket whose buffer is full (uvicorn's
`send` waits for the transport to drain); giving each delivery its own task costs a task
creation and a loop wake-up per socket per event, a large share of the per-delivery budget.

So `Outbox.put` writes through the server's synchronous write where its fast protocol offers
one (gal_dashboard.daphne_fast, gal_dashboard.uvicorn_fast), and otherwise starts the ASGI `send`
coroutine *eagerly*, in the caller: almost always it completes without suspending (daphne never
suspends; uvicorn only when the client is not reading) and that is the whole cost. Only when it
does suspend does the outbox hand the rest of that send to a task and queue later messages
behind it, in order, up to `limit_bytes` of frame text; past that the socket is a slow consumer
and `on_overflow` decides (the consumer closes it with 4009 and the client resumes from its last
seq). Python 3.12's eager task factory does the first half of this for every task; this project
runs on 3.11.

Issue 17 adds batching and priority (realtime.connection.batching). While frames wait, control
frames (errors, lock notices, notices, the close) go first, in their own order, and the rest in
theirs; a connection that opted in gets the rest as `batch` frames. Frames also wait, for a
batching outbox, during a delivery round (the hub handing over several events at once): they are
held until the round ends and sent together. Control frames count against `limit_bytes` on
their own, so a backlog of events never makes a lock notice the frame that overflows.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from gal_dashboard.ws_frames import WRITE_TEXT_SCOPE_KEY
from realtime.connection.batching import current_round, finish_suspended, is_control, take_batch

logger = logging.getLogger(__name__)

Message = dict[str, Any]
WriteText = Callable[[str], bool]


def direct_text_writer(scope: dict[str, Any]) -> WriteText | None:
    """The server's synchronous text write, where its fast protocol offers one
    (gal_dashboard.ws_frames.WRITE_TEXT_SCOPE_KEY; either server through gal_dashboard.serve)."""
    write: WriteText | None = scope.get(WRITE_TEXT_SCOPE_KEY)
    return write


class Outbox:
    def __init__(
        self,
        send: Callable[[Message], Awaitable[Any]],
        *,
        limit_bytes: int,
        on_overflow: Callable[[], None],
        batch: bool = False,
        batch_max_bytes: int = 1024 * 1024,
        write_text: WriteText | None = None,
    ):
        self._send = send
        self._write_text = write_text
        self._limit_bytes = limit_bytes
        self._backlog_bytes = 0
        self._control_bytes = 0
        self._on_overflow = on_overflow
        # None while the socket keeps up; a queue while a suspended send is being finished.
        self._backlog: deque[Message] | None = None
        # Control frames waiting meanwhile: they go before the backlog
        # (realtime.connection.batching). Made when the first one waits: an empty deque is
        # 760 bytes, and most connections never need one.
        self._control: deque[Message] | None = None
        # Frames held during a delivery round (batching outboxes only), None outside one.
        self._held: deque[Message] | None = None
        self._drainer: asyncio.Task[None] | None = None
        self.overflowed = False
        self.batch = batch
        self.batch_max_bytes = batch_max_bytes

    @property
    def backlog(self) -> int:
        return sum(len(queue) for queue in (self._control, self._held, self._backlog) if queue)

    def put(self, message: Message) -> None:
        """Send `message` after everything put before it (a control frame: after the control
        frames put before it, ahead of the rest). Never blocks, never raises."""
        if self._backlog is None and self._held is None and not self.batch:
            # The common case, first: a socket that keeps up, not batching.
            if not self.overflowed:
                self._send_now(message)
            return
        if self.overflowed:
            return
        if self._held is not None:
            if not is_control(message):
                self._held.append(message)
                return
        elif self._backlog is None and self.batch and not is_control(message):
            delivery_round = current_round()
            if delivery_round is not None:
                self._held = deque((message,))
                delivery_round.holding.append(self)
                return
        if self._backlog is not None:
            self._queue(message)
        else:
            self._send_now(message)

    def end_round(self) -> None:
        """The delivery round ended: send what it held, batched (realtime.connection.batching)."""
        held, self._held = self._held, None
        if not held or self.overflowed:
            return
        while held and not self.overflowed:
            if self._backlog is not None:
                while held and not self.overflowed:
                    self._queue(held.popleft())
                return
            self._send_now(take_batch(held, max_bytes=self.batch_max_bytes))

    def _queue(self, message: Message) -> None:
        size = len(message.get("text") or message.get("bytes") or b"")
        assert self._backlog is not None
        if is_control(message):
            self._control_bytes += size
            if self._control_bytes <= self._limit_bytes:
                if self._control is None:
                    self._control = deque()
                self._control.append(message)
                return
        else:
            self._backlog_bytes += size
            if self._backlog_bytes <= self._limit_bytes:
                self._backlog.append(message)
                return
        # Past the limit: a slow consumer. Queued events go (the client resumes from its seq);
        # the control frames already queued stay, for as long as the connection does.
        self.overflowed = True
        self._backlog.clear()
        self._on_overflow()

    def _send_now(self, message: Message) -> None:
        if self._write_text is not None and message["type"] == "websocket.send":
            text = message.get("text")
            if text is not None and self._write_text(text):
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
        self._control_bytes = 0
        self._drainer = asyncio.ensure_future(self._drain(coroutine, awaiting))  # type: ignore[arg-type]

    def _next_waiting(self) -> Message | None:
        if self._control:
            return self._control.popleft()
        if not self._backlog:
            return None
        if self.batch:
            return take_batch(self._backlog, max_bytes=self.batch_max_bytes)
        return self._backlog.popleft()

    async def _drain(self, coroutine: Coroutine[Any, Any, Any], awaiting: Any) -> None:
        try:
            await finish_suspended(coroutine, awaiting)
            while (message := self._next_waiting()) is not None:
                await self._send(message)
        except Exception:
            logger.debug("send failed on a closing socket", exc_info=True)
        finally:
            # No await between the emptiness check above and this line: nothing slips past.
            self._backlog = None
            self._control = None
            self._drainer = None

    def cancel(self) -> None:
        """Drop what is queued (the connection is closing)."""
        if self._backlog is not None:
            self._backlog.clear()
        self._control = None
        self._held = None
        if self._drainer is not None:
            self._drainer.cancel()

"""
Batching and priority of a connection's outgoing frames (issue 17): what the outbox
(realtime.connection.outbox) needs to know about frames, and the delivery rounds that let the hub
hand it several frames at once.

- Batches. A connection that opts in (`?batch=1` on connect; its `welcome` says `"batch": true`)
  gets the frames that wait for it together as one text frame,
  `{"type":"batch","frames":[<frame>,<frame>,...]}`, the frames exactly as they would have been
  sent alone, in the order they would have been sent. The frames are already encoded JSON text
  (realtime.delivery.frames), so a batch is built by concatenation, never re-encoded. A batch stays
within
  `max_bytes` (WS_MAX_MESSAGE_BYTES, the most a server sends in one frame): longer runs are split
  into several batches; a frame that does not fit with another goes alone, as itself.
- Rounds. Frames wait in two places: in the outbox while the socket pushes back (a slow reader),
  and in the hub when several events reach it at once (a burst queued in the channel layer, a
  catch-up read from the log) or in a subscription's queue while its snapshot or replay is read
  (a resume). The hub and the consumer deliver such a group inside `delivery_round()`; a
  batching outbox holds what it is given during the round and sends it, batched, when the round
  ends. Outside a round, and for a connection that did not opt in, a frame is sent at once, as
  itself: batching adds no delay when nothing is waiting. Rounds are per task, so a reply sent by a
  connection's own task is never held by the hub's round.
- Priority. Control frames (`error`, `lock_lost`, `lock_expiring`, `notice`, and the close
  itself) overtake the events and replies waiting in an outbox, keeping their order among
  themselves (`is_control`). A staff disconnect and every other close by the server is an
  `error` followed by the close, so its reason overtakes too.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Coroutine, Iterator
from contextvars import ContextVar
from typing import Any, Protocol
from urllib.parse import parse_qs

Message = dict[str, Any]

# The frame types that overtake queued events. Every server frame is encoded with "type" first
# and without spaces (realtime.protocol.encode_frame, realtime.delivery.frames), so the prefix
# decides.
CONTROL_TYPES = ("error", "lock_lost", "lock_expiring", "notice")
_CONTROL_PREFIXES = tuple(f'{{"type":"{frame_type}",' for frame_type in CONTROL_TYPES)

BATCH_HEAD = '{"type":"batch","frames":['
BATCH_TAIL = "]}"
_ENVELOPE_BYTES = len(BATCH_HEAD) + len(BATCH_TAIL)


def wants_batches(scope: dict[str, Any]) -> bool:
    """Whether a WebSocket connection opted in to batches: `batch=1` (or `true`) in its query."""
    query = scope.get("query_string", b"")
    if b"batch" not in query:
        return False
    values = parse_qs(query.decode("latin1")).get("batch", [])
    return bool(values) and values[-1].lower() in ("1", "true")


def is_control(message: Message) -> bool:
    """Whether an ASGI send message is a control frame (or a close), which overtakes events."""
    if message.get("type") == "websocket.close":
        return True
    text = message.get("text")
    return text is not None and text.startswith(_CONTROL_PREFIXES)


def text_bytes(text: str) -> int:
    """The UTF-8 length of `text` (str.isascii() is O(1) on CPython's compact strings)."""
    return len(text) if text.isascii() else len(text.encode())


def take_batch(queue: deque[Message], *, max_bytes: int) -> Message:
    """Take the next message off `queue`: the run of text frames at its head as one `batch`
    frame of at most `max_bytes`, or the head alone when only one frame fits (or it is not
    text, as a close is not)."""
    head = queue.popleft()
    text = head.get("text")
    if text is None or not queue or queue[0].get("text") is None:
        return head
    size = _ENVELOPE_BYTES + text_bytes(text)
    texts = [text]
    while queue:
        following = queue[0].get("text")
        if following is None:
            break
        size += 1 + text_bytes(following)  # with its comma
        if size > max_bytes:
            break
        texts.append(following)
        queue.popleft()
    if len(texts) == 1:
        return head
    return {"type": "websocket.send", "text": BATCH_HEAD + ",".join(texts) + BATCH_TAIL}


async def finish_suspended(coroutine: Coroutine[Any, Any, Any], awaiting: Any) -> Any:
    """Drive a coroutine, started by hand, that suspended on `awaiting` to its end, as a Task
    would; return what it returns."""
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
            except StopIteration as stop:
                return stop.value
            continue
        try:
            awaiting = coroutine.send(None)
        except StopIteration as stop:
            return stop.value


class WaitingReader:
    """Reads a channel-layer channel, handing over every message already waiting at once.

    `receive_waiting` awaits the next message, then takes the ones that are already there: each
    further `receive` is started by hand and kept only if it returns without suspending (the
    in-memory and Redis pub/sub layers answer from a local queue); one that suspends is finished
    in a task and becomes the next call's first message."""

    def __init__(self, layer: Any, channel: str):
        self._layer = layer
        self._channel = channel
        self._next: asyncio.Future[Any] | None = None

    async def receive_waiting(self, *, most: int) -> list[Message]:
        if self._next is not None:
            following, self._next = self._next, None
            messages = [await following]
        else:
            messages = [await self._layer.receive(self._channel)]
        while len(messages) < most:
            coroutine = self._layer.receive(self._channel)
            try:
                awaiting = coroutine.send(None)
            except StopIteration as stop:
                messages.append(stop.value)
                continue
            except Exception as exc:
                failed = asyncio.get_running_loop().create_future()
                failed.set_exception(exc)
                self._next = failed
                break
            self._next = asyncio.ensure_future(finish_suspended(coroutine, awaiting))
            break
        return messages

    def cancel(self) -> None:
        if self._next is not None:
            self._next.cancel()
            self._next = None


class RoundMember(Protocol):
    def end_round(self) -> None: ...


class DeliveryRound:
    """The outboxes holding frames until a round of deliveries ends."""

    __slots__ = ("holding", "open", "task")

    def __init__(self) -> None:
        self.open = True
        self.holding: list[RoundMember] = []
        # Tasks started during the round inherit the context variable; only this one delivers.
        self.task = asyncio.current_task()


_current_round: ContextVar[DeliveryRound | None] = ContextVar("delivery_round", default=None)


def current_round() -> DeliveryRound | None:
    delivery_round = _current_round.get()
    if delivery_round is None or not delivery_round.open:
        return None
    return delivery_round if delivery_round.task is asyncio.current_task() else None


@contextlib.contextmanager
def delivery_round(enabled: bool = True) -> Iterator[None]:
    """Deliver a group of frames that were all waiting: batching outboxes hold what they are
    given until the outermost round ends, then send it (batched). Nests; does nothing when
    `enabled` is false (a group of one: send it at once)."""
    if not enabled or current_round() is not None:
        yield
        return
    this_round = DeliveryRound()
    token = _current_round.set(this_round)
    try:
        yield
    finally:
        _current_round.reset(token)
        this_round.open = False
        for member in this_round.holding:
            member.end_round()

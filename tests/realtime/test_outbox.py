"""The per-connection outbox: in-order sends that never block the hub, and a bounded backlog
for a client that stops reading. The ASGI server's `send` is stood in for by a socket whose
sends can be held back, as uvicorn's are while the client is not reading."""

from __future__ import annotations

import asyncio
from typing import Any

from realtime.outbox import Outbox


class Socket:
    def __init__(self) -> None:
        self.sent: list[str] = []
        self.reading = asyncio.Event()
        self.reading.set()

    async def send(self, message: dict[str, Any]) -> None:
        await self.reading.wait()
        self.sent.append(message["text"])


def frame(text: str) -> dict[str, Any]:
    return {"type": "websocket.send", "text": text}


async def test_a_socket_that_keeps_up_is_sent_to_at_once_without_a_backlog() -> None:
    """When the send completes without waiting, `put` has sent the frame before it returns."""
    socket = Socket()
    outbox = Outbox(socket.send, limit_bytes=1000, on_overflow=lambda: None)

    for number in range(3):
        outbox.put(frame(str(number)))
        assert socket.sent[-1] == str(number)
    assert outbox.backlog == 0


async def test_a_socket_that_pushes_back_gets_everything_later_in_order() -> None:
    """While one send waits, later frames queue behind it; `put` never blocks, and once the
    client reads again every frame arrives, in order."""
    socket = Socket()
    outbox = Outbox(socket.send, limit_bytes=1000, on_overflow=lambda: None)
    socket.reading.clear()

    for number in range(5):
        outbox.put(frame(str(number)))
    # Let the outbox's drainer start waiting on the held send before the client reads again.
    for _ in range(5):
        await asyncio.sleep(0)
    assert socket.sent == []
    assert outbox.backlog == 4

    socket.reading.set()
    for _ in range(20):
        await asyncio.sleep(0)
    assert socket.sent == ["0", "1", "2", "3", "4"]
    assert outbox.backlog == 0

    outbox.put(frame("5"))
    assert socket.sent[-1] == "5"


async def test_a_client_that_stops_reading_overflows_once_and_is_dropped() -> None:
    """Past `limit_bytes` of queued frames the outbox calls `on_overflow` once, forgets the
    backlog and accepts nothing more: memory stays bounded."""
    socket = Socket()
    overflows: list[int] = []
    outbox = Outbox(socket.send, limit_bytes=25, on_overflow=lambda: overflows.append(1))
    socket.reading.clear()

    outbox.put(frame("first"))  # in flight
    for _ in range(10):
        outbox.put(frame("0123456789"))

    assert overflows == [1]
    assert outbox.overflowed
    assert outbox.backlog == 0
    outbox.cancel()


async def test_a_send_that_fails_does_not_reach_the_caller() -> None:
    """A socket that is already gone makes `put` a no-op, not an exception in the hub."""

    async def broken_send(message: dict[str, Any]) -> None:
        raise ConnectionResetError("gone")

    outbox = Outbox(broken_send, limit_bytes=1000, on_overflow=lambda: None)
    outbox.put(frame("x"))
    assert outbox.backlog == 0

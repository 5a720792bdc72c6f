"""The per-connection outbox: in-order sends that never block the hub, and a bounded backlog
for a client that stops reading. The ASGI server's `send` is stood in for by a socket whose
sends can be held back, as uvicorn's are while the client is not reading."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from channels.layers import InMemoryChannelLayer

from realtime.connection.batching import WaitingReader, delivery_round
from realtime.connection.outbox import Outbox
from realtime.protocol import encode_frame


class Socket:
    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closes: list[int] = []
        self.reading = asyncio.Event()
        self.reading.set()

    async def send(self, message: dict[str, Any]) -> None:
        await self.reading.wait()
        if message["type"] == "websocket.close":
            self.closes.append(message["code"])
        else:
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


class DirectSocket(Socket):
    """A socket whose server also offers the synchronous write (gal_dashboard.uvicorn_fast):
    it writes at once while the client reads, and declines while it does not."""

    def __init__(self) -> None:
        super().__init__()
        self.written_directly: list[str] = []

    def write_text(self, text: str) -> bool:
        if not self.reading.is_set():
            return False
        self.sent.append(text)
        self.written_directly.append(text)
        return True


async def test_the_server_s_direct_write_carries_frames_while_the_socket_keeps_up() -> None:
    socket = DirectSocket()
    outbox = Outbox(
        socket.send, limit_bytes=1000, on_overflow=lambda: None, write_text=socket.write_text
    )
    outbox.put(frame("0"))
    outbox.put({"type": "websocket.close", "code": 4009})  # not text: the ASGI send
    assert socket.written_directly == ["0"]
    assert socket.closes == [4009]


async def test_frames_behind_a_held_send_wait_for_it_even_when_the_direct_write_could_go() -> None:
    """Once a send waits, later frames queue behind it in order: the direct write must not let
    them overtake, even after the socket is writable again."""
    socket = DirectSocket()
    outbox = Outbox(
        socket.send, limit_bytes=1000, on_overflow=lambda: None, write_text=socket.write_text
    )
    socket.reading.clear()
    outbox.put(frame("0"))  # declined, then held in the ASGI send
    socket.reading.set()  # writable again, before the held send is finished
    outbox.put(frame("1"))
    outbox.put(frame("2"))
    for _ in range(20):
        await asyncio.sleep(0)
    assert socket.sent == ["0", "1", "2"]
    assert socket.written_directly == []
    outbox.put(frame("3"))  # the backlog is gone: direct again
    assert socket.written_directly == ["3"]


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


# -- issue 17: batches and priority (realtime.connection.batching)
# ----------------------------------------


def event(seq: int) -> dict[str, Any]:
    return frame(json.dumps({"type": "graphic_update", "subscription": 7, "data": {"seq": seq}}))


def control(frame_type: str, **data: Any) -> dict[str, Any]:
    return frame(encode_frame(frame_type, data))


def unpack(texts: list[str]) -> list[dict[str, Any]]:
    """What a client makes of the frames: a batch's frames in order, the rest as they came."""
    frames: list[dict[str, Any]] = []
    for text in texts:
        parsed = json.loads(text)
        frames.extend(parsed["frames"] if parsed["type"] == "batch" else [parsed])
    return frames


async def turns(count: int = 20) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


async def test_a_batching_outbox_sends_what_waited_behind_a_slow_send_as_one_batch() -> None:
    """A client that opted in gets the frames that queued while it was not reading as one
    `batch` frame, their texts unchanged and in order; then single frames again, at once."""
    socket = Socket()
    outbox = Outbox(socket.send, limit_bytes=100_000, on_overflow=lambda: None, batch=True)
    socket.reading.clear()
    for seq in range(1, 51):
        outbox.put(event(seq))
    await turns()
    socket.reading.set()
    await turns()

    assert len(socket.sent) == 2  # the one in flight, then one batch of the 49 behind it
    assert json.loads(socket.sent[1])["type"] == "batch"
    assert (
        socket.sent[1]
        == '{"type":"batch","frames":['
        + ",".join(event(seq)["text"] for seq in range(2, 51))
        + "]}"
    )
    assert [f["data"]["seq"] for f in unpack(socket.sent)] == list(range(1, 51))

    outbox.put(event(51))
    assert socket.sent[-1] == event(51)["text"], "nothing waiting: sent alone, at once"


async def test_an_outbox_without_batching_sends_the_same_frames_one_by_one() -> None:
    socket = Socket()
    outbox = Outbox(socket.send, limit_bytes=100_000, on_overflow=lambda: None)
    socket.reading.clear()
    for seq in range(1, 11):
        outbox.put(event(seq))
    await turns()
    socket.reading.set()
    await turns(40)
    assert socket.sent == [event(seq)["text"] for seq in range(1, 11)]


async def test_batches_stay_within_the_size_cap_and_a_frame_too_big_to_share_goes_alone() -> None:
    socket = Socket()
    cap = 400
    outbox = Outbox(
        socket.send, limit_bytes=100_000, on_overflow=lambda: None, batch=True, batch_max_bytes=cap
    )
    socket.reading.clear()
    outbox.put(event(0))  # in flight
    big = frame(json.dumps({"type": "ack", "data": {"text": "é" * 300}}))  # 600+ bytes
    frames = [event(seq) for seq in range(1, 21)] + [big] + [event(seq) for seq in range(21, 31)]
    for message in frames:
        outbox.put(message)
    await turns()
    socket.reading.set()
    await turns(60)

    assert all(len(text.encode()) <= cap for text in socket.sent if text != big["text"])
    assert big["text"] in socket.sent, "too big to share a batch: sent as itself"
    assert len(socket.sent) < 1 + len(frames) // 2
    assert unpack(socket.sent) == [json.loads(m["text"]) for m in [event(0), *frames]]


async def test_a_lock_lost_overtakes_a_thousand_pending_events() -> None:
    """Priority: with 1,000 events waiting for a client that stopped reading, a `lock_lost`
    reaches it before any of them (after only the frame already in flight); control frames keep
    their own order; the events follow in seq order, none lost or repeated."""
    for batch in (False, True):
        socket = Socket()
        outbox = Outbox(socket.send, limit_bytes=10_000_000, on_overflow=lambda: None, batch=batch)
        socket.reading.clear()
        for seq in range(1, 1002):
            outbox.put(event(seq))
        await turns()
        assert outbox.backlog == 1000
        outbox.put(control("lock_lost", graphic_id=7, reason="overridden"))
        outbox.put(control("error", code="rate_limited"))
        outbox.put(frame(encode_frame("ack", {}, request_id="r1")))
        outbox.put({"type": "websocket.close", "code": 4001})
        socket.reading.set()
        await turns(2100)

        received = unpack(socket.sent)
        assert received[0]["data"]["seq"] == 1  # was already in flight
        assert [f["type"] for f in received[1:3]] == ["lock_lost", "error"]
        assert [f["data"]["seq"] for f in received[3:1003]] == list(range(2, 1002))
        assert received[1003]["request_id"] == "r1", "a reply keeps its place among events"
        assert socket.closes == [4001], "the close overtook too"


async def test_control_frames_never_make_an_event_backlog_overflow() -> None:
    """The events' backlog and the control frames are counted apart: a lock notice arriving at
    an outbox whose events are just under the limit is queued, not the overflow; the next
    event past the limit still is (4009, events dropped) and the queued notice stays."""
    socket = Socket()
    overflows: list[int] = []
    outbox = Outbox(socket.send, limit_bytes=200, on_overflow=lambda: overflows.append(1))
    socket.reading.clear()
    outbox.put(event(0))
    while outbox._backlog_bytes + len(event(1)["text"]) <= 200:
        outbox.put(event(1))
    outbox.put(control("lock_lost", graphic_id=7, reason="expired"))
    assert overflows == []
    outbox.put(event(2))
    assert overflows == [1]
    assert outbox.backlog == 1, "the lock_lost is still queued"
    outbox.cancel()


async def test_a_delivery_round_holds_frames_and_sends_them_as_one_batch_when_it_ends() -> None:
    """Frames given to a batching outbox in a round go out together at its end; an outbox that
    did not opt in sends each at once; a control frame is not held (it overtakes)."""
    batching, plain = Socket(), Socket()
    batched = Outbox(batching.send, limit_bytes=100_000, on_overflow=lambda: None, batch=True)
    alone = Outbox(plain.send, limit_bytes=100_000, on_overflow=lambda: None)
    with delivery_round():
        for seq in range(1, 6):
            batched.put(event(seq))
            alone.put(event(seq))
        batched.put(control("lock_lost", graphic_id=7, reason="expired"))
        assert len(plain.sent) == 5
        assert [json.loads(text)["type"] for text in batching.sent] == ["lock_lost"]
    assert len(batching.sent) == 2
    assert unpack(batching.sent[1:]) == [json.loads(event(seq)["text"]) for seq in range(1, 6)]
    assert plain.sent == [event(seq)["text"] for seq in range(1, 6)]

    with delivery_round():
        batched.put(event(6))
    assert batching.sent[-1] == event(6)["text"], "a round of one frame sends it as itself"
    with delivery_round(enabled=False):
        batched.put(event(7))
        assert batching.sent[-1] == event(7)["text"]


async def test_a_round_is_the_delivering_task_s_own() -> None:
    """A reply put by another task while the hub's round is open is not held by that round."""
    socket = Socket()
    outbox = Outbox(socket.send, limit_bytes=100_000, on_overflow=lambda: None, batch=True)
    other = Socket()
    other_outbox = Outbox(other.send, limit_bytes=100_000, on_overflow=lambda: None, batch=True)
    with delivery_round():
        outbox.put(event(1))
        await asyncio.create_task(asyncio.sleep(0))
        await asyncio.get_running_loop().run_in_executor(None, lambda: None)

        async def reply() -> None:
            other_outbox.put(frame(encode_frame("pong", {}, request_id="p")))

        await asyncio.create_task(reply())
        assert len(other.sent) == 1, "another task's frame went at once"
        assert socket.sent == []
    assert socket.sent == [event(1)["text"]]


async def test_the_waiting_reader_hands_over_every_message_already_queued() -> None:
    """The hub's reader takes a burst queued in the channel layer in one call, in order, and
    then waits for the next message without losing one."""
    layer = InMemoryChannelLayer()
    channel = await layer.new_channel()
    reader = WaitingReader(layer, channel)
    for number in range(5):
        await layer.send(channel, {"type": "hub.event", "n": number})
    assert [m["n"] for m in await reader.receive_waiting(most=100)] == [0, 1, 2, 3, 4]

    later = asyncio.create_task(reader.receive_waiting(most=100))
    await turns()
    await layer.send(channel, {"type": "hub.event", "n": 5})
    assert [m["n"] for m in await later] == [5]
    for number in range(6, 9):
        await layer.send(channel, {"type": "hub.event", "n": number})
    assert [m["n"] for m in await reader.receive_waiting(most=2)] == [6, 7]
    assert [m["n"] for m in await reader.receive_waiting(most=2)] == [8]
    reader.cancel()

"""
Batches and priority over real sockets (issue 17, realtime.connection.batching): a client that opts
in with `?batch=1` gets the events that waited for it (a resume's replay, a burst the server read
from the log at once) as `batch` frames holding exactly the frames a client without the flag gets
one by one, in seq order, none lost or repeated; and a `lock_lost` overtakes a thousand events
queued for a holder that stopped reading (uvicorn: daphne's `send` never waits, see
docs/protocol.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import transaction
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from graphics.services import graphic_update
from locks.services import lock_acquire, lock_override
from tests.conftest import text_element, valid_canvas
from tests.e2e.conftest import RECEIVE_TIMEOUT, DaphneServer, token_for

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

BURST = 30
# The servers read the event log this often: in the SQLite pass (no Redis) it is how the test
# process's writes reach them, all the events of a burst in one read.
POLL_SECONDS = 0.3
PRESENCE = ("user_activity", "presence_counts")


class RawClient:
    """Every text frame as it came off the socket, and what a client makes of them (a batch's
    frames in order, the rest as they are)."""

    def __init__(self, connection: ClientConnection):
        self.connection = connection
        self.texts: list[str] = []

    async def next_frame(self) -> dict[str, Any]:
        text = await asyncio.wait_for(self.connection.recv(), RECEIVE_TIMEOUT)
        assert isinstance(text, str)
        self.texts.append(text)
        frame: dict[str, Any] = json.loads(text)
        return frame

    async def request(self, message_type: str, data: dict[str, Any]) -> dict[str, Any]:
        await self.connection.send(
            json.dumps({"type": message_type, "data": data, "request_id": "r"})
        )
        while True:
            frame = await self.next_frame()
            if frame.get("request_id") == "r":
                assert frame["type"] == "ack", frame
                return dict(frame["data"])

    def unpacked(self) -> list[dict[str, Any]]:
        """The frames received, a batch's in order, without presence frames (the two test
        clients hear each other arrive at different points)."""
        frames: list[dict[str, Any]] = []
        for text in self.texts:
            frame = json.loads(text)
            frames.extend(frame["frames"] if frame["type"] == "batch" else [frame])
        return [frame for frame in frames if frame["type"] not in PRESENCE]

    def frame_types(self) -> list[str]:
        types = [json.loads(text)["type"] for text in self.texts]
        return [frame_type for frame_type in types if frame_type not in PRESENCE]

    def events(self) -> list[dict[str, Any]]:
        return [frame for frame in self.unpacked() if frame["type"] == "graphic_update"]

    async def read_events_until(self, seq: int) -> None:
        while not self.events() or self.events()[-1]["data"]["seq"] < seq:
            await self.next_frame()


@contextlib.asynccontextmanager
async def raw_client(server: DaphneServer, user: Any, *, batch: bool) -> AsyncIterator[RawClient]:
    query = f"token={token_for(user)}" + ("&batch=1" if batch else "")
    async with connect(
        f"{server.ws_url}?{query}", proxy=None, open_timeout=RECEIVE_TIMEOUT, max_size=2**24
    ) as connection:
        client = RawClient(connection)
        welcome = await client.next_frame()
        assert welcome["type"] == "welcome"
        assert welcome["data"]["batch"] is batch
        client.texts.clear()
        yield client


def updates(editor: Any, graphic_id: int, versions: range) -> None:
    """Edits `versions` of the graphic, committed together: their broadcasts go out at once."""
    with transaction.atomic():
        for version in versions:
            graphic_update(
                user=editor, graphic_id=graphic_id, version=version, title=f"Take {version}"
            )


async def test_a_resume_replays_as_a_batch_holding_the_frames_a_plain_client_gets_one_by_one(
    daphne_server: Any, editor: Any, viewer: Any, graphic: Any
) -> None:
    server = daphne_server()
    async with raw_client(server, viewer, batch=True) as probe:
        start = (await probe.request("subscribe", {"graphic_id": graphic.pk}))["seq"]
    await database_sync_to_async(lock_acquire)(user=editor, graphic_id=graphic.pk)
    await database_sync_to_async(updates)(editor, graphic.pk, range(1, BURST + 1))

    async with (
        raw_client(server, viewer, batch=True) as batched,
        raw_client(server, viewer, batch=False) as plain,
    ):
        for client in (batched, plain):
            ack = await client.request("subscribe", {"graphic_id": graphic.pk, "last_seq": start})
            assert ack["recovered"] is True
            await client.read_events_until(ack["seq"])

    assert set(plain.frame_types()) == {"ack", "lock_status", "graphic_update"}
    assert batched.frame_types() == ["ack", "batch"]
    assert batched.unpacked() == plain.unpacked()
    titles = [event["data"]["patch"]["title"] for event in batched.events()]
    assert titles == [f"Take {version}" for version in range(1, BURST + 1)]
    seqs = [event["data"]["seq"] for event in batched.events()]
    assert seqs == sorted(set(seqs))


async def test_a_burst_arrives_batched_in_seq_order_and_a_plain_client_sees_it_frame_by_frame(
    daphne_server: Any, editor: Any, viewer: Any, graphic: Any
) -> None:
    server = daphne_server(EVENT_POLL_INTERVAL_SECONDS=POLL_SECONDS)
    await database_sync_to_async(lock_acquire)(user=editor, graphic_id=graphic.pk)
    async with (
        raw_client(server, viewer, batch=True) as batched,
        raw_client(server, viewer, batch=False) as plain,
    ):
        for client in (batched, plain):
            await client.request("subscribe", {"graphic_id": graphic.pk})
        snapshot_frames = len(batched.frame_types())
        await database_sync_to_async(updates)(editor, graphic.pk, range(1, BURST + 1))
        for client in (batched, plain):
            while len(client.events()) < BURST:
                await client.next_frame()

    batched_frames = batched.frame_types()[snapshot_frames:]
    plain_frames = plain.frame_types()[snapshot_frames:]
    assert plain_frames == ["graphic_update"] * BURST
    assert batched.unpacked() == plain.unpacked(), "the same frames, in the same order"
    seqs = [event["data"]["seq"] for event in batched.events()]
    assert seqs == sorted(set(seqs)) and len(seqs) == BURST
    if not settings.REDIS_URL:
        # The server read the burst from the log in one go (EVENT_POLL_INTERVAL_SECONDS): it
        # went out batched. With Redis each event is broadcast on its own, and whether several
        # wait for the hub at once depends on the machine's load.
        assert len(batched_frames) < BURST / 2, batched_frames


async def test_a_lock_lost_overtakes_a_thousand_events_queued_for_a_holder_not_reading(
    daphne_server: Any, ws_connect: Any, editor: Any, viewer: Any, lock_admin: Any, graphic: Any
) -> None:
    """The holder's connection stops reading while it is sent ~7 MB of edits (its socket
    buffers fill, so the server's `send` waits: uvicorn) and then 1,100 small ones, which queue
    in its outbox. A Lock admin overrides the lock: when the holder reads again, `lock_lost`
    comes before at least 1,000 of the events that were sent before it, and the events still
    arrive in seq order, every one."""
    server = daphne_server(
        ASGI_SERVER="uvicorn", WS_SEND_BACKLOG_BYTES=64 * 1024 * 1024, WS_IDLE_TIMEOUT_SECONDS=600
    )
    await database_sync_to_async(lock_acquire)(user=editor, graphic_id=graphic.pk)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
    sock.connect(("127.0.0.1", server.port))
    holder = await connect(
        f"{server.ws_url}?token={token_for(editor)}",
        sock=sock,
        max_queue=1,
        max_size=2**22,
        open_timeout=RECEIVE_TIMEOUT,
        ping_interval=None,  # its pongs would wait behind the unread frames: 1011
    )
    client = RawClient(holder)
    await client.next_frame()  # welcome
    await client.request("subscribe", {"graphic_id": graphic.pk})
    # A viewer that keeps reading: once it has the override, the server has handed the holder's
    # outbox every event and then the lock_lost.
    observer = await ws_connect(server, viewer)
    await observer.ack("subscribe", {"graphic_id": graphic.pk})

    def fill_then_queue() -> int:
        version = 1
        for _ in range(60):  # ~7 MB of random text: more than the socket buffers hold
            elements = [
                text_element(f"line-{index}", content=secrets.token_urlsafe(3000))
                for index in range(30)
            ]
            graphic_update(
                user=editor,
                graphic_id=graphic.pk,
                version=version,
                data=valid_canvas(elements=elements),
            )
            version += 1
        with transaction.atomic():
            for _ in range(1100):
                graphic_update(
                    user=editor, graphic_id=graphic.pk, version=version, title=f"Small {version}"
                )
                version += 1
        lock_override(user=lock_admin, graphic_id=graphic.pk, reason="desk change", take_over=True)
        return version

    last_version = await database_sync_to_async(fill_then_queue)()
    await observer.next_event(graphic.pk, "lock_status", timeout=120)

    received: list[dict[str, Any]] = []
    with contextlib.suppress(ConnectionClosed, TimeoutError):
        async with asyncio.timeout(60):
            while not any(frame["type"] == "lock_status" for frame in received[-1:]):
                received.append(await client.next_frame())
    await holder.close()

    types = [frame["type"] for frame in received]
    assert "lock_lost" in types, (len(types), types[-3:], holder.close_code)
    lost_at = types.index("lock_lost")
    updates_after = [f for f in received[lost_at:] if f["type"] == "graphic_update"]
    assert len(updates_after) >= 1000, (lost_at, len(updates_after))
    versions = [f["data"]["version"] for f in received if f["type"] == "graphic_update"]
    assert versions == list(range(2, last_version + 1))

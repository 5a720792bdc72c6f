"""
uvicorn, the supported alternative to daphne (through gal_dashboard.serve the two measure within
about 10% of each other per delivery, docs/performance.md): the same protocol end to end, and the
slow-consumer rule, which only a server whose `send` waits for the socket (uvicorn does, daphne
buffers) can exercise.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import socket
from typing import Any

import pytest
from channels.db import database_sync_to_async
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from graphics.services import graphic_update
from locks.services import lock_acquire
from realtime.protocol import CLOSE_SLOW_CONSUMER
from tests.conftest import text_element, valid_canvas
from tests.e2e.conftest import RECEIVE_TIMEOUT, token_for

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


async def test_two_clients_see_each_others_changes_under_uvicorn(
    daphne_server: Any, ws_connect: Any, editor: Any, viewer: Any, graphic: Any
) -> None:
    """Under uvicorn a viewer receives the editor's lock and edit, in seq order, with the full
    payload on the graphic's subscription."""
    server = daphne_server(ASGI_SERVER="uvicorn")
    author = await ws_connect(server, editor)
    watcher = await ws_connect(server, viewer)
    snapshot = await watcher.ack("subscribe", {"graphic_id": graphic.pk})

    token = (await author.ack("lock", {"graphic_id": graphic.pk}))["lock"]["fencing_token"]
    await author.ack(
        "update",
        {"graphic_id": graphic.pk, "version": 1, "fencing_token": token, "title": "Under uvicorn"},
    )

    lock = await watcher.next_event(graphic.pk, "lock_status")
    update = await watcher.next_event(graphic.pk, "graphic_update")
    assert snapshot["seq"] < lock["data"]["seq"] < update["data"]["seq"]
    assert update["data"]["patch"] == {"title": "Under uvicorn"}


async def test_a_client_that_stops_reading_is_closed_with_4009_and_others_get_everything(
    daphne_server: Any, ws_connect: Any, editor: Any, viewer: Any, graphic: Any
) -> None:
    """A subscriber that stops reading falls behind until its queued frames pass
    WS_SEND_BACKLOG_BYTES; it is then closed with 4009 instead of growing the server's memory,
    while a subscriber that keeps reading receives every update."""
    server = daphne_server(ASGI_SERVER="uvicorn", WS_SEND_BACKLOG_BYTES=65536)
    reader = await ws_connect(server, viewer)
    await reader.ack("subscribe", {"graphic_id": graphic.pk})
    # A frozen browser tab: max_queue=1 makes the client stop reading its socket once one
    # frame waits, and a small fixed receive buffer (no autotuning up to tens of megabytes)
    # makes the kernel stop accepting soon after, so the server's sends must wait.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
    sock.connect(("127.0.0.1", server.port))
    stalled = await connect(
        f"{server.ws_url}?token={token_for(viewer)}",
        sock=sock,
        max_queue=1,
        max_size=2**22,
        open_timeout=RECEIVE_TIMEOUT,
    )
    await stalled.recv()  # welcome
    await stalled.send(json.dumps({"type": "subscribe", "data": {"graphic_id": graphic.pk}}))

    await database_sync_to_async(lock_acquire)(user=editor, graphic_id=graphic.pk)
    updates = 200
    for version in range(1, updates + 1):
        # ~120 KB of random text per update (random, so that permessage-deflate cannot shrink
        # it), ~18 MB on the wire in all: several times what the socket buffers hold.
        elements = [
            text_element(f"line-{index}", content=secrets.token_urlsafe(3000))
            for index in range(30)
        ]
        canvas = valid_canvas(elements=elements)
        await database_sync_to_async(graphic_update)(
            user=editor, graphic_id=graphic.pk, version=version, data=canvas
        )

    await reader.next_event(graphic.pk, "graphic_update", version=updates + 1, timeout=60)
    versions = [
        event["data"]["version"] for event in reader.events_of(graphic.pk, "graphic_update")
    ]
    assert versions == list(range(2, updates + 2))

    frames_read_later = 0
    with contextlib.suppress(ConnectionClosed, TimeoutError):
        async with asyncio.timeout(30):
            while True:
                await stalled.recv()
                frames_read_later += 1
    assert stalled.close_code == CLOSE_SLOW_CONSUMER, frames_read_later
    assert frames_read_later < updates  # it was dropped, not sent everything
    token = token_for(viewer)
    assert token.split(".")[2] not in server.log_text()

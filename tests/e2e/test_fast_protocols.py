"""
Both servers through gal_dashboard.serve, with its fast send paths (gal_dashboard.daphne_fast:
frames built once per loop turn, writes coalesced, permessage-deflate for large frames;
gal_dashboard.uvicorn_fast: frames built once per loop turn, written without websockets' send
layers, only large frames compressed) against their own protocols: the same frames in the same
order, for many subscribers, the same close codes; and compression negotiated by a real
`websockets` client, checked on the wire through a byte-counting TCP proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import pytest
from channels.db import database_sync_to_async
from websockets.asyncio.client import connect

from tests.conftest import VIEWER, text_element, valid_canvas
from tests.e2e.conftest import RECEIVE_TIMEOUT, NetworkClient, open_client, token_for

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def outline(event: dict[str, Any], start_version: int) -> tuple[Any, ...]:
    """What must match between two servers: everything but seqs, times and versions' base."""
    data = event["data"]
    return (
        event["type"],
        data.get("action"),
        data.get("version", start_version) - start_version,
        tuple(sorted(data)),
    )


async def burst_of_updates(
    editor_client: NetworkClient, graphic_id: int, version: int, count: int
) -> int:
    """Lock, then `count` updates sent back to back (replies awaited at the end); returns the
    last version."""
    lock = await editor_client.ack("lock", {"graphic_id": graphic_id})
    token = lock["lock"]["fencing_token"]
    for number in range(count):
        request_id = f"burst-{number}"
        await editor_client.connection.send(
            json.dumps(
                {
                    "type": "update",
                    "request_id": request_id,
                    "data": {
                        "graphic_id": graphic_id,
                        "version": version + number,
                        "fencing_token": token,
                        "data": valid_canvas(elements=[text_element(content=f"take {number}")]),
                    },
                }
            )
        )
    for number in range(count):
        request_id = f"burst-{number}"
        reply = await editor_client.wait_for(
            partial(editor_client.replies.get, request_id), what=f"reply {number}"
        )
        assert reply["type"] == "ack", reply
    return version + count


async def run_session(
    daphne_server: Any, ws_connect: Any, server_kind: str, editor: Any, viewer: Any, graphic: Any
) -> list[list[dict[str, Any]]]:
    server = daphne_server(ASGI_SERVER=server_kind)
    watchers = [await ws_connect(server, viewer, name=f"viewer-{i}") for i in range(4)]
    for watcher in watchers:
        await watcher.ack("subscribe", {"graphic_id": graphic.pk})
    author = await ws_connect(server, editor)
    await graphic.arefresh_from_db()
    last = await burst_of_updates(author, graphic.pk, graphic.version, 12)
    await author.ack("unlock", {"graphic_id": graphic.pk})
    for watcher in watchers:
        await watcher.next_event(graphic.pk, "lock_status", reason="released")
        assert watcher.events_of(graphic.pk, "graphic_update", version=last)

    # Close codes are the application's, whichever protocol sends them: a sixth connection
    # of the viewer (WS_MAX_CONNECTIONS_PER_USER = 5) is accepted, told why, closed with 4029.
    await ws_connect(server, viewer, name="viewer-5")
    sixth = await open_client(server, token=token_for(viewer), name="sixth", expect_welcome=False)
    await sixth.wait_for(lambda: sixth.closed, what="the close")
    assert sixth.close_code == 4029
    server.stop()
    return [watcher.events_of(graphic.pk) for watcher in watchers]


# Each server through gal_dashboard.serve, then on its own protocol.
FAST_AND_PLAIN = [("daphne", "daphne-plain"), ("uvicorn", "uvicorn-plain")]
FAST_SERVERS = [fast for fast, _ in FAST_AND_PLAIN]


@pytest.mark.parametrize(("fast", "plain"), FAST_AND_PLAIN)
async def test_the_fast_protocol_delivers_what_the_plain_server_delivers(
    daphne_server: Any,
    ws_connect: Any,
    editor: Any,
    make_user: Any,
    graphic: Any,
    fast: str,
    plain: str,
) -> None:
    """The same 12-update burst (plus lock and unlock) on the plain server and through
    gal_dashboard.serve: every subscriber of a server gets the same frames, in seq order, and
    the two servers send the same sequence of frames."""
    sessions = {}
    for kind in (plain, fast):
        await graphic.arefresh_from_db()
        start = graphic.version
        # A viewer per server: with Redis the connection count outlives a stopped server.
        viewer = await database_sync_to_async(make_user)(f"viewer-{kind}", role=VIEWER)
        received = await run_session(daphne_server, ws_connect, kind, editor, viewer, graphic)
        first = received[0]
        assert all(events == first for events in received[1:]), kind
        seqs = [event["data"]["seq"] for event in first]
        assert seqs == sorted(set(seqs)), kind
        sessions[kind] = [outline(event, start) for event in first]
    assert len(sessions[fast]) == 14  # lock_status, 12 graphic_update, lock_status
    assert sessions[fast] == sessions[plain]


@pytest.mark.parametrize("server_kind", FAST_SERVERS)
async def test_many_subscribers_get_every_event_once_in_order(
    daphne_server: Any, ws_connect: Any, editor: Any, viewer: Any, graphic: Any, server_kind: str
) -> None:
    server = daphne_server(
        ASGI_SERVER=server_kind, WS_MAX_CONNECTIONS_PER_USER=200, WS_RATE_LIMIT_BURST=1000
    )
    watchers = await asyncio.gather(
        *(ws_connect(server, viewer, name=f"viewer-{i}") for i in range(80))
    )
    await asyncio.gather(
        *(watcher.ack("subscribe", {"graphic_id": graphic.pk}) for watcher in watchers)
    )
    author = await ws_connect(server, editor)
    last = await burst_of_updates(author, graphic.pk, graphic.version, 25)
    for watcher in watchers:
        await watcher.next_event(graphic.pk, "graphic_update", version=last)
    expected = [event["data"]["seq"] for event in watchers[0].events_of(graphic.pk)]
    assert len(expected) == 26  # lock_status + 25 updates
    for watcher in watchers:
        assert [event["data"]["seq"] for event in watcher.events_of(graphic.pk)] == expected


# ---------------------------------------------------------------------------------------------
# Compression, counted on the wire
# ---------------------------------------------------------------------------------------------


class CountingProxy:
    """A TCP proxy on a free port that counts the bytes from the server to the client."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.to_client = 0
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(
            "127.0.0.1", self.target_port
        )

        async def pipe(
            source: asyncio.StreamReader, sink: asyncio.StreamWriter, count: bool
        ) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await source.read(65536):
                    if count:
                        self.to_client += len(data)
                    sink.write(data)
                    await sink.drain()
            with contextlib.suppress(Exception):
                sink.close()

        await asyncio.gather(
            pipe(reader, upstream_writer, False), pipe(upstream_reader, writer, True)
        )

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()


@contextlib.asynccontextmanager
async def proxied_client(
    server: Any, user: Any, *, compression: str | None
) -> AsyncIterator[tuple[NetworkClient, CountingProxy]]:
    proxy = CountingProxy(server.port)
    await proxy.start()
    connection = await connect(
        f"ws://127.0.0.1:{proxy.port}/ws/graphics?token={token_for(user)}",
        proxy=None,
        compression=compression,
        open_timeout=RECEIVE_TIMEOUT,
        max_size=2**24,
    )
    # Names of one length: request ids (and so replies) are the same size on both clients.
    client = NetworkClient(connection, name="deflate" if compression else "plain--")
    await client.wait_for(lambda: client.welcome, what="the welcome")
    try:
        yield client, proxy
    finally:
        await client.close()
        await proxy.stop()


async def wire_bytes(
    client: NetworkClient, proxy: CountingProxy, message_type: str, data: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    before = proxy.to_client
    reply = await client.request(message_type, data)
    return proxy.to_client - before, reply


def big_canvas(elements: int) -> dict[str, Any]:
    return valid_canvas(
        elements=[
            text_element(f"line-{index}", y=index * 10, content=f"Player {index} — 1st place")
            for index in range(elements)
        ]
    )


@pytest.mark.parametrize("server_kind", FAST_SERVERS)
async def test_large_frames_arrive_compressed_and_intact_small_ones_plain(
    daphne_server: Any, editor: Any, make_graphic: Any, server_kind: str
) -> None:
    graphic = await database_sync_to_async(make_graphic)(data=big_canvas(150), by=editor)
    server = daphne_server(ASGI_SERVER=server_kind)
    async with (
        proxied_client(server, editor, compression="deflate") as (deflated, deflated_proxy),
        proxied_client(server, editor, compression=None) as (plain, plain_proxy),
    ):
        extensions = [ext.name for ext in deflated.connection.protocol.extensions]
        assert extensions == ["permessage-deflate"]
        assert plain.connection.protocol.extensions == []

        big = {"graphic_id": graphic.pk}
        compressed_size, compressed_reply = await wire_bytes(
            deflated, deflated_proxy, "subscribe", big
        )
        plain_size, plain_reply = await wire_bytes(plain, plain_proxy, "subscribe", big)
        assert compressed_reply["type"] == plain_reply["type"] == "ack"
        assert compressed_reply["data"]["graphic"] == plain_reply["data"]["graphic"]
        assert plain_size > 10_000
        assert compressed_size * 4 < plain_size, (compressed_size, plain_size)

        # A pong is under WS_COMPRESSION_MIN_BYTES: it goes out plain on both connections.
        small_deflated, pong = await wire_bytes(deflated, deflated_proxy, "ping", {})
        small_plain, _ = await wire_bytes(plain, plain_proxy, "ping", {})
        assert pong["type"] == "pong"
        assert small_deflated == small_plain

        # An event to both (a large patch: every element changes): the same content, whatever
        # each connection negotiated.
        lock = await deflated.ack("lock", {"graphic_id": graphic.pk})
        changed = big_canvas(150)
        for element in changed["elements"]:
            element["content"] += " (final)"
        await deflated.ack(
            "update",
            {
                "graphic_id": graphic.pk,
                "version": graphic.version,
                "fencing_token": lock["lock"]["fencing_token"],
                "data": changed,
            },
        )
        for client in (deflated, plain):
            await client.next_event(graphic.pk, "graphic_update", version=graphic.version + 1)
        assert deflated.events_of(graphic.pk) == plain.events_of(graphic.pk)


@pytest.mark.parametrize("server_kind", FAST_SERVERS)
async def test_compression_off_is_never_negotiated(
    daphne_server: Any, editor: Any, make_graphic: Any, server_kind: str
) -> None:
    graphic = await database_sync_to_async(make_graphic)(data=big_canvas(150), by=editor)
    server = daphne_server(ASGI_SERVER=server_kind, WS_COMPRESSION="off")
    async with proxied_client(server, editor, compression="deflate") as (client, proxy):
        assert client.connection.protocol.extensions == []
        size, reply = await wire_bytes(client, proxy, "subscribe", {"graphic_id": graphic.pk})
        assert reply["type"] == "ack"
        assert size > 10_000

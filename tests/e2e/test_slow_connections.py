"""
Slow and silent HTTP connections against a real daphne (`gal_dashboard.serve`), with raw TCP
clients: one that connects and says nothing, one that sends its headers a line at a time and
never finishes them (slowloris), and one that stops halfway through a body. The server closes
each within its configured timeout (HTTP_HEADER_TIMEOUT_SECONDS, HTTP_IDLE_TIMEOUT_SECONDS, set
to a second here), while a WebSocket and a keep-alive connection on the same server carry on.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import time
from typing import Any

import pytest

from tests.e2e.conftest import HOST, RECEIVE_TIMEOUT, DaphneServer

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

TIMEOUT_SECONDS = 1
SHORT_TIMEOUTS = {
    "HTTP_HEADER_TIMEOUT_SECONDS": TIMEOUT_SECONDS,
    "HTTP_IDLE_TIMEOUT_SECONDS": TIMEOUT_SECONDS,
}
# Every wait for the server to close: the timeout plus room for a busy machine. Without these
# settings daphne keeps such connections for 60 s (silent) or for ever (trickling).
CLOSE_WITHIN = TIMEOUT_SECONDS + RECEIVE_TIMEOUT
# Well inside the idle timeout: a trickling client never looks idle.
TRICKLE_INTERVAL = TIMEOUT_SECONDS / 5


async def closed_by_server(reader: asyncio.StreamReader, *, within: float) -> bool:
    """Whether the server closes the connection within `within` seconds (anything it sends
    before closing is read and dropped)."""
    try:
        async with asyncio.timeout(within):
            while await reader.read(4096):
                pass
    except TimeoutError:
        return False
    except ConnectionError:
        pass  # reset rather than closed: closed all the same
    return True


@contextlib.asynccontextmanager
async def raw_connection(server: DaphneServer) -> Any:
    reader, writer = await asyncio.open_connection(HOST, server.port)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def trickle_headers(writer: asyncio.StreamWriter) -> None:
    """Send one more header line every TRICKLE_INTERVAL, never the blank line that ends them,
    until the server closes the connection (or the test cancels this)."""
    number = 0
    while True:
        number += 1
        writer.write(f"X-Slow-{number}: x\r\n".encode())
        try:
            await writer.drain()
        except ConnectionError:
            return
        await asyncio.sleep(TRICKLE_INTERVAL)


async def silent(server: DaphneServer) -> None:
    """Connect and say nothing."""
    async with raw_connection(server) as (reader, _):
        assert await closed_by_server(reader, within=CLOSE_WITHIN), "a silent connection"


async def slowloris(server: DaphneServer) -> None:
    """Send headers a line at a time, faster than the idle timeout, and never finish them."""
    async with raw_connection(server) as (reader, writer):
        writer.write(b"GET /api/graphics/ HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        trickling = asyncio.create_task(trickle_headers(writer))
        try:
            started = time.monotonic()
            assert await closed_by_server(reader, within=CLOSE_WITHIN), "trickled headers"
            # Bytes kept arriving, so the idle timeout never fired: the header deadline did.
            assert time.monotonic() - started >= TIMEOUT_SECONDS - TRICKLE_INTERVAL
        finally:
            trickling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await trickling


async def stalled_body(server: DaphneServer) -> None:
    """Send whole headers and part of the body they announce, then nothing."""
    async with raw_connection(server) as (reader, writer):
        writer.write(
            b"POST /api/auth/token/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"username":'
        )
        await writer.drain()
        assert await closed_by_server(reader, within=CLOSE_WITHIN), "a stalled body"


async def test_silent_slow_and_stalled_connections_are_closed_within_the_timeouts(
    daphne_server: Any,
) -> None:
    server = daphne_server(**SHORT_TIMEOUTS)

    # Side by side, a few of each, as an attacker would hold them.
    attacks = [attack(server) for attack in (silent, slowloris, stalled_body) for _ in range(3)]
    await asyncio.gather(*attacks)


async def test_websockets_and_keep_alive_requests_are_not_cut(
    daphne_server: Any, ws_connect: Any, viewer: Any
) -> None:
    server = daphne_server(**SHORT_TIMEOUTS)
    client = await ws_connect(server, viewer)

    def two_requests_on_one_connection() -> list[int]:
        connection = http.client.HTTPConnection(HOST, server.port, timeout=RECEIVE_TIMEOUT)
        try:
            statuses = []
            for pause in (0.0, TIMEOUT_SECONDS / 2):
                time.sleep(pause)  # within the header timeout: the connection is still open
                connection.request("GET", "/healthz")
                response = connection.getresponse()
                response.read()
                statuses.append(response.status)
            return statuses
        finally:
            connection.close()

    assert await asyncio.to_thread(two_requests_on_one_connection) == [200, 200]
    # Both timeouts have long passed since the handshake: an upgraded connection has its own.
    await asyncio.sleep(2 * TIMEOUT_SECONDS + TRICKLE_INTERVAL)
    assert (await client.request("ping"))["type"] == "pong"

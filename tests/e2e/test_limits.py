"""
Connection limits, rate limits, message size and idle close against real servers (daphne by
default, uvicorn where its behaviour differs), with real WebSocket clients and, for the client
that stops reading, a raw TCP socket. Intervals and limits are set small through each server's
environment so the tests stay fast.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import socket
import time
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connections
from django.test import Client
from websockets.exceptions import ConnectionClosed

from graphics.models import Graphic
from graphics.services import graphic_update
from locks.services import lock_acquire
from realtime.protocol import (
    CLOSE_IDLE,
    CLOSE_MESSAGE_TOO_BIG,
    CLOSE_POLICY,
    CLOSE_TOO_MANY_CONNECTIONS,
)
from tests.conftest import text_element, valid_canvas
from tests.e2e.conftest import (
    HOST,
    RECEIVE_TIMEOUT,
    DaphneServer,
    NetworkClient,
    open_client,
    token_for,
)

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

# Small enough that a message over the application's limit is quick to send: the smallest
# canvas limit allowed, plus the 64 KiB envelope (66,560 bytes).
SMALL_LIMITS = {"GRAPHIC_DATA_MAX_BYTES": 1024, "WS_MAX_MESSAGE_BYTES": 1024 + 64 * 1024}
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(autouse=True)
async def close_database_thread_connections() -> AsyncIterator[None]:
    """These tests read and write through the shared database thread; close its connection
    afterwards, or PostgreSQL refuses to drop the test database at the end of the run."""
    yield
    await database_sync_to_async(connections.close_all)()


async def refused(server: DaphneServer, user: Any, name: str) -> NetworkClient:
    """A connection that the server refuses after accepting: wait for its close."""
    client = await open_client(server, token=token_for(user), name=name, expect_welcome=False)
    await client.wait_for(lambda: client.closed or client.welcome, what="welcome or close")
    return client


def titles() -> list[str]:
    return sorted(Graphic.objects.values_list("title", flat=True))


# --- connections per user -------------------------------------------------------------------


async def test_the_sixth_connection_is_refused_with_4029_on_a_real_server(
    daphne_server: Any, ws_connect: Any, editor: Any, viewer: Any
) -> None:
    """Five tabs of one user are welcome; the sixth gets `too_many_connections` and 4029;
    another user still connects."""
    server = daphne_server()
    for index in range(5):
        await ws_connect(server, editor, name=f"tab{index}")

    sixth = await refused(server, editor, "tab5")

    assert sixth.close_code == CLOSE_TOO_MANY_CONNECTIONS
    assert [frame["data"]["code"] for frame in sixth.other] == ["too_many_connections"]
    await ws_connect(server, viewer)


@pytest.mark.postgres
@pytest.mark.redis
async def test_the_connection_limit_holds_across_two_servers_even_for_tabs_opening_at_once(
    daphne_server: Any, ws_connect: Any, editor: Any
) -> None:
    """Two daphne processes share the count through Redis: with four tabs open across both,
    two more opened at the same moment (one on each server) let exactly one in; a seventh on
    either server is refused; closing a tab frees a place on the other server."""
    server1, server2 = daphne_server.many(2)
    tabs = [
        await ws_connect(server, editor, name=f"tab{index}")
        for index, server in enumerate([server1, server2, server1, server2])
    ]

    racing = await asyncio.gather(
        refused(server1, editor, "race1"), refused(server2, editor, "race2")
    )

    admitted = [client for client in racing if client.welcome is not None]
    refused_now = [client for client in racing if client.welcome is None]
    assert len(admitted) == 1 and len(refused_now) == 1
    assert refused_now[0].close_code == CLOSE_TOO_MANY_CONNECTIONS
    for server in (server1, server2):
        assert (await refused(server, editor, "seventh")).close_code == 4029

    await tabs[0].close()  # a tab on server 1
    # Server 1 removes the entry as it handles the close, a moment after the client sees it.
    deadline = time.monotonic() + RECEIVE_TIMEOUT
    while (on_server2 := await refused(server2, editor, "after-close")).welcome is None:
        assert time.monotonic() < deadline, "closing a tab did not free a place"
        await asyncio.sleep(0.1)
    for client in [*admitted, on_server2]:
        await client.close()


# --- rate limit -----------------------------------------------------------------------------


async def test_a_flooder_is_rate_limited_then_closed_while_others_keep_working(
    daphne_server: Any, ws_connect: Any, editor: Any, editor2: Any, viewer: Any, graphic: Any
) -> None:
    """A client sending requests as fast as it can gets its burst applied, then `rate_limited`
    (with retry_after) for the rest, none applied, then 4008. Meanwhile a well-behaved editor on
    the same server gets its acks and a viewer its events."""
    server = daphne_server(
        WS_RATE_LIMIT_BURST=5, WS_RATE_LIMIT_PER_MINUTE=6, WS_RATE_LIMIT_FLOOD_REJECTIONS=10
    )
    flooder = await ws_connect(server, editor2, name="flooder")
    author = await ws_connect(server, editor, name="author")
    watcher = await ws_connect(server, viewer, name="watcher")
    await watcher.ack("subscribe", {"graphic_id": graphic.pk})
    token = (await author.ack("lock", {"graphic_id": graphic.pk}))["lock"]["fencing_token"]

    for index in range(40):
        with contextlib.suppress(ConnectionClosed):
            await flooder.connection.send(
                json.dumps(
                    {
                        "type": "create",
                        "request_id": f"f{index}",
                        "data": {"title": f"Flood {index}", "event_name": "GAL"},
                    }
                )
            )
    for version in (1, 2):
        await author.ack(
            "update",
            {
                "graphic_id": graphic.pk,
                "version": version,
                "fencing_token": token,
                "title": f"Title {version}",
            },
        )
    await flooder.wait_for(lambda: flooder.closed, what="the close")

    codes = [flooder.replies[key]["type"] for key in sorted(flooder.replies)]
    limited = [
        reply
        for reply in flooder.replies.values()
        if reply["type"] == "error" and reply["data"]["code"] == "rate_limited"
    ]
    assert codes.count("ack") == 5
    assert limited and all(reply["data"]["details"]["retry_after"] > 0 for reply in limited)
    assert flooder.close_code == CLOSE_POLICY
    await watcher.next_event(graphic.pk, "graphic_update", version=3)
    assert await database_sync_to_async(titles)() == [
        *(f"Flood {index}" for index in range(5)),
        "Title 2",
    ]


# --- message size ---------------------------------------------------------------------------


def padded_create(total_bytes: int) -> str:
    """A valid `create` request padded with whitespace to exactly `total_bytes`."""
    frame = json.dumps(
        {"type": "create", "data": {"title": "Huge", "event_name": "GAL", "data": valid_canvas()}}
    )
    return frame[:-1] + " " * (total_bytes - len(frame)) + "}"


async def send_and_wait_for_close(server: DaphneServer, user: Any, text: str) -> NetworkClient:
    client = await open_client(server, token=token_for(user), name="big")
    with contextlib.suppress(ConnectionClosed):
        await client.connection.send(text)
    await client.wait_for(lambda: client.closed, what="the close", timeout=10)
    return client


async def test_under_uvicorn_a_message_over_the_limit_closes_with_1009_and_is_not_applied(
    daphne_server: Any, editor: Any
) -> None:
    """One byte over WS_MAX_MESSAGE_BYTES (within uvicorn's own, twice as large): the
    application answers `too_large` and closes with 1009; no graphic is created."""
    server = daphne_server(ASGI_SERVER="uvicorn", **SMALL_LIMITS)
    limit = SMALL_LIMITS["WS_MAX_MESSAGE_BYTES"]

    client = await send_and_wait_for_close(server, editor, padded_create(limit + 1))

    assert client.close_code == CLOSE_MESSAGE_TOO_BIG
    assert [frame["data"]["code"] for frame in client.other] == ["too_large"]
    assert await database_sync_to_async(titles)() == []


@pytest.mark.parametrize(
    ("server_kind", "size_over_limit", "close_code"),
    [
        # daphne's own limit is WS_MAX_MESSAGE_BYTES: autobahn drops the TCP connection.
        ("daphne", 1, 1006),
        # uvicorn's is twice that: past it, uvicorn (websockets) closes with 1009 itself.
        ("uvicorn", SMALL_LIMITS["WS_MAX_MESSAGE_BYTES"] + 1, CLOSE_MESSAGE_TOO_BIG),
    ],
)
async def test_a_message_over_the_servers_own_limit_is_dropped_by_the_server(
    daphne_server: Any, editor: Any, server_kind: str, size_over_limit: int, close_code: int
) -> None:
    """Past the server's own limit (set by gal_dashboard.serve) the server ends the connection
    without handing the message to the application: no `error` frame, nothing applied, no
    traceback in the log; the server keeps serving."""
    server = daphne_server(ASGI_SERVER=server_kind, **SMALL_LIMITS)
    limit = SMALL_LIMITS["WS_MAX_MESSAGE_BYTES"]

    client = await send_and_wait_for_close(server, editor, padded_create(limit + size_over_limit))

    assert client.other == []
    assert client.close_code == close_code
    assert await database_sync_to_async(titles)() == []
    assert "Traceback" not in server.log_text()
    await (await open_client(server, token=token_for(editor), name="after")).close()


# --- heartbeats, idle close and a client that stops reading ---------------------------------


def heartbeats(client: NetworkClient) -> int:
    return sum(1 for frame in client.other if frame["type"] == "heartbeat")


async def test_a_client_that_never_answers_heartbeats_is_closed_with_4000(
    daphne_server: Any, ws_connect: Any, viewer: Any, editor: Any
) -> None:
    """Heartbeats arrive every interval; a client that answers them with `ping` stays open
    while one that sends nothing is told `idle_timeout` and closed with 4000."""
    server = daphne_server(WS_HEARTBEAT_INTERVAL_SECONDS=0.2, WS_IDLE_TIMEOUT_SECONDS=1)
    silent = await ws_connect(server, viewer, name="silent")
    answering = await ws_connect(server, editor, name="answering")
    answered = 0

    async def answer() -> None:
        nonlocal answered
        while answered < 10:  # two seconds: two idle timeouts
            await answering.wait_for(
                lambda seen=answered: heartbeats(answering) > seen, what="a heartbeat"
            )
            answered += 1
            await answering.connection.send(json.dumps({"type": "ping"}))

    answerer = asyncio.create_task(answer())
    await silent.wait_for(lambda: silent.closed, what="the idle close")
    await answerer

    assert silent.close_code == CLOSE_IDLE
    assert [f["data"]["code"] for f in silent.other if f["type"] == "error"] == ["idle_timeout"]
    heartbeat = next(f for f in silent.other if f["type"] == "heartbeat")
    assert heartbeat["data"]["interval"] == 0.2
    assert not answering.closed
    assert (await answering.ack("subscribe", {"graphic_id": "all"}))["graphic_id"] == "all"


def staff_cookie(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def staff_page_count(server: DaphneServer, cookie: str, user: Any) -> int:
    """How many connections the staff page counts for `user` (0 if it lists none)."""
    request = urllib.request.Request(f"{server.url}/staff/connections/", headers={"Cookie": cookie})
    with _opener.open(request, timeout=RECEIVE_TIMEOUT) as response:
        html = response.read().decode()
    assert '<table id="per-user">' in html, html[:500]
    match = re.search(
        rf'<tr><td>{user.username}</td><td>{user.pk}</td><td class="count">(\d+)</td></tr>', html
    )
    return int(match.group(1)) if match else 0


def masked_text_frame(text: str) -> bytes:
    """One client-to-server WebSocket text frame (RFC 6455: clients mask)."""
    payload = text.encode()
    mask = os.urandom(4)
    assert len(payload) < 126
    header = bytes([0x81, 0x80 | len(payload)]) + mask
    return header + bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))


def open_raw_websocket(server: DaphneServer, token: str) -> socket.socket:
    """A TCP socket that completes the WebSocket handshake and nothing else; a small receive
    buffer so the server's sends pile up in its own buffers once the test stops reading."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
    sock.settimeout(RECEIVE_TIMEOUT)
    sock.connect((HOST, server.port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws/graphics?token={token} HTTP/1.1\r\nHost: {HOST}:{server.port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(1)
    assert response.startswith(b"HTTP/1.1 101"), response
    return sock


def read_until_closed(sock: socket.socket, deadline: float) -> bool:
    """Drain the socket; True once the server has closed it (EOF or reset)."""
    while time.monotonic() < deadline:
        try:
            if sock.recv(65536) == b"":
                return True
        except ConnectionResetError:
            return True
        except TimeoutError:
            continue
    return False


async def test_under_daphne_a_client_that_stops_reading_is_dropped_within_the_idle_timeout(
    daphne_server: Any, make_user: Any, editor: Any, viewer: Any, graphic: Any
) -> None:
    """daphne's sends never wait, so a subscriber that stops reading would make it buffer
    without bound. Such a client stops answering heartbeats: while large updates keep coming,
    the server closes it once WS_IDLE_TIMEOUT_SECONDS pass, its registry entry goes (the staff
    page counts no connection), and the socket is closed (the buffer freed)."""
    server = daphne_server(WS_HEARTBEAT_INTERVAL_SECONDS=0.5, WS_IDLE_TIMEOUT_SECONDS=2)
    staff = await database_sync_to_async(make_user)("staffer", is_staff=True)
    cookie = await database_sync_to_async(staff_cookie)(staff)
    sock = await asyncio.to_thread(open_raw_websocket, server, token_for(viewer))
    await asyncio.to_thread(
        sock.sendall,
        masked_text_frame(json.dumps({"type": "subscribe", "data": {"graphic_id": graphic.pk}})),
    )
    assert await asyncio.to_thread(staff_page_count, server, cookie, viewer) == 1

    await database_sync_to_async(lock_acquire)(user=editor, graphic_id=graphic.pk)
    version = 1
    deadline = time.monotonic() + 2 + 10
    while await asyncio.to_thread(staff_page_count, server, cookie, viewer) != 0:
        assert time.monotonic() < deadline, "the non-reading client was not closed"
        # ~100 KB per update: the socket's buffers fill and the rest waits in daphne's.
        canvas = valid_canvas(
            elements=[text_element(f"t{i}", content=os.urandom(1500).hex()) for i in range(30)]
        )
        await database_sync_to_async(graphic_update)(
            user=editor, graphic_id=graphic.pk, version=version, data=canvas
        )
        version += 1

    assert version > 2, "no update was sent while the client was connected"
    assert await asyncio.to_thread(read_until_closed, sock, time.monotonic() + 10)
    sock.close()

"""
WebSocket test clients: the real ASGI application (origin check, authentication, routing,
consumer, hub and channel layer) driven by Channels' WebsocketCommunicator.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connections
from django.test import Client
from rest_framework_simplejwt.tokens import AccessToken

from realtime.connection.supervisor import get_supervisor
from realtime.delivery.hub import get_hub

ORIGIN = "http://127.0.0.1:8000"
RECEIVE_TIMEOUT = 5

# Presence frames (realtime.presence.tracker): ephemeral, and sent whenever anyone subscribes, so
# the client keeps them apart (`presence`, `next_presence`) and tests of other things never see
# them.
PRESENCE_FRAMES = frozenset({"user_activity", "presence_counts"})


class WsClient:
    """A WebSocket client that speaks the protocol: requests with request ids, and a buffer of
    the events that arrived while it waited for a reply."""

    def __init__(self, communicator: WebsocketCommunicator):
        self.communicator = communicator
        self.events: list[dict[str, Any]] = []
        self.presence: list[dict[str, Any]] = []
        self._next_request = 0
        self.welcome: dict[str, Any] | None = None
        self.close_code: int | None = None

    async def send_raw(self, text: str) -> None:
        # Not send_to(): it refuses an empty text frame, which a real client can send.
        await self.communicator.send_input({"type": "websocket.receive", "text": text})

    async def send(
        self,
        message_type: str,
        data: dict[str, Any] | None = None,
        *,
        request_id: str | None = None,
    ) -> str:
        if request_id is None:
            self._next_request += 1
            request_id = f"r{self._next_request}"
        await self.send_raw(
            json.dumps({"type": message_type, "data": data or {}, "request_id": request_id})
        )
        return request_id

    async def _receive_any(self, timeout: float) -> dict[str, Any]:
        output = await self.communicator.receive_output(timeout)
        if output["type"] == "websocket.close":
            self.close_code = output.get("code")
            return {"type": "__closed__", "code": self.close_code}
        frame: dict[str, Any] = json.loads(output["text"])
        return frame

    async def receive(self, timeout: float = RECEIVE_TIMEOUT) -> dict[str, Any]:
        """The next frame that is not a presence frame (those go to `presence`)."""
        while True:
            frame = await self._receive_any(timeout)
            if frame["type"] not in PRESENCE_FRAMES:
                return frame
            self.presence.append(frame)

    async def next_presence(
        self,
        timeout: float = RECEIVE_TIMEOUT,
        match: Callable[[dict[str, Any]], bool] | None = None,
    ) -> dict[str, Any]:
        """The next presence frame (buffered first), optionally the next one that `match`es;
        other frames go to `events` meanwhile."""
        while True:
            if self.presence:
                frame = self.presence.pop(0)
            else:
                frame = await self._receive_any(timeout)
                if frame["type"] == "__closed__":
                    raise AssertionError(f"closed with {frame['code']} waiting for presence")
                if frame["type"] not in PRESENCE_FRAMES:
                    self.events.append(frame)
                    continue
            if match is None or match(frame):
                return frame

    async def no_presence(self, within: float = 0.3) -> None:
        """No presence frame is buffered or arrives `within` seconds (others are kept)."""
        assert not self.presence, self.presence
        while not await self.communicator.receive_nothing(within):
            frame = await self._receive_any(RECEIVE_TIMEOUT)
            assert frame["type"] not in PRESENCE_FRAMES, frame
            self.events.append(frame)

    async def reply_to(self, request_id: str, timeout: float = RECEIVE_TIMEOUT) -> dict[str, Any]:
        """Wait for the reply carrying `request_id`; keep other frames in `events`."""
        while True:
            frame = await self.receive(timeout)
            if frame.get("request_id") == request_id:
                return frame
            if frame["type"] == "__closed__":
                raise AssertionError(f"closed with {frame['code']} while waiting for a reply")
            self.events.append(frame)

    async def request(
        self, message_type: str, data: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return await self.reply_to(await self.send(message_type, data))

    async def ack(self, message_type: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        reply = await self.request(message_type, data)
        assert reply["type"] == "ack", reply
        return reply["data"]

    async def next_event(
        self,
        timeout: float = RECEIVE_TIMEOUT,
        match: Callable[[dict[str, Any]], bool] | None = None,
    ) -> dict[str, Any]:
        """The next event (buffered first), optionally the next one that `match`es."""
        while True:
            if self.events:
                frame = self.events.pop(0)
            else:
                frame = await self.receive(timeout)
                if frame["type"] == "__closed__":
                    raise AssertionError(f"closed with {frame['code']} while waiting for an event")
            if match is None or match(frame):
                return frame

    async def no_event(self, within: float = 0.3) -> None:
        """No frame but presence frames is buffered or arrives `within` seconds."""
        assert not self.events, self.events
        while not await self.communicator.receive_nothing(within):
            frame = await self._receive_any(RECEIVE_TIMEOUT)
            assert frame["type"] in PRESENCE_FRAMES, f"an unexpected frame arrived: {frame}"
            self.presence.append(frame)

    async def close(self) -> None:
        await self.communicator.disconnect()


def token_for(user: Any) -> str:
    return str(AccessToken.for_user(user))


def session_cookie_for(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


@pytest.fixture
async def ws_connect() -> AsyncIterator[Callable[..., Any]]:
    """ws_connect(user) -> a connected WsClient that has read its welcome (token auth).

    Options: token="..." (raw), session=True (cookie auth), origin="..." (None: no header),
    path="/ws/graphics?...", expect_welcome=False to inspect the handshake yourself,
    extra_headers=[("cookie", "...")] for headers of your own (a "host" there replaces the
    default 127.0.0.1:8000)."""
    from gal_dashboard.asgi import application

    clients: list[WsClient] = []

    async def connect(
        user: Any = None,
        *,
        token: str | None = None,
        session: bool = False,
        origin: str | None = ORIGIN,
        path: str | None = None,
        expect_welcome: bool = True,
        extra_headers: Sequence[tuple[str, str]] = (),
    ) -> WsClient:
        headers: list[tuple[bytes, bytes]] = []
        if not any(name.lower() == "host" for name, _ in extra_headers):
            headers.append((b"host", b"127.0.0.1:8000"))  # where ORIGIN's page was served
        if origin is not None:
            headers.append((b"origin", origin.encode()))
        headers.extend((name.encode(), value.encode()) for name, value in extra_headers)
        if path is None:
            path = "/ws/graphics"
            if session:
                cookie = await database_sync_to_async(session_cookie_for)(user)
                headers.append((b"cookie", cookie.encode()))
            else:
                raw = token if token is not None else await database_sync_to_async(token_for)(user)
                path += f"?token={raw}"
        communicator = WebsocketCommunicator(application, path, headers=headers)
        connected, _ = await communicator.connect(timeout=RECEIVE_TIMEOUT)
        client = WsClient(communicator)
        client.connected = connected  # type: ignore[attr-defined]
        clients.append(client)
        if connected and expect_welcome:
            welcome = await client.receive()
            assert welcome["type"] == "welcome", welcome
            client.welcome = welcome["data"]
        return client

    yield connect
    for client in clients:
        with contextlib.suppress(Exception):
            await client.communicator.disconnect()
    await get_hub().stop()
    await get_supervisor().stop()
    # Cancelling a hub task does not stop a database call it had started in the shared
    # database thread; queueing behind it waits for it to finish. Then close that thread's
    # connection outright (close_old_connections may keep a connection it judges healthy),
    # so no session outlives the test (PostgreSQL refuses to drop a database in use).
    await database_sync_to_async(connections.close_all)()
    await asyncio.sleep(0)
    leaked = [
        task
        for task in asyncio.all_tasks()
        if task.get_name().startswith(("hub-", "connection-supervisor"))
    ]
    assert not leaked, f"hub or supervisor tasks still running after the test: {leaked}"


@pytest.fixture
def db_call() -> Callable[..., Any]:
    """await db_call(fn, **kwargs): run synchronous ORM/service code from an async test."""

    async def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await database_sync_to_async(fn)(*args, **kwargs)

    return call

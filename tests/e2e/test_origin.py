"""
The Origin check against a real daphne (issue 14, finding 6): a session-cookie WebSocket is
welcome from the page's own origin (scheme, host and port of the server it reached) and from
WS_ALLOWED_ORIGINS, and refused with HTTP 403 at the handshake from anything else, another port
of the same host included.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.e2e.conftest import RECEIVE_TIMEOUT
from tests.realtime.conftest import session_cookie_for

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


async def welcome_with_session(server: Any, cookie: str, origin: str) -> dict[str, Any]:
    """The first frame of a cookie-authenticated connection from a page at `origin`."""
    async with connect(
        server.ws_url,
        additional_headers={"Origin": origin, "Cookie": cookie},
        proxy=None,
        open_timeout=RECEIVE_TIMEOUT,
    ) as connection:
        frame: dict[str, Any] = json.loads(
            await asyncio.wait_for(connection.recv(), RECEIVE_TIMEOUT)
        )
        return frame


async def test_a_page_on_another_port_cannot_open_a_session_websocket(
    daphne_server: Any, viewer: Any
) -> None:
    server = daphne_server(WS_ALLOWED_ORIGINS="http://localhost:5173")
    cookie = await sync_to_async(session_cookie_for)(viewer)

    for origin in (
        "http://localhost:1337",  # the attack as reported
        "http://127.0.0.1:1337",  # the server's host, another port
        f"http://localhost:{server.port}",  # another host name for the same server
        f"https://127.0.0.1:{server.port}",
        "http://localhost:5174",  # next to an allowed origin
    ):
        with pytest.raises(InvalidStatus) as refused:
            await welcome_with_session(server, cookie, origin)
        assert refused.value.response.status_code == 403, origin

    for origin in (server.origin, "http://localhost:5173"):
        frame = await welcome_with_session(server, cookie, origin)
        assert frame["type"] == "welcome", (origin, frame)
        assert frame["data"]["auth_method"] == "session"
        assert frame["data"]["user"]["id"] == viewer.pk

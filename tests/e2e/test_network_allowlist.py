"""
WS_ALLOWED_NETWORKS against a real daphne: connections from elsewhere get `network_not_allowed`
and close 4003 before any authentication; a trusted proxy's header names the client, and the
same header from anyone else is ignored.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.e2e.conftest import RECEIVE_TIMEOUT, token_for

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


async def first_frame_and_close(
    server: Any, user: Any, headers: dict[str, str] | None = None
) -> tuple[dict[str, Any], int | None]:
    """The first frame the server sends and the close code (None if still open)."""
    async with connect(
        f"{server.ws_url}?token={token_for(user)}",
        additional_headers=headers,
        proxy=None,
        open_timeout=RECEIVE_TIMEOUT,
    ) as connection:
        frame = json.loads(await asyncio.wait_for(connection.recv(), RECEIVE_TIMEOUT))
        try:
            await asyncio.wait_for(connection.recv(), 1.0)
        except ConnectionClosed:
            pass
        except TimeoutError:
            return frame, None
        return frame, connection.close_code


async def test_only_allowed_networks_may_connect(daphne_server: Any, viewer: Any) -> None:
    outside = daphne_server(WS_ALLOWED_NETWORKS="10.0.0.0/8,192.168.0.0/16")
    frame, code = await first_frame_and_close(outside, viewer)
    assert (frame["type"], frame["data"]["code"], code) == ("error", "network_not_allowed", 4003)
    assert frame["data"]["details"] == {"address": "127.0.0.1"}

    inside = daphne_server(WS_ALLOWED_NETWORKS="10.0.0.0/8,127.0.0.0/8")
    frame, code = await first_frame_and_close(inside, viewer)
    assert (frame["type"], code) == ("welcome", None)


async def test_a_trusted_proxys_header_names_the_client(daphne_server: Any, viewer: Any) -> None:
    """The last X-Forwarded-For entry is the one the proxy added; earlier ones are the
    client's own claims and do not count."""
    server = daphne_server(
        WS_ALLOWED_NETWORKS="203.0.113.0/24", TRUSTED_PROXY_HEADER="X-Forwarded-For"
    )
    frame, code = await first_frame_and_close(
        server, viewer, {"X-Forwarded-For": "198.51.100.1, 203.0.113.7"}
    )
    assert (frame["type"], code) == ("welcome", None)

    frame, code = await first_frame_and_close(
        server, viewer, {"X-Forwarded-For": "203.0.113.7, 198.51.100.1"}
    )
    assert (frame["data"]["code"], code) == ("network_not_allowed", 4003)
    assert frame["data"]["details"] == {"address": "198.51.100.1"}


async def test_the_header_from_an_untrusted_peer_is_ignored(
    daphne_server: Any, viewer: Any
) -> None:
    server = daphne_server(
        WS_ALLOWED_NETWORKS="203.0.113.0/24",
        TRUSTED_PROXY_HEADER="X-Forwarded-For",
        TRUSTED_PROXY_NETWORKS="10.0.0.0/8",
    )
    frame, code = await first_frame_and_close(server, viewer, {"X-Forwarded-For": "203.0.113.7"})
    assert (frame["data"]["code"], code) == ("network_not_allowed", 4003)
    assert frame["data"]["details"] == {"address": "127.0.0.1"}

"""
Exactly one reply per request over a real daphne (issue 14): daphne refuses to send a message
over its limit (WS_MAX_MESSAGE_BYTES) and drops it without a word, so a `subscribe` with 60,000
unknown keys, answered with a 2 MB error, was never answered at all. Errors are now bounded, and
a reply that is too large anyway is replaced by `reply_too_large`.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from channels.db import database_sync_to_async
from websockets.asyncio.client import ClientConnection, connect

from graphics.services import view_key_rotate
from tests.conftest import text_element, valid_canvas
from tests.e2e.conftest import RECEIVE_TIMEOUT, DaphneServer, token_for

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


async def open_raw(server: DaphneServer, query: str) -> ClientConnection:
    """A plain WebSocket client that reads messages of any size (so what arrives is what the
    server sent), past the welcome."""
    connection = await connect(
        f"{server.ws_url}?{query}", proxy=None, open_timeout=RECEIVE_TIMEOUT, max_size=None
    )
    welcome = json.loads(await connection.recv())
    assert welcome["type"] == "welcome", welcome
    return connection


async def replies_to(connection: ClientConnection, frame: dict[str, Any]) -> list[dict[str, Any]]:
    """Send `frame`, then a ping; every reply to `frame`, read up to the pong (replies come in
    request order, so the pong comes after all of them)."""
    await connection.send(json.dumps(frame, separators=(",", ":")))
    await connection.send(json.dumps({"type": "ping", "request_id": "fence"}))
    replies: list[dict[str, Any]] = []
    while True:
        async with asyncio.timeout(RECEIVE_TIMEOUT):
            message = json.loads(await connection.recv())
        if message.get("request_id") == "fence":
            return replies
        if message.get("request_id") == frame["request_id"]:
            replies.append(message)


async def test_an_overlay_subscribe_with_60000_unknown_keys_is_answered_once(
    daphne_server: Any, editor: Any, graphic: Any
) -> None:
    """The attack of issue 14, on a view-key connection with no login: one small error, and
    the overlay still reads its graphic afterwards."""
    view_key = await database_sync_to_async(view_key_rotate)(graphic_id=graphic.pk, user=editor)
    key = view_key.key
    server = daphne_server()
    connection = await open_raw(server, f"key={key}")
    data: dict[str, Any] = {"graphic_id": graphic.pk}
    data.update((f"k{index:05}", 1) for index in range(60_000))

    replies = await replies_to(connection, {"type": "subscribe", "data": data, "request_id": "a"})

    assert [reply["data"]["code"] for reply in replies] == ["validation_error"]
    assert len(json.dumps(replies[0])) < 20_000
    snapshot = await replies_to(
        connection, {"type": "subscribe", "data": {"graphic_id": graphic.pk}, "request_id": "b"}
    )
    assert [reply["type"] for reply in snapshot] == ["ack"]
    await connection.close()


async def test_a_snapshot_over_the_servers_limit_is_answered_with_reply_too_large(
    daphne_server: Any, make_graphic: Any, editor: Any
) -> None:
    """A graphic saved before the limits were lowered has a snapshot larger than the server may
    send: the request is answered with `reply_too_large` rather than with nothing."""
    graphic = await database_sync_to_async(make_graphic)(by=editor)
    elements = [text_element(f"e{index}", content="x" * 4000) for index in range(20)]
    big = await database_sync_to_async(make_graphic)(
        data=valid_canvas(elements=elements), by=editor
    )
    limit = 1024 + 65536
    server = daphne_server(GRAPHIC_DATA_MAX_BYTES=1024, WS_MAX_MESSAGE_BYTES=limit)
    token = await database_sync_to_async(token_for)(editor)
    connection = await open_raw(server, f"token={token}")

    replies = await replies_to(
        connection, {"type": "subscribe", "data": {"graphic_id": big.pk}, "request_id": "a"}
    )

    assert [reply["data"]["code"] for reply in replies] == ["reply_too_large"]
    assert replies[0]["data"]["details"] == {"limit": limit}
    small = await replies_to(
        connection, {"type": "subscribe", "data": {"graphic_id": graphic.pk}, "request_id": "b"}
    )
    assert [reply["type"] for reply in small] == ["ack"]
    await connection.close()

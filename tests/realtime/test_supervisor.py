"""Heartbeats, idle close and the connection registry, as a client of the real application
sees them (in-process, with tiny intervals set through settings)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest

from realtime.connection.supervisor import get_supervisor
from realtime.delivery.hub import get_hub
from realtime.ops.registry import open_registry
from realtime.protocol import CLOSE_IDLE
from tests.realtime.conftest import WsClient

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def fast_heartbeats(settings: Any) -> None:
    settings.WS_HEARTBEAT_INTERVAL_SECONDS = 0.1
    settings.WS_IDLE_TIMEOUT_SECONDS = 0.5


async def registered_ids() -> set[str]:
    async with open_registry() as registry:
        return {entry.connection_id for entry in await registry.entries()}


async def next_frame_of_type(client: WsClient, frame_type: str) -> dict[str, Any]:
    while True:
        frame = await client.receive()
        if frame["type"] == frame_type:
            return frame
        assert frame["type"] != "__closed__", frame


async def test_every_connection_gets_heartbeats_and_a_ping_answer_gets_a_pong(
    ws_connect: Callable[..., Any], viewer: Any, settings: Any
) -> None:
    """The welcome states the heartbeat interval; heartbeats then arrive with the server time,
    the interval and the idle timeout; a `ping` answering one gets a `pong`."""
    settings.WS_HEARTBEAT_INTERVAL_SECONDS = 0.1
    settings.WS_IDLE_TIMEOUT_SECONDS = 30
    client = await ws_connect(viewer)
    assert client.welcome is not None
    assert client.welcome["heartbeat_interval"] == 0.1

    heartbeat = await next_frame_of_type(client, "heartbeat")

    assert set(heartbeat) == {"type", "data"}
    assert heartbeat["data"]["interval"] == 0.1
    assert heartbeat["data"]["idle_timeout"] == 30
    assert heartbeat["data"]["server_time"].endswith("Z")
    assert (await client.request("ping"))["type"] == "pong"


async def test_a_silent_connection_is_closed_and_one_answering_heartbeats_stays(
    ws_connect: Callable[..., Any], viewer: Any, editor: Any, fast_heartbeats: None
) -> None:
    """A client that sends nothing is told `idle_timeout` and closed with 4000, and leaves the
    hub and the registry; a client that answers every heartbeat with `ping` stays open for
    several idle timeouts."""
    silent = await ws_connect(viewer)
    answering = await ws_connect(editor)
    assert silent.welcome is not None and answering.welcome is not None
    assert silent.welcome["connection_id"] in await registered_ids()

    async def answer_heartbeats(count: int) -> None:
        for _ in range(count):
            await next_frame_of_type(answering, "heartbeat")
            await answering.send_raw(json.dumps({"type": "ping"}))

    # 15 heartbeats at 0.1 s: three idle timeouts of 0.5 s.
    answerer = asyncio.create_task(answer_heartbeats(15))
    error = await next_frame_of_type(silent, "error")
    assert error["data"]["code"] == "idle_timeout"
    assert (await silent.receive())["code"] == CLOSE_IDLE
    assert silent.welcome["connection_id"] not in get_hub().members
    assert silent.welcome["connection_id"] not in get_supervisor().members
    assert silent.welcome["connection_id"] not in await registered_ids()

    await answerer
    assert answering.welcome["connection_id"] in get_hub().members
    assert (await answering.request("ping"))["type"] == "pong"


async def test_the_registry_lists_each_connection_with_its_user_and_subscriptions(
    ws_connect: Callable[..., Any], viewer: Any, graphic: Any, fast_heartbeats: None
) -> None:
    """Each open connection has one entry naming its user, this server and its address; the
    heartbeat's refresh brings its subscriptions up to date; closing removes it."""
    client = await ws_connect(viewer)
    assert client.welcome is not None
    connection_id = client.welcome["connection_id"]
    await client.ack("subscribe", {"graphic_id": "all"})
    await client.ack("subscribe", {"graphic_id": graphic.pk})
    await next_frame_of_type(client, "heartbeat")
    await client.send_raw(json.dumps({"type": "ping"}))
    await next_frame_of_type(client, "pong")

    async with open_registry() as registry:
        (entry,) = [e for e in await registry.entries() if e.connection_id == connection_id]
    assert (entry.user_id, entry.username) == (viewer.pk, "viewer")
    assert entry.server_id == get_supervisor().server_id
    assert entry.subscriptions == ["all", graphic.pk]
    assert entry.connected_at <= entry.last_seen

    await client.close()
    assert connection_id not in await registered_ids()


async def test_closing_the_last_connection_for_idleness_stops_the_supervisor_cleanly(
    ws_connect: Callable[..., Any], viewer: Any, fast_heartbeats: None
) -> None:
    """When the only connection is the idle one, the close still reaches the client (error,
    then 4000) and the supervisor's loop ends instead of waiting on itself."""
    client = await ws_connect(viewer)

    error = await next_frame_of_type(client, "error")
    assert error["data"]["code"] == "idle_timeout"
    assert (await client.receive())["code"] == CLOSE_IDLE
    await get_supervisor().stop()
    assert not get_supervisor().members
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "connection-supervisor"]

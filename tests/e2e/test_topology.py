"""
The channel-layer topology with two real daphne processes behind one PostgreSQL and one Redis:
events go to their graphic's group (and the list group), whose members are the hubs with a
socket watching that graphic, so a process whose sockets watch only graphic Y receives none of
graphic X's events, while the process watching X delivers them.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channels.db import database_sync_to_async
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import DaphneServer, RestClient

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

TOKEN = "scrape-secret-0123456789"
RECEIVED = "gal_hub_event_messages_total"


async def event_messages_received(server: DaphneServer, server_id: str) -> float:
    """The server's count of event messages its hub took from the channel layer."""
    response = await RestClient(server, TOKEN).call_text("GET", "/metrics")
    assert response.status == 200
    for family in text_string_to_metric_families(response.body):
        for sample in family.samples:
            if sample.name == RECEIVED and sample.labels.get("server") == server_id:
                return float(sample.value)
    return 0.0


async def test_a_process_without_a_subscriber_of_a_graphic_receives_none_of_its_events(
    daphne_server: Any,
    ws_connect: Any,
    rest_client: Any,
    editor: Any,
    viewer: Any,
    make_graphic: Any,
) -> None:
    # The log read is pushed out of the test: only the channel layer moves the hubs.
    common = {"METRICS_TOKEN": TOKEN, "EVENT_POLL_INTERVAL_SECONDS": 60}
    server_a = daphne_server(SERVER_ID="topo-a", **common)
    server_b = daphne_server(SERVER_ID="topo-b", **common)
    graphic_x = await database_sync_to_async(make_graphic)(title="Graphic X", by=editor)
    graphic_y = await database_sync_to_async(make_graphic)(title="Graphic Y", by=editor)
    watcher_x = await ws_connect(server_a, viewer, name="viewer@A watching X")
    watcher_y = await ws_connect(server_b, viewer, name="viewer@B watching Y")
    await watcher_x.ack("subscribe", {"graphic_id": graphic_x.pk})
    await watcher_y.ack("subscribe", {"graphic_id": graphic_y.pk})
    a_before = await event_messages_received(server_a, "topo-a")
    b_before = await event_messages_received(server_b, "topo-b")

    # Three events on X, written through server B's REST API.
    api = rest_client(server_b, editor)
    locked = await api.call("POST", f"/api/graphics/{graphic_x.pk}/lock/")
    assert locked.status == 200, locked.body
    renamed = await api.call(
        "PATCH",
        f"/api/graphics/{graphic_x.pk}/",
        {
            "version": graphic_x.version,
            "fencing_token": locked.body["fencing_token"],
            "title": "Graphic X, renamed",
        },
    )
    assert renamed.status == 200, renamed.body
    assert (await api.call("DELETE", f"/api/graphics/{graphic_x.pk}/lock/")).status == 204

    await watcher_x.next_event(graphic_x.pk, "lock_status", reason="released")
    assert len(watcher_x.events_of(graphic_x.pk)) == 3
    await asyncio.sleep(0.5)  # room for a stray message to reach B

    assert await event_messages_received(server_a, "topo-a") - a_before == 3
    assert await event_messages_received(server_b, "topo-b") - b_before == 0
    assert watcher_y.events == []

    # B does count what its sockets watch: one event on Y reaches it (and not A).
    locked_y = await api.call("POST", f"/api/graphics/{graphic_y.pk}/lock/")
    assert locked_y.status == 200, locked_y.body
    await watcher_y.next_event(graphic_y.pk, "lock_status", reason="acquired")
    assert await event_messages_received(server_b, "topo-b") - b_before == 1
    assert await event_messages_received(server_a, "topo-a") - a_before == 3

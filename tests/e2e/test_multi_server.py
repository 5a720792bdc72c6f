"""
Two daphne processes behind one PostgreSQL and one Redis, as behind a load balancer: a change
made through either server reaches the subscribers of both, every event exactly once and in
the same seq order, which is the order of the event log.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

import pytest
from channels.db import database_sync_to_async

from realtime.models import Event
from tests.conftest import text_element, valid_canvas
from tests.e2e.conftest import NetworkClient

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

# After the last expected event, how long to keep listening for a duplicate.
DUPLICATE_GRACE_SECONDS = 0.5


def logged_events(graphic_id: int, after_seq: int) -> list[tuple[int, str]]:
    return list(
        Event.objects.filter(graphic_id=graphic_id, id__gt=after_seq)
        .order_by("id")
        .values_list("id", "type")
    )


def has_events(client: NetworkClient, subscription: Any, count: int) -> bool:
    return len(client.events_of(subscription)) >= count


def received(client: NetworkClient, subscription: Any) -> list[tuple[int, str]]:
    return [(event["data"]["seq"], event["type"]) for event in client.events_of(subscription)]


async def subscribe(clients: list[NetworkClient], graphic_id: int) -> int:
    """Subscribe every client to the graphic and to the list; return the latest snapshot seq."""
    seqs = []
    for client in clients:
        seqs.append((await client.ack("subscribe", {"graphic_id": graphic_id}))["seq"])
        await client.ack("subscribe", {"graphic_id": "all"})
    # Nothing changed the graphic while they subscribed, so every snapshot is at the same seq.
    assert len(set(seqs)) == 1, seqs
    return int(seqs[0])


async def change_through_both_servers(
    *, ws_editor: NetworkClient, rest_editor: Any, graphic: Any
) -> None:
    """Server 1 over the WebSocket: lock, rename, release. Server 2 over REST: lock, new canvas.
    Five events in all."""
    token = (await ws_editor.ack("lock", {"graphic_id": graphic.pk}))["lock"]["fencing_token"]
    await ws_editor.ack(
        "update",
        {
            "graphic_id": graphic.pk,
            "version": graphic.version,
            "fencing_token": token,
            "title": "Top 8 Cut",
        },
    )
    await ws_editor.ack("unlock", {"graphic_id": graphic.pk})
    locked = await rest_editor.call("POST", f"/api/graphics/{graphic.pk}/lock/")
    assert locked.status == 200, locked.body
    edited = await rest_editor.call(
        "PATCH",
        f"/api/graphics/{graphic.pk}/",
        {
            "version": graphic.version + 1,
            "fencing_token": locked.body["fencing_token"],
            "data": valid_canvas(elements=[text_element(content="Top 8 — Day 2")]),
        },
    )
    assert edited.status == 200, edited.body


async def assert_each_client_got_the_log_once_in_order(
    clients: list[NetworkClient], graphic_id: int, after_seq: int, count: int
) -> None:
    for client in clients:
        for subscription in (graphic_id, "all"):
            await client.wait_for(
                partial(has_events, client, subscription, count),
                what=f"{count} events on {subscription!r}",
            )
    await asyncio.sleep(DUPLICATE_GRACE_SECONDS)
    expected = await database_sync_to_async(logged_events)(graphic_id, after_seq)
    assert [kind for _, kind in expected] == [
        "lock_status",
        "graphic_update",
        "lock_status",
        "lock_status",
        "graphic_update",
    ]
    for client in clients:
        assert received(client, graphic_id) == expected, client.name
        assert received(client, "all") == expected, client.name


async def test_changes_through_either_server_reach_subscribers_on_both(
    daphne_server: Any,
    ws_connect: Any,
    rest_client: Any,
    editor: Any,
    editor2: Any,
    viewer: Any,
    graphic: Any,
) -> None:
    """Changes made over the WebSocket on server 1 and over REST on server 2 reach viewers on
    both servers (and the acting client) exactly once each, in the log's seq order, on the
    graphic's subscription and on the list."""
    # Each hub also reads the log every EVENT_POLL_INTERVAL_SECONDS; at a minute, only the
    # Redis broadcast can deliver within the clients' receive timeout.
    server1, server2 = daphne_server.many(2, EVENT_POLL_INTERVAL_SECONDS=60)
    ws_editor = await ws_connect(server1, editor)
    viewers = [await ws_connect(server1, viewer), await ws_connect(server2, viewer)]
    clients = [ws_editor, *viewers]
    snapshot_seq = await subscribe(clients, graphic.pk)

    await change_through_both_servers(
        ws_editor=ws_editor, rest_editor=rest_client(server2, editor2), graphic=graphic
    )

    await assert_each_client_got_the_log_once_in_order(clients, graphic.pk, snapshot_seq, 5)


async def test_fast_log_reads_racing_broadcasts_deliver_each_event_once(
    daphne_server: Any,
    ws_connect: Any,
    rest_client: Any,
    editor: Any,
    editor2: Any,
    viewer: Any,
    graphic: Any,
) -> None:
    """With each hub also reading the log every 50 ms, an event reaches a hub both from Redis
    and from the log; subscribers on both servers still get each one once, in seq order."""
    server1, server2 = daphne_server.many(2, EVENT_POLL_INTERVAL_SECONDS=0.05)
    ws_editor = await ws_connect(server1, editor)
    viewers = [await ws_connect(server1, viewer), await ws_connect(server2, viewer)]
    clients = [ws_editor, *viewers]
    snapshot_seq = await subscribe(clients, graphic.pk)

    await change_through_both_servers(
        ws_editor=ws_editor, rest_editor=rest_client(server2, editor2), graphic=graphic
    )

    await assert_each_client_got_the_log_once_in_order(clients, graphic.pk, snapshot_seq, 5)

"""
The league's results, live across two daphne processes behind one PostgreSQL and one Redis: a
scorekeeper's lobby saves and a correction, sent over REST to one server, reach the viewers of
a bound graphic on both servers as `standings_update` events, each exactly once, in the log's
order, and the last one equals what the REST standings endpoint answers.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

import pytest
from channels.db import database_sync_to_async

from realtime.models import Event
from tests.conftest import lobby_results
from tests.e2e.conftest import NetworkClient

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

EVENT = "GAL Season 3 Week 2"
# After the last expected event, how long to keep listening for a duplicate.
DUPLICATE_GRACE_SECONDS = 0.5


def logged_standings(graphic_id: int, after_seq: int) -> list[int]:
    return list(
        Event.objects.filter(graphic_id=graphic_id, id__gt=after_seq, type="standings_update")
        .order_by("id")
        .values_list("id", flat=True)
    )


def has_events(client: NetworkClient, subscription: Any, count: int) -> bool:
    return len(client.events_of(subscription)) >= count


async def test_lobby_saves_reach_viewers_on_both_servers_once_in_order(
    daphne_server: Any,
    ws_connect: Any,
    rest_client: Any,
    viewer: Any,
    make_event: Any,
    make_graphic: Any,
) -> None:
    event = await database_sync_to_async(make_event)(EVENT, players=16)
    graphic = await database_sync_to_async(make_graphic)(event_name=EVENT)
    lobby_1 = await database_sync_to_async(lobby_results)(event, [1, 2, 3, 4, 5, 6, 7, 8])
    lobby_2 = await database_sync_to_async(lobby_results)(event, [8, 7, 6, 5, 4, 3, 2, 1], first=8)
    # Only the Redis broadcast can deliver within the clients' receive timeout.
    server1, server2 = daphne_server.many(2, EVENT_POLL_INTERVAL_SECONDS=60)
    viewers = [await ws_connect(server1, viewer), await ws_connect(server2, viewer)]
    seqs = []
    for client in viewers:
        seqs.append((await client.ack("subscribe", {"graphic_id": graphic.pk}))["seq"])
        await client.ack("subscribe", {"graphic_id": "all"})
    api = rest_client(server1, event.scorekeeper)
    base = f"/api/standings/events/{event.pk}/rounds/1/lobbies"

    saved = await api.call("PUT", f"{base}/1/", {"results": lobby_1})
    assert saved.status == 200, saved.body
    saved = await api.call("PUT", f"{base}/2/", {"results": lobby_2})
    assert saved.status == 200, saved.body
    # P01 and P02 were reported the wrong way round: corrected minutes later.
    corrected = [dict(entry) for entry in lobby_1]
    corrected[0]["placement"], corrected[1]["placement"] = 2, 1
    saved = await api.call("PUT", f"{base}/1/", {"results": corrected, "reason": "misreported"})
    assert saved.status == 200, saved.body

    for client in viewers:
        for subscription in (graphic.pk, "all"):
            await client.wait_for(
                partial(has_events, client, subscription, 3), what=f"3 events on {subscription}"
            )
    await asyncio.sleep(DUPLICATE_GRACE_SECONDS)
    expected = await database_sync_to_async(logged_standings)(graphic.pk, max(seqs))
    assert len(expected) == 3
    for client in viewers:
        for subscription in (graphic.pk, "all"):
            frames = client.events_of(subscription)
            assert [frame["data"]["seq"] for frame in frames] == expected, client.name
            assert {frame["type"] for frame in frames} == {"standings_update"}
        last = client.events_of(graphic.pk)[-1]["data"]["standings"]["tables"]["total"]
        assert [(row["name"], row["points"]) for row in last[:2]] == [("P02", 8), ("P16", 8)]
    standings = await api.call("GET", f"/api/standings/events/{event.pk}/standings/")
    assert standings.status == 200, standings.body
    assert standings.body["rows"] == last

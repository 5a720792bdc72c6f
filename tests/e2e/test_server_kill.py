"""
A daphne process dies (SIGKILL: no close frame, no cleanup) behind a load balancer. Its clients
reconnect to the other server and resume every subscription from their last `seq`: the events
committed meanwhile are replayed in order, once each, then live events follow.
"""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async

from realtime.models import Event
from tests.e2e.conftest import NetworkClient

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def seqs(client: NetworkClient, subscription: Any) -> list[int]:
    return [event["data"]["seq"] for event in client.events_of(subscription)]


@database_sync_to_async
def logged_seqs(*, graphic_id: int | None = None, after: int) -> list[int]:
    events = Event.objects.filter(id__gt=after)
    if graphic_id is not None:
        events = events.filter(graphic_id=graphic_id)
    return list(events.order_by("id").values_list("id", flat=True))


async def test_clients_of_a_killed_server_resume_on_another_without_loss(
    daphne_server: Any,
    ws_connect: Any,
    rest_client: Any,
    editor: Any,
    viewer: Any,
    graphic: Any,
) -> None:
    doomed, survivor = daphne_server.many(2)
    client = await ws_connect(doomed, viewer, name="viewer@doomed")
    await client.ack("subscribe", {"graphic_id": graphic.pk})
    await client.ack("subscribe", {"graphic_id": "all"})
    api = rest_client(survivor, editor)
    locked = await api.call("POST", f"/api/graphics/{graphic.pk}/lock/")
    assert locked.status == 200, locked.body
    await client.next_event(graphic.pk, "lock_status")
    await client.next_event("all", "lock_status")
    last_graphic_seq, last_list_seq = seqs(client, graphic.pk)[-1], seqs(client, "all")[-1]

    doomed.kill()
    await client.wait_for(lambda: client.closed, what="the connection to drop")

    # Changes committed while the client has no connection at all.
    version = graphic.version
    for title in ("Lobby A", "Lobby B", "Lobby C"):
        edited = await api.call(
            "PATCH",
            f"/api/graphics/{graphic.pk}/",
            {"version": version, "fencing_token": locked.body["fencing_token"], "title": title},
        )
        assert edited.status == 200, edited.body
        version = edited.body["version"]
    created = await api.call("POST", "/api/graphics/", {"title": "New", "event_name": "GAL"})
    assert created.status == 201, created.body

    resumed = await ws_connect(survivor, viewer, name="viewer@survivor")
    graphic_ack = await resumed.ack(
        "subscribe", {"graphic_id": graphic.pk, "last_seq": last_graphic_seq}
    )
    list_ack = await resumed.ack("subscribe", {"graphic_id": "all", "last_seq": last_list_seq})
    assert graphic_ack["recovered"] is True and list_ack["recovered"] is True

    missed_on_graphic = await logged_seqs(graphic_id=graphic.pk, after=last_graphic_seq)
    missed_on_list = await logged_seqs(after=last_list_seq)
    assert len(missed_on_graphic) == 3 and len(missed_on_list) == 4
    await resumed.wait_for(
        lambda: (
            seqs(resumed, graphic.pk) == missed_on_graphic
            and seqs(resumed, "all") == missed_on_list
        ),
        what="the replay of every missed event",
    )

    # And live events continue on the new server, once each.
    released = await api.call("DELETE", f"/api/graphics/{graphic.pk}/lock/")
    assert released.status == 204, released.body
    await resumed.next_event(graphic.pk, "lock_status", reason="released")
    all_seqs = seqs(resumed, graphic.pk)
    assert all_seqs == sorted(set(all_seqs))
    assert all_seqs == await logged_seqs(graphic_id=graphic.pk, after=last_graphic_seq)

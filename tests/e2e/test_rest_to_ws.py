"""
A change made through the REST API reaches WebSocket subscribers of the same server: the REST
views call the same services, whose events are broadcast after commit.
"""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


async def test_a_lock_and_an_edit_over_rest_reach_a_websocket_subscriber(
    daphne_server: Any,
    ws_connect: Any,
    rest_client: Any,
    editor: Any,
    viewer: Any,
    graphic: Any,
) -> None:
    """An editor locks (POST .../lock/), renames (PATCH) and releases (DELETE .../lock/) over
    REST; a viewer subscribed over the WebSocket receives lock_status acquired, graphic_update
    and lock_status released, in that order, matching what the REST answers said."""
    server = daphne_server()
    subscriber = await ws_connect(server, viewer)
    snapshot = await subscriber.ack("subscribe", {"graphic_id": graphic.pk})
    await subscriber.ack("subscribe", {"graphic_id": "all"})
    api = rest_client(server, editor)

    locked = await api.call("POST", f"/api/graphics/{graphic.pk}/lock/")
    assert locked.status == 200, locked.body
    edited = await api.call(
        "PATCH",
        f"/api/graphics/{graphic.pk}/",
        {
            "version": graphic.version,
            "fencing_token": locked.body["fencing_token"],
            "title": "Grand Final — Lobby A",
        },
    )
    assert edited.status == 200, edited.body
    released = await api.call("DELETE", f"/api/graphics/{graphic.pk}/lock/")
    assert released.status == 204, released.body

    lock_event = await subscriber.next_event(graphic.pk, "lock_status", reason="acquired")
    update_event = await subscriber.next_event(graphic.pk, "graphic_update", action="updated")
    release_event = await subscriber.next_event(graphic.pk, "lock_status", reason="released")
    assert lock_event["data"]["locked_by"] == "editor"
    assert lock_event["data"]["expires_at"] == locked.body["expires_at"]
    assert lock_event["data"]["fencing_token"] == locked.body["fencing_token"]
    assert update_event["data"]["version"] == edited.body["version"] == graphic.version + 1
    # A title change is sent as a merge patch: the canvas is not sent again.
    assert update_event["data"]["patch"] == {"title": "Grand Final — Lobby A"}
    assert update_event["data"]["base_version"] == graphic.version
    assert release_event["data"]["locked"] is False
    assert (
        snapshot["seq"]
        < lock_event["data"]["seq"]
        < update_event["data"]["seq"]
        < release_event["data"]["seq"]
    )
    listed = await subscriber.next_event("all", "graphic_update", action="updated")
    assert listed["data"]["seq"] == update_event["data"]["seq"]
    assert "data" not in listed["data"]["payload"]

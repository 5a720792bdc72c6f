"""
Two operators on one real daphne process: what one does over the WebSocket, the other sees,
on the graphic's subscription (full payload) and on the list (summary without the canvas).
Runs on SQLite with the in-memory channel layer and on PostgreSQL with Redis alike.
"""

from __future__ import annotations

from typing import Any

import pytest

from graphics.patch import canvas_patch_apply
from tests.conftest import text_element, valid_canvas
from tests.e2e.conftest import NetworkClient

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


async def subscribe_to_graphic_and_list(client: NetworkClient, graphic_id: int) -> int:
    """Subscribe to the graphic and to "all"; return the graphic snapshot's seq."""
    snapshot = await client.ack("subscribe", {"graphic_id": graphic_id})
    assert snapshot["graphic"]["id"] == graphic_id
    listing = await client.ack("subscribe", {"graphic_id": "all"})
    assert graphic_id in [summary["id"] for summary in listing["graphics"]]
    return int(snapshot["seq"])


async def test_a_lock_and_an_edit_reach_the_other_client_in_order(
    daphne_server: Any, ws_connect: Any, editor: Any, editor2: Any, graphic: Any
) -> None:
    """A locks and renames the graphic; B, subscribed to the graphic and the list, receives the
    lock_status then the graphic_update with increasing seqs: the change as a merge patch on
    the graphic, a summary without `data` on the list."""
    server = daphne_server()
    client_a = await ws_connect(server, editor)
    client_b = await ws_connect(server, editor2)
    await subscribe_to_graphic_and_list(client_a, graphic.pk)
    snapshot_seq = await subscribe_to_graphic_and_list(client_b, graphic.pk)

    lock = await client_a.ack("lock", {"graphic_id": graphic.pk})
    assert lock["lock"]["locked_by"] == "editor"
    updated = await client_a.ack(
        "update",
        {
            "graphic_id": graphic.pk,
            "version": graphic.version,
            "fencing_token": lock["lock"]["fencing_token"],
            "title": "Round 3 Final Standings",
        },
    )
    assert updated["graphic"]["version"] == graphic.version + 1

    locked = await client_b.next_event(graphic.pk, "lock_status", reason="acquired")
    edited = await client_b.next_event(graphic.pk, "graphic_update", action="updated")
    assert locked["data"]["locked_by"] == "editor"
    assert locked["data"]["fencing_token"] == lock["lock"]["fencing_token"]
    assert snapshot_seq < locked["data"]["seq"] < edited["data"]["seq"]
    assert edited["data"]["user"] == "editor"
    assert edited["data"]["version"] == graphic.version + 1
    assert edited["data"]["changed_fields"] == ["title"]
    assert edited["data"]["patch"] == {"title": "Round 3 Final Standings"}

    listed_lock = await client_b.next_event("all", "lock_status", reason="acquired")
    listed_edit = await client_b.next_event("all", "graphic_update", action="updated")
    assert listed_lock["data"]["seq"] == locked["data"]["seq"]
    assert listed_edit["data"]["seq"] == edited["data"]["seq"]
    assert listed_edit["data"]["payload"]["title"] == "Round 3 Final Standings"
    assert "data" not in listed_edit["data"]["payload"]
    # In arrival order too, not only by number.
    assert [event["data"]["seq"] for event in client_b.events_of(graphic.pk)] == [
        locked["data"]["seq"],
        edited["data"]["seq"],
    ]


async def test_the_second_clients_actions_reach_the_first(
    daphne_server: Any, ws_connect: Any, editor: Any, editor2: Any, graphic: Any
) -> None:
    """While A holds the lock, B's edit is refused with lock_conflict naming A. Once A releases,
    B locks and replaces the canvas, and A receives the release, B's lock and B's new canvas."""
    server = daphne_server()
    client_a = await ws_connect(server, editor)
    client_b = await ws_connect(server, editor2)
    await subscribe_to_graphic_and_list(client_a, graphic.pk)
    await subscribe_to_graphic_and_list(client_b, graphic.pk)
    token = (await client_a.ack("lock", {"graphic_id": graphic.pk}))["lock"]["fencing_token"]

    refused = await client_b.request(
        "update",
        {
            "graphic_id": graphic.pk,
            "version": graphic.version,
            "fencing_token": token,
            "title": "Hijacked",
        },
    )
    assert refused["type"] == "error"
    assert refused["data"]["code"] == "lock_conflict"
    assert refused["data"]["details"]["locked_by"] == "editor"

    released = await client_a.ack("unlock", {"graphic_id": graphic.pk})
    assert released["released"] is True
    token = (await client_b.ack("lock", {"graphic_id": graphic.pk}))["lock"]["fencing_token"]
    new_canvas = valid_canvas(elements=[text_element(content="Lobby 2 — Round 4")])
    await client_b.ack(
        "update",
        {
            "graphic_id": graphic.pk,
            "version": graphic.version,
            "fencing_token": token,
            "data": new_canvas,
        },
    )

    release = await client_a.next_event(graphic.pk, "lock_status", reason="released")
    taken = await client_a.next_event(graphic.pk, "lock_status", reason="acquired", actor="editor2")
    edited = await client_a.next_event(graphic.pk, "graphic_update", user="editor2")
    assert release["data"]["locked"] is False
    assert taken["data"]["locked_by"] == "editor2"
    assert release["data"]["seq"] < taken["data"]["seq"] < edited["data"]["seq"]
    assert edited["data"]["changed_fields"] == ["data"]
    assert canvas_patch_apply(graphic.data, edited["data"]["patch"]["data"]) == new_canvas
    listed = await client_a.next_event("all", "graphic_update", user="editor2")
    assert listed["data"]["seq"] == edited["data"]["seq"]
    assert "data" not in listed["data"]["payload"]


async def test_a_viewer_sees_edits_but_cannot_lock(
    daphne_server: Any, ws_connect: Any, editor: Any, viewer: Any, graphic: Any
) -> None:
    """A viewer subscribed to the graphic receives an editor's changes; their own lock request
    is answered with permission_denied and changes nothing anyone sees."""
    server = daphne_server()
    client_editor = await ws_connect(server, editor)
    client_viewer = await ws_connect(server, viewer)
    await subscribe_to_graphic_and_list(client_viewer, graphic.pk)

    refused = await client_viewer.request("lock", {"graphic_id": graphic.pk})
    assert refused["type"] == "error"
    assert refused["data"]["code"] == "permission_denied"

    await client_editor.ack("lock", {"graphic_id": graphic.pk})
    locked = await client_viewer.next_event(graphic.pk, "lock_status")
    assert locked["data"]["locked_by"] == "editor"
    assert locked["data"]["reason"] == "acquired"

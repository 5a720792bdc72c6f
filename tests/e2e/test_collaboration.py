"""
Collaboration across two daphne processes sharing PostgreSQL and Redis: an editor on one
server, a viewer and a Lock admin on the other.

- a merge patch sent over the WebSocket is applied, stored, and broadcast as a patch that the
  viewer applies to its copy, ending with exactly what a fresh snapshot shows;
- a viewer that misses a version sees the gap (base_version is not its version) and takes a
  snapshot;
- an edit made under a lock that was taken over is refused (stale fencing token) and its author
  is told `lock_lost`;
- history lists every version and a revert made on the other server reaches the viewer.
"""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async

from graphics.patch import graphic_apply_event
from tests.conftest import text_element, valid_canvas
from tests.e2e.conftest import NetworkClient

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def updates(client: NetworkClient, graphic_id: int) -> list[dict[str, Any]]:
    return client.events_of(graphic_id, "graphic_update")


async def test_patches_gaps_fencing_and_revert_across_two_servers(
    daphne_server: Any,
    ws_connect: Any,
    rest_client: Any,
    make_graphic: Any,
    editor: Any,
    viewer: Any,
    lock_admin: Any,
) -> None:
    canvas = valid_canvas(
        elements=[text_element("title", content="Grand Final"), text_element("score", y=200)]
    )
    graphic = await database_sync_to_async(make_graphic)(by=editor, data=canvas)
    server_a, server_b = daphne_server.many(2)
    author = await ws_connect(server_a, editor, name="editor@a")
    watcher = await ws_connect(server_b, viewer, name="viewer@b")
    snapshot = await watcher.ack("subscribe", {"graphic_id": graphic.pk})
    copy = snapshot["graphic"]
    lock = (await author.ack("lock", {"graphic_id": graphic.pk}))["lock"]

    # 1. A merge patch: one element moves; the viewer on the other server applies the patch.
    reply = await author.ack(
        "update",
        {
            "graphic_id": graphic.pk,
            "version": copy["version"],
            "fencing_token": lock["fencing_token"],
            "patch": {"data": {"elements": {"title": {"x": 300, "y": 64}}}},
        },
    )
    event = await watcher.next_event(graphic.pk, "graphic_update")
    assert event["data"]["patch"] == {"data": {"elements": {"title": {"x": 300, "y": 64}}}}
    copy = graphic_apply_event(copy, event["data"])
    assert copy == reply["graphic"]
    fresh = await watcher.ack("subscribe", {"graphic_id": graphic.pk})
    assert copy == fresh["graphic"]

    # 2. A missed version: the viewer's copy stays behind one edit, so the next patch does not
    # apply to it (base_version is not its version), and a snapshot brings it level.
    stale_copy = dict(copy)
    version = copy["version"]
    for content in ("Game 2", "Game 3"):
        reply = await author.ack(
            "update",
            {
                "graphic_id": graphic.pk,
                "version": version,
                "fencing_token": lock["fencing_token"],
                "patch": {"data": {"elements": {"score": {"content": content}}}},
            },
        )
        version = reply["graphic"]["version"]
    await watcher.wait_for(lambda: len(updates(watcher, graphic.pk)) == 3, what="two edits")
    latest = updates(watcher, graphic.pk)[-1]["data"]
    assert latest["base_version"] == stale_copy["version"] + 1
    with pytest.raises(ValueError, match="version gap"):
        graphic_apply_event(stale_copy, latest)
    resynced = await watcher.ack("subscribe", {"graphic_id": graphic.pk})
    assert resynced["graphic"] == reply["graphic"]
    assert resynced["graphic"]["data"]["elements"][1]["content"] == "Game 3"

    # 3. A Lock admin on the other server takes the lock over: the editor is told, and its
    # late edit under the old token is refused although it names the current version.
    admin_api = rest_client(server_b, lock_admin)
    taken = await admin_api.call(
        "POST",
        f"/api/graphics/{graphic.pk}/lock/override/",
        {"reason": "Producer takes over", "take_over": True},
    )
    assert taken.status == 200, taken.body
    lost = await author.wait_for(
        lambda: [frame for frame in author.other if frame["type"] == "lock_lost"],
        what="lock_lost",
    )
    assert lost[0]["data"]["reason"] == "overridden"
    late = await author.request(
        "update",
        {
            "graphic_id": graphic.pk,
            "version": version,
            "fencing_token": lock["fencing_token"],
            "title": "Too late",
        },
    )
    assert late["type"] == "error" and late["data"]["code"] == "lock_conflict", late

    # 4. History on server B lists every version; a revert there reaches the viewer.
    history = await admin_api.call("GET", f"/api/graphics/{graphic.pk}/history/")
    assert history.status == 200, history.body
    assert [entry["version"] for entry in history.body["results"]] == [4, 3, 2, 1]
    reverted = await admin_api.call(
        "POST",
        f"/api/graphics/{graphic.pk}/revert/",
        {
            "version": 1,
            "expected_version": 4,
            "fencing_token": taken.body["fencing_token"],
            "reason": "back to the start",
        },
    )
    assert reverted.status == 200, reverted.body
    event = await watcher.next_event(graphic.pk, "graphic_update", action="reverted")
    assert event["data"]["reverted_from"] == 1
    back = graphic_apply_event(resynced["graphic"], event["data"])
    assert back["data"] == canvas
    assert back["version"] == 5

"""
Over the network, against a real daphne server: a client that polls GET /api/events/ sees
exactly what a WebSocket subscriber sees (the same snapshot, then the same events, seqs and
objects, in the same order) through a scripted show of edits, lock changes, an override, an
archive, a restore, a creation and a deletion; and a WebSocket client that drops out halfway and
resumes with `last_seq` ends with the same sequence too.
"""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

PAGE = 2  # small pages, so the poller follows `more` and `next_since` across pages


@pytest.fixture
def second(make_graphic: Any, editor: Any) -> Any:
    return make_graphic(title="Round 4 Scoreboard", by=editor)


class Poller:
    """Follows one subscription by polling, as a client without WebSockets would."""

    def __init__(self, api: Any, graphic: int | str):
        self.api = api
        self.graphic = graphic
        self.snapshot: dict[str, Any] | None = None
        self.events: list[dict[str, Any]] = []
        self.since: int | None = None
        self.gone = False  # the graphic was deleted and its last event told

    async def poll(self) -> None:
        """Poll until no page is full (bounded: a page per PAGE events, and few events here)."""
        for _ in range(100):
            query = f"graphic={self.graphic}&limit={PAGE}"
            if self.since is not None:
                query += f"&since={self.since}"
            response = await self.api.call("GET", f"/api/events/?{query}")
            if response.status == 404 and self.events[-1]["data"].get("action") == "deleted":
                self.gone = True
                return
            assert response.status == 200, response.body
            page = response.body
            if not page["recovered"]:
                assert self.snapshot is None, f"a poller that kept up lost its place: {page}"
                self.snapshot = page["snapshot"]
            self.events.extend(page["events"])
            self.since = page["next_since"]
            if not page["more"]:
                return
        raise AssertionError("the poller never caught up")


async def test_a_poller_and_a_websocket_subscriber_see_the_same_sequence(
    daphne_server: Any,
    ws_connect: Any,
    rest_client: Any,
    viewer: Any,
    editor: Any,
    lock_admin: Any,
    graphic: Any,
    second: Any,
) -> None:
    """A viewer polls "all" and one graphic in pages of two between the steps of the script;
    another viewer subscribes over the WebSocket. Both start from the same snapshots and end
    with the same events in the same order; the graphic's poller gets not_found once its
    `deleted` event has been told."""
    server = daphne_server()
    watcher = await ws_connect(server, viewer, name="watcher")
    ws_graphic = await watcher.ack("subscribe", {"graphic_id": graphic.pk})
    ws_all = await watcher.ack("subscribe", {"graphic_id": "all"})
    dropout = await ws_connect(server, viewer, name="dropout")
    await dropout.ack("subscribe", {"graphic_id": "all"})
    reader = rest_client(server, viewer)
    poll_graphic, poll_all = Poller(reader, graphic.pk), Poller(reader, "all")
    await poll_graphic.poll()
    await poll_all.poll()
    editor_api, admin_api = rest_client(server, editor), rest_client(server, lock_admin)

    fencing_tokens: dict[str, int] = {}

    async def ok(api: Any, method: str, path: str, body: Any = None) -> Any:
        if method == "PATCH":
            # An edit presents the fencing token of the lock taken on that graphic before.
            body = {**body, "fencing_token": fencing_tokens[path]}
        response = await api.call(method, path, body)
        assert response.status in (200, 201, 204), (method, path, response.body)
        if method == "POST" and path.endswith("/lock/"):
            fencing_tokens[path.removesuffix("lock/")] = response.body["fencing_token"]
        return response.body

    a, b = f"/api/graphics/{graphic.pk}", f"/api/graphics/{second.pk}"
    first_half = [
        (editor_api, "POST", f"{a}/lock/", None),
        (editor_api, "PATCH", f"{a}/", {"version": 1, "title": "Standings (live)"}),
        (editor_api, "PATCH", f"{a}/", {"version": 2, "event_name": "GAL Season 3 Week 3"}),
        (editor_api, "DELETE", f"{a}/lock/", None),
        (editor_api, "POST", f"{b}/archive/", {"reason": "between rounds"}),
    ]
    second_half = [
        (editor_api, "POST", f"{b}/restore/", {"reason": "round 4 starts"}),
        (editor_api, "POST", f"{b}/lock/", None),
        (admin_api, "POST", f"{b}/lock/override/", {"reason": "editor left", "take_over": False}),
        (editor_api, "POST", "/api/graphics/", {"title": "Lower third", "event_name": "GAL"}),
        (admin_api, "DELETE", f"{a}/?reason=wrong+week", None),
    ]
    for step, (api, method, path, body) in enumerate(first_half):
        await ok(api, method, path, body)
        if step % 2:
            await poll_all.poll()
            await poll_graphic.poll()
    await poll_all.poll()
    last_seen = poll_all.events[-1]["data"]["seq"]
    await dropout.wait_for(lambda: dropout.events_of("all", seq=last_seen), what="first half")
    await dropout.close()
    for step, (api, method, path, body) in enumerate(second_half):
        await ok(api, method, path, body)
        if step % 2:
            await poll_all.poll()
            await poll_graphic.poll()
    await poll_all.poll()
    await poll_graphic.poll()
    await poll_graphic.poll()  # after the deletion: not_found
    final_seq = poll_all.events[-1]["data"]["seq"]
    await watcher.wait_for(lambda: watcher.events_of("all", seq=final_seq), what="the last event")
    resumed = await ws_connect(server, viewer, name="resumed")
    resume_ack = await resumed.ack(
        "subscribe", {"graphic_id": "all", "last_seq": dropout.events[-1]["data"]["seq"]}
    )
    await resumed.wait_for(lambda: resumed.events_of("all", seq=final_seq), what="the replay")

    # The snapshots: the same objects on both transports (the ack adds `recovered`, and the
    # WebSocket's presence, which polling does not carry).
    ws_only = {"recovered", "presence", "presence_counts"}
    assert poll_graphic.snapshot == {k: v for k, v in ws_graphic.items() if k not in ws_only}
    assert poll_all.snapshot == {k: v for k, v in ws_all.items() if k not in ws_only}
    # The streams: the same events, seqs and objects, in the same order.
    assert poll_all.events == watcher.events_of("all")
    assert poll_graphic.events == watcher.events_of(graphic.pk)
    assert poll_graphic.gone
    # The event_name change moves the graphic's lists to another event: its standings follow.
    assert {e["type"] for e in poll_all.events} == {
        "graphic_update",
        "lock_status",
        "standings_update",
    }
    assert {e["data"].get("action") for e in poll_all.events} >= {
        "updated",
        "archived",
        "restored",
        "created",
        "deleted",
    }
    assert "overridden" in {e["data"].get("reason") for e in poll_all.events}
    seqs = [e["data"]["seq"] for e in poll_all.events]
    assert seqs == sorted(set(seqs))
    # The client that dropped out and resumed: its first half, then the replay, is the whole.
    assert resume_ack["recovered"] is True
    assert resume_ack["replayed"] == len(resumed.events_of("all")) > 0
    assert dropout.events_of("all") + resumed.events_of("all") == watcher.events_of("all")

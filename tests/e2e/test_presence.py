"""
Presence across daphne processes sharing PostgreSQL and Redis: users on different servers see
each other arrive, edit and leave (one presence per user, however many tabs on however many
servers), and the users of a SIGKILLed server are announced `left` by the survivors, once,
within the presence TTL, without any server restarting.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import NetworkClient

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

# Small intervals so that expiry takes seconds: entries renewed every 0.5 s, gone 1.5 s after
# their server stops renewing them, swept every supervisor tick (0.5 s).
FAST_PRESENCE = {
    "WS_HEARTBEAT_INTERVAL_SECONDS": 0.5,
    "WS_IDLE_TIMEOUT_SECONDS": 5,
    "PRESENCE_TTL_SECONDS": 1.5,
}


def actions_of(client: NetworkClient, username: str) -> list[str]:
    return [frame["data"]["action"] for frame in client.presence_of(username=username)]


async def heard(client: NetworkClient, username: str, actions: list[str], **options: Any) -> None:
    """Wait until `client` has heard exactly these actions of `username`, in this order."""
    await client.wait_for(
        lambda: len(actions_of(client, username)) >= len(actions),
        what=f"{username} {actions}",
        **options,
    )
    assert actions_of(client, username) == actions


async def test_users_on_different_servers_see_each_other(
    daphne_server: Any, ws_connect: Any, viewer: Any, editor: Any, graphic: Any
) -> None:
    """A viewer on one server and an editor's tabs on both: the viewer hears the editor once
    on arrival, `editing` when one tab says so, and `left` only when the last tab (on the
    other server) closes; the editor's ack lists the viewer."""
    first, second = daphne_server.many(2, **FAST_PRESENCE)
    watcher = await ws_connect(first, viewer, name="viewer@first")
    await watcher.ack("subscribe", {"graphic_id": graphic.pk})
    tab_second = await ws_connect(second, editor, name="editor@second")

    ack = await tab_second.ack("subscribe", {"graphic_id": graphic.pk})

    assert [u["username"] for u in ack["presence"]["users"]] == ["viewer", "editor"]
    arrival = await watcher.next_presence(username="editor")
    assert arrival["data"]["action"] == "viewing"
    assert arrival["subscription"] == arrival["data"]["target"] == graphic.pk

    # One presence: a second tab's arrival is not announced, its editing is.
    tab_first = await ws_connect(first, editor, name="editor-tab2@first")
    await tab_first.ack("subscribe", {"graphic_id": graphic.pk})
    await tab_first.ack("activity", {"graphic_id": graphic.pk, "action": "editing"})
    await heard(watcher, "editor", ["viewing", "editing"])
    await tab_first.close()
    await heard(watcher, "editor", ["viewing", "editing", "viewing"])
    await tab_second.close()
    await heard(watcher, "editor", ["viewing", "editing", "viewing", "left"])


async def test_the_list_on_one_server_counts_users_on_another(
    daphne_server: Any, ws_connect: Any, viewer: Any, editor: Any, graphic: Any
) -> None:
    first, second = daphne_server.many(2, **FAST_PRESENCE)
    lister = await ws_connect(first, viewer, name="lister@first")
    ack = await lister.ack("subscribe", {"graphic_id": "all"})
    # (Other graphics may still count users of an earlier test's servers until their TTL.)
    assert str(graphic.pk) not in ack["presence_counts"]
    tab = await ws_connect(second, editor, name="editor@second")
    await tab.ack("subscribe", {"graphic_id": graphic.pk})
    await tab.ack("activity", {"graphic_id": graphic.pk, "action": "editing"})

    counts = await lister.next_presence("presence_counts", graphic_id=graphic.pk, editing=1)

    assert counts["data"]["viewing"] == 0
    again = await ws_connect(first, viewer, name="lister2@first")
    snapshot = await again.ack("subscribe", {"graphic_id": "all"})
    assert snapshot["presence_counts"][str(graphic.pk)] == {"viewing": 0, "editing": 1}


async def test_users_of_a_killed_server_are_announced_left_once_by_the_survivors(
    daphne_server: Any, ws_connect: Any, viewer: Any, editor: Any, editor2: Any, graphic: Any
) -> None:
    """SIGKILL (no close, no cleanup): the editor's entry is no longer renewed; a surviving
    server sweeps it after the TTL and announces `left` to watchers on every survivor, once
    (the two survivors both sweep; the store lets only one of them announce)."""
    doomed, survivor_a, survivor_b = daphne_server.many(3, **FAST_PRESENCE)
    watchers = [
        await ws_connect(server, viewer, name=f"viewer@{server.port}")
        for server in (survivor_a, survivor_b)
    ]
    for watcher in watchers:
        await watcher.ack("subscribe", {"graphic_id": graphic.pk})
    victim = await ws_connect(doomed, editor, name="editor@doomed")
    await victim.ack("subscribe", {"graphic_id": graphic.pk})
    await victim.ack("activity", {"graphic_id": graphic.pk, "action": "editing"})
    for watcher in watchers:
        await heard(watcher, "editor", ["viewing", "editing"])

    doomed.kill()

    # TTL (1.5 s) + one sweep tick (0.5 s), with room for a busy machine.
    for watcher in watchers:
        await watcher.next_presence(username="editor", action="left", timeout=15)
    # A later change, announced after the departure: by the time it arrives on both, a second
    # `left` from the other survivor's sweep (which ran within a tick of the first) would too.
    marker = await ws_connect(survivor_a, editor2, name="editor2@survivor")
    await marker.ack("subscribe", {"graphic_id": graphic.pk})
    for watcher in watchers:
        await watcher.next_presence(username="editor2", action="viewing")
        assert actions_of(watcher, "editor") == ["viewing", "editing", "left"]
    ack = await marker.ack("subscribe", {"graphic_id": graphic.pk})
    assert sorted(u["username"] for u in ack["presence"]["users"]) == ["editor2", "viewer"]

"""
Lock lifecycle over real sockets: a client whose lock expired and was taken by someone else can
never write, even when its messages arrive late (fencing tokens); and on two daphne processes,
the holder's connections on both servers get `lock_expiring` before the lock runs out and
`lock_lost` when a Lock admin on the other server overrides it.
"""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async

from graphics.models import Graphic
from tests.conftest import expire_lock
from tests.e2e.conftest import NetworkClient

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

# The servers sweep locks (expiry and lock_expiring) this often.
LOCK_SWEEP_INTERVAL_SECONDS = 0.2


async def direct_message(client: NetworkClient, message_type: str) -> dict[str, Any]:
    """The first message of this type sent to the client outside any subscription."""
    found = await client.wait_for(
        lambda: [frame for frame in client.other if frame["type"] == message_type],
        what=message_type,
    )
    return dict(found[0])


def title_and_version(graphic_id: int) -> tuple[str, int]:
    graphic = Graphic.objects.get(pk=graphic_id)
    return graphic.title, graphic.version


async def test_a_late_edit_under_an_expired_lock_never_writes(
    daphne_server: Any, ws_connect: Any, editor: Any, editor2: Any, graphic: Any
) -> None:
    """Editor A's lock expires (A is told: lock_lost `expired`) and editor B takes it and
    edits. A's edits sent afterwards with A's old token, naming the current version or not, as
    fields or as a patch, are all lock_conflict; so is one after A takes the lock again in
    another tab. Only B's edit is in the graphic and in the broadcasts."""
    server = daphne_server(LOCK_SWEEP_INTERVAL_SECONDS=LOCK_SWEEP_INTERVAL_SECONDS)
    tab_a = await ws_connect(server, editor)
    client_b = await ws_connect(server, editor2)
    for client in (tab_a, client_b):
        await client.ack("subscribe", {"graphic_id": graphic.pk})
    token_a = (await tab_a.ack("lock", {"graphic_id": graphic.pk}))["lock"]["fencing_token"]
    version = graphic.version

    await database_sync_to_async(expire_lock)(graphic)
    lost = await direct_message(tab_a, "lock_lost")
    assert lost["data"]["reason"] == "expired"
    assert lost["data"]["fencing_token"] == token_a

    token_b = (await client_b.ack("lock", {"graphic_id": graphic.pk}))["lock"]["fencing_token"]
    assert token_b > token_a
    await client_b.ack(
        "update",
        {"graphic_id": graphic.pk, "version": version, "fencing_token": token_b, "title": "B"},
    )

    late_edits = [
        {"version": version + 1, "fencing_token": token_a, "title": "A late"},
        {"version": version, "fencing_token": token_a, "title": "A late"},
        {"version": version + 1, "fencing_token": token_a, "patch": {"title": "A late"}},
    ]
    for edit in late_edits:
        reply = await tab_a.request("update", {"graphic_id": graphic.pk, **edit})
        assert reply["type"] == "error", reply
        assert reply["data"]["code"] == "lock_conflict"
        assert reply["data"]["details"]["locked_by"] == "editor2"
    assert (await tab_a.request("lock", {"graphic_id": graphic.pk}))["data"]["code"] == (
        "lock_conflict"
    )

    # B leaves; A takes the lock again in a second tab. The first tab's old token stays dead.
    await client_b.ack("unlock", {"graphic_id": graphic.pk})
    other_tab_a = await ws_connect(server, editor)
    token_a2 = (await other_tab_a.ack("lock", {"graphic_id": graphic.pk}))["lock"]["fencing_token"]
    reply = await tab_a.request(
        "update",
        {"graphic_id": graphic.pk, "version": version + 1, "fencing_token": token_a, "title": "X"},
    )
    assert reply["data"]["code"] == "lock_conflict"
    assert reply["data"]["details"]["fencing_token"] == token_a2

    assert await database_sync_to_async(title_and_version)(graphic.pk) == ("B", version + 1)
    # Once B has A's second lock, every earlier event has reached B: one edit, B's.
    await client_b.next_event(graphic.pk, "lock_status", fencing_token=token_a2)
    updates = client_b.events_of(graphic.pk, "graphic_update")
    assert [event["data"]["user"] for event in updates] == ["editor2"]


@pytest.mark.postgres
@pytest.mark.redis
async def test_the_holders_connections_on_both_servers_are_warned_then_told_of_an_override(
    daphne_server: Any, ws_connect: Any, editor: Any, lock_admin: Any, graphic: Any
) -> None:
    """The editor holds a lock with two connections on server A and one on server B: each gets
    `lock_expiring` from its own server's sweep; then a Lock admin on server B takes the lock
    over (WebSocket lock_override) and all three get `lock_lost` naming the admin and reason."""
    server_a, server_b = daphne_server.many(
        2,
        LOCK_TTL_SECONDS=5,
        LOCK_EXPIRING_NOTICE_SECONDS=4,
        LOCK_SWEEP_INTERVAL_SECONDS=LOCK_SWEEP_INTERVAL_SECONDS,
    )
    holder = [
        await ws_connect(server_a, editor, name="editor@A1"),
        await ws_connect(server_a, editor, name="editor@A2"),
        await ws_connect(server_b, editor, name="editor@B"),
    ]
    admin = await ws_connect(server_b, lock_admin)
    lock = (await holder[0].ack("lock", {"graphic_id": graphic.pk}))["lock"]

    for client in holder:
        expiring = await direct_message(client, "lock_expiring")
        assert expiring["data"]["graphic_id"] == graphic.pk
        assert expiring["data"]["expires_at"] == lock["expires_at"]
        assert expiring["data"]["fencing_token"] == lock["fencing_token"]
    assert not [frame for frame in admin.other if frame["type"] == "lock_expiring"]

    taken = await admin.ack(
        "lock_override",
        {"graphic_id": graphic.pk, "reason": "editor left the desk", "take_over": True},
    )
    assert taken["lock"]["locked_by"] == "lockadmin"

    for client in holder:
        lost = await direct_message(client, "lock_lost")
        assert lost["data"] == {
            "graphic_id": graphic.pk,
            "reason": "overridden",
            "by": {"id": lock_admin.pk, "username": "lockadmin"},
            "note": "editor left the desk",
            "fencing_token": lock["fencing_token"],
        }
    assert not [frame for frame in admin.other if frame["type"] == "lock_lost"]

"""
Deactivating an account closes its WebSockets on every server within seconds, even those that
only listen; other users stay connected.
"""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


async def test_deactivation_closes_the_accounts_sockets_on_every_server(
    daphne_server: Any, ws_connect: Any, viewer: Any, editor: Any, graphic: Any
) -> None:
    first, second = daphne_server.many(2)
    doomed = [
        await ws_connect(first, viewer, name="viewer@first"),
        await ws_connect(second, viewer, name="viewer@second"),
    ]
    bystander = await ws_connect(second, editor, name="editor@second")
    for client in doomed:
        await client.ack("subscribe", {"graphic_id": graphic.pk})

    @database_sync_to_async
    def deactivate() -> None:
        user = type(viewer).objects.get(pk=viewer.pk)
        user.is_active = False
        user.save()

    await deactivate()

    for client in doomed:
        await client.wait_for(lambda client=client: client.closed, what="the close")
        assert client.close_code == 4001
        assert [frame["data"]["code"] for frame in client.other if frame["type"] == "error"] == [
            "account_disabled"
        ]
    assert (await bystander.request("ping"))["type"] == "pong"

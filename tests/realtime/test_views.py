"""The staff connections page (/staff/connections/): every open connection from the registry
(memory, or Redis on the services pass), with counts per user and per server; staff only."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db import connections
from django.test import AsyncClient

from realtime.supervisor import get_supervisor

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

URL = "/staff/connections/"


@pytest.fixture(autouse=True)
async def close_database_thread_connections() -> AsyncIterator[None]:
    """The async view reads the user in the shared database thread; close that connection
    after the test, or PostgreSQL refuses to drop the test database."""
    yield
    await database_sync_to_async(connections.close_all)()


async def test_staff_see_every_connection_with_counts_per_user_and_server(
    ws_connect: Callable[..., Any], make_user: Any, viewer: Any, editor: Any, db_call: Any
) -> None:
    """Two connections of the viewer and one of the editor show as three rows, counted 2 and 1
    per user and 3 for this server, with their subscriptions once refreshed."""
    staff = await db_call(make_user, "staffer", is_staff=True)
    viewer_tabs = [await ws_connect(viewer), await ws_connect(viewer)]
    editor_tab = await ws_connect(editor)
    await viewer_tabs[0].ack("subscribe", {"graphic_id": "all"})
    await get_supervisor().refresh_registry()
    client = AsyncClient()
    await client.aforce_login(staff)

    response = await client.get(URL)

    assert response.status_code == 200
    context = response.context
    assert context["total"] == 3
    assert context["per_user"] == [
        {"username": "editor", "user_id": editor.pk, "count": 1},
        {"username": "viewer", "user_id": viewer.pk, "count": 2},
    ]
    assert context["per_server"] == [{"server_id": get_supervisor().server_id, "count": 3}]
    ids = {row["connection_id"]: row for row in context["connections"]}
    assert set(ids) == {
        tab.welcome["connection_id"] for tab in [*viewer_tabs, editor_tab] if tab.welcome
    }
    assert viewer_tabs[0].welcome is not None
    assert ids[viewer_tabs[0].welcome["connection_id"]]["subscriptions"] == "all"
    assert response.content.decode().count("<code>") == 3


async def test_users_who_are_not_staff_get_403(make_user: Any, db_call: Any) -> None:
    """A signed-in user without is_staff (even a Lock admin role holder) is forbidden."""
    user = await db_call(make_user, "plain", role="Lock admin")
    client = AsyncClient()
    await client.aforce_login(user)
    assert (await client.get(URL)).status_code == 403


async def test_anonymous_visitors_are_sent_to_log_in() -> None:
    response = await AsyncClient().get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/staff/connections/")

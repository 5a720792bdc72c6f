"""realtime.ops.services.connection_disconnect, called as an admin action or a command would: the
rule (Lock admin or superuser), its domain errors, and the close it sends."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import AnonymousUser
from django.db import connections

from gal_dashboard.errors import NotAuthenticated, NotFound, PermissionDenied, ValidationFailed
from realtime.ops.services import connection_disconnect
from realtime.protocol import CLOSE_BY_STAFF

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture(autouse=True)
async def close_database_thread_connections() -> AsyncIterator[None]:
    yield
    await database_sync_to_async(connections.close_all)()


async def test_a_lock_admin_closes_a_connection_and_gets_its_entry(
    ws_connect: Callable[..., Any], lock_admin: Any, viewer: Any
) -> None:
    victim = await ws_connect(viewer)
    assert victim.welcome is not None

    entry = await connection_disconnect(
        connection_id=victim.welcome["connection_id"], user=lock_admin, reason="  wrong scene  "
    )

    assert (entry.connection_id, entry.username) == (victim.welcome["connection_id"], "viewer")
    error = await victim.receive()
    assert error["data"]["code"] == "disconnected_by_staff"
    assert error["data"]["details"] == {"by": "lockadmin", "reason": "wrong scene"}
    assert (await victim.receive())["code"] == CLOSE_BY_STAFF


@pytest.mark.parametrize(
    ("who", "error"),
    [("anonymous", NotAuthenticated), ("viewer", PermissionDenied), ("editor", PermissionDenied)],
)
async def test_only_lock_admins_and_superusers_may(
    who: str,
    error: type[Exception],
    ws_connect: Callable[..., Any],
    viewer: Any,
    editor: Any,
) -> None:
    victim = await ws_connect(viewer)
    assert victim.welcome is not None
    user = {"anonymous": AnonymousUser(), "viewer": viewer, "editor": editor}[who]

    with pytest.raises(error):
        await connection_disconnect(connection_id=victim.welcome["connection_id"], user=user)

    await victim.no_event(within=0.3)


@pytest.mark.parametrize("connection_id", ["0" * 32, "", "../../etc", 42, None])
async def test_an_id_of_no_open_connection_is_not_found(connection_id: Any, superuser: Any) -> None:
    with pytest.raises(NotFound):
        await connection_disconnect(connection_id=connection_id, user=superuser)


@pytest.mark.parametrize("reason", ["x" * 501, 7, "nul\x00"])
async def test_a_reason_must_be_text_of_at_most_500_characters(reason: Any, superuser: Any) -> None:
    with pytest.raises(ValidationFailed):
        await connection_disconnect(connection_id="0" * 32, user=superuser, reason=reason)

"""
PostgreSQL briefly unavailable: REST answers 503 `unavailable` and WebSocket requests get an
`error` with code `unavailable` on a connection that stays open; both work again, without a
restart, when the database returns.

The outage is real: the test database stops accepting connections
(`ALTER DATABASE ... ALLOW_CONNECTIONS false`) and the server's sessions are terminated,
which is what a server sees while PostgreSQL restarts or fails over.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
import pytest
from django.db import connection
from psycopg import sql

from tests.e2e.conftest import wait_until_ready

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


# The servers' sessions are told apart from the test's own by their application name
# (libpq reads PGAPPNAME), so only theirs are cut.
SERVER_APPLICATION_NAME = "gal-e2e-outage"


def _admin_connection() -> psycopg.Connection[Any]:
    """A session on the maintenance database: it outlives the outage of the test database."""
    database = connection.settings_dict
    return psycopg.connect(
        host=database["HOST"] or None,
        port=database["PORT"] or None,
        user=database["USER"] or None,
        password=database["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )


def _allow_connections(allowed: bool) -> None:
    name = connection.settings_dict["NAME"]
    with _admin_connection() as admin:
        admin.execute(
            sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS {}").format(
                sql.Identifier(name), sql.SQL("true" if allowed else "false")
            )
        )
        if not allowed:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND application_name = %s",
                [name, SERVER_APPLICATION_NAME],
            )


@asynccontextmanager
async def database_outage() -> AsyncIterator[None]:
    await asyncio.to_thread(_allow_connections, False)
    try:
        yield
    finally:
        await asyncio.to_thread(_allow_connections, True)


async def test_rest_and_websocket_report_unavailable_then_recover(
    daphne_server: Any,
    ws_connect: Any,
    rest_client: Any,
    editor: Any,
    graphic: Any,
) -> None:
    # No pool: each request opens its own connection, so the outage is seen at once (with the
    # pool, a request first waits up to 10 s for a connection, then fails the same way).
    server = daphne_server(
        DATABASE_POOL_MAX_SIZE=0,
        PGAPPNAME=SERVER_APPLICATION_NAME,
        BROADCAST_PROBE_INTERVAL_SECONDS=0.2,
    )
    client = await ws_connect(server, editor)
    api = rest_client(server, editor)
    assert (await api.call("GET", f"/api/graphics/{graphic.pk}/")).status == 200
    await wait_until_ready(api)

    async with database_outage():
        response = await api.call("GET", f"/api/graphics/{graphic.pk}/")
        assert response.status == 503, response.body
        assert response.body["error"]["code"] == "unavailable"
        # Alive, but not ready: a load balancer takes it out of rotation without restarting it.
        assert (await api.call("GET", "/healthz")).status == 200
        readiness = await api.call("GET", "/readyz")
        assert readiness.status == 503, readiness.body
        assert readiness.body["checks"]["database"]["ok"] is False
        assert readiness.body["checks"]["event_log"]["ok"] is False

        reply = await client.request("subscribe", {"graphic_id": graphic.pk})
        assert reply["type"] == "error", reply
        assert reply["data"]["code"] == "unavailable"
        # The heartbeat needs no database and the connection is still open.
        assert (await client.request("ping"))["type"] == "pong"
        assert not client.closed

    assert (await api.call("GET", "/readyz")).status == 200
    snapshot = await client.ack("subscribe", {"graphic_id": graphic.pk})
    assert snapshot["graphic"]["id"] == graphic.pk
    response = await api.call("GET", f"/api/graphics/{graphic.pk}/")
    assert response.status == 200, response.body

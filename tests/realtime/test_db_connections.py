"""
realtime.db: the thread that WebSocket handlers, the hub and the lock timers share keeps its
database connection between calls (opening a SQLite connection per call was a quarter of the
server's CPU per update), while calls within a request keep Channels' rule and close it, and a
connection that is too old, or that the database cut, is replaced.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.contrib.auth import get_user_model
from django.db import connection

from realtime.db import database_sync_to_async

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def query_and_return_connection() -> Any:
    """Run a real query, then return the DB-API connection it ran on."""
    get_user_model().objects.count()
    return connection.connection


def connection_left_open() -> Any:
    """The connection the previous call of this thread left behind (None: it was closed)."""
    return connection.connection


async def test_websocket_calls_reuse_one_connection() -> None:
    first = await database_sync_to_async(query_and_return_connection)()
    second = await database_sync_to_async(query_and_return_connection)()
    assert first is not None
    assert second is first
    assert await database_sync_to_async(connection_left_open)() is first


async def test_with_ws_db_conn_max_age_0_each_call_opens_its_own(settings: Any) -> None:
    settings.WS_DB_CONN_MAX_AGE = 0
    first = await database_sync_to_async(query_and_return_connection)()
    assert await database_sync_to_async(connection_left_open)() is None
    second = await database_sync_to_async(query_and_return_connection)()
    assert second is not first


async def test_calls_within_a_request_close_their_connection() -> None:
    """Django serves each ASGI request from a thread of its own: a connection kept there would
    never be reused, so an async view's calls close theirs as Channels does."""
    async with ThreadSensitiveContext():
        opened = await database_sync_to_async(query_and_return_connection)()
        assert opened is not None
        assert await database_sync_to_async(connection_left_open)() is None


async def test_a_kept_connection_is_replaced_after_ws_db_conn_max_age(settings: Any) -> None:
    settings.WS_DB_CONN_MAX_AGE = 1
    first = await database_sync_to_async(query_and_return_connection)()
    assert await database_sync_to_async(query_and_return_connection)() is first
    await asyncio.sleep(1.1)
    assert await database_sync_to_async(query_and_return_connection)() is not first


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def terminate_backend(pid: int) -> None:
    """What a database restart does to a connection, from another connection."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        connection.close()


@pytest.mark.postgres
async def test_a_kept_connection_the_database_cut_is_replaced_before_the_next_call() -> None:
    first = await database_sync_to_async(backend_pid)()
    assert await database_sync_to_async(backend_pid)() == first  # kept
    await sync_to_async(terminate_backend, thread_sensitive=False)(first)
    # CONN_HEALTH_CHECKS: the next call finds the connection dead and opens another, rather
    # than failing the request of whoever came first after the restart.
    second = await database_sync_to_async(backend_pid)()
    assert second != first

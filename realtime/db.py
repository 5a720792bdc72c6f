"""
`database_sync_to_async` for the realtime side: Channels' version, except that the thread all
WebSocket work shares keeps its database connection between calls.

Channels' `database_sync_to_async` closes the thread's connection after every call unless
CONN_MAX_AGE says otherwise, and CONN_MAX_AGE stays 0 here: Django serves each ASGI request
from a thread of its own, so a connection kept per thread is never reused and they pile up
(docs/performance.md, "Database connections"). WebSocket handlers, the hub and the lock timers
run outside any request, in the one thread that asgiref keeps for thread-sensitive calls. Opening
and closing a SQLite connection for each of their calls was about a quarter of the server's CPU
per update (issue 17). That thread is one per process, so keeping its connection costs one
connection (or one PostgreSQL pool slot) per process.

A kept connection is still closed when it fails (Django's usual check after an error) and after
WS_DB_CONN_MAX_AGE seconds, so a database restart or a failover is picked up; 0 turns this off.
Calls made within a request (an async view's `database_sync_to_async`) keep Channels' rule.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from asgiref.sync import SyncToAsync
from django.conf import settings
from django.db import close_old_connections, connections

# alias -> the DB-API connection this thread decided to keep, so that a new one (after a close)
# gets its own lifetime rather than the old one's.
_kept = threading.local()
T = TypeVar("T")


def keep_thread_connections(max_age: float) -> None:
    """Let this thread's open connections live `max_age` seconds from when they opened, where
    CONN_MAX_AGE would close them at once. Runs in the thread that used them."""
    kept: dict[str, Any] = _kept.__dict__.setdefault("by_alias", {})
    for connection in connections.all(initialized_only=True):
        raw = connection.connection
        if raw is None or connection.settings_dict.get("CONN_MAX_AGE") != 0:
            continue
        if kept.get(connection.alias) is not raw:
            kept[connection.alias] = raw
            connection.close_at = time.monotonic() + max_age


def database_sync_to_async(func: Callable[..., T]) -> Callable[..., Awaitable[T]]:
    """`await database_sync_to_async(func)(*args)`: `func` in asgiref's thread-sensitive thread,
    with Channels' connection cleanup around it; outside a request, that thread's connection is
    kept (module docstring)."""

    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> T:
        # Runs in the thread, in a copy of the caller's context: a request's context says so.
        max_age = settings.WS_DB_CONN_MAX_AGE
        keep = max_age > 0 and SyncToAsync.thread_sensitive_context.get(None) is None
        close_old_connections()  # the failed and the expired ones
        try:
            return func(*args, **kwargs)
        finally:
            if keep:
                keep_thread_connections(max_age)
            close_old_connections()

    return SyncToAsync(run, thread_sensitive=True)

"""
Staff pages of the real-time side: the connection registry (/staff/connections/).

A thin edge: check the visitor is staff, read the registry (`realtime.registry`), count, render.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from realtime.registry import ConnectionEntry, open_registry


def _when(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)


def connection_rows(entries: list[ConnectionEntry]) -> list[dict[str, object]]:
    return [
        {
            "connection_id": entry.connection_id,
            "username": entry.username,
            "user_id": entry.user_id,
            "server_id": entry.server_id,
            "remote_address": entry.remote_address,
            "connected_at": _when(entry.connected_at),
            "last_seen": _when(entry.last_seen),
            "subscriptions": ", ".join(str(key) for key in entry.subscriptions),
        }
        for entry in sorted(entries, key=lambda entry: (entry.username, entry.connected_at))
    ]


async def connections(request: HttpRequest) -> HttpResponse:
    """Every open WebSocket connection on every server, with counts per user and per server.
    Staff only: anonymous visitors go to the login page, other users get 403."""
    user = await request.auser()
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not (user.is_active and user.is_staff):
        raise PermissionDenied("Staff only.")
    async with open_registry() as registry:
        entries = await registry.entries()
    per_user = Counter((entry.username, entry.user_id) for entry in entries)
    per_server = Counter(entry.server_id for entry in entries)
    return render(
        request,
        "staff/connections.html",
        {
            "total": len(entries),
            "per_user": [
                {"username": username, "user_id": user_id, "count": count}
                for (username, user_id), count in sorted(per_user.items())
            ],
            "per_server": [
                {"server_id": server, "count": count}
                for server, count in sorted(per_server.items())
            ],
            "connections": connection_rows(entries),
        },
    )

"""
Staff pages of the real-time side: the connection registry and recent errors
(/staff/connections/), and disconnecting one connection from there.

Thin edges: check the visitor is staff, read the registry (`realtime.ops.registry`) and the recent
errors (`realtime.ops.recent_errors`), or call one service (`realtime.ops.services`), then render or
redirect.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from gal_dashboard.access import OVERRIDE_LOCK
from gal_dashboard.errors import DomainError, NotAuthenticated
from gal_dashboard.errors import PermissionDenied as DomainPermissionDenied
from realtime.db import database_sync_to_async
from realtime.ops.recent_errors import CLOSE, RecentError, open_recent_errors, recent_errors_max
from realtime.ops.registry import ConnectionEntry, open_registry
from realtime.ops.services import connection_disconnect

logger = logging.getLogger(__name__)


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


def recent_error_rows(entries: list[RecentError]) -> list[dict[str, object]]:
    """Newest first, as the store keeps them."""
    return [
        {
            "at": _when(entry.at),
            "server_id": entry.server_id,
            "connection_id": entry.connection_id,
            "username": entry.username,
            "user_id": entry.user_id,
            "remote_address": entry.remote_address,
            "kind": entry.kind,
            "code": entry.code,
            # An error names its code; a close its number, so the two cannot be confused.
            "what": f"close {entry.code}" if entry.kind == CLOSE else entry.code,
            "request_type": entry.request_type,
        }
        for entry in entries
    ]


def _require_staff(user: Any) -> None:
    """403 for a signed-in user who is not active staff."""
    if not (user.is_active and user.is_staff):
        raise PermissionDenied("Staff only.")


async def connections(request: HttpRequest) -> HttpResponse:
    """Every open WebSocket connection on every server, with counts per user and per server,
    and the recent errors of every server. Staff only: anonymous visitors go to the login page,
    other users get 403. Lock admins and superusers also get a Disconnect button per
    connection."""
    user = await request.auser()
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    _require_staff(user)
    registry_readable = True
    try:
        async with open_registry() as registry:
            entries = await registry.entries()
    except Exception:
        # Redis down: say so (503) rather than fail; the recent errors may still be there.
        logger.warning("could not read the connection registry", exc_info=True)
        registry_readable = False
        entries = []
    try:
        async with open_recent_errors() as store:
            recent: list[RecentError] | None = await store.latest()
    except Exception:
        # The page is most needed when things go wrong: without the list, it still shows
        # the connections.
        logger.warning("could not read the recent errors", exc_info=True)
        recent = None
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
            "can_disconnect": await database_sync_to_async(user.has_perm)(OVERRIDE_LOCK),
            "recent_errors": None if recent is None else recent_error_rows(recent),
            "recent_errors_max": recent_errors_max(),
            "registry_readable": registry_readable,
        },
        status=200 if registry_readable else 503,
    )


def _error_text(error: DomainError) -> str:
    fields = [
        f"{field}: {message}"
        for field, field_messages in error.details.items()
        if isinstance(field_messages, list)
        for message in field_messages
    ]
    return "; ".join(fields) or error.message


@require_POST
async def connection_disconnect_view(request: HttpRequest, connection_id: str) -> HttpResponse:
    """Close one connection on whichever server holds it (`connection_disconnect`), then go
    back to the page with a message saying what happened. Staff with the Lock admin role, or
    superusers: other staff get 403, like everyone who is not staff; anonymous visitors go to
    the login page."""
    page = reverse("staff-connections")
    user = await request.auser()
    if not user.is_authenticated:
        return redirect_to_login(page)
    _require_staff(user)
    try:
        entry = await connection_disconnect(
            connection_id=connection_id, user=user, reason=request.POST.get("reason", "")
        )
    except (NotAuthenticated, DomainPermissionDenied):
        raise PermissionDenied("Only Lock admins and superusers may disconnect.") from None
    except DomainError as error:
        messages.error(request, f"Not disconnected: {_error_text(error)}")
    else:
        messages.success(
            request,
            f"Disconnected {entry.username}'s connection {entry.connection_id} "
            f"on {entry.server_id}.",
        )
    return redirect(page)

"""
Writes of the real-time side that are neither graphics nor locks: closing a connection on staff's
request. A service like those of graphics/ and locks/: keyword-only arguments, the acting user,
the domain errors of gal_dashboard.errors, so that the staff page, an admin action or a
management command would share the rule.
"""

from __future__ import annotations

import re
from typing import Any

from gal_dashboard.access import OVERRIDE_LOCK, require_permission
from gal_dashboard.errors import NotFound, Unavailable
from locks.services import check_reason
from realtime.db import database_sync_to_async
from realtime.delivery.events import send_hub_command
from realtime.ops import observability
from realtime.ops.registry import ConnectionEntry, open_registry
from realtime.protocol import CLOSE_BY_STAFF

# What the consumer gives every connection: uuid4().hex.
CONNECTION_ID_PATTERN = re.compile(r"[0-9a-f]{32}")


def disconnect_message(*, staff_username: str, reason: str) -> str:
    """What the closed connection's user reads in the `error` frame."""
    because = f' (reason: "{reason}")' if reason else ""
    return f"Disconnected by staff member {staff_username}{because}. You may reconnect."


async def connection_disconnect(
    *, connection_id: Any, user: Any, reason: Any = ""
) -> ConnectionEntry:
    """Close one open WebSocket connection, on whichever server holds it: the client gets
    `error` `disconnected_by_staff` (naming `user` and the reason, also in `details`) and close
    4002, after which it may reconnect. Returns the connection's registry entry.

    For Lock admins and superusers (the lock override permission): NotAuthenticated or
    PermissionDenied otherwise. `reason` is optional text of at most 500 characters
    (ValidationFailed). NotFound when no open connection has this id; Unavailable when the
    close cannot be sent to the servers (the channel layer is down)."""
    await database_sync_to_async(require_permission)(user, OVERRIDE_LOCK)
    reason = check_reason(reason)
    entry: ConnectionEntry | None = None
    if isinstance(connection_id, str) and CONNECTION_ID_PATTERN.fullmatch(connection_id):
        try:
            async with open_registry() as registry:
                entry = await registry.entry(connection_id)
        except Exception as exc:
            raise Unavailable(
                "The connection registry could not be read; try again shortly."
            ) from exc
    if entry is None:
        raise NotFound("No open connection has this id; it may have closed already.")
    staff_username = user.get_username()
    try:
        await send_hub_command(
            {
                "command": "close",
                "connection_id": entry.connection_id,
                "code": CLOSE_BY_STAFF,
                "error": "disconnected_by_staff",
                "message": disconnect_message(staff_username=staff_username, reason=reason),
                "details": {"by": staff_username, "reason": reason},
            }
        )
    except Exception as exc:
        raise Unavailable(
            "The servers could not be reached to close the connection; try again shortly."
        ) from exc
    observability.connection_disconnected_by_staff(
        connection_id=entry.connection_id,
        username=entry.username,
        user_id=entry.user_id,
        server=entry.server_id,
        staff=user,
        reason=reason,
    )
    return entry

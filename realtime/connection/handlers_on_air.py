"""
The WebSocket's on-air messages (issue 16): `take`, `clear` and `set_live`, one function each.

Each is an edge like the consumer's other handlers: it checks the message's fields, calls one
service of graphics.on_air in the database thread and answers `{"graphic": payload}`, the staff
payload with the on-air fields, as `update` does. They take the connection (anything with the
acting `user`, the consumer or a session object) and the parsed message, so that a handler
table can hold them whatever shape the consumer has. View keys never reach them: a view-key
connection may only subscribe, unsubscribe and ping.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from channels.db import database_sync_to_async

from gal_dashboard.errors import ValidationFailed
from graphics.models import Graphic
from graphics.on_air import graphic_clear, graphic_set_live, graphic_take
from graphics.serialization import graphic_payload
from realtime.protocol import ClientMessage


class Actor(Protocol):
    """Who sends the message: the consumer (or a session object) with its current user."""

    user: Any


def _only(message: ClientMessage, allowed: set[str]) -> None:
    unknown = set(message.data) - allowed
    if unknown:
        raise ValidationFailed(details={key: ["Unknown field."] for key in sorted(unknown)})


def _reply(service: Callable[..., Graphic], **arguments: Any) -> dict[str, Any]:
    """`{"graphic": payload}` after the service. Runs in the database thread (the payload reads
    rows, which the ORM refuses to do on the event loop)."""
    return {"graphic": graphic_payload(service(**arguments))}


async def handle_take(actor: Actor, message: ClientMessage) -> dict[str, Any]:
    """{"type": "take", "data": {"graphic_id", "expected_version", "reason"?}}"""
    _only(message, {"graphic_id", "expected_version", "reason"})
    return await database_sync_to_async(_reply)(
        graphic_take,
        user=actor.user,
        graphic_id=message.data.get("graphic_id"),
        expected_version=message.data.get("expected_version"),
        reason=message.data.get("reason", ""),
    )


async def handle_clear(actor: Actor, message: ClientMessage) -> dict[str, Any]:
    """{"type": "clear", "data": {"graphic_id", "reason"?}}"""
    _only(message, {"graphic_id", "reason"})
    return await database_sync_to_async(_reply)(
        graphic_clear,
        user=actor.user,
        graphic_id=message.data.get("graphic_id"),
        reason=message.data.get("reason", ""),
    )


async def handle_set_live(actor: Actor, message: ClientMessage) -> dict[str, Any]:
    """{"type": "set_live", "data": {"graphic_id", "live", "expected_version"?, "reason"?}}"""
    _only(message, {"graphic_id", "live", "expected_version", "reason"})
    return await database_sync_to_async(_reply)(
        graphic_set_live,
        user=actor.user,
        graphic_id=message.data.get("graphic_id"),
        live=message.data.get("live"),
        expected_version=message.data.get("expected_version"),
        reason=message.data.get("reason", ""),
    )


# The message types and their handlers, for the consumer's handler table.
ON_AIR_HANDLERS = {
    "take": handle_take,
    "clear": handle_clear,
    "set_live": handle_set_live,
}

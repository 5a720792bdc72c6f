"""
What the hub (realtime.delivery.hub) and its helpers (realtime.delivery.groups,
realtime.delivery.commands) need of a connection: `HubMember`, which a session
(realtime.connection.session.ConnectionSession) is. It includes what the lock notices
(NoticeRecipient) and the broadcast probe (NoticeTarget) take from the hub's members. Its own
module, so that the hub's helpers can name it without importing the hub.
"""

from __future__ import annotations

from typing import Any, Protocol

from realtime.delivery.broadcast_probe import NoticeTarget
from realtime.delivery.frames import SubscriptionKey
from realtime.delivery.lock_notices import NoticeRecipient


class HubMember(NoticeRecipient, NoticeTarget, Protocol):
    """A connection the hub delivers to: a session (realtime.connection.session.ConnectionSession).
    It is also what the lock notices (NoticeRecipient: connection_id, user_id, send_direct) and the
    broadcast probe (NoticeTarget: hub_command) take from the hub's members."""

    token_family: str | None
    session_digest: str | None  # a connection opened with a session (realtime.connection.auth)
    view_key_id: int | None  # a connection opened with an overlay view key
    view_key_graphic_id: int | None  # the graphic that key reads

    def deliver(self, key: SubscriptionKey, seq: int, message: dict[str, Any]) -> None:
        """Take an event's ASGI send message; must not block (see realtime.connection.outbox)."""

    def deliver_ephemeral(self, key: SubscriptionKey, message: dict[str, Any]) -> None:
        """Take a frame without a seq (presence, realtime.presence.tracker); must not block."""

    async def close_revoked_view_key(self) -> None:
        """Close a view-key connection whose key no longer works (its graphic was deleted)."""

"""
Lock lifecycle notices: direct messages to a lock's holder, on every one of their connections,
as opposed to the `lock_status` events that every subscriber of the graphic and of "all" gets.

- `lock_lost`: the holder's lock was overridden by a Lock admin, or ran out (expired). Every
  server's hub sees every `lock_status` event once (realtime.delivery.hub), so each tells its own
  connections of the previous holder while it fans the event out: no message between servers.
  Only that live fan-out sends it; a client resuming with `last_seq` gets the `lock_status`
  events it missed, never a `lock_lost` for them (it was told, or its connection was gone).
- `lock_expiring`: the holder's lock runs out within LOCK_EXPIRING_NOTICE_SECONDS. Each hub's
  lock sweep (realtime.delivery.housekeeping) asks, in one query per tick, for the locks of the
users
  connected to its own process that expire within the window, and tells each connection once
  per lock term; a refresh moves `expires_at` and so re-arms the notice.

See docs/protocol.md ("Lock notices") for what clients do with them.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Any, Protocol

from django.conf import settings

from gal_dashboard.timestamps import iso_timestamp
from locks.models import CanvasLock, LockAction
from locks.selectors import locks_expiring_within
from realtime.db import database_sync_to_async
from realtime.protocol import encode_frame

logger = logging.getLogger(__name__)

# lock_status reasons after which the previous holder can no longer write under its token.
LOST_REASONS = frozenset({LockAction.OVERRIDDEN.value, LockAction.EXPIRED.value})


class NoticeRecipient(Protocol):
    connection_id: str
    user_id: int | None

    def send_direct(self, message: dict[str, Any]) -> None:
        """Queue an ASGI send message outside any subscription; must not block."""


def lock_lost_notice(lock_status: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
    """For a `lock_status` event's data: (the user who lost the lock, the `lock_lost` ASGI send
    message), or None when the change took no lock from anyone (acquire, refresh, release, or
    a holder whose account is gone)."""
    holder_id = lock_status.get("previous_holder_id")
    reason = lock_status.get("reason")
    if holder_id is None or reason not in LOST_REASONS:
        return None
    actor_id = lock_status.get("actor_id")
    by = (
        {"id": actor_id, "username": lock_status.get("actor")}
        if reason == LockAction.OVERRIDDEN and actor_id is not None
        else None
    )
    frame = encode_frame(
        "lock_lost",
        {
            "graphic_id": lock_status["graphic_id"],
            "reason": reason,
            "by": by,
            "note": lock_status.get("note", ""),
            "fencing_token": lock_status.get("previous_fencing_token"),
        },
    )
    return holder_id, {"type": "websocket.send", "text": frame}


def lock_expiring_message(lock: CanvasLock) -> dict[str, Any]:
    frame = encode_frame(
        "lock_expiring",
        {
            "graphic_id": lock.graphic_id,
            "expires_at": iso_timestamp(lock.expires_at),
            "seconds_left": lock.seconds_left,
            "fencing_token": lock.fencing_token,
        },
    )
    return {"type": "websocket.send", "text": frame}


# (connection id, graphic id, fencing token, expires_at): one connection told of one lock term
# as it stands after its last refresh.
_Told = tuple[str, int, int, str]


class LockExpiringNotices:
    """One per hub: which of its connections were told of which lock running out."""

    def __init__(self) -> None:
        self._told: set[_Told] = set()

    async def send_due(self, members: Iterable[NoticeRecipient]) -> int:
        """Tell the connections in `members` of their users' locks that run out within
        LOCK_EXPIRING_NOTICE_SECONDS, each once; return how many notices were sent."""
        window = settings.LOCK_EXPIRING_NOTICE_SECONDS
        by_user: dict[int, list[NoticeRecipient]] = defaultdict(list)
        for member in members:
            if member.user_id is not None:
                by_user[member.user_id].append(member)
        if window <= 0 or not by_user:
            self._told.clear()
            return 0
        locks = await database_sync_to_async(locks_expiring_within)(
            seconds=window, holder_ids=list(by_user)
        )
        # Only what is still due is remembered: a lock refreshed out of the window, expired or
        # released, and a connection that left, are forgotten, so the set stays this small.
        still_due: set[_Told] = set()
        sent = 0
        for lock in locks:
            message: dict[str, Any] | None = None
            term = (lock.graphic_id, int(lock.fencing_token), lock.expires_at.isoformat())
            for member in by_user.get(lock.holder_id, []):
                told: _Told = (member.connection_id, *term)
                still_due.add(told)
                if told in self._told:
                    continue
                if message is None:
                    message = lock_expiring_message(lock)
                try:
                    member.send_direct(message)
                    sent += 1
                except Exception:
                    logger.exception("lock_expiring to connection %s failed", member.connection_id)
        self._told = still_due
        return sent

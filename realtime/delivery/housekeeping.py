"""
Lock housekeeping: the lock-expiry sweep and the notices to a lock's holder.

One `LockHousekeeping` per hub (realtime.delivery.hub), its loop started and stopped with the hub.
Every LOCK_SWEEP_INTERVAL_SECONDS it expires locks past `expires_at` (the database decides which
server records each expiry), so expiry is broadcast within seconds with no user action, and
warns the holders connected here of locks about to run out (`lock_expiring`). When the hub fans
out a `lock_status` that took a lock from its holder, it has this tell that holder's connections
here (`lock_lost`). The notices themselves are built in realtime.delivery.lock_notices.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings

from locks.services import lock_expire_due
from realtime.db import database_sync_to_async
from realtime.delivery.lock_notices import LockExpiringNotices, NoticeRecipient, lock_lost_notice

logger = logging.getLogger(__name__)


class LockHousekeeping:
    """One per hub: `run` is the sweep loop; `tell_lock_lost` is called from the fan-out."""

    def __init__(self, *, members: Callable[[], Iterable[NoticeRecipient]]) -> None:
        self._members = members
        self.lock_expiring_notices = LockExpiringNotices()

    async def run(self) -> None:
        """Sweep every LOCK_SWEEP_INTERVAL_SECONDS, until cancelled."""
        while True:
            await asyncio.sleep(settings.LOCK_SWEEP_INTERVAL_SECONDS)
            try:
                await database_sync_to_async(lock_expire_due)()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("expiring locks failed; retrying", exc_info=True)
            try:
                await self.lock_expiring_notices.send_due(list(self._members()))
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("sending lock_expiring notices failed; retrying", exc_info=True)

    def tell_lock_lost(self, lock_status: dict[str, Any]) -> None:
        """`lock_lost` to this process's connections of a holder whose lock was overridden or
        expired, after the event itself (realtime.delivery.lock_notices)."""
        notice = lock_lost_notice(lock_status)
        if notice is None:
            return
        holder_id, message = notice
        for member in [m for m in self._members() if m.user_id == holder_id]:
            try:
                member.send_direct(message)
            except Exception:
                logger.exception("lock_lost to connection %s failed", member.connection_id)

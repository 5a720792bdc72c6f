"""
A lock left alone expires on its own: with two servers sweeping the same database, the expiry
is recorded once and broadcast to the subscribers of both within 5 s of `expires_at`.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from typing import Any

import pytest
from channels.db import database_sync_to_async

from locks.models import LockAction, LockEvent
from realtime.models import Event, EventType
from tests.e2e.conftest import NetworkClient

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

LOCK_TTL_SECONDS = 2
LOCK_SWEEP_INTERVAL_SECONDS = 0.5
# What the design promises between `expires_at` and the broadcast reaching a client.
EXPIRY_BROADCAST_DEADLINE_SECONDS = 5.0


def expiry_records(graphic_id: int) -> tuple[int, int]:
    """(expired rows in the lock audit, expired lock_status rows in the event log)."""
    audit = LockEvent.objects.filter(graphic_ref=graphic_id, action=LockAction.EXPIRED).count()
    logged = Event.objects.filter(
        graphic_id=graphic_id, type=EventType.LOCK_STATUS, data__reason=LockAction.EXPIRED
    ).count()
    return audit, logged


async def expired_event_arrival(client: NetworkClient, graphic_id: int, timeout: float) -> float:
    """The time (UNIX seconds) at which `client` had the expiry event."""
    await client.next_event(graphic_id, "lock_status", reason="expired", timeout=timeout)
    return time.time()


async def test_an_abandoned_lock_expires_once_and_both_servers_broadcast_it(
    daphne_server: Any, ws_connect: Any, editor: Any, viewer: Any, graphic: Any
) -> None:
    """A lock acquired on server 1 and never refreshed is broadcast as lock_status `expired`
    to subscribers on both servers within 5 s of its expires_at, once each; the audit and the
    event log hold exactly one expiry, although both servers sweep."""
    server1, server2 = daphne_server.many(
        2,
        LOCK_TTL_SECONDS=LOCK_TTL_SECONDS,
        LOCK_SWEEP_INTERVAL_SECONDS=LOCK_SWEEP_INTERVAL_SECONDS,
    )
    holder = await ws_connect(server1, editor)
    watchers = [await ws_connect(server1, viewer), await ws_connect(server2, viewer)]
    for client in watchers:
        await client.ack("subscribe", {"graphic_id": graphic.pk})

    lock = (await holder.ack("lock", {"graphic_id": graphic.pk}))["lock"]
    expires_at = datetime.fromisoformat(lock["expires_at"]).timestamp()
    # The server's TTL, not the test process's default of five minutes.
    assert expires_at - time.time() <= LOCK_TTL_SECONDS

    timeout = expires_at - time.time() + EXPIRY_BROADCAST_DEADLINE_SECONDS
    arrivals = await asyncio.gather(
        *(expired_event_arrival(client, graphic.pk, timeout) for client in watchers)
    )
    for arrival in arrivals:
        assert arrival - expires_at <= EXPIRY_BROADCAST_DEADLINE_SECONDS

    # Several more sweeps on each server: none may expire the lock a second time.
    await asyncio.sleep(3 * LOCK_SWEEP_INTERVAL_SECONDS)
    for client in watchers:
        expired = client.events_of(graphic.pk, "lock_status", reason="expired")
        assert len(expired) == 1, client.event_outline()
        assert expired[0]["data"]["locked"] is False
        assert expired[0]["data"]["previous_holder"] == "editor"
        assert expired[0]["data"]["actor"] is None
    assert watchers[0].events_of(graphic.pk) == watchers[1].events_of(graphic.pk)
    assert await database_sync_to_async(expiry_records)(graphic.pk) == (1, 1)

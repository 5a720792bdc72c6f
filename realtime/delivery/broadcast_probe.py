"""
The broadcast probe: whether this process's hub still hears the channel layer.

One `BroadcastProbe` per hub (realtime.delivery.hub). Every BROADCAST_PROBE_INTERVAL_SECONDS it
sends a message through the channel layer to the hub group and waits for it to come back. When it
does not (Redis is away), the hub's connections get a `notice` (`broadcast_degraded`) and keep
receiving every event from the log, at the poll interval; when it comes back, the hub reads the
log at once and they get `broadcast_restored`. Readiness (`GET /readyz`) asks it whether the
channel layer answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

from django.conf import settings

from realtime.delivery.events import HUB_GROUP
from realtime.ops.redis_outage import redis_outage

logger = logging.getLogger(__name__)


class NoticeTarget(Protocol):
    """A connection told of broadcast health (realtime.delivery.member.HubMember)."""

    connection_id: str

    async def hub_command(self, command: dict[str, Any]) -> None: ...


def broadcast_notice(*, degraded: bool) -> str:
    """The `notice` frame that tells clients broadcasting went down or came back."""
    if degraded:
        data = {
            "code": "broadcast_degraded",
            "message": (
                "Live updates are delayed: the server cannot reach its broadcast channel. "
                "Events keep arriving from the event log, a few seconds late."
            ),
            "poll_interval": settings.EVENT_POLL_INTERVAL_SECONDS,
        }
    else:
        data = {"code": "broadcast_restored", "message": "Live updates are back to normal."}
    return json.dumps({"type": "notice", "data": data}, separators=(",", ":"))


class BroadcastProbe:
    """One per hub: `run` is its loop; the hub hands it every `hub.probe` message it hears."""

    def __init__(
        self,
        *,
        catch_up: Callable[[], Awaitable[object]],
        recipients: Callable[[], Iterable[NoticeTarget]],
    ) -> None:
        self._catch_up = catch_up
        self._recipients = recipients
        # Whether the last probe came back through the channel layer.
        self.degraded = False
        # time.monotonic() of the last probe that came back, for readiness checks.
        self.last_ok_at: float | None = None
        self._channel_name: str | None = None
        self._number = 0
        self._returned = asyncio.Event()

    def channel_layer_answers(self) -> bool:
        """Whether a probe came back through the channel layer recently (two probe periods)."""
        if self.last_ok_at is None or self.degraded:
            return False
        period = (
            settings.BROADCAST_PROBE_INTERVAL_SECONDS + settings.BROADCAST_PROBE_TIMEOUT_SECONDS
        )
        return time.monotonic() - self.last_ok_at <= 2 * period

    def heard(self, message: dict[str, Any]) -> None:
        # Every hub hears every probe; only its own latest one counts.
        if message.get("channel") == self._channel_name and message.get("number") == self._number:
            self._returned.set()

    async def run(self, layer: Any, *, channel_name: str) -> None:
        """Probe through `layer` from the hub's channel `channel_name`, until cancelled."""
        self._channel_name = channel_name
        while True:
            await asyncio.sleep(settings.BROADCAST_PROBE_INTERVAL_SECONDS)
            self._number += 1
            self._returned = asyncio.Event()
            started = time.monotonic()
            try:
                async with asyncio.timeout(settings.BROADCAST_PROBE_TIMEOUT_SECONDS):
                    await layer.group_send(
                        HUB_GROUP,
                        {"type": "hub.probe", "channel": channel_name, "number": self._number},
                    )
                    await self._returned.wait()
                healthy = True
                self.last_ok_at = time.monotonic()
                redis_outage.succeeded(started_at=started)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                healthy = False
                if settings.REDIS_URL:  # the layer is Redis: a probe lost is Redis away or slow
                    redis_outage.failed("broadcast_probe", error)
            await self._set_health(healthy=healthy)

    async def _set_health(self, *, healthy: bool) -> None:
        if healthy != self.degraded:
            return
        self.degraded = not healthy
        if healthy:
            logger.warning("the channel layer answers again; broadcasting resumed")
            # Whatever was committed while broadcasts were lost goes out now, not at the next
            # poll, and before the notice: a client that reacts to it is already up to date.
            with contextlib.suppress(Exception):
                await self._catch_up()
        else:
            logger.warning(
                "the channel layer does not answer; delivering from the event log every %s s",
                settings.EVENT_POLL_INTERVAL_SECONDS,
            )
        frame = broadcast_notice(degraded=self.degraded)
        for member in list(self._recipients()):
            try:
                await member.hub_command({"command": "send", "frame": frame})
            except Exception:
                logger.exception("notice to connection %s failed", member.connection_id)

"""
Where one subscription of a connection stands in the event stream: the last seq it delivered,
and what waits while its snapshot or replay is read (realtime.connection.session,
realtime.connection.handlers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Subscription:
    """Where one subscription of this connection stands in the event stream."""

    last_seq: int = 0
    # While the snapshot or the replay is being read, live events wait here (then those after
    # the snapshot's seq, or after the replay, are sent), so nothing is lost or sent twice
    # between the read and the stream. A replay's events are queued here too, ahead of them.
    pending: list[tuple[int, dict[str, Any]]] | None = field(default_factory=list)
    # Presence frames (no seq) that arrived meanwhile: sent after the ack, in arrival order.
    pending_ephemeral: list[dict[str, Any]] = field(default_factory=list)

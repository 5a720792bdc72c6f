"""
How a moment is written on the wire: ISO 8601 in UTC with a `Z` (`2026-01-31T12:00:00.123456Z`),
in REST answers, WebSocket frames and recorded events alike, so a client parses one format.
"""

from __future__ import annotations

from datetime import datetime


def iso_utc(value: datetime) -> str:
    """An aware UTC datetime as ISO 8601 with a Z."""
    return value.isoformat().replace("+00:00", "Z")


def iso_timestamp(value: datetime | None) -> str | None:
    """An aware UTC datetime as ISO 8601 with a Z, or None."""
    return iso_utc(value) if value is not None else None

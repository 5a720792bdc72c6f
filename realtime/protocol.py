"""
The wire format of /ws/graphics, as documented in docs/protocol.md.

Every frame is one JSON object `{"type": str, "data": object, "request_id"?: str}`. This module
parses client frames into `ClientMessage`s (or raises `ProtocolError` with a documented code)
and encodes server frames. It knows nothing about graphics or locks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gal_dashboard.errors import bounded_details, clipped
from gal_dashboard.storable import json_text_problem
from gal_dashboard.timestamps import iso_utc

PROTOCOL_VERSION = 1

# Close codes (RFC 6455 reserves 4000-4999 for applications).
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_MESSAGE_TOO_BIG = 1009
CLOSE_IDLE = 4000  # nothing received for WS_IDLE_TIMEOUT_SECONDS (heartbeats unanswered)
CLOSE_UNAUTHENTICATED = 4001  # log in again: missing, invalid or expired credentials
CLOSE_BY_STAFF = 4002  # a Lock admin closed it from the staff page; reconnecting is allowed
CLOSE_FORBIDDEN = 4003  # authenticated, but not allowed to view graphics
CLOSE_POLICY = 4008  # persistent flooding (rate limit strikes; see realtime.connection.limits)
CLOSE_SLOW_CONSUMER = 4009  # not reading: too far behind; reconnect and resume from last seq
CLOSE_TOO_MANY_CONNECTIONS = 4029  # the user already has WS_MAX_CONNECTIONS_PER_USER open

REQUEST_ID_MAX_LENGTH = 128
# How many unknown top-level keys an `invalid_message` error names.
UNKNOWN_KEYS_NAMED = 20


class ProtocolError(Exception):
    """A frame that is not a well-formed request. `code` is one of the documented error codes."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        request_id: str | None = None,
        details: dict[str, Any] | None = None,
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id
        self.details = details or {}


@dataclass(frozen=True)
class ClientMessage:
    type: str
    data: dict[str, Any]
    request_id: str | None


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; Python's parser accepts them unless told not to.
    raise ValueError(f"{name} is not valid JSON")


def parse_client_frame(text: str) -> ClientMessage:
    """Parse one text frame; raise ProtocolError(invalid_json | invalid_message)."""
    try:
        content = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise ProtocolError("invalid_json", "The frame is not valid JSON.") from None
    if not isinstance(content, dict):
        raise ProtocolError("invalid_message", "A frame must be a JSON object.")
    request_id = content.get("request_id")
    if request_id is not None and (
        not isinstance(request_id, str) or not 0 < len(request_id) <= REQUEST_ID_MAX_LENGTH
    ):
        raise ProtocolError(
            "invalid_message",
            f"request_id must be a string of 1 to {REQUEST_ID_MAX_LENGTH} characters.",
        )
    problem = json_text_problem(content)
    if problem:
        # A `\ud800` escape parses to a string no reply could echo back and no database
        # could store; the frame is refused as a whole, before anything reads it.
        if request_id is not None and json_text_problem(request_id):
            request_id = None
        raise ProtocolError(
            "invalid_message", f"Strings in a frame: {problem}", request_id=request_id
        )
    message_type = content.get("type")
    if not isinstance(message_type, str) or not message_type:
        raise ProtocolError(
            "invalid_message", "A frame needs a string `type`.", request_id=request_id
        )
    data = content.get("data", {})
    if not isinstance(data, dict):
        raise ProtocolError(
            "invalid_message", "`data` must be a JSON object.", request_id=request_id
        )
    unknown_keys = sorted(set(content) - {"type", "data", "request_id"})
    if unknown_keys:
        # A few named, the rest counted: the reply must not grow with the frame (issue 14).
        named = ", ".join(clipped(key) for key in unknown_keys[:UNKNOWN_KEYS_NAMED])
        if len(unknown_keys) > UNKNOWN_KEYS_NAMED:
            named += f" and {len(unknown_keys) - UNKNOWN_KEYS_NAMED} more"
        raise ProtocolError(
            "invalid_message", f"Unknown top-level keys: {named}.", request_id=request_id
        )
    return ClientMessage(type=message_type, data=data, request_id=request_id)


def encode_frame(
    message_type: str, data: dict[str, Any], *, request_id: str | None = None, **extra: Any
) -> str:
    frame: dict[str, Any] = {"type": message_type, "data": data}
    if request_id is not None:
        frame["request_id"] = request_id
    frame.update(extra)
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


def error_data(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "details": bounded_details(details or {})}


def server_time() -> str:
    return iso_utc(datetime.now(UTC))

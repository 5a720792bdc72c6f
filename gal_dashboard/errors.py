"""
Domain errors: the small set of failures every service raises.

REST views turn them into `{"error": {"code", "message", "details"}}` with `http_status`;
the WebSocket consumer sends them as `error` frames with the same `code`. One vocabulary for
every edge, so a client handles a lock conflict the same way wherever it came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

# What one error may name (issue 14: a megabyte of invalid canvas elements made a 50 MB error
# body): the first DETAILS_MAX_FIELDS fields, each name cut to DETAILS_MAX_NAME_LENGTH
# characters (a name can be a client's own key) with at most DETAILS_MAX_MESSAGES messages,
# and a `more` entry, one message counting what was left out. Fifty fields are more than any
# form shows at once; a client that fixes them and sends again learns of the next ones.
DETAILS_MAX_FIELDS = 50
DETAILS_MAX_NAME_LENGTH = 100
DETAILS_MAX_MESSAGES = 10
DETAILS_MORE = "more"


def clipped(text: str, length: int = DETAILS_MAX_NAME_LENGTH) -> str:
    """`text` cut to `length` characters (an ellipsis marking the cut): how an error names
    something a client chose (a key, a message type), so that the error cannot grow with it."""
    return text if len(text) <= length else text[: length - 1] + "\u2026"


def bounded_details(details: Mapping[str, Any], *, omitted: int = 0) -> dict[str, Any]:
    """`details` as clients receive them (every REST error body and WebSocket `error` frame
    passes through here): at most DETAILS_MAX_FIELDS fields, in the order given, and a `more`
    entry, `["<n> more not shown."]`, counting the fields cut here plus `omitted` (errors the
    caller found but did not list). A caller's own `more` entry is kept when nothing is cut."""
    bounded: dict[str, Any] = {}
    for name, value in details.items():
        if name == DETAILS_MORE:
            continue
        if len(bounded) == DETAILS_MAX_FIELDS:
            break
        if isinstance(name, str):
            name = clipped(name)
        if name not in bounded:  # two long names alike are one field here
            bounded[name] = value[:DETAILS_MAX_MESSAGES] if isinstance(value, list) else value
    more = len(details) - (DETAILS_MORE in details) - len(bounded) + omitted
    if more > 0:
        bounded[DETAILS_MORE] = [f"{more} more not shown."]
    elif DETAILS_MORE in details:
        bounded[DETAILS_MORE] = details[DETAILS_MORE]
    return bounded


class DomainError(Exception):
    code: ClassVar[str] = "error"
    http_status: ClassVar[int] = 400
    default_message: ClassVar[str] = "The request failed."

    def __init__(self, message: str | None = None, *, details: dict[str, Any] | None = None):
        self.message = message or self.default_message
        self.details: dict[str, Any] = details or {}
        super().__init__(self.message)

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "details": bounded_details(self.details),
        }


class ValidationFailed(DomainError):
    code = "validation_error"
    http_status = 400
    default_message = "The request has invalid fields."


class NotAuthenticated(DomainError):
    code = "not_authenticated"
    http_status = 401
    default_message = "Authentication is required."


class PermissionDenied(DomainError):
    code = "permission_denied"
    http_status = 403
    default_message = "You do not have permission to do this."


class NotFound(DomainError):
    code = "not_found"
    http_status = 404
    default_message = "Not found."


class LockConflict(DomainError):
    code = "lock_conflict"
    http_status = 409
    default_message = "The graphic's lock is held by someone else."


class VersionConflict(DomainError):
    code = "version_conflict"
    http_status = 409
    default_message = "The graphic has changed since the version you edited."


class StateConflict(DomainError):
    code = "state_conflict"
    http_status = 409
    default_message = "The graphic is not in a state that allows this."


class TooLarge(DomainError):
    code = "too_large"
    http_status = 413
    default_message = "The data is too large."


class TooManyAttempts(DomainError):
    """Too many failed logins for an account or from an address (gal_dashboard.login_throttle);
    `details.retry_after` says in how many seconds to try again."""

    code = "too_many_attempts"
    http_status = 429
    default_message = "Too many failed login attempts; wait before trying again."


class Unavailable(DomainError):
    code = "unavailable"
    http_status = 503
    default_message = "A service the server depends on is unavailable; try again shortly."

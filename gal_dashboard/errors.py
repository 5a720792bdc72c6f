"""
Domain errors: the small set of failures every service raises.

REST views turn them into `{"error": {"code", "message", "details"}}` with `http_status`;
the WebSocket consumer sends them as `error` frames with the same `code`. One vocabulary for
every edge, so a client handles a lock conflict the same way wherever it came from.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    code: ClassVar[str] = "error"
    http_status: ClassVar[int] = 400
    default_message: ClassVar[str] = "The request failed."

    def __init__(self, message: str | None = None, *, details: dict[str, Any] | None = None):
        self.message = message or self.default_message
        self.details: dict[str, Any] = details or {}
        super().__init__(self.message)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


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


class Unavailable(DomainError):
    code = "unavailable"
    http_status = 503
    default_message = "A service the server depends on is unavailable; try again shortly."

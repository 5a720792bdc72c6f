"""
One error shape for every failed API request:

    {"error": {"code": str, "message": str, "details": {...}}}

`api_exception_handler` (DRF's EXCEPTION_HANDLER) puts domain errors, DRF's exceptions, Django's
Http404 and PermissionDenied, and bodies over DATA_UPLOAD_MAX_MEMORY_SIZE into it.
`JSONBodyParser` turns a body nested too deeply into one of these errors rather than a 500.
`api_not_found` answers unknown URLs under /api/ the same way. `ErrorResponse` describes the
shape in the OpenAPI schema.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from gal_dashboard.errors import DomainError, TooLarge, bounded_details

logger = logging.getLogger(__name__)

# Failovers and restarts of PostgreSQL take seconds; asking clients to wait a little spreads
# their retries instead of having them all come back at once.
DATABASE_RETRY_AFTER_SECONDS = 2

# DRF exception -> our code. Checked in order, so subclasses come before their bases.
_CODES: tuple[tuple[type[exceptions.APIException], str], ...] = (
    (exceptions.ParseError, "invalid_json"),
    (exceptions.ValidationError, "validation_error"),
    (exceptions.NotAuthenticated, "not_authenticated"),
    (exceptions.AuthenticationFailed, "not_authenticated"),
    (exceptions.PermissionDenied, "permission_denied"),
    (exceptions.NotFound, "not_found"),
    (exceptions.MethodNotAllowed, "method_not_allowed"),
    (exceptions.NotAcceptable, "not_acceptable"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type"),
    (exceptions.Throttled, "throttled"),
)

_VALIDATION_MESSAGE = "The request has invalid fields."


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": bounded_details(details or {})}}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """The response for an exception raised by an API view, in the one error shape.
    Returns None for anything unexpected, which Django turns into a 500."""
    # Imported here, not at the top: rest_framework.views loads DEFAULT_PARSER_CLASSES when it is
    # imported, and that setting names JSONBodyParser in this module.
    from rest_framework.views import set_rollback

    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        exc = TooLarge(
            f"The request body is over the limit of {limit} bytes.",
            details={"body": [f"Must be at most {limit} bytes."]},
        )
    if isinstance(exc, DomainError):
        response = Response({"error": exc.as_dict()}, status=exc.http_status)
        retry_after = exc.details.get("retry_after")
        if isinstance(retry_after, int):
            response["Retry-After"] = str(retry_after)
    elif isinstance(exc, OperationalError | InterfaceError):
        # The database is away (restarting, failing over, out of connections): a short outage
        # the client should retry, not a bug; the WebSocket answers `unavailable` the same way.
        logger.warning("database unavailable during %s", context.get("view"), exc_info=True)
        response = Response(
            error_body("unavailable", "The database is unavailable; try again shortly."),
            status=503,
        )
        response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    else:
        if isinstance(exc, Http404):
            exc = exceptions.NotFound(*exc.args)
        elif isinstance(exc, DjangoPermissionDenied):
            exc = exceptions.PermissionDenied(*exc.args)
        if not isinstance(exc, exceptions.APIException):
            return None
        response = Response(_describe(exc), status=exc.status_code)
        wait = getattr(exc, "wait", None)  # set by Throttled
        if wait:
            response["Retry-After"] = str(int(wait))
    if response.status_code == 401:
        # RFC 7235 requires the challenge on every 401, including the ones our services raise.
        header = getattr(exc, "auth_header", None) or _authenticate_header(context)
        if header:
            response["WWW-Authenticate"] = header
    set_rollback()
    return response


def _describe(exc: exceptions.APIException) -> dict[str, Any]:
    # An exception of ours may name its own code (realtime.connection.api's view_key_invalid is a
    # 401 like any failed authentication, told apart so the overlay knows its key is the problem).
    code = getattr(exc, "error_code", None) or next(
        (name for exc_class, name in _CODES if isinstance(exc, exc_class)),
        exc.default_code if isinstance(exc.default_code, str) else "error",
    )
    if code == "not_authenticated" and exc.status_code == 403:
        # DRF downgrades a failed authentication to 403 on views that accept no credentials.
        code = "permission_denied"
    detail: Any = exc.detail
    if code == "validation_error":
        if isinstance(detail, dict):
            return error_body(code, _VALIDATION_MESSAGE, dict(detail))
        messages = detail if isinstance(detail, list) else [detail]
        return error_body(code, _VALIDATION_MESSAGE, {"non_field_errors": messages})
    if isinstance(detail, dict):
        # simplejwt's errors: {"detail", "code", "messages": [{"message", ...}]}.
        details: dict[str, Any] = {}
        token_messages = [str(item["message"]) for item in detail.get("messages", [])]
        if token_messages:
            details["token"] = token_messages
        return error_body(code, str(detail.get("detail", exc.default_detail)), details)
    return error_body(code, str(detail))


def _authenticate_header(context: dict[str, Any]) -> str | None:
    view, request = context.get("view"), context.get("request")
    if view is None or request is None:
        return None
    header: str | None = view.get_authenticate_header(request)
    return header


class JSONBodyParser(JSONParser):
    """
    DRF's JSON parser, but a body nested too deeply is a ParseError (400 invalid_json): the json
    module raises RecursionError there, not ValueError, and DRF lets that through as a 500.
    """

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(
                "JSON parse error - the body is nested too deeply."
            ) from None


@csrf_exempt
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """404 in the error shape for any URL under /api/ that names no endpoint."""
    message = f"No API endpoint at {request.path}."
    if not request.path.endswith("/"):
        # APPEND_SLASH cannot redirect here (this catch-all matches), so say what was meant.
        try:
            match = resolve(request.path + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not api_not_found:
            message += f" Did you mean {request.path}/?"
    return JsonResponse(error_body("not_found", message), status=404)


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(
        help_text=(
            "validation_error (400), invalid_json (400), not_authenticated (401), "
            "view_key_invalid (401, GET /api/events/ with ?key=), "
            "permission_denied (403), not_found (404), method_not_allowed (405), "
            "lock_conflict, version_conflict, state_conflict (409), too_large (413), "
            "unsupported_media_type (415), too_many_attempts (429, logging in)."
        )
    )
    message = serializers.CharField(help_text="For people: what went wrong.")
    details = serializers.DictField(
        child=serializers.JSONField(),
        help_text=(
            "For programs. validation_error: field name -> list of messages. lock_conflict: "
            "graphic_id, locked_by, locked_by_id, expires_at. version_conflict: "
            "current_version, your_version. permission_denied: required permissions. "
            "too_many_attempts: retry_after (seconds, also the Retry-After header)."
        ),
    )


class ErrorResponse(serializers.Serializer):
    """Every failed request answers with this body."""

    error = ErrorDetailSerializer()


_STATUS_DESCRIPTIONS = {
    400: "Invalid fields (validation_error) or a malformed JSON body (invalid_json).",
    401: "No credentials, or an invalid or expired token (not_authenticated).",
    403: "The user lacks the permission (permission_denied).",
    404: "No such graphic (not_found).",
    405: "Method not allowed (method_not_allowed).",
    409: "Conflict with the graphic's lock, version or state.",
    413: "The canvas data or the body is too large (too_large).",
    415: "The body is not JSON (unsupported_media_type).",
    429: "Too many failed logins for this account or from this address (too_many_attempts); "
    "try again after Retry-After seconds.",
}


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """OpenAPI responses in the error shape, for `extend_schema(responses=...)`."""
    return {
        status: OpenApiResponse(ErrorResponse, description=_STATUS_DESCRIPTIONS[status])
        for status in statuses
    }

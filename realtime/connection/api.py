"""
GET /api/events/: the polling fallback for clients that cannot hold a WebSocket open.

`?since=<seq>&graphic=<id|all>[&limit=<n>]` answers the events of that subscription after
`since`, as the WebSocket frames' objects, with the `since` of the next poll; or, when `since`
is missing, pruned or unknown, the subscription's snapshot with `"recovered": false`, exactly as
`subscribe` does (`realtime.delivery.replay`). Same authentication as the rest of the API and the
same permission as subscribing: graphics.view_graphic.

An overlay that cannot hold a WebSocket polls with its view key instead: `&key=<view key>`
authenticates this endpoint, and only for the key's own graphic. When `key` is present it alone
decides (a session cookie the browser also sends is not consulted); no other endpoint reads it.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request
from rest_framework.response import Response

from gal_dashboard.api_errors import ErrorResponse, error_responses
from gal_dashboard.api_views import CanViewGraphics, GraphicsAPIView
from gal_dashboard.errors import ValidationFailed
from gal_dashboard.storable import BIGINT_MAX
from graphics.models import GraphicViewKey
from graphics.selectors import view_key_authenticate
from realtime.connection.auth import VIEW_KEY_QUERY_PARAMETER, view_key_out_of_scope
from realtime.delivery.frames import ALL, SubscriptionKey
from realtime.delivery.replay import events_poll

TAG = "events"

# Seqs and graphic ids are 64-bit database ids; a larger number names nothing and would only
# overflow the query.
_ID_MAX = BIGINT_MAX
_DIGITS = re.compile(r"[0-9]{1,19}")


def poll_query(params: Any) -> tuple[SubscriptionKey, int | None, int]:
    """(subscription key, since or None, limit) from the query string, or validation_error
    naming every bad parameter."""
    errors: dict[str, list[str]] = {}

    def whole_number(field: str, minimum: int, maximum: int, what: str) -> int | None:
        """The parameter `field` as a number from `minimum` to `maximum`; None when it is
        missing, or bad (then `what` is its error)."""
        raw = params.get(field)
        if raw is None:
            return None
        if _DIGITS.fullmatch(raw) is None or not minimum <= int(raw) <= maximum:
            errors[field] = [what]
            return None
        return int(raw)

    key: SubscriptionKey = ALL
    graphic = params.get("graphic")
    if graphic is None:
        errors["graphic"] = ['Required: a graphic id or "all".']
    elif graphic != ALL:
        what = 'A graphic id (positive whole number) or "all".'
        key = whole_number("graphic", 1, _ID_MAX, what) or ALL  # None only with an error
    since = whole_number("since", 0, _ID_MAX, "A seq (non-negative whole number).")
    page = settings.EVENT_API_PAGE_SIZE
    limit = whole_number("limit", 1, page, f"A whole number from 1 to {page}.")
    if errors:
        raise ValidationFailed(details=errors)
    return key, since, page if limit is None else limit


class ViewKeyInvalid(exceptions.AuthenticationFailed):
    error_code = "view_key_invalid"  # gal_dashboard.api_errors answers with this code
    default_detail = "The overlay view key is invalid or has been revoked."


class ViewKeyAuthentication(BaseAuthentication):
    """`?key=<view key>`: the request reads as an anonymous user whose `request.auth` is the
    GraphicViewKey. Without the parameter it does nothing (the API's usual authentication
    follows); with one it decides alone, an unknown or revoked key being a 401."""

    def authenticate(self, request: Request) -> tuple[AnonymousUser, GraphicViewKey] | None:
        raw = request.query_params.get(VIEW_KEY_QUERY_PARAMETER)
        if raw is None:
            return None
        view_key = view_key_authenticate(key=raw)
        if view_key is None:
            raise ViewKeyInvalid()
        return AnonymousUser(), view_key


class ViewKeyScheme(OpenApiAuthenticationExtension):
    target_class = ViewKeyAuthentication
    name = "viewKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "apiKey", "in": "query", "name": VIEW_KEY_QUERY_PARAMETER}


class CanPollEvents(CanViewGraphics):
    """A view key may poll (its own graphic: the view checks which, once it has read the
    query); anyone else needs the permission to view graphics."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if isinstance(request.auth, GraphicViewKey):
            return True
        return super().has_permission(request, view)


def check_view_key_scope(view_key: GraphicViewKey, key: SubscriptionKey) -> None:
    """A view key reads its own graphic and nothing else: not another graphic, not "all"."""
    if key != view_key.graphic_id:
        raise view_key_out_of_scope(view_key.graphic_id)


class EventFrameSerializer(serializers.Serializer):
    """An event exactly as the WebSocket sends it (see docs/protocol.md)."""

    type = serializers.ChoiceField(
        choices=[
            "graphic_update",
            "lock_status",
            "standings_update",
            "graphic_take",
            "graphic_clear",
            "graphic_live",
        ]
    )
    subscription = serializers.JSONField(help_text='The graphic id polled, or "all".')
    # Shadows Serializer.data only for type checkers (DRF moves declared fields aside).
    data = serializers.DictField(  # type: ignore[assignment]
        child=serializers.JSONField(),
        help_text=(
            "The event's fields, seq included: the full graphic in `payload` for a graphic, "
            'the summary on "all".'
        ),
    )


class EventPageSerializer(serializers.Serializer):
    graphic = serializers.JSONField(help_text='The graphic id polled, or "all".')
    recovered = serializers.BooleanField(
        help_text=(
            "true: `events` are every event after `since` (up to `limit`). false: `since` was "
            "missing, pruned or unknown; start again from `snapshot`."
        )
    )
    snapshot = serializers.DictField(
        child=serializers.JSONField(),
        required=False,
        help_text="Only when recovered is false: what `subscribe` acknowledges with.",
    )
    events = EventFrameSerializer(many=True)
    next_since = serializers.IntegerField(help_text="The `since` of the next poll.")
    more = serializers.BooleanField(help_text="true: more events wait; poll again at once.")


class EventPollView(GraphicsAPIView):
    permission_classes = [CanPollEvents]

    def get_authenticators(self) -> list[BaseAuthentication]:
        return [ViewKeyAuthentication(), *super().get_authenticators()]

    def get_authenticate_header(self, request: Request) -> str:
        # The challenge of a 401 stays the API's Bearer one (a view key is a query parameter,
        # not an HTTP authentication scheme); DRF would otherwise ask the first authenticator.
        return str(super().get_authenticators()[0].authenticate_header(request))

    @extend_schema(
        tags=[TAG],
        summary="Poll the event stream",
        operation_id="events_poll",
        description=(
            "The polling fallback of the WebSocket: the events of one subscription (a graphic "
            'or "all") after `since`, in seq order, in the same objects the WebSocket sends. '
            "Poll again with `next_since`. Without `since`, or when it is older than the "
            "event log keeps or newer than any seq, the answer is the subscription's snapshot "
            "with recovered false. An overlay may authenticate with its graphic's view key "
            "(`key`) instead, for that graphic only; it then gets what is on air only: no "
            "graphic_update of a draft (its seqs have gaps), and the program as snapshot."
        ),
        parameters=[
            OpenApiParameter(
                "graphic",
                {"type": "string", "pattern": "^(all|[1-9][0-9]*)$"},
                required=True,
                description='A graphic id or "all".',
            ),
            OpenApiParameter(
                "since",
                {"type": "integer", "minimum": 0},
                description="The last seq you have (the previous answer's next_since).",
            ),
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1},
                description="At most this many events (default and maximum EVENT_API_PAGE_SIZE).",
            ),
            OpenApiParameter(
                VIEW_KEY_QUERY_PARAMETER,
                {"type": "string"},
                description=(
                    "An overlay's view key, instead of a token or session: reads the key's "
                    "graphic only (another graphic or all: permission_denied)."
                ),
            ),
        ],
        responses={
            200: EventPageSerializer,
            **error_responses(400),
            401: OpenApiResponse(
                ErrorResponse,
                description=(
                    "No credentials, or an invalid or expired token (not_authenticated); an "
                    "unknown or revoked view key (view_key_invalid)."
                ),
            ),
            **error_responses(403, 404),
        },
    )
    def get(self, request: Request) -> Response:
        key, since, limit = poll_query(request.query_params)
        view_key = request.auth if isinstance(request.auth, GraphicViewKey) else None
        if view_key is not None:
            check_view_key_scope(view_key, key)
        # An overlay's view key sees no staff identities (realtime.delivery.redaction).
        return Response(
            events_poll(key=key, since=since, limit=limit, view_key=view_key is not None)
        )

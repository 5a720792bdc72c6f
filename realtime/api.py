"""
GET /api/events/: the polling fallback for clients that cannot hold a WebSocket open.

`?since=<seq>&graphic=<id|all>[&limit=<n>]` answers the events of that subscription after
`since`, as the WebSocket frames' objects, with the `since` of the next poll; or, when `since`
is missing, pruned or unknown, the subscription's snapshot with `"recovered": false`, exactly as
`subscribe` does (`realtime.replay`). Same authentication as the rest of the API and the same
permission as subscribing: graphics.view_graphic.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from gal_dashboard.api_errors import error_responses
from gal_dashboard.errors import ValidationFailed
from gal_dashboard.storable import BIGINT_MAX
from graphics.api import GraphicsAPIView
from realtime.hub import ALL, SubscriptionKey
from realtime.replay import events_poll

TAG = "events"

# Seqs and graphic ids are 64-bit database ids; a larger number names nothing and would only
# overflow the query.
_ID_MAX = BIGINT_MAX
_DIGITS = re.compile(r"[0-9]{1,19}")


def _whole_number(raw: str, *, field: str, minimum: int, maximum: int, what: str) -> int:
    if _DIGITS.fullmatch(raw) is None or not minimum <= int(raw) <= maximum:
        raise ValidationFailed(details={field: [what]})
    return int(raw)


def poll_query(params: Any) -> tuple[SubscriptionKey, int | None, int]:
    """(subscription key, since or None, limit) from the query string, or validation_error
    naming every bad parameter."""
    errors: dict[str, list[str]] = {}
    key: SubscriptionKey = ALL
    since: int | None = None
    limit = settings.EVENT_API_PAGE_SIZE
    graphic = params.get("graphic")
    try:
        if graphic is None:
            raise ValidationFailed(details={"graphic": ['Required: a graphic id or "all".']})
        if graphic != ALL:
            key = _whole_number(
                graphic,
                field="graphic",
                minimum=1,
                maximum=_ID_MAX,
                what='A graphic id (positive whole number) or "all".',
            )
    except ValidationFailed as exc:
        errors.update(exc.details)
    try:
        if params.get("since") is not None:
            since = _whole_number(
                params["since"],
                field="since",
                minimum=0,
                maximum=_ID_MAX,
                what="A seq (non-negative whole number).",
            )
    except ValidationFailed as exc:
        errors.update(exc.details)
    try:
        if params.get("limit") is not None:
            limit = _whole_number(
                params["limit"],
                field="limit",
                minimum=1,
                maximum=settings.EVENT_API_PAGE_SIZE,
                what=f"A whole number from 1 to {settings.EVENT_API_PAGE_SIZE}.",
            )
    except ValidationFailed as exc:
        errors.update(exc.details)
    if errors:
        raise ValidationFailed(details=errors)
    return key, since, limit


class EventFrameSerializer(serializers.Serializer):
    """An event exactly as the WebSocket sends it (see docs/protocol.md)."""

    type = serializers.ChoiceField(choices=["graphic_update", "lock_status"])
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
    @extend_schema(
        tags=[TAG],
        summary="Poll the event stream",
        operation_id="events_poll",
        description=(
            "The polling fallback of the WebSocket: the events of one subscription (a graphic "
            'or "all") after `since`, in seq order, in the same objects the WebSocket sends. '
            "Poll again with `next_since`. Without `since`, or when it is older than the "
            "event log keeps or newer than any seq, the answer is the subscription's snapshot "
            "with recovered false."
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
        ],
        responses={200: EventPageSerializer, **error_responses(400, 401, 403, 404)},
    )
    def get(self, request: Request) -> Response:
        key, since, limit = poll_query(request.query_params)
        return Response(events_poll(key=key, since=since, limit=limit))

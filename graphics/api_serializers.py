"""
The bodies of the REST API, as the OpenAPI schema shows them.

These serializers describe; they build nothing and check nothing. Responses are made by
`graphics.serialization` and `locks.selectors.lock_state` (the shapes the WebSocket sends too),
and request values go to the services as received, because the services are where values are
checked. `tests/test_openapi.py` keeps these descriptions in step with the real shapes.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import (
    OpenApiSerializerExtension,
    OpenApiSerializerFieldExtension,
)
from rest_framework import serializers

from graphics.canvas import Canvas
from graphics.models import TRANSITION_MS_MAX, Transition, VersionAction
from graphics.services import TEXT_FIELD_MAX_LENGTH
from locks.api_serializers import LockStateSerializer
from locks.services import REASON_MAX_LENGTH


class CanvasField(serializers.JSONField):
    """A canvas document; its schema is the one `graphics.canvas.Canvas` validates against."""


class CanvasFieldExtension(OpenApiSerializerFieldExtension):
    target_class = CanvasField

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> Any:
        return auto_schema.resolve_serializer(Canvas, direction).ref


class UserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()


class UploadedBackgroundSerializer(serializers.Serializer):
    """A canvas background, as an upload returns it: set it as `data.background`."""

    image_url = serializers.CharField(
        help_text="Where the stored image is served, under MEDIA_URL."
    )
    width = serializers.IntegerField()
    height = serializers.IntegerField()


class GraphicSummarySerializer(serializers.Serializer):
    """A graphic without its canvas, as the list shows it."""

    id = serializers.IntegerField()
    title = serializers.CharField()
    event_name = serializers.CharField()
    version = serializers.IntegerField(
        help_text="Grows by one with every recorded change: an edit, archive, restore or revert."
    )
    archived = serializers.BooleanField()
    archived_at = serializers.DateTimeField(allow_null=True)
    archived_by = UserRefSerializer(allow_null=True)
    created_by = UserRefSerializer(allow_null=True)
    updated_by = UserRefSerializer(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    on_air = serializers.BooleanField(help_text="Whether the graphic is on air (overlays draw it).")
    program_version = serializers.IntegerField(
        allow_null=True,
        help_text="The version on air, or last on air; null: never taken.",
    )
    live = serializers.BooleanField(
        help_text="Live mode: every saved version goes to air at once (no take needed)."
    )
    transition = serializers.ChoiceField(
        choices=Transition.choices, help_text="How overlays animate a take and a clear."
    )
    transition_ms = serializers.IntegerField(
        min_value=0, max_value=TRANSITION_MS_MAX, help_text="The transition's duration."
    )
    draft_differs = serializers.BooleanField(
        help_text=(
            "true when on air at another version than the current one (the draft), or never taken."
        )
    )
    lock = LockStateSerializer()


class GraphicSerializer(GraphicSummarySerializer):
    """The whole graphic, canvas included."""

    # A field named data shadows Serializer.data only for type checkers: DRF's metaclass
    # moves declared fields into _declared_fields.
    data = CanvasField()  # type: ignore[assignment]


class GraphicPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = GraphicSummarySerializer(many=True)


class VersionSummarySerializer(serializers.Serializer):
    """One entry of a graphic's history, without the canvas."""

    version = serializers.IntegerField()
    action = serializers.ChoiceField(
        choices=VersionAction.choices,
        help_text="What made this version; baseline: the state when history began.",
    )
    changed_fields = serializers.ListField(
        child=serializers.CharField(),
        help_text="Which of title, event_name, data, archived changed (empty for created).",
    )
    actor = UserRefSerializer(allow_null=True)
    created_at = serializers.DateTimeField()
    reason = serializers.CharField(allow_blank=True)
    reverted_from = serializers.IntegerField(
        allow_null=True, help_text="For reverted: the version whose content was brought back."
    )


class VersionPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = VersionSummarySerializer(many=True)


class GraphicVersionSerializer(GraphicSerializer):
    """The graphic as one version left it (`updated_by` / `updated_at`: that version's author
    and time), the graphic's current lock, and the version's history entry as `change`."""

    change = VersionSummarySerializer()


FENCING_TOKEN_HELP = (
    "The fencing_token of the lock you hold (from acquiring it); an edit made under a lock "
    "that has since been lost and taken again is a lock_conflict."
)


class RevertSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, help_text="The version to bring back.")
    fencing_token = serializers.IntegerField(min_value=1, help_text=FENCING_TOKEN_HELP)
    expected_version = serializers.IntegerField(
        min_value=1,
        help_text="The graphic's current version as you saw it; a stale one is a version_conflict.",
    )
    reason = serializers.CharField(
        max_length=REASON_MAX_LENGTH,
        required=False,
        allow_blank=True,
        help_text="Why; kept in the history and the event log.",
    )


class GraphicCreateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=TEXT_FIELD_MAX_LENGTH)
    event_name = serializers.CharField(max_length=TEXT_FIELD_MAX_LENGTH)
    data = CanvasField(  # type: ignore[assignment]
        required=False, allow_null=True, help_text="Omitted or null: an empty canvas."
    )


class GraphicUpdateSerializer(serializers.Serializer):
    version = serializers.IntegerField(
        min_value=1, help_text="The version you edited; a stale one is a version_conflict."
    )
    fencing_token = serializers.IntegerField(min_value=1, help_text=FENCING_TOKEN_HELP)
    title = serializers.CharField(max_length=TEXT_FIELD_MAX_LENGTH, required=False)
    event_name = serializers.CharField(max_length=TEXT_FIELD_MAX_LENGTH, required=False)
    data = CanvasField(required=False)  # type: ignore[assignment]
    transition = serializers.ChoiceField(
        choices=Transition.choices,
        required=False,
        help_text="How overlays animate a take and a clear; goes to air with the next take.",
    )
    transition_ms = serializers.IntegerField(
        min_value=0, max_value=TRANSITION_MS_MAX, required=False
    )
    patch = serializers.JSONField(
        required=False,
        help_text=(
            "Instead of title/event_name/data: a merge patch of the version you edited, e.g. "
            '{"data": {"elements": {"title": {"x": 120}}}} moves one element.'
        ),
    )


class GraphicUpdateSerializerExtension(OpenApiSerializerExtension):
    target_class = GraphicUpdateSerializer

    def map_serializer(self, auto_schema: Any, direction: Any) -> Any:
        # The schema generator makes every field of a PATCH body optional; version is not.
        return auto_schema._map_serializer(self.target_class(), direction, bypass_extensions=True)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=REASON_MAX_LENGTH,
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text="Why; kept in the event log (and, for Take, Clear and live, in the history).",
    )


class DuplicateSerializer(serializers.Serializer):
    title = serializers.CharField(
        max_length=TEXT_FIELD_MAX_LENGTH,
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text='Omitted, null or blank: "<title> (Copy)".',
    )


class ViewKeySerializer(serializers.Serializer):
    """A graphic's active overlay view key."""

    key = serializers.CharField(help_text="Lets its holder read this graphic and nothing else.")
    overlay_url = serializers.CharField(
        help_text="/overlay/<id>/?key=<key>: prefix the dashboard's origin and paste into OBS."
    )
    created_at = serializers.DateTimeField()
    created_by = UserRefSerializer(allow_null=True)


class GraphicViewKeySerializer(serializers.Serializer):
    graphic_id = serializers.IntegerField()
    view_key = ViewKeySerializer(allow_null=True, help_text="null: the graphic has no active key.")


class ViewKeyRevokedSerializer(serializers.Serializer):
    graphic_id = serializers.IntegerField()
    revoked = serializers.BooleanField(help_text="false: the graphic had no active key.")


class TakeSerializer(ReasonSerializer):
    expected_version = serializers.IntegerField(
        min_value=1,
        help_text=(
            "The version you mean to take (the current one as you saw it); a stale one is a "
            "version_conflict, never a take of something you did not see."
        ),
    )


class LiveSerializer(ReasonSerializer):
    live = serializers.BooleanField(
        help_text="true: the current version goes to air, and every version saved after it."
    )
    expected_version = serializers.IntegerField(
        min_value=1,
        required=False,
        allow_null=True,
        help_text="Optional (null or absent: not checked): checked as a take checks it when "
        "turning live mode on.",
    )


class AirIntervalSerializer(serializers.Serializer):
    """One interval of the on-air log: a version of a graphic on air from taken_at until
    cleared_at (null: still on air)."""

    graphic_id = serializers.IntegerField(
        allow_null=True, help_text="null once the graphic was deleted."
    )
    graphic_title = serializers.CharField(help_text="The title as it was on air.")
    version = serializers.IntegerField()
    taken_at = serializers.DateTimeField()
    taken_by = UserRefSerializer(allow_null=True)
    taken_reason = serializers.CharField(allow_blank=True)
    cleared_at = serializers.DateTimeField(allow_null=True)
    cleared_by = UserRefSerializer(allow_null=True)
    cleared_reason = serializers.CharField(allow_blank=True)
    version_url = serializers.CharField(
        allow_null=True,
        help_text="Where that version renders: GET /api/graphics/{id}/history/{version}/.",
    )


class AirLogPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = AirIntervalSerializer(many=True)

"""
The graphics REST API: list, read, create, edit, archive, restore, duplicate and delete, each
graphic's version history and revert, and its overlay view key.

Each view checks the shape of the request (a JSON object), calls one function of
`graphics.services`, and answers with the shapes of `graphics.serialization` plus the graphic's
lock state (`locks.selectors.lock_state`), exactly as the WebSocket sends them. Values go to the
services as received: they check types and permissions and raise the errors the client sees.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from gal_dashboard.api_errors import error_responses
from gal_dashboard.api_views import (
    GRAPHIC_ID,
    PAGE_PARAMETERS,
    POSITIVE_INT,
    GraphicPagination,
    GraphicsAPIView,
    request_object,
)
from graphics.api_serializers import (
    AirLogPageSerializer,
    DuplicateSerializer,
    GraphicCreateSerializer,
    GraphicPageSerializer,
    GraphicSerializer,
    GraphicUpdateSerializer,
    GraphicVersionSerializer,
    GraphicViewKeySerializer,
    LiveSerializer,
    ReasonSerializer,
    RevertSerializer,
    TakeSerializer,
    UploadedBackgroundSerializer,
    VersionPageSerializer,
    ViewKeyRevokedSerializer,
)
from graphics.backgrounds import background_image_store
from graphics.models import Graphic
from graphics.on_air import graphic_clear, graphic_set_live, graphic_take
from graphics.selectors import (
    ARCHIVED_FILTERS,
    air_log,
    graphic_event_names,
    graphic_get,
    graphic_history,
    graphic_list,
    graphic_version_get,
    view_key_active,
)
from graphics.serialization import (
    air_interval_payload,
    graphic_payload,
    graphic_summary,
    version_payload,
    version_summary,
    view_key_payload,
)
from graphics.services import (
    UNSET,
    graphic_archive,
    graphic_create,
    graphic_delete,
    graphic_duplicate,
    graphic_restore,
    graphic_revert,
    graphic_update,
    view_key_revoke,
    view_key_rotate,
)
from locks.models import CanvasLock
from locks.selectors import lock_live, lock_state

TAG = "graphics"


def graphic_with_lock(graphic: Graphic, lock: CanvasLock | None) -> dict[str, Any]:
    return {**graphic_payload(graphic), "lock": lock_state(lock)}


def summary_with_lock(graphic: Graphic) -> dict[str, Any]:
    # The list selects the lock with each graphic; a graphic without one has no attribute.
    return {**graphic_summary(graphic), "lock": lock_state(getattr(graphic, "lock", None))}


VERSION = OpenApiParameter("version", POSITIVE_INT, OpenApiParameter.PATH)


class GraphicListView(GraphicsAPIView):
    pagination_class = GraphicPagination

    @extend_schema(
        tags=[TAG],
        summary="List graphics",
        operation_id="graphics_list",
        description="Summaries (no canvas) with their lock, most recently changed first.",
        parameters=[
            OpenApiParameter(
                "archived",
                OpenApiTypes.STR,
                enum=list(ARCHIVED_FILTERS),
                default="false",
                description="false: active graphics; true: the archive; all: both.",
            ),
            OpenApiParameter("event_name", OpenApiTypes.STR, description="Exact event name."),
            OpenApiParameter(
                "q", OpenApiTypes.STR, description="Search title and event name (any case)."
            ),
            *PAGE_PARAMETERS,
        ],
        responses={200: GraphicPageSerializer, **error_responses(400, 401, 403, 404)},
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        graphics = graphic_list(
            archived=params.get("archived", "false"),
            event_name=params.get("event_name") or None,
            query=params.get("q") or None,
        ).select_related("lock__holder")
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(graphics, request, view=self) or []
        return paginator.get_paginated_response([summary_with_lock(graphic) for graphic in page])

    @extend_schema(
        tags=[TAG],
        summary="Create a graphic",
        request=GraphicCreateSerializer,
        responses={201: GraphicSerializer, **error_responses(400, 401, 403, 413)},
    )
    def post(self, request: Request) -> Response:
        body = request_object(request, GraphicCreateSerializer)
        graphic = graphic_create(
            user=request.user,
            title=body.get("title"),
            event_name=body.get("event_name"),
            data=body.get("data"),
        )
        # A graphic that did not exist a moment ago has no lock.
        return Response(graphic_with_lock(graphic, None), status=201)


class GraphicDetailView(GraphicsAPIView):
    @extend_schema(
        tags=[TAG],
        summary="Read a graphic",
        parameters=[GRAPHIC_ID],
        responses={200: GraphicSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, graphic_id: int) -> Response:
        graphic = graphic_get(graphic_id=graphic_id)
        return Response(graphic_with_lock(graphic, lock_live(graphic_id=graphic.pk)))

    @extend_schema(
        tags=[TAG],
        summary="Edit a graphic",
        description=(
            "Change title, event_name and/or data, in full or as `patch`: a JSON Merge Patch "
            "(RFC 7396) of the version you edited, with canvas elements keyed by id "
            "(docs/protocol.md, Delta updates). You must hold the graphic's lock "
            "(lock_conflict otherwise), present its fencing_token (a lock lost and taken again "
            "since is a lock_conflict) and send the version you edited (version_conflict "
            "names the current one otherwise)."
        ),
        parameters=[GRAPHIC_ID],
        request=GraphicUpdateSerializer,
        responses={200: GraphicSerializer, **error_responses(400, 401, 403, 404, 409, 413)},
    )
    def patch(self, request: Request, graphic_id: int) -> Response:
        body = request_object(request, GraphicUpdateSerializer)
        graphic = graphic_update(
            user=request.user,
            graphic_id=graphic_id,
            version=body.get("version"),
            title=body.get("title", UNSET),
            event_name=body.get("event_name", UNSET),
            data=body.get("data", UNSET),
            patch=body.get("patch", UNSET),
            fencing_token=body.get("fencing_token"),
            transition=body.get("transition", UNSET),
            transition_ms=body.get("transition_ms", UNSET),
        )
        return Response(graphic_with_lock(graphic, lock_live(graphic_id=graphic.pk)))

    @extend_schema(
        tags=[TAG],
        summary="Delete a graphic permanently",
        description=(
            "Needs graphics.delete_graphic (Lock admin). Refused while someone else holds the "
            "lock. The reason may come in the JSON body or as ?reason=."
        ),
        parameters=[
            GRAPHIC_ID,
            OpenApiParameter("reason", OpenApiTypes.STR, description="Why; kept in the log."),
        ],
        request=ReasonSerializer,
        responses={204: None, **error_responses(400, 401, 403, 404, 409)},
    )
    def delete(self, request: Request, graphic_id: int) -> Response:
        body = request_object(request, ReasonSerializer)
        reason = body.get("reason", request.query_params.get("reason", ""))
        graphic_delete(user=request.user, graphic_id=graphic_id, reason=reason)
        return Response(status=204)


class BackgroundUploadView(GraphicsAPIView):
    """A background image for any canvas: uploaded once as a file, then referenced by URL."""

    parser_classes = [MultiPartParser]

    @extend_schema(
        tags=[TAG],
        summary="Upload a background image",
        description=(
            "multipart/form-data with one `file`: a PNG, JPEG, WebP or GIF image of at most "
            "BACKGROUND_UPLOAD_MAX_BYTES and 16384 pixels a side. Stored under MEDIA_ROOT; the "
            "answer is a canvas background ({image_url, width, height}) to set with an edit. "
            "Needs the Editor role."
        ),
        request={
            "multipart/form-data": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary"}},
                "required": ["file"],
            }
        },
        responses={201: UploadedBackgroundSerializer, **error_responses(400, 401, 403, 413)},
    )
    def post(self, request: Request) -> Response:
        background = background_image_store(user=request.user, upload=request.FILES.get("file"))
        return Response(background, status=201)


class GraphicArchiveView(GraphicsAPIView):
    @extend_schema(
        tags=[TAG],
        summary="Archive a graphic",
        description="Refused while someone else holds the lock; your own lock is released.",
        parameters=[GRAPHIC_ID],
        request=ReasonSerializer,
        responses={200: GraphicSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request, graphic_id: int) -> Response:
        body = request_object(request, ReasonSerializer)
        graphic = graphic_archive(
            user=request.user, graphic_id=graphic_id, reason=body.get("reason", "")
        )
        # Archiving releases the archiver's lock and refuses anyone else's: none is left.
        return Response(graphic_with_lock(graphic, None))


class GraphicRestoreView(GraphicsAPIView):
    @extend_schema(
        tags=[TAG],
        summary="Restore an archived graphic",
        parameters=[GRAPHIC_ID],
        request=ReasonSerializer,
        responses={200: GraphicSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request, graphic_id: int) -> Response:
        body = request_object(request, ReasonSerializer)
        graphic = graphic_restore(
            user=request.user, graphic_id=graphic_id, reason=body.get("reason", "")
        )
        return Response(graphic_with_lock(graphic, lock_live(graphic_id=graphic.pk)))


class GraphicDuplicateView(GraphicsAPIView):
    @extend_schema(
        tags=[TAG],
        summary="Duplicate a graphic",
        description="A new, active copy with the same event and canvas.",
        parameters=[GRAPHIC_ID],
        request=DuplicateSerializer,
        responses={201: GraphicSerializer, **error_responses(400, 401, 403, 404, 413)},
    )
    def post(self, request: Request, graphic_id: int) -> Response:
        body = request_object(request, DuplicateSerializer)
        graphic = graphic_duplicate(
            user=request.user, graphic_id=graphic_id, title=body.get("title")
        )
        # The copy is new, so nobody holds its lock.
        return Response(graphic_with_lock(graphic, None), status=201)


class GraphicEventNamesView(GraphicsAPIView):
    @extend_schema(
        tags=[TAG],
        summary="List event names",
        description=(
            "GET /api/graphics/events/: the distinct event names of all graphics (archived "
            "ones included), alphabetically, for the event filter."
        ),
        responses={
            200: OpenApiResponse({"type": "array", "items": {"type": "string"}}),
            **error_responses(401, 403),
        },
    )
    def get(self, request: Request) -> Response:
        return Response(graphic_event_names())


class GraphicHistoryView(GraphicsAPIView):
    pagination_class = GraphicPagination

    @extend_schema(
        tags=[TAG],
        summary="List a graphic's versions",
        operation_id="graphics_history_list",
        description=(
            "Every version the graphic went through (created, updated, archived, restored, "
            "reverted), newest first, without canvases. Archived graphics have a history too; "
            "versions beyond GRAPHIC_HISTORY_MAX_VERSIONS are pruned."
        ),
        parameters=[GRAPHIC_ID, *PAGE_PARAMETERS],
        responses={200: VersionPageSerializer, **error_responses(400, 401, 403, 404)},
    )
    def get(self, request: Request, graphic_id: int) -> Response:
        versions = graphic_history(graphic_id=graphic_id)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(versions, request, view=self) or []
        return paginator.get_paginated_response([version_summary(version) for version in page])


class GraphicVersionView(GraphicsAPIView):
    @extend_schema(
        tags=[TAG],
        summary="Read one version of a graphic",
        description=(
            "The graphic as that version left it, canvas included, with the graphic's current "
            "lock and the version's history entry as `change`. not_found for a version never "
            "made or pruned."
        ),
        parameters=[GRAPHIC_ID, VERSION],
        responses={200: GraphicVersionSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, graphic_id: int, version: int) -> Response:
        found = graphic_version_get(graphic_id=graphic_id, version=version)
        return Response(
            {
                **version_payload(found),
                "lock": lock_state(lock_live(graphic_id=graphic_id)),
                "change": version_summary(found),
            }
        )


class GraphicRevertView(GraphicsAPIView):
    @extend_schema(
        tags=[TAG],
        summary="Revert a graphic to an earlier version",
        description=(
            "Makes that version's title, event_name and data current as a new version (action "
            "reverted), broadcast like any edit. The rules of an edit apply: Editor role, the "
            "graphic's live lock and its fencing_token (lock_conflict), expected_version must "
            "be current "
            "(version_conflict), archived graphics cannot be edited (state_conflict); an "
            "unknown or pruned version is not_found."
        ),
        parameters=[GRAPHIC_ID],
        request=RevertSerializer,
        responses={200: GraphicSerializer, **error_responses(400, 401, 403, 404, 409, 413)},
    )
    def post(self, request: Request, graphic_id: int) -> Response:
        body = request_object(request, RevertSerializer)
        graphic = graphic_revert(
            user=request.user,
            graphic_id=graphic_id,
            version=body.get("version"),
            expected_version=body.get("expected_version"),
            reason=body.get("reason", ""),
            fencing_token=body.get("fencing_token"),
        )
        return Response(graphic_with_lock(graphic, lock_live(graphic_id=graphic.pk)))


class GraphicViewKeyView(GraphicsAPIView):
    """The graphic's overlay view key: what OBS's `/overlay/<id>/?key=<key>` authenticates with."""

    @extend_schema(
        tags=[TAG],
        summary="A graphic's overlay view key",
        description=(
            "The active view key and the overlay URL built from it (null when there is none). "
            "The key lets its holder read this one graphic (WebSocket `?key=`, "
            "GET /api/events/?key=) and nothing else."
        ),
        parameters=[GRAPHIC_ID],
        responses={200: GraphicViewKeySerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, graphic_id: int) -> Response:
        graphic = graphic_get(graphic_id=graphic_id)
        return Response(
            {
                "graphic_id": graphic.pk,
                "view_key": view_key_payload(view_key_active(graphic_id=graphic.pk)),
            }
        )

    @extend_schema(
        tags=[TAG],
        summary="Make a new overlay view key",
        description=(
            "Needs the Editor role. Revokes the active key, if any (overlays using it are "
            "disconnected), and answers with the new one. Archived graphics may have a key."
        ),
        parameters=[GRAPHIC_ID],
        request=None,
        responses={201: GraphicViewKeySerializer, **error_responses(401, 403, 404)},
    )
    def post(self, request: Request, graphic_id: int) -> Response:
        view_key = view_key_rotate(graphic_id=graphic_id, user=request.user)
        return Response(
            {"graphic_id": view_key.graphic_id, "view_key": view_key_payload(view_key)}, status=201
        )

    @extend_schema(
        tags=[TAG],
        summary="Revoke the overlay view key",
        description=(
            "Needs the Editor role. Overlays using the key are disconnected; `revoked` is false "
            "when there was no active key."
        ),
        parameters=[GRAPHIC_ID],
        request=None,
        responses={200: ViewKeyRevokedSerializer, **error_responses(401, 403, 404)},
    )
    def delete(self, request: Request, graphic_id: int) -> Response:
        revoked = view_key_revoke(graphic_id=graphic_id, user=request.user)
        return Response({"graphic_id": graphic_id, "revoked": revoked})


# -- on air (issue 16) ---------------------------------------------------------------------------

AIR_TAG = "on air"


class GraphicTakeView(GraphicsAPIView):
    @extend_schema(
        tags=[AIR_TAG],
        summary="Take a graphic to air",
        description=(
            "Makes the current version the program: overlays draw it (graphic_take event). "
            "Needs the Editor role. `expected_version` must be the current version "
            "(version_conflict otherwise). Someone else's lock refuses the take unless you are "
            "a Lock admin (lock_conflict); archived graphics cannot be taken (state_conflict). "
            "A take of a graphic already on air replaces its program (a re-take). Made for "
            "control surfaces too: a Stream Deck button can POST this with a bearer token."
        ),
        parameters=[GRAPHIC_ID],
        request=TakeSerializer,
        responses={200: GraphicSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request, graphic_id: int) -> Response:
        body = request_object(request, TakeSerializer)
        graphic = graphic_take(
            user=request.user,
            graphic_id=graphic_id,
            expected_version=body.get("expected_version"),
            reason=body.get("reason", ""),
        )
        return Response(graphic_with_lock(graphic, lock_live(graphic_id=graphic.pk)))


class GraphicClearView(GraphicsAPIView):
    @extend_schema(
        tags=[AIR_TAG],
        summary="Clear a graphic from air",
        description=(
            "Takes the graphic off air (overlays empty: graphic_clear event) and ends live "
            "mode. Needs the Editor role and no lock: an operator can always pull a graphic "
            "off air. Clearing a graphic that is off air changes nothing."
        ),
        parameters=[GRAPHIC_ID],
        request=ReasonSerializer,
        responses={200: GraphicSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request: Request, graphic_id: int) -> Response:
        body = request_object(request, ReasonSerializer)
        graphic = graphic_clear(
            user=request.user, graphic_id=graphic_id, reason=body.get("reason", "")
        )
        return Response(graphic_with_lock(graphic, lock_live(graphic_id=graphic.pk)))


class GraphicLiveView(GraphicsAPIView):
    @extend_schema(
        tags=[AIR_TAG],
        summary="Switch a graphic's live mode",
        description=(
            "live true: the current version goes to air now and every version saved after it "
            "goes to air as it is saved (graphic_live event); the lock rule of a take applies. "
            "live false: the program stays on air and later saves wait for a take. Needs the "
            "Editor role."
        ),
        parameters=[GRAPHIC_ID],
        request=LiveSerializer,
        responses={200: GraphicSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request, graphic_id: int) -> Response:
        body = request_object(request, LiveSerializer)
        graphic = graphic_set_live(
            user=request.user,
            graphic_id=graphic_id,
            live=body.get("live"),
            reason=body.get("reason", ""),
            expected_version=body.get("expected_version"),
        )
        return Response(graphic_with_lock(graphic, lock_live(graphic_id=graphic.pk)))


# Plain strings in the schema, not `date-time`: a time without a zone (UTC) is accepted too,
# which RFC 3339's date-time is not; anything unparseable is a validation_error.
AIR_LOG_PARAMETERS = [
    OpenApiParameter(
        "from",
        {"type": "string", "minLength": 1},
        description="Only intervals still on air at or after this instant: an ISO 8601 "
        "date-time, e.g. 2026-12-06T20:00:00Z (UTC without a zone).",
    ),
    OpenApiParameter(
        "to",
        {"type": "string", "minLength": 1},
        description="Only intervals taken at or before this instant (ISO 8601, as `from`).",
    ),
    *PAGE_PARAMETERS,
]


def _air_log_page(view: GraphicsAPIView, request: Request, intervals: Any) -> Response:
    paginator = GraphicPagination()
    page = paginator.paginate_queryset(intervals, request, view=view) or []
    return paginator.get_paginated_response([air_interval_payload(item) for item in page])


class GraphicAirLogView(GraphicsAPIView):
    @extend_schema(
        tags=[AIR_TAG],
        summary="A graphic's on-air log",
        operation_id="graphics_air_log_list",
        description=(
            "What of this graphic was on air when: intervals (version, taken by, cleared by), "
            "oldest first. Each names the URL its version renders at."
        ),
        parameters=[GRAPHIC_ID, *AIR_LOG_PARAMETERS],
        responses={200: AirLogPageSerializer, **error_responses(400, 401, 403, 404)},
    )
    def get(self, request: Request, graphic_id: int) -> Response:
        params = request.query_params
        intervals = air_log(graphic_id=graphic_id, since=params.get("from"), until=params.get("to"))
        return _air_log_page(self, request, intervals)


class AirLogView(GraphicsAPIView):
    @extend_schema(
        tags=[AIR_TAG],
        summary="The on-air log",
        operation_id="air_log_list",
        description=(
            "What was on air when, every graphic: intervals overlapping [from, to], oldest "
            "first. Deleted graphics stay in the log (graphic_id null, their title kept)."
        ),
        parameters=AIR_LOG_PARAMETERS,
        responses={200: AirLogPageSerializer, **error_responses(400, 401, 403, 404)},
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        return _air_log_page(
            self, request, air_log(since=params.get("from"), until=params.get("to"))
        )

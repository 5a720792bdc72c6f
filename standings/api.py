"""
The standings REST API, under /api/standings/: tournament events, their players and rounds, a
lobby's results (saved whole), the standings tables, the correction audit and CSV import.

As in graphics/api.py, each view checks the shape of the request (a JSON object with known
fields), calls one function of `standings.services` (or `standings.imports`) and answers with
the shapes of `standings.serialization`. Values go to the services as received: they check
types, ranges and the rules of a lobby, and raise the field-level errors the client sees.

Reads need standings.view_tournament (every role) or standings.manage_results; writes need
standings.manage_results (Scorekeeper, Lock admin, superuser), checked here first so that a
refused write is a 403 whatever its body, and again by the service.
"""

from __future__ import annotations

import re
from typing import Any

from django.db.models import Count
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from gal_dashboard.access import MANAGE_RESULTS, VIEW_STANDINGS, require_permission
from gal_dashboard.api_errors import ErrorResponse, JSONBodyParser
from gal_dashboard.api_views import PAGE_PARAMETERS, POSITIVE_INT, GraphicPagination, request_object
from gal_dashboard.errors import TooLarge, ValidationFailed
from graphics.services import UNSET
from standings import services
from standings.api_serializers import (
    LobbyResultsSerializer,
    LobbySavedSerializer,
    ReasonBodySerializer,
    ResultChangePageSerializer,
    ResultsImportedSerializer,
    ResultsImportSerializer,
    StandingsEventCreateSerializer,
    StandingsEventSerializer,
    StandingsEventSummarySerializer,
    StandingsEventUpdateSerializer,
    StandingsPlayerCreateSerializer,
    StandingsPlayerSerializer,
    StandingsPlayerUpdateSerializer,
    StandingsRoundCreateSerializer,
    StandingsRoundSerializer,
    StandingsRoundSummarySerializer,
    StandingsTableSerializer,
)
from standings.imports import RESULTS_IMPORT_MAX_BYTES, results_import
from standings.models import LOBBY_SIZE, Round
from standings.scoring import TOTAL, normalize_round_id
from standings.selectors import (
    player_get,
    player_list,
    result_changes,
    round_get,
    round_list,
    tournament_get,
    tournament_list,
)
from standings.serialization import (
    player_payload,
    result_change_payload,
    round_payload,
    round_summary,
    standings_payload,
    tournament_payload,
    tournament_summary,
)

TAG = "standings"


class CanViewStandings(BasePermission):
    """Reads: standings.view_tournament or standings.manage_results. Writes:
    standings.manage_results. Refusals come from `require_permission`, in the same shape as
    the services' (401 not_authenticated, 403 permission_denied with `required`)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if request.method not in SAFE_METHODS:
            require_permission(user, MANAGE_RESULTS)
        elif not (user.is_authenticated and user.is_active and user.has_perm(MANAGE_RESULTS)):
            require_permission(user, VIEW_STANDINGS)
        return True


class StandingsAPIView(APIView):
    permission_classes = [CanViewStandings]


_STATUS_DESCRIPTIONS = {
    400: "Invalid fields, each named in details (validation_error), or malformed JSON "
    "(invalid_json).",
    401: "No credentials, or an invalid or expired token (not_authenticated).",
    403: "The user lacks the permission (permission_denied): reads need "
    "standings.view_tournament, writes standings.manage_results (Scorekeeper).",
    404: "No such event, player or round in this event (not_found).",
    409: "The results changed meanwhile; reload and try again (state_conflict).",
    413: "The file or the body is too large (too_large).",
    415: "The body is neither JSON nor multipart/form-data (unsupported_media_type).",
}


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    return {
        status: OpenApiResponse(ErrorResponse, description=_STATUS_DESCRIPTIONS[status])
        for status in statuses
    }


def reason_of(request: Request) -> Any:
    """A DELETE's reason: from its JSON body, or ?reason=."""
    body = request_object(request, ReasonBodySerializer)
    return body.get("reason", request.query_params.get("reason", ""))


EVENT_ID = OpenApiParameter("event_id", POSITIVE_INT, OpenApiParameter.PATH)
PLAYER_ID = OpenApiParameter("player_id", POSITIVE_INT, OpenApiParameter.PATH)
ROUND_NUMBER = OpenApiParameter(
    "number", POSITIVE_INT, OpenApiParameter.PATH, description="The round's number."
)
LOBBY_NUMBER = OpenApiParameter(
    "lobby",
    {"type": "integer", "minimum": 1, "maximum": services.LOBBIES_MAX},
    OpenApiParameter.PATH,
    description="The lobby's number in the round.",
)
REASON_QUERY = OpenApiParameter(
    "reason", OpenApiTypes.STR, description="Why; kept in the correction audit."
)


# -- events ---------------------------------------------------------------------------------------


class EventListView(StandingsAPIView):
    @extend_schema(
        tags=[TAG],
        summary="List tournament events",
        operation_id="standings_events_list",
        description="Every event, newest first, without its players.",
        responses={
            200: OpenApiResponse(StandingsEventSummarySerializer(many=True)),
            **error_responses(401, 403),
        },
    )
    def get(self, request: Request) -> Response:
        tournaments = list(tournament_list())
        rounds: dict[int, list[int]] = {tournament.pk: [] for tournament in tournaments}
        for tournament_id, number in Round.objects.filter(
            tournament_id__in=list(rounds)
        ).values_list("tournament_id", "number"):
            rounds[tournament_id].append(number)
        return Response(
            [
                tournament_summary(tournament, rounds=sorted(rounds[tournament.pk]))
                for tournament in tournaments
            ]
        )

    @extend_schema(
        tags=[TAG],
        summary="Create a tournament event",
        description=(
            "Its name is what graphics bind to: graphics whose event_name equals it start "
            "drawing its (empty) standings at once."
        ),
        request=StandingsEventCreateSerializer,
        responses={201: StandingsEventSerializer, **error_responses(400, 401, 403)},
    )
    def post(self, request: Request) -> Response:
        body = request_object(request, StandingsEventCreateSerializer)
        tournament = services.tournament_create(
            user=request.user,
            name=body.get("name"),
            points_table=body.get("points_table"),
            tie_breakers=body.get("tie_breakers"),
        )
        return Response(tournament_payload(tournament), status=201)


class EventDetailView(StandingsAPIView):
    @extend_schema(
        tags=[TAG],
        summary="Read a tournament event",
        parameters=[EVENT_ID],
        responses={200: StandingsEventSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, event_id: int) -> Response:
        return Response(tournament_payload(tournament_get(tournament_id=event_id)))

    @extend_schema(
        tags=[TAG],
        summary="Edit a tournament event",
        description=(
            "Rename it (graphics bound to the old name lose its standings, those with the new "
            "name gain them), or change its points table (every result's points are "
            "recomputed, each change audited with `reason`) or its tie-breakers."
        ),
        parameters=[EVENT_ID],
        request=StandingsEventUpdateSerializer,
        responses={200: StandingsEventSerializer, **error_responses(400, 401, 403, 404)},
    )
    def patch(self, request: Request, event_id: int) -> Response:
        body = request_object(request, StandingsEventUpdateSerializer)
        tournament = services.tournament_update(
            user=request.user,
            tournament_id=event_id,
            name=body.get("name", UNSET),
            points_table=body.get("points_table", UNSET),
            tie_breakers=body.get("tie_breakers", UNSET),
            reason=body.get("reason", ""),
        )
        return Response(tournament_payload(tournament))

    @extend_schema(
        tags=[TAG],
        summary="Delete a tournament event",
        description=(
            "With its players, rounds and results; the correction audit keeps its records. "
            "Graphics bound to it draw empty lists."
        ),
        parameters=[EVENT_ID],
        request=None,
        responses={204: None, **error_responses(401, 403, 404)},
    )
    def delete(self, request: Request, event_id: int) -> Response:
        services.tournament_delete(user=request.user, tournament_id=event_id)
        return Response(status=204)


class EventStandingsView(StandingsAPIView):
    @extend_schema(
        tags=[TAG],
        summary="An event's standings",
        description=(
            "One standings table, the rows a list element bound to the event draws: total "
            "points and Riot's tie-breakers (or the event's), players without a result last. "
            "`round=round_N` ranks round N alone."
        ),
        parameters=[
            EVENT_ID,
            OpenApiParameter(
                "round",
                OpenApiTypes.STR,
                default=TOTAL,
                description='"total" (default), or "round_N" (N alone also works).',
            ),
        ],
        responses={200: StandingsTableSerializer, **error_responses(400, 401, 403, 404)},
    )
    def get(self, request: Request, event_id: int) -> Response:
        round_id = _round_id(request.query_params.getlist("round"))
        tournament = tournament_get(tournament_id=event_id)
        return Response(standings_payload(tournament, round_id=round_id))


_ROUND_NUMBER = re.compile(r"[0-9]{1,5}")


def _round_id(values: list[str]) -> str:
    """The table `?round=` names: "total" when absent, "round_N" for round_N or N."""
    if not values:
        return TOTAL
    raw = values[0]
    round_id = normalize_round_id(int(raw) if _ROUND_NUMBER.fullmatch(raw) else raw)
    if round_id is None or len(values) > 1:
        raise ValidationFailed(details={"round": ['"total", "round_N" or N, once.']})
    return round_id


# -- players --------------------------------------------------------------------------------------


class PlayerListView(StandingsAPIView):
    @extend_schema(
        tags=[TAG],
        summary="List an event's players",
        operation_id="standings_players_list",
        description="In display-name order.",
        parameters=[EVENT_ID],
        responses={
            200: OpenApiResponse(StandingsPlayerSerializer(many=True)),
            **error_responses(401, 403, 404),
        },
    )
    def get(self, request: Request, event_id: int) -> Response:
        tournament = tournament_get(tournament_id=event_id)
        return Response([player_payload(p) for p in player_list(tournament_id=tournament.pk)])

    @extend_schema(
        tags=[TAG],
        summary="Add a player to an event",
        description="Display name, Riot ID and Discord id are each unique within the event.",
        parameters=[EVENT_ID],
        request=StandingsPlayerCreateSerializer,
        responses={201: StandingsPlayerSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request: Request, event_id: int) -> Response:
        body = request_object(request, StandingsPlayerCreateSerializer)
        player = services.player_create(
            user=request.user,
            tournament_id=event_id,
            display_name=body.get("display_name"),
            riot_id=body.get("riot_id", ""),
            discord_id=body.get("discord_id", ""),
        )
        return Response(player_payload(player), status=201)


class PlayerDetailView(StandingsAPIView):
    @extend_schema(
        tags=[TAG],
        summary="Read a player",
        parameters=[EVENT_ID, PLAYER_ID],
        responses={200: StandingsPlayerSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, event_id: int, player_id: int) -> Response:
        tournament = tournament_get(tournament_id=event_id)
        return Response(
            player_payload(player_get(tournament_id=tournament.pk, player_id=player_id))
        )

    @extend_schema(
        tags=[TAG],
        summary="Edit a player",
        description="A new display name reaches every graphic bound to the event.",
        parameters=[EVENT_ID, PLAYER_ID],
        request=StandingsPlayerUpdateSerializer,
        responses={200: StandingsPlayerSerializer, **error_responses(400, 401, 403, 404)},
    )
    def patch(self, request: Request, event_id: int, player_id: int) -> Response:
        body = request_object(request, StandingsPlayerUpdateSerializer)
        player = services.player_update(
            user=request.user,
            tournament_id=event_id,
            player_id=player_id,
            display_name=body.get("display_name", UNSET),
            riot_id=body.get("riot_id", UNSET),
            discord_id=body.get("discord_id", UNSET),
        )
        return Response(player_payload(player))

    @extend_schema(
        tags=[TAG],
        summary="Remove a player",
        description=(
            "With the player's results (each audited as removed, with the reason from the "
            "JSON body or ?reason=)."
        ),
        parameters=[EVENT_ID, PLAYER_ID, REASON_QUERY],
        request=ReasonBodySerializer,
        responses={204: None, **error_responses(400, 401, 403, 404)},
    )
    def delete(self, request: Request, event_id: int, player_id: int) -> Response:
        services.player_delete(
            user=request.user,
            tournament_id=event_id,
            player_id=player_id,
            reason=reason_of(request),
        )
        return Response(status=204)


# -- rounds ---------------------------------------------------------------------------------------


class RoundListView(StandingsAPIView):
    @extend_schema(
        tags=[TAG],
        summary="List an event's rounds",
        operation_id="standings_rounds_list",
        parameters=[EVENT_ID],
        responses={
            200: OpenApiResponse(StandingsRoundSummarySerializer(many=True)),
            **error_responses(401, 403, 404),
        },
    )
    def get(self, request: Request, event_id: int) -> Response:
        tournament = tournament_get(tournament_id=event_id)
        rounds = round_list(tournament_id=tournament.pk).annotate(result_count=Count("results"))
        return Response([round_summary(round_) for round_ in rounds])

    @extend_schema(
        tags=[TAG],
        summary="Add a round",
        description=f"`number` from 1 to {services.ROUNDS_MAX}; omitted: the one after the last.",
        parameters=[EVENT_ID],
        request=StandingsRoundCreateSerializer,
        responses={201: StandingsRoundSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request: Request, event_id: int) -> Response:
        body = request_object(request, StandingsRoundCreateSerializer)
        round_ = services.round_create(
            user=request.user, tournament_id=event_id, number=body.get("number")
        )
        return Response(round_payload(round_), status=201)


class RoundDetailView(StandingsAPIView):
    @extend_schema(
        tags=[TAG],
        summary="Read a round",
        description="Its lobbies with their results, in placement order.",
        parameters=[EVENT_ID, ROUND_NUMBER],
        responses={200: StandingsRoundSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, event_id: int, number: int) -> Response:
        tournament = tournament_get(tournament_id=event_id)
        return Response(round_payload(round_get(tournament_id=tournament.pk, number=number)))

    @extend_schema(
        tags=[TAG],
        summary="Delete a round",
        description=(
            "With its results (each audited as removed, with the reason from the JSON body "
            "or ?reason=)."
        ),
        parameters=[EVENT_ID, ROUND_NUMBER, REASON_QUERY],
        request=ReasonBodySerializer,
        responses={204: None, **error_responses(400, 401, 403, 404)},
    )
    def delete(self, request: Request, event_id: int, number: int) -> Response:
        services.round_delete(
            user=request.user, tournament_id=event_id, number=number, reason=reason_of(request)
        )
        return Response(status=204)


class LobbyResultsView(StandingsAPIView):
    @extend_schema(
        tags=[TAG],
        summary="Save a lobby's results",
        description=(
            f"All or nothing: `results` lists every player of the lobby once with a placement "
            f"from 1 to {LOBBY_SIZE}, each placement once; `[]` clears the lobby. Saving over "
            "earlier results is a correction, audited with `reason`. Refused with a "
            "validation_error naming the field (`results[2].placement`, `results[0].player`, "
            "`results`): a placement outside 1-8 or used twice, a player not in the event, "
            "listed twice or already in another lobby of the round, and a gap in the "
            "placements (a lobby with an 8th is full: each of its eight players needs one). "
            "Answers with the lobby as saved and the event's total standings."
        ),
        parameters=[EVENT_ID, ROUND_NUMBER, LOBBY_NUMBER],
        request=LobbyResultsSerializer,
        responses={200: LobbySavedSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def put(self, request: Request, event_id: int, number: int, lobby: int) -> Response:
        body = request_object(request, LobbyResultsSerializer)
        results = services.lobby_results_save(
            user=request.user,
            tournament_id=event_id,
            round_number=number,
            lobby_number=lobby,
            results=body.get("results"),
            reason=body.get("reason", ""),
        )
        tournament = tournament_get(tournament_id=event_id)
        return Response(
            {
                "round": number,
                "lobby": lobby,
                "results": [
                    {
                        "player": result.player_id,
                        "name": result.player.display_name,
                        "placement": result.placement,
                        "points": result.points,
                    }
                    for result in results
                ],
                "standings": standings_payload(tournament),
            }
        )


# -- the audit and the import ---------------------------------------------------------------------


class ResultChangeListView(StandingsAPIView):
    pagination_class = GraphicPagination

    @extend_schema(
        tags=[TAG],
        summary="An event's correction audit",
        operation_id="standings_changes_list",
        description=(
            "Every result created, changed or removed, newest first: who, when, the old and "
            "new placement and points, how (source) and why (reason)."
        ),
        parameters=[EVENT_ID, *PAGE_PARAMETERS],
        responses={200: ResultChangePageSerializer, **error_responses(400, 401, 403, 404)},
    )
    def get(self, request: Request, event_id: int) -> Response:
        tournament = tournament_get(tournament_id=event_id)
        paginator = self.pagination_class()
        changes = result_changes(tournament_id=tournament.pk).order_by("-created_at", "-id")
        page = paginator.paginate_queryset(changes, request, view=self) or []
        return paginator.get_paginated_response([result_change_payload(c) for c in page])


class ResultsImportView(StandingsAPIView):
    parser_classes = [JSONBodyParser, MultiPartParser]

    @extend_schema(
        tags=[TAG],
        summary="Import results from CSV",
        description=(
            "A sheet as `player,round,placement[,lobby]` lines or `player,r1,r2,…` (a column "
            "per round); see the README. Each round in the file replaces that round's results; "
            "missing rounds are created. All or nothing: every problem is reported, keyed "
            '`line N, column C`, and nothing is saved. Send JSON {"csv": text} or '
            f"multipart/form-data with a `file` (UTF-8, at most {RESULTS_IMPORT_MAX_BYTES} "
            "bytes), and an optional `reason`."
        ),
        parameters=[EVENT_ID],
        request={
            "application/json": ResultsImportSerializer,
            "multipart/form-data": {
                "type": "object",
                "properties": {
                    "file": {"type": "string", "format": "binary"},
                    "reason": {"type": "string"},
                },
                "required": ["file"],
                "additionalProperties": False,
            },
        },
        responses={
            200: ResultsImportedSerializer,
            **error_responses(400, 401, 403, 404, 409, 413, 415),
        },
    )
    def post(self, request: Request, event_id: int) -> Response:
        if request.content_type.startswith("multipart/"):
            unknown = sorted(set(request.data) - {"file", "reason"})
            if unknown:
                raise ValidationFailed(details={key: ["Unknown field."] for key in unknown})
            upload = request.FILES.get("file")
            if upload is None:
                raise ValidationFailed(details={"file": ["Choose a CSV file to upload."]})
            if upload.size is not None and upload.size > RESULTS_IMPORT_MAX_BYTES:
                # Refused before reading it: the limit also bounds what is held in memory.
                raise TooLarge(
                    f"The file is {upload.size} bytes; the limit is "
                    f"{RESULTS_IMPORT_MAX_BYTES} bytes.",
                    details={"file": [f"Must be at most {RESULTS_IMPORT_MAX_BYTES} bytes."]},
                )
            text, field, reason = upload.read(), "file", request.data.get("reason", "")
        else:
            body = request_object(request, ResultsImportSerializer)
            text, field, reason = body.get("csv"), "csv", body.get("reason", "")
        summary = results_import(
            user=request.user, tournament_id=event_id, text=text, reason=reason, field=field
        )
        return Response(summary)

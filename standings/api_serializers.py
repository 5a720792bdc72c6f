"""
The bodies of the standings REST API, as the OpenAPI schema shows them.

Like graphics/api_serializers.py, these describe and do nothing else: responses are built by
`standings.serialization`, and request values go to `standings.services` as received, where
they are checked. tests/standings/test_api.py validates real answers against these shapes.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from graphics.api_serializers import UserRefSerializer
from graphics.services import TEXT_FIELD_MAX_LENGTH
from locks.services import REASON_MAX_LENGTH
from standings.models import LOBBY_SIZE, ResultChangeSource, TieBreaker
from standings.services import (
    DISCORD_ID_MAX_LENGTH,
    EXTERNAL_ID_MAX_LENGTH,
    PLAYER_NAME_MAX_LENGTH,
    ROUNDS_MAX,
)

POINTS_TABLE_HELP = (
    f"The points of 1st to {LOBBY_SIZE}th place, {LOBBY_SIZE} whole numbers "
    "(default 8, 7, 6, 5, 4, 3, 2, 1)."
)
TIE_BREAKERS_HELP = (
    "How players with equal points are ordered, in this order (each at most once). Default: "
    "Riot's official TFT tie-breakers, top4_plus_firsts, placement_counts, latest_placement."
)
REASON_HELP = "Why; kept in the correction audit."


def _points_table(**kwargs: Any) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.IntegerField(),
        min_length=LOBBY_SIZE,
        max_length=LOBBY_SIZE,
        **{"help_text": POINTS_TABLE_HELP, **kwargs},
    )


def _tie_breakers(**kwargs: Any) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.ChoiceField(choices=TieBreaker.choices),
        **{"help_text": TIE_BREAKERS_HELP, **kwargs},
    )


def _reason() -> serializers.CharField:
    return serializers.CharField(
        max_length=REASON_MAX_LENGTH, required=False, allow_blank=True, help_text=REASON_HELP
    )


# -- responses ------------------------------------------------------------------------------------


class StandingsPlayerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    display_name = serializers.CharField(help_text="The name the standings show.")
    riot_id = serializers.CharField(allow_blank=True, help_text='"Name#TAG", or empty.')
    discord_id = serializers.CharField(allow_blank=True, help_text="Or empty.")
    created_at = serializers.DateTimeField()


class StandingsEventSummarySerializer(serializers.Serializer):
    """A tournament event without its players. Its `name` is what graphics bind to: a graphic
    whose event_name equals it draws this event's standings."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    points_table = serializers.ListField(
        child=serializers.IntegerField(), help_text=POINTS_TABLE_HELP
    )
    tie_breakers = serializers.ListField(
        child=serializers.ChoiceField(choices=TieBreaker.choices), help_text=TIE_BREAKERS_HELP
    )
    revision = serializers.IntegerField(
        help_text="Grows by one with every change to what the standings show."
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    rounds = serializers.ListField(
        child=serializers.IntegerField(), help_text="The numbers of its rounds, in order."
    )


class StandingsEventSerializer(StandingsEventSummarySerializer):
    """The whole event: its rules, round numbers and players (in name order)."""

    players = StandingsPlayerSerializer(many=True)


class StandingsRoundSummarySerializer(serializers.Serializer):
    number = serializers.IntegerField()
    round_id = serializers.CharField(help_text='What a list element draws it with: "round_N".')
    results = serializers.IntegerField(help_text="How many results the round has.")


class LobbyResultSerializer(serializers.Serializer):
    player = serializers.IntegerField(help_text="The player's id.")
    name = serializers.CharField(help_text="The player's display name.")
    placement = serializers.IntegerField(min_value=1, max_value=LOBBY_SIZE)
    points = serializers.IntegerField(help_text="What the placement earns (the points table).")


class StandingsLobbySerializer(serializers.Serializer):
    number = serializers.IntegerField()
    results = LobbyResultSerializer(many=True, help_text="In placement order.")


class StandingsRoundSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    round_id = serializers.CharField()
    lobbies = StandingsLobbySerializer(
        many=True, help_text="The lobbies that have results, in number order."
    )


class StandingsTableRowSerializer(serializers.Serializer):
    """One row of a standings table (docs/protocol.md, Standings). Players without a result
    come last, with rank, points and placement null; tied players share a rank."""

    rank = serializers.IntegerField(allow_null=True)
    player_id = serializers.IntegerField()
    name = serializers.CharField()
    points = serializers.IntegerField(allow_null=True)
    placement = serializers.IntegerField(
        allow_null=True,
        help_text="The placement in that round for a round's table; the rank for total.",
    )
    played = serializers.IntegerField(help_text="Rounds with a result (0 or 1 for a round).")


class StandingsTableSerializer(serializers.Serializer):
    event_name = serializers.CharField()
    tournament_id = serializers.IntegerField()
    revision = serializers.IntegerField()
    round_id = serializers.CharField(help_text='"total" or "round_N".')
    rows = StandingsTableRowSerializer(many=True, help_text="In standings order.")


class LobbySavedSerializer(serializers.Serializer):
    round = serializers.IntegerField(help_text="The round's number.")
    lobby = serializers.IntegerField(help_text="The lobby's number.")
    results = LobbyResultSerializer(many=True, help_text="The lobby as saved, placement order.")
    standings = StandingsTableSerializer(help_text="The event's total standings after the save.")


class ResultChangeSerializer(serializers.Serializer):
    """One entry of the correction audit: a player's result created (old_placement null),
    changed, or removed (new_placement null)."""

    id = serializers.IntegerField()
    round = serializers.IntegerField()
    lobby = serializers.IntegerField(allow_null=True)
    player_id = serializers.IntegerField(
        allow_null=True, help_text="null once the player is deleted (player_name stays)."
    )
    player_name = serializers.CharField()
    old_placement = serializers.IntegerField(allow_null=True)
    new_placement = serializers.IntegerField(allow_null=True)
    old_points = serializers.IntegerField(allow_null=True)
    new_points = serializers.IntegerField(allow_null=True)
    # Declared fields leave the class (DRF's metaclass), so this does not shadow Field.source
    # at run time; only type checkers see the clash.
    source = serializers.ChoiceField(  # type: ignore[assignment]
        choices=ResultChangeSource.choices,
        help_text="lobby: a lobby saved; import: a CSV import; points_table: the event's "
        "points table changed; deleted: the player or round was deleted.",
    )
    reason = serializers.CharField(allow_blank=True)
    actor = UserRefSerializer(allow_null=True, help_text="Who made the change.")
    created_at = serializers.DateTimeField()


class ResultChangePageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = ResultChangeSerializer(many=True)


class ResultsImportedSerializer(serializers.Serializer):
    imported = serializers.IntegerField(help_text="How many results the file holds.")
    rounds = serializers.ListField(
        child=serializers.IntegerField(), help_text="The rounds the file replaced."
    )
    changed = serializers.IntegerField(
        help_text="How many results were created, changed or removed (0: the same as before)."
    )


# -- requests -------------------------------------------------------------------------------------


class StandingsEventCreateSerializer(serializers.Serializer):
    name = serializers.CharField(
        max_length=TEXT_FIELD_MAX_LENGTH,
        help_text="Unique. Graphics whose event_name is this name draw its standings.",
    )
    points_table = _points_table(
        required=False,
        allow_null=True,
        help_text=f"{POINTS_TABLE_HELP} Omitted or null: the default.",
    )
    tie_breakers = _tie_breakers(
        required=False,
        allow_null=True,
        help_text=f"{TIE_BREAKERS_HELP} Omitted or null: the default.",
    )


class StandingsEventUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(
        max_length=TEXT_FIELD_MAX_LENGTH,
        required=False,
        help_text="Renaming moves the standings to graphics with the new event_name.",
    )
    points_table = _points_table(
        required=False,
        help_text=f"{POINTS_TABLE_HELP} Every result's points are recomputed (and audited).",
    )
    tie_breakers = _tie_breakers(required=False)
    reason = _reason()


class StandingsPlayerCreateSerializer(serializers.Serializer):
    display_name = serializers.CharField(max_length=PLAYER_NAME_MAX_LENGTH)
    riot_id = serializers.CharField(
        max_length=EXTERNAL_ID_MAX_LENGTH, required=False, allow_blank=True, allow_null=True
    )
    discord_id = serializers.CharField(
        max_length=DISCORD_ID_MAX_LENGTH, required=False, allow_blank=True, allow_null=True
    )


class StandingsPlayerUpdateSerializer(serializers.Serializer):
    display_name = serializers.CharField(max_length=PLAYER_NAME_MAX_LENGTH, required=False)
    riot_id = serializers.CharField(
        max_length=EXTERNAL_ID_MAX_LENGTH, required=False, allow_blank=True, allow_null=True
    )
    discord_id = serializers.CharField(
        max_length=DISCORD_ID_MAX_LENGTH, required=False, allow_blank=True, allow_null=True
    )


class StandingsRoundCreateSerializer(serializers.Serializer):
    number = serializers.IntegerField(
        min_value=1,
        max_value=ROUNDS_MAX,
        required=False,
        allow_null=True,
        help_text="Omitted or null: the round after the last.",
    )


class ResultEntrySerializer(serializers.Serializer):
    player = serializers.IntegerField(min_value=1, help_text="A player id of this event.")
    placement = serializers.IntegerField(min_value=1, max_value=LOBBY_SIZE)


class LobbyResultsSerializer(serializers.Serializer):
    results = serializers.ListField(
        child=ResultEntrySerializer(),
        max_length=LOBBY_SIZE,
        help_text="Every player of the lobby once, each placement once; [] clears the lobby.",
    )
    reason = _reason()


class ReasonBodySerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=REASON_MAX_LENGTH,
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text=REASON_HELP,
    )


class ResultsImportSerializer(serializers.Serializer):
    csv = serializers.CharField(
        help_text="The sheet: player,round,placement[,lobby] or player,r1,r2,… (README)."
    )
    reason = _reason()

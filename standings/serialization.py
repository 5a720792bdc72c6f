"""
The JSON shapes of the league's results: an event, a player, a round with its lobbies, one
correction of the audit, and one standings table. The REST API answers with these (and
standings/api_serializers.py describes them for the OpenAPI schema), so a client sees an event
the same way whichever endpoint it came from.
"""

from __future__ import annotations

from typing import Any

from gal_dashboard.access import user_ref
from gal_dashboard.timestamps import iso_timestamp
from standings.models import Player, ResultChange, Round, Tournament
from standings.scoring import TOTAL
from standings.selectors import event_standings, round_lobbies


def tournament_summary(tournament: Tournament, *, rounds: list[int]) -> dict[str, Any]:
    """An event without its players: what the list shows. `rounds`: its round numbers."""
    return {
        "id": tournament.pk,
        "name": tournament.name,
        "points_table": list(tournament.points_table),
        "tie_breakers": list(tournament.tie_breakers),
        "revision": tournament.revision,
        "created_at": iso_timestamp(tournament.created_at),
        "updated_at": iso_timestamp(tournament.updated_at),
        "rounds": rounds,
    }


def tournament_payload(tournament: Tournament) -> dict[str, Any]:
    """The whole event: its rules, its players (name order) and its round numbers."""
    players = tournament.players.order_by("display_name", "id")
    rounds = list(tournament.rounds.order_by("number").values_list("number", flat=True))
    return {
        **tournament_summary(tournament, rounds=rounds),
        "players": [player_payload(player) for player in players],
    }


def player_payload(player: Player) -> dict[str, Any]:
    return {
        "id": player.pk,
        "display_name": player.display_name,
        "riot_id": player.riot_id,
        "discord_id": player.discord_id,
        "created_at": iso_timestamp(player.created_at),
    }


def round_summary(round_: Round) -> dict[str, Any]:
    """A round without its results; `results` is how many it has (the list annotates it)."""
    count = getattr(round_, "result_count", None)
    return {
        "number": round_.number,
        "round_id": round_.round_id,
        "results": round_.results.count() if count is None else count,
    }


def round_payload(round_: Round) -> dict[str, Any]:
    """A round with its lobbies, each with its results in placement order."""
    return {
        "number": round_.number,
        "round_id": round_.round_id,
        "lobbies": round_lobbies(round=round_),
    }


def result_change_payload(change: ResultChange) -> dict[str, Any]:
    """One entry of the correction audit: who changed which player's result, when, how (the
    source: lobby, import, admin, points_table, deleted) and why. A null old placement is a
    new result; a null new placement, a removed one."""
    return {
        "id": change.pk,
        "round": change.round_number,
        "lobby": change.lobby_number,
        "player_id": change.player_id,
        "player_name": change.player_name,
        "old_placement": change.old_placement,
        "new_placement": change.new_placement,
        "old_points": change.old_points,
        "new_points": change.new_points,
        "source": change.source,
        "reason": change.reason,
        "actor": user_ref(change.actor) if change.actor_id else None,
        "created_at": iso_timestamp(change.created_at),
    }


def standings_payload(tournament: Tournament, *, round_id: str = TOTAL) -> dict[str, Any]:
    """One standings table of the event, with what identifies it: the rows are those a list
    element bound to the event and `round_id` draws (docs/protocol.md, Standings)."""
    return {
        "event_name": tournament.name,
        "tournament_id": tournament.pk,
        "revision": tournament.revision,
        "round_id": round_id,
        "rows": event_standings(tournament, [round_id])[round_id],
    }

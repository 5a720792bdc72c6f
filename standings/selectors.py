"""Reads of the league's results: lookups, the standings of an event, and which standings a
graphic draws."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.db.models import QuerySet

from gal_dashboard.errors import NotFound, ValidationFailed
from gal_dashboard.storable import BIGINT_MAX
from graphics.canvas import LIST_ELEMENT_TYPES
from standings.models import Player, Result, ResultChange, Round, Tournament
from standings.scoring import (
    TOTAL,
    PlayerEntry,
    ResultEntry,
    normalize_round_id,
    standings_tables,
)


def check_id(value: Any, *, field: str, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationFailed(details={field: [f"A {what} id (positive whole number)."]})
    if value > BIGINT_MAX:
        raise NotFound(f"{what.capitalize()} {value} does not exist.")
    return value


def tournament_get(*, tournament_id: Any, for_update: bool = False) -> Tournament:
    tournament_id = check_id(tournament_id, field="tournament_id", what="event")
    tournaments = Tournament.objects.all()
    if for_update:
        tournaments = tournaments.select_for_update()
    try:
        return tournaments.get(pk=tournament_id)
    except Tournament.DoesNotExist:
        raise NotFound(f"Event {tournament_id} does not exist.") from None


def tournament_list() -> QuerySet[Tournament]:
    return Tournament.objects.order_by("-created_at", "-id")


def tournament_by_name(name: str) -> Tournament | None:
    return Tournament.objects.filter(name=name).first()


def player_get(*, tournament_id: int, player_id: Any) -> Player:
    player_id = check_id(player_id, field="player_id", what="player")
    try:
        return Player.objects.get(pk=player_id, tournament_id=tournament_id)
    except Player.DoesNotExist:
        raise NotFound(f"Player {player_id} is not in this event.") from None


def player_list(*, tournament_id: int) -> QuerySet[Player]:
    return Player.objects.filter(tournament_id=tournament_id).order_by("display_name", "id")


def round_get(*, tournament_id: int, number: Any) -> Round:
    number = check_id(number, field="round", what="round")
    try:
        return Round.objects.get(tournament_id=tournament_id, number=number)
    except Round.DoesNotExist:
        raise NotFound(f"Round {number} does not exist in this event.") from None


def round_list(*, tournament_id: int) -> QuerySet[Round]:
    return Round.objects.filter(tournament_id=tournament_id).order_by("number")


def round_lobbies(*, round: Round) -> list[dict[str, Any]]:
    """The round's lobbies with their results, placement order: what the results page shows."""
    results = (
        Result.objects.filter(round=round)
        .select_related("lobby", "player")
        .order_by("lobby__number", "placement")
    )
    lobbies: dict[int, list[dict[str, Any]]] = {}
    for result in results:
        lobbies.setdefault(result.lobby.number, []).append(
            {
                "player": result.player_id,
                "name": result.player.display_name,
                "placement": result.placement,
                "points": result.points,
            }
        )
    return [{"number": number, "results": rows} for number, rows in sorted(lobbies.items())]


def result_changes(*, tournament_id: int) -> QuerySet[ResultChange]:
    return ResultChange.objects.filter(tournament_id=tournament_id).select_related("actor")


def event_standings(
    tournament: Tournament, round_ids: Iterable[str] = (TOTAL,)
) -> dict[str, list[dict[str, Any]]]:
    """The tables named by `round_ids` of one event: two queries, then standings.scoring."""
    # order_by(): scoring does not depend on the rows' order, and the models' default orderings
    # cascade (result -> round, lobby -> event) into four more joins and an eight-column sort,
    # ~2 of the 4.6 ms this took for 64 players x 8 rounds on PostgreSQL (bench/standings_bench.py).
    players = [
        PlayerEntry(id=pk, name=name)
        for pk, name in Player.objects.filter(tournament=tournament)
        .order_by()
        .values_list("pk", "display_name")
    ]
    results = [
        ResultEntry(player_id=player_id, round_number=number, placement=placement, points=points)
        for player_id, number, placement, points in Result.objects.filter(
            round__tournament=tournament
        )
        .order_by()
        .values_list("player_id", "round__number", "placement", "points")
    ]
    return standings_tables(
        players, results, tie_breakers=tournament.tie_breakers, round_ids=round_ids
    )


def bound_round_ids(data: Any) -> tuple[str, ...]:
    """The tables a canvas's list elements draw, sorted; () for a canvas without lists."""
    if not isinstance(data, Mapping):
        return ()
    names = set()
    for element in data.get("elements") or ():
        if isinstance(element, Mapping) and element.get("type") in LIST_ELEMENT_TYPES:
            name = normalize_round_id(element.get("round_id"))
            if name is not None:
                names.add(name)
            else:
                names.add(str(element.get("round_id")))
    return tuple(sorted(names))


def has_list_elements(data: Any) -> bool:
    return isinstance(data, Mapping) and any(
        isinstance(element, Mapping) and element.get("type") in LIST_ELEMENT_TYPES
        for element in data.get("elements") or ()
    )


def standings_binding(*, event_name: str, data: Any) -> tuple[str, tuple[str, ...]] | None:
    """What a graphic's standings depend on: its event name and the tables its lists draw;
    None for a graphic without list elements (it carries no standings)."""
    if not has_list_elements(data):
        return None
    return (event_name, bound_round_ids(data))


def graphic_standings(
    *,
    event_name: str,
    data: Any,
    cache: dict[tuple[int, str], list[dict[str, Any]]] | None = None,
    tournaments: Mapping[str, Tournament | None] | None = None,
) -> dict[str, Any] | None:
    """The standings a graphic draws (docs/protocol.md, Standings), or None when it has no
    list elements. `cache` and `tournaments` let one caller share work across graphics."""
    binding = standings_binding(event_name=event_name, data=data)
    if binding is None:
        return None
    _, round_ids = binding
    if tournaments is not None and event_name in tournaments:
        tournament = tournaments[event_name]
    else:
        tournament = tournament_by_name(event_name)
    if tournament is None:
        return {
            "event_name": event_name,
            "tournament_id": None,
            "revision": 0,
            "tables": {round_id: [] for round_id in round_ids},
        }
    tables: dict[str, list[dict[str, Any]]] = {}
    missing = [r for r in round_ids if cache is None or (tournament.pk, r) not in cache]
    if missing:
        computed = event_standings(tournament, missing)
        if cache is not None:
            for round_id, rows in computed.items():
                cache[(tournament.pk, round_id)] = rows
        tables.update(computed)
    if cache is not None:
        for round_id in round_ids:
            tables.setdefault(round_id, cache[(tournament.pk, round_id)])
    return {
        "event_name": event_name,
        "tournament_id": tournament.pk,
        "revision": tournament.revision,
        "tables": {round_id: tables[round_id] for round_id in round_ids},
    }

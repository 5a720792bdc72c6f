"""
Standings: who ranks where, from the results alone (no database here, so it is cheap to test
and to time; standings.selectors feeds it).

Players are ordered by total points, then by the event's tie-breakers in the event's order
(Riot's official TFT tie-breakers by default, standings.models.default_tie_breakers), then by
display name and id. The last step only makes the order stable: players whom points and every
tie-breaker cannot tell apart share a rank (1, 2, 2, 4), and every column shows them the same.

A round's standings (`round_3`) rank that round alone, by the same rules. Players without a
result (in the event, or in that round) come last, in name order, with no rank.

The rows are what the list elements draw (docs/protocol.md, Standings):
    {"rank", "player_id", "name", "points", "placement", "played"}
where `placement` is the placement in that round for a round's table and the rank for `total`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from standings.models import LOBBY_SIZE, TieBreaker

TOTAL = "total"
_ROUND_ID = re.compile(r"^round_([1-9][0-9]{0,4})$")


def normalize_round_id(value: Any) -> str | None:
    """A list element's `round_id` as a table name: None or "" → "total", 3 → "round_3",
    "round_3" → "round_3"; None for anything that names no table (drawn as an empty list)."""
    if value is None or value == "" or value == TOTAL:
        return TOTAL
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return f"round_{value}" if value >= 1 else None
    if isinstance(value, str) and _ROUND_ID.match(value):
        return value
    return None


def round_number_of(round_id: str) -> int | None:
    match = _ROUND_ID.match(round_id)
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class PlayerEntry:
    id: int
    name: str


@dataclass(frozen=True)
class ResultEntry:
    player_id: int
    round_number: int
    placement: int
    points: int


@dataclass
class _Record:
    player: PlayerEntry
    points: int = 0
    # placement_counts[p - 1]: how many times the player finished p-th.
    placement_counts: list[int] = field(default_factory=lambda: [0] * LOBBY_SIZE)
    played: int = 0
    latest_round: int = 0
    latest_placement: int = 0
    placement_sum: int = 0
    best: int = LOBBY_SIZE + 1

    def add(self, result: ResultEntry) -> None:
        self.points += result.points
        self.placement_counts[result.placement - 1] += 1
        self.played += 1
        self.placement_sum += result.placement
        self.best = min(self.best, result.placement)
        if result.round_number > self.latest_round:
            self.latest_round = result.round_number
            self.latest_placement = result.placement


# Each tie-breaker maps a player's record to a key where smaller is better.
_TIE_BREAK_KEYS: dict[str, Callable[[_Record], Any]] = {
    # Riot: top-4 finishes plus first places, a first counting twice.
    TieBreaker.TOP4_PLUS_FIRSTS: lambda r: -(sum(r.placement_counts[:4]) + r.placement_counts[0]),
    # Riot: most firsts, then most seconds, and so on.
    TieBreaker.PLACEMENT_COUNTS: lambda r: tuple(-count for count in r.placement_counts),
    # Riot: the placement in the most recent round the player played.
    TieBreaker.LATEST_PLACEMENT: lambda r: r.latest_placement,
    # Compared as fractions' cross-products would be exact; sums over equal game counts are
    # what ties on points usually have, and a float average is exact enough for 8 placements.
    TieBreaker.AVERAGE_PLACEMENT: lambda r: r.placement_sum / r.played,
    TieBreaker.BEST_PLACEMENT: lambda r: r.best,
}


def rank_players(
    players: Iterable[PlayerEntry],
    results: Iterable[ResultEntry],
    *,
    tie_breakers: Sequence[str],
    round_number: int | None = None,
) -> list[dict[str, Any]]:
    """The standings rows of the event (`round_number` None) or of one round."""
    records = {player.id: _Record(player) for player in players}
    for result in results:
        if round_number is not None and result.round_number != round_number:
            continue
        record = records.get(result.player_id)
        if record is not None:
            record.add(result)
    keys = [_TIE_BREAK_KEYS[name] for name in tie_breakers]

    def standing(record: _Record) -> tuple[Any, ...]:
        return (-record.points, *(key(record) for key in keys))

    played = sorted(
        (record for record in records.values() if record.played),
        key=lambda r: (standing(r), r.player.name.casefold(), r.player.id),
    )
    waiting = sorted(
        (record for record in records.values() if not record.played),
        key=lambda r: (r.player.name.casefold(), r.player.id),
    )
    rows: list[dict[str, Any]] = []
    previous: tuple[Any, ...] | None = None
    rank = 0
    for position, record in enumerate(played, start=1):
        current = standing(record)
        if current != previous:
            rank, previous = position, current
        rows.append(
            {
                "rank": rank,
                "player_id": record.player.id,
                "name": record.player.name,
                "points": record.points,
                "placement": rank if round_number is None else record.latest_placement,
                "played": record.played,
            }
        )
    for record in waiting:
        rows.append(
            {
                "rank": None,
                "player_id": record.player.id,
                "name": record.player.name,
                "points": None,
                "placement": None,
                "played": 0,
            }
        )
    return rows


def standings_tables(
    players: Sequence[PlayerEntry],
    results: Sequence[ResultEntry],
    *,
    tie_breakers: Sequence[str],
    round_ids: Iterable[str],
) -> dict[str, list[dict[str, Any]]]:
    """The tables named by `round_ids` ("total", "round_N"); a round the event does not have
    yet is every player without a result."""
    tables: dict[str, list[dict[str, Any]]] = {}
    for round_id in round_ids:
        number = None if round_id == TOTAL else round_number_of(round_id)
        if round_id != TOTAL and number is None:
            tables[round_id] = []
            continue
        tables[round_id] = rank_players(
            players, results, tie_breakers=tie_breakers, round_number=number
        )
    return tables

"""Standings order: points, then each tie-breaker on its own, then the rules for ties and for
players without results (standings.scoring). The better player is always named "Zed", so that
name order (the last, stable step) would put them behind "Amy": only the rule under test can
put Zed first."""

from __future__ import annotations

from typing import Any

import pytest

from standings.models import default_tie_breakers
from standings.scoring import (
    PlayerEntry,
    ResultEntry,
    normalize_round_id,
    rank_players,
    standings_tables,
)

TABLE = [8, 7, 6, 5, 4, 3, 2, 1]
RIOT = default_tie_breakers()


def make_players(*names: str) -> list[PlayerEntry]:
    return [PlayerEntry(id=index, name=name) for index, name in enumerate(names, start=1)]


def make_results(placements: dict[int, list[int | None]]) -> list[ResultEntry]:
    """{player id: [placement in round 1, round 2, ...]} (None: did not play that round)."""
    return [
        ResultEntry(player_id=player_id, round_number=number, placement=p, points=TABLE[p - 1])
        for player_id, row in placements.items()
        for number, p in enumerate(row, start=1)
        if p is not None
    ]


def ranked(
    placements: dict[int, list[int | None]],
    tie_breakers: list[str],
    names: tuple[str, ...] = ("Amy", "Zed"),
    round_number: int | None = None,
) -> list[dict[str, Any]]:
    return rank_players(
        make_players(*names),
        make_results(placements),
        tie_breakers=tie_breakers,
        round_number=round_number,
    )


def names_and_ranks(rows: list[dict[str, Any]]) -> list[tuple[str, int | None]]:
    return [(row["name"], row["rank"]) for row in rows]


def test_riots_tie_breakers_are_the_default_in_riots_order() -> None:
    assert RIOT == ["top4_plus_firsts", "placement_counts", "latest_placement"]


def test_total_points_decide_first() -> None:
    rows = ranked({1: [3, 3], 2: [1, 2], 3: [8, 1]}, RIOT, names=("Ann", "Bo", "Cy"))
    assert [(r["name"], r["rank"], r["points"], r["placement"]) for r in rows] == [
        ("Bo", 1, 15, 1),
        ("Ann", 2, 12, 2),
        ("Cy", 3, 9, 3),
    ]


def test_top4_plus_firsts_alone() -> None:
    """Equal on 9 points: Zed's 1st and 8th count 1 + 1 (a first twice); Amy's 4th and 5th 1."""
    placements: dict[int, list[int | None]] = {1: [4, 5], 2: [1, 8]}
    assert names_and_ranks(ranked(placements, ["top4_plus_firsts"])) == [("Zed", 1), ("Amy", 2)]
    assert names_and_ranks(ranked(placements, [])) == [("Amy", 1), ("Zed", 1)]


def test_placement_counts_alone() -> None:
    """Equal on 13 points: Zed has a first, Amy none (most firsts, then most seconds...)."""
    placements: dict[int, list[int | None]] = {1: [2, 3], 2: [1, 4]}
    assert names_and_ranks(ranked(placements, ["placement_counts"])) == [("Zed", 1), ("Amy", 2)]


def test_placement_counts_compare_from_first_place_down() -> None:
    """No firsts on either side; Zed has two seconds against Amy's one."""
    placements: dict[int, list[int | None]] = {1: [2, 3, 3], 2: [2, 2, 5]}
    rows = ranked(placements, ["placement_counts"])
    assert [(r["name"], r["points"]) for r in rows] == [("Amy", 19), ("Zed", 18)]


def test_placement_counts_decide_under_riot_when_top4_plus_firsts_tie() -> None:
    """Equal on 14 points and on top-4 plus firsts (2 each): Zed's first decides."""
    placements: dict[int, list[int | None]] = {1: [2, 4, 7], 2: [1, 6, 6]}
    rows = ranked(placements, RIOT)
    assert [r["points"] for r in rows] == [14, 14]
    assert names_and_ranks(rows) == [("Zed", 1), ("Amy", 2)]


def test_latest_placement_alone() -> None:
    """Equal on 13 points with the same placements: Zed was 2nd in the last round, Amy 3rd."""
    placements: dict[int, list[int | None]] = {1: [2, 3], 2: [3, 2]}
    assert names_and_ranks(ranked(placements, ["latest_placement"])) == [("Zed", 1), ("Amy", 2)]
    assert names_and_ranks(ranked(placements, RIOT)) == [("Zed", 1), ("Amy", 2)]
    assert names_and_ranks(ranked(placements, ["top4_plus_firsts", "placement_counts"])) == [
        ("Amy", 1),
        ("Zed", 1),
    ]


def test_latest_placement_is_each_players_most_recent_round_played() -> None:
    """Zed sat out round 3; his most recent round played is round 2 (2nd), Amy's is 3 (3rd)."""
    placements: dict[int, list[int | None]] = {1: [4, 7, 3], 2: [3, 2, None]}
    rows = ranked(placements, ["latest_placement"])
    assert [r["points"] for r in rows] == [13, 13]
    assert names_and_ranks(rows) == [("Zed", 1), ("Amy", 2)]


def test_average_placement_alone() -> None:
    """Equal on 5 points: Zed's one 4th averages better than Amy's 8th and 5th."""
    placements: dict[int, list[int | None]] = {1: [8, 5], 2: [4, None]}
    assert names_and_ranks(ranked(placements, ["average_placement"])) == [("Zed", 1), ("Amy", 2)]


def test_best_placement_alone() -> None:
    placements: dict[int, list[int | None]] = {1: [4, 4], 2: [1, 8, 8]}
    assert names_and_ranks(ranked(placements, ["best_placement"])) == [("Zed", 1), ("Amy", 2)]


def test_the_events_order_of_tie_breakers_is_the_order_applied() -> None:
    """Top-4 plus firsts favours Zed (1st, 8th); his last round was worse than Amy's."""
    placements: dict[int, list[int | None]] = {1: [5, 4], 2: [1, 8]}
    assert names_and_ranks(ranked(placements, ["top4_plus_firsts", "latest_placement"]))[0] == (
        "Zed",
        1,
    )
    assert names_and_ranks(ranked(placements, ["latest_placement", "top4_plus_firsts"]))[0] == (
        "Amy",
        1,
    )


def test_a_true_tie_shares_the_rank_and_the_next_rank_skips() -> None:
    rows = ranked({1: [1], 2: [1], 3: [2]}, RIOT, names=("Cy", "Amy", "Bo"))
    assert [(r["name"], r["rank"], r["placement"]) for r in rows] == [
        ("Amy", 1, 1),
        ("Cy", 1, 1),
        ("Bo", 3, 3),
    ]


def test_players_without_results_come_last_in_name_order() -> None:
    rows = ranked({3: [8]}, RIOT, names=("zoe", "Adam", "Bea"))
    assert [(r["name"], r["rank"], r["points"], r["placement"], r["played"]) for r in rows] == [
        ("Bea", 1, 1, 1, 1),
        ("Adam", None, None, None, 0),
        ("zoe", None, None, None, 0),
    ]


def test_a_round_ranks_that_round_alone() -> None:
    """Amy leads the total; round 2 alone is Zed's, and its placement column is the round's."""
    placements: dict[int, list[int | None]] = {1: [1, 3], 2: [8, 2], 3: [2, None]}
    names = ("Amy", "Zed", "Cy")
    total = ranked(placements, RIOT, names=names)
    round_2 = ranked(placements, RIOT, names=names, round_number=2)
    assert [(r["name"], r["points"]) for r in total] == [("Amy", 14), ("Zed", 8), ("Cy", 7)]
    assert [(r["name"], r["rank"], r["points"], r["placement"]) for r in round_2] == [
        ("Zed", 1, 7, 2),
        ("Amy", 2, 6, 3),
        ("Cy", None, None, None),
    ]


def test_tables_by_round_id() -> None:
    tables = standings_tables(
        make_players("Amy", "Zed"),
        make_results({1: [1], 2: [2]}),
        tie_breakers=RIOT,
        round_ids=["total", "round_1", "round_5"],
    )
    assert [r["name"] for r in tables["total"]] == ["Amy", "Zed"]
    assert [r["placement"] for r in tables["round_1"]] == [1, 2]
    # A round not played yet: everyone listed, nobody ranked.
    assert [(r["name"], r["rank"]) for r in tables["round_5"]] == [("Amy", None), ("Zed", None)]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "total"),
        ("", "total"),
        ("total", "total"),
        (3, "round_3"),
        ("round_3", "round_3"),
        (0, None),
        (True, None),
        ("round_0", None),
        ("final", None),
    ],
)
def test_round_ids(value: Any, expected: str | None) -> None:
    assert normalize_round_id(value) == expected

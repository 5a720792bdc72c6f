"""CSV import of results (standings/imports.py): both layouts, lobbies filled in file order or
from a lobby column, players matched by name or Riot ID, rounds replaced whole; and every kind
of refusal, named by line and column, with nothing saved and nothing broadcast."""

from __future__ import annotations

from typing import Any

import pytest

from gal_dashboard.access import EDITOR
from gal_dashboard.errors import NotFound, PermissionDenied, TooLarge, ValidationFailed
from realtime.models import Event, EventType
from standings import services
from standings.imports import ERRORS_SHOWN_MAX, RESULTS_IMPORT_MAX_BYTES, results_import
from standings.models import Player, Result, ResultChange, Round, Tournament
from tests.conftest import lobby_results

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(make_event: Any) -> Any:
    """16 players (P01..P16), round 1 only, no results."""
    return make_event(players=16, rounds=1)


@pytest.fixture
def bound_graphic(make_graphic: Any, event: Any) -> Any:
    return make_graphic(title="Standings", event_name=event.name)


def run(event: Any, text: Any, **kwargs: Any) -> dict[str, Any]:
    return results_import(user=event.scorekeeper, tournament_id=event.pk, text=text, **kwargs)


def refusal(event: Any, text: Any) -> dict[str, list[str]]:
    """The details of the import's validation_error, after checking it changed nothing: no
    result, round, audit row, revision or event-log entry."""
    before = database_state()
    with pytest.raises(ValidationFailed) as failure:
        run(event, text)
    assert database_state() == before
    assert "nothing was saved" in failure.value.message
    details: dict[str, list[str]] = failure.value.details
    return details


def database_state() -> tuple[Any, ...]:
    return (
        tuple(Tournament.objects.order_by("pk").values_list("pk", "revision")),
        tuple(Round.objects.order_by("pk").values_list("pk", "number")),
        tuple(Result.objects.order_by("pk").values_list("player_id", "round_id", "placement")),
        ResultChange.objects.count(),
        Event.objects.count(),
    )


def placements(event: Any, round_number: int) -> dict[str, tuple[int, int]]:
    """{player name: (lobby, placement)} of one round."""
    return {
        name: (lobby, placement)
        for name, lobby, placement in Result.objects.filter(
            round__tournament=event, round__number=round_number
        ).values_list("player__display_name", "lobby__number", "placement")
    }


def long_sheet(*rows: str, header: str = "player,round,placement") -> str:
    return "\n".join([header, *rows]) + "\n"


def two_lobbies(round_number: int = 1) -> list[str]:
    """P01..P08 in lobby 1 and P09..P16 in lobby 2, each in name order 1st to 8th."""
    return [f"P{n:02},{round_number},{(n - 1) % 8 + 1}" for n in range(1, 17)]


# -- the layouts ----------------------------------------------------------------------------------


def test_long_sheet_fills_lobbies_in_file_order(event: Any, bound_graphic: Any) -> None:
    """Without a lobby column, each line goes into the first lobby without its placement: the
    first eight lines make lobby 1, the next eight lobby 2. The import is audited with its
    reason, raises the revision once and records one standings_update."""
    revision = Tournament.objects.get(pk=event.pk).revision
    updates = Event.objects.filter(type=EventType.STANDINGS_UPDATE).count()

    summary = run(event, long_sheet(*two_lobbies()), reason="Bot snapshot")

    assert summary == {"imported": 16, "rounds": [1], "changed": 16}
    found = placements(event, 1)
    assert found["P01"] == (1, 1) and found["P08"] == (1, 8)
    assert found["P09"] == (2, 1) and found["P16"] == (2, 8)
    assert Result.objects.get(player__display_name="P09").points == 8
    assert set(ResultChange.objects.values_list("source", "reason", "actor")) == {
        ("import", "Bot snapshot", event.scorekeeper.pk)
    }
    assert Tournament.objects.get(pk=event.pk).revision == revision + 1
    new_updates = Event.objects.filter(type=EventType.STANDINGS_UPDATE)[updates:]
    assert [e.data["action"] for e in new_updates] == ["results_imported"]
    assert new_updates[0].data["standings"]["tables"]["total"][0]["name"] == "P01"


def test_interleaved_lines_still_make_whole_lobbies(event: Any) -> None:
    """Lines of two lobbies mixed (1st, 1st, 2nd, 2nd...) are split by placement: each lobby
    gets placements 1 to 8 once."""
    rows = [f"P{n:02},1,{(n + 1) // 2}" for n in range(1, 17)]

    run(event, long_sheet(*rows))

    by_lobby: dict[int, list[int]] = {}
    for lobby, placement in placements(event, 1).values():
        by_lobby.setdefault(lobby, []).append(placement)
    assert {lobby: sorted(p) for lobby, p in by_lobby.items()} == {
        1: list(range(1, 9)),
        2: list(range(1, 9)),
    }


def test_a_lobby_column_puts_each_line_in_its_lobby(event: Any) -> None:
    rows = [f"P{n:02},r1,{(n - 1) % 8 + 1},{2 if n <= 8 else 1}" for n in range(1, 17)]

    run(event, long_sheet(*rows, header="Player,Round,Placement,Lobby"))

    assert placements(event, 1)["P01"] == (2, 1)
    assert placements(event, 1)["P09"] == (1, 1)


def test_wide_sheet_with_every_kind_of_round_header(event: Any) -> None:
    """`r1`, `round_2` and `3` all name rounds; a blank cell is no result; a round missing
    from the event is created."""
    lines = ["player,r1,round_2,3"]
    for n in range(1, 9):
        third = "" if n > 4 else str(n)
        lines.append(f"P{n:02},{n},{9 - n},{third}")

    summary = run(event, "\n".join(lines))

    assert summary == {"imported": 20, "rounds": [1, 2, 3], "changed": 20}
    assert placements(event, 2)["P01"] == (1, 8)
    assert set(placements(event, 3)) == {"P01", "P02", "P03", "P04"}
    assert list(Round.objects.filter(tournament=event).values_list("number", flat=True)) == [
        1,
        2,
        3,
    ]


def test_a_blank_round_column_is_not_in_the_file(event: Any) -> None:
    """A sheet prepared with columns for rounds not played yet creates none of them."""
    sheet = "player,r1,r2,r3\n" + "".join(f"P{n:02},{n},,\n" for n in range(1, 9))

    summary = run(event, sheet)

    assert summary["rounds"] == [1]
    assert list(Round.objects.filter(tournament=event).values_list("number", flat=True)) == [1]


def test_players_match_by_display_name_or_riot_id_in_any_case(event: Any) -> None:
    services.player_update(
        user=event.scorekeeper,
        tournament_id=event.pk,
        player_id=Player.objects.get(tournament=event, display_name="P02").pk,
        riot_id="Setsuko#EUW",
    )

    run(event, long_sheet("p01,1,2", "setsuko#euw,1,1"))

    assert placements(event, 1) == {"P01": (1, 2), "P02": (1, 1)}


def test_each_round_in_the_file_replaces_that_round_whole(event: Any) -> None:
    """Round 1 in the file: its earlier results are replaced (players not in the file lose
    theirs, audited as removed); round 2, not in the file, is left as it was."""
    services.round_create(user=event.scorekeeper, tournament_id=event.pk)
    for number in (1, 2):
        services.lobby_results_save(
            user=event.scorekeeper,
            tournament_id=event.pk,
            round_number=number,
            lobby_number=1,
            results=lobby_results(event, [1, 2, 3, 4, 5, 6, 7, 8]),
        )

    run(event, long_sheet("P09,1,1", "P10,1,2"))

    assert placements(event, 1) == {"P09": (1, 1), "P10": (1, 2)}
    assert len(placements(event, 2)) == 8
    removed = ResultChange.objects.filter(source="import", new_placement=None)
    assert removed.count() == 8


def test_importing_the_same_sheet_again_changes_nothing(event: Any, bound_graphic: Any) -> None:
    sheet = long_sheet(*two_lobbies())
    run(event, sheet)
    before = database_state()

    summary = run(event, sheet)

    assert summary == {"imported": 16, "rounds": [1], "changed": 0}
    assert database_state() == before


def test_utf8_bytes_with_a_byte_order_mark_semicolons_and_crlf(event: Any) -> None:
    """What a spreadsheet in a European locale exports: a BOM, `;` between cells, CRLF line
    ends, accented names."""
    services.player_update(
        user=event.scorekeeper,
        tournament_id=event.pk,
        player_id=Player.objects.get(tournament=event, display_name="P01").pk,
        display_name="Zoë",
    )
    sheet = "\ufeffplayer;round;placement\r\nZoë;1;1\r\nP02;1;2\r\n".encode()

    run(event, sheet)

    assert placements(event, 1) == {"Zoë": (1, 1), "P02": (1, 2)}


def test_quoted_cells_and_blank_lines(event: Any) -> None:
    services.player_create(user=event.scorekeeper, tournament_id=event.pk, display_name="Smith, Jo")

    run(event, 'player,round,placement\n\n"Smith, Jo",1,1\n\nP01,1,2\n\n')

    assert placements(event, 1) == {"Smith, Jo": (1, 1), "P01": (1, 2)}


# -- refusals: the file ---------------------------------------------------------------------------


def test_not_utf8_names_the_line(event: Any) -> None:
    sheet = b"player,round,placement\nP01,1,1\n" + "Zoë,1,2\n".encode("latin-1")

    assert set(refusal(event, sheet)) == {"line 3"}


@pytest.mark.parametrize("sheet", ["", "   \n\n", b"", "\ufeff"])
def test_an_empty_file(event: Any, sheet: Any) -> None:
    assert refusal(event, sheet) == {"csv": ["The file is empty."]}


@pytest.mark.parametrize("sheet", ["player,round,placement\n", "player,r1,r2\nP01,,\nP02,,\n"])
def test_a_file_without_results(event: Any, sheet: str) -> None:
    """A header alone, or a wide sheet whose every cell is blank, imports nothing: refused
    rather than reported as a success."""
    assert set(refusal(event, sheet)) == {"csv"}


def test_a_nul_character_is_not_csv(event: Any) -> None:
    assert set(refusal(event, "player,round,placement\nP01,1,1\x00\n")) == {"line 2"}


def test_over_the_size_limit_is_too_large(event: Any) -> None:
    sheet = long_sheet(*two_lobbies()) + " " * RESULTS_IMPORT_MAX_BYTES

    with pytest.raises(TooLarge) as failure:
        run(event, sheet)

    assert set(failure.value.details) == {"csv"}
    assert not Result.objects.exists()


# -- refusals: the header -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "keys"),
    [
        ("player,round,placement,colour", {"line 1, column colour"}),
        ("player,round,placement,round", {"line 1, column round"}),
        ("player,round", {"line 1"}),  # no placement column
        ("name,r1,r2", {"line 1, column name", "line 1"}),  # no player column
        ("player,r1,round_1", {"line 1, column round_1"}),  # round 1 twice
        ("player,r1,r65", {"line 1, column r65"}),  # past the last round
        ("player,total", {"line 1, column total"}),
        ("player", {"line 1"}),  # no round columns
    ],
)
def test_a_wrong_header_is_refused_by_column(event: Any, header: str, keys: set[str]) -> None:
    assert set(refusal(event, f"{header}\nP01,1,1\n")) == keys


# -- refusals: the lines --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "key", "words"),
    [
        ("Nobody,1,1", "line 3, column player", "No player 'Nobody'"),
        (",1,1", "line 3, column player", "is required"),
        ("P02,1,first", "line 3, column placement", "whole number"),
        ("P02,1,9", "line 3, column placement", "from 1 to 8"),
        ("P02,1,0", "line 3, column placement", "from 1 to 8"),
        ("P02,65,2", "line 3, column round", "from 1 to 64"),
        ("P02,last,2", "line 3, column round", "from 1 to 64"),
        ("P02,1,2,extra", "line 3, column 4", "does not name"),
        ("P01,1,2", "line 3, column player", "listed twice (also at line 2, column player)"),
    ],
)
def test_a_wrong_line_is_refused_by_line_and_column(
    event: Any, bound_graphic: Any, line: str, key: str, words: str
) -> None:
    """Each error names the file's line (the header is line 1) and the column as headed."""
    details = refusal(event, long_sheet("P01,1,1", line))

    assert key in details, details
    assert any(words in message for message in details[key]), details[key]


def test_a_placement_twice_in_a_named_lobby(event: Any) -> None:
    details = refusal(
        event, long_sheet("P01,1,1,1", "P02,1,1,1", header="player,round,placement,lobby")
    )

    assert "used twice in lobby 1" in details["line 3, column placement"][0]


@pytest.mark.parametrize("lobby", ["0", "65", "A", ""])
def test_a_bad_lobby_number(event: Any, lobby: str) -> None:
    details = refusal(
        event, long_sheet("P01,1,1,1", f"P02,1,2,{lobby}", header="player,round,placement,lobby")
    )

    assert "line 3, column lobby" in details


def test_a_gap_in_a_full_lobby(event: Any) -> None:
    """Placements up to 8 with no 4th: a player of the lobby is missing."""
    rows = [f"P{n:02},1,{p}" for n, p in enumerate([1, 2, 3, 5, 6, 7, 8], start=1)]

    details = refusal(event, long_sheet(*rows))

    assert list(details) == ["round 1, lobby 1"]
    assert "no player at 4" in details["round 1, lobby 1"][0]


def test_a_player_on_two_lines_of_a_wide_sheet(event: Any) -> None:
    details = refusal(event, "player,r1\nP01,1\nP02,2\np01,3\n")

    assert details == {"line 4, column player": ["p01 is on line 2 already."]}


def test_a_riot_id_that_names_two_players(event: Any) -> None:
    services.player_update(
        user=event.scorekeeper,
        tournament_id=event.pk,
        player_id=Player.objects.get(tournament=event, display_name="P02").pk,
        riot_id="p01",
    )

    details = refusal(event, long_sheet("P01,1,1"))

    assert "more than one player (P01, P02)" in details["line 2, column player"][0]


def test_every_problem_is_reported_at_once_in_file_order(event: Any) -> None:
    """Bad lines anywhere in the file, in both rounds, all come back, in line order; the
    wrong cell's own problem is shown rather than its consequences."""
    sheet = long_sheet(
        "P01,1,1",
        "Nobody,1,2",
        "P03,1,x",
        "P04,2,1",
        "P05,2,1,",
        "P06,9000,1",
        "P04,2,3",
    )

    details = refusal(event, sheet)

    assert list(details) == [
        "line 3, column player",
        "line 4, column placement",
        "line 7, column round",
        "line 8, column player",
    ]
    assert details["line 3, column player"] == [
        f"No player 'Nobody' in {event.name}: use a player's display name or Riot ID "
        "(add new players to the event first)."
    ]


def test_the_list_of_problems_is_capped(event: Any) -> None:
    rows = [f"Ghost{n},1,1" for n in range(ERRORS_SHOWN_MAX + 10)]

    details = refusal(event, long_sheet(*rows))

    assert len(details) == ERRORS_SHOWN_MAX + 1
    assert "line 2, column player" in details
    assert f"line {ERRORS_SHOWN_MAX + 1}, column player" in details
    assert details["more"] == ["10 more problems: fix these and import again."]


# -- who and where --------------------------------------------------------------------------------


def test_an_editor_cannot_import(event: Any, make_user: Any) -> None:
    before = database_state()

    with pytest.raises(PermissionDenied):
        results_import(
            user=make_user(role=EDITOR), tournament_id=event.pk, text=long_sheet("P01,1,1")
        )

    assert database_state() == before


def test_an_unknown_event_is_not_found(event: Any) -> None:
    with pytest.raises(NotFound):
        results_import(
            user=event.scorekeeper, tournament_id=event.pk + 1000, text=long_sheet("P01,1,1")
        )

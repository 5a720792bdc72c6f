"""
CSV import of results: a whole sheet checked at once and saved all or nothing, from the upload
endpoint (POST /api/standings/events/<id>/import/) and `manage.py import_results`.

Two layouts, told apart by the header (names in any case; `,`, `;` or tab between cells):

    player,round,placement[,lobby]      one result per line ("long")
    player,r1,r2,r3                     one player per line, a column per round ("wide")

A wide sheet's round columns may be named `r1`, `round_1`, `round 1` or `1`; a long sheet's
round cells take the same forms. `player` is a player's display name or Riot ID, matched
exactly but in any case. In a wide sheet a blank cell is no result, and a round whose column is
blank throughout is not in the file.

Each round in the file replaces that round's results entirely (players of the event who are
not in the file have no result in it afterwards); rounds the event lacks are created; rounds
not in the file are left alone. Without a `lobby` column, lobbies are filled in file order,
round by round: each result goes into the first lobby that has not got its placement yet, so
the sheet lists lobby 1's eight players, then lobby 2's (a lobby only groups results; points
and standings do not depend on it). A `lobby` column puts each result in the lobby it names.

Every problem is reported at once, keyed `line N, column C` (N the file's line, the header is
line 1; C the column as the header names it), `line N` for a problem with a whole line, and
`lobby N` for a lobby with a gap in its placements (standings.services.check_round_results).
Anything wrong and nothing is saved.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from gal_dashboard.access import MANAGE_RESULTS, require_permission
from gal_dashboard.errors import TooLarge, ValidationFailed
from locks.services import check_reason
from standings.models import LOBBY_SIZE, Player, ResultChange, ResultChangeSource, Round
from standings.selectors import tournament_get
from standings.services import (
    LOBBIES_MAX,
    ROUNDS_MAX,
    ResultInput,
    check_round_results,
    notify_standings_changed,
    round_results_replace,
)

# A season's sheet (64 players by 64 rounds) is well under 100 KiB; 1 MiB leaves room for long
# names and keeps a wrong file (a video, a database dump) from being read into memory whole.
RESULTS_IMPORT_MAX_BYTES = 1024 * 1024
# Enough to fix a sheet in one pass; a file that is wrong everywhere is probably the wrong file,
# and its 10,000 messages would help nobody.
ERRORS_SHOWN_MAX = 50

PLAYER = "player"
ROUND = "round"
PLACEMENT = "placement"
LOBBY = "lobby"
LONG_COLUMNS = (PLAYER, ROUND, PLACEMENT, LOBBY)
LAYOUTS = "player,round,placement[,lobby] or player,r1,r2,…"

# r1, R1, round_1, round 1, round1, 1.
_ROUND_NAME = re.compile(r"^(?:r|round[ _]?)?0*([1-9][0-9]{0,3})$")
_WHOLE_NUMBER = re.compile(r"^\+?[0-9]{1,6}$")


def round_number_in(text: str) -> int | None:
    """The round a header or cell names (`1`, `r1`, `round_1`), or None."""
    match = _ROUND_NAME.match(text.strip().casefold())
    return int(match.group(1)) if match else None


class _Errors:
    """Problems keyed by where they are, each key once, in the order they were found."""

    def __init__(self) -> None:
        self.by_key: dict[str, list[str]] = {}

    def add(self, key: str, message: str) -> None:
        messages = self.by_key.setdefault(key, [])
        if message not in messages:
            messages.append(message)

    def add_new_keys(self, details: dict[str, Any]) -> None:
        """A check's findings, except at places already reported: what was found there first
        (an unknown player, a cell that is not a number) says more than its consequences."""
        for key, messages in details.items():
            if key not in self.by_key:
                for message in messages:
                    self.add(key, str(message))

    def __bool__(self) -> bool:
        return bool(self.by_key)

    def failure(self) -> ValidationFailed:
        return ValidationFailed(
            f"{_count(len(self.by_key), 'problem')} in the file; nothing was saved.",
            details=shown_errors(self.by_key),
        )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _line_of(key: str) -> float:
    match = re.match(r"^line ([0-9]+)", key)
    return int(match.group(1)) if match else float("inf")


def shown_errors(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """The problems in file order (the lines first, then whole lobbies), at most
    ERRORS_SHOWN_MAX of them, and a `more` entry saying how many were left out."""
    keys = sorted(errors, key=_line_of)  # stable: a line's columns stay in the order found
    shown = {key: errors[key] for key in keys[:ERRORS_SHOWN_MAX]}
    hidden = len(keys) - len(shown)
    if hidden:
        shown["more"] = [f"{_count(hidden, 'more problem')}: fix these and import again."]
    return shown


# -- reading the file ----------------------------------------------------------------------------


def csv_text(content: Any, *, field: str) -> str:
    """The file as text: UTF-8 (a byte-order mark is dropped), at most RESULTS_IMPORT_MAX_BYTES,
    not empty. `field` names the request field a problem with the whole file is reported on."""
    if isinstance(content, str):
        size = len(content.encode("utf-8", "surrogatepass"))
    elif isinstance(content, bytes):
        size = len(content)
    else:
        raise ValidationFailed(details={field: ["CSV text is required."]})
    if size > RESULTS_IMPORT_MAX_BYTES:
        raise TooLarge(
            f"The file is {size} bytes; the limit is {RESULTS_IMPORT_MAX_BYTES} bytes.",
            details={field: [f"Must be at most {RESULTS_IMPORT_MAX_BYTES} bytes (got {size})."]},
        )
    if isinstance(content, bytes):
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            line = content.count(b"\n", 0, error.start) + 1
            raise ValidationFailed(
                "The file is not UTF-8 text; nothing was saved.",
                details={f"line {line}": ["Not UTF-8 text: export the sheet as CSV (UTF-8)."]},
            ) from None
    else:
        text = content.removeprefix("\ufeff")
    nul = text.find("\x00")
    if nul >= 0:
        raise ValidationFailed(
            "The file is not CSV text; nothing was saved.",
            details={
                _line_key(text, nul): [
                    "Contains a NUL character: is this a spreadsheet file rather than CSV?"
                ]
            },
        )
    surrogate = _surrogate_at(text)
    if surrogate >= 0:
        raise ValidationFailed(
            "The file is not valid text; nothing was saved.",
            details={_line_key(text, surrogate): ["Not valid Unicode (an unpaired surrogate)."]},
        )
    if not text.strip():
        raise ValidationFailed(
            "The file is empty; nothing was saved.", details={field: ["The file is empty."]}
        )
    return text


def _line_key(text: str, position: int) -> str:
    return f"line {text.count(chr(10), 0, position) + 1}"


def _surrogate_at(text: str) -> int:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return int(error.start)
    return -1


def _delimiter(text: str) -> str:
    header = next(line for line in text.splitlines() if line.strip())
    for candidate in (",", ";", "\t"):
        if candidate in header:
            return candidate
    return ","


def _rows(text: str, errors: _Errors) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of every line with something in it; a line the csv module cannot
    read stops the file there, with its problem reported."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            errors.add(f"line {line}", f"Cannot read this line as CSV: {error}.")
            return
        cells = [cell.strip() for cell in cells]
        if any(cells):
            yield line, cells


# -- the sheet ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Cell:
    """One result as the sheet gives it: who, which round, which placement, where."""

    line: int
    player: str
    round: int
    placement: Any  # an int when the cell holds a whole number, its text otherwise
    lobby: int | None
    player_at: str
    placement_at: str


@dataclass
class Sheet:
    """A parsed sheet: its results and the problems found without the database."""

    cells: list[_Cell] = field(default_factory=list)
    errors: _Errors = field(default_factory=_Errors)
    # The header could not be read: no line means anything.
    unreadable: bool = False


def parse_results_csv(text: str) -> Sheet:
    """Read a sheet in either layout, with every problem the file shows on its own (the event
    is not consulted: players are matched later)."""
    sheet = Sheet()
    rows = _rows(text, sheet.errors)
    first = next(rows, None)
    if first is None:
        sheet.unreadable = True
        if not sheet.errors:
            sheet.errors.add("line 1", "No header line.")
        return sheet
    header_line, names = first
    keys = [name.casefold() for name in names]
    header = _Errors()
    if ROUND in keys or PLACEMENT in keys:
        columns = _long_columns(header_line, names, keys, header)
        if not header:
            for line, cells in rows:
                _long_row(line, cells, names, columns, sheet)
    else:
        player_index, rounds = _wide_columns(header_line, names, keys, header)
        if not header:
            seen: dict[str, int] = {}
            for line, cells in rows:
                _wide_row(line, cells, names, player_index, rounds, seen, sheet)
    if header:
        sheet.unreadable = True
        sheet.errors.add_new_keys(header.by_key)
    return sheet


def _header_problem(line: int, names: list[str], index: int, message: str, errors: _Errors) -> None:
    errors.add(f"line {line}, column {names[index] or index + 1}", message)


def _long_columns(line: int, names: list[str], keys: list[str], errors: _Errors) -> dict[str, int]:
    """{column: index} of a `player,round,placement[,lobby]` header; problems go to `errors`."""
    columns: dict[str, int] = {}
    for index, key in enumerate(keys):
        if not key:
            continue  # spreadsheets write empty trailing columns; a value under one is refused
        if key not in LONG_COLUMNS:
            _header_problem(
                line, names, index, f"Unknown column: a results sheet has {LAYOUTS}.", errors
            )
        elif key in columns:
            _header_problem(line, names, index, f"Column {key} appears twice.", errors)
        else:
            columns[key] = index
    for required in (PLAYER, ROUND, PLACEMENT):
        if required not in columns:
            errors.add(f"line {line}", f"Missing column {required}: a results sheet has {LAYOUTS}.")
    return columns


def _wide_columns(
    line: int, names: list[str], keys: list[str], errors: _Errors
) -> tuple[int, dict[int, int]]:
    """The player column's index and {column index: round number} of a `player,r1,r2,…`
    header; problems go to `errors`."""
    player_columns = [index for index, key in enumerate(keys) if key == PLAYER]
    rounds: dict[int, int] = {}
    seen: dict[int, str] = {}
    for index, key in enumerate(keys):
        if not key or key == PLAYER:
            continue
        number = round_number_in(key)
        if number is None:
            _header_problem(
                line, names, index, f"Unknown column: a results sheet has {LAYOUTS}.", errors
            )
        elif number > ROUNDS_MAX:
            _header_problem(line, names, index, f"A round from 1 to {ROUNDS_MAX}.", errors)
        elif number in seen:
            _header_problem(
                line, names, index, f"Round {number} has two columns ({seen[number]}).", errors
            )
        else:
            seen[number] = names[index]
            rounds[index] = number
    if not player_columns:
        errors.add(f"line {line}", f"Missing column player: a results sheet has {LAYOUTS}.")
    elif len(player_columns) > 1:
        _header_problem(line, names, player_columns[1], "Column player appears twice.", errors)
    if not rounds and not errors:
        errors.add(f"line {line}", f"No round columns: a results sheet has {LAYOUTS}.")
    return (player_columns[0] if player_columns else -1), rounds


def _stray_cells(line: int, cells: list[str], names: list[str], sheet: Sheet) -> None:
    """Values in columns the header has no name for (beyond it, or under an empty name)."""
    for index, value in enumerate(cells):
        if value and (index >= len(names) or not names[index]):
            sheet.errors.add(
                f"line {line}, column {index + 1}",
                "A value in a column the header does not name.",
            )


def _cell(cells: list[str], index: int) -> str:
    return cells[index] if index < len(cells) else ""


def _check_placement(text: str, at: str, sheet: Sheet) -> Any:
    """The placement a cell holds: an int for a whole number (the round checks judge its
    range), its text otherwise (reported here)."""
    if _WHOLE_NUMBER.match(text):
        return int(text)
    sheet.errors.add(at, f"A placement from 1 to {LOBBY_SIZE} (a whole number).")
    return text


def _long_row(
    line: int, cells: list[str], names: list[str], columns: dict[str, int], sheet: Sheet
) -> None:
    _stray_cells(line, cells, names, sheet)
    at = {key: f"line {line}, column {names[index]}" for key, index in columns.items()}
    player = _cell(cells, columns[PLAYER])
    if not player:
        sheet.errors.add(at[PLAYER], "A player's display name or Riot ID is required.")
    number = round_number_in(_cell(cells, columns[ROUND]))
    if number is None or number > ROUNDS_MAX:
        sheet.errors.add(at[ROUND], f"A round from 1 to {ROUNDS_MAX} (1, r1 or round_1).")
        number = None
    lobby: int | None = None
    if LOBBY in columns:
        text = _cell(cells, columns[LOBBY])
        lobby = int(text) if _WHOLE_NUMBER.match(text) else 0
        if not 1 <= lobby <= LOBBIES_MAX:
            sheet.errors.add(at[LOBBY], f"A lobby number from 1 to {LOBBIES_MAX}.")
            lobby = 0
    placement = _check_placement(_cell(cells, columns[PLACEMENT]), at[PLACEMENT], sheet)
    if number is None or lobby == 0:
        return  # where it belongs is unknown, so no round's checks can use it
    sheet.cells.append(
        _Cell(
            line=line,
            player=player,
            round=number,
            placement=placement,
            lobby=lobby,
            player_at=at[PLAYER],
            placement_at=at[PLACEMENT],
        )
    )


def _wide_row(
    line: int,
    cells: list[str],
    names: list[str],
    player_index: int,
    rounds: dict[int, int],
    seen: dict[str, int],
    sheet: Sheet,
) -> None:
    _stray_cells(line, cells, names, sheet)
    player = _cell(cells, player_index)
    player_at = f"line {line}, column {names[player_index]}"
    if not player:
        sheet.errors.add(player_at, "A player's display name or Riot ID is required.")
    elif player.casefold() in seen:
        # One line per player: a second one would put the player twice in every round it fills.
        sheet.errors.add(player_at, f"{player} is on line {seen[player.casefold()]} already.")
        return
    else:
        seen[player.casefold()] = line
    for index, number in rounds.items():
        text = _cell(cells, index)
        if not text:
            continue
        placement_at = f"line {line}, column {names[index]}"
        sheet.cells.append(
            _Cell(
                line=line,
                player=player,
                round=number,
                placement=_check_placement(text, placement_at, sheet),
                lobby=None,
                player_at=player_at,
                placement_at=placement_at,
            )
        )


# -- the import -----------------------------------------------------------------------------------


class _Unknown:
    """Stands for a player the sheet names but the event lacks: the round checks still see the
    line (its placement counts in its lobby), and its player is reported once, as unknown."""

    def __repr__(self) -> str:
        return "an unknown player"


def _player_refs(players: list[Player]) -> dict[str, set[Player]]:
    refs: dict[str, set[Player]] = {}
    for player in players:
        for ref in (player.display_name, player.riot_id):
            if ref:
                refs.setdefault(ref.strip().casefold(), set()).add(player)
    return refs


def _round_inputs(
    cells: list[_Cell], players: list[Player], event_name: str, errors: _Errors
) -> dict[int, list[ResultInput]]:
    """The sheet's results as the services take them, round by round, with players resolved
    and lobbies filled (the lobby column, or file order)."""
    refs = _player_refs(players)
    rounds: dict[int, list[ResultInput]] = {}
    # (round, lobby) -> placements taken so far, to fill lobbies in file order.
    taken: dict[tuple[int, int], set[int]] = {}
    for cell in cells:
        player_ref: Any = _Unknown()
        if cell.player:
            found = refs.get(cell.player.casefold(), set())
            if len(found) == 1:
                player_ref = next(iter(found)).pk
            elif not found:
                errors.add(
                    cell.player_at,
                    f"No player {cell.player!r} in {event_name}: use a player's display name "
                    "or Riot ID (add new players to the event first).",
                )
            else:
                names = ", ".join(sorted(player.display_name for player in found))
                errors.add(
                    cell.player_at,
                    f"{cell.player!r} names more than one player ({names}): use the display name.",
                )
        lobby = cell.lobby
        if lobby is None:
            lobby = 1
            if isinstance(cell.placement, int):
                while cell.placement in taken.setdefault((cell.round, lobby), set()):
                    lobby += 1
                taken[(cell.round, lobby)].add(cell.placement)
            if lobby > LOBBIES_MAX:
                errors.add(
                    cell.placement_at,
                    f"Round {cell.round} would need more than {LOBBIES_MAX} lobbies.",
                )
        rounds.setdefault(cell.round, []).append(
            ResultInput(
                player=player_ref,
                placement=cell.placement,
                lobby=lobby,
                player_at=cell.player_at,
                placement_at=cell.placement_at,
            )
        )
    return rounds


def results_import(
    *, user: Any, tournament_id: Any, text: Any, reason: Any = "", field: str = "csv"
) -> dict[str, Any]:
    """Import a results sheet (str or UTF-8 bytes) into the event, all or nothing: each round
    in it replaces that round's results. Returns {"imported": results in the file, "rounds":
    their numbers, "changed": results created, changed or removed}. ValidationFailed names
    every problem (see the module's docstring); TooLarge over RESULTS_IMPORT_MAX_BYTES. One
    `standings_update` (action results_imported) when anything changed."""
    require_permission(user, MANAGE_RESULTS)
    reason = check_reason(reason)
    sheet = parse_results_csv(csv_text(text, field=field))
    with transaction.atomic():
        tournament = tournament_get(tournament_id=tournament_id, for_update=True)
        if sheet.unreadable:
            raise sheet.errors.failure()
        if not sheet.cells and not sheet.errors:
            raise ValidationFailed(
                "The file has no results; nothing was saved.",
                details={field: ["No results: the file has a header and nothing under it."]},
            )
        errors = sheet.errors
        players = list(tournament.players.all())
        rounds = _round_inputs(sheet.cells, players, tournament.name, errors)
        by_pk = {player.pk: player for player in players}
        if errors:
            # Nothing will be saved, but the rounds' own rules may find more to fix in one go.
            existing = {r.number: r for r in tournament.rounds.all()}
            for number, inputs in sorted(rounds.items()):
                round_ = existing.get(number) or Round(tournament=tournament, number=number)
                try:
                    check_round_results(
                        tournament, round_, inputs, only_lobby=None, players_by_ref=by_pk
                    )
                except ValidationFailed as failure:
                    errors.add_new_keys(failure.details)
            raise errors.failure()
        audited = ResultChange.objects.filter(tournament=tournament).count()
        try:
            written = round_results_replace(
                user=user,
                tournament=tournament,
                rounds=rounds,
                players_by_ref=by_pk,
                source=ResultChangeSource.IMPORT,
                reason=reason,
            )
        except ValidationFailed as failure:
            errors.add_new_keys(failure.details)
            raise errors.failure() from None
        changed = ResultChange.objects.filter(tournament=tournament).count() - audited
        if changed:
            notify_standings_changed(tournament, action="results_imported", user=user)
    return {"imported": written, "rounds": sorted(rounds), "changed": changed}

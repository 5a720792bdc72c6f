"""
Every write to the league's results: events, players, rounds, a lobby's results and CSV
imports. REST, the results page, the admin and `import_results` all call these, so each rule
and each error is written once.

Who: `standings.manage_results` (the Scorekeeper role, Lock admins and superusers).

Every write that changes what a standings list draws raises the event's `revision` and sends
`standings_changed` inside its transaction; realtime records a `standings_update` for every
graphic bound to the event in that transaction and broadcasts it after commit.

Writes to one event queue behind a row lock on the event (`select_for_update`), so two
scorekeepers saving at once cannot interleave their checks, and revisions follow commit order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from gal_dashboard.access import MANAGE_RESULTS, require_permission
from gal_dashboard.errors import StateConflict, ValidationFailed
from gal_dashboard.storable import text_problem
from graphics.services import UNSET, check_text_field
from locks.services import check_reason
from standings.models import (
    LOBBY_SIZE,
    Lobby,
    Player,
    Result,
    ResultChange,
    ResultChangeSource,
    Round,
    TieBreaker,
    Tournament,
    default_points_table,
    default_tie_breakers,
)
from standings.selectors import check_id, player_get, round_get, tournament_get
from standings.signals import standings_changed

PLAYER_NAME_MAX_LENGTH = 100
EXTERNAL_ID_MAX_LENGTH = 100
DISCORD_ID_MAX_LENGTH = 32
POINTS_MAX = 10_000
# A league plays a handful of games a night; the cap keeps a typo (round 3000) out.
ROUNDS_MAX = 64
LOBBIES_MAX = 64


# -- checks ---------------------------------------------------------------------------------------


def check_points_table(value: Any) -> list[int]:
    """Eight whole numbers: the points of 1st to 8th place."""
    if not isinstance(value, list) or len(value) != LOBBY_SIZE:
        raise ValidationFailed(
            details={"points_table": [f"A list of {LOBBY_SIZE} whole numbers (1st to 8th)."]}
        )
    for index, points in enumerate(value):
        if isinstance(points, bool) or not isinstance(points, int):
            raise ValidationFailed(details={f"points_table[{index}]": ["A whole number."]})
        if not -POINTS_MAX <= points <= POINTS_MAX:
            raise ValidationFailed(
                details={f"points_table[{index}]": [f"From {-POINTS_MAX} to {POINTS_MAX}."]}
            )
    return list(value)


def check_tie_breakers(value: Any) -> list[str]:
    """An ordered list of known tie-breakers, each at most once (may be empty)."""
    known = [choice.value for choice in TieBreaker]
    if not isinstance(value, list):
        raise ValidationFailed(
            details={"tie_breakers": [f"A list drawn from: {', '.join(known)}."]}
        )
    for index, name in enumerate(value):
        if name not in known:
            raise ValidationFailed(
                details={f"tie_breakers[{index}]": [f"Unknown tie-breaker; use one of {known}."]}
            )
        if name in value[:index]:
            raise ValidationFailed(details={f"tie_breakers[{index}]": ["Listed twice."]})
    return list(value)


def check_optional_text(value: Any, *, field: str, max_length: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationFailed(details={field: ["Must be a string."]})
    problem = text_problem(value)
    if problem:
        raise ValidationFailed(details={field: [problem]})
    cleaned = value.strip()
    if len(cleaned) > max_length:
        raise ValidationFailed(details={field: [f"At most {max_length} characters."]})
    return cleaned


def notify_standings_changed(
    tournament: Tournament, *, action: str, user: Any, names: Iterable[str] = ()
) -> None:
    """Raise the revision and tell realtime, inside the caller's transaction."""
    Tournament.objects.filter(pk=tournament.pk).update(revision=tournament.revision + 1)
    tournament.revision += 1
    standings_changed.send(
        sender=Tournament,
        event_names=[tournament.name, *names],
        action=action,
        actor_id=getattr(user, "pk", None),
    )


# -- events ---------------------------------------------------------------------------------------


def tournament_create(
    *, user: Any, name: Any, points_table: Any = None, tie_breakers: Any = None
) -> Tournament:
    require_permission(user, MANAGE_RESULTS)
    name = check_text_field(name, field="name")
    points_table = (
        default_points_table() if points_table is None else check_points_table(points_table)
    )
    tie_breakers = (
        default_tie_breakers() if tie_breakers is None else check_tie_breakers(tie_breakers)
    )
    with transaction.atomic():
        if Tournament.objects.filter(name=name).exists():
            raise ValidationFailed(details={"name": ["An event with this name exists already."]})
        tournament = Tournament.objects.create(
            name=name, points_table=points_table, tie_breakers=tie_breakers, created_by=user
        )
        # Graphics may already carry this event name: their empty lists become the event's.
        notify_standings_changed(tournament, action="event_created", user=user)
        return tournament


def tournament_update(
    *,
    user: Any,
    tournament_id: Any,
    name: Any = UNSET,
    points_table: Any = UNSET,
    tie_breakers: Any = UNSET,
    reason: Any = "",
) -> Tournament:
    """Rename an event (graphics bound to the old name lose its standings, those with the new
    name gain them), or change its points table (every result's points are recomputed and
    audited) or its tie-breakers."""
    require_permission(user, MANAGE_RESULTS)
    reason = check_reason(reason)
    changes: dict[str, Any] = {}
    if name is not UNSET:
        changes["name"] = check_text_field(name, field="name")
    if points_table is not UNSET:
        changes["points_table"] = check_points_table(points_table)
    if tie_breakers is not UNSET:
        changes["tie_breakers"] = check_tie_breakers(tie_breakers)
    if not changes:
        raise ValidationFailed(
            "Nothing to update.",
            details={"non_field_errors": ["Give name, points_table or tie_breakers."]},
        )
    with transaction.atomic():
        tournament = tournament_get(tournament_id=tournament_id, for_update=True)
        changes = {key: v for key, v in changes.items() if getattr(tournament, key) != v}
        if not changes:
            return tournament
        old_name = tournament.name
        if (
            "name" in changes
            and Tournament.objects.filter(name=changes["name"]).exclude(pk=tournament.pk).exists()
        ):
            raise ValidationFailed(details={"name": ["An event with this name exists already."]})
        for key, value in changes.items():
            setattr(tournament, key, value)
        tournament.save()
        if "points_table" in changes:
            _rescore(tournament, user=user, reason=reason)
        action = "event_renamed" if "name" in changes else "rules_changed"
        notify_standings_changed(
            tournament, action=action, user=user, names=[old_name] if "name" in changes else ()
        )
        return tournament


def _rescore(tournament: Tournament, *, user: Any, reason: str) -> None:
    now = timezone.now()
    changed = []
    audit = []
    results = Result.objects.filter(round__tournament=tournament).select_related(
        "round", "lobby", "player"
    )
    for result in results:
        points = tournament.points_for(result.placement)
        if points == result.points:
            continue
        audit.append(
            _change_row(
                tournament,
                result.round,
                result.lobby,
                result.player,
                old=(result.placement, result.points),
                new=(result.placement, points),
                source=ResultChangeSource.POINTS_TABLE,
                user=user,
                reason=reason,
                at=now,
            )
        )
        result.points = points
        result.updated_at = now
        changed.append(result)
    Result.objects.bulk_update(changed, ["points", "updated_at"])
    ResultChange.objects.bulk_create(audit)


def tournament_delete(*, user: Any, tournament_id: Any) -> None:
    """Delete an event with its players, rounds and results (the audit keeps its records)."""
    require_permission(user, MANAGE_RESULTS)
    with transaction.atomic():
        tournament = tournament_get(tournament_id=tournament_id, for_update=True)
        name = tournament.name
        tournament.delete()
        # The graphics bound to it now draw empty lists.
        standings_changed.send(
            sender=Tournament,
            event_names=[name],
            action="event_deleted",
            actor_id=getattr(user, "pk", None),
        )


# -- players --------------------------------------------------------------------------------------


def _check_player_fields(
    tournament: Tournament,
    *,
    display_name: Any,
    riot_id: Any,
    discord_id: Any,
    exclude_pk: int | None = None,
) -> dict[str, str]:
    fields: dict[str, str] = {}
    if display_name is not UNSET:
        fields["display_name"] = check_text_field(
            display_name, field="display_name", max_length=PLAYER_NAME_MAX_LENGTH
        )
    if riot_id is not UNSET:
        fields["riot_id"] = check_optional_text(
            riot_id, field="riot_id", max_length=EXTERNAL_ID_MAX_LENGTH
        )
    if discord_id is not UNSET:
        fields["discord_id"] = check_optional_text(
            discord_id, field="discord_id", max_length=DISCORD_ID_MAX_LENGTH
        )
    others = Player.objects.filter(tournament=tournament)
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    for field, value in fields.items():
        if value and others.filter(**{field: value}).exists():
            raise ValidationFailed(details={field: ["Another player of this event has it."]})
    return fields


def player_create(
    *,
    user: Any,
    tournament_id: Any,
    display_name: Any,
    riot_id: Any = "",
    discord_id: Any = "",
) -> Player:
    require_permission(user, MANAGE_RESULTS)
    with transaction.atomic():
        tournament = tournament_get(tournament_id=tournament_id, for_update=True)
        fields = _check_player_fields(
            tournament, display_name=display_name, riot_id=riot_id, discord_id=discord_id
        )
        player = Player.objects.create(tournament=tournament, **fields)
        notify_standings_changed(tournament, action="player_added", user=user)
        return player


def player_update(
    *,
    user: Any,
    tournament_id: Any,
    player_id: Any,
    display_name: Any = UNSET,
    riot_id: Any = UNSET,
    discord_id: Any = UNSET,
) -> Player:
    require_permission(user, MANAGE_RESULTS)
    with transaction.atomic():
        tournament = tournament_get(tournament_id=tournament_id, for_update=True)
        player = player_get(tournament_id=tournament.pk, player_id=player_id)
        fields = _check_player_fields(
            tournament,
            display_name=display_name,
            riot_id=riot_id,
            discord_id=discord_id,
            exclude_pk=player.pk,
        )
        fields = {key: value for key, value in fields.items() if getattr(player, key) != value}
        if not fields:
            return player
        for key, value in fields.items():
            setattr(player, key, value)
        player.save(update_fields=list(fields))
        if "display_name" in fields:
            notify_standings_changed(tournament, action="player_renamed", user=user)
        return player


def player_delete(*, user: Any, tournament_id: Any, player_id: Any, reason: Any = "") -> None:
    """Remove a player and their results (each audited as removed)."""
    require_permission(user, MANAGE_RESULTS)
    reason = check_reason(reason)
    with transaction.atomic():
        tournament = tournament_get(tournament_id=tournament_id, for_update=True)
        player = player_get(tournament_id=tournament.pk, player_id=player_id)
        now = timezone.now()
        ResultChange.objects.bulk_create(
            _change_row(
                tournament,
                result.round,
                result.lobby,
                player,
                old=(result.placement, result.points),
                new=(None, None),
                source=ResultChangeSource.DELETED,
                user=user,
                reason=reason,
                at=now,
            )
            for result in player.results.select_related("round", "lobby")
        )
        player.delete()
        notify_standings_changed(tournament, action="player_removed", user=user)


# -- rounds ---------------------------------------------------------------------------------------


def round_create(*, user: Any, tournament_id: Any, number: Any = None) -> Round:
    """Add a round; without `number`, the one after the last."""
    require_permission(user, MANAGE_RESULTS)
    with transaction.atomic():
        tournament = tournament_get(tournament_id=tournament_id, for_update=True)
        return _round_create(tournament, number=number)


def _round_create(tournament: Tournament, *, number: Any, field: str = "number") -> Round:
    if number is None:
        last = tournament.rounds.order_by("-number").values_list("number", flat=True).first()
        number = (last or 0) + 1
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= ROUNDS_MAX:
        raise ValidationFailed(details={field: [f"A round number from 1 to {ROUNDS_MAX}."]})
    if tournament.rounds.filter(number=number).exists():
        raise ValidationFailed(details={field: [f"Round {number} exists already."]})
    return Round.objects.create(tournament=tournament, number=number)


def round_delete(*, user: Any, tournament_id: Any, number: Any, reason: Any = "") -> None:
    """Delete a round and its results (each audited as removed)."""
    require_permission(user, MANAGE_RESULTS)
    reason = check_reason(reason)
    with transaction.atomic():
        tournament = tournament_get(tournament_id=tournament_id, for_update=True)
        round_ = round_get(tournament_id=tournament.pk, number=number)
        had_results = _replace_results(
            tournament,
            round_,
            lobbies={},
            replace_lobbies=None,
            source=ResultChangeSource.DELETED,
            user=user,
            reason=reason,
        )
        round_.delete()
        if had_results:
            notify_standings_changed(tournament, action="round_removed", user=user)


# -- results --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResultInput:
    """One player's placement as a client gave it, with where each value came from (a field
    path like `results[2].placement`, or `line 4, column placement` for an import), so an
    error names the place the scorekeeper has to fix."""

    player: Any
    placement: Any
    lobby: int
    player_at: str
    placement_at: str


def lobby_results_save(
    *,
    user: Any,
    tournament_id: Any,
    round_number: Any,
    lobby_number: Any,
    results: Any,
    reason: Any = "",
) -> list[Result]:
    """Set one lobby's results, all or nothing: `results` is a list of {"player": id,
    "placement": 1..8}, every player of the lobby once. Saving over earlier results is a
    correction (audited with `reason`); an empty list clears the lobby.

    Refused, each with a field-level validation_error: a placement outside 1-8 or used twice,
    a player not in the event, listed twice or already in another lobby of the round, and a
    lobby with a gap in its placements (a full lobby, with an 8th, missing a player)."""
    require_permission(user, MANAGE_RESULTS)
    reason = check_reason(reason)
    lobby_number = check_id(lobby_number, field="lobby", what="lobby")
    if lobby_number > LOBBIES_MAX:
        raise ValidationFailed(details={"lobby": [f"A lobby number from 1 to {LOBBIES_MAX}."]})
    if not isinstance(results, list):
        raise ValidationFailed(details={"results": ["A list of {player, placement} objects."]})
    if len(results) > LOBBY_SIZE:
        raise ValidationFailed(
            details={"results": [f"A lobby holds at most {LOBBY_SIZE} players."]}
        )
    inputs = []
    for index, entry in enumerate(results):
        if not isinstance(entry, dict) or set(entry) - {"player", "placement"}:
            raise ValidationFailed(
                details={f"results[{index}]": ["An object with player and placement only."]}
            )
        inputs.append(
            ResultInput(
                player=entry.get("player"),
                placement=entry.get("placement"),
                lobby=lobby_number,
                player_at=f"results[{index}].player",
                placement_at=f"results[{index}].placement",
            )
        )
    with transaction.atomic():
        tournament = tournament_get(tournament_id=tournament_id, for_update=True)
        round_ = round_get(tournament_id=tournament.pk, number=round_number)
        lobbies = check_round_results(tournament, round_, inputs, only_lobby=lobby_number)
        changed = _replace_results(
            tournament,
            round_,
            lobbies=lobbies,
            replace_lobbies={lobby_number},
            source=ResultChangeSource.LOBBY,
            user=user,
            reason=reason,
        )
        if changed:
            notify_standings_changed(tournament, action="results_saved", user=user)
        return list(
            Result.objects.filter(round=round_, lobby__number=lobby_number)
            .select_related("player")
            .order_by("placement")
        )


def check_round_results(
    tournament: Tournament,
    round_: Round,
    inputs: Sequence[ResultInput],
    *,
    only_lobby: int | None,
    players_by_ref: dict[Any, Player] | None = None,
) -> dict[int, list[tuple[Player, int]]]:
    """Every rule of a round's results, with every problem found reported at once: the
    lobbies as {number: [(player, placement)]}. `only_lobby`: the other lobbies of the round
    stay as they are (a lobby save), so a player in one of them is refused; None: the inputs
    are the whole round (an import). `players_by_ref` resolves what an import names."""
    errors: dict[str, list[str]] = {}
    players = {player.pk: player for player in tournament.players.all()}
    elsewhere: dict[int, int] = {}
    if only_lobby is not None:
        elsewhere = dict(
            Result.objects.filter(round=round_)
            .exclude(lobby__number=only_lobby)
            .values_list("player_id", "lobby__number")
        )
    lobbies: dict[int, list[tuple[Player, int]]] = {}
    seen_players: dict[int, str] = {}
    seen_placements: dict[tuple[int, int], str] = {}
    for entry in inputs:
        player: Player | None = None
        if players_by_ref is not None:
            player = players_by_ref.get(entry.player)
            if player is None:
                errors.setdefault(entry.player_at, []).append(
                    f"{entry.player!r} is not a player of {tournament.name}."
                )
        elif isinstance(entry.player, bool) or not isinstance(entry.player, int):
            errors.setdefault(entry.player_at, []).append("A player id (whole number).")
        else:
            player = players.get(entry.player)
            if player is None:
                errors.setdefault(entry.player_at, []).append(
                    f"Player {entry.player} is not in {tournament.name}."
                )
        placement = entry.placement
        placement_ok = (
            not isinstance(placement, bool)
            and isinstance(placement, int)
            and 1 <= placement <= LOBBY_SIZE
        )
        if not placement_ok:
            errors.setdefault(entry.placement_at, []).append(f"A placement from 1 to {LOBBY_SIZE}.")
        if player is not None:
            if player.pk in seen_players:
                errors.setdefault(entry.player_at, []).append(
                    f"{player.display_name} is listed twice (also at {seen_players[player.pk]})."
                )
            elif player.pk in elsewhere:
                errors.setdefault(entry.player_at, []).append(
                    f"{player.display_name} already has a result in lobby "
                    f"{elsewhere[player.pk]} of round {round_.number}."
                )
            seen_players.setdefault(player.pk, entry.player_at)
        if placement_ok:
            key = (entry.lobby, placement)
            if key in seen_placements:
                errors.setdefault(entry.placement_at, []).append(
                    f"Placement {placement} is used twice in lobby {entry.lobby} "
                    f"(also at {seen_placements[key]})."
                )
            seen_placements.setdefault(key, entry.placement_at)
        if player is not None and placement_ok:
            lobbies.setdefault(entry.lobby, []).append((player, placement))
    if not errors:
        for number, rows in sorted(lobbies.items()):
            given = {placement for _, placement in rows}
            gaps = [p for p in range(1, max(given) + 1) if p not in given]
            if gaps:
                # A lobby's placements run from 1 to its size: a lobby with an 8th is full, and
                # each of its eight players needs a placement.
                label = (
                    "results"
                    if only_lobby is not None
                    else f"round {round_.number}, lobby {number}"
                )
                errors.setdefault(label, []).append(
                    f"Lobby {number} of round {round_.number} has placements up to {max(given)} "
                    f"but no player at {', '.join(map(str, gaps))}: every player of the lobby "
                    "needs a placement."
                )
    if errors:
        raise ValidationFailed("The results are invalid; nothing was saved.", details=errors)
    return lobbies


def _replace_results(
    tournament: Tournament,
    round_: Round,
    *,
    lobbies: dict[int, list[tuple[Player, int]]],
    replace_lobbies: set[int] | None,
    source: str,
    user: Any,
    reason: str,
) -> bool:
    """Make the round's results (only `replace_lobbies`, or all when None) exactly `lobbies`,
    auditing each player whose result appears, changes or goes; whether anything changed."""
    now = timezone.now()
    current = Result.objects.filter(round=round_).select_related("lobby", "player")
    if replace_lobbies is not None:
        current = current.filter(lobby__number__in=replace_lobbies)
    before = {result.player_id: result for result in current}
    wanted = {
        player.pk: (number, player, placement)
        for number, rows in lobbies.items()
        for player, placement in rows
    }
    audit: list[ResultChange] = []
    gone = [result for pk, result in before.items() if pk not in wanted]
    moved_or_changed = [
        result
        for pk, result in before.items()
        if pk in wanted and (result.lobby.number, result.placement) != wanted[pk][::2]
    ]
    for result in gone:
        audit.append(
            _change_row(
                tournament,
                round_,
                result.lobby,
                result.player,
                old=(result.placement, result.points),
                new=(None, None),
                source=source,
                user=user,
                reason=reason,
                at=now,
            )
        )
    # Delete first what goes or moves: the (lobby, placement) and (round, player) constraints
    # hold at every statement, and a swap of two placements would collide midway otherwise.
    Result.objects.filter(pk__in=[r.pk for r in (*gone, *moved_or_changed)]).delete()
    lobby_rows = {lobby.number: lobby for lobby in round_.lobbies.all()}
    created = []
    for pk, (number, player, placement) in wanted.items():
        previous = before.get(pk)
        if previous is not None and previous not in moved_or_changed:
            continue
        lobby = lobby_rows.get(number)
        if lobby is None:
            lobby = lobby_rows[number] = Lobby.objects.create(round=round_, number=number)
        points = tournament.points_for(placement)
        created.append(
            Result(
                lobby=lobby,
                round=round_,
                player=player,
                placement=placement,
                points=points,
                updated_at=now,
            )
        )
        audit.append(
            _change_row(
                tournament,
                round_,
                lobby,
                player,
                old=(previous.placement, previous.points) if previous else (None, None),
                new=(placement, points),
                source=source,
                user=user,
                reason=reason,
                at=now,
            )
        )
    try:
        with transaction.atomic():
            Result.objects.bulk_create(created)
    except IntegrityError:
        # Checked above under the event's row lock; only a write that bypassed the services
        # could get here.
        raise StateConflict("The results changed meanwhile; reload and try again.") from None
    emptied = Lobby.objects.filter(round=round_, results__isnull=True)
    if replace_lobbies is not None:
        emptied = emptied.filter(number__in=replace_lobbies)
    emptied.delete()
    ResultChange.objects.bulk_create(audit)
    return bool(audit)


def _change_row(
    tournament: Tournament,
    round_: Round,
    lobby: Lobby | None,
    player: Player,
    *,
    old: tuple[int | None, int | None],
    new: tuple[int | None, int | None],
    source: str,
    user: Any,
    reason: str,
    at: Any,
) -> ResultChange:
    return ResultChange(
        tournament=tournament,
        tournament_name=tournament.name,
        round_number=round_.number,
        lobby_number=lobby.number if lobby is not None else None,
        player=player,
        player_name=player.display_name,
        old_placement=old[0],
        old_points=old[1],
        new_placement=new[0],
        new_points=new[1],
        source=source,
        reason=reason,
        actor=user if getattr(user, "pk", None) else None,
        created_at=at,
    )


def round_results_replace(
    *,
    user: Any,
    tournament: Tournament,
    rounds: dict[int, list[ResultInput]],
    players_by_ref: dict[Any, Player],
    source: str,
    reason: str,
) -> int:
    """Replace whole rounds' results (an import), inside the caller's transaction, with the
    event row already locked: check every round first and save nothing if any is wrong;
    create rounds that do not exist yet. Returns how many results were written."""
    errors: dict[str, list[str]] = {}
    checked: dict[int, tuple[Round | None, dict[int, list[tuple[Player, int]]]]] = {}
    existing = {r.number: r for r in tournament.rounds.all()}
    for number, inputs in sorted(rounds.items()):
        round_ = existing.get(number) or Round(tournament=tournament, number=number)
        try:
            lobbies = check_round_results(
                tournament, round_, inputs, only_lobby=None, players_by_ref=players_by_ref
            )
        except ValidationFailed as failure:
            for key, messages in failure.details.items():
                errors.setdefault(key, []).extend(messages)
            continue
        checked[number] = (existing.get(number), lobbies)
    if errors:
        raise ValidationFailed("The import is invalid; nothing was saved.", details=errors)
    written = 0
    for number, (round_or_none, lobbies) in checked.items():
        round_ = round_or_none or _round_create(tournament, number=number)
        _replace_results(
            tournament,
            round_,
            lobbies=lobbies,
            replace_lobbies=None,
            source=source,
            user=user,
            reason=reason,
        )
        written += sum(len(rows) for rows in lobbies.values())
    return written

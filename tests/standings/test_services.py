"""The results services (standings.services): who may write, every rule a lobby save enforces
with the field it names, all-or-nothing saves, the correction audit, and the standings_update
each change records for the graphics bound to the event, in the change's transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction

from gal_dashboard.access import SCOREKEEPER
from gal_dashboard.errors import NotAuthenticated, PermissionDenied, ValidationFailed
from realtime.models import Event
from standings import services
from standings.models import Player, Result, ResultChange, Tournament
from tests.conftest import list_element, text_element, valid_canvas

pytestmark = pytest.mark.django_db

EVENT = "GAL Season 3 Week 2"


@pytest.fixture
def scorekeeper(make_user: Callable[..., Any]) -> Any:
    return make_user("scorekeeper", role=SCOREKEEPER)


@pytest.fixture
def event(scorekeeper: Any) -> Tournament:
    """The event with 10 players (P01..P10) and round 1."""
    tournament = services.tournament_create(user=scorekeeper, name=EVENT)
    for number in range(1, 11):
        services.player_create(
            user=scorekeeper, tournament_id=tournament.pk, display_name=f"P{number:02}"
        )
    services.round_create(user=scorekeeper, tournament_id=tournament.pk)
    tournament.refresh_from_db()
    return tournament


def player_ids(event: Tournament) -> list[int]:
    return list(
        Player.objects.filter(tournament=event)
        .order_by("display_name")
        .values_list("pk", flat=True)
    )


def lobby(ids: list[int], placements: list[int] | None = None) -> list[dict[str, int]]:
    placements = placements or list(range(1, len(ids) + 1))
    return [{"player": pk, "placement": p} for pk, p in zip(ids, placements, strict=True)]


def save(user: Any, event: Tournament, results: Any, *, lobby_number: int = 1, **kw: Any) -> Any:
    return services.lobby_results_save(
        user=user,
        tournament_id=event.pk,
        round_number=1,
        lobby_number=lobby_number,
        results=results,
        **kw,
    )


def refused(call: Callable[[], Any]) -> dict[str, list[str]]:
    """The field details of the ValidationFailed `call` raises, after checking nothing was
    written: no result, no audit row, no event, the revision unchanged."""
    counts = (Result.objects.count(), ResultChange.objects.count(), Event.objects.count())
    revisions = list(Tournament.objects.values_list("revision", flat=True))
    with pytest.raises(ValidationFailed) as failure:
        call()
    assert (Result.objects.count(), ResultChange.objects.count(), Event.objects.count()) == counts
    assert list(Tournament.objects.values_list("revision", flat=True)) == revisions
    return failure.value.details


# -- who ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["Viewer", "Editor"])
def test_viewers_and_editors_cannot_enter_results(
    role: str, make_user: Callable[..., Any], event: Tournament
) -> None:
    with pytest.raises(PermissionDenied):
        save(make_user(role=role), event, lobby(player_ids(event)[:8]))
    assert not Result.objects.exists()


def test_anonymous_cannot_enter_results(event: Tournament) -> None:
    with pytest.raises(NotAuthenticated):
        save(None, event, lobby(player_ids(event)[:8]))


@pytest.mark.parametrize("role", ["scorekeeper", "lock_admin", "superuser"])
def test_scorekeepers_lock_admins_and_superusers_enter_results(
    role: str, make_user: Callable[..., Any], event: Tournament
) -> None:
    user = {
        "scorekeeper": lambda: make_user(role=SCOREKEEPER),
        "lock_admin": lambda: make_user(role="Lock admin"),
        "superuser": lambda: make_user(superuser=True),
    }[role]()
    saved = save(user, event, lobby(player_ids(event)[:8]))
    assert [(r.placement, r.points) for r in saved] == [(p, 9 - p) for p in range(1, 9)]


# -- the rules, each with its field ---------------------------------------------------------------


def test_a_placement_outside_1_to_8(scorekeeper: Any, event: Tournament) -> None:
    ids = player_ids(event)[:8]
    results = lobby(ids)
    results[2]["placement"] = 9
    results[5]["placement"] = 0
    details = refused(lambda: save(scorekeeper, event, results))
    assert details["results[2].placement"] == ["A placement from 1 to 8."]
    assert details["results[5].placement"] == ["A placement from 1 to 8."]


def test_a_placement_used_twice_in_a_lobby(scorekeeper: Any, event: Tournament) -> None:
    results = lobby(player_ids(event)[:8], [1, 2, 3, 4, 5, 6, 7, 3])
    details = refused(lambda: save(scorekeeper, event, results))
    assert details == {
        "results[7].placement": [
            "Placement 3 is used twice in lobby 1 (also at results[2].placement)."
        ]
    }


def test_a_player_in_two_lobbies_of_one_round(scorekeeper: Any, event: Tournament) -> None:
    ids = player_ids(event)
    save(scorekeeper, event, lobby(ids[:8]))
    details = refused(lambda: save(scorekeeper, event, lobby([ids[8], ids[0]]), lobby_number=2))
    assert details == {"results[1].player": ["P01 already has a result in lobby 1 of round 1."]}


def test_a_player_not_in_the_event(
    scorekeeper: Any, event: Tournament, make_user: Callable[..., Any]
) -> None:
    other = services.tournament_create(user=scorekeeper, name="Another event")
    stranger = services.player_create(user=scorekeeper, tournament_id=other.pk, display_name="X")
    results = lobby([*player_ids(event)[:7], stranger.pk])
    details = refused(lambda: save(scorekeeper, event, results))
    assert details == {"results[7].player": [f"Player {stranger.pk} is not in {EVENT}."]}


def test_a_player_listed_twice(scorekeeper: Any, event: Tournament) -> None:
    ids = player_ids(event)
    details = refused(lambda: save(scorekeeper, event, lobby([ids[0], ids[1], ids[0]])))
    assert details == {"results[2].player": ["P01 is listed twice (also at results[0].player)."]}


def test_a_missing_player_in_a_full_lobby(scorekeeper: Any, event: Tournament) -> None:
    """Seven players with placements up to 8th: the lobby is full, one player is missing."""
    results = lobby(player_ids(event)[:7], [1, 2, 3, 4, 6, 7, 8])
    details = refused(lambda: save(scorekeeper, event, results))
    assert list(details) == ["results"]
    assert "no player at 5" in details["results"][0]


def test_a_lobby_of_fewer_players_uses_placements_1_to_n(
    scorekeeper: Any, event: Tournament
) -> None:
    saved = save(scorekeeper, event, lobby(player_ids(event)[:6]))
    assert [r.placement for r in saved] == [1, 2, 3, 4, 5, 6]


def test_more_than_eight_players(scorekeeper: Any, event: Tournament) -> None:
    details = refused(lambda: save(scorekeeper, event, lobby(player_ids(event)[:9])))
    assert details == {"results": ["A lobby holds at most 8 players."]}


@pytest.mark.parametrize(
    ("results", "field"),
    [
        ("1st", "results"),
        ([["p", 1]], "results[0]"),
        ([{"player": 1, "placement": 1, "extra": 1}], "results[0]"),
        ([{"player": "P01", "placement": 1}], "results[0].player"),
        ([{"player": True, "placement": 1}], "results[0].player"),
        ([{"player": None, "placement": 1.0}], "results[0].player"),
    ],
)
def test_wrong_types_name_their_field(
    scorekeeper: Any, event: Tournament, results: Any, field: str
) -> None:
    assert field in refused(lambda: save(scorekeeper, event, results))


def test_every_problem_is_reported_at_once(scorekeeper: Any, event: Tournament) -> None:
    ids = player_ids(event)
    results = [
        {"player": ids[0], "placement": 1},
        {"player": 10**9, "placement": 1},
        {"player": ids[0], "placement": 12},
    ]
    details = refused(lambda: save(scorekeeper, event, results))
    assert set(details) == {
        "results[1].player",
        "results[1].placement",
        "results[2].player",
        "results[2].placement",
    }


# -- corrections and the audit --------------------------------------------------------------------


def test_a_correction_keeps_who_changed_what_and_when(
    scorekeeper: Any, event: Tournament, make_user: Callable[..., Any]
) -> None:
    ids = player_ids(event)[:8]
    save(scorekeeper, event, lobby(ids))
    fixer = make_user("fixer", role="Lock admin")
    # P01 and P02 were swapped: a correction, minutes later.
    save(fixer, event, lobby(ids, [2, 1, 3, 4, 5, 6, 7, 8]), reason="misreported")
    points = dict(Result.objects.values_list("player__display_name", "points"))
    assert (points["P01"], points["P02"]) == (7, 8)
    corrections = ResultChange.objects.filter(actor=fixer).order_by("player_name")
    assert [
        (c.player_name, c.old_placement, c.new_placement, c.old_points, c.new_points)
        for c in corrections
    ] == [("P01", 1, 2, 8, 7), ("P02", 2, 1, 7, 8)]
    assert {(c.reason, c.source, c.round_number, c.lobby_number) for c in corrections} == {
        ("misreported", "lobby", 1, 1)
    }
    # The first entry is audited too: eight rows, by the scorekeeper, from nothing.
    entered = ResultChange.objects.filter(actor=scorekeeper)
    assert entered.count() == 8
    assert {c.old_placement for c in entered} == {None}


def test_saving_the_same_results_again_changes_nothing(scorekeeper: Any, event: Tournament) -> None:
    ids = player_ids(event)[:8]
    save(scorekeeper, event, lobby(ids))
    revision = Tournament.objects.get(pk=event.pk).revision
    audit = ResultChange.objects.count()
    save(scorekeeper, event, lobby(ids))
    assert Tournament.objects.get(pk=event.pk).revision == revision
    assert ResultChange.objects.count() == audit


def test_an_empty_lobby_clears_it(scorekeeper: Any, event: Tournament) -> None:
    save(scorekeeper, event, lobby(player_ids(event)[:8]))
    save(scorekeeper, event, [], reason="wrong lobby")
    assert not Result.objects.exists()
    assert ResultChange.objects.filter(new_placement=None, reason="wrong lobby").count() == 8


def test_a_new_points_table_rescores_every_result(scorekeeper: Any, event: Tournament) -> None:
    save(scorekeeper, event, lobby(player_ids(event)[:8]))
    services.tournament_update(
        user=scorekeeper, tournament_id=event.pk, points_table=[11, 9, 7, 6, 4, 3, 2, 1]
    )
    assert sorted(Result.objects.values_list("points", flat=True), reverse=True) == [
        11,
        9,
        7,
        6,
        4,
        3,
        2,
        1,
    ]
    assert ResultChange.objects.filter(source="points_table").count() == 4  # 1st-3rd and 5th


@pytest.mark.parametrize(
    ("table", "field"),
    [
        ([8, 7, 6], "points_table"),
        ("8-7-6-5-4-3-2-1", "points_table"),
        ([8, 7, 6, 5, 4, 3, 2, "1"], "points_table[7]"),
        ([8, 7, 6, 5, 4, 3, 2, 10**6], "points_table[7]"),
    ],
)
def test_a_bad_points_table(scorekeeper: Any, table: Any, field: str) -> None:
    with pytest.raises(ValidationFailed) as failure:
        services.tournament_create(user=scorekeeper, name="E", points_table=table)
    assert field in failure.value.details


@pytest.mark.parametrize(
    ("tie_breakers", "field"),
    [
        (["coin_flip"], "tie_breakers[0]"),
        (["placement_counts", "placement_counts"], "tie_breakers[1]"),
        ("placement_counts", "tie_breakers"),
    ],
)
def test_bad_tie_breakers(scorekeeper: Any, tie_breakers: Any, field: str) -> None:
    with pytest.raises(ValidationFailed) as failure:
        services.tournament_create(user=scorekeeper, name="E", tie_breakers=tie_breakers)
    assert field in failure.value.details


def test_event_and_player_names_are_unique(scorekeeper: Any, event: Tournament) -> None:
    with pytest.raises(ValidationFailed) as failure:
        services.tournament_create(user=scorekeeper, name=EVENT)
    assert "name" in failure.value.details
    with pytest.raises(ValidationFailed) as failure:
        services.player_create(user=scorekeeper, tournament_id=event.pk, display_name="P01")
    assert "display_name" in failure.value.details


# -- the event log --------------------------------------------------------------------------------


def last_seq() -> int:
    return Event.objects.order_by("-id").values_list("id", flat=True).first() or 0


def test_a_lobby_save_records_one_standings_update_per_bound_graphic(
    scorekeeper: Any, event: Tournament, make_graphic: Callable[..., Any]
) -> None:
    top8 = make_graphic(title="Top 8", event_name=EVENT)
    by_round = make_graphic(
        title="Round 1",
        event_name=EVENT,
        data=valid_canvas(elements=[list_element(element_type="placements", round_id="round_1")]),
    )
    make_graphic(title="Text only", event_name=EVENT, data=valid_canvas(elements=[text_element()]))
    make_graphic(title="Other event", event_name="Another event")
    before = last_seq()
    ids = player_ids(event)
    save(scorekeeper, event, lobby(ids[:8], [3, 1, 2, 4, 5, 6, 7, 8]))
    events = list(Event.objects.filter(id__gt=before).order_by("id"))
    assert [(e.type, e.graphic_id) for e in events] == [
        ("standings_update", top8.pk),
        ("standings_update", by_round.pk),
    ]
    top8_data = events[0].data
    assert top8_data["action"] == "results_saved"
    assert top8_data["user"] == "scorekeeper"
    standings = top8_data["standings"]
    assert standings["event_name"] == EVENT
    assert standings["tournament_id"] == event.pk
    assert standings["revision"] == Tournament.objects.get(pk=event.pk).revision
    assert list(standings["tables"]) == ["total"]
    total = standings["tables"]["total"]
    assert [(r["name"], r["rank"], r["points"]) for r in total[:3]] == [
        ("P02", 1, 8),
        ("P03", 2, 7),
        ("P01", 3, 6),
    ]
    # P09 and P10 have no result: last, unranked.
    assert [(r["name"], r["rank"]) for r in total[8:]] == [("P09", None), ("P10", None)]
    assert list(events[1].data["standings"]["tables"]) == ["round_1"]
    assert events[1].data["standings"]["tables"]["round_1"][0]["placement"] == 1


def test_with_no_graphic_bound_the_list_still_hears_of_the_change(
    scorekeeper: Any, event: Tournament
) -> None:
    before = last_seq()
    save(scorekeeper, event, lobby(player_ids(event)[:8]))
    events = list(Event.objects.filter(id__gt=before))
    assert [(e.type, e.graphic_id) for e in events] == [("standings_update", 0)]
    assert events[0].data["graphic_id"] is None
    assert events[0].data["standings"] == {
        "event_name": EVENT,
        "tournament_id": event.pk,
        "revision": Tournament.objects.get(pk=event.pk).revision,
    }


def test_a_refused_save_records_nothing(
    scorekeeper: Any, event: Tournament, make_graphic: Callable[..., Any]
) -> None:
    make_graphic(event_name=EVENT)
    refused(lambda: save(scorekeeper, event, lobby(player_ids(event)[:8], [1] * 8)))


def test_the_event_is_written_in_the_changes_transaction(
    scorekeeper: Any, event: Tournament, make_graphic: Callable[..., Any]
) -> None:
    """A save rolled back by its caller leaves neither results nor events behind."""
    make_graphic(event_name=EVENT)
    before = Event.objects.count()

    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        save(scorekeeper, event, lobby(player_ids(event)[:8]))
        assert Event.objects.count() == before + 1
        raise Abort
    assert Event.objects.count() == before
    assert not Result.objects.exists()


def test_a_rename_redraws_the_graphics_of_both_names(
    scorekeeper: Any, event: Tournament, make_graphic: Callable[..., Any]
) -> None:
    old = make_graphic(title="Old", event_name=EVENT)
    new = make_graphic(title="New", event_name="GAL Finals")
    before = last_seq()
    services.tournament_update(user=scorekeeper, tournament_id=event.pk, name="GAL Finals")
    events = {e.graphic_id: e.data for e in Event.objects.filter(id__gt=before)}
    assert events[old.pk]["standings"] == {
        "event_name": EVENT,
        "tournament_id": None,
        "revision": 0,
        "tables": {"total": []},
    }
    assert events[new.pk]["standings"]["tournament_id"] == event.pk
    assert len(events[new.pk]["standings"]["tables"]["total"]) == 10
    assert {data["action"] for data in events.values()} == {"event_renamed"}


def test_a_player_renamed_redraws(
    scorekeeper: Any, event: Tournament, make_graphic: Callable[..., Any]
) -> None:
    graphic = make_graphic(event_name=EVENT)
    first = player_ids(event)[0]
    services.player_update(
        user=scorekeeper, tournament_id=event.pk, player_id=first, display_name="Setsuko"
    )
    last = Event.objects.filter(graphic_id=graphic.pk).latest("id")
    assert last.data["action"] == "player_renamed"
    assert "Setsuko" in [row["name"] for row in last.data["standings"]["tables"]["total"]]


def test_a_graphic_bound_by_an_edit_gets_its_standings_after_the_update(
    scorekeeper: Any, event: Tournament, make_graphic: Callable[..., Any], editor: Any
) -> None:
    """A graphic whose event name changes to the event's: graphic_update, then its standings."""
    from graphics.models import Graphic

    graphic = make_graphic(event_name="Elsewhere")
    before = last_seq()
    # An edit in person (the admin's path: no lock needed); REST/WS go the same way.
    stored = Graphic.objects.get(pk=graphic.pk)
    stored.event_name = EVENT
    stored.updated_by = editor
    stored.save()
    events = list(Event.objects.filter(id__gt=before).order_by("id"))
    assert [e.type for e in events] == ["graphic_update", "standings_update"]
    assert events[1].data["action"] == "graphic_bound"
    assert events[1].data["standings"]["tournament_id"] == event.pk
    # A title change does not change what the lists draw: no standings_update.
    stored.title = "Renamed"
    stored.save()
    assert Event.objects.latest("id").type == "graphic_update"

"""The standings REST API (standings/api.py): events, players, rounds, a lobby's results with
their field-level refusals, the standings tables, the correction audit and the CSV upload,
each answering in the shapes its OpenAPI schema publishes."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from realtime.models import Event, EventType
from standings.imports import RESULTS_IMPORT_MAX_BYTES
from standings.models import Player, Result, ResultChange, Round, Tournament
from tests.conftest import error_of, lobby_results

pytestmark = pytest.mark.django_db

EVENTS = "/api/standings/events/"


def api_client(user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return client


def standings_updates() -> list[dict[str, Any]]:
    """The data of every standings_update in the event log, oldest first."""
    return [
        event.data for event in Event.objects.filter(type=EventType.STANDINGS_UPDATE).order_by("id")
    ]


def database_state() -> tuple[Any, ...]:
    """Everything a refused write must leave as it was."""
    return (
        tuple(Tournament.objects.order_by("pk").values_list("pk", "name", "revision")),
        tuple(Player.objects.order_by("pk").values_list("pk", "display_name")),
        tuple(Round.objects.order_by("pk").values_list("pk", "number")),
        tuple(Result.objects.order_by("pk").values_list("player_id", "round_id", "placement")),
        ResultChange.objects.count(),
        Event.objects.count(),
    )


@pytest.fixture
def event(make_event: Any) -> Any:
    """16 players (P01..P16), rounds 1 and 2, no results."""
    return make_event(players=16, rounds=2)


@pytest.fixture
def client(event: Any) -> APIClient:
    """The event's scorekeeper, signed in with a JWT."""
    return api_client(event.scorekeeper)


@pytest.fixture
def bound_graphic(make_graphic: Any, event: Any) -> Any:
    """A graphic drawing the event's total standings."""
    return make_graphic(title="Standings", event_name=event.name)


def lobby_url(event: Any, round_number: int = 1, lobby: int = 1) -> str:
    return f"{EVENTS}{event.pk}/rounds/{round_number}/lobbies/{lobby}/"


def save_lobby(client: APIClient, event: Any, placements: list[int], **kwargs: Any) -> Any:
    first = kwargs.pop("first", 0)
    body = {"results": lobby_results(event, placements, first=first), **kwargs}
    return client.put(lobby_url(event, kwargs.pop("round_number", 1)), body, format="json")


# -- events ---------------------------------------------------------------------------------------


def test_create_an_event_with_the_default_rules(client: APIClient) -> None:
    """POST events/ makes an event with Riot's points table and tie-breakers, no players, no
    rounds, revision 1 (its creation told the graphics)."""
    response = client.post(EVENTS, {"name": "GAL Season 3 Week 3"}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "GAL Season 3 Week 3"
    assert body["points_table"] == [8, 7, 6, 5, 4, 3, 2, 1]
    assert body["tie_breakers"] == ["top4_plus_firsts", "placement_counts", "latest_placement"]
    assert body["players"] == [] and body["rounds"] == []
    assert body["revision"] == 1
    assert Tournament.objects.get(pk=body["id"]).name == "GAL Season 3 Week 3"


def test_create_an_event_with_its_own_rules(client: APIClient) -> None:
    response = client.post(
        EVENTS,
        {
            "name": "Custom",
            "points_table": [10, 8, 6, 5, 4, 3, 2, 1],
            "tie_breakers": ["average_placement"],
        },
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["points_table"] == [10, 8, 6, 5, 4, 3, 2, 1]
    assert response.json()["tie_breakers"] == ["average_placement"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "GAL Season 3 Week 2"}, "name"),
        ({"name": "  "}, "name"),
        ({}, "name"),
        ({"name": "X", "points_table": [8, 7, 6]}, "points_table"),
        ({"name": "X", "points_table": [8, 7, 6, 5, 4, 3, 2, "1"]}, "points_table[7]"),
        ({"name": "X", "tie_breakers": ["coin_flip"]}, "tie_breakers[0]"),
        ({"name": "X", "tie_breakers": ["best_placement", "best_placement"]}, "tie_breakers[1]"),
        ({"name": "X", "colour": "red"}, "colour"),
    ],
)
def test_create_an_event_refuses_bad_fields(
    client: APIClient, event: Any, body: dict[str, Any], field: str
) -> None:
    """A taken or blank name, a points table that is not 8 whole numbers, an unknown or
    repeated tie-breaker and an unknown field are validation errors naming the field."""
    before = database_state()

    response = client.post(EVENTS, body, format="json")

    assert field in error_of(response, 400, "validation_error")["details"]
    assert database_state() == before


def test_list_events_newest_first_with_their_rounds(client: APIClient, make_event: Any) -> None:
    older = Tournament.objects.get()
    newer = make_event("GAL Season 3 Week 3", players=2, rounds=3)

    response = client.get(EVENTS)

    assert response.status_code == 200
    assert [(e["id"], e["rounds"]) for e in response.json()] == [
        (newer.pk, [1, 2, 3]),
        (older.pk, [1, 2]),
    ]
    assert "players" not in response.json()[0]


def test_read_an_event_with_its_players_and_rounds(client: APIClient, event: Any) -> None:
    response = client.get(f"{EVENTS}{event.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == event.pk and body["name"] == event.name
    assert [player["display_name"] for player in body["players"]] == [
        f"P{n:02}" for n in range(1, 17)
    ]
    assert body["rounds"] == [1, 2]


def test_an_unknown_event_is_not_found(client: APIClient) -> None:
    for path in ("", "standings/", "players/", "rounds/", "rounds/1/", "changes/"):
        error_of(client.get(f"{EVENTS}999999/{path}"), 404, "not_found")


def test_rename_an_event_moves_its_standings_to_graphics_with_the_new_name(
    client: APIClient, event: Any, make_graphic: Any
) -> None:
    """A rename answers the event and tells both the graphics bound to the old name (now
    empty) and those bound to the new one."""
    old = make_graphic(title="Old", event_name=event.name)
    new = make_graphic(title="New", event_name="GAL Season 3 Week 2 (final)")
    before = len(standings_updates())

    response = client.patch(
        f"{EVENTS}{event.pk}/", {"name": "GAL Season 3 Week 2 (final)"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["name"] == "GAL Season 3 Week 2 (final)"
    updates = standings_updates()[before:]
    assert {u["graphic_id"]: u["action"] for u in updates} == {
        old.pk: "event_renamed",
        new.pk: "event_renamed",
    }
    by_graphic = {u["graphic_id"]: u["standings"] for u in updates}
    assert by_graphic[old.pk]["tournament_id"] is None
    assert by_graphic[new.pk]["tournament_id"] == event.pk


def test_a_new_points_table_rescores_every_result_and_audits_it(
    client: APIClient, event: Any
) -> None:
    assert save_lobby(client, event, [1, 2, 3, 4, 5, 6, 7, 8]).status_code == 200

    response = client.patch(
        f"{EVENTS}{event.pk}/",
        {"points_table": [10, 8, 6, 5, 4, 3, 2, 1], "reason": "League rules"},
        format="json",
    )

    assert response.status_code == 200
    assert Result.objects.get(placement=1).points == 10
    change = ResultChange.objects.get(source="points_table", new_placement=1)
    assert (change.old_points, change.new_points, change.reason) == (8, 10, "League rules")
    standings = client.get(f"{EVENTS}{event.pk}/standings/").json()
    assert standings["rows"][0]["points"] == 10


def test_edit_an_event_refuses_nothing_to_change_and_unknown_fields(
    client: APIClient, event: Any
) -> None:
    assert (
        "non_field_errors"
        in error_of(
            client.patch(f"{EVENTS}{event.pk}/", {}, format="json"), 400, "validation_error"
        )["details"]
    )
    assert (
        "revision"
        in error_of(
            client.patch(f"{EVENTS}{event.pk}/", {"revision": 7}, format="json"),
            400,
            "validation_error",
        )["details"]
    )


def test_delete_an_event_keeps_the_audit(client: APIClient, event: Any, bound_graphic: Any) -> None:
    """DELETE removes the event with its players, rounds and results; the audit keeps its
    rows (by name); bound graphics are told the event is gone."""
    save_lobby(client, event, [1, 2, 3, 4, 5, 6, 7, 8])

    response = client.delete(f"{EVENTS}{event.pk}/")

    assert response.status_code == 204
    assert not Tournament.objects.exists()
    assert not Player.objects.exists() and not Result.objects.exists()
    assert ResultChange.objects.filter(tournament_name=event.name).count() == 8
    last = standings_updates()[-1]
    assert (last["graphic_id"], last["action"]) == (bound_graphic.pk, "event_deleted")
    error_of(client.get(f"{EVENTS}{event.pk}/"), 404, "not_found")


# -- players --------------------------------------------------------------------------------------


def test_add_a_player_and_read_it(client: APIClient, event: Any) -> None:
    response = client.post(
        f"{EVENTS}{event.pk}/players/",
        {"display_name": " Setsuko ", "riot_id": "Setsuko#EUW", "discord_id": "1234"},
        format="json",
    )

    assert response.status_code == 201
    player = response.json()
    assert (player["display_name"], player["riot_id"], player["discord_id"]) == (
        "Setsuko",
        "Setsuko#EUW",
        "1234",
    )
    read = client.get(f"{EVENTS}{event.pk}/players/{player['id']}/")
    assert read.status_code == 200 and read.json() == player
    names = [p["display_name"] for p in client.get(f"{EVENTS}{event.pk}/players/").json()]
    assert names == sorted([*(f"P{n:02}" for n in range(1, 17)), "Setsuko"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"display_name": "P01"}, "display_name"),
        ({"display_name": ""}, "display_name"),
        ({"display_name": "X" * 101}, "display_name"),
        ({"display_name": "New", "riot_id": "Taken#1"}, "riot_id"),
        ({"display_name": "New", "discord_id": 42}, "discord_id"),
        ({"display_name": "New", "team": "A"}, "team"),
    ],
)
def test_add_a_player_refuses_bad_fields(
    client: APIClient, event: Any, body: dict[str, Any], field: str
) -> None:
    client.post(
        f"{EVENTS}{event.pk}/players/",
        {"display_name": "Holder", "riot_id": "Taken#1"},
        format="json",
    )
    before = database_state()

    response = client.post(f"{EVENTS}{event.pk}/players/", body, format="json")

    assert field in error_of(response, 400, "validation_error")["details"]
    assert database_state() == before


def test_rename_a_player_reaches_the_bound_graphics(
    client: APIClient, event: Any, bound_graphic: Any
) -> None:
    player = Player.objects.get(tournament=event, display_name="P01")

    response = client.patch(
        f"{EVENTS}{event.pk}/players/{player.pk}/", {"display_name": "Setsuko"}, format="json"
    )

    assert response.status_code == 200 and response.json()["display_name"] == "Setsuko"
    last = standings_updates()[-1]
    assert last["action"] == "player_renamed"
    assert "Setsuko" in [row["name"] for row in last["standings"]["tables"]["total"]]


def test_a_player_of_another_event_is_not_found_here(
    client: APIClient, event: Any, make_event: Any
) -> None:
    other = make_event("Other", players=1, rounds=0)
    stranger = Player.objects.get(tournament=other)

    error_of(client.get(f"{EVENTS}{event.pk}/players/{stranger.pk}/"), 404, "not_found")
    error_of(
        client.patch(
            f"{EVENTS}{event.pk}/players/{stranger.pk}/", {"display_name": "Z"}, format="json"
        ),
        404,
        "not_found",
    )


def test_remove_a_player_audits_their_results_with_the_reason(
    client: APIClient, event: Any
) -> None:
    save_lobby(client, event, [1, 2, 3, 4, 5, 6, 7, 8])
    player = Player.objects.get(tournament=event, display_name="P03")

    response = client.delete(
        f"{EVENTS}{event.pk}/players/{player.pk}/", {"reason": "Disqualified"}, format="json"
    )

    assert response.status_code == 204
    assert not Player.objects.filter(pk=player.pk).exists()
    removed = ResultChange.objects.get(source="deleted")
    assert (removed.player_name, removed.old_placement, removed.new_placement) == ("P03", 3, None)
    assert removed.reason == "Disqualified"


# -- rounds ---------------------------------------------------------------------------------------


def test_add_rounds_next_number_or_the_one_given(client: APIClient, event: Any) -> None:
    next_one = client.post(f"{EVENTS}{event.pk}/rounds/", {}, format="json")
    given = client.post(f"{EVENTS}{event.pk}/rounds/", {"number": 7}, format="json")

    assert next_one.status_code == 201
    assert next_one.json() == {"number": 3, "round_id": "round_3", "lobbies": []}
    assert given.status_code == 201 and given.json()["number"] == 7
    assert client.get(f"{EVENTS}{event.pk}/rounds/").json() == [
        {"number": n, "round_id": f"round_{n}", "results": 0} for n in (1, 2, 3, 7)
    ]


@pytest.mark.parametrize("number", [1, 0, 65, "2", True])
def test_add_a_round_refuses_a_taken_or_bad_number(
    client: APIClient, event: Any, number: Any
) -> None:
    before = database_state()

    response = client.post(f"{EVENTS}{event.pk}/rounds/", {"number": number}, format="json")

    assert "number" in error_of(response, 400, "validation_error")["details"]
    assert database_state() == before


def test_read_a_round_with_its_lobbies(client: APIClient, event: Any) -> None:
    save_lobby(client, event, [8, 7, 6, 5, 4, 3, 2, 1])
    client.put(
        lobby_url(event, 1, 2),
        {"results": lobby_results(event, [1, 2], first=8)},
        format="json",
    )

    response = client.get(f"{EVENTS}{event.pk}/rounds/1/")

    assert response.status_code == 200
    body = response.json()
    assert body["number"] == 1 and body["round_id"] == "round_1"
    assert [lobby["number"] for lobby in body["lobbies"]] == [1, 2]
    first = body["lobbies"][0]["results"]
    assert [(r["name"], r["placement"], r["points"]) for r in first[:2]] == [
        ("P08", 1, 8),
        ("P07", 2, 7),
    ]
    summary = client.get(f"{EVENTS}{event.pk}/rounds/").json()
    assert summary[0]["results"] == 10


def test_delete_a_round_audits_its_results(client: APIClient, event: Any) -> None:
    save_lobby(client, event, [1, 2, 3, 4, 5, 6, 7, 8])

    response = client.delete(f"{EVENTS}{event.pk}/rounds/1/?reason=Replayed")

    assert response.status_code == 204
    assert list(Round.objects.filter(tournament=event).values_list("number", flat=True)) == [2]
    removed = ResultChange.objects.filter(source="deleted")
    assert removed.count() == 8
    assert set(removed.values_list("reason", flat=True)) == {"Replayed"}
    error_of(client.get(f"{EVENTS}{event.pk}/rounds/1/"), 404, "not_found")


# -- a lobby's results ----------------------------------------------------------------------------


def test_save_a_lobby_answers_it_with_the_standings_and_tells_the_graphics(
    client: APIClient, event: Any, bound_graphic: Any
) -> None:
    """PUT .../lobbies/1/ saves the eight placements, answers the lobby in placement order and
    the total standings, and records one standings_update for the bound graphic."""
    before = len(standings_updates())

    response = save_lobby(client, event, [3, 1, 2, 4, 5, 6, 7, 8], reason="")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["round"], body["lobby"]) == (1, 1)
    assert [(r["name"], r["placement"], r["points"]) for r in body["results"][:3]] == [
        ("P02", 1, 8),
        ("P03", 2, 7),
        ("P01", 3, 6),
    ]
    standings = body["standings"]
    assert standings["tournament_id"] == event.pk and standings["round_id"] == "total"
    assert [row["name"] for row in standings["rows"][:3]] == ["P02", "P03", "P01"]
    assert standings["rows"][8]["rank"] is None  # P09..P16 have not played
    updates = standings_updates()[before:]
    assert len(updates) == 1
    assert updates[0]["action"] == "results_saved"
    assert updates[0]["graphic_id"] == bound_graphic.pk
    assert updates[0]["standings"]["tables"]["total"] == standings["rows"]
    assert updates[0]["standings"]["revision"] == standings["revision"]


def test_a_correction_is_audited_and_readable_through_the_api(
    client: APIClient, event: Any
) -> None:
    """Saving over a lobby keeps who changed which placement, when and why; GET changes/
    lists it newest first."""
    save_lobby(client, event, [1, 2, 3, 4, 5, 6, 7, 8])

    corrected = save_lobby(client, event, [2, 1, 3, 4, 5, 6, 7, 8], reason="Misreported")

    assert corrected.status_code == 200
    page = client.get(f"{EVENTS}{event.pk}/changes/").json()
    assert page["count"] == 10
    newest = page["results"][:2]
    assert {(c["player_name"], c["old_placement"], c["new_placement"]) for c in newest} == {
        ("P01", 1, 2),
        ("P02", 2, 1),
    }
    for change in newest:
        assert change["reason"] == "Misreported"
        assert change["source"] == "lobby"
        assert change["actor"] == {
            "id": event.scorekeeper.pk,
            "username": event.scorekeeper.username,
        }
        assert (change["round"], change["lobby"]) == (1, 1)
        assert change["created_at"].endswith("Z")
    assert {c["old_placement"] for c in page["results"][2:]} == {None}  # the first save


def test_the_changes_list_is_paginated(client: APIClient, event: Any) -> None:
    save_lobby(client, event, [1, 2, 3, 4, 5, 6, 7, 8])

    first = client.get(f"{EVENTS}{event.pk}/changes/?page_size=3").json()
    last = client.get(f"{EVENTS}{event.pk}/changes/?page_size=3&page=3").json()

    assert first["count"] == 8 and len(first["results"]) == 3 and first["next"]
    assert len(last["results"]) == 2 and last["next"] is None
    error_of(client.get(f"{EVENTS}{event.pk}/changes/?page_size=x"), 400, "validation_error")


def test_an_empty_list_clears_the_lobby(client: APIClient, event: Any) -> None:
    save_lobby(client, event, [1, 2, 3, 4, 5, 6, 7, 8])

    response = client.put(lobby_url(event), {"results": []}, format="json")

    assert response.status_code == 200 and response.json()["results"] == []
    assert not Result.objects.exists()


def test_a_short_lobby_uses_placements_one_to_n(client: APIClient, event: Any) -> None:
    response = save_lobby(client, event, [1, 2, 3, 4, 5, 6])

    assert response.status_code == 200
    assert Result.objects.count() == 6


@pytest.mark.parametrize(
    ("placements", "field", "words"),
    [
        ([1, 2, 9, 3, 4, 5, 6, 7], "results[2].placement", "from 1 to 8"),
        ([1, 2, 0, 3, 4, 5, 6, 7], "results[2].placement", "from 1 to 8"),
        ([1, 2, 3, 3, 4, 5, 6, 7], "results[3].placement", "used twice"),
        ([1, 2, 3, 5, 6, 7, 8], "results", "no player at 4"),
    ],
)
def test_a_lobby_refuses_bad_placements_field_by_field(
    client: APIClient, event: Any, bound_graphic: Any, placements: list[int], field: str, words: str
) -> None:
    """A placement outside 1-8, one used twice, and a gap in a full lobby (an 8th but no 4th)
    are validation errors naming the field; nothing is saved and nothing is broadcast."""
    before = database_state()

    response = save_lobby(client, event, placements)

    error = error_of(response, 400, "validation_error")
    assert field in error["details"]
    assert any(words in message for message in error["details"][field])
    assert "nothing was saved" in error["message"]
    assert database_state() == before


def test_a_lobby_refuses_a_player_already_in_another_lobby_of_the_round(
    client: APIClient, event: Any
) -> None:
    save_lobby(client, event, [1, 2, 3, 4, 5, 6, 7, 8])
    results = lobby_results(event, [1, 2, 3, 4, 5, 6, 7, 8], first=8)
    results[5]["player"] = Player.objects.get(tournament=event, display_name="P01").pk
    before = database_state()

    response = client.put(lobby_url(event, 1, 2), {"results": results}, format="json")

    details = error_of(response, 400, "validation_error")["details"]
    assert "lobby 1" in details["results[5].player"][0]
    assert database_state() == before


def test_a_lobby_refuses_a_player_not_in_the_event(
    client: APIClient, event: Any, make_event: Any
) -> None:
    stranger = Player.objects.get(tournament=make_event("Other", players=1, rounds=0))
    results = lobby_results(event, [1, 2])
    results[1]["player"] = stranger.pk
    before = database_state()

    response = client.put(lobby_url(event), {"results": results}, format="json")

    details = error_of(response, 400, "validation_error")["details"]
    assert "not in" in details["results[1].player"][0]
    assert database_state() == before


def test_a_lobby_refuses_the_same_player_twice(client: APIClient, event: Any) -> None:
    results = lobby_results(event, [1, 2])
    results[1]["player"] = results[0]["player"]

    response = client.put(lobby_url(event), {"results": results}, format="json")

    assert (
        "listed twice"
        in error_of(response, 400, "validation_error")["details"]["results[1].player"][0]
    )


def test_every_problem_of_a_lobby_is_reported_at_once(client: APIClient, event: Any) -> None:
    results = lobby_results(event, [1, 9, 1, 2])

    response = client.put(lobby_url(event), {"results": results}, format="json")

    details = error_of(response, 400, "validation_error")["details"]
    assert set(details) == {"results[1].placement", "results[2].placement"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "results"),
        ({"results": "P01 1st"}, "results"),
        ({"results": [{"player": 1}] * 9}, "results"),
        ({"results": [{"player": 1, "placement": 1, "points": 8}]}, "results[0]"),
        ({"results": [{"player": "P01", "placement": 1}]}, "results[0].player"),
        ({"results": [], "reason": 5}, "reason"),
        ({"results": [], "lobby": 2}, "lobby"),
    ],
)
def test_a_lobby_refuses_a_malformed_body(
    client: APIClient, event: Any, body: dict[str, Any], field: str
) -> None:
    response = client.put(lobby_url(event), body, format="json")

    assert field in error_of(response, 400, "validation_error")["details"]


def test_a_lobby_of_a_missing_round_or_past_the_last_lobby_number(
    client: APIClient, event: Any
) -> None:
    error_of(client.put(lobby_url(event, 9), {"results": []}, format="json"), 404, "not_found")
    details = error_of(
        client.put(lobby_url(event, 1, 65), {"results": []}, format="json"),
        400,
        "validation_error",
    )["details"]
    assert "lobby" in details


# -- standings ------------------------------------------------------------------------------------


def test_standings_total_and_of_one_round(client: APIClient, event: Any) -> None:
    """?round= picks the table: total (default), round_N or N; each row as the list elements
    draw it."""
    save_lobby(client, event, [1, 2, 3, 4, 5, 6, 7, 8])
    client.put(
        lobby_url(event, 2),
        {"results": lobby_results(event, [8, 7, 6, 5, 4, 3, 2, 1])},
        format="json",
    )

    total = client.get(f"{EVENTS}{event.pk}/standings/").json()
    round_2 = client.get(f"{EVENTS}{event.pk}/standings/?round=round_2").json()
    also_round_2 = client.get(f"{EVENTS}{event.pk}/standings/?round=2").json()

    assert total["round_id"] == "total" and round_2["round_id"] == "round_2"
    assert also_round_2 == round_2
    assert {row["points"] for row in total["rows"][:8]} == {9}  # everyone 9 points
    assert total["rows"][0] == {
        "rank": 1,
        "player_id": Player.objects.get(tournament=event, display_name="P08").pk,
        "name": "P08",  # the tie-breakers: a first in the latest round
        "points": 9,
        "placement": 1,
        "played": 2,
    }
    assert [row["name"] for row in round_2["rows"][:2]] == ["P08", "P07"]
    assert round_2["rows"][0]["placement"] == 1 and round_2["rows"][0]["played"] == 1
    assert total["event_name"] == event.name and total["revision"] == event.revision + 2


@pytest.mark.parametrize("query", ["round=round_0", "round=final", "round=1&round=2", "round=-1"])
def test_standings_refuse_an_unknown_table(client: APIClient, event: Any, query: str) -> None:
    response = client.get(f"{EVENTS}{event.pk}/standings/?{query}")

    assert "round" in error_of(response, 400, "validation_error")["details"]


# -- the CSV upload -------------------------------------------------------------------------------

SHEET = "player,round,placement\n" + "".join(f"P{n:02},1,{n}\n" for n in range(1, 9))


def test_import_csv_as_json(client: APIClient, event: Any, bound_graphic: Any) -> None:
    before = len(standings_updates())

    response = client.post(
        f"{EVENTS}{event.pk}/import/", {"csv": SHEET, "reason": "From the bot"}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json() == {"imported": 8, "rounds": [1], "changed": 8}
    assert Result.objects.filter(round__number=1).count() == 8
    assert set(ResultChange.objects.values_list("source", "reason")) == {("import", "From the bot")}
    updates = standings_updates()[before:]
    assert [u["action"] for u in updates] == ["results_imported"]


def test_import_csv_as_an_uploaded_file(client: APIClient, event: Any) -> None:
    upload = SimpleUploadedFile("results.csv", SHEET.encode(), content_type="text/csv")

    response = client.post(f"{EVENTS}{event.pk}/import/", {"file": upload}, format="multipart")

    assert response.status_code == 200, response.content
    assert response.json()["imported"] == 8


def test_a_rejected_upload_names_line_and_column_and_saves_nothing(
    client: APIClient, event: Any, bound_graphic: Any
) -> None:
    sheet = SHEET.replace("P03,1,3", "P03,1,three").replace("P05,1,5", "Nobody,1,5")
    upload = SimpleUploadedFile("results.csv", sheet.encode(), content_type="text/csv")
    before = database_state()

    response = client.post(f"{EVENTS}{event.pk}/import/", {"file": upload}, format="multipart")

    details = error_of(response, 400, "validation_error")["details"]
    assert set(details) == {"line 4, column placement", "line 6, column player"}
    assert database_state() == before


def test_an_upload_needs_a_file_and_known_fields(client: APIClient, event: Any) -> None:
    missing = client.post(f"{EVENTS}{event.pk}/import/", {"reason": "x"}, format="multipart")
    extra = client.post(
        f"{EVENTS}{event.pk}/import/",
        {"file": SimpleUploadedFile("r.csv", SHEET.encode()), "round": "1"},
        format="multipart",
    )
    no_csv = client.post(f"{EVENTS}{event.pk}/import/", {}, format="json")

    assert "file" in error_of(missing, 400, "validation_error")["details"]
    assert "round" in error_of(extra, 400, "validation_error")["details"]
    assert "csv" in error_of(no_csv, 400, "validation_error")["details"]


def test_an_empty_upload_is_refused_on_the_file_field(client: APIClient, event: Any) -> None:
    upload = SimpleUploadedFile("results.csv", b"", content_type="text/csv")

    response = client.post(f"{EVENTS}{event.pk}/import/", {"file": upload}, format="multipart")

    assert error_of(response, 400, "validation_error")["details"] == {
        "file": ["The file is empty."]
    }


def test_an_upload_over_the_limit_is_too_large(client: APIClient, event: Any) -> None:
    big = SHEET.encode() + b"\n" * RESULTS_IMPORT_MAX_BYTES
    upload = SimpleUploadedFile("results.csv", big, content_type="text/csv")
    before = database_state()

    response = client.post(f"{EVENTS}{event.pk}/import/", {"file": upload}, format="multipart")

    assert "file" in error_of(response, 413, "too_large")["details"]
    assert database_state() == before


def test_an_upload_that_is_not_csv_or_json_is_refused(client: APIClient, event: Any) -> None:
    response = client.post(
        f"{EVENTS}{event.pk}/import/", SHEET, content_type="application/x-www-form-urlencoded"
    )

    error_of(response, 415, "unsupported_media_type")


def test_an_upload_to_an_unknown_event_is_not_found(client: APIClient) -> None:
    error_of(
        client.post(f"{EVENTS}999999/import/", {"csv": SHEET}, format="json"), 404, "not_found"
    )


# -- the published shapes -------------------------------------------------------------------------


@pytest.fixture
def schema() -> dict[str, Any]:
    response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    document: dict[str, Any] = json.loads(response.content)
    return document


def assert_matches(schema: dict[str, Any], component: str, instance: Any) -> None:
    jsonschema.validate(
        instance,
        {"$ref": f"#/components/schemas/{component}", "components": schema["components"]},
        cls=jsonschema.Draft202012Validator,
    )


def test_answers_match_the_published_schema(
    schema: dict[str, Any], client: APIClient, event: Any
) -> None:
    """What each endpoint answers validates against the component the schema names for it."""
    saved = save_lobby(client, event, [1, 2, 3, 4, 5, 6, 7, 8]).json()
    base = f"{EVENTS}{event.pk}/"
    player_id = Player.objects.filter(tournament=event).first().pk  # type: ignore[union-attr]

    assert_matches(schema, "LobbySaved", saved)
    assert_matches(schema, "StandingsEvent", client.get(base).json())
    for summary in client.get(EVENTS).json():
        assert_matches(schema, "StandingsEventSummary", summary)
    assert_matches(schema, "StandingsTable", client.get(f"{base}standings/?round=1").json())
    assert_matches(schema, "StandingsPlayer", client.get(f"{base}players/{player_id}/").json())
    for round_summary in client.get(f"{base}rounds/").json():
        assert_matches(schema, "StandingsRoundSummary", round_summary)
    assert_matches(schema, "StandingsRound", client.get(f"{base}rounds/1/").json())
    assert_matches(schema, "ResultChangePage", client.get(f"{base}changes/").json())
    imported = client.post(f"{base}import/", {"csv": SHEET}, format="json").json()
    assert_matches(schema, "ResultsImported", imported)
    assert_matches(schema, "ErrorResponse", client.get(f"{base}rounds/9/").json())
    paths = schema["paths"]
    assert set(paths[f"{EVENTS}{{event_id}}/rounds/{{number}}/lobbies/{{lobby}}/"]) == {"put"}
    assert paths[EVENTS]["get"]["tags"] == ["standings"]


def test_the_bot_service_account_of_the_readme(event: Any) -> None:
    """The README's recipe: a plain user in the Scorekeeper group gets a JWT from
    /api/auth/token/ with its password and saves a lobby with it."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    bot = get_user_model().objects.create_user("league-bot", password="a long random password")
    bot.groups.add(Group.objects.get(name="Scorekeeper"))
    anonymous = APIClient()
    token = anonymous.post(
        "/api/auth/token/",
        {"username": "league-bot", "password": "a long random password"},
        format="json",
    )
    assert token.status_code == 200
    anonymous.credentials(HTTP_AUTHORIZATION=f"Bearer {token.json()['access']}")

    response = anonymous.put(
        lobby_url(event, 1, 1),
        {
            "results": lobby_results(event, [1, 2, 3, 4, 5, 6, 7, 8]),
            "reason": "Posted by the league bot",
        },
        format="json",
    )

    assert response.status_code == 200, response.content
    assert set(ResultChange.objects.values_list("actor__username", "reason")) == {
        ("league-bot", "Posted by the league bot")
    }

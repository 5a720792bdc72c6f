"""The standings admin (standings/admin.py): events, players and rounds added, renamed and
deleted through the services (so each is checked, audited and broadcast), results and the
correction audit read-only, and who may do what."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from gal_dashboard.access import EDITOR, SCOREKEEPER, VIEWER
from realtime.models import Event, EventType
from standings import services
from standings.models import Player, Result, ResultChange, Round, Tournament
from tests.conftest import lobby_results

pytestmark = pytest.mark.django_db


def staff(make_user: Any, name: str, role: str | None) -> Any:
    return make_user(name, role=role, is_staff=True)


@pytest.fixture
def event(make_event: Any) -> Any:
    return make_event(players=8, rounds=1)


@pytest.fixture
def scorekeeper_client(make_user: Any) -> Client:
    client = Client()
    client.force_login(staff(make_user, "desk", SCOREKEEPER))
    return client


def actions_since(count: int, graphic: Any) -> list[str]:
    """The actions of the standings_updates recorded for `graphic` after the first `count`
    standings_updates of the log."""
    events = Event.objects.filter(type=EventType.STANDINGS_UPDATE).order_by("id")[count:]
    return [event.data["action"] for event in events if event.graphic_id == graphic.pk]


def updates_so_far() -> int:
    return Event.objects.filter(type=EventType.STANDINGS_UPDATE).count()


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def change_form(event: Any, **fields: Any) -> dict[str, Any]:
    """The POST of the event's change form as the page shows it, players and rounds inlines
    included, with `fields` changed (`players-0-display_name`, `reason`...)."""
    players = list(Player.objects.filter(tournament=event).order_by("display_name", "id"))
    rounds = list(Round.objects.filter(tournament=event).order_by("number"))
    data: dict[str, Any] = {
        "name": event.name,
        "points_table": json.dumps(event.points_table),
        "tie_breakers": json.dumps(event.tie_breakers),
        "reason": "",
        "players-TOTAL_FORMS": str(len(players)),
        "players-INITIAL_FORMS": str(len(players)),
        "players-MIN_NUM_FORMS": "0",
        "players-MAX_NUM_FORMS": "1000",
        "rounds-TOTAL_FORMS": str(len(rounds)),
        "rounds-INITIAL_FORMS": str(len(rounds)),
        "rounds-MIN_NUM_FORMS": "0",
        "rounds-MAX_NUM_FORMS": "1000",
    }
    for index, player in enumerate(players):
        data.update(
            {
                f"players-{index}-id": str(player.pk),
                f"players-{index}-tournament": str(event.pk),
                f"players-{index}-display_name": player.display_name,
                f"players-{index}-riot_id": player.riot_id,
                f"players-{index}-discord_id": player.discord_id,
            }
        )
    for index, round_ in enumerate(rounds):
        data.update(
            {f"rounds-{index}-id": str(round_.pk), f"rounds-{index}-tournament": str(event.pk)}
        )
    data.update(fields)
    return data


def add_player_row(data: dict[str, Any], event: Any, display_name: str) -> None:
    index = int(data["players-TOTAL_FORMS"])
    data["players-TOTAL_FORMS"] = str(index + 1)
    data.update(
        {
            f"players-{index}-id": "",
            f"players-{index}-tournament": str(event.pk),
            f"players-{index}-display_name": display_name,
            f"players-{index}-riot_id": "",
            f"players-{index}-discord_id": "",
        }
    )


def tournament_url(event: Any) -> str:
    return reverse("admin:standings_tournament_change", args=[event.pk])


# -- events ---------------------------------------------------------------------------------------


def test_add_an_event_through_the_service(scorekeeper_client: Client, make_graphic: Any) -> None:
    """An event added in the admin is created by tournament_create: attributed to its author,
    and graphics already carrying its name are told (event_created)."""
    graphic = make_graphic(title="Standings", event_name="GAL Season 4 Week 1")
    before = updates_so_far()

    response = scorekeeper_client.post(
        reverse("admin:standings_tournament_add"),
        {
            "name": "GAL Season 4 Week 1",
            "points_table": "[8, 7, 6, 5, 4, 3, 2, 1]",
            "tie_breakers": '["top4_plus_firsts", "placement_counts", "latest_placement"]',
            "players-TOTAL_FORMS": "1",
            "players-INITIAL_FORMS": "0",
            "players-MIN_NUM_FORMS": "0",
            "players-MAX_NUM_FORMS": "1000",
            "players-0-display_name": "Setsuko",
            "players-0-riot_id": "Setsuko#EUW",
            "players-0-discord_id": "",
            "rounds-TOTAL_FORMS": "0",
            "rounds-INITIAL_FORMS": "0",
            "rounds-MIN_NUM_FORMS": "0",
            "rounds-MAX_NUM_FORMS": "1000",
        },
    )

    assert response.status_code == 302, response.content
    event = Tournament.objects.get(name="GAL Season 4 Week 1")
    assert event.created_by is not None and event.created_by.username == "desk"
    assert list(event.players.values_list("display_name", "riot_id")) == [
        ("Setsuko", "Setsuko#EUW")
    ]
    assert actions_since(before, graphic) == ["event_created", "player_added"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("points_table", "[8, 7, 6]"),
        ("points_table", '["a", 7, 6, 5, 4, 3, 2, 1]'),
        ("tie_breakers", '["coin_flip"]'),
        ("name", "GAL Season 3 Week 2"),
    ],
)
def test_a_bad_event_is_refused_on_its_field(
    scorekeeper_client: Client, event: Any, field: str, value: str
) -> None:
    """The services' own checks run in the form: the problem shows on the form, nothing is
    created."""
    data = {
        "name": "New event",
        "points_table": "[8, 7, 6, 5, 4, 3, 2, 1]",
        "tie_breakers": "[]",
        "players-TOTAL_FORMS": "0",
        "players-INITIAL_FORMS": "0",
        "rounds-TOTAL_FORMS": "0",
        "rounds-INITIAL_FORMS": "0",
        field: value,
    }

    response = scorekeeper_client.post(reverse("admin:standings_tournament_add"), data)

    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert Tournament.objects.count() == 1


def test_rename_an_event_and_its_players_in_one_save(
    scorekeeper_client: Client, event: Any, make_graphic: Any
) -> None:
    graphic = make_graphic(title="Standings", event_name=event.name)
    before = updates_so_far()
    data = change_form(event, name="GAL Season 3 Week 2 (final)")
    data["players-0-display_name"] = "Setsuko"
    add_player_row(data, event, "Newcomer")

    response = scorekeeper_client.post(tournament_url(event), data)

    assert response.status_code == 302, response.context and response.context["errors"]
    event.refresh_from_db()
    assert event.name == "GAL Season 3 Week 2 (final)"
    names = set(event.players.values_list("display_name", flat=True))
    assert {"Setsuko", "Newcomer"} <= names and "P01" not in names
    # The graphic was bound to the old name: it hears the rename (and no more, being unbound).
    assert actions_since(before, graphic) == ["event_renamed"]


def test_a_new_points_table_in_the_admin_is_audited_with_its_reason(
    scorekeeper_client: Client, event: Any
) -> None:
    services.lobby_results_save(
        user=event.scorekeeper,
        tournament_id=event.pk,
        round_number=1,
        lobby_number=1,
        results=lobby_results(event, [1, 2, 3, 4, 5, 6, 7, 8]),
    )
    data = change_form(event, points_table="[10, 8, 6, 5, 4, 3, 2, 1]", reason="League rule change")

    response = scorekeeper_client.post(tournament_url(event), data)

    assert response.status_code == 302
    change = ResultChange.objects.get(source="points_table", new_placement=1)
    assert (change.old_points, change.new_points) == (8, 10)
    assert change.reason == "League rule change"
    assert change.actor is not None and change.actor.username == "desk"


def test_remove_a_player_and_a_round_from_the_event_page(
    scorekeeper_client: Client, event: Any
) -> None:
    services.lobby_results_save(
        user=event.scorekeeper,
        tournament_id=event.pk,
        round_number=1,
        lobby_number=1,
        results=lobby_results(event, [1, 2]),
    )
    data = change_form(event)
    data["players-7-DELETE"] = "on"  # P08, no results
    data["rounds-0-DELETE"] = "on"

    response = scorekeeper_client.post(tournament_url(event), data)

    assert response.status_code == 302
    assert not Player.objects.filter(display_name="P08").exists()
    assert not Round.objects.filter(tournament=event).exists()
    assert ResultChange.objects.filter(source="deleted").count() == 2


def test_the_event_page_shows_its_standings_and_links_its_audit(
    scorekeeper_client: Client, event: Any
) -> None:
    services.lobby_results_save(
        user=event.scorekeeper,
        tournament_id=event.pk,
        round_number=1,
        lobby_number=1,
        results=lobby_results(event, [2, 1]),
    )

    response = scorekeeper_client.get(tournament_url(event))

    assert response.status_code == 200
    html = response.content.decode()
    assert "<td>1</td><td>P02</td><td>8</td><td>1</td>" in html
    assert "2 change(s)" in html
    assert f"tournament__id__exact={event.pk}" in html


def test_delete_an_event_through_the_service(
    scorekeeper_client: Client, event: Any, make_graphic: Any
) -> None:
    """A Scorekeeper has no model permission on players or results, yet may delete the event
    with them: tournament_delete decides, and bound graphics are told."""
    graphic = make_graphic(title="Standings", event_name=event.name)
    before = updates_so_far()
    url = reverse("admin:standings_tournament_delete", args=[event.pk])

    confirm = scorekeeper_client.get(url)
    response = scorekeeper_client.post(url, {"post": "yes"})

    assert confirm.status_code == 200
    assert "Are you sure" in confirm.content.decode()
    assert response.status_code == 302
    assert not Tournament.objects.exists() and not Player.objects.exists()
    assert actions_since(before, graphic) == ["event_deleted"]


def test_delete_selected_events_action(scorekeeper_client: Client, make_event: Any) -> None:
    first, second = make_event("A", players=1, rounds=0), make_event("B", players=1, rounds=0)

    response = scorekeeper_client.post(
        reverse("admin:standings_tournament_changelist"),
        {"action": "delete_selected", "_selected_action": [first.pk, second.pk], "post": "yes"},
    )

    assert response.status_code == 302
    assert not Tournament.objects.exists()


# -- players --------------------------------------------------------------------------------------


def test_add_rename_and_delete_a_player_on_the_players_page(
    scorekeeper_client: Client, event: Any, make_graphic: Any
) -> None:
    graphic = make_graphic(title="Standings", event_name=event.name)
    before = updates_so_far()

    added = scorekeeper_client.post(
        reverse("admin:standings_player_add"),
        {"tournament": event.pk, "display_name": "Setsuko", "riot_id": "", "discord_id": "7"},
    )
    player = Player.objects.get(display_name="Setsuko")
    renamed = scorekeeper_client.post(
        reverse("admin:standings_player_change", args=[player.pk]),
        {"display_name": "Setsuko II", "riot_id": "S#1", "discord_id": "7"},
    )
    deleted = scorekeeper_client.post(
        reverse("admin:standings_player_delete", args=[player.pk]), {"post": "yes"}
    )

    assert [r.status_code for r in (added, renamed, deleted)] == [302, 302, 302]
    assert actions_since(before, graphic) == ["player_added", "player_renamed", "player_removed"]
    assert not Player.objects.filter(pk=player.pk).exists()


def test_a_taken_player_name_is_refused_on_the_form(scorekeeper_client: Client, event: Any) -> None:
    response = scorekeeper_client.post(
        reverse("admin:standings_player_add"),
        {"tournament": event.pk, "display_name": "P01", "riot_id": "", "discord_id": ""},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert Player.objects.filter(display_name="P01").count() == 1


def test_a_refusal_the_form_cannot_foresee_is_a_message(
    scorekeeper_client: Client, event: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A service's refusal during the save (someone else's change meanwhile, say) rolls the
    save back and shows its message, not a server error."""
    from gal_dashboard.errors import ValidationFailed

    def refuse(**kwargs: Any) -> None:
        raise ValidationFailed(details={"display_name": ["Another player of this event has it."]})

    monkeypatch.setattr(services, "player_create", refuse)

    response = scorekeeper_client.post(
        reverse("admin:standings_player_add"),
        {"tournament": event.pk, "display_name": "Late", "riot_id": "", "discord_id": ""},
    )

    assert response.status_code == 302
    assert messages_of(response) == [
        "Could not save: display_name: Another player of this event has it."
    ]
    assert not Player.objects.filter(display_name="Late").exists()


# -- rounds and results ---------------------------------------------------------------------------


def test_add_a_round_takes_the_next_number(scorekeeper_client: Client, event: Any) -> None:
    response = scorekeeper_client.post(
        reverse("admin:standings_round_add"), {"tournament": event.pk, "number": ""}
    )

    assert response.status_code == 302
    assert list(Round.objects.filter(tournament=event).values_list("number", flat=True)) == [1, 2]


def test_a_round_page_shows_its_results_read_only(scorekeeper_client: Client, event: Any) -> None:
    services.lobby_results_save(
        user=event.scorekeeper,
        tournament_id=event.pk,
        round_number=1,
        lobby_number=1,
        results=lobby_results(event, [2, 1]),
    )
    round_ = Round.objects.get(tournament=event)

    response = scorekeeper_client.get(reverse("admin:standings_round_change", args=[round_.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert "P02" in html and "P01" in html
    assert 'name="results-0-placement"' not in html  # shown, not editable
    assert 'name="_save"' not in html


def test_delete_a_round_audits_its_results(scorekeeper_client: Client, event: Any) -> None:
    services.lobby_results_save(
        user=event.scorekeeper,
        tournament_id=event.pk,
        round_number=1,
        lobby_number=1,
        results=lobby_results(event, [1, 2, 3]),
    )
    round_ = Round.objects.get(tournament=event)

    response = scorekeeper_client.post(
        reverse("admin:standings_round_delete", args=[round_.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert ResultChange.objects.filter(source="deleted").count() == 3


def test_results_are_listed_but_never_edited(scorekeeper_client: Client, event: Any) -> None:
    services.lobby_results_save(
        user=event.scorekeeper,
        tournament_id=event.pk,
        round_number=1,
        lobby_number=1,
        results=lobby_results(event, [1]),
    )
    result = Result.objects.get()

    listing = scorekeeper_client.get(reverse("admin:standings_result_changelist"))
    page = scorekeeper_client.get(reverse("admin:standings_result_change", args=[result.pk]))

    assert listing.status_code == 200 and "P01" in listing.content.decode()
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert scorekeeper_client.get(reverse("admin:standings_result_add")).status_code == 403
    delete = reverse("admin:standings_result_delete", args=[result.pk])
    assert scorekeeper_client.post(delete, {"post": "yes"}).status_code == 403
    assert Result.objects.filter(pk=result.pk).exists()


# -- the correction audit -------------------------------------------------------------------------


def test_the_correction_audit_shows_who_changed_what_and_when(
    scorekeeper_client: Client, event: Any
) -> None:
    for placements, reason in (([1, 2], ""), ([2, 1], "Misreported")):
        services.lobby_results_save(
            user=event.scorekeeper,
            tournament_id=event.pk,
            round_number=1,
            lobby_number=1,
            results=lobby_results(event, placements),
            reason=reason,
        )
    url = reverse("admin:standings_resultchange_changelist")

    everything = scorekeeper_client.get(url)
    this_event = scorekeeper_client.get(url, {"tournament__id__exact": event.pk})
    by_source = scorekeeper_client.get(url, {"source__exact": "import"})
    one = ResultChange.objects.filter(reason="Misreported").first()
    assert one is not None
    detail = scorekeeper_client.get(reverse("admin:standings_resultchange_change", args=[one.pk]))

    assert everything.status_code == 200
    html = everything.content.decode()
    assert "1 → 2" in html and "2 → 1" in html and "— → 1" in html
    assert "Misreported" in html and event.scorekeeper.username in html
    assert "4 result changes" in this_event.content.decode()
    assert "0 result changes" in by_source.content.decode()
    assert detail.status_code == 200 and 'name="_save"' not in detail.content.decode()
    assert scorekeeper_client.get(reverse("admin:standings_resultchange_add")).status_code == 403


# -- who may --------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [VIEWER, EDITOR])
def test_viewers_and_editors_read_but_cannot_write(
    client: Client, make_user: Any, event: Any, role: str
) -> None:
    client.force_login(staff(make_user, "staffer", role))

    assert client.get(reverse("admin:standings_tournament_changelist")).status_code == 200
    assert client.get(reverse("admin:standings_resultchange_changelist")).status_code == 200
    assert client.get(reverse("admin:standings_tournament_add")).status_code == 403
    assert client.get(reverse("admin:standings_player_add")).status_code == 403
    response = client.post(tournament_url(event), change_form(event, name="Hijacked"))
    assert response.status_code == 403
    delete = reverse("admin:standings_tournament_delete", args=[event.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    event.refresh_from_db()
    assert event.name == "GAL Season 3 Week 2"


def test_staff_without_a_role_see_no_standings(client: Client, make_user: Any) -> None:
    client.force_login(staff(make_user, "staffer", None))

    assert client.get(reverse("admin:standings_tournament_changelist")).status_code == 403
    assert "Standings" not in client.get(reverse("admin:index")).content.decode()

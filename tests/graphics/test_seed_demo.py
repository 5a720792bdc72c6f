"""`manage.py seed_demo`: demo users in each role, the demo event's results entered by the demo
scorekeeper, and valid demo graphics whose lists draw that event's standings; idempotent, and
never with DEBUG off unless forced."""

from __future__ import annotations

import re
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from gal_dashboard.access import (
    ADD_GRAPHIC,
    CHANGE_GRAPHIC,
    DELETE_GRAPHIC,
    MANAGE_RESULTS,
    OVERRIDE_LOCK,
    VIEW_GRAPHIC,
)
from graphics.canvas import LIST_ELEMENT_TYPES, check_canvas_data
from graphics.models import Graphic, GraphicViewKey
from realtime.delivery.snapshots import graphic_snapshot
from standings.models import Player, Result, ResultChange, Round, Tournament

pytestmark = pytest.mark.django_db

DEMO_PASSWORDS = {
    "admin": "admin-demo-pass",
    "editor": "editor-demo-pass",
    "editor2": "editor2-demo-pass",
    "lockadmin": "lockadmin-demo-pass",
    "viewer": "viewer-demo-pass",
    "scorekeeper": "scorekeeper-demo-pass",
}
WEEK_2 = "GAL Season 3 Week 2"


def seed(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("seed_demo", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def debug_on(settings: Any) -> None:
    settings.DEBUG = True


@pytest.mark.usefixtures("debug_on")
def test_creates_the_demo_users_with_their_roles_and_passwords():
    """Each demo user signs in with the documented password and can do what their role allows."""
    seed()

    users = {user.username: user for user in get_user_model().objects.all()}
    assert set(users) == set(DEMO_PASSWORDS)
    for username, password in DEMO_PASSWORDS.items():
        assert users[username].check_password(password), username
    assert users["admin"].is_superuser
    assert users["admin"].is_staff
    assert users["lockadmin"].is_staff
    assert users["lockadmin"].has_perms([DELETE_GRAPHIC, OVERRIDE_LOCK])
    for editor in ("editor", "editor2"):
        assert users[editor].has_perms([ADD_GRAPHIC, CHANGE_GRAPHIC])
        assert not users[editor].has_perm(DELETE_GRAPHIC)
        assert not users[editor].is_staff
    assert users["viewer"].has_perm(VIEW_GRAPHIC)
    assert not users["viewer"].has_perm(CHANGE_GRAPHIC)
    assert users["scorekeeper"].has_perm(MANAGE_RESULTS)
    assert not users["scorekeeper"].has_perm(CHANGE_GRAPHIC)
    assert not users["scorekeeper"].is_staff


@pytest.mark.usefixtures("debug_on")
def test_creates_valid_league_graphics_by_the_editor():
    """The demo graphics pass the canvas rules, are attributed to `editor` and are reported."""
    out, _ = seed()

    graphics = list(Graphic.objects.select_related("created_by"))
    assert {graphic.title for graphic in graphics} >= {
        "Week 2 Standings",
        "Week 2 Standings — 9 to 16",
        "Round 3 Scoreboard",
        "Caster Lower Third",
    }
    assert any(graphic.title.startswith("Player Card — ") for graphic in graphics)
    for graphic in graphics:
        check_canvas_data(graphic.data)
        assert graphic.event_name == "GAL Season 3 Week 2"
        assert graphic.created_by is not None
        assert graphic.created_by.username == "editor"
        assert graphic.version == 1
        assert f"Graphic {graphic.title!r} (GAL Season 3 Week 2): created as #{graphic.pk}" in out
        # Each has an overlay URL from the start, printed for the operator.
        view_key = graphic.view_keys.get(revoked_at=None)
        assert f"overlay /overlay/{graphic.pk}/?key={view_key.key}" in out
    element_types = {element["type"] for g in graphics for element in g.data["elements"]}
    assert element_types == {"text", "players", "scores", "placements"}


@pytest.mark.usefixtures("debug_on")
def test_running_twice_changes_nothing():
    """A second run creates no duplicates, keeps every row as it was and says so."""
    seed()
    users_before = list(get_user_model().objects.order_by("pk").values())
    graphics_before = list(Graphic.objects.order_by("pk").values())

    out, _ = seed()

    assert list(get_user_model().objects.order_by("pk").values()) == users_before
    assert list(Graphic.objects.order_by("pk").values()) == graphics_before
    assert GraphicViewKey.objects.count() == len(graphics_before)
    assert "created" not in out
    assert "User editor: exists, kept" in out
    event = Tournament.objects.get()
    assert f"Event {WEEK_2!r}: exists as #{event.pk}, kept" in out


@pytest.mark.usefixtures("debug_on")
def test_running_twice_enters_no_result_twice():
    """The event's players, rounds, results and audit stay as the first run left them."""
    seed()
    before = {
        model.__name__: list(model.objects.order_by("pk").values())
        for model in (Tournament, Player, Round, Result, ResultChange)
    }

    seed()

    after = {
        model.__name__: list(model.objects.order_by("pk").values())
        for model in (Tournament, Player, Round, Result, ResultChange)
    }
    assert after == before


@pytest.mark.usefixtures("debug_on")
def test_creates_the_demo_event_with_three_rounds_entered_by_the_scorekeeper():
    """The event the demo graphics name: 16 players (some with a Riot ID), 3 rounds of two full
    lobbies each, every result entered through the services as `scorekeeper`."""
    out, _ = seed()

    event = Tournament.objects.get()
    assert event.name == WEEK_2
    assert f"Event {WEEK_2!r}: created as #{event.pk} with 16 players and 3 rounds" in out
    players = list(event.players.all())
    assert len(players) == 16
    assert not any(re.fullmatch(r"Player \d+", player.display_name) for player in players)
    riot_ids = [player.riot_id for player in players if player.riot_id]
    assert riot_ids
    assert all(re.fullmatch(r"[^#]+#[A-Za-z0-9]{3,5}", riot_id) for riot_id in riot_ids)
    assert [r.number for r in event.rounds.order_by("number")] == [1, 2, 3]
    for round_ in event.rounds.all():
        lobbies = {lobby.number: lobby for lobby in round_.lobbies.all()}
        assert sorted(lobbies) == [1, 2]
        for lobby in lobbies.values():
            placements = sorted(result.placement for result in lobby.results.all())
            assert placements == [1, 2, 3, 4, 5, 6, 7, 8]
        # Every player plays every round, in one lobby.
        assert round_.results.values("player").distinct().count() == 16
    for result in Result.objects.all():
        assert result.points == 9 - result.placement  # the default 8-7-...-1 table
    audit = ResultChange.objects.all()
    assert audit.count() == 48
    assert {change.actor.username for change in audit if change.actor} == {"scorekeeper"}
    assert all(change.actor is not None for change in audit)


@pytest.mark.usefixtures("debug_on")
def test_the_standings_graphics_draw_real_names_points_and_ranks():
    """What the overlays receive: Top 8 on one graphic and ranks 9-16 on another, each with
    rank, name and points columns bound to the event's total standings; the round scoreboard
    draws round 3. No placeholder names, every demo player on exactly one standings graphic."""
    seed()
    event = Tournament.objects.get()
    graphics = {graphic.title: graphic for graphic in Graphic.objects.all()}

    shown: list[str] = []
    for title, first_rank in (("Week 2 Standings", 1), ("Week 2 Standings — 9 to 16", 9)):
        graphic = graphics[title]
        lists = [e for e in graphic.data["elements"] if e["type"] in LIST_ELEMENT_TYPES]
        assert {e["type"] for e in lists} == {"players", "scores", "placements"}
        for element in lists:
            assert element["round_id"] == "total"
            assert element["start"] == first_rank
            assert element["preview_count"] == 8
        # The columns line up: the same rows, one above the other.
        assert len({(e["y"], e["spacing"]) for e in lists}) == 1

        standings = graphic_snapshot(graphic_id=graphic.pk)["standings"]
        assert standings["tournament_id"] == event.pk
        rows = standings["tables"]["total"][first_rank - 1 : first_rank - 1 + 8]
        # The demo's ties are all broken by Riot's tie-breakers: eight distinct ranks each.
        assert [row["rank"] for row in rows] == list(range(first_rank, first_rank + 8))
        for row in rows:
            assert row["points"] > 0
            assert row["placement"] == row["rank"]
            assert row["played"] == 3
        shown += [row["name"] for row in rows]
    assert sorted(shown) == sorted(event.players.values_list("display_name", flat=True))

    scoreboard = graphics["Round 3 Scoreboard"]
    assert {e["round_id"] for e in scoreboard.data["elements"] if "round_id" in e} == {"round_3"}
    round_rows = graphic_snapshot(graphic_id=scoreboard.pk)["standings"]["tables"]["round_3"]
    # Two lobbies: each placement is held by two players, one per lobby.
    assert sorted(row["placement"] for row in round_rows) == sorted([*range(1, 9)] * 2)


@pytest.mark.usefixtures("debug_on")
def test_prints_the_results_page_and_the_scorekeeper_login():
    """An operator reads from `make run`'s output where to enter results and as whom."""
    out, _ = seed()

    assert "Results page: /results/ (sign in as scorekeeper / scorekeeper-demo-pass" in out


@pytest.mark.usefixtures("debug_on")
def test_an_existing_event_is_kept_as_it_is():
    """An event of the demo name that someone created already is neither filled nor changed."""
    seed()
    Tournament.objects.all().delete()
    Tournament.objects.create(name=WEEK_2)

    out, _ = seed()

    assert not Player.objects.exists()
    assert not Result.objects.exists()
    assert "exists as" in out


@pytest.mark.usefixtures("debug_on")
def test_a_scorekeeper_without_the_role_fails_and_leaves_no_half_entered_event(make_user: Any):
    """An existing `scorekeeper` account that may not enter results: the command says why, and
    no event is left behind for the next run to keep half-filled."""
    make_user("scorekeeper", role=None)

    with pytest.raises(CommandError, match=r"Could not create the event .* as scorekeeper"):
        seed()

    assert not Tournament.objects.exists()
    assert not Player.objects.exists()


@pytest.mark.usefixtures("debug_on")
def test_an_existing_account_keeps_its_password(make_user: Any):
    """A demo username that already exists is left alone, not reset to the demo password."""
    make_user("editor", role="Editor")

    seed()

    assert not get_user_model().objects.get(username="editor").check_password("editor-demo-pass")


def test_refuses_with_debug_off(settings: Any):
    """With DEBUG off nothing is created (the passwords are public) and the reason is printed."""
    settings.DEBUG = False

    out, err = seed()

    assert not get_user_model().objects.exists()
    assert not Graphic.objects.exists()
    assert out == ""
    assert "DEBUG is off" in err
    assert "--force" in err


def test_force_runs_with_debug_off(settings: Any):
    """--force seeds even with DEBUG off."""
    settings.DEBUG = False

    seed("--force")

    assert get_user_model().objects.filter(username="admin", is_superuser=True).exists()
    assert Graphic.objects.count() == 5


@pytest.mark.usefixtures("debug_on")
def test_demo_graphics_go_on_air():
    """`make run`'s overlays show something: every demo graphic is taken to air (its current
    version the program, live off, the take in its air log)."""
    seed()

    graphics = list(Graphic.objects.all())
    assert len(graphics) == 5
    for graphic in graphics:
        assert graphic.on_air, graphic.title
        assert graphic.program_version == graphic.version
        assert not graphic.live
        interval = graphic.air_intervals.get()
        assert interval.version == graphic.version
        assert interval.cleared_at is None
        assert interval.taken_by is not None
        assert interval.taken_by.username == "editor"


@pytest.mark.usefixtures("debug_on")
def test_a_renamed_demo_graphic_is_found_by_its_demo_key_not_made_again():
    """Each demo graphic has a stable demo key: renamed (title and event) between runs, it is
    kept, under its new name, and no second one is made."""
    seed()
    graphic = Graphic.objects.get(title="Caster Lower Third")
    assert graphic.demo_key
    Graphic.objects.filter(pk=graphic.pk).update(
        title="Casters — Grand Final", event_name="GAL Finals"
    )
    count = Graphic.objects.count()

    out, _ = seed()

    assert Graphic.objects.count() == count
    assert not Graphic.objects.filter(title="Caster Lower Third").exists()
    assert f"Graphic 'Casters — Grand Final' (GAL Finals): exists as #{graphic.pk}, kept" in out
    assert "created" not in out
    assert len({key for key in Graphic.objects.values_list("demo_key", flat=True)}) == count


@pytest.mark.usefixtures("debug_on")
def test_every_run_prints_every_overlay_url():
    """The overlay URLs are printed on every run, not only the first: `make run` seeds on each
    start, and the operator needs them then."""
    first, _ = seed()
    second, _ = seed()

    for graphic in Graphic.objects.all():
        url = f"overlay /overlay/{graphic.pk}/?key={graphic.view_keys.get(revoked_at=None).key}"
        assert url in first, graphic.title
        assert url in second, graphic.title
        assert second.count(f"/overlay/{graphic.pk}/") == 1


@pytest.mark.usefixtures("debug_on")
def test_a_demo_graphic_whose_key_was_revoked_says_so():
    """No active view key: the run says there is no overlay URL and how to make one, and makes
    none itself (a rerun changes nothing)."""
    seed()
    graphic = Graphic.objects.get(title="Caster Lower Third")
    GraphicViewKey.objects.filter(graphic=graphic).delete()

    out, _ = seed()

    assert f"exists as #{graphic.pk}, kept, no overlay URL" in out
    assert not GraphicViewKey.objects.filter(graphic=graphic).exists()


@pytest.mark.usefixtures("debug_on")
def test_graphics_seeded_before_demo_keys_get_theirs_from_the_migration():
    """A development database seeded by title (before migration 0008): the migration gives the
    oldest graphic of each demo title its demo key, so the next run makes no duplicate."""
    from importlib import import_module

    from django.apps import apps

    migration = import_module("graphics.migrations.0008_graphic_demo_key")
    seed()
    keys = dict(Graphic.objects.values_list("pk", "demo_key"))
    Graphic.objects.update(demo_key=None)
    count = Graphic.objects.count()

    migration.key_the_seeded_demo_graphics(apps, None)

    assert dict(Graphic.objects.values_list("pk", "demo_key")) == keys
    seed()
    assert Graphic.objects.count() == count

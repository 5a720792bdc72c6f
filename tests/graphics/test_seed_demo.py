"""`manage.py seed_demo`: demo users in each role and valid demo graphics, idempotent, and never
with DEBUG off unless forced."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from gal_dashboard.access import (
    ADD_GRAPHIC,
    CHANGE_GRAPHIC,
    DELETE_GRAPHIC,
    OVERRIDE_LOCK,
    VIEW_GRAPHIC,
)
from graphics.canvas import check_canvas_data
from graphics.models import Graphic, GraphicViewKey

pytestmark = pytest.mark.django_db

DEMO_PASSWORDS = {
    "admin": "admin-demo-pass",
    "editor": "editor-demo-pass",
    "editor2": "editor2-demo-pass",
    "lockadmin": "lockadmin-demo-pass",
    "viewer": "viewer-demo-pass",
}


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


@pytest.mark.usefixtures("debug_on")
def test_creates_valid_league_graphics_by_the_editor():
    """The demo graphics pass the canvas rules, are attributed to `editor` and are reported."""
    out, _ = seed()

    graphics = list(Graphic.objects.select_related("created_by"))
    assert {graphic.title for graphic in graphics} >= {
        "Week 2 Standings",
        "Round 4 Scoreboard",
        "Caster Lower Third",
        "Lobby A Placements",
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

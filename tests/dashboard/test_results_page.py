"""The results page's view: who may open it, what its script is told at start-up, and the top
bar's link to it. (What the page does is tested in a real browser:
tests/browser/test_results_page.py.)"""

from __future__ import annotations

from typing import Any

import pytest
from django.template.loader import render_to_string

from gal_dashboard.access import EDITOR, LOCK_ADMIN, SCOREKEEPER, VIEWER
from tests.dashboard.test_views import page_config

pytestmark = pytest.mark.django_db


def test_anonymous_visitors_are_sent_to_log_in(client: Any):
    response = client.get("/results/")

    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/results/"


def test_a_user_without_a_role_is_refused(client: Any, no_role_user: Any):
    client.force_login(no_role_user)

    assert client.get("/results/").status_code == 403


@pytest.mark.parametrize(
    ("role", "can_manage"),
    [
        (SCOREKEEPER, True),
        (LOCK_ADMIN, True),
        ("superuser", True),
        (VIEWER, False),
        (EDITOR, False),
    ],
)
def test_scorekeepers_enter_results_and_the_other_roles_read_them(
    client: Any, make_user: Any, role: str, can_manage: bool
):
    """Scorekeepers, Lock admins and superusers get the lobby form; Viewers and Editors (who
    may read standings, not enter them) get the same page without it."""
    user = make_user(superuser=True) if role == "superuser" else make_user(role=role)
    client.force_login(user)

    response = client.get("/results/")

    assert response.status_code == 200
    assert page_config(response) == {
        "user": {"id": user.pk, "username": user.get_username()},
        "can_manage": can_manage,
    }
    assert ('id="lobby-form"' in response.text) is can_manage
    assert ('id="add-round"' in response.text) is can_manage
    assert ('id="read-only-note"' in response.text) is not can_manage
    assert response["Cache-Control"].startswith("max-age=0")


def test_the_lobby_form_has_a_player_and_a_placement_field_per_seat(client: Any, make_user: Any):
    client.force_login(make_user(role=SCOREKEEPER))

    text = client.get("/results/").text

    for seat in range(1, 9):
        assert f'id="seat-player-{seat}"' in text
        assert f'id="seat-placement-{seat}"' in text
        assert f'id="seat-placement-error-{seat}"' in text
    assert 'id="seat-player-9"' not in text
    assert 'list="event-players"' in text


@pytest.mark.parametrize(
    ("role", "linked"),
    [(SCOREKEEPER, True), (LOCK_ADMIN, True), (VIEWER, True), (EDITOR, True), (None, False)],
)
def test_the_top_bar_links_to_the_results_for_roles_that_may_see_them(
    rf: Any, make_user: Any, role: str | None, linked: bool
):
    request = rf.get("/graphics/")
    request.user = make_user(role=role)

    top_bar = render_to_string("dashboard/base.html", request=request)

    assert ('href="/results/"' in top_bar) is linked


def test_the_page_config_cannot_break_out_of_its_script_block(client: Any, make_user: Any):
    user = make_user("x</script><script>alert(1)</script>", role=SCOREKEEPER)
    client.force_login(user)

    response = client.get("/results/")

    assert "</script><script>alert(1)" not in response.text
    assert page_config(response)["user"]["username"] == user.get_username()

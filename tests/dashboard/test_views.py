"""The dashboard pages' views: who may see which page, and what each page is told at start-up.
(What the pages do is tested in a real browser: tests/browser/.)"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from graphics.services import graphic_create, view_key_revoke, view_key_rotate

pytestmark = pytest.mark.django_db


def page_config(response: Any) -> dict[str, Any]:
    match = re.search(
        r'<script id="page-config" type="application/json">(.*?)</script>', response.text, re.S
    )
    assert match, "the page carries its start-up data"
    return json.loads(match.group(1))


@pytest.mark.parametrize("path", ["/graphics/", "/graphics/1/edit/"])
def test_anonymous_visitors_are_sent_to_log_in(client: Any, path: str):
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={path}"


def test_a_user_without_a_role_is_refused(client: Any, no_role_user: Any):
    client.force_login(no_role_user)

    assert client.get("/graphics/").status_code == 403


@pytest.mark.parametrize(
    ("who", "can"),
    [
        (
            "viewer",
            {"can_create": False, "can_edit": False, "can_delete": False, "can_override": False},
        ),
        (
            "editor",
            {"can_create": True, "can_edit": True, "can_delete": False, "can_override": False},
        ),
        (
            "lock_admin",
            {"can_create": True, "can_edit": True, "can_delete": True, "can_override": True},
        ),
    ],
)
def test_the_list_page_tells_its_script_who_you_are_and_what_you_may_do(
    client: Any, request: pytest.FixtureRequest, who: str, can: dict[str, bool]
):
    user = request.getfixturevalue(who)
    client.force_login(user)

    response = client.get("/graphics/")

    assert response.status_code == 200
    assert page_config(response) == {
        "user": {"id": user.pk, "username": user.get_username()},
        **can,
    }
    assert ('id="create-form"' in response.text) is can["can_create"]
    assert response["Cache-Control"].startswith("max-age=0")


def test_the_editor_page_names_its_graphic_and_404s_for_an_unknown_one(client: Any, editor: Any):
    graphic = graphic_create(user=editor, title="Week 2 Standings", event_name="Week 2")
    client.force_login(editor)

    response = client.get(f"/graphics/{graphic.pk}/edit/")

    assert response.status_code == 200
    config = page_config(response)
    assert (config["graphic_id"], config["list_url"]) == (graphic.pk, "/graphics/")
    assert client.get(f"/graphics/{graphic.pk + 1}/edit/").status_code == 404
    assert client.get("/graphics/99999999999999999999/edit/").status_code == 404


def test_the_overlay_needs_no_login_but_the_graphics_own_active_key(client: Any, editor: Any):
    graphic = graphic_create(user=editor, title="Lower Third", event_name="Week 2")
    other = graphic_create(user=editor, title="Other", event_name="Week 2")
    key = view_key_rotate(graphic_id=graphic.pk, user=editor).key
    other_key = view_key_rotate(graphic_id=other.pk, user=editor).key

    response = client.get(f"/overlay/{graphic.pk}/", {"key": key})

    assert response.status_code == 200
    assert page_config(response) == {"graphic_id": graphic.pk, "view_key": key}
    assert '<meta name="referrer" content="no-referrer">' in response.text
    assert client.get(f"/overlay/{graphic.pk}/").status_code == 404
    assert client.get(f"/overlay/{graphic.pk}/", {"key": other_key}).status_code == 404
    assert client.get(f"/overlay/{graphic.pk}/", {"key": key + "x"}).status_code == 404
    view_key_revoke(graphic_id=graphic.pk, user=editor)
    assert client.get(f"/overlay/{graphic.pk}/", {"key": key}).status_code == 404


def test_the_page_config_cannot_break_out_of_its_script_block(client: Any, make_user: Any):
    """A username is user-controlled text inside a <script> block: json_script escapes <, >
    and &, so `</script>` in it cannot end the block."""
    user = make_user("x</script><script>alert(1)</script>", role="Viewer")
    client.force_login(user)

    response = client.get("/graphics/")

    assert "</script><script>alert(1)" not in response.text
    assert page_config(response)["user"]["username"] == user.get_username()

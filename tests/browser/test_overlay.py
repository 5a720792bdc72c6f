"""
The on-air overlay in a real browser: a save reaches it within a second; it keeps its picture
through a server restart and catches up with what changed meanwhile; it works with the
WebSocket blocked (polling) and goes back to live; and user text never becomes HTML anywhere.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.sync_api import expect

from graphics.models import Graphic
from graphics.services import graphic_create, graphic_update, view_key_rotate
from locks.services import lock_acquire
from tests.browser.conftest import (
    browser_server_settings,
    make_graphic,
    outside_playwright,
    put_on_air,
)
from tests.conftest import text_element

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

XSS = '<img src=x onerror="window.__xss = 1; alert(1)">'


def overlay_path(graphic: Graphic, key: str) -> str:
    return f"/overlay/{graphic.pk}/?key={key}"


def on_air_text(page: Any, element_id: str) -> Any:
    return page.locator(f'#overlay [data-element-id="{element_id}"]')


def edit_as(user: Any, graphic_id: int, **changes: Any) -> Graphic:
    """A change made by another client (the REST API would do the same), under the lock."""
    return outside_playwright(_edit, user, graphic_id, **changes)


def _edit(user: Any, graphic_id: int, **changes: Any) -> Graphic:
    lock = lock_acquire(user=user, graphic_id=graphic_id)
    current = Graphic.objects.get(pk=graphic_id)
    return graphic_update(
        user=user,
        graphic_id=graphic_id,
        version=current.version,
        fencing_token=lock.fencing_token,
        **changes,
    )


def test_overlay_shows_a_save_within_a_second_and_survives_a_restart(
    signed_in: Any,
    browser: Any,
    editor: Any,
    daphne_server: Any,
    live_server_app: Any,
    tmp_path: Any,
):
    graphic = make_graphic(editor, "Caster Lower Third", casters="Mira Vale")
    put_on_air(graphic, editor, live=True)  # every save goes to air at once
    key = outside_playwright(view_key_rotate, graphic_id=graphic.pk, user=editor).key
    overlay = browser.new_page(base_url=live_server_app.url)  # no session: the key is enough
    overlay.goto(overlay_path(graphic, key))
    expect(on_air_text(overlay, "casters")).to_have_text("Mira Vale")
    expect(overlay.locator("#overlay")).to_have_attribute("data-state", "live")

    editor_page = signed_in(editor)
    editor_page.goto(f"/graphics/{graphic.pk}/edit/")
    expect(editor_page.locator("#lock-status")).to_have_text("You are editing")
    editor_page.locator('#element-list li[data-element-id="casters"]').click()
    editor_page.fill("#prop-content", "Mira Vale & Tomo Kessler")
    with editor_page.expect_response(lambda response: response.request.method == "PATCH") as saved:
        editor_page.click("#save")
    assert saved.value.ok
    saved_at = time.monotonic()
    expect(on_air_text(overlay, "casters")).to_have_text("Mira Vale & Tomo Kessler", timeout=1000)
    latency = time.monotonic() - saved_at
    assert latency < 1.0, f"the overlay showed the save after {latency:.2f} s"

    # The server goes away; a change is made while it is down; a new server comes up.
    live_server_app.stop()
    expect(overlay.locator("#overlay")).not_to_have_attribute("data-state", "live")
    expect(on_air_text(overlay, "casters")).to_have_text("Mira Vale & Tomo Kessler")
    edit_as(
        editor,
        graphic.pk,
        patch={"data": {"elements": {"casters": {"content": "Back after the break"}}}},
    )
    daphne_server.restart(live_server_app, **browser_server_settings(tmp_path))
    expect(on_air_text(overlay, "casters")).to_have_text("Back after the break", timeout=30_000)
    # Failed opens while the server was down may have sent it to polling; it goes back to the
    # WebSocket at its next upgrade attempt (every 15 s).
    expect(overlay.locator("#overlay")).to_have_attribute("data-state", "live", timeout=30_000)
    overlay.close()


def test_overlay_refuses_a_wrong_or_revoked_key(browser: Any, editor: Any, live_server_app: Any):
    first = outside_playwright(graphic_create, user=editor, title="A", event_name="Week 3")
    second = outside_playwright(graphic_create, user=editor, title="B", event_name="Week 3")
    key_of_second = outside_playwright(view_key_rotate, graphic_id=second.pk, user=editor).key
    page = browser.new_page(base_url=live_server_app.url)
    try:
        assert page.goto(overlay_path(first, key_of_second)).status == 404
        assert page.goto(overlay_path(first, "guess")).status == 404
        old = outside_playwright(view_key_rotate, graphic_id=first.pk, user=editor).key
        outside_playwright(view_key_rotate, graphic_id=first.pk, user=editor)
        assert page.goto(overlay_path(first, old)).status == 404
    finally:
        page.close()


def test_blocked_websocket_falls_back_to_polling_and_returns_to_live(
    signed_in: Any, editor: Any, viewer: Any
):
    graphic = outside_playwright(
        graphic_create, user=editor, title="Round 4 Scoreboard", event_name="Week 3"
    )
    page = signed_in(viewer)
    blocked = {"on": True}

    def websocket_route(route: Any) -> None:
        if blocked["on"]:
            route.close(code=1011, reason="blocked by the test")
        else:
            route.connect_to_server()

    page.route_web_socket("**/ws/graphics**", websocket_route)
    page.goto("/graphics/")
    expect(page.locator("#connection-state")).to_have_attribute(
        "data-state", "polling", timeout=20_000
    )
    expect(page.locator(f"#graphic-{graphic.pk} .title")).to_have_text("Round 4 Scoreboard")

    edit_as(editor, graphic.pk, title="Round 4 Scoreboard (Final)")
    expect(page.locator(f"#graphic-{graphic.pk} .title")).to_have_text("Round 4 Scoreboard (Final)")
    expect(page.locator(f"#graphic-{graphic.pk} .status")).to_contain_text("In use by editor")

    blocked["on"] = False
    expect(page.locator("#connection-state")).to_have_attribute(
        "data-state", "live", timeout=30_000
    )
    edit_as(editor, graphic.pk, title="Round 4 Scoreboard (Live)")
    expect(page.locator(f"#graphic-{graphic.pk} .title")).to_have_text("Round 4 Scoreboard (Live)")


def test_markup_in_user_fields_renders_as_text_everywhere(
    signed_in: Any, browser: Any, editor: Any, live_server_app: Any
):
    """A title, an event name and a text element holding an <img onerror> payload show as
    text on the list, in the editor and on air; no element is created and no script runs."""
    graphic = outside_playwright(
        graphic_create,
        user=editor,
        title=XSS,
        event_name=XSS,
        data={"background": None, "elements": [text_element("payload", content=XSS)]},
    )
    put_on_air(graphic, editor)
    key = outside_playwright(view_key_rotate, graphic_id=graphic.pk, user=editor).key
    page = signed_in(editor)

    page.goto("/graphics/")
    expect(page.locator(f"#graphic-{graphic.pk} .title")).to_have_text(XSS)
    expect(page.locator(f"#graphic-{graphic.pk} .event")).to_have_text(XSS)

    page.goto(f"/graphics/{graphic.pk}/edit/")
    expect(page.locator("#graphic-title")).to_have_text(XSS)
    expect(page.locator('#stage [data-element-id="payload"]')).to_have_text(XSS)
    expect(page.locator("#field-title")).to_have_value(XSS)
    assert page.title().startswith("Edit " + XSS)

    overlay = browser.new_page(base_url=live_server_app.url)
    overlay.goto(overlay_path(graphic, key))
    expect(on_air_text(overlay, "payload")).to_have_text(XSS)

    for checked in (page, overlay):
        assert checked.locator("img[src=x]").count() == 0
        assert checked.evaluate("() => window.__xss") is None
    overlay.close()


def test_open_overlay_and_copy_obs_url_from_the_list(signed_in: Any, editor: Any):
    """The first use makes the graphic's view key; "Open overlay" opens the on-air page in a new
    tab, and "Copy OBS URL" copies the same URL."""
    graphic = make_graphic(editor, "Caster Lower Third", casters="Mira Vale")
    put_on_air(graphic, editor)
    page = signed_in(editor)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto("/graphics/")
    actions = page.locator(f"#graphic-{graphic.pk} .actions")

    with page.context.expect_page() as opened:
        actions.get_by_role("button", name="Open overlay").click()
    overlay = opened.value
    expect(on_air_text(overlay, "casters")).to_have_text("Mira Vale")
    key = graphic.view_keys.get(revoked_at=None).key
    assert overlay.url.endswith(overlay_path(graphic, key))

    actions.get_by_role("button", name="Copy OBS URL").click()
    expect(page.locator("#banner")).to_have_text("OBS URL copied.")
    assert page.evaluate("() => navigator.clipboard.readText()") == overlay.url
    assert graphic.view_keys.count() == 1  # the second use found the key the first one made

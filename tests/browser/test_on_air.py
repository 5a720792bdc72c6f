"""
On air in a real browser (issue 16): an overlay shows the program only. Editing without a take
leaves it as it was; Take shows the edit within a second, Clear empties it within a second,
live mode shows each save within a second, and an overlay that reconnects while the graphic is
cleared stays empty. The list's ON AIR badge and the editor's Take, Clear, live switch,
transition and keyboard shortcuts, as an operator uses them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from graphics.models import AirInterval, Graphic
from graphics.on_air import graphic_clear
from graphics.services import graphic_update, view_key_rotate
from locks.services import lock_acquire
from tests.browser.conftest import (
    PageErrors,
    browser_server_settings,
    make_graphic,
    outside_playwright,
    put_on_air,
    screenshot,
    screenshot_overlay,
)

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

# What the overlay promises an operator: a take or a clear is on air within this.
ON_AIR_WITHIN_S = 1.0


def on_air_text(page: Any, element_id: str) -> Any:
    return page.locator(f'#overlay [data-element-id="{element_id}"]')


def on_air_elements(page: Any) -> Any:
    return page.locator("#overlay [data-element-id]")


def edit_as(user: Any, graphic_id: int, **changes: Any) -> Graphic:
    """A save made by another client (the REST API would do the same), under the lock."""
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


def content_patch(element_id: str, content: str) -> dict[str, Any]:
    return {"data": {"elements": {element_id: {"content": content}}}}


@pytest.fixture
def open_overlay(browser: Any, live_server_app: Any, editor: Any) -> Iterator[Any]:
    """open_overlay(graphic) -> its on-air page at 1920x1080 as OBS loads it (a view key, no
    session). A JavaScript error, or anything the Content-Security-Policy blocks, fails the
    test."""
    watcher = PageErrors()
    blocked: list[str] = []
    pages: list[Any] = []

    def open_page(graphic: Graphic, key: str | None = None) -> Any:
        if key is None:
            key = outside_playwright(view_key_rotate, graphic_id=graphic.pk, user=editor).key
        page = browser.new_page(
            base_url=live_server_app.url, viewport={"width": 1920, "height": 1080}
        )
        page.on(
            "console",
            lambda message: (
                blocked.append(message.text) if "Content Security Policy" in message.text else None
            ),
        )
        pages.append(watcher.watch(page))
        page.goto(f"/overlay/{graphic.pk}/?key={key}")
        page.key = key
        return page

    yield open_page
    for page in pages:
        page.close()
    assert not watcher.errors, f"JavaScript errors: {watcher.errors}"
    assert not blocked, f"blocked by the Content-Security-Policy: {blocked}"


def open_editor(signed_in: Any, user: Any, graphic: Graphic) -> Any:
    page = signed_in(user)
    page.goto(f"/graphics/{graphic.pk}/edit/")
    expect(page.locator("#lock-status")).to_have_text("You are editing")
    return page


def change_text(page: Any, element_id: str, content: str) -> None:
    page.locator(f'#element-list li[data-element-id="{element_id}"]').click()
    page.fill("#prop-content", content)


def save(page: Any) -> None:
    with page.expect_response(lambda response: response.request.method == "PATCH") as saved:
        page.click("#save")
    assert saved.value.ok, saved.value.text()
    expect(page.locator("#save-state")).to_have_text("Saved")


def press_and_time(page: Any, path: str, press: Any) -> float:
    """Do `press` (a click or a key) on `page`; the monotonic time its POST .../<path>/
    answered, having checked that it succeeded."""
    with page.expect_response(
        lambda response: response.request.method == "POST" and response.url.endswith(f"/{path}/")
    ) as answered:
        press()
    assert answered.value.ok, answered.value.text()
    return time.monotonic()


def assert_within(started: float, what: str) -> float:
    latency = time.monotonic() - started
    assert latency < ON_AIR_WITHIN_S, f"{what} reached the overlay after {latency:.2f} s"
    print(f"{what}: {latency * 1000:.0f} ms")
    return latency


def test_edits_wait_for_take_which_shows_them_within_a_second_and_clear_empties(
    signed_in: Any, open_overlay: Any, editor: Any
):
    """The draft is not on air: a saved edit leaves the overlay as it was while the editor says
    the draft differs and shows the program below it. Take puts the edit on air within a
    second; Clear empties the overlay (transparent) within a second."""
    graphic = make_graphic(editor, "Caster Lower Third", casters="Mira Vale")
    put_on_air(graphic, editor)
    overlay = open_overlay(graphic)
    expect(on_air_text(overlay, "casters")).to_have_text("Mira Vale")
    expect(overlay.locator("#overlay")).to_have_attribute("data-state", "live")

    page = open_editor(signed_in, editor, graphic)
    expect(page.locator("#air-status")).to_have_text("ON AIR · v1")
    expect(page.locator("#air-differs")).to_have_text("")
    change_text(page, "casters", "Mira Vale & Tomo Kessler")
    expect(page.locator("#take")).to_be_disabled()  # Take puts the saved version on air
    expect(page.locator("#air-note")).to_have_text(
        "Save first: Take puts the saved version on air."
    )
    save(page)
    expect(page.locator("#air-differs")).to_have_text("Draft v2 differs from air (v1)")
    expect(page.locator("#program-label")).to_contain_text("version 1 on air")
    expect(page.locator('#program-stage [data-element-id="casters"]')).to_have_text("Mira Vale")
    page.locator("#field-title").focus()  # the top of the page, not the save button
    screenshot(page, "editor-on-air", full_page=True)
    expect(page.locator('#stage [data-element-id="casters"]')).to_have_text(
        "Mira Vale & Tomo Kessler"
    )

    # Not on air: the overlay keeps the program, however long it waits.
    overlay.wait_for_timeout(1500)
    expect(on_air_text(overlay, "casters")).to_have_text("Mira Vale")
    expect(overlay.locator("#overlay")).to_have_attribute("data-version", "1")

    taken_at = press_and_time(page, "take", lambda: page.click("#take"))
    expect(on_air_text(overlay, "casters")).to_have_text("Mira Vale & Tomo Kessler", timeout=1000)
    assert_within(taken_at, "take")
    expect(page.locator("#air-status")).to_have_text("ON AIR · v2")
    expect(page.locator("#air-differs")).to_have_text("")
    expect(page.locator('#program-stage [data-element-id="casters"]')).to_have_text(
        "Mira Vale & Tomo Kessler"
    )

    cleared_at = press_and_time(page, "clear", lambda: page.click("#clear"))
    expect(on_air_elements(overlay)).to_have_count(0, timeout=1000)
    assert_within(cleared_at, "clear")
    expect(overlay.locator("#overlay")).to_have_attribute("data-air", "off")
    expect(page.locator("#air-status")).to_have_text("Off air (last v2)")
    expect(page.locator("#program-label")).to_contain_text("nothing on air")
    # Fully transparent: nothing drawn, and no background anywhere on the page.
    assert overlay.evaluate(
        """() => [document.documentElement, document.body, document.getElementById('overlay')]
              .every((node) => getComputedStyle(node).backgroundColor === 'rgba(0, 0, 0, 0)')"""
    )
    intervals = list(AirInterval.objects.filter(graphic=graphic).order_by("id"))
    assert [(interval.version, interval.cleared_at is not None) for interval in intervals] == [
        (1, True),
        (2, True),
    ]


def test_keyboard_shortcuts_take_and_clear_and_are_written_on_the_page(
    signed_in: Any, open_overlay: Any, editor: Any
):
    """F8 takes and Shift+F8 clears, wherever the focus is (a text field included: function
    keys type nothing); the page says so."""
    graphic = make_graphic(editor, "Player Card", name="SpatulaSage")
    overlay = open_overlay(graphic)
    expect(overlay.locator("#overlay")).to_have_attribute("data-state", "live")
    expect(on_air_elements(overlay)).to_have_count(0)  # new graphics start off air

    page = open_editor(signed_in, editor, graphic)
    expect(page.locator("#editor-shortcuts")).to_contain_text("F8 Take")
    expect(page.locator("#editor-shortcuts")).to_contain_text("Shift+F8 Clear")
    expect(page.locator("#take")).to_contain_text("F8")
    expect(page.locator("#air-status")).to_have_text("Never on air")
    expect(page.locator("#air-differs")).to_have_text("Not taken yet")

    page.locator("#field-title").focus()
    taken_at = press_and_time(page, "take", lambda: page.keyboard.press("F8"))
    expect(on_air_text(overlay, "name")).to_have_text("SpatulaSage", timeout=1000)
    assert_within(taken_at, "take (F8)")
    expect(page.locator("#field-title")).to_have_value("Player Card")  # nothing was typed

    cleared_at = press_and_time(page, "clear", lambda: page.keyboard.press("Shift+F8"))
    expect(on_air_elements(overlay)).to_have_count(0, timeout=1000)
    assert_within(cleared_at, "clear (Shift+F8)")
    graphic.refresh_from_db()
    assert not graphic.on_air

    # With unsaved changes F8 takes nothing and says why.
    page.fill("#field-title", "Player Card (edited)")
    page.keyboard.press("F8")
    expect(page.locator("#banner")).to_contain_text("Not taken: save first.")
    graphic.refresh_from_db()
    assert not graphic.on_air


def test_live_mode_shows_each_save_within_a_second(signed_in: Any, open_overlay: Any, editor: Any):
    """The live switch puts the current version on air at once, then every save goes to air
    without a take; turned off, saves wait for a take again."""
    graphic = make_graphic(editor, "Round 4 Scoreboard", score="Lobby 1: 0 - 0")
    overlay = open_overlay(graphic)
    page = open_editor(signed_in, editor, graphic)

    switched_at = press_and_time(page, "live", lambda: page.click("#live-switch"))
    expect(on_air_text(overlay, "score")).to_have_text("Lobby 1: 0 - 0", timeout=1000)
    assert_within(switched_at, "live on")
    expect(page.locator("#air-status")).to_have_text("ON AIR · LIVE · v1")
    expect(page.locator("#live-switch")).to_be_checked()

    for number, score in enumerate(("Lobby 1: 1 - 0", "Lobby 1: 2 - 0"), start=2):
        change_text(page, "score", score)
        save(page)
        saved_at = time.monotonic()
        expect(on_air_text(overlay, "score")).to_have_text(score, timeout=1000)
        assert_within(saved_at, f"live save {number}")
        expect(overlay.locator("#overlay")).to_have_attribute("data-version", str(number))
        expect(page.locator("#air-status")).to_have_text(f"ON AIR · LIVE · v{number}")
        expect(page.locator("#air-differs")).to_have_text("")

    press_and_time(page, "live", lambda: page.click("#live-switch"))
    expect(page.locator("#air-status")).to_have_text("ON AIR · v3")
    change_text(page, "score", "Lobby 1: 3 - 0")
    save(page)
    expect(page.locator("#air-differs")).to_have_text("Draft v4 differs from air (v3)")
    overlay.wait_for_timeout(1500)
    expect(on_air_text(overlay, "score")).to_have_text("Lobby 1: 2 - 0")


def test_an_overlay_that_reconnects_while_cleared_stays_empty(
    open_overlay: Any,
    editor: Any,
    daphne_server: Any,
    live_server_app: Any,
    tmp_path: Any,
):
    """Cleared while the server was down, the overlay empties when it reconnects (the resume
    brings the clear) and stays empty, whatever is saved meanwhile; a page loaded while the
    graphic is cleared draws nothing. A take draws it again."""
    graphic = make_graphic(editor, "Sponsor Bug", sponsor="Brought to you by Riot")
    put_on_air(graphic, editor)
    overlay = open_overlay(graphic)
    expect(on_air_text(overlay, "sponsor")).to_have_text("Brought to you by Riot")

    live_server_app.stop()
    expect(overlay.locator("#overlay")).not_to_have_attribute("data-state", "live")
    outside_playwright(graphic_clear, user=editor, graphic_id=graphic.pk, reason="break over")
    edit_as(editor, graphic.pk, patch=content_patch("sponsor", "A draft, not for air"))
    daphne_server.restart(live_server_app, **browser_server_settings(tmp_path))
    expect(on_air_elements(overlay)).to_have_count(0, timeout=30_000)
    expect(overlay.locator("#overlay")).to_have_attribute("data-air", "off")
    expect(overlay.locator("#overlay")).to_have_attribute("data-state", "live", timeout=30_000)

    edit_as(editor, graphic.pk, patch=content_patch("sponsor", "Another draft"))
    reloaded = open_overlay(graphic, overlay.key)
    expect(reloaded.locator("#overlay")).to_have_attribute("data-state", "live")
    for page in (overlay, reloaded):
        page.wait_for_timeout(1000)
        expect(on_air_elements(page)).to_have_count(0)
        assert "draft" not in page.locator("#overlay").inner_html().lower()

    current = Graphic.objects.get(pk=graphic.pk)
    put_on_air(current, editor)
    for page in (overlay, reloaded):
        expect(on_air_text(page, "sponsor")).to_have_text("Another draft")


def test_the_list_shows_on_air_and_editors_take_and_clear_from_it(
    signed_in: Any, editor: Any, viewer: Any
):
    """The list's ON AIR badge, program version and "draft differs" follow takes, clears and
    saves live, for everyone; Editors take (the version the row shows) and clear with the
    buttons or F8 / Shift+F8 on a selected row; Viewers see no buttons."""
    graphic = make_graphic(editor, "Week 3 Standings", heading="Week 3")
    other = make_graphic(editor, "Caster Lower Third", casters="Mira Vale")
    watcher = signed_in(viewer)
    watcher.goto("/graphics/")
    operator = signed_in(editor)
    operator.goto("/graphics/")
    expect(operator.locator("#connection-state")).to_have_attribute("data-state", "live")
    seen = watcher.locator(f"#graphic-{graphic.pk} td.air")
    row = operator.locator(f"#graphic-{graphic.pk}")

    expect(seen).to_have_text("Never on air Not taken yet")
    expect(watcher.locator(f"#graphic-{graphic.pk} [data-action=take]")).to_have_count(0)
    expect(watcher.locator("#list-shortcuts")).to_have_count(0)
    expect(operator.locator("#list-shortcuts")).to_contain_text("F8")
    expect(row.locator("[data-action=clear]")).to_be_disabled()

    row.locator("[data-action=take]").click()
    expect(seen).to_have_text("ON AIR · v1")
    expect(row.locator("td.air .badge")).to_have_attribute("data-air", "on-air")

    edit_as(editor, graphic.pk, patch=content_patch("heading", "Week 3 — Final"))
    expect(seen).to_have_text("ON AIR · v1 Draft v2 differs from air (v1)")
    expect(row.locator(".version")).to_have_text("2")
    screenshot(operator, "list-on-air")

    row.locator(".event").click()  # select the row
    operator.keyboard.press("F8")
    expect(seen).to_have_text("ON AIR · v2")
    operator.keyboard.press("Shift+F8")
    expect(seen).to_have_text("Off air (last v2)")
    row.locator("[data-action=take]").click()
    expect(seen).to_have_text("ON AIR · v2")
    row.locator("[data-action=clear]").click()
    expect(seen).to_have_text("Off air (last v2)")
    expect(watcher.locator(f"#graphic-{other.pk} td.air")).to_have_text(
        "Never on air Not taken yet"
    )
    graphic.refresh_from_db()
    assert (graphic.on_air, graphic.program_version) == (False, 2)

    # A Viewer's editor shows the on-air state, with nothing to press.
    watcher.goto(f"/graphics/{graphic.pk}/edit/")
    expect(watcher.locator("#air-status")).to_have_text("Off air (last v2)")
    expect(watcher.locator("#take")).to_have_count(0)
    expect(watcher.locator("#live-switch")).to_have_count(0)
    watcher.keyboard.press("F8")
    expect(watcher.locator("#banner")).to_be_hidden()


def test_a_stale_take_is_refused_and_a_held_lock_keeps_others_from_taking(
    signed_in: Any, editor: Any, editor2: Any
):
    """Take names the version the page shows: a save made elsewhere meanwhile is a
    version_conflict, never a take of a version nobody here saw. Someone else's lock keeps an
    Editor from taking (their draft is half made)."""
    graphic = make_graphic(editor, "Lobby B Placements", first="Streakmaster")
    operator = signed_in(editor2)
    held_back = {"on": False}

    def route(socket: Any) -> None:
        server = socket.connect_to_server()
        server.on_message(lambda message: None if held_back["on"] else socket.send(message))

    operator.route_web_socket("**/ws/graphics**", route)
    operator.goto("/graphics/")
    row = operator.locator(f"#graphic-{graphic.pk}")
    expect(row.locator(".version")).to_have_text("1")
    # The list misses the next save (its frames are held back): it still shows version 1.
    held_back["on"] = True
    edit_as(editor2, graphic.pk, patch=content_patch("first", "Econ Elena"))
    with operator.expect_response(lambda response: response.url.endswith("/take/")) as answer:
        row.locator("[data-action=take]").click()
    assert answer.value.status == 409
    assert answer.value.json()["error"]["code"] == "version_conflict"
    expect(operator.locator("#banner")).to_contain_text("version 2")
    graphic.refresh_from_db()
    assert not graphic.on_air

    locked = make_graphic(editor, "Caster Lower Third", casters="Mira Vale")
    outside_playwright(lock_acquire, user=editor, graphic_id=locked.pk)
    page = signed_in(editor2)
    page.goto(f"/graphics/{locked.pk}/edit/")
    expect(page.locator("#lock-status")).to_have_text("In use by editor")
    expect(page.locator("#take")).to_be_disabled()
    expect(page.locator("#air-note")).to_have_text(
        "In use by editor: only they or a Lock admin can take it."
    )
    page.keyboard.press("F8")
    expect(page.locator("#banner")).to_contain_text("Not taken")
    locked.refresh_from_db()
    assert not locked.on_air


def test_the_transition_is_saved_with_the_lock_and_animates_in_and_out_in_css(
    signed_in: Any, open_overlay: Any, editor: Any
):
    """The transition and its duration are saved like the title (under the lock); the overlay
    plays them with CSS animations (no inline style: the Content-Security-Policy would block
    it), then a clear plays out and empties the page."""
    graphic = make_graphic(editor, "Caster Lower Third", casters="Mira Vale")
    overlay = open_overlay(graphic)
    page = open_editor(signed_in, editor, graphic)
    expect(page.locator("#field-transition")).to_have_value("fade")
    expect(page.locator("#field-transition-ms")).to_have_value("400")
    page.select_option("#field-transition", "slide")
    page.fill("#field-transition-ms", "1500")
    save(page)
    graphic.refresh_from_db()
    assert (graphic.transition, graphic.transition_ms) == ("slide", 1500)

    root = overlay.locator("#overlay")
    press_and_time(page, "take", lambda: page.click("#take"))
    expect(root).to_have_class("canvas-root air-in", timeout=1000)
    expect(root).to_have_attribute("data-transition", "slide")
    animation = root.evaluate(
        "(node) => [getComputedStyle(node).animationName, getComputedStyle(node).animationDuration,"
        " node.style.getPropertyValue('--air-ms')]"
    )
    assert animation == ["air-slide-in", "1.5s", "1500ms"]
    expect(root).to_have_class("canvas-root", timeout=5000)  # played in
    expect(on_air_text(overlay, "casters")).to_be_in_viewport()

    press_and_time(page, "clear", lambda: page.click("#clear"))
    expect(root).to_have_attribute("data-air", "out", timeout=1000)
    assert root.evaluate("(node) => getComputedStyle(node).animationName") == "air-slide-out"
    expect(on_air_text(overlay, "casters")).to_have_count(1)  # still there while it plays out
    expect(on_air_elements(overlay)).to_have_count(0, timeout=5000)
    expect(root).to_have_attribute("data-air", "off")


def test_overlay_screenshot_shows_the_graphic(open_overlay: Any, editor: Any):
    """The README's overlay screenshot: a lower third taken to air, shot after its first draw
    and its transition, over a checkerboard (the page itself is transparent)."""
    from graphics.services import graphic_create
    from tests.conftest import text_element

    graphic = outside_playwright(
        graphic_create,
        user=editor,
        title="Caster Lower Third",
        event_name="GAL Season 3 Week 2",
        data={
            "background": None,
            "elements": [
                text_element(
                    "casters",
                    content="Mira Vale & Tomo Kessler",
                    x=160,
                    y=900,
                    font_size=44,
                    bold=True,
                ),
                text_element(
                    "role",
                    content="Casting · GAL Season 3",
                    x=160,
                    y=960,
                    font_size=28,
                    color="#f5c542",
                ),
            ],
        },
    )
    put_on_air(graphic, editor)
    overlay = open_overlay(graphic)
    expect(on_air_text(overlay, "casters")).to_have_text("Mira Vale & Tomo Kessler")
    path = screenshot_overlay(overlay, "overlay")
    assert path.stat().st_size > 10_000  # a checkerboard and text, not a blank page

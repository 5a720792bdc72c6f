"""
The dashboard in a real browser: two people on the list see each other's work live (new
graphics, titles, archive, locks and presence), the editor's lock flow, saves as patches,
uploads, and the login page.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from graphics.models import Graphic
from graphics.services import graphic_create
from locks.models import CanvasLock
from realtime.models import Event
from tests.browser.conftest import (
    browser_server_settings,
    make_graphic,
    outside_playwright,
    screenshot,
    session_cookie_for,
)

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def row(page: Any, graphic_id: int) -> Any:
    return page.locator(f"#graphic-{graphic_id}")


def graphic_titled(title: str) -> Graphic:
    return Graphic.objects.get(title=title)


def test_two_people_see_each_others_changes_live(signed_in: Any, editor: Any, viewer: Any):
    """The editor creates, edits and archives; the viewer's list shows each change without a
    reload; the lock badge and presence appear while the editor edits and go when they leave."""
    viewer_page = signed_in(viewer)
    viewer_page.goto("/graphics/")
    expect(viewer_page.locator("#connection-state")).to_have_attribute("data-state", "live")
    editor_list = signed_in(editor)
    editor_list.goto("/graphics/")
    expect(editor_list.locator("#connection-state")).to_have_attribute("data-state", "live")

    editor_list.fill("#create-title", "Week 3 Standings")
    editor_list.fill("#create-event", "GAL Season 3 Week 3")
    editor_list.click("#create-form button[type=submit]")
    expect(viewer_page.locator("#graphics-body")).to_contain_text("Week 3 Standings")
    graphic = graphic_titled("Week 3 Standings")
    viewer_row = row(viewer_page, graphic.pk)
    expect(viewer_row.locator(".event")).to_have_text("GAL Season 3 Week 3")

    editor_page = signed_in(editor)
    editor_page.goto(f"/graphics/{graphic.pk}/edit/")
    expect(editor_page.locator("#lock-status")).to_have_text("You are editing")
    expect(viewer_row.locator(".status")).to_contain_text("In use by editor")
    expect(viewer_row.locator(".status")).to_contain_text(re.compile(r"\d:\d\d"))
    expect(viewer_row.locator(".presence")).to_have_text("1 editing")

    editor_page.fill("#field-title", "Week 3 Standings (Final)")
    editor_page.click("#save")
    expect(editor_page.locator("#save-state")).to_have_text("Saved")
    expect(viewer_row.locator(".title")).to_have_text("Week 3 Standings (Final)")
    expect(viewer_row.locator(".version")).to_have_text("2")
    screenshot(viewer_page, "list")

    # Leaving the editor releases the lock (pagehide) and ends the presence.
    editor_page.close(run_before_unload=True)
    expect(viewer_row.locator(".status")).to_have_text("Now available")
    expect(viewer_row.locator(".presence")).to_have_text("")
    assert not CanvasLock.objects.filter(graphic=graphic).exists()

    row(editor_list, graphic.pk).get_by_role("button", name="Archive").click()
    expect(viewer_row).to_have_count(0)
    viewer_page.click("#tab-archived")
    expect(row(viewer_page, graphic.pk).locator(".status")).to_contain_text("Archived")
    assert graphic_titled("Week 3 Standings (Final)").archived


def test_a_second_editor_waits_and_a_lock_admin_can_force_unlock(
    signed_in: Any, editor: Any, editor2: Any, lock_admin: Any
):
    """Who holds the lock is shown with its countdown; when the holder stops it says "now
    available"; a Lock admin's force unlock tells the holder, who keeps their unsaved text."""
    graphic = outside_playwright(
        graphic_create, user=editor, title="Caster Lower Third", event_name="Week 3"
    )
    holder = signed_in(editor)
    holder.goto(f"/graphics/{graphic.pk}/edit/")
    expect(holder.locator("#lock-status")).to_have_text("You are editing")

    waiting = signed_in(editor2)
    waiting.goto(f"/graphics/{graphic.pk}/edit/")
    expect(waiting.locator("#lock-message")).to_contain_text("In use by editor for up to")
    expect(waiting.locator("#field-title")).to_be_disabled()
    expect(waiting.locator("#presence")).to_contain_text("editor (editing)")
    expect(holder.locator("#presence")).to_contain_text("editor2 (viewing)")

    holder.click("#release-lock")
    expect(waiting.locator("#lock-message")).to_contain_text("Now available: editor is done.")
    waiting.click("#take-lock")
    expect(waiting.locator("#lock-status")).to_have_text("You are editing")
    waiting.fill("#field-title", "Unsaved title")

    admin = signed_in(lock_admin)
    admin.goto(f"/graphics/{graphic.pk}/edit/")
    admin.click("#force-unlock")
    admin.fill("#override-reason", "editor2 left the desk")
    admin.click("#override-ok")
    expect(waiting.locator("#banner")).to_contain_text(
        'lockadmin took your lock: "editor2 left the desk"'
    )
    expect(waiting.locator("#field-title")).to_have_value("Unsaved title")
    expect(waiting.locator("#save")).to_be_disabled()
    assert Graphic.objects.get(pk=graphic.pk).title == "Caster Lower Third"


def test_editing_elements_saves_patches_and_uploads_backgrounds(
    signed_in: Any, editor: Any, tmp_path: Path
):
    """Add a text element, type into it, move it with the arrow keys and by dragging, change
    size and colour, upload a background file: one save stores all of it, the background as a
    URL under MEDIA_ROOT rather than a data: URL."""
    graphic = make_graphic(editor, "Player Card", name="SpatulaSage")
    page = signed_in(editor)
    page.goto(f"/graphics/{graphic.pk}/edit/")
    expect(page.locator("#lock-status")).to_have_text("You are editing")

    page.click("#add-text")
    page.fill("#prop-content", "Top 4 in 11 of 18 games")
    page.fill("#prop-font-size", "40")
    page.locator("#prop-color").evaluate(
        "(input) => { input.value = '#f5c542';"
        " input.dispatchEvent(new Event('input', {bubbles: true})); }"
    )
    new_element = page.locator('#stage [data-element-id="text-2"]')
    expect(new_element).to_have_text("Top 4 in 11 of 18 games")
    page.locator("#stage").focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowDown")
    box = page.locator('#stage [data-element-id="name"]').bounding_box()
    page.mouse.move(box["x"] + 5, box["y"] + 5)
    page.mouse.down()
    page.mouse.move(box["x"] + 105, box["y"] + 5, steps=5)
    page.mouse.up()

    png = tmp_path / "background.png"
    from PIL import Image

    Image.new("RGB", (1280, 720), (20, 30, 60)).save(png)
    page.set_input_files("#background-file", str(png))
    expect(page.locator("#canvas-size")).to_have_text("1280 \u00d7 720")
    page.click("#save")
    expect(page.locator("#save-state")).to_have_text("Saved")
    screenshot(page, "editor")

    saved = Graphic.objects.get(pk=graphic.pk)
    elements = {element["id"]: element for element in saved.data["elements"]}
    assert elements["text-2"]["content"] == "Top 4 in 11 of 18 games"
    assert elements["text-2"]["font_size"] == 40
    assert elements["text-2"]["color"] == "#f5c542"
    assert (elements["text-2"]["x"], elements["text-2"]["y"]) == (101, 110)
    assert elements["name"]["x"] > 40  # dragged right (by 100 screen pixels, scaled)
    background = saved.data["background"]
    assert (background["width"], background["height"]) == (1280, 720)
    assert background["image_url"].startswith("/media/backgrounds/")
    stored = tmp_path / "media" / background["image_url"].removeprefix("/media/")
    assert stored.read_bytes() == png.read_bytes()
    # One save, one version: the patch carried everything.
    assert saved.version == 2


def test_login_and_logout(browser: Any, live_server_app: Any, make_user: Any, settings: Any):
    """A wrong password is refused with a message; the right one lands on the list; logging
    out ends the session."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    user = make_user("producer", role="Viewer")
    user.set_password("a-long-demo-password")
    user.save()
    context = browser.new_context(base_url=live_server_app.url)
    page = context.new_page()
    try:
        page.goto("/graphics/")
        expect(page).to_have_url(re.compile(r"/login/\?next=/graphics/"))
        page.fill("#id_username", "producer")
        page.fill("#id_password", "wrong")
        page.click("button[type=submit]")
        expect(page.locator("#login-error")).to_be_visible()
        page.fill("#id_username", "producer")
        page.fill("#id_password", "a-long-demo-password")
        page.click("button[type=submit]")
        expect(page).to_have_url(re.compile(r"/graphics/$"))
        expect(page.locator("#signed-in-as")).to_have_text("producer")
        expect(page.locator("#create-form")).to_have_count(0)  # a Viewer cannot create
        page.click(".logout button")
        expect(page).to_have_url(re.compile(r"/login/$"))
        page.goto("/graphics/")
        expect(page).to_have_url(re.compile(r"/login/"))
    finally:
        context.close()


def test_the_editor_warns_before_the_lock_runs_out_and_says_when_it_expired(
    browser: Any, daphne_server: Any, editor: Any, tmp_path: Path
):
    """lock_expiring shows "Keep editing", which refreshes the lock; left alone, the lock
    expires and the page says so, keeping the unsaved text."""
    server = daphne_server(
        **browser_server_settings(tmp_path),
        LOCK_TTL_SECONDS="6",
        LOCK_EXPIRING_NOTICE_SECONDS="4",
        LOCK_SWEEP_INTERVAL_SECONDS="0.5",
    )
    graphic = outside_playwright(
        graphic_create, user=editor, title="Round 5 Scoreboard", event_name="Week 3"
    )
    context = browser.new_context(base_url=server.url)
    context.add_cookies([session_cookie_for(editor, server)])
    page = context.new_page()
    try:
        page.goto(f"/graphics/{graphic.pk}/edit/")
        expect(page.locator("#lock-status")).to_have_text("You are editing")
        first_expiry = CanvasLock.objects.get(graphic=graphic).expires_at
        expect(page.locator("#banner")).to_contain_text("Your lock expires in")
        page.locator("#banner").get_by_role("button", name="Keep editing").click()
        expect(page.locator("#banner")).to_be_hidden()
        assert CanvasLock.objects.get(graphic=graphic).expires_at > first_expiry

        page.fill("#field-title", "Unsaved title")
        expect(page.locator("#banner")).to_contain_text("Your lock expired.", timeout=15_000)
        expect(page.locator("#field-title")).to_have_value("Unsaved title")
        expect(page.locator("#take-lock")).to_be_visible()
    finally:
        context.close()


def test_duplicate_restore_and_a_confirmed_delete_from_the_list(
    signed_in: Any, editor: Any, lock_admin: Any, viewer: Any
):
    """Duplicate and restore for Editors; permanent delete only for Lock admins, only after the
    confirmation, with its reason kept; a cancelled confirmation deletes nothing. The viewer's
    list follows each step."""
    graphic = outside_playwright(
        graphic_create, user=editor, title="Lobby B Placements", event_name="Week 3"
    )
    watcher = signed_in(viewer)
    watcher.goto("/graphics/")
    expect(row(watcher, graphic.pk)).to_be_visible()
    expect(row(watcher, graphic.pk).get_by_role("button", name="Delete")).to_have_count(0)

    editor_list = signed_in(editor)
    editor_list.goto("/graphics/")
    expect(row(editor_list, graphic.pk).get_by_role("button", name="Delete")).to_have_count(0)
    row(editor_list, graphic.pk).get_by_role("button", name="Duplicate").click()
    expect(watcher.locator("#graphics-body")).to_contain_text("Lobby B Placements (Copy)")
    copy = Graphic.objects.get(title="Lobby B Placements (Copy)")

    row(editor_list, copy.pk).get_by_role("button", name="Archive").click()
    watcher.click("#tab-archived")
    expect(row(watcher, copy.pk)).to_be_visible()
    editor_list.click("#tab-archived")
    row(editor_list, copy.pk).get_by_role("button", name="Restore").click()
    expect(row(watcher, copy.pk)).to_have_count(0)
    watcher.click("#tab-active")
    expect(row(watcher, copy.pk)).to_be_visible()

    admin = signed_in(lock_admin)
    admin.goto("/graphics/")
    row(admin, copy.pk).get_by_role("button", name="Delete").click()
    expect(admin.locator("#confirm-text")).to_contain_text('Delete "Lobby B Placements (Copy)"')
    admin.get_by_role("button", name="Cancel").click()
    assert Graphic.objects.filter(pk=copy.pk).exists()

    row(admin, copy.pk).get_by_role("button", name="Delete").click()
    admin.fill("#confirm-reason", "duplicate made by mistake")
    admin.click("#confirm-ok")
    expect(row(watcher, copy.pk)).to_have_count(0)
    assert not Graphic.objects.filter(pk=copy.pk).exists()
    deleted = Event.objects.filter(graphic_id=copy.pk).order_by("-id").first()
    assert deleted is not None
    assert (deleted.data["action"], deleted.data["reason"]) == (
        "deleted",
        "duplicate made by mistake",
    )
    assert row(watcher, graphic.pk).is_visible()

"""
Browser fixtures: Debian's Chromium (/usr/bin/chromium, installed by .ci/run when missing)
driven by Playwright's Python package, against real daphne servers (tests/e2e/conftest.py)
that share the test database.

Signing in: a test that is about the login page logs in through it; the others put a session
made by Django's test client into the browser (the servers hash passwords with the production
hasher, which would make every test's login slow).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from django.conf import settings
from django.db import connections
from django.test import Client

# daphne_server: the end-to-end tests' server fixture, shared.
from tests.e2e.conftest import DaphneLauncher, DaphneServer, daphne_server  # noqa: F401

T = TypeVar("T")

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
HOW_TO_ENABLE_BROWSER = (
    "needs Chromium: `apt-get install chromium` (`.ci/run` installs it), or set CHROMIUM_PATH"
)
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
# Every wait for something to appear on a page: generous for a loaded CI machine; the latency
# the overlay promises is asserted separately, with its own bound.
UI_TIMEOUT_MS = 10_000


def chromium_path() -> str | None:
    """CHROMIUM_PATH when it names an executable file, else the first Debian candidate found;
    None when there is none (chromium_missing() says why)."""
    configured = os.environ.get("CHROMIUM_PATH")
    if configured:
        return configured if os.path.isfile(configured) and os.access(configured, os.X_OK) else None
    for candidate in CHROMIUM_CANDIDATES:
        if shutil.which(candidate):
            return candidate
    return None


def chromium_missing() -> str:
    configured = os.environ.get("CHROMIUM_PATH")
    if configured:
        return (
            f"needs Chromium: CHROMIUM_PATH={configured} is not an executable file; point it at "
            "Chromium, or unset it to use /usr/bin/chromium"
        )
    return HOW_TO_ENABLE_BROWSER


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    browser_items = [item for item in items if "tests/browser/" in item.nodeid]
    if not browser_items or chromium_path():
        return
    # One skip reason for all of them, rather than one launch error per test.
    reason = chromium_missing()
    if os.environ.get("CI", "").lower() == "true":
        raise pytest.UsageError(f"CI=true: the browser tests {reason}.")
    for item in browser_items:
        item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def browser(transactional_db: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Chromium for one test. Playwright's sync API keeps an asyncio loop registered as running
    in this thread while it is open, which Django takes for async code and so refuses ORM calls
    (pytest-django's documentation gives the same advice for Playwright): the test's own ORM
    calls are allowed while the browser is open. It is opened after the test database is set up
    and closed before it is flushed, so Django's own set-up and tear-down run as usual."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=UI_TIMEOUT_MS)
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_path(),
            # CI runs as root in a container, where Chromium's sandbox cannot start.
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        yield launched
        launched.close()
        # The test's ORM calls ran in Playwright's context, which has database connections of
        # its own (Django keeps them per context); close them here, or PostgreSQL refuses to
        # drop the test database at the end of the run ("being accessed by other users").
        connections.close_all()


@pytest.fixture
def live_server_app(daphne_server: DaphneLauncher, tmp_path: Path) -> DaphneServer:  # noqa: F811
    """A daphne serving the pages, static files from the apps' folders and uploads from a
    temporary MEDIA_ROOT."""
    return daphne_server(**browser_server_settings(tmp_path))


def browser_server_settings(tmp_path: Path) -> dict[str, Any]:
    return {
        "WHITENOISE_USE_FINDERS": "true",
        "MEDIA_ROOT": str(tmp_path / "media"),
        # Every browser context of a test may hold a socket; the defaults are for people.
        "WS_MAX_CONNECTIONS_PER_USER": "20",
    }


def outside_playwright(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run a service call (a write that broadcasts) in a thread of its own. While Playwright's
    sync API is open this thread counts as running an event loop, so the after-commit publish
    (async_to_sync) would refuse to run here, and the servers would only learn of the change
    from the event log, seconds later: a different path from the one every real write takes."""

    def call() -> T:
        try:
            return fn(*args, **kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


def make_graphic(author: Any, title: str, **text: str) -> Any:
    """A graphic with one text element per keyword (element id=content), created outside
    Playwright's thread like every write of these tests."""
    from graphics.services import graphic_create
    from tests.conftest import text_element

    elements = [text_element(element_id, content=content) for element_id, content in text.items()]
    return outside_playwright(
        graphic_create,
        user=author,
        title=title,
        event_name="Week 3",
        data={"background": None, "elements": elements},
    )


def put_on_air(graphic: Any, user: Any, *, live: bool = False) -> Any:
    """Take `graphic` to air as `user` (new graphics start off air), through the services like
    every write of these tests; `live=True` also turns live mode on, so every save goes to air
    at once, as every save did before on-air control (issue 16)."""
    from graphics.on_air import graphic_set_live, graphic_take

    if live:
        return outside_playwright(graphic_set_live, user=user, graphic_id=graphic.pk, live=True)
    return outside_playwright(
        graphic_take, user=user, graphic_id=graphic.pk, expected_version=graphic.version
    )


def session_cookie_for(user: Any, server: DaphneServer) -> dict[str, Any]:
    client = Client()
    client.force_login(user)
    return {
        "name": settings.SESSION_COOKIE_NAME,
        "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
        "url": server.url,
    }


class PageErrors:
    """JavaScript errors and dialogs a page raised: a test fails on any it did not expect."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.dialogs: list[str] = []

    def watch(self, page: Any) -> Any:
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("dialog", self._refuse_dialog)
        return page

    def _refuse_dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()


@pytest.fixture
def signed_in(browser: Any, live_server_app: DaphneServer) -> Iterator[Any]:
    """signed_in(user) -> a new browser page with `user`'s session; closed after the test.
    Every page's JavaScript errors fail the test."""
    contexts: list[Any] = []
    watcher = PageErrors()

    def open_page(user: Any) -> Any:
        context = browser.new_context(
            base_url=live_server_app.url, viewport={"width": 1400, "height": 900}
        )
        context.add_cookies([session_cookie_for(user, live_server_app)])
        context.set_default_timeout(UI_TIMEOUT_MS)
        contexts.append(context)
        return watcher.watch(context.new_page())

    open_page.errors = watcher  # type: ignore[attr-defined]
    yield open_page
    for context in contexts:
        context.close()
    assert not watcher.errors, f"JavaScript errors: {watcher.errors}"
    assert not watcher.dialogs, f"unexpected dialogs (script injection?): {watcher.dialogs}"


def screenshot(page: Any, name: str, *, full_page: bool = False) -> Path:
    """Save a screenshot under var/screenshots/ (the README shows them): the viewport, or the
    whole page with `full_page`."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


# The backdrop an overlay screenshot is taken over: the page itself is transparent (OBS
# composites it), and a screenshot of a transparent page is white, on which white text shows
# nothing. A checkerboard, as image editors show transparency.
CHECKERBOARD = "repeating-conic-gradient(#3a3d46 0% 25%, #24262d 0% 50%) 0 0 / 32px 32px"


def screenshot_overlay(page: Any, name: str) -> Path:
    """Save a screenshot of an overlay page once it has drawn its graphic (on air, its
    transition in played), over a checkerboard. The backdrop is set through the CSSOM, which
    the page's Content-Security-Policy allows, and removed afterwards: the page stays as OBS
    sees it."""
    from playwright.sync_api import expect

    root = page.locator("#overlay")
    expect(root).to_have_attribute("data-air", "on")
    expect(root.locator("[data-element-id]").first).to_be_attached()
    expect(root).not_to_have_class(re.compile(r"\bair-in\b"))
    page.evaluate(
        "(backdrop) => { document.documentElement.style.background = backdrop; }", CHECKERBOARD
    )
    try:
        return screenshot(page, name)
    finally:
        page.evaluate("() => { document.documentElement.style.background = ''; }")

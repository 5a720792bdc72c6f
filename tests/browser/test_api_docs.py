"""/api/docs/ in Chromium under the site's Content-Security-Policy: Swagger UI draws the API's
operations, and the browser reports no CSP violation (an inline style or script it refused)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import DaphneServer

pytestmark = pytest.mark.django_db(transaction=True)


def test_swagger_ui_draws_under_the_csp_without_a_violation(
    browser: Any, live_server_app: DaphneServer
):
    page = browser.new_page(base_url=live_server_app.url)
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))

    response = page.goto("/api/docs/")

    assert response is not None and response.status == 200
    assert "style-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator(".opblock").first).to_be_visible()
    assert page.locator(".opblock").count() > 10
    # The page's own styles applied: the static file's background, not the browser's white.
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(250, 250, 250)"
    violations = [line for line in console if "Content Security Policy" in line]
    assert violations == [], violations
    page.close()

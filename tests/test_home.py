"""The home page: where the API docs, the schema and the admin are, and who you are."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.django_db


def test_home_links_to_the_docs_schema_and_admin(client: Any):
    """An anonymous visitor gets the page with the three links and is told they are not
    signed in."""
    response = client.get("/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    for href in ("/api/docs/", "/api/schema/", "/admin/"):
        assert f'href="{href}"' in response.text
    assert "Not signed in." in response.text


def test_home_says_who_is_signed_in(client: Any, editor: Any):
    """A signed-in user sees their username."""
    client.force_login(editor)

    response = client.get("/")

    assert "Signed in as <strong>editor</strong>." in response.text


def test_home_has_no_inline_script(client: Any):
    """The page is plain HTML: no scripts and no inline styles (a strict CSP stays possible)."""
    response = client.get("/")

    assert "<script" not in response.text
    assert "style=" not in response.text

"""/favicon.ico and the pages' icon link: no 404, and no WARNING in the log for it."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.templatetags.static import static

from graphics.services import view_key_rotate

pytestmark = pytest.mark.django_db

ICON = Path(settings.BASE_DIR) / "dashboard" / "static" / "dashboard" / "favicon.ico"


def test_favicon_ico_is_the_icon_and_logs_no_warning(client: Any, caplog: Any):
    with caplog.at_level(logging.WARNING):
        response = client.get("/favicon.ico")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    assert "max-age=86400" in response["Cache-Control"]
    assert b"".join(response.streaming_content) == ICON.read_bytes()
    assert [record for record in caplog.records if record.levelno >= logging.WARNING] == []


@pytest.mark.parametrize("url", ["/", "/login/"])
def test_pages_link_the_icon_and_it_is_served(client: Any, url: str):
    page = client.get(url)

    # The static file itself is served by WhiteNoise (tests/test_packaging.py fetches it from
    # a running server); here, that the link names it.
    (href,) = re.findall(r'<link rel="icon" href="([^"]+)">', page.text)
    assert href == static("dashboard/favicon.ico")
    assert finders.find("dashboard/favicon.ico") == str(ICON)


def test_overlay_links_the_icon(client: Any, graphic: Any, editor: Any):
    key = view_key_rotate(graphic_id=graphic.pk, user=editor).key

    page = client.get(f"/overlay/{graphic.pk}/", {"key": key})

    assert page.status_code == 200, page.status_code
    assert '<link rel="icon" href="' in page.text

"""Tests store uploads under a temporary MEDIA_ROOT (tests/conftest.py), never in var/media."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from tests.graphics.test_api import api_client
from tests.graphics.test_backgrounds import UPLOAD_URL, image_bytes, upload


@pytest.mark.django_db
def test_an_upload_in_a_test_lands_in_the_temporary_media_root(
    editor: Any, temporary_media_root: Path
):
    development_media = Path(settings.VAR_DIR) / "media"
    before = sorted(development_media.rglob("*")) if development_media.exists() else []

    response = api_client(editor).post(
        UPLOAD_URL, {"file": upload("bg.png", image_bytes())}, format="multipart"
    )

    assert response.status_code == 201, response.content
    assert Path(settings.MEDIA_ROOT) == temporary_media_root
    assert not temporary_media_root.is_relative_to(Path(settings.VAR_DIR))
    assert (temporary_media_root / response.json()["image_url"].removeprefix("/media/")).is_file()
    after = sorted(development_media.rglob("*")) if development_media.exists() else []
    assert after == before


def test_servers_started_by_tests_inherit_the_temporary_media_root(temporary_media_root: Path):
    assert os.environ["MEDIA_ROOT"] == str(temporary_media_root)

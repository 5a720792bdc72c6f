"""Background uploads: POST /api/uploads/backgrounds/ stores a checked image under MEDIA_ROOT
and answers with a canvas background; everything that is not such an image is refused."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import BmpImagePlugin, Image, TiffImagePlugin

from gal_dashboard.errors import PermissionDenied, TooLarge, ValidationFailed
from graphics.backgrounds import background_image_store
from graphics.canvas import check_canvas_data
from tests.conftest import error_of
from tests.graphics.test_api import api_client

pytestmark = pytest.mark.django_db

UPLOAD_URL = "/api/uploads/backgrounds/"


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def image_bytes(image_format: str = "PNG", size: tuple[int, int] = (640, 360)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 20, 30)).save(buffer, format=image_format)
    return buffer.getvalue()


def upload(name: str, content: bytes, content_type: str = "image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


@pytest.mark.parametrize(
    ("image_format", "extension"),
    [("PNG", "png"), ("JPEG", "jpg"), ("WEBP", "webp"), ("GIF", "gif")],
)
def test_an_editor_uploads_an_image_and_gets_a_canvas_background(
    editor: Any, media_root: Path, image_format: str, extension: str
):
    content = image_bytes(image_format)

    response = api_client(editor).post(
        UPLOAD_URL, {"file": upload(f"bg.{extension}", content)}, format="multipart"
    )

    assert response.status_code == 201, response.content
    background = response.json()
    assert (background["width"], background["height"]) == (640, 360)
    assert background["image_url"].startswith("/media/backgrounds/")
    assert background["image_url"].endswith(f".{extension}")
    stored = media_root / background["image_url"].removeprefix("/media/")
    assert stored.read_bytes() == content
    # It is a valid canvas background as it stands.
    check_canvas_data({"background": background, "elements": []})


def test_the_stored_image_is_served_under_media_url(editor: Any, client: Any):
    content = image_bytes()
    background = (
        api_client(editor)
        .post(UPLOAD_URL, {"file": upload("bg.png", content)}, format="multipart")
        .json()
    )

    response = client.get(background["image_url"])

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == content


def test_two_uploads_of_the_same_name_never_overwrite_each_other(editor: Any):
    first = api_client(editor).post(
        UPLOAD_URL, {"file": upload("bg.png", image_bytes())}, format="multipart"
    )
    second = api_client(editor).post(
        UPLOAD_URL, {"file": upload("bg.png", image_bytes())}, format="multipart"
    )

    assert first.json()["image_url"] != second.json()["image_url"]


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        ("page.png", b"<html><script>alert(1)</script></html>", "image/png"),
        (
            "logo.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
            "image/svg+xml",
        ),
        ("truncated.png", image_bytes()[:200], "image/png"),
        ("empty.png", b"", "image/png"),
        ("icon.bmp", None, "image/bmp"),
    ],
)
def test_anything_but_a_whole_png_jpeg_webp_or_gif_is_refused(
    editor: Any, media_root: Path, name: str, content: bytes | None, content_type: str
):
    if content is None:
        buffer = io.BytesIO()
        Image.new("RGB", (8, 8)).save(buffer, format="BMP")
        content = buffer.getvalue()

    response = api_client(editor).post(
        UPLOAD_URL, {"file": upload(name, content, content_type)}, format="multipart"
    )

    error = error_of(response, 400, "validation_error")
    assert "file" in error["details"]
    assert not (media_root / "backgrounds").exists() or not any(
        (media_root / "backgrounds").iterdir()
    )


@pytest.mark.parametrize(
    ("image_format", "plugin"),
    [("BMP", BmpImagePlugin.BmpImageFile), ("TIFF", TiffImagePlugin.TiffImageFile)],
)
def test_an_image_in_another_format_never_reaches_its_decoder(
    editor: Any, media_root: Path, monkeypatch: Any, image_format: str, plugin: Any
):
    """A BMP or TIFF that Pillow reads perfectly well is refused, and Pillow is told to try
    only the accepted formats: the refused format's decoder never runs on the upload."""
    decoded: list[str] = []
    original_open = plugin._open

    def spying_open(image: Any) -> None:
        decoded.append(image_format)
        original_open(image)

    monkeypatch.setattr(plugin, "_open", spying_open)
    content = image_bytes(image_format)
    with Image.open(io.BytesIO(content)) as readable:  # the spy sees Pillow's own decoding
        assert readable.format == image_format
    decoded.clear()

    response = api_client(editor).post(
        UPLOAD_URL, {"file": upload(f"bg.{image_format.lower()}", content)}, format="multipart"
    )

    error = error_of(response, 400, "validation_error")
    assert error["details"] == {"file": ["Must be a PNG, JPEG, WebP or GIF image."]}
    assert decoded == []
    assert not (media_root / "backgrounds").exists()


def test_a_request_without_a_file_says_which_field_is_missing(editor: Any):
    error = error_of(
        api_client(editor).post(UPLOAD_URL, {}, format="multipart"), 400, "validation_error"
    )
    assert error["details"] == {"file": ["Choose an image file to upload."]}


def test_a_json_body_is_refused_as_unsupported(editor: Any):
    response = api_client(editor).post(UPLOAD_URL, {"file": "x"}, format="json")
    assert response.status_code == 415


def test_an_image_over_the_limit_is_too_large(editor: Any, settings: Any):
    settings.BACKGROUND_UPLOAD_MAX_BYTES = 1024
    response = api_client(editor).post(
        UPLOAD_URL, {"file": upload("big.png", image_bytes(size=(800, 800)))}, format="multipart"
    )
    error_of(response, 413, "too_large")


def test_viewers_and_anonymous_visitors_cannot_upload(viewer: Any):
    file = {"file": upload("bg.png", image_bytes())}
    error_of(
        api_client(viewer).post(UPLOAD_URL, file, format="multipart"), 403, "permission_denied"
    )
    file = {"file": upload("bg.png", image_bytes())}
    error_of(api_client().post(UPLOAD_URL, file, format="multipart"), 401, "not_authenticated")


def test_the_service_applies_the_same_rules(editor: Any, viewer: Any):
    with pytest.raises(PermissionDenied):
        background_image_store(user=viewer, upload=upload("bg.png", image_bytes()))
    with pytest.raises(ValidationFailed):
        background_image_store(user=editor, upload=upload("bg.png", b"not an image"))
    with pytest.raises(ValidationFailed):
        background_image_store(user=editor, upload=None)


def test_the_service_refuses_an_oversized_file(editor: Any, settings: Any):
    settings.BACKGROUND_UPLOAD_MAX_BYTES = 1024
    with pytest.raises(TooLarge):
        background_image_store(user=editor, upload=upload("bg.png", image_bytes(size=(800, 800))))

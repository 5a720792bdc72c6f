"""Where a canvas background may come from (issue 14, finding 8): this site's uploads, hosts in
BACKGROUND_IMAGE_HOSTS, or an inline raster image. Anything that makes every viewer, OBS
included, fetch from a site nobody chose is a field-level validation_error on REST and on the
WebSocket, and changes nothing."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from gal_dashboard.errors import ValidationFailed
from graphics.canvas import check_canvas_data
from graphics.models import Graphic
from locks.services import lock_acquire
from tests.conftest import error_of, valid_canvas
from tests.graphics.test_api import LIST_URL, api_client, detail_url
from tests.realtime.conftest import db_call, ws_connect  # noqa: F401 (fixtures)

FIELD = "data.background.image_url"
ALLOWED_HOST = "cdn.gal.example"

OFF_SITE = [
    "//evil.example/x.png",  # scheme-relative: another host
    "/\\evil.example/x.png",  # browsers read "\" as "/": //evil.example
    "/\\evil.example",
    "/\t/evil.example/x.png",  # browsers drop tabs: //evil.example
    "https://evil.example/x.png",
    "http://evil.example/x.png",
    f"https://{ALLOWED_HOST}.evil.example/x.png",  # a look-alike of the allowlisted host
    f"https://{ALLOWED_HOST}@evil.example/x.png",  # the allowlisted host as a user name
    f"http://{ALLOWED_HOST}/x.png",  # the allowlisted host, but not over https
    f"https://{ALLOWED_HOST}:8443/x.png",  # ... or on another port
    "/media//evil.example/x.png",
    "/media/\\evil.example/x.png",
    "/media/../admin/",
    "/media/%2e%2e/admin/",
    "/static/dashboard/x.png",  # ours, but not an uploaded background
    "/admin/",
    "media/backgrounds/x.png",  # relative to whatever page draws it
    "javascript:alert(1)",
    "data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=",  # not a raster image
    "data:text/html;base64,PGgxPmhpPC9oMT4=",
    "data:image/png,not-base64",
    "data:image/png;base64,iVBORw0KGgo=\n",
]

ACCEPTED = [
    "/media/backgrounds/0123456789abcdef0123456789abcdef.png",
    "/media/backgrounds/standings.webp",
    f"https://{ALLOWED_HOST}/backgrounds/standings.png",
    f"https://{ALLOWED_HOST}/b.png?size=1080",
    "data:image/png;base64,iVBORw0KGgo=",
    "data:image/jpeg;base64,/9j/4AAQ",
    "data:image/gif;base64,R0lGODlh",
    "data:image/webp;base64,UklGRg==",
]


def canvas_with_background(image_url: str) -> dict[str, Any]:
    return valid_canvas(background={"image_url": image_url, "width": 1920, "height": 1080})


@pytest.fixture(autouse=True)
def allowlisted_host(settings: Any) -> None:
    settings.BACKGROUND_IMAGE_HOSTS = [ALLOWED_HOST]


@pytest.mark.parametrize("image_url", OFF_SITE)
def test_an_off_site_background_is_refused_at_its_field(image_url: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        check_canvas_data(canvas_with_background(image_url))

    assert list(refused.value.details) == [FIELD]
    assert "BACKGROUND_IMAGE_HOSTS" in refused.value.details[FIELD][0]


@pytest.mark.parametrize("image_url", ACCEPTED)
def test_uploads_allowlisted_hosts_and_inline_raster_images_are_accepted(image_url: str) -> None:
    check_canvas_data(canvas_with_background(image_url))


def test_without_an_allowlist_only_uploads_and_inline_images_are_accepted(settings: Any) -> None:
    """BACKGROUND_IMAGE_HOSTS is empty by default: no https URL at all."""
    settings.BACKGROUND_IMAGE_HOSTS = []

    with pytest.raises(ValidationFailed):
        check_canvas_data(canvas_with_background(f"https://{ALLOWED_HOST}/b.png"))
    check_canvas_data(canvas_with_background("/media/backgrounds/b.png"))


@pytest.mark.django_db
def test_the_url_an_upload_answers_is_a_background_the_canvas_accepts(
    editor: Any, settings: Any, tmp_path: Path
) -> None:
    """What POST /api/uploads/backgrounds/ hands back goes straight into a canvas."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    buffer = io.BytesIO()
    Image.new("RGB", (64, 36), (10, 20, 30)).save(buffer, format="PNG")
    file = SimpleUploadedFile("bg.png", buffer.getvalue(), content_type="image/png")
    background = (
        api_client(editor)
        .post("/api/uploads/backgrounds/", {"file": file}, format="multipart")
        .json()
    )

    response = api_client(editor).post(
        LIST_URL,
        {"title": "T", "event_name": "E", "data": valid_canvas(background=background)},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["data"]["background"]["image_url"] == background["image_url"]


@pytest.mark.django_db
@pytest.mark.parametrize("image_url", OFF_SITE)
def test_rest_create_and_update_refuse_an_off_site_background(
    editor: Any, graphic: Graphic, image_url: str
) -> None:
    canvas = canvas_with_background(image_url)
    client = api_client(editor)

    created = client.post(LIST_URL, {"title": "T", "event_name": "E", "data": canvas}, "json")
    token = lock_acquire(user=editor, graphic_id=graphic.pk).fencing_token
    updated = client.patch(
        detail_url(graphic.pk),
        {"version": graphic.version, "fencing_token": token, "data": canvas},
        format="json",
    )
    patched = client.patch(
        detail_url(graphic.pk),
        {
            "version": graphic.version,
            "fencing_token": token,
            "patch": {"data": {"background": {"image_url": image_url}}},
        },
        format="json",
    )

    for response in (created, updated, patched):
        assert list(error_of(response, 400, "validation_error")["details"]) == [FIELD]
    assert Graphic.objects.count() == 1
    graphic.refresh_from_db()
    assert graphic.version == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
async def test_websocket_create_and_update_refuse_an_off_site_background(
    ws_connect: Callable[..., Any],  # noqa: F811
    db_call: Any,  # noqa: F811
    editor: Any,
    graphic: Graphic,
    settings: Any,
) -> None:
    settings.WS_RATE_LIMIT_BURST = 4 * len(OFF_SITE)  # every attack in one go, none throttled
    client = await ws_connect(editor)
    lock = await client.ack("lock", {"graphic_id": graphic.pk})

    for image_url in OFF_SITE:
        canvas = canvas_with_background(image_url)
        for message_type, data in (
            ("create", {"title": "T", "event_name": "E", "data": canvas}),
            (
                "update",
                {
                    "graphic_id": graphic.pk,
                    "version": 1,
                    "fencing_token": lock["lock"]["fencing_token"],
                    "data": canvas,
                },
            ),
        ):
            reply = await client.request(message_type, data)
            assert reply["type"] == "error", (image_url, reply)
            assert reply["data"]["code"] == "validation_error"
            assert list(reply["data"]["details"]) == [FIELD], image_url

    assert await db_call(lambda: Graphic.objects.count()) == 1
    assert (await db_call(Graphic.objects.get, pk=graphic.pk)).version == 1
    allowed = await client.request(
        "update",
        {
            "graphic_id": graphic.pk,
            "version": 1,
            "fencing_token": lock["lock"]["fencing_token"],
            "data": canvas_with_background(f"https://{ALLOWED_HOST}/b.png"),
        },
    )
    assert allowed["type"] == "ack", allowed

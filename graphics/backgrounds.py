"""
Background images: uploaded as files, stored under MEDIA_ROOT, referenced from a canvas by URL.

A canvas used to carry its background inline as a data: URL, so every broadcast of the graphic
carried the picture too. An upload stores the file once; the canvas holds only its URL and size.
Only raster formats a browser shows as an image are kept (never SVG, which can carry script), and
Pillow must be able to read the whole file, so a renamed HTML file or a truncated PNG is refused.
"""

from __future__ import annotations

import io
import uuid
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image, UnidentifiedImageError

from gal_dashboard.access import CHANGE_GRAPHIC, require_permission
from gal_dashboard.errors import TooLarge, ValidationFailed

# Pillow's format name -> the extension the stored file gets (and so the Content-Type it is
# served with).
BACKGROUND_FORMATS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "GIF": "gif"}
# The canvas's own limit on a background's size (graphics.canvas.Background).
BACKGROUND_MAX_SIDE = 16384


def background_image_store(*, user: Any, upload: Any) -> dict[str, Any]:
    """Check that `upload` (a Django UploadedFile) is a PNG, JPEG, WebP or GIF image of at most
    BACKGROUND_UPLOAD_MAX_BYTES and BACKGROUND_MAX_SIDE pixels a side, store it under
    MEDIA_ROOT/backgrounds/ with a random name, and return
    {"image_url", "width", "height"}: a canvas background ready to be patched in."""
    require_permission(user, CHANGE_GRAPHIC)
    if upload is None:
        raise ValidationFailed(details={"file": ["Choose an image file to upload."]})
    limit = settings.BACKGROUND_UPLOAD_MAX_BYTES
    if upload.size > limit:
        raise TooLarge(
            f"The image is {upload.size} bytes; the limit is {limit} bytes.",
            details={"file": [f"Must be at most {limit} bytes (got {upload.size})."]},
        )
    content = upload.read()
    image_format, width, height = _image_facts(content)
    name = default_storage.save(
        f"backgrounds/{uuid.uuid4().hex}.{BACKGROUND_FORMATS[image_format]}", ContentFile(content)
    )
    return {"image_url": default_storage.url(name), "width": width, "height": height}


def _image_facts(content: bytes) -> tuple[str, int, int]:
    refused = ValidationFailed(
        "The file is not an image we can show.",
        details={"file": ["Must be a PNG, JPEG, WebP or GIF image."]},
    )
    try:
        # Only the accepted formats' decoders ever see an upload: Pillow reads dozens of formats,
        # and a decoder flaw in one we refuse anyway must not be reachable from here.
        with Image.open(io.BytesIO(content), formats=list(BACKGROUND_FORMATS)) as image:
            image_format = image.format or ""
            width, height = image.size
            # verify() reads the whole file: a truncated or corrupt image fails here, not on air.
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise refused from None
    if image_format not in BACKGROUND_FORMATS:
        raise refused
    if not (1 <= width <= BACKGROUND_MAX_SIDE and 1 <= height <= BACKGROUND_MAX_SIDE):
        raise ValidationFailed(
            "The image is too large.",
            details={"file": [f"Must be at most {BACKGROUND_MAX_SIDE} pixels a side."]},
        )
    return image_format, width, height

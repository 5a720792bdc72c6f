"""
The canvas: the JSON document a graphic draws on air.

    {"background": {"image_url": str, "width": int, "height": int} | null,
     "elements": [{"id": str, "type": "text" | "players" | "scores" | "placements", ...}]}

`check_canvas_data` is the one place that decides whether a canvas is valid. It is strict: a
string where a number belongs, an unknown element type or an unknown key is rejected, with one
message per field, addressed like `elements[2].x`.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from django.conf import settings
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
)
from pydantic import ValidationError as PydanticValidationError

from gal_dashboard.errors import DETAILS_MAX_FIELDS, TooLarge, ValidationFailed, bounded_details
from gal_dashboard.storable import json_text_problem

ELEMENT_TYPES = ("text", "players", "scores", "placements")
LIST_ELEMENT_TYPES = ("players", "scores", "placements")

# Numbers: JSON has one number type, so integers and floats are both fine; strings and booleans
# are not (the models are strict). Validation does not rewrite the stored data.
Number = Annotated[float, Field(allow_inf_nan=False)]
HexColor = Annotated[
    StrictStr, Field(pattern=r"^#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")
]
# An inline image as older clients pasted it: a raster format browsers draw, base64 (its size is
# bounded by GRAPHIC_DATA_MAX_BYTES, like the rest of the canvas).
_INLINE_IMAGE = re.compile(r"data:image/(?:png|jpeg|webp|gif);base64,[A-Za-z0-9+/]+={0,2}")
# What follows MEDIA_URL in an uploaded background's URL (graphics.backgrounds): path segments
# of plain characters, never "." or ".." (checked apart), "//", "\\" or an escape.
_MEDIA_PATH = re.compile(r"[A-Za-z0-9_~.-]+(?:/[A-Za-z0-9_~.-]+)*")
# Characters that a browser drops or reinterprets in a URL: "\\" counts as "/", and tabs and
# newlines vanish, so "/\\evil.example" and "/\t/evil.example" both lead off-site.
_URL_TRICKS = re.compile(r"[\\\x00-\x20\x7f]")


def check_image_url(value: str) -> str:
    """A background every viewer (OBS included) fetches, so never from a site nobody chose
    (issue 14, finding 8): this site's uploads (a path under MEDIA_URL), an https URL on one of
    BACKGROUND_IMAGE_HOSTS, or an inline PNG, JPEG, WebP or GIF image. The Content-Security-
    Policy's img-src allows exactly these."""
    if _INLINE_IMAGE.fullmatch(value):
        return value
    if not _URL_TRICKS.search(value):
        media_url = settings.MEDIA_URL
        if value.startswith(media_url) and media_url.startswith("/") and media_url != "/":
            rest = value.removeprefix(media_url)
            if _MEDIA_PATH.fullmatch(rest) and not {".", ".."} & set(rest.split("/")):
                return value
        parts = urlsplit(value)
        if (
            parts.scheme == "https"
            and parts.netloc.lower() in settings.BACKGROUND_IMAGE_HOSTS
            and parts.path.startswith("/")
        ):
            return value
    raise ValueError(
        f"Must be an uploaded background (a path under {settings.MEDIA_URL}), an https URL on "
        "a host in BACKGROUND_IMAGE_HOSTS, or an inline PNG, JPEG, WebP or GIF data: URL."
    )


ImageUrl = Annotated[StrictStr, Field(min_length=1), AfterValidator(check_image_url)]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class Background(_Strict):
    image_url: ImageUrl
    width: Annotated[StrictInt, Field(ge=1, le=16384)]
    height: Annotated[StrictInt, Field(ge=1, le=16384)]


class _ElementBase(_Strict):
    id: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    x: Number
    y: Number
    font_size: Annotated[Number, Field(gt=0, le=1000)]
    color: HexColor
    font_family: Annotated[StrictStr, Field(max_length=100)] | None = None
    bold: StrictBool | None = None
    italic: StrictBool | None = None
    underline: StrictBool | None = None


class TextElement(_ElementBase):
    type: Literal["text"]
    content: Annotated[StrictStr, Field(max_length=5000)]


class _ListElement(_ElementBase):
    spacing: Annotated[Number, Field(ge=0, le=10000)]
    preview_count: Annotated[StrictInt, Field(ge=0, le=100)]
    round_id: Annotated[StrictStr, Field(max_length=64)] | StrictInt | None = None
    # The first row drawn, 1-based (absent: 1), so ranks 9-16 can sit on a second graphic.
    # 1000 is far past any league's field (64 players is a large event).
    start: Annotated[StrictInt, Field(ge=1, le=1000)] | None = None


class PlayersElement(_ListElement):
    type: Literal["players"]


class ScoresElement(_ListElement):
    type: Literal["scores"]


class PlacementsElement(_ListElement):
    type: Literal["placements"]


Element = Annotated[
    TextElement | PlayersElement | ScoresElement | PlacementsElement,
    Field(discriminator="type"),
]


class Canvas(_Strict):
    background: Background | None
    elements: list[Element]


def empty_canvas() -> dict[str, Any]:
    return {"background": None, "elements": []}


def canvas_json(data: Any) -> str:
    """`data` as compact JSON: what the size limit counts and what goes over the wire."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def canvas_size_bytes(data: Any) -> int:
    return len(canvas_json(data).encode())


# Every key a canvas may contain. Pydantic also puts union members in an error's location
# (`elements.0.text.x`, `elements.1.players.round_id.constrained-str`); operators think of
# `elements[0].x` and `elements[1].round_id`, so location parts that are not keys are dropped.
_CANVAS_KEYS = frozenset(
    name
    for model in (Canvas, Background, TextElement, PlayersElement, ScoresElement, PlacementsElement)
    for name in model.model_fields
)
# Pydantic reports a missing or unknown element type at the element itself (`elements.1`);
# the field an operator has to fix is that element's `type`.
_TAG_ERRORS = ("union_tag_invalid", "union_tag_not_found")


def _field_path(location: tuple[int | str, ...], error_type: str = "") -> str:
    path = "data"
    last = len(location) - 1
    for position, part in enumerate(location):
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in _CANVAS_KEYS or (error_type == "extra_forbidden" and position == last):
            path += f".{part}"
    if error_type in _TAG_ERRORS:
        path += ".type"
    return path


def check_canvas_data(data: Any) -> None:
    """
    Raise `TooLarge` if `data` is over `GRAPHIC_DATA_MAX_BYTES`, `ValidationFailed` with one
    message per offending field if it is not a valid canvas; return None otherwise.
    """
    problem = json_text_problem(data)
    if problem:
        # Checked before encoding: an unpaired surrogate cannot even be measured in UTF-8.
        raise ValidationFailed("Canvas data is invalid.", details={"data": [problem]})
    try:
        text = canvas_json(data)
    except (TypeError, ValueError):
        # A Python caller (a command, the admin) can pass a set, bytes or a cycle; that is
        # invalid input, not a server error.
        raise ValidationFailed(
            "Canvas data is invalid.", details={"data": ["Must be plain JSON."]}
        ) from None
    size = len(text.encode())
    limit = settings.GRAPHIC_DATA_MAX_BYTES
    if size > limit:
        raise TooLarge(
            f"Canvas data is {size} bytes; the limit is {limit} bytes.",
            details={"data": [f"Must be at most {limit} bytes of JSON (got {size})."]},
        )
    if not isinstance(data, dict):
        raise ValidationFailed(details={"data": ["Must be a JSON object."]})
    # A megabyte of invalid elements is half a million errors: listing them all took seconds,
    # a gigabyte of memory and a 50 MB answer (issue 14). So the canvas is validated in pieces
    # (itself without its elements, then its elements PIECE_ELEMENTS at a time), only the
    # first DETAILS_MAX_FIELDS fields' errors are listed and the others counted, and an object
    # with more keys than a canvas has is cut down first (each key cut is counted as the
    # unknown key it is), so that no piece can make more than a few thousand errors.
    piece_elements = 256
    key_room = len(_CANVAS_KEYS) + DETAILS_MAX_FIELDS
    listed: dict[str, list[str]] = {}
    shown = found = 0

    def cut(value: Any, *, reported: bool = True) -> Any:
        nonlocal found
        if not isinstance(value, dict) or len(value) <= key_room:
            return value
        kept: dict[str, Any] = {}
        unknown = 0
        for key, item in value.items():
            if key in _CANVAS_KEYS or unknown < DETAILS_MAX_FIELDS:
                kept[key] = item
                unknown += key not in _CANVAS_KEYS
        if reported:  # an element's keys are reported only once its type is known
            found += len(value) - len(kept)
        return kept

    def check(piece: dict[str, Any], offset: int = 0) -> None:
        nonlocal shown, found
        try:
            Canvas.model_validate(piece)
        except PydanticValidationError as exc:
            found += exc.error_count()
            if len(listed) == DETAILS_MAX_FIELDS:
                return
            for error in exc.errors(include_url=False, include_input=False, include_context=False):
                location = tuple(error["loc"])
                if offset and len(location) > 1 and isinstance(location[1], int):
                    location = (location[0], location[1] + offset, *location[2:])
                path = _field_path(location, error["type"])
                if path not in listed and len(listed) == DETAILS_MAX_FIELDS:
                    return
                listed.setdefault(path, []).append(error["msg"])
                shown += 1

    head = cut(data)
    if "background" in head:
        head = {**head, "background": cut(head["background"])}
    elements = data.get("elements")
    if not isinstance(elements, list):
        check(head)
        elements = []
    else:
        check({**head, "elements": []})
        for start in range(0, len(elements), piece_elements):
            piece = [
                cut(element, reported=element.get("type") in ELEMENT_TYPES)
                if isinstance(element, dict)
                else element
                for element in elements[start : start + piece_elements]
            ]
            check({"background": None, "elements": piece}, offset=start)
    if found:
        raise ValidationFailed(
            "Canvas data is invalid.", details=bounded_details(listed, omitted=found - shown)
        )
    seen: set[str] = set()
    for index, element in enumerate(elements):
        if element["id"] in seen:
            raise ValidationFailed(
                "Canvas data is invalid.",
                details={
                    f"data.elements[{index}].id": [f"Duplicate element id {element['id']!r}."]
                },
            )
        seen.add(element["id"])

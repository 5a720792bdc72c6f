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
from typing import Annotated, Any, Literal

from django.conf import settings
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr
from pydantic import ValidationError as PydanticValidationError

from gal_dashboard.errors import TooLarge, ValidationFailed
from gal_dashboard.storable import json_text_problem

ELEMENT_TYPES = ("text", "players", "scores", "placements")
LIST_ELEMENT_TYPES = ("players", "scores", "placements")

# Numbers: JSON has one number type, so integers and floats are both fine; strings and booleans
# are not (the models are strict). Validation does not rewrite the stored data.
Number = Annotated[float, Field(allow_inf_nan=False)]
HexColor = Annotated[
    StrictStr, Field(pattern=r"^#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")
]
# Backgrounds are uploaded files referenced by URL (or a path under MEDIA_URL); inline data URLs
# are accepted for images pasted by older clients.
ImageUrl = Annotated[StrictStr, Field(min_length=1, pattern=r"^(https?://|/|data:image/)")]


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
    try:
        canvas = Canvas.model_validate(data)
    except PydanticValidationError as exc:
        details: dict[str, list[str]] = {}
        for error in exc.errors(include_url=False):
            details.setdefault(_field_path(tuple(error["loc"]), error["type"]), []).append(
                error["msg"]
            )
        raise ValidationFailed("Canvas data is invalid.", details=details) from None
    seen: set[str] = set()
    for index, element in enumerate(canvas.elements):
        if element.id in seen:
            raise ValidationFailed(
                "Canvas data is invalid.",
                details={f"data.elements[{index}].id": [f"Duplicate element id {element.id!r}."]},
            )
        seen.add(element.id)

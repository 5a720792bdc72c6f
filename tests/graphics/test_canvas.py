"""Canvas validation: `check_canvas_data` accepts every valid canvas and rejects anything else
with one message per offending field, addressed the way an operator reads it."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from gal_dashboard.errors import TooLarge, ValidationFailed
from graphics.canvas import (
    ELEMENT_TYPES,
    LIST_ELEMENT_TYPES,
    canvas_size_bytes,
    check_canvas_data,
    empty_canvas,
)
from tests.conftest import list_element, text_element, valid_canvas


def rejected(data: Any) -> dict[str, list[str]]:
    """The field-level details of the ValidationFailed that `data` must raise."""
    with pytest.raises(ValidationFailed) as caught:
        check_canvas_data(data)
    assert caught.value.code == "validation_error"
    assert caught.value.http_status == 400
    details = caught.value.details
    assert details, "a rejected canvas must say which field is wrong"
    assert all(isinstance(messages, list) and messages for messages in details.values())
    return details


def canvas_with(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """A valid canvas (text element at 0, players list at 1) after `change` was applied."""
    data = valid_canvas()
    change(data)
    return data


@pytest.mark.parametrize("element_type", ELEMENT_TYPES)
def test_each_element_type_is_accepted(element_type: str) -> None:
    """A canvas with one element of any known type is valid."""
    element = (
        text_element("el")
        if element_type == "text"
        else list_element("el", element_type=element_type)
    )
    check_canvas_data(valid_canvas(elements=[element]))


def test_a_full_canvas_with_every_optional_field_is_accepted() -> None:
    """Optional styling (font family, bold, italic, underline, round id) and float positions
    are valid alongside the required fields."""
    data = valid_canvas(
        elements=[
            text_element(
                "headline",
                x=12.5,
                y=0,
                font_family="Beaufort",
                bold=True,
                italic=False,
                underline=None,
                color="#FFAA0080",
            ),
            list_element("players", round_id="r3"),
            list_element("scores", element_type="scores", round_id=3, color="#abc"),
            list_element("placements", element_type="placements", preview_count=0, spacing=0),
        ]
    )
    check_canvas_data(data)


def test_a_null_background_and_no_elements_are_accepted() -> None:
    """A canvas without a background image and without elements is valid (it is the default)."""
    check_canvas_data({"background": None, "elements": []})
    check_canvas_data(empty_canvas())


def test_validation_does_not_rewrite_the_data() -> None:
    """Integers stay integers and nothing is added or removed: the caller stores what it sent."""
    data = valid_canvas()
    before = copy.deepcopy(data)
    check_canvas_data(data)
    assert data == before
    assert isinstance(data["elements"][0]["x"], int)
    assert "font_family" not in data["elements"][0]


def test_an_unknown_element_type_is_rejected_at_its_type_field() -> None:
    """An element whose type is not text/players/scores/placements is rejected, and the message
    points at that element's `type`."""
    details = rejected(canvas_with(lambda d: d["elements"][1].update(type="bracket")))
    assert list(details) == ["data.elements[1].type"]


def test_an_element_without_a_type_is_rejected_at_its_type_field() -> None:
    """An element with no `type` is rejected at `data.elements[i].type`."""
    details = rejected(canvas_with(lambda d: d["elements"][0].pop("type")))
    assert list(details) == ["data.elements[0].type"]


@pytest.mark.parametrize("field", ["id", "x", "y", "font_size", "color", "content"])
def test_a_text_element_missing_a_required_field_is_rejected(field: str) -> None:
    """Each required field of a text element is reported by name when it is missing."""
    details = rejected(canvas_with(lambda d: d["elements"][0].pop(field)))
    assert list(details) == [f"data.elements[0].{field}"]


@pytest.mark.parametrize("element_type", LIST_ELEMENT_TYPES)
@pytest.mark.parametrize(
    "field", ["id", "x", "y", "font_size", "color", "spacing", "preview_count"]
)
def test_a_list_element_missing_a_required_field_is_rejected(field: str, element_type: str) -> None:
    """Each required field of a players/scores/placements element is reported when missing."""
    element = list_element("list", element_type=element_type)
    del element[field]
    details = rejected(valid_canvas(elements=[text_element(), element]))
    assert list(details) == [f"data.elements[1].{field}"]


@pytest.mark.parametrize(
    ("index", "field", "value"),
    [
        (1, "x", "40"),  # a string where a number belongs
        (1, "y", True),  # JSON true is not the number 1
        (0, "font_size", False),
        (1, "spacing", "36px"),
        (1, "preview_count", 8.0),  # a count is a whole number
        (1, "preview_count", "8"),
        (0, "content", 42),  # a number where a string belongs
        (0, "id", 7),
        (0, "color", 0xFFFFFF),
        (0, "font_family", 3),
        (0, "bold", "yes"),
        (0, "italic", 1),
        (0, "underline", "false"),
        (1, "round_id", 1.5),
        (0, "x", float("nan")),
        (0, "y", float("inf")),
    ],
)
def test_a_value_of_the_wrong_type_is_rejected(index: int, field: str, value: Any) -> None:
    """Types are strict: no string-to-number, bool-to-number, number-to-string or
    anything-to-bool coercion, and no NaN or infinity."""
    details = rejected(canvas_with(lambda d: d["elements"][index].update({field: value})))
    assert list(details) == [f"data.elements[{index}].{field}"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("font_size", 0), ("font_size", -4), ("spacing", -1), ("preview_count", -1)],
)
def test_a_number_out_of_range_is_rejected(field: str, value: int) -> None:
    """Sizes must be positive and counts and spacings not negative."""
    details = rejected(canvas_with(lambda d: d["elements"][1].update({field: value})))
    assert list(details) == [f"data.elements[1].{field}"]


@pytest.mark.parametrize("key", ["opacity", "text", "players"])
def test_an_unknown_key_in_an_element_is_rejected(key: str) -> None:
    """An element may not carry keys the renderer does not know, even one spelled like an
    element type."""
    details = rejected(canvas_with(lambda d: d["elements"][1].update({key: 0.5})))
    assert list(details) == [f"data.elements[1].{key}"]


def test_an_unknown_key_at_the_top_level_is_rejected() -> None:
    """The canvas itself has only `background` and `elements`."""
    details = rejected(canvas_with(lambda d: d.update(theme="dark")))
    assert list(details) == ["data.theme"]


def test_an_unknown_key_in_the_background_is_rejected() -> None:
    """The background has only `image_url`, `width` and `height`."""
    details = rejected(canvas_with(lambda d: d["background"].update(opacity=1)))
    assert list(details) == ["data.background.opacity"]


def test_a_missing_background_key_is_rejected() -> None:
    """`background` must be present (null when there is none)."""
    details = rejected(canvas_with(lambda d: d.pop("background")))
    assert list(details) == ["data.background"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("width", "1920"), ("height", 0), ("image_url", ""), ("image_url", "javascript:alert(1)")],
)
def test_a_bad_background_is_rejected(field: str, value: Any) -> None:
    """Background sizes are positive whole numbers and the image is a URL or a path."""
    details = rejected(canvas_with(lambda d: d["background"].update({field: value})))
    assert list(details) == [f"data.background.{field}"]


@pytest.mark.parametrize("color", ["red", "#ffff0", "#gggggg", "ffffff", "#fffffffff", ""])
def test_a_bad_colour_is_rejected(color: str) -> None:
    """Colours are #rgb, #rgba, #rrggbb or #rrggbbaa hex strings."""
    details = rejected(canvas_with(lambda d: d["elements"][0].update(color=color)))
    assert list(details) == ["data.elements[0].color"]


def test_duplicate_element_ids_are_rejected_at_the_second_element() -> None:
    """Element ids are unique within a canvas; the duplicate is the one reported."""
    data = valid_canvas(
        elements=[text_element("a"), list_element("b"), text_element("a", content="again")]
    )
    details = rejected(data)
    assert list(details) == ["data.elements[2].id"]
    assert "'a'" in details["data.elements[2].id"][0]


def test_every_bad_field_is_reported_at_once() -> None:
    """One request lists all its mistakes, so an operator fixes them in one go."""

    def break_two_elements(d: dict[str, Any]) -> None:
        d["elements"][0]["x"] = "left"
        d["elements"][1]["color"] = "gold"

    details = rejected(canvas_with(break_two_elements))
    assert set(details) == {"data.elements[0].x", "data.elements[1].color"}


@pytest.mark.parametrize("data", [[], "canvas", 3, None, True])
def test_data_that_is_not_an_object_is_rejected(data: Any) -> None:
    """The canvas is a JSON object; anything else is rejected at `data`."""
    details = rejected(data)
    assert list(details) == ["data"]


def test_elements_that_are_not_a_list_is_rejected() -> None:
    """`elements` is a list of objects."""
    assert list(rejected(canvas_with(lambda d: d.update(elements={})))) == ["data.elements"]
    details = rejected(canvas_with(lambda d: d["elements"].append("text")))
    assert list(details) == ["data.elements[2]"]


@pytest.mark.parametrize("value", [{1, 2}, object(), b"bytes"])
def test_data_that_is_not_json_is_rejected(value: Any) -> None:
    """A Python value that has no JSON form is a validation error, not a crash."""
    details = rejected(canvas_with(lambda d: d["elements"][0].update(content=value)))
    assert list(details) == ["data"]


def test_data_over_the_size_limit_is_too_large(settings: Any) -> None:
    """Canvas JSON over GRAPHIC_DATA_MAX_BYTES is refused with `too_large` (HTTP 413)."""
    settings.GRAPHIC_DATA_MAX_BYTES = 2048
    data = valid_canvas(elements=[text_element(content="x" * 2048)])
    with pytest.raises(TooLarge) as caught:
        check_canvas_data(data)
    assert caught.value.code == "too_large"
    assert caught.value.http_status == 413
    assert list(caught.value.details) == ["data"]


def test_data_exactly_at_the_size_limit_is_accepted(settings: Any) -> None:
    """The limit is inclusive: a canvas of exactly GRAPHIC_DATA_MAX_BYTES is fine."""
    data = valid_canvas(elements=[text_element(content="")])
    padding = 2048 - canvas_size_bytes(data)
    data["elements"][0]["content"] = "x" * padding
    assert canvas_size_bytes(data) == 2048
    settings.GRAPHIC_DATA_MAX_BYTES = 2048
    check_canvas_data(data)


def test_size_counts_utf8_bytes_not_characters(settings: Any) -> None:
    """Non-ASCII text counts by its UTF-8 size, which is what goes over the wire."""
    data = valid_canvas(elements=[text_element(content="é" * 1000)])
    assert canvas_size_bytes(data) >= 2000
    settings.GRAPHIC_DATA_MAX_BYTES = 1500
    with pytest.raises(TooLarge):
        check_canvas_data(data)


def test_text_with_a_nul_character_is_rejected() -> None:
    """PostgreSQL cannot store NUL; a canvas containing one is a validation error everywhere."""
    canvas = valid_canvas(elements=[text_element(content="before\x00after")])
    with pytest.raises(ValidationFailed) as caught:
        check_canvas_data(canvas)
    assert caught.value.details == {"data": ["Must not contain NUL characters."]}


def test_text_with_an_unpaired_surrogate_is_rejected() -> None:
    """JSON's "\\ud800" parses to a string that is not Unicode text: a validation error, never a
    crash when the canvas is measured or stored."""
    canvas = valid_canvas(elements=[text_element(content="score \ud800")])
    with pytest.raises(ValidationFailed) as caught:
        check_canvas_data(canvas)
    assert caught.value.details == {
        "data": ["Must be valid Unicode text (no unpaired surrogates)."]
    }


@pytest.mark.parametrize("element_type", LIST_ELEMENT_TYPES)
@pytest.mark.parametrize("start", [1, 9, 1000, None])
def test_a_list_element_may_start_at_a_later_rank(element_type: str, start: Any) -> None:
    """`start` (1-based first row drawn, so ranks 9-16 can sit on a second graphic) is
    optional on every list element; null means absent (1)."""
    element = list_element("list", element_type=element_type, start=start)
    check_canvas_data(valid_canvas(elements=[text_element(), element]))


@pytest.mark.parametrize("value", [0, -1, 1001, "9", 9.0, True, [9]])
def test_a_bad_start_is_rejected_at_its_field(value: Any) -> None:
    """`start` is a whole number from 1 to 1000: no zero (it is 1-based), no string, float or
    boolean, reported at the element's `start`."""
    details = rejected(canvas_with(lambda d: d["elements"][1].update(start=value)))
    assert list(details) == ["data.elements[1].start"]


def test_a_text_element_has_no_start() -> None:
    """Only lists have rows to start from; `start` on a text element is an unknown key."""
    details = rejected(canvas_with(lambda d: d["elements"][0].update(start=9)))
    assert list(details) == ["data.elements[0].start"]

"""What an invalid canvas may cost (issue 14: an Editor without the lock PATCHed a megabyte of
invalid elements and got a 50 MB error body after seconds, the server's memory growing by half a
gigabyte): a caller without the lock is refused before the canvas is read, and a lock holder's
invalid canvas is answered with the first fifty fields and a count, found without listing every
error."""

from __future__ import annotations

import json
import tracemalloc
from typing import Any

import pytest
from django.conf import settings
from pydantic import ValidationError as PydanticValidationError

from gal_dashboard.errors import DETAILS_MAX_FIELDS, DETAILS_MORE, ValidationFailed
from graphics.canvas import Canvas, canvas_size_bytes, check_canvas_data
from graphics.models import Graphic
from locks.services import lock_acquire
from tests.conftest import error_of, text_element, valid_canvas
from tests.graphics.test_api import api_client, detail_url

pytestmark = pytest.mark.django_db

BOUNDED_BODY_BYTES = 20_000


def near_limit_invalid_canvas() -> dict[str, Any]:
    """As many invalid elements (each a bare 0) as fit under GRAPHIC_DATA_MAX_BYTES: half a
    million errors at the default limit."""
    count = (settings.GRAPHIC_DATA_MAX_BYTES - 64) // 2
    canvas = {"background": None, "elements": [0] * count}
    size = canvas_size_bytes(canvas)
    assert settings.GRAPHIC_DATA_MAX_BYTES - 64 < size <= settings.GRAPHIC_DATA_MAX_BYTES
    return canvas


def bad_text_elements(count: int) -> list[dict[str, Any]]:
    """`count` text elements, each with one error: a string for `x`."""
    return [text_element(f"e{index}", x="left") for index in range(count)]


def more_count(details: dict[str, Any]) -> int:
    """The number in `details.more` ("<n> more not shown.")."""
    (message,) = details[DETAILS_MORE]
    number, rest = message.split(" ", 1)
    assert rest == "more not shown.", message
    return int(number)


@pytest.mark.parametrize("holder", [None, "editor2"], ids=["unlocked", "locked-by-another"])
def test_an_editor_without_the_lock_is_refused_before_the_canvas_is_read(
    editor: Any, editor2: Any, graphic: Graphic, holder: str | None
) -> None:
    """A near-limit invalid canvas from an Editor who does not hold the lock: a small 409
    lock_conflict (it used to be a 50 MB validation_error), the graphic unchanged."""
    if holder is not None:
        lock_acquire(user=editor2, graphic_id=graphic.pk)

    response = api_client(editor).patch(
        detail_url(graphic.pk),
        {"version": 1, "fencing_token": 1, "data": near_limit_invalid_canvas()},
        format="json",
    )

    error = error_of(response, 409, "lock_conflict")
    assert error["details"]["locked_by"] == (None if holder is None else "editor2")
    assert len(response.content) < 2_000
    graphic.refresh_from_db()
    assert graphic.version == 1


def test_thousands_of_invalid_elements_name_fifty_fields_and_count_the_rest(
    editor: Any, graphic: Graphic
) -> None:
    """The lock holder's canvas with 5,000 invalid elements: a validation_error naming the
    first fifty fields in order, `more` counting the 4,950 others, a body under 20 KB."""
    lock = lock_acquire(user=editor, graphic_id=graphic.pk)
    canvas = valid_canvas(elements=bad_text_elements(5000))

    response = api_client(editor).patch(
        detail_url(graphic.pk),
        {"version": 1, "fencing_token": lock.fencing_token, "data": canvas},
        format="json",
    )

    details = error_of(response, 400, "validation_error")["details"]
    assert list(details)[:-1] == [f"data.elements[{index}].x" for index in range(50)]
    assert more_count(details) == 5000 - DETAILS_MAX_FIELDS
    assert len(response.content) < BOUNDED_BODY_BYTES
    graphic.refresh_from_db()
    assert graphic.version == 1


def test_a_near_limit_invalid_canvas_from_the_lock_holder_gets_a_bounded_body(
    editor: Any, graphic: Graphic
) -> None:
    """Half a million errors: fifty named, the rest counted exactly, a small body."""
    lock = lock_acquire(user=editor, graphic_id=graphic.pk)
    canvas = near_limit_invalid_canvas()

    response = api_client(editor).patch(
        detail_url(graphic.pk),
        {"version": 1, "fencing_token": lock.fencing_token, "data": canvas},
        format="json",
    )

    details = error_of(response, 400, "validation_error")["details"]
    assert len(details) == DETAILS_MAX_FIELDS + 1
    assert more_count(details) == len(canvas["elements"]) - DETAILS_MAX_FIELDS
    assert len(response.content) < BOUNDED_BODY_BYTES


def test_unknown_body_fields_are_named_fifty_at_most(editor: Any, graphic: Graphic) -> None:
    """Every REST error goes through the same cap: 5,000 unknown fields in a body."""
    body: dict[str, Any] = {"version": 1, "title": "T"}
    body.update((f"field_{index:04}", 1) for index in range(5000))

    response = api_client(editor).patch(detail_url(graphic.pk), body, format="json")

    details = error_of(response, 400, "validation_error")["details"]
    assert list(details)[:-1] == [f"field_{index:04}" for index in range(50)]
    assert more_count(details) == 4950
    assert len(response.content) < BOUNDED_BODY_BYTES


@pytest.mark.parametrize(
    "canvas",
    [
        pytest.param(
            {
                "background": {"image_url": 7, **{f"bg_{index}": 1 for index in range(300)}},
                "elements": [
                    {**text_element("a"), **{f"key_{index}": 1 for index in range(200)}},
                    {"type": "unknown", "id": "b", **{f"key_{index}": 1 for index in range(200)}},
                    {"id": "c", **{f"key_{index}": 1 for index in range(200)}},
                    5,
                    text_element("d", x="left", y=None, color="red"),
                ]
                * 20,
                **{f"top_{index}": 1 for index in range(120)},
            },
            id="unknown-keys-everywhere",
        ),
        pytest.param(valid_canvas(elements=bad_text_elements(700)), id="many-bad-elements"),
        pytest.param({"background": None, "elements": {"a": 1}}, id="elements-not-a-list"),
        pytest.param({"elements": [text_element(x=True)]}, id="few-errors"),
    ],
)
def test_the_errors_listed_and_counted_add_up_to_every_error(canvas: dict[str, Any]) -> None:
    """Shown in pieces or not, the fields listed and the count in `more` account for exactly
    the errors a validation of the whole canvas finds, and never name more than fifty."""
    with pytest.raises(PydanticValidationError) as whole:
        Canvas.model_validate(canvas)

    with pytest.raises(ValidationFailed) as failure:
        check_canvas_data(canvas)

    details = failure.value.details
    listed = sum(len(messages) for name, messages in details.items() if name != DETAILS_MORE)
    counted = more_count(details) if DETAILS_MORE in details else 0
    assert listed + counted == whole.value.error_count()
    assert len(details) <= DETAILS_MAX_FIELDS + 1
    assert len(json.dumps(failure.value.as_dict())) < BOUNDED_BODY_BYTES


def test_a_canvas_with_a_hundred_thousand_errors_is_checked_in_little_memory() -> None:
    """Listing every error of 100,000 invalid elements took about 70 MB of Python objects
    (and a gigabyte at the size limit); found piece by piece, a few megabytes."""
    canvas = {"background": None, "elements": [0] * 100_000}
    tracemalloc.start()
    try:
        with pytest.raises(ValidationFailed) as failure:
            check_canvas_data(canvas)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert more_count(failure.value.details) == 100_000 - DETAILS_MAX_FIELDS
    assert peak < 16 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


def test_a_valid_canvas_of_many_elements_is_still_valid_and_duplicates_are_found() -> None:
    """Checking in pieces changes nothing for a valid canvas, however many elements it has,
    and a duplicate id in a later piece is still found."""
    elements = [text_element(f"e{index}") for index in range(1000)]
    check_canvas_data(valid_canvas(elements=elements))

    with pytest.raises(ValidationFailed) as failure:
        check_canvas_data(valid_canvas(elements=[*elements, text_element("e3")]))
    assert failure.value.details == {"data.elements[1000].id": ["Duplicate element id 'e3'."]}

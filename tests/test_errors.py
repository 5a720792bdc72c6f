"""The domain errors' `details` as clients receive them: bounded whatever the failure found
(issue 14), in the same shape on REST and over the WebSocket."""

from __future__ import annotations

from gal_dashboard.errors import (
    DETAILS_MAX_FIELDS,
    DETAILS_MAX_MESSAGES,
    DETAILS_MAX_NAME_LENGTH,
    LockConflict,
    ValidationFailed,
    bounded_details,
    clipped,
)
from realtime.protocol import error_data


def test_small_details_pass_unchanged() -> None:
    details = {"title": ["This field is required."], "data.elements[0].x": ["Bad."]}
    conflict = {"graphic_id": 7, "locked_by": "editor", "locked_by_id": 2, "expires_at": None}

    assert bounded_details(details) == details
    assert LockConflict(details=conflict).as_dict()["details"] == conflict


def test_past_fifty_fields_the_rest_are_counted_under_more() -> None:
    """The first fifty fields in the order given, then one message counting the others and
    what the caller left out itself."""
    details = {f"field_{index:03}": ["Unknown field."] for index in range(120)}

    bounded = ValidationFailed(details=details).as_dict()["details"]

    assert list(bounded) == [*list(details)[:DETAILS_MAX_FIELDS], "more"]
    assert bounded["more"] == ["70 more not shown."]
    assert bounded_details(details, omitted=5)["more"] == ["75 more not shown."]
    assert bounded_details({"x": ["Bad."]}, omitted=3) == {
        "x": ["Bad."],
        "more": ["3 more not shown."],
    }


def test_a_callers_own_more_entry_is_kept_when_nothing_is_cut() -> None:
    """The standings import names fifty problems and says how many more itself."""
    details = {f"line {index}": ["Bad."] for index in range(50)}
    details["more"] = ["12 more problems: fix these and import again."]

    assert bounded_details(details) == details


def test_names_and_message_lists_are_cut() -> None:
    """A field named by a client's own key of a megabyte takes a hundred characters; a field
    with many messages shows ten."""
    long_key = "k" * 1_000_000
    bounded = bounded_details({long_key: ["Unknown field."], "x": [f"m{n}" for n in range(50)]})

    assert list(bounded) == [clipped(long_key), "x"]
    assert len(clipped(long_key)) == DETAILS_MAX_NAME_LENGTH
    assert clipped(long_key).endswith("\u2026")
    assert bounded["x"] == [f"m{n}" for n in range(DETAILS_MAX_MESSAGES)]


def test_websocket_error_frames_are_bounded_the_same_way() -> None:
    details = {f"key_{index}": ["Unknown field."] for index in range(60)}

    data = error_data("validation_error", "The request has invalid fields.", details)

    assert len(data["details"]) == DETAILS_MAX_FIELDS + 1
    assert data["details"]["more"] == ["10 more not shown."]

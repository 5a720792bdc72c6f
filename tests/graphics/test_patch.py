"""Merge patches for graphics: RFC 7396, canvas elements keyed by id, and diffs that round-trip."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gal_dashboard.errors import ValidationFailed
from graphics.canvas import check_canvas_data
from graphics.patch import canvas_diff, canvas_patch_apply, check_graphic_patch, merge_patch
from tests.conftest import list_element, text_element, valid_canvas

# -- RFC 7396 appendix A: the test cases of the RFC itself ------------------------------------

RFC_7396_EXAMPLES = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("target", "patch", "expected"), RFC_7396_EXAMPLES)
def test_merge_patch_follows_rfc_7396(target: Any, patch: Any, expected: Any) -> None:
    original = copy.deepcopy(target)
    assert merge_patch(target, patch) == expected
    assert target == original, "the target must not be modified in place"


# -- canvas patches ------------------------------------------------------------------------------


def canvas_with_three() -> dict[str, Any]:
    return valid_canvas(
        background={
            "image_url": "data:image/png;base64," + "A" * 1000,
            "width": 1920,
            "height": 1080,
        },
        elements=[
            text_element("title", content="Grand Final"),
            list_element("standings"),
            text_element("footer", content="gal.gg"),
        ],
    )


def test_moving_one_element_changes_only_it() -> None:
    canvas = canvas_with_three()
    result = canvas_patch_apply(canvas, {"elements": {"title": {"x": 120, "y": 48}}})
    assert result["elements"][0] == {**canvas["elements"][0], "x": 120, "y": 48}
    assert result["elements"][1:] == canvas["elements"][1:]
    assert result["background"] == canvas["background"]
    check_canvas_data(result)


def test_adding_removing_and_clearing() -> None:
    canvas = canvas_with_three()
    added = text_element("logo", content="GAL")
    del added["id"]  # the key names it
    result = canvas_patch_apply(
        canvas, {"background": None, "elements": {"standings": None, "logo": added}}
    )
    assert result["background"] is None
    assert [element["id"] for element in result["elements"]] == ["title", "footer", "logo"]
    assert result["elements"][2]["content"] == "GAL"
    check_canvas_data(result)


def test_element_order_sets_the_drawing_order() -> None:
    result = canvas_patch_apply(
        canvas_with_three(), {"element_order": ["footer", "title", "standings"]}
    )
    assert [element["id"] for element in result["elements"]] == ["footer", "title", "standings"]


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ("not an object", "patch.data"),
        ({"elements": ["title"]}, "patch.data.elements"),
        ({"elements": {"title": 5}}, "patch.data.elements.title"),
        ({"elements": {"title": {"id": "renamed"}}}, "patch.data.elements.title.id"),
        ({"element_order": ["title"]}, "patch.data.element_order"),
        ({"element_order": ["title", "title", "footer"]}, "patch.data.element_order"),
        ({"element_order": "title"}, "patch.data.element_order"),
    ],
)
def test_malformed_canvas_patches_are_validation_errors(patch: Any, field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        canvas_patch_apply(canvas_with_three(), patch)
    assert field in caught.value.details


@pytest.mark.parametrize(
    "patch", [None, [], "title", {}, {"version": 3}, {"title": "x", "archived": True}]
)
def test_graphic_patch_names_only_patchable_fields(patch: Any) -> None:
    with pytest.raises(ValidationFailed):
        check_graphic_patch(patch)


def test_a_text_change_diff_leaves_the_background_out() -> None:
    old = canvas_with_three()
    new = copy.deepcopy(old)
    new["elements"][0]["content"] = "Grand Final — Game 3"
    diff = canvas_diff(old, new)
    assert diff == {"elements": {"title": {"content": "Grand Final — Game 3"}}}
    assert canvas_diff(old, copy.deepcopy(old)) == {}


# -- property: diff then apply gives the new canvas ---------------------------------------------

ids = st.sampled_from(["a", "b", "c", "d", "e"])
colors = st.sampled_from(["#fff", "#000000", "#f5c542"])
coordinates = st.integers(min_value=-2000, max_value=4000)


@st.composite
def elements(draw: Any) -> dict[str, Any]:
    element_id = draw(ids)
    common = {
        "id": element_id,
        "x": draw(coordinates),
        "y": draw(coordinates),
        "font_size": draw(st.integers(min_value=1, max_value=300)),
        "color": draw(colors),
    }
    if draw(st.booleans()):
        common["bold"] = draw(st.booleans())
    if draw(st.booleans()):
        return {
            **common,
            "type": "text",
            "content": draw(
                st.text(
                    st.characters(codec="utf-8", exclude_characters="\x00"),
                    max_size=20,
                )
            ),
        }
    return {
        **common,
        "type": draw(st.sampled_from(["players", "scores", "placements"])),
        "spacing": draw(st.integers(min_value=0, max_value=100)),
        "preview_count": draw(st.integers(min_value=0, max_value=16)),
    }


@st.composite
def canvases(draw: Any) -> dict[str, Any]:
    drawn = draw(st.lists(elements(), max_size=5, unique_by=lambda element: element["id"]))
    background = draw(
        st.one_of(
            st.none(),
            st.fixed_dictionaries(
                {
                    "image_url": st.sampled_from(["/media/a.png", "/media/backgrounds/b.png"]),
                    "width": st.integers(min_value=1, max_value=4000),
                    "height": st.integers(min_value=1, max_value=4000),
                }
            ),
        )
    )
    return {"background": background, "elements": drawn}


@settings(max_examples=300, deadline=None)
@given(old=canvases(), new=canvases())
def test_applying_the_diff_gives_the_new_canvas(old: dict[str, Any], new: dict[str, Any]) -> None:
    check_canvas_data(old)
    check_canvas_data(new)
    result = canvas_patch_apply(old, canvas_diff(old, new))
    assert result == new
    check_canvas_data(result)


def test_diff_names_the_order_when_an_added_id_looks_like_an_array_index():
    """Browsers' JSON.parse puts keys such as "2" first, so the patch's key order cannot carry
    the order of added elements then: the diff names it explicitly."""
    old = {"background": None, "elements": [{"id": "a"}]}
    new = {"background": None, "elements": [{"id": "a"}, {"id": "b"}, {"id": "2"}]}

    diff = canvas_diff(old, new)

    assert diff["element_order"] == ["a", "b", "2"]
    assert canvas_patch_apply(old, diff)["elements"] == new["elements"]


def test_diff_leaves_the_order_out_when_the_keys_carry_it():
    old = {"background": None, "elements": [{"id": "a"}]}
    new = {"background": None, "elements": [{"id": "a"}, {"id": "b"}, {"id": "02"}]}

    assert "element_order" not in canvas_diff(old, new)

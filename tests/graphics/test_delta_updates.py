"""
Delta updates end to end in one process: `update` with a merge patch (service, REST and
WebSocket), and broadcasts that carry a patch when it is smaller than the graphic.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from gal_dashboard.errors import LockConflict, ValidationFailed, VersionConflict
from graphics.models import Graphic
from graphics.patch import graphic_apply_event
from graphics.services import graphic_update
from locks.services import lock_acquire
from realtime.models import Event, EventType
from tests.conftest import fencing_token_of, list_element, text_element, valid_canvas
from tests.realtime.conftest import db_call, ws_connect  # noqa: F401 (fixtures)

INLINE_BACKGROUND = {
    "image_url": "data:image/png;base64," + "iVBORw0KGgo" * 5000,
    "width": 1920,
    "height": 1080,
}


def locked_graphic(make_graphic: Callable[..., Any], editor: Any, **fields: Any) -> Graphic:
    graphic = make_graphic(**fields)
    lock_acquire(user=editor, graphic_id=graphic.pk)
    return Graphic.objects.get(pk=graphic.pk)


def last_update_event(graphic: Graphic) -> Event:
    event = Event.objects.filter(graphic_id=graphic.pk, type=EventType.GRAPHIC_UPDATE).last()
    assert event is not None
    return event


# -- the service ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_patch_moves_one_element_and_keeps_the_rest(
    make_graphic: Callable[..., Any], editor: Any
) -> None:
    canvas = valid_canvas(
        background=INLINE_BACKGROUND, elements=[text_element("title"), list_element("standings")]
    )
    graphic = locked_graphic(make_graphic, editor, data=canvas)

    updated = graphic_update(
        user=editor,
        graphic_id=graphic.pk,
        version=graphic.version,
        patch={"title": "Week 3", "data": {"elements": {"title": {"x": 300, "y": 64}}}},
    )

    stored = Graphic.objects.get(pk=graphic.pk)
    assert stored.version == updated.version == graphic.version + 1
    assert stored.title == "Week 3"
    assert stored.data["elements"][0] == {**canvas["elements"][0], "x": 300, "y": 64}
    assert stored.data["elements"][1] == canvas["elements"][1]
    assert stored.data["background"] == INLINE_BACKGROUND


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "error_field"),
    [
        ({"patch": {"title": "x"}, "title": "y"}, "patch"),
        ({"patch": {}}, "patch"),
        ({"patch": []}, "patch"),
        ({"patch": {"version": 9}}, "patch.version"),
        ({"patch": {"data": None}}, "patch.data"),
        ({"patch": {"data": {"elements": {"title": {"x": "left"}}}}}, "data.elements[0].x"),
        ({"patch": {"data": {"elements": {"new": {"type": "text"}}}}}, "data.elements[2].x"),
        ({"patch": {"title": ""}}, "title"),
    ],
)
def test_a_bad_patch_is_a_validation_error_and_changes_nothing(
    make_graphic: Callable[..., Any], editor: Any, fields: dict[str, Any], error_field: str
) -> None:
    """The patch is checked for form, and its result is validated as a whole canvas."""
    graphic = locked_graphic(make_graphic, editor)
    with pytest.raises(ValidationFailed) as caught:
        graphic_update(user=editor, graphic_id=graphic.pk, version=graphic.version, **fields)
    assert error_field in caught.value.details
    stored = Graphic.objects.get(pk=graphic.pk)
    assert (stored.version, stored.title, stored.data) == (
        graphic.version,
        graphic.title,
        graphic.data,
    )


@pytest.mark.django_db
def test_a_late_or_duplicated_patch_is_a_version_conflict(
    make_graphic: Callable[..., Any], editor: Any
) -> None:
    """A patch applies to the version it names; sent twice, the second is refused rather than
    applied to a version it was not made for."""
    graphic = locked_graphic(make_graphic, editor)
    move = {"data": {"elements": {"title": {"x": 10}}}}
    graphic_update(user=editor, graphic_id=graphic.pk, version=graphic.version, patch=move)
    with pytest.raises(VersionConflict):
        graphic_update(user=editor, graphic_id=graphic.pk, version=graphic.version, patch=move)


@pytest.mark.django_db
def test_a_patch_without_the_lock_is_a_lock_conflict(
    make_graphic: Callable[..., Any], editor: Any, editor2: Any
) -> None:
    graphic = locked_graphic(make_graphic, editor)
    with pytest.raises(LockConflict):
        graphic_update(
            user=editor2, graphic_id=graphic.pk, version=graphic.version, patch={"title": "x"}
        )


# -- what is broadcast --------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_text_change_is_broadcast_as_a_patch_without_the_background(
    make_graphic: Callable[..., Any], editor: Any
) -> None:
    canvas = valid_canvas(background=INLINE_BACKGROUND, elements=[text_element("title")])
    graphic = locked_graphic(make_graphic, editor, data=canvas)
    edited = [{**canvas["elements"][0], "content": "Game 3"}]
    # Sent in full by the client; broadcast as the difference all the same.
    graphic_update(
        user=editor,
        graphic_id=graphic.pk,
        version=graphic.version,
        data={**canvas, "elements": edited},
    )

    data = last_update_event(graphic).data
    assert data["patch"] == {"data": {"elements": {"title": {"content": "Game 3"}}}}
    assert data["base_version"] == graphic.version
    assert "payload" not in data
    assert len(json.dumps(data)) < 2000 < len(json.dumps(INLINE_BACKGROUND))


@pytest.mark.django_db
def test_a_change_bigger_as_a_patch_is_broadcast_whole(
    make_graphic: Callable[..., Any], editor: Any
) -> None:
    """Replacing two hundred elements by one: naming every removed element costs more than
    sending the graphic, so subscribers get the full payload."""
    many = [text_element(f"line-{index:03d}", content="") for index in range(200)]
    graphic = locked_graphic(make_graphic, editor, data=valid_canvas(elements=many))
    graphic_update(
        user=editor,
        graphic_id=graphic.pk,
        version=graphic.version,
        data=valid_canvas(elements=[text_element("only")]),
    )
    data = last_update_event(graphic).data
    assert "patch" not in data
    assert data["payload"]["data"]["elements"] == [text_element("only")]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
async def test_websocket_patch_reaches_subscribers_who_rebuild_the_graphic(
    ws_connect: Callable[..., Any],  # noqa: F811
    db_call: Any,  # noqa: F811
    make_graphic: Callable[..., Any],
    editor: Any,
    viewer: Any,
) -> None:
    """An editor sends `update` with a patch over the WebSocket; a viewer holding the snapshot
    applies the broadcast patch and has exactly what a fresh snapshot shows."""
    canvas = valid_canvas(background=INLINE_BACKGROUND, elements=[text_element("title")])
    graphic = await db_call(make_graphic, data=canvas)
    author = await ws_connect(editor)
    watcher = await ws_connect(viewer)
    snapshot = await watcher.ack("subscribe", {"graphic_id": graphic.pk})
    locked = await author.ack("lock", {"graphic_id": graphic.pk})
    await watcher.next_event()  # the lock

    reply = await author.ack(
        "update",
        {
            "graphic_id": graphic.pk,
            "version": snapshot["graphic"]["version"],
            "fencing_token": locked["lock"]["fencing_token"],
            "patch": {"data": {"elements": {"logo": text_element("logo", content="GAL")}}},
        },
    )

    event = await watcher.next_event()
    assert event["type"] == "graphic_update" and "patch" in event["data"]
    rebuilt = graphic_apply_event(snapshot["graphic"], event["data"])
    assert rebuilt == reply["graphic"]
    fresh = await watcher.ack("subscribe", {"graphic_id": graphic.pk})
    assert rebuilt == fresh["graphic"]
    assert [element["id"] for element in rebuilt["data"]["elements"]] == ["title", "logo"]


@pytest.mark.django_db
def test_rest_patch_with_a_merge_patch(make_graphic: Callable[..., Any], editor: Any) -> None:
    graphic = locked_graphic(make_graphic, editor)
    client = APIClient()
    client.force_authenticate(editor)
    response = client.patch(
        f"/api/graphics/{graphic.pk}/",
        {
            "version": graphic.version,
            "fencing_token": fencing_token_of(graphic.pk),
            "patch": {"data": {"elements": {"title": None}}},
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    assert [element["id"] for element in response.json()["data"]["elements"]] == ["standings"]
    bad = client.patch(
        f"/api/graphics/{graphic.pk}/",
        {
            "version": response.json()["version"],
            "fencing_token": fencing_token_of(graphic.pk),
            "patch": {"data": {"elements": ["x"]}},
        },
        format="json",
    )
    assert bad.status_code == 400
    assert "patch.data.elements" in bad.json()["error"]["details"]

"""A revert reaches WebSocket subscribers as a graphic_update, like any edit: through the real
ASGI application, hub and channel layer (in-memory, or Redis in the services pass)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from graphics.models import Graphic
from graphics.patch import graphic_apply_event
from graphics.services import graphic_update
from locks.services import lock_acquire
from tests.conftest import fencing_token_of, text_element, valid_canvas
from tests.realtime.conftest import db_call, ws_connect  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def revert_over_rest(user: Any, graphic_id: int, body: dict[str, Any]) -> Any:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return client.post(f"/api/graphics/{graphic_id}/revert/", body, format="json")


def edit(editor: Any, graphic: Graphic) -> None:
    lock_acquire(user=editor, graphic_id=graphic.pk)
    graphic_update(
        user=editor,
        graphic_id=graphic.pk,
        version=1,
        title="Week 2 Standings",
        data=valid_canvas(elements=[text_element(content="Wrong scores")]),
    )


async def test_a_revert_over_rest_is_broadcast_to_the_graphics_subscribers(
    ws_connect: Callable[..., Any],  # noqa: F811
    db_call: Any,  # noqa: F811
    viewer: Any,
    editor: Any,
    graphic: Graphic,
) -> None:
    """A viewer subscribed to the graphic hears the revert as a graphic_update: action
    "reverted", the version it brought back, the new version and the old content."""
    await db_call(edit, editor, graphic)
    watcher = await ws_connect(viewer)
    snapshot = await watcher.ack("subscribe", {"graphic_id": graphic.pk})

    response = await db_call(
        revert_over_rest,
        editor,
        graphic.pk,
        {
            "version": 1,
            "expected_version": 2,
            "fencing_token": await db_call(fencing_token_of, graphic.pk),
        },
    )
    assert response.status_code == 200, response.content

    event = await watcher.next_event(match=lambda frame: frame["type"] == "graphic_update")
    assert event["subscription"] == graphic.pk
    assert event["data"]["seq"] > snapshot["seq"]
    assert event["data"]["action"] == "reverted"
    assert event["data"]["reverted_from"] == 1
    assert event["data"]["version"] == 3
    assert event["data"]["changed_fields"] == ["title", "data"]
    assert event["data"]["user"] == "editor"
    reverted = graphic_apply_event(snapshot["graphic"], event["data"])
    assert reverted["title"] == "Round 3 Scoreboard"
    assert reverted["data"] == valid_canvas()
    assert reverted["version"] == 3


async def test_a_refused_revert_broadcasts_nothing(
    ws_connect: Callable[..., Any],  # noqa: F811
    db_call: Any,  # noqa: F811
    viewer: Any,
    editor: Any,
    editor2: Any,
    graphic: Graphic,
) -> None:
    """A revert refused for want of the lock changes nothing, so subscribers hear nothing."""
    await db_call(edit, editor, graphic)
    watcher = await ws_connect(viewer)
    await watcher.ack("subscribe", {"graphic_id": graphic.pk})

    response = await db_call(
        revert_over_rest, editor2, graphic.pk, {"version": 1, "expected_version": 2}
    )

    assert response.status_code == 409
    await watcher.no_event()

"""On air over the WebSocket and to overlays (issue 16): `take`, `clear` and `set_live` messages,
and what a view key receives: the program only, never a draft, on every path (live delivery,
the subscribe ack, a resume's replay, polling). Real consumer, real hub, real channel layer,
real database."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from rest_framework.test import APIClient

from gal_dashboard.access import EDITOR
from graphics.models import Graphic, GraphicViewKey
from graphics.on_air import graphic_clear, graphic_set_live, graphic_take
from graphics.services import graphic_create, graphic_update, view_key_rotate
from locks.services import lock_acquire
from standings.services import lobby_results_save
from tests.conftest import lobby_results, valid_canvas
from tests.realtime.conftest import WsClient

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

EVENT = "GAL Season 3 Week 2"


@dataclass
class Setup:
    editor: Any
    graphic: Graphic
    view_key: GraphicViewKey
    event: Any
    fencing_token: int


@pytest.fixture
def setup(make_user: Callable[..., Any], make_event: Callable[..., Any]) -> Setup:
    """A new graphic (off air) bound to an event's standings, its lock held by its Editor, with
    a view key."""
    editor = make_user("air-editor", role=EDITOR)
    event = make_event(EVENT)
    graphic = graphic_create(user=editor, title="Standings", event_name=EVENT, data=valid_canvas())
    lock = lock_acquire(user=editor, graphic_id=graphic.pk)
    return Setup(
        editor=editor,
        graphic=graphic,
        view_key=view_key_rotate(graphic_id=graphic.pk, user=editor),
        event=event,
        fencing_token=int(lock.fencing_token),
    )


def edit(setup: Setup, title: str) -> Graphic:
    current = Graphic.objects.get(pk=setup.graphic.pk)
    return graphic_update(
        user=setup.editor,
        graphic_id=current.pk,
        version=current.version,
        fencing_token=setup.fencing_token,
        title=title,
    )


def save_results(setup: Setup) -> None:
    lobby_results_save(
        user=setup.event.scorekeeper,
        tournament_id=setup.event.pk,
        round_number=1,
        lobby_number=1,
        results=lobby_results(setup.event, [1, 2, 3, 4, 5, 6, 7, 8]),
    )


async def overlay_of(ws_connect: Callable[..., Any], setup: Setup) -> WsClient:
    client: WsClient = await ws_connect(path=f"/ws/graphics?key={setup.view_key.key}", origin=None)
    return client


async def test_a_take_over_the_websocket_reaches_the_overlay(
    ws_connect: Callable[..., Any], db_call: Any, setup: Setup
) -> None:
    """An overlay of a graphic never taken starts with nothing to draw; a draft edit does not
    reach it; `take` answers the graphic on air and brings the overlay the program whole; a
    later draft edit reaches staff but not the overlay; `clear` tells it on_air false."""
    overlay = await overlay_of(ws_connect, setup)
    editor = await ws_connect(setup.editor)
    ack = await overlay.ack("subscribe", {"graphic_id": setup.graphic.pk})
    assert ack["graphic"]["on_air"] is False
    assert "data" not in ack["graphic"] and "title" not in ack["graphic"]
    assert "standings" not in ack
    await editor.ack("subscribe", {"graphic_id": setup.graphic.pk})

    await db_call(edit, setup, "Draft 2")
    staff_update = await editor.next_event(match=lambda f: f["type"] == "graphic_update")
    assert staff_update["data"]["live"] is False
    await overlay.no_event()

    reply = await editor.ack(
        "take", {"graphic_id": setup.graphic.pk, "expected_version": 2, "reason": "Go"}
    )
    assert (reply["graphic"]["on_air"], reply["graphic"]["program_version"]) == (True, 2)
    take = await overlay.next_event()
    assert take["type"] == "graphic_take"
    assert take["data"]["payload"]["title"] == "Draft 2"
    assert take["data"]["payload"]["data"] == setup.graphic.data
    assert take["data"]["on_air"] is True and take["data"]["transition"] == "fade"
    assert take["data"]["taken_by"] is None and take["data"]["reason"] == ""
    assert "version" not in take["data"] and "draft_differs" not in take["data"]
    staff_take = await editor.next_event(match=lambda f: f["type"] == "graphic_take")
    assert staff_take["data"]["taken_by"] == "air-editor" and staff_take["data"]["reason"] == "Go"

    await db_call(edit, setup, "Draft 3")
    await editor.next_event(match=lambda f: f["type"] == "graphic_update")
    await overlay.no_event()

    await editor.ack("clear", {"graphic_id": setup.graphic.pk})
    clear = await overlay.next_event()
    assert clear["type"] == "graphic_clear" and clear["data"]["on_air"] is False
    assert "payload" not in clear["data"]


async def test_live_mode_sends_every_save_to_the_overlay(
    ws_connect: Callable[..., Any], db_call: Any, setup: Setup
) -> None:
    overlay = await overlay_of(ws_connect, setup)
    editor = await ws_connect(setup.editor)
    await overlay.ack("subscribe", {"graphic_id": setup.graphic.pk})

    reply = await editor.ack("set_live", {"graphic_id": setup.graphic.pk, "live": True})
    assert (reply["graphic"]["live"], reply["graphic"]["on_air"]) == (True, True)
    went_live = await overlay.next_event()
    assert went_live["type"] == "graphic_live" and went_live["data"]["payload"]["version"] == 1

    await db_call(edit, setup, "Typed live")
    update = await overlay.next_event()
    assert update["type"] == "graphic_update" and update["data"]["live"] is True
    assert update["data"]["version"] == 2

    await editor.ack("set_live", {"graphic_id": setup.graphic.pk, "live": False})
    off = await overlay.next_event()
    assert off["type"] == "graphic_live" and off["data"]["live"] is False
    assert off["data"]["on_air"] is True and "payload" not in off["data"]
    await db_call(edit, setup, "Waits")
    await overlay.no_event()


async def test_standings_reach_the_overlay_at_once(
    ws_connect: Callable[..., Any], db_call: Any, setup: Setup
) -> None:
    """Standings are data bound to the lists: they flow to overlays whether or not the layout
    was taken since."""
    await db_call(graphic_take, user=setup.editor, graphic_id=setup.graphic.pk, expected_version=1)
    await db_call(edit, setup, "Draft layout")
    overlay = await overlay_of(ws_connect, setup)
    ack = await overlay.ack("subscribe", {"graphic_id": setup.graphic.pk})
    assert ack["graphic"]["title"] == "Standings" and ack["graphic"]["version"] == 1
    assert "standings" in ack

    await db_call(save_results, setup)
    standings = await overlay.next_event()
    assert standings["type"] == "standings_update"
    assert standings["data"]["standings"]["tables"]


async def test_a_resume_replays_only_what_went_to_air(
    ws_connect: Callable[..., Any], db_call: Any, setup: Setup
) -> None:
    """A view key resuming from a seq gets the take and the clear, never the drafts between;
    the ack's seq is the last event read, so the next resume starts after the drafts."""
    overlay = await overlay_of(ws_connect, setup)
    first = await overlay.ack("subscribe", {"graphic_id": setup.graphic.pk})
    await overlay.close()

    await db_call(edit, setup, "Draft 2")
    await db_call(graphic_take, user=setup.editor, graphic_id=setup.graphic.pk, expected_version=2)
    await db_call(edit, setup, "Draft 3")
    await db_call(graphic_clear, user=setup.editor, graphic_id=setup.graphic.pk)
    await db_call(edit, setup, "Draft 4")

    again = await overlay_of(ws_connect, setup)
    resumed = await again.ack(
        "subscribe", {"graphic_id": setup.graphic.pk, "last_seq": first["seq"]}
    )
    assert (resumed["recovered"], resumed["replayed"]) == (True, 2)
    replayed = [await again.next_event(), await again.next_event()]
    assert [frame["type"] for frame in replayed] == ["graphic_take", "graphic_clear"]
    assert replayed[0]["data"]["payload"]["title"] == "Draft 2"
    staff = await ws_connect(setup.editor)
    staff_ack = await staff.ack("subscribe", {"graphic_id": setup.graphic.pk})
    assert resumed["seq"] == staff_ack["seq"]
    await again.no_event()


async def test_an_overlay_that_reconnects_while_cleared_gets_nothing_to_draw(
    ws_connect: Callable[..., Any], db_call: Any, setup: Setup
) -> None:
    await db_call(graphic_take, user=setup.editor, graphic_id=setup.graphic.pk, expected_version=1)
    await db_call(graphic_clear, user=setup.editor, graphic_id=setup.graphic.pk)
    overlay = await overlay_of(ws_connect, setup)
    ack = await overlay.ack("subscribe", {"graphic_id": setup.graphic.pk})
    assert ack["graphic"] == {
        "id": setup.graphic.pk,
        "on_air": False,
        "program_version": 1,
        "live": False,
        "transition": "fade",
        "transition_ms": 400,
        "draft_differs": False,
    }
    assert "standings" not in ack


def test_polling_with_a_view_key_follows_the_program(setup: Setup) -> None:
    """GET /api/events/?key=: the snapshot is the program; later events are the take and
    clear, not the drafts; staff polling the same graphic get every event."""
    graphic_take(user=setup.editor, graphic_id=setup.graphic.pk, expected_version=1)
    edit(setup, "Draft 2")
    overlay = APIClient()
    query = {"graphic": str(setup.graphic.pk), "key": setup.view_key.key}
    first = overlay.get("/api/events/", query).json()
    assert first["snapshot"]["graphic"]["title"] == "Standings"
    assert first["snapshot"]["graphic"]["version"] == 1

    edit(setup, "Draft 3")
    graphic_take(user=setup.editor, graphic_id=setup.graphic.pk, expected_version=3)
    edit(setup, "Draft 4")
    graphic_set_live(user=setup.editor, graphic_id=setup.graphic.pk, live=True)
    edit(setup, "Live 5")
    page = overlay.get("/api/events/", {**query, "since": first["next_since"]}).json()
    assert [(event["type"], event["data"].get("action")) for event in page["events"]] == [
        ("graphic_take", "take"),
        ("graphic_live", "live"),
        ("graphic_update", "updated"),
    ]
    assert page["events"][0]["data"]["payload"]["title"] == "Draft 3"
    staff = APIClient()
    staff.force_authenticate(setup.editor)
    staff_page = staff.get(
        "/api/events/", {"graphic": str(setup.graphic.pk), "since": first["next_since"]}
    ).json()
    assert [event["type"] for event in staff_page["events"]].count("graphic_update") == 3
    assert page["next_since"] == staff_page["next_since"]


async def test_the_list_gets_on_air_events_without_the_canvas(
    ws_connect: Callable[..., Any], db_call: Any, setup: Setup
) -> None:
    viewer = await ws_connect(setup.editor)
    await viewer.ack("subscribe", {"graphic_id": "all"})
    await db_call(graphic_take, user=setup.editor, graphic_id=setup.graphic.pk, expected_version=1)
    take = await viewer.next_event(match=lambda f: f["type"] == "graphic_take")
    assert take["subscription"] == "all"
    assert take["data"]["payload"]["title"] == "Standings" and "data" not in take["data"]["payload"]
    assert take["data"]["on_air"] is True and take["data"]["program_version"] == 1


async def test_websocket_errors_are_the_services(
    ws_connect: Callable[..., Any], db_call: Any, setup: Setup, make_user: Callable[..., Any]
) -> None:
    other = await ws_connect(await db_call(make_user, "other-editor", role=EDITOR))
    gid = setup.graphic.pk
    reply = await other.request("take", {"graphic_id": gid, "expected_version": 1})
    assert reply["data"]["code"] == "lock_conflict", reply
    mine = await ws_connect(setup.editor)
    reply = await mine.request("take", {"graphic_id": gid, "expected_version": 7})
    assert reply["data"]["code"] == "version_conflict"
    reply = await mine.request("take", {"graphic_id": gid, "version": 1})
    assert reply["data"]["code"] == "validation_error"
    reply = await mine.request("set_live", {"graphic_id": gid})
    assert reply["data"]["code"] == "validation_error"
    reply = await mine.request("clear", {"graphic_id": gid + 1000})
    assert reply["data"]["code"] == "not_found"
    overlay = await overlay_of(ws_connect, setup)
    reply = await overlay.request("take", {"graphic_id": gid, "expected_version": 1})
    assert reply["data"]["code"] == "permission_denied"
    assert reply["data"]["details"] == {"view_key_graphic_id": gid}

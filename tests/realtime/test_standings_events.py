"""standings_update over the real application (in-memory or Redis channel layer): a bound
graphic's snapshot carries its standings; each results change reaches the graphic's subscribers
with the new tables and "all" without them, after commit, in seq order; resume, polling and
overlays' view keys get it like any other event."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction
from rest_framework.test import APIClient

from graphics.models import Graphic
from graphics.on_air import graphic_take
from graphics.services import view_key_rotate
from standings.services import lobby_results_save, player_update
from tests.conftest import lobby_results, text_element, valid_canvas

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

EVENT = "GAL Season 3 Week 2"


def save_lobby(event: Any, placements: list[int], **kw: Any) -> Any:
    return lobby_results_save(
        user=event.scorekeeper,
        tournament_id=event.pk,
        round_number=1,
        lobby_number=1,
        results=lobby_results(event, placements),
        **kw,
    )


def names(table: list[dict[str, Any]]) -> list[str]:
    return [row["name"] for row in table]


async def test_a_bound_graphics_snapshot_carries_its_standings(
    ws_connect: Callable[..., Any],
    db_call: Any,
    viewer: Any,
    make_event: Callable[..., Any],
    make_graphic: Callable[..., Any],
) -> None:
    event = await db_call(make_event, EVENT)
    await db_call(save_lobby, event, [2, 1, 3, 4, 5, 6, 7, 8])
    bound = await db_call(make_graphic, event_name=EVENT)
    text_only = await db_call(
        make_graphic, event_name=EVENT, data=valid_canvas(elements=[text_element()])
    )
    client = await ws_connect(viewer)
    ack = await client.ack("subscribe", {"graphic_id": bound.pk})
    standings = ack["standings"]
    assert (standings["event_name"], standings["tournament_id"]) == (EVENT, event.pk)
    assert names(standings["tables"]["total"])[:2] == ["P02", "P01"]
    ack = await client.ack("subscribe", {"graphic_id": text_only.pk})
    assert "standings" not in ack


async def test_a_lobby_save_reaches_the_graphic_and_the_list_after_commit(
    ws_connect: Callable[..., Any],
    db_call: Any,
    viewer: Any,
    make_event: Callable[..., Any],
    make_graphic: Callable[..., Any],
) -> None:
    event = await db_call(make_event, EVENT)
    bound = await db_call(make_graphic, event_name=EVENT)
    elsewhere = await db_call(make_graphic, event_name="Another event")
    watcher = await ws_connect(viewer)
    ack = await watcher.ack("subscribe", {"graphic_id": bound.pk})
    assert [row["rank"] for row in ack["standings"]["tables"]["total"]] == [None] * 10
    list_ack = await watcher.ack("subscribe", {"graphic_id": "all"})
    other = await ws_connect(viewer)
    await other.ack("subscribe", {"graphic_id": elsewhere.pk})

    def save_then_check_nothing_was_sent() -> None:
        with transaction.atomic():
            save_lobby(event, [3, 1, 2, 4, 5, 6, 7, 8])

    await db_call(save_then_check_nothing_was_sent)

    frames = [await watcher.next_event(), await watcher.next_event()]
    by_subscription = {frame["subscription"]: frame for frame in frames}
    full, summary = by_subscription[bound.pk], by_subscription["all"]
    assert full["type"] == summary["type"] == "standings_update"
    assert full["data"]["seq"] == summary["data"]["seq"] > max(ack["seq"], list_ack["seq"])
    assert full["data"]["graphic_id"] == bound.pk
    assert full["data"]["action"] == "results_saved"
    table = full["data"]["standings"]["tables"]["total"]
    assert [(r["name"], r["rank"], r["points"]) for r in table[:3]] == [
        ("P02", 1, 8),
        ("P03", 2, 7),
        ("P01", 3, 6),
    ]
    assert "tables" not in summary["data"]["standings"]
    assert summary["data"]["standings"]["revision"] == full["data"]["standings"]["revision"]
    await other.no_event()


async def test_resume_replays_a_missed_standings_update(
    ws_connect: Callable[..., Any],
    db_call: Any,
    viewer: Any,
    make_event: Callable[..., Any],
    make_graphic: Callable[..., Any],
) -> None:
    event = await db_call(make_event, EVENT)
    bound = await db_call(make_graphic, event_name=EVENT)
    first = await ws_connect(viewer)
    seq = (await first.ack("subscribe", {"graphic_id": bound.pk}))["seq"]
    await first.close()
    await db_call(save_lobby, event, [1, 2, 3, 4, 5, 6, 7, 8])
    first_player = (await db_call(lobby_results, event, [1]))[0]["player"]
    await db_call(
        player_update,
        user=event.scorekeeper,
        tournament_id=event.pk,
        player_id=first_player,
        display_name="Setsuko",
    )

    again = await ws_connect(viewer)
    ack = await again.ack("subscribe", {"graphic_id": bound.pk, "last_seq": seq})
    assert (ack["recovered"], ack["replayed"]) == (True, 2)
    replayed = [await again.next_event(), await again.next_event()]
    assert [frame["data"]["action"] for frame in replayed] == ["results_saved", "player_renamed"]
    assert names(replayed[1]["data"]["standings"]["tables"]["total"])[0] == "Setsuko"


async def test_an_overlays_view_key_receives_standings(
    ws_connect: Callable[..., Any],
    db_call: Any,
    editor: Any,
    make_event: Callable[..., Any],
    make_graphic: Callable[..., Any],
) -> None:
    event = await db_call(make_event, EVENT)
    bound = await db_call(make_graphic, event_name=EVENT, by=editor)
    await db_call(graphic_take, user=editor, graphic_id=bound.pk, expected_version=1)
    key = await db_call(view_key_rotate, graphic_id=bound.pk, user=editor)
    overlay = await ws_connect(path=f"/ws/graphics?key={key.key}", origin=None)
    ack = await overlay.ack("subscribe", {"graphic_id": bound.pk})
    assert "standings" in ack
    await db_call(save_lobby, event, [8, 7, 6, 5, 4, 3, 2, 1])
    frame = await overlay.next_event()
    assert frame["type"] == "standings_update"
    assert names(frame["data"]["standings"]["tables"]["total"])[0] == "P08"


def test_polling_returns_standings_events_and_snapshots(
    viewer: Any, make_event: Callable[..., Any], make_graphic: Callable[..., Any]
) -> None:
    event = make_event(EVENT)
    bound: Graphic = make_graphic(event_name=EVENT)
    client = APIClient()
    client.force_authenticate(viewer)
    start = client.get("/api/events/", {"graphic": str(bound.pk)}).json()
    assert start["recovered"] is False
    assert start["snapshot"]["standings"]["tournament_id"] == event.pk
    save_lobby(event, [1, 2, 3, 4, 5, 6, 7, 8])

    page = client.get("/api/events/", {"graphic": str(bound.pk), "since": start["next_since"]})
    events = page.json()["events"]
    assert [e["type"] for e in events] == ["standings_update"]
    assert names(events[0]["data"]["standings"]["tables"]["total"])[0] == "P01"
    listed = client.get("/api/events/", {"graphic": "all", "since": start["next_since"]}).json()
    assert [e["type"] for e in listed["events"]] == ["standings_update"]
    assert "tables" not in listed["events"][0]["data"]["standings"]


async def test_the_list_hears_a_change_no_graphic_draws(
    ws_connect: Callable[..., Any], db_call: Any, viewer: Any, make_event: Callable[..., Any]
) -> None:
    """A results page follows "all": it hears another scorekeeper's save even when no graphic
    is bound to the event (one event for no graphic, without tables)."""
    event = await db_call(make_event, EVENT)
    client = await ws_connect(viewer)
    await client.ack("subscribe", {"graphic_id": "all"})
    await db_call(save_lobby, event, [1, 2, 3, 4, 5, 6, 7, 8])
    frame = await client.next_event()
    assert frame["type"] == "standings_update"
    assert frame["data"]["graphic_id"] is None
    assert frame["data"]["standings"]["event_name"] == EVENT
    assert "tables" not in frame["data"]["standings"]
    await client.no_event()

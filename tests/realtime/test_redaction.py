"""What an overlay's view key sees (issue 14, finding 7): the graphic as it goes on air, never
who works on it. On every path (the subscribe ack, each live event type, a resume's replay,
polling's events and its snapshot) a view-key client gets no username, no user id, no Lock
admin's note and no reason, while a staff client of the same graphic gets all of them."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from rest_framework.test import APIClient

from gal_dashboard.access import EDITOR, LOCK_ADMIN
from graphics.models import Graphic, GraphicViewKey
from graphics.on_air import graphic_set_live
from graphics.services import graphic_archive, graphic_create, graphic_update, view_key_rotate
from locks.services import lock_acquire, lock_override
from realtime.delivery.redaction import EVENT_REDACTIONS
from realtime.models import Event, EventType
from standings.services import lobby_results_save
from tests.conftest import lobby_results, valid_canvas
from tests.realtime.conftest import WsClient

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

EVENT = "GAL Season 3 Week 2"
NOTE = "NOTE-zq7: stepped away from the desk"
REASON = "REASON-zq7: the sponsor asked"

# Keys that name a person, in any shape of docs/protocol.md.
PEOPLE_KEYS = frozenset(
    {
        "created_by",
        "updated_by",
        "archived_by",
        "locked_by",
        "locked_by_id",
        "actor",
        "actor_id",
        "previous_holder",
        "previous_holder_id",
        "user",
        "user_id",
    }
)


@dataclass
class Staff:
    editor: Any
    lock_admin: Any
    scorekeeper: Any
    graphic: Graphic
    event: Any
    view_key: GraphicViewKey

    @property
    def secrets(self) -> list[str]:
        """What a view key must never read, and staff do."""
        names = [self.editor.username, self.lock_admin.username, self.scorekeeper.username]
        return [*names, NOTE, REASON]


@pytest.fixture
def staff(make_user: Callable[..., Any], make_event: Callable[..., Any]) -> Staff:
    """A graphic bound to an event's standings, created and edited by an Editor who holds its
    lock, with a view key."""
    editor = make_user("ed-zq7", role=EDITOR)
    lock_admin = make_user("la-zq7", role=LOCK_ADMIN)
    event = make_event(EVENT)
    graphic = graphic_create(user=editor, title="Standings", event_name=EVENT, data=valid_canvas())
    token = lock_acquire(user=editor, graphic_id=graphic.pk).fencing_token
    graphic_update(
        user=editor, graphic_id=graphic.pk, version=1, fencing_token=token, title="Standings 2"
    )
    # On air in live mode (as every graphic was before on-air control): its overlay sees each
    # save, so every kind of event reaches it.
    graphic = graphic_set_live(user=editor, graphic_id=graphic.pk, live=True)
    return Staff(
        editor=editor,
        lock_admin=lock_admin,
        scorekeeper=event.scorekeeper,
        graphic=graphic,
        event=event,
        view_key=view_key_rotate(graphic_id=graphic.pk, user=editor),
    )


def make_every_kind_of_event(staff: Staff) -> list[str]:
    """A patch-form graphic_update, a Lock admin's override with a note, an archive with a
    reason (a lock_status release, then a full-payload graphic_update) and a standings_update;
    returns the types of the events recorded."""
    graphic_id = staff.graphic.pk
    before = Event.objects.filter(graphic_id=graphic_id).order_by("-id").first()
    token = lock_acquire(user=staff.editor, graphic_id=graphic_id).fencing_token
    graphic_update(
        user=staff.editor,
        graphic_id=graphic_id,
        version=staff.graphic.version,
        fencing_token=token,
        title="Final standings",
    )
    lock_override(user=staff.lock_admin, graphic_id=graphic_id, reason=NOTE, take_over=True)
    graphic_archive(user=staff.lock_admin, graphic_id=graphic_id, reason=REASON)
    lobby_results_save(
        user=staff.scorekeeper,
        tournament_id=staff.event.pk,
        round_number=1,
        lobby_number=1,
        results=lobby_results(staff.event, [2, 1, 3, 4, 5, 6, 7, 8]),
    )
    assert before is not None
    return list(
        Event.objects.filter(graphic_id=graphic_id, id__gt=before.pk)
        .order_by("id")
        .values_list("type", flat=True)
    )


def assert_redacted(value: Any, *, secrets: list[str]) -> None:
    """No person, note or reason anywhere in `value` (an ack, a frame, a polling answer)."""
    text = json.dumps(value)
    for secret in secrets:
        assert secret not in text, f"{secret!r} reached a view key: {text[:2000]}"

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for key, child in node.items():
                if key in PEOPLE_KEYS:
                    assert child is None, f"{path}.{key} = {child!r} reached a view key"
                elif key == "note":
                    assert child == "", f"{path}.note = {child!r} reached a view key"
                walk(child, f"{path}.{key}")
        elif isinstance(node, list):
            for index, child in enumerate(node):
                walk(child, f"{path}[{index}]")

    walk(value, "")


def assert_named(value: Any, *, secrets: list[str]) -> None:
    """Staff see who did what: every person, the note and the reason are there."""
    text = json.dumps(value)
    for secret in secrets:
        assert secret in text, f"staff should read {secret!r}"


async def events(client: WsClient, count: int) -> list[dict[str, Any]]:
    return [await client.next_event() for _ in range(count)]


async def test_a_view_keys_ack_live_events_and_replay_name_no_one(
    ws_connect: Callable[..., Any], db_call: Any, staff: Staff, make_user: Callable[..., Any]
) -> None:
    overlay = await ws_connect(path=f"/ws/graphics?key={staff.view_key.key}", origin=None)
    viewer = await ws_connect(await db_call(make_user, role="Viewer"))
    overlay_ack = await overlay.ack("subscribe", {"graphic_id": staff.graphic.pk})
    staff_ack = await viewer.ack("subscribe", {"graphic_id": staff.graphic.pk})

    # The ack: the graphic and its lock (held), without who made, edited or holds it.
    assert overlay_ack["lock"]["locked"] is True
    assert overlay_ack["graphic"]["title"] == "Standings 2"
    assert overlay_ack["standings"]["tables"] == staff_ack["standings"]["tables"]
    assert_redacted(overlay_ack, secrets=staff.secrets)
    assert staff_ack["lock"]["locked_by"] == staff.editor.username
    assert staff_ack["graphic"]["updated_by"]["username"] == staff.editor.username

    types = await db_call(make_every_kind_of_event, staff)
    assert set(types) == {"graphic_update", "lock_status", "standings_update"}

    # Live: every event type, the same events in the same order, redacted for the overlay.
    live = await events(overlay, len(types))
    seen_by_staff = await events(viewer, len(types))
    assert [frame["type"] for frame in live] == types
    assert [frame["data"]["seq"] for frame in live] == [f["data"]["seq"] for f in seen_by_staff]
    assert_redacted(live, secrets=staff.secrets)
    assert_named(seen_by_staff, secrets=staff.secrets)
    archived = next(f for f in live if f["data"].get("action") == "archived")
    assert archived["data"]["payload"]["archived"] is True
    assert archived["data"]["reason"] == ""
    overridden = next(f for f in live if f["data"].get("reason") == "overridden")
    assert overridden["data"]["locked"] is True
    standings = next(f for f in live if f["type"] == "standings_update")
    assert (
        standings["data"]["standings"]
        == next(f for f in seen_by_staff if f["type"] == "standings_update")["data"]["standings"]
    )

    # Resume: the replay after the first ack's seq is redacted too.
    again = await ws_connect(path=f"/ws/graphics?key={staff.view_key.key}", origin=None)
    resumed = await again.ack(
        "subscribe", {"graphic_id": staff.graphic.pk, "last_seq": overlay_ack["seq"]}
    )
    assert (resumed["recovered"], resumed["replayed"]) == (True, len(types))
    replayed = await events(again, len(types))
    assert replayed == live
    assert_redacted([resumed, replayed], secrets=staff.secrets)


def test_polling_with_a_view_key_names_no_one(staff: Staff, make_user: Callable[..., Any]) -> None:
    """GET /api/events/?key=: its snapshot (no `since`) and its events are redacted; the same
    request by staff names everyone."""
    graphic_id = str(staff.graphic.pk)
    overlay = APIClient()
    viewer = APIClient()
    viewer.force_authenticate(make_user(role="Viewer"))
    query = {"graphic": graphic_id, "key": staff.view_key.key}
    first = overlay.get("/api/events/", query).json()
    staff_first = viewer.get("/api/events/", {"graphic": graphic_id}).json()

    types = make_every_kind_of_event(staff)
    page = overlay.get("/api/events/", {**query, "since": first["next_since"]}).json()
    staff_page = viewer.get("/api/events/", {"graphic": graphic_id, "since": first["next_since"]})

    assert first["snapshot"]["lock"]["locked"] is True
    assert_redacted(first, secrets=staff.secrets)
    assert staff_first["snapshot"]["lock"]["locked_by"] == staff.editor.username
    assert [event["type"] for event in page["events"]] == types
    assert_redacted(page, secrets=staff.secrets)
    assert_named(staff_page.json(), secrets=staff.secrets)
    # Afterwards (archived, a Lock admin holding the lock) the snapshot still names no one.
    assert_redacted(overlay.get("/api/events/", query).json(), secrets=staff.secrets)


def test_every_event_type_has_its_own_redaction() -> None:
    """A new event type must say what a view key sees of it."""
    assert set(EVENT_REDACTIONS) == set(EventType.values)

"""GET /api/events/, the polling fallback: the events after `since` in the WebSocket's own
objects, paged, with the `since` of the next poll; the snapshot with recovered false when
`since` is missing, pruned or unknown; the API's authentication, permission and errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from graphics.models import Graphic
from graphics.services import graphic_archive, graphic_delete, graphic_update
from locks.services import lock_acquire, lock_release
from realtime.delivery.frames import EventFrames
from realtime.delivery.retention import events_prune
from realtime.delivery.snapshots import graphic_snapshot, latest_seq, list_snapshot
from realtime.models import Event
from tests.conftest import error_of

pytestmark = pytest.mark.django_db


def api_client(user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return client


def ws_objects(key: int | str, *, after: int) -> list[dict[str, Any]]:
    """What a WebSocket subscriber of `key` receives after seq `after`: the hub's own frames."""
    events = Event.objects.filter(id__gt=after).order_by("id")
    if key != "all":
        events = events.filter(graphic_id=key)
    frames = [EventFrames.from_event(event) for event in events]
    return [
        json.loads((frame.for_list() if key == "all" else frame.for_graphic())["text"])
        for frame in frames
    ]


def query(**params: Any) -> dict[str, str]:
    return {name: str(value) for name, value in params.items()}


def edit(editor: Any, graphic: Graphic, title: str) -> None:
    current = Graphic.objects.get(pk=graphic.pk)
    graphic_update(user=editor, graphic_id=graphic.pk, version=current.version, title=title)


@pytest.fixture
def other(make_graphic: Callable[..., Any], editor: Any) -> Graphic:
    return make_graphic(title="Other", by=editor)


# --- recovered: the events after since --------------------------------------------------------


@pytest.mark.parametrize("key", ["graphic", "all"])
def test_events_after_since_are_the_websockets_frames_in_seq_order(
    viewer: Any, editor: Any, graphic: Graphic, other: Graphic, key: str
) -> None:
    """The same objects, full payloads for a graphic and summaries for "all", and next_since is
    the newest seq in the log once the page is not full."""
    since = latest_seq()
    lock_acquire(user=editor, graphic_id=graphic.pk)
    edit(editor, graphic, "Polled")
    lock_acquire(user=editor, graphic_id=other.pk)
    edit(editor, other, "Elsewhere")
    subscription: int | str = graphic.pk if key == "graphic" else "all"

    response = api_client(viewer).get("/api/events/", query(graphic=str(subscription), since=since))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body == {
        "graphic": subscription,
        "recovered": True,
        "events": ws_objects(subscription, after=since),
        "next_since": latest_seq(),
        "more": False,
    }
    assert len(body["events"]) == (2 if key == "graphic" else 4)
    payloads = [e["data"]["payload"] for e in body["events"] if "payload" in e["data"]]
    assert all(("data" in payload) is (key == "graphic") for payload in payloads)


def test_pages_follow_each_other_with_next_since_until_more_is_false(
    viewer: Any, editor: Any, graphic: Graphic
) -> None:
    """Five events in pages of two: three polls, `more` until the last, and their events
    together are the WebSocket's; a poll from the last next_since finds nothing new."""
    since = latest_seq()
    lock_acquire(user=editor, graphic_id=graphic.pk)
    for take in range(4):
        edit(editor, graphic, f"Take {take}")
    client = api_client(viewer)
    pages = []
    cursor = since
    for _ in range(10):  # bounded: 5 events in pages of 2
        page = client.get("/api/events/", query(graphic="all", since=cursor, limit=2)).json()
        pages.append(page)
        cursor = page["next_since"]
        if not page["more"]:
            break

    assert [len(page["events"]) for page in pages] == [2, 2, 1]
    assert [page["more"] for page in pages] == [True, True, False]
    assert pages[0]["next_since"] == pages[0]["events"][-1]["data"]["seq"]
    assert [e for page in pages for e in page["events"]] == ws_objects("all", after=since)
    quiet = client.get("/api/events/", query(graphic="all", since=cursor)).json()
    assert quiet["recovered"] is True and quiet["events"] == []
    assert quiet["next_since"] == cursor


def test_a_graphic_deleted_after_since_is_polled_to_its_deletion_then_not_found(
    viewer: Any, editor: Any, lock_admin: Any, graphic: Graphic
) -> None:
    """A graphic's poller gets the archive and the deletion; the next poll is not_found, while
    "all" still tells both, as the WebSocket does."""
    since = latest_seq()
    graphic_archive(user=editor, graphic_id=graphic.pk, reason="done")
    graphic_delete(user=lock_admin, graphic_id=graphic.pk, reason="gone")
    client = api_client(viewer)

    page = client.get("/api/events/", query(graphic=graphic.pk, since=since)).json()

    assert [e["data"]["action"] for e in page["events"]] == ["archived", "deleted"]
    after = client.get("/api/events/", query(graphic=graphic.pk, since=page["next_since"]))
    error_of(after, 404, "not_found")
    # "all" keeps telling it, as on the WebSocket.
    listing = client.get("/api/events/", query(graphic="all", since=since)).json()
    assert listing["events"] == ws_objects("all", after=since)


# --- not recovered: the snapshot ------------------------------------------------------------


@pytest.mark.parametrize("key", ["graphic", "all"])
def test_without_since_the_answer_is_the_subscribe_snapshot(
    viewer: Any, editor: Any, graphic: Graphic, key: str
) -> None:
    """No since: the snapshot a subscribe acknowledges with, and next_since its seq."""
    lock_acquire(user=editor, graphic_id=graphic.pk)
    subscription: int | str = graphic.pk if key == "graphic" else "all"

    body = api_client(viewer).get("/api/events/", {"graphic": subscription}).json()

    snapshot = list_snapshot() if key == "all" else graphic_snapshot(graphic_id=graphic.pk)
    assert body == {
        "graphic": subscription,
        "recovered": False,
        "snapshot": json.loads(json.dumps(snapshot)),
        "events": [],
        "next_since": snapshot["seq"],
        "more": False,
    }


def test_a_since_older_than_the_pruned_log_or_never_handed_out_gets_the_snapshot(
    settings: Any, viewer: Any, editor: Any, graphic: Graphic
) -> None:
    """Pruned past since, or since above the newest seq: recovered false and the snapshot. A
    since at the horizon is still exact."""
    settings.EVENT_RETENTION_MIN_EVENTS = 1
    since = latest_seq()
    lock_acquire(user=editor, graphic_id=graphic.pk)
    lock_release(user=editor, graphic_id=graphic.pk)
    pruned = events_prune(now=timezone.now() + timedelta(days=2))
    assert pruned.pruned_through > since
    client = api_client(viewer)

    too_old = client.get("/api/events/", query(graphic=graphic.pk, since=since)).json()
    unknown = client.get("/api/events/", query(graphic="all", since=latest_seq() + 1)).json()
    at_horizon = client.get(
        "/api/events/", query(graphic="all", since=pruned.pruned_through)
    ).json()

    assert too_old["recovered"] is False
    assert too_old["snapshot"]["seq"] == too_old["next_since"]
    assert too_old["snapshot"]["graphic"]["id"] == graphic.pk
    assert unknown["recovered"] is False and "graphics" in unknown["snapshot"]
    assert at_horizon["recovered"] is True and len(at_horizon["events"]) == 1


# --- who may poll, and bad parameters -------------------------------------------------------


def test_polling_needs_credentials_and_the_view_permission(
    no_role_user: Any, viewer: Any, graphic: Graphic
) -> None:
    """As the rest of the API: 401 without credentials, 403 without a role, and the session
    works as well as a JWT."""
    error_of(APIClient().get("/api/events/", {"graphic": "all"}), 401, "not_authenticated")
    error_of(
        api_client(no_role_user).get("/api/events/", {"graphic": "all"}),
        403,
        "permission_denied",
    )
    session = Client()
    session.force_login(viewer)
    assert session.get("/api/events/", {"graphic": "all"}).status_code == 200


def test_an_unknown_graphic_is_not_found(viewer: Any) -> None:
    """As a subscribe to it would be."""
    response = api_client(viewer).get("/api/events/", query(graphic=999999, since=0))

    error_of(response, 404, "not_found")


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ({}, {"graphic"}),
        ({"graphic": "everything"}, {"graphic"}),
        ({"graphic": "0"}, {"graphic"}),
        ({"graphic": "-3"}, {"graphic"}),
        ({"graphic": str(2**63)}, {"graphic"}),
        ({"graphic": "all", "since": "-1"}, {"since"}),
        ({"graphic": "all", "since": "1.5"}, {"since"}),
        ({"graphic": "all", "since": ""}, {"since"}),
        ({"graphic": "all", "limit": "0"}, {"limit"}),
        ({"graphic": "all", "limit": "501"}, {"limit"}),
        ({"graphic": "x", "since": "y", "limit": "z"}, {"graphic", "since", "limit"}),
    ],
)
def test_bad_parameters_are_a_validation_error_naming_each(
    viewer: Any, query: dict[str, str], fields: set[str]
) -> None:
    """400 validation_error whose details name every bad parameter at once."""
    response = api_client(viewer).get("/api/events/", query)

    error = error_of(response, 400, "validation_error")
    assert set(error["details"]) == fields

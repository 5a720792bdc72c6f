"""
Who may do what with the league's results through the API: every role against every standings
endpoint, each cell a real request with a real access token that would succeed for someone
allowed to make it. Reads need standings.view_tournament (every role) and writes
standings.manage_results (Scorekeeper, Lock admin, superuser); a refused request changes
nothing and broadcasts nothing. And a Scorekeeper, who reads graphics, cannot change them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from gal_dashboard.access import EDITOR, LOCK_ADMIN, SCOREKEEPER, VIEWER
from graphics.models import Graphic
from locks.models import CanvasLock
from realtime.models import Event
from standings.models import Player, Result, ResultChange, Round, Tournament
from tests.conftest import lobby_results

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "no_role", "viewer", "editor", "scorekeeper", "lock_admin", "superuser")
GROUPS = {
    "no_role": None,
    "viewer": VIEWER,
    "editor": EDITOR,
    "scorekeeper": SCOREKEEPER,
    "lock_admin": LOCK_ADMIN,
}

#              anonymous  no role  Viewer  Editor  Scorekeeper  Lock admin  superuser
READ = (401, 403, 200, 200, 200, 200, 200)


def write(status: int) -> tuple[int, ...]:
    return (401, 403, 403, 403, status, status, status)


EVENT = "/api/standings/events/{event}/"
SHEET = "player,round,placement\n" + "".join(f"P{n:02},1,{n}\n" for n in range(1, 9))

# action -> (method, path, body or a function of the event giving it)
ACTIONS: dict[str, tuple[str, str, Any]] = {
    "events_list": ("get", "/api/standings/events/", None),
    "event_read": ("get", EVENT, None),
    "standings": ("get", EVENT + "standings/?round=round_1", None),
    "players_list": ("get", EVENT + "players/", None),
    "player_read": ("get", EVENT + "players/{player}/", None),
    "rounds_list": ("get", EVENT + "rounds/", None),
    "round_read": ("get", EVENT + "rounds/1/", None),
    "changes": ("get", EVENT + "changes/", None),
    "event_create": ("post", "/api/standings/events/", {"name": "GAL Season 3 Week 3"}),
    "event_update": ("patch", EVENT, {"name": "Renamed"}),
    "event_delete": ("delete", EVENT, None),
    "player_create": ("post", EVENT + "players/", {"display_name": "Newcomer"}),
    "player_update": ("patch", EVENT + "players/{player}/", {"display_name": "Renamed"}),
    "player_delete": ("delete", EVENT + "players/{player}/", {"reason": "Left"}),
    "round_create": ("post", EVENT + "rounds/", {}),
    "round_delete": ("delete", EVENT + "rounds/1/", None),
    "lobby_save": (
        "put",
        EVENT + "rounds/1/lobbies/1/",
        lambda event: {"results": lobby_results(event, [2, 1, 3, 4, 5, 6, 7, 8])},
    ),
    "import": ("post", EVENT + "import/", {"csv": SHEET}),
}

MATRIX: dict[str, tuple[int, ...]] = {
    "events_list": READ,
    "event_read": READ,
    "standings": READ,
    "players_list": READ,
    "player_read": READ,
    "rounds_list": READ,
    "round_read": READ,
    "changes": READ,
    "event_create": write(201),
    "event_update": write(200),
    "event_delete": write(204),
    "player_create": write(201),
    "player_update": write(200),
    "player_delete": write(204),
    "round_create": write(201),
    "round_delete": write(204),
    "lobby_save": write(200),
    "import": write(200),
}

CASES = [
    pytest.param(action, role, status, id=f"{action}-{role}")
    for action, statuses in MATRIX.items()
    for role, status in zip(ROLES, statuses, strict=True)
]


def make_actor(make_user: Callable[..., Any], role: str) -> Any:
    if role == "anonymous":
        return None
    if role == "superuser":
        return make_user("actor", superuser=True)
    return make_user("actor", role=GROUPS[role])


def client_for(actor: Any) -> APIClient:
    client = APIClient()
    if actor is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(actor)}")
    return client


def snapshot() -> tuple[Any, ...]:
    return (
        tuple(Tournament.objects.order_by("pk").values_list("pk", "name", "revision")),
        tuple(Player.objects.order_by("pk").values_list("pk", "display_name")),
        tuple(Round.objects.order_by("pk").values_list("pk", "number")),
        tuple(Result.objects.order_by("pk").values_list("player_id", "placement")),
        ResultChange.objects.count(),
        Event.objects.count(),
    )


def test_the_matrix_covers_every_action() -> None:
    assert set(MATRIX) == set(ACTIONS)
    assert all(len(row) == len(ROLES) for row in MATRIX.values())


def test_every_standings_route_is_in_the_matrix() -> None:
    """A new endpoint cannot be added without deciding who may call it."""
    from gal_dashboard import api_urls

    routes = {str(p.pattern) for p in api_urls.urlpatterns if "standings/" in str(p.pattern)}
    covered = {
        path.split("?")[0]
        .replace("/api/", "")
        .replace("{event}", "<id:event_id>")
        .replace("{player}", "<id:player_id>")
        .replace("rounds/1/lobbies/1/", "rounds/<id:number>/lobbies/<id:lobby>/")
        .replace("rounds/1/", "rounds/<id:number>/")
        for _, path, _ in ACTIONS.values()
    }
    assert routes == covered


@pytest.mark.parametrize(("action", "role", "expected"), CASES)
def test_permission_matrix(
    action: str,
    role: str,
    expected: int,
    make_user: Callable[..., Any],
    make_event: Any,
    make_graphic: Any,
) -> None:
    """Reads need any role; writes need Scorekeeper, Lock admin or superuser; anonymous is
    401 and a refusal 403, in the error shape, changing and broadcasting nothing."""
    event = make_event(players=8, rounds=1)
    make_graphic(title="Standings", event_name=event.name)
    player = Player.objects.filter(tournament=event).order_by("display_name").first()
    assert player is not None
    actor = make_actor(make_user, role)
    method, path, body = ACTIONS[action]
    if callable(body):
        body = body(event)
    before = snapshot()

    response = getattr(client_for(actor), method)(
        path.format(event=event.pk, player=player.pk), body, format="json"
    )

    assert response.status_code == expected, response.content
    if expected in (401, 403):
        code = "not_authenticated" if expected == 401 else "permission_denied"
        assert response.json()["error"]["code"] == code
        assert snapshot() == before
    elif method != "get":
        assert snapshot() != before


def test_a_refused_write_is_403_whatever_its_body(make_user: Callable[..., Any]) -> None:
    """The permission is checked before the body: a Viewer learns nothing about what a
    valid request would look like."""
    response = client_for(make_user("watcher", role=VIEWER)).post(
        "/api/standings/events/", {"nonsense": True}, format="json"
    )

    assert response.status_code == 403
    assert response.json()["error"]["details"] == {"required": ["standings.manage_results"]}


def test_a_scorekeeper_reads_graphics_but_cannot_change_them(
    make_user: Callable[..., Any], make_graphic: Any
) -> None:
    """The Scorekeeper role enters results; graphics stay the Editors' (PATCH, create, lock,
    archive and delete are all 403, and the graphic is unchanged)."""
    graphic = make_graphic()
    client = client_for(make_user("desk", role=SCOREKEEPER))
    before = (Graphic.objects.values_list("title", "version", "archived").get(), 0)

    read = client.get(f"/api/graphics/{graphic.pk}/")
    refused = [
        client.patch(
            f"/api/graphics/{graphic.pk}/",
            {"version": 1, "fencing_token": 1, "title": "Hijacked"},
            format="json",
        ),
        client.post("/api/graphics/", {"title": "New", "event_name": "E"}, format="json"),
        client.post(f"/api/graphics/{graphic.pk}/lock/"),
        client.post(f"/api/graphics/{graphic.pk}/archive/", {}, format="json"),
        client.delete(f"/api/graphics/{graphic.pk}/"),
    ]

    assert read.status_code == 200
    assert [r.status_code for r in refused] == [403] * 5
    assert {r.json()["error"]["code"] for r in refused} == {"permission_denied"}
    assert (Graphic.objects.values_list("title", "version", "archived").get(), 0) == before
    assert not CanvasLock.objects.exists()

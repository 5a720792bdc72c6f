"""
Who may do what through the API: every role against every endpoint.

Each cell is a real request with a real access token against a graphic set up so that the
action would succeed for someone allowed to do it (the actor holds the lock before editing, the
graphic is archived before restoring, someone else holds the lock before an override). A refused
request changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from gal_dashboard.access import EDITOR
from graphics.models import Graphic, GraphicViewKey
from graphics.on_air import graphic_take
from graphics.services import graphic_archive, graphic_update, view_key_rotate
from locks.models import CanvasLock
from locks.services import lock_acquire, lock_release
from tests.conftest import MATRIX_ROLES, make_actor

pytestmark = pytest.mark.django_db


ROLES = MATRIX_ROLES
READ = (401, 403, 200, 200, 200, 200)


@dataclass(frozen=True)
class Action:
    method: str
    path: str  # {id} is the graphic's id
    body: dict[str, Any] | None = None
    # Runs before the request with (graphic, actor, someone_else); may return fields to add
    # to the body (the fencing token of the lock it took).
    setup: Callable[[Any, Any, Any], dict[str, Any] | None] = field(
        default=lambda graphic, actor, other: None
    )


def hold_lock_if_allowed(graphic: Any, actor: Any, other: Any) -> dict[str, Any] | None:
    if actor is not None and actor.has_perm("locks.acquire_lock"):
        return {"fencing_token": lock_acquire(user=actor, graphic_id=graphic.pk).fencing_token}
    return None


def archive_first(graphic: Any, actor: Any, other: Any) -> None:
    graphic_archive(user=other, graphic_id=graphic.pk)


def someone_else_holds_the_lock(graphic: Any, actor: Any, other: Any) -> None:
    lock_acquire(user=other, graphic_id=graphic.pk)


def hold_lock_for_a_take(graphic: Any, actor: Any, other: Any) -> None:
    """A take (or live on) sends no fencing token: holding the lock is enough."""
    hold_lock_if_allowed(graphic, actor, other)


def on_air_first(graphic: Any, actor: Any, other: Any) -> None:
    graphic_take(user=other, graphic_id=graphic.pk, expected_version=1)


def the_graphic_has_a_view_key(graphic: Any, actor: Any, other: Any) -> None:
    view_key_rotate(graphic_id=graphic.pk, user=other)


def second_version_then_hold_lock_if_allowed(
    graphic: Any, actor: Any, other: Any
) -> dict[str, Any] | None:
    """Someone else makes version 2 (so version 1 can be reverted to) and lets the lock go."""
    lock = lock_acquire(user=other, graphic_id=graphic.pk)
    graphic_update(
        user=other,
        graphic_id=graphic.pk,
        version=graphic.version,
        title="Second version",
        fencing_token=lock.fencing_token,
    )
    lock_release(user=other, graphic_id=graphic.pk)
    return hold_lock_if_allowed(graphic, actor, other)


ACTIONS: dict[str, Action] = {
    "list": Action("get", "/api/graphics/"),
    "retrieve": Action("get", "/api/graphics/{id}/"),
    "event_names": Action("get", "/api/graphics/events/"),
    "create": Action("post", "/api/graphics/", {"title": "New", "event_name": "Week 2"}),
    "update": Action(
        "patch", "/api/graphics/{id}/", {"version": 1, "title": "Edited"}, hold_lock_if_allowed
    ),
    "delete": Action("delete", "/api/graphics/{id}/"),
    "archive": Action("post", "/api/graphics/{id}/archive/"),
    "restore": Action("post", "/api/graphics/{id}/restore/", setup=archive_first),
    "duplicate": Action("post", "/api/graphics/{id}/duplicate/"),
    "lock_status": Action("get", "/api/graphics/{id}/lock/"),
    "lock_acquire": Action("post", "/api/graphics/{id}/lock/"),
    "lock_release": Action("delete", "/api/graphics/{id}/lock/", setup=hold_lock_if_allowed),
    "lock_override": Action(
        "post",
        "/api/graphics/{id}/lock/override/",
        {"reason": "Operator left", "take_over": True},
        someone_else_holds_the_lock,
    ),
    "locks_list": Action("get", "/api/locks/"),
    "view_key_read": Action(
        "get", "/api/graphics/{id}/view-key/", setup=the_graphic_has_a_view_key
    ),
    "view_key_rotate": Action(
        "post", "/api/graphics/{id}/view-key/", setup=the_graphic_has_a_view_key
    ),
    "view_key_revoke": Action(
        "delete", "/api/graphics/{id}/view-key/", setup=the_graphic_has_a_view_key
    ),
    "history": Action("get", "/api/graphics/{id}/history/"),
    "version": Action("get", "/api/graphics/{id}/history/1/"),
    "revert": Action(
        "post",
        "/api/graphics/{id}/revert/",
        {"version": 1, "expected_version": 2, "reason": "Wrong scores"},
        second_version_then_hold_lock_if_allowed,
    ),
    "events_poll": Action("get", "/api/events/?graphic={id}"),
    "take": Action(
        "post", "/api/graphics/{id}/take/", {"expected_version": 1}, hold_lock_for_a_take
    ),
    "clear": Action("post", "/api/graphics/{id}/clear/", {"reason": "Break"}, on_air_first),
    "live": Action("post", "/api/graphics/{id}/live/", {"live": True}, hold_lock_for_a_take),
    "graphic_air_log": Action("get", "/api/graphics/{id}/air-log/", setup=on_air_first),
    "air_log": Action("get", "/api/air-log/", setup=on_air_first),
}

#                  anonymous  no role  Viewer  Editor  Lock admin  superuser
MATRIX: dict[str, tuple[int, ...]] = {
    "list": READ,
    "retrieve": READ,
    "event_names": READ,
    "lock_status": READ,
    "locks_list": READ,
    "history": READ,
    "version": READ,
    "events_poll": READ,
    "create": (401, 403, 403, 201, 201, 201),
    "update": (401, 403, 403, 200, 200, 200),
    "delete": (401, 403, 403, 403, 204, 204),
    "archive": (401, 403, 403, 200, 200, 200),
    "restore": (401, 403, 403, 200, 200, 200),
    "duplicate": (401, 403, 403, 201, 201, 201),
    "lock_acquire": (401, 403, 403, 200, 200, 200),
    "lock_release": (401, 403, 403, 204, 204, 204),
    "lock_override": (401, 403, 403, 403, 200, 200),
    "view_key_read": READ,
    "view_key_rotate": (401, 403, 403, 201, 201, 201),
    "view_key_revoke": (401, 403, 403, 200, 200, 200),
    "revert": (401, 403, 403, 200, 200, 200),
    "take": (401, 403, 403, 200, 200, 200),
    "clear": (401, 403, 403, 200, 200, 200),
    "live": (401, 403, 403, 200, 200, 200),
    "graphic_air_log": READ,
    "air_log": READ,
}

CASES = [
    pytest.param(action, role, status, id=f"{action}-{role}")
    for action, statuses in MATRIX.items()
    for role, status in zip(ROLES, statuses, strict=True)
]


def snapshot() -> tuple[Any, ...]:
    graphics = tuple(
        Graphic.objects.order_by("pk").values_list(
            "pk", "title", "version", "archived", "on_air", "live", "program_version"
        )
    )
    locks = tuple(CanvasLock.objects.order_by("pk").values_list("graphic_id", "holder_id"))
    view_keys = tuple(GraphicViewKey.objects.order_by("pk").values_list("key", "revoked_at"))
    return graphics, locks, view_keys


def test_the_matrix_covers_every_action() -> None:
    """Every endpoint in the table has a row, and every row has a cell for each role."""
    assert set(MATRIX) == set(ACTIONS)
    assert all(len(row) == len(ROLES) for row in MATRIX.values())


@pytest.mark.parametrize(("action", "role", "expected"), CASES)
def test_permission_matrix(
    action: str, role: str, expected: int, make_user: Callable[..., Any], make_graphic: Any
) -> None:
    """Reads need the Viewer role; creating, editing, archiving, restoring, duplicating and
    locking need Editor; deleting and overriding locks need Lock admin; superusers may do all;
    anonymous requests are 401 and refused ones 403, in the error shape, changing nothing."""
    other = make_user("other", role=EDITOR)
    graphic = make_graphic(by=other)
    actor = make_actor(make_user, role)
    spec = ACTIONS[action]
    extra = spec.setup(graphic, actor, other)
    body = {**spec.body, **extra} if spec.body is not None and extra else spec.body
    client = APIClient()
    if actor is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(actor)}")
    before = snapshot()

    response = getattr(client, spec.method)(spec.path.format(id=graphic.pk), body, format="json")

    assert response.status_code == expected, response.content
    if expected in (401, 403):
        code = "not_authenticated" if expected == 401 else "permission_denied"
        assert response.json()["error"]["code"] == code
        assert snapshot() == before


# The view-key column: a view key authenticates GET /api/events/ for its own graphic and nothing
# else, so on the on-air endpoints `?key=` is no credential at all.
VIEW_KEY_ACTIONS = ("take", "clear", "live", "graphic_air_log", "air_log")


@pytest.mark.parametrize("action", VIEW_KEY_ACTIONS)
def test_a_view_key_cannot_take_clear_switch_live_or_read_the_air_log(
    action: str, make_user: Callable[..., Any], make_graphic: Any
) -> None:
    """With only its graphic's view key, every on-air endpoint answers 401 not_authenticated
    and changes nothing."""
    other = make_user("other", role=EDITOR)
    graphic = make_graphic(by=other)
    key = view_key_rotate(graphic_id=graphic.pk, user=other).key
    spec = ACTIONS[action]
    spec.setup(graphic, None, other)
    before = snapshot()

    path = spec.path.format(id=graphic.pk)
    response = getattr(APIClient(), spec.method)(f"{path}?key={key}", spec.body, format="json")

    assert response.status_code == 401, response.content
    assert response.json()["error"]["code"] == "not_authenticated"
    assert snapshot() == before

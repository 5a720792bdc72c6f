"""
Shared fixtures: users in each role, graphics, valid canvases, and the rules for tests that need
PostgreSQL or Redis.

`make test` runs the suite twice when the services are there (always with CI=true): first on
SQLite with the in-memory channel layer, then on PostgreSQL with Redis. Tests marked `postgres`
or `redis` run in the second pass; on a machine without the services they skip with a message
that says how to enable them. With CI=true a missing service is an error, never a skip.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlparse

import pytest
from django.conf import settings

from gal_dashboard.access import EDITOR, LOCK_ADMIN, VIEWER

HOW_TO_ENABLE_POSTGRES = (
    "needs PostgreSQL: start it on 127.0.0.1:5432 and run `make test` (it adds a PostgreSQL "
    "pass), or run pytest with DATABASE_URL=postgres://postgres@127.0.0.1:5432/test"
)
HOW_TO_ENABLE_REDIS = (
    "needs Redis: start it on 127.0.0.1:6379 and run `make test` (it adds a Redis pass), "
    "or run pytest with REDIS_URL=redis://127.0.0.1:6379/0"
)

TEST_PASSWORD = "correct-horse-battery-staple"


def _running_on_postgres() -> bool:
    return "postgresql" in settings.DATABASES["default"]["ENGINE"]


def _redis_reachable() -> bool:
    if not settings.REDIS_URL:
        return False
    parsed = urlparse(settings.REDIS_URL)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 6379), 1):
            return True
    except OSError:
        return False


def pytest_configure(config: pytest.Config) -> None:
    # Each test run gets its own channel-layer prefix, so parallel runs against one Redis never
    # hear each other. Daphne processes started by the end-to-end tests inherit it.
    if settings.REDIS_URL:
        prefix = f"gal-test-{uuid.uuid4().hex[:8]}"
        layer_config = cast(dict[str, Any], settings.CHANNEL_LAYERS["default"]["CONFIG"])
        layer_config["prefix"] = prefix
        os.environ["CHANNEL_LAYER_PREFIX"] = prefix


def give_schemathesis_cases_their_own_ids(items: list[pytest.Item]) -> None:
    """schemathesis names each operation's test `test_...[GET /api/...]`, but pytest 9 builds
    an item's id from its function's name and its parametrize ids only, so every operation's
    test had one id (tests/test_api_fuzz.py), and pytest's progress, which counts ids, ended
    at 98%. The operation goes into the id's parameters, where parametrize would put it."""
    for item in items:
        label = getattr(item, "operation_label", None)
        node_id = getattr(item, "_id", None)
        if label and getattr(node_id, "params", "") is None and hasattr(node_id, "with_params"):
            item._id = node_id.with_params(label)  # type: ignore[union-attr]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    give_schemathesis_cases_their_own_ids(items)
    ci = os.environ.get("CI", "").lower() == "true"
    # Set by `make test` on the SQLite pass when a PostgreSQL/Redis pass follows.
    services_pass_follows = os.environ.get("GAL_SERVICES_PASS") == "later"
    have_postgres = _running_on_postgres()
    have_redis = _redis_reachable()
    if ci and settings.REDIS_URL and not have_redis:
        raise pytest.UsageError(f"CI=true but Redis at {settings.REDIS_URL} does not answer.")
    keep: list[pytest.Item] = []
    deselected: list[pytest.Item] = []
    for item in items:
        missing = []
        if item.get_closest_marker("postgres") and not have_postgres:
            missing.append(HOW_TO_ENABLE_POSTGRES)
        if item.get_closest_marker("redis") and not have_redis:
            missing.append(HOW_TO_ENABLE_REDIS)
        if not missing:
            keep.append(item)
        elif services_pass_follows:
            deselected.append(item)
        elif ci:
            raise pytest.UsageError(
                f"CI=true: {item.nodeid} {'; '.join(missing)}. "
                "Run it through `make test`, which starts the PostgreSQL and Redis pass."
            )
        else:
            item.add_marker(pytest.mark.skip(reason="; ".join(missing)))
            keep.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = keep


@pytest.fixture(scope="session", autouse=True)
def temporary_media_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Uploads made by any test (the API fuzzer's included) land in a temporary MEDIA_ROOT,
    never in the development server's var/media. The environment variable carries it to the
    servers the end-to-end tests start."""
    from django.test import override_settings

    media_root = tmp_path_factory.mktemp("media")
    previous = os.environ.get("MEDIA_ROOT")
    os.environ["MEDIA_ROOT"] = str(media_root)
    # override_settings, not an assignment: it also resets the storages' cached locations.
    with override_settings(MEDIA_ROOT=str(media_root)):
        yield media_root
    if previous is None:
        os.environ.pop("MEDIA_ROOT", None)
    else:
        os.environ["MEDIA_ROOT"] = previous


@pytest.fixture(autouse=True)
def close_the_realtime_threads_connection() -> Iterator[None]:
    """The thread that WebSocket handlers share keeps its database connection between calls
    (realtime.db): close it after each test, so that no test inherits one and the test
    database can be dropped at the end (PostgreSQL refuses while a connection is open)."""
    yield
    from asgiref.sync import SyncToAsync
    from django.db import connections

    SyncToAsync.single_thread_executor.submit(connections.close_all).result()


@pytest.fixture(autouse=True)
def fresh_presence_and_registry() -> None:
    """Each test starts with no presence or connection-registry entries in Redis, and no
    recent errors (in Redis or this process's memory). Entries of an earlier test's connections
    (a stopped server's, say) would otherwise live out their TTL and show up in this test's
    presence and connection counts, and its errors on this test's staff page."""
    from realtime.ops.recent_errors import clear_process_recent_errors

    clear_process_recent_errors()
    if not settings.REDIS_URL:
        return
    import redis

    prefix = cast(dict[str, Any], settings.CHANNEL_LAYERS["default"]["CONFIG"])["prefix"]
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5)
    try:
        for pattern in (f"{prefix}:presence*", f"{prefix}:connections*", f"{prefix}:recent-errors"):
            keys = list(client.scan_iter(match=pattern, count=1000))
            if keys:
                client.delete(*keys)
    except redis.ConnectionError:
        pass  # Redis is down: the tests that need it skip (or fail under CI) on their own
    finally:
        client.close()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    """Tests create many users; the production hasher is deliberately slow."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# ---------------------------------------------------------------------------------------------
# Data factories. One place that knows how to make a user in a role and a valid graphic.
# ---------------------------------------------------------------------------------------------


def text_element(element_id: str = "title", **overrides: Any) -> dict[str, Any]:
    element = {
        "id": element_id,
        "type": "text",
        "x": 40,
        "y": 32,
        "font_size": 48,
        "color": "#ffffff",
        "content": "GAL Season 3 — Week 2",
    }
    element.update(overrides)
    return element


def list_element(
    element_id: str = "standings", element_type: str = "players", **overrides: Any
) -> dict[str, Any]:
    element = {
        "id": element_id,
        "type": element_type,
        "x": 40,
        "y": 120,
        "font_size": 28,
        "color": "#f5c542",
        "spacing": 36,
        "preview_count": 8,
    }
    element.update(overrides)
    return element


def valid_canvas(**overrides: Any) -> dict[str, Any]:
    canvas: dict[str, Any] = {
        "background": {
            "image_url": "/media/backgrounds/standings.png",
            "width": 1920,
            "height": 1080,
        },
        "elements": [text_element(), list_element()],
    }
    canvas.update(overrides)
    return canvas


@pytest.fixture
def make_user(django_user_model: Any) -> Callable[..., Any]:
    """make_user("alice", role="Editor") -> a user in that role (None: no role)."""
    from django.contrib.auth.models import Group

    def make(username: str | None = None, *, role: str | None = None, **fields: Any) -> Any:
        username = username or f"user-{uuid.uuid4().hex[:8]}"
        if fields.pop("superuser", False):
            user = django_user_model.objects.create_superuser(
                username=username, password=TEST_PASSWORD, email=f"{username}@example.com"
            )
        else:
            user = django_user_model.objects.create_user(
                username=username, password=TEST_PASSWORD, **fields
            )
        if role:
            user.groups.add(Group.objects.get(name=role))
        return user

    return make


# The roles of the permission matrices (REST: tests/test_api_permissions.py, WebSocket:
# tests/realtime/test_permission_matrix.py), in their column order.
MATRIX_ROLES = ("anonymous", "no_role", "viewer", "editor", "lock_admin", "superuser")


def make_actor(make_user: Callable[..., Any], role: str) -> Any:
    """The user of a permission matrix's column: None for anonymous."""
    if role == "anonymous":
        return None
    if role == "superuser":
        return make_user("actor", superuser=True)
    group = {"no_role": None, "viewer": VIEWER, "editor": EDITOR, "lock_admin": LOCK_ADMIN}[role]
    return make_user("actor", role=group)


@pytest.fixture
def viewer(make_user: Callable[..., Any]) -> Any:
    return make_user("viewer", role=VIEWER)


@pytest.fixture
def editor(make_user: Callable[..., Any]) -> Any:
    return make_user("editor", role=EDITOR)


@pytest.fixture
def editor2(make_user: Callable[..., Any]) -> Any:
    return make_user("editor2", role=EDITOR)


@pytest.fixture
def lock_admin(make_user: Callable[..., Any]) -> Any:
    return make_user("lockadmin", role=LOCK_ADMIN)


@pytest.fixture
def superuser(make_user: Callable[..., Any]) -> Any:
    return make_user("root", superuser=True)


@pytest.fixture
def no_role_user(make_user: Callable[..., Any]) -> Any:
    return make_user("nobody")


@pytest.fixture
def make_graphic(make_user: Callable[..., Any]) -> Callable[..., Any]:
    """make_graphic(title=..., by=user) -> a graphic created through the service."""
    from graphics.services import graphic_create

    default_author: list[Any] = []

    def make(
        title: str = "Round 3 Scoreboard",
        event_name: str = "GAL Season 3 Week 2",
        data: dict[str, Any] | None = None,
        by: Any = None,
    ) -> Any:
        if by is None:
            if not default_author:
                default_author.append(make_user(role=EDITOR))
            by = default_author[0]
        return graphic_create(
            user=by,
            title=title,
            event_name=event_name,
            data=data if data is not None else valid_canvas(),
        )

    return make


@pytest.fixture
def graphic(make_graphic: Callable[..., Any], editor: Any) -> Any:
    return make_graphic(by=editor)


# ---------------------------------------------------------------------------------------------
# Assertions and fixtures' helpers shared by the REST and service tests.
# ---------------------------------------------------------------------------------------------

ERROR_KEYS = {"code", "message", "details"}


def error_of(response: Any, status: int, code: str) -> dict[str, Any]:
    """The error body of a REST `response`, after checking its status, code and exact shape
    (`{"error": {"code", "message", "details"}}`, JSON, a message for people)."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == ERROR_KEYS
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    error: dict[str, Any] = body["error"]
    return error


def expire_lock(graphic: Any) -> None:
    """Move the graphic's lock into the past, as if its holder had walked away."""
    from django.utils import timezone

    from locks.models import CanvasLock

    past = timezone.now() - timedelta(seconds=1)
    CanvasLock.objects.filter(graphic=graphic).update(
        acquired_at=past - timedelta(minutes=5), expires_at=past
    )


def fencing_token_of(graphic_id: int) -> int:
    """The fencing token of the graphic's live lock: what its holder presents with an edit."""
    from locks.selectors import lock_live

    lock = lock_live(graphic_id=graphic_id)
    assert lock is not None, f"graphic {graphic_id} is not locked"
    return int(lock.fencing_token)


# ---------------------------------------------------------------------------------------------
# The league's results (standings/).
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def make_event(make_user: Callable[..., Any]) -> Callable[..., Any]:
    """make_event(name, players=10, rounds=1) -> a Tournament with players P01, P02... and rounds
    1..rounds, made through the services by a Scorekeeper (`event.scorekeeper`)."""
    from gal_dashboard.access import SCOREKEEPER
    from standings import services

    scorekeepers: list[Any] = []

    def make(name: str = "GAL Season 3 Week 2", *, players: int = 10, rounds: int = 1) -> Any:
        if not scorekeepers:
            scorekeepers.append(make_user(role=SCOREKEEPER))
        user = scorekeepers[0]
        event = services.tournament_create(user=user, name=name)
        for number in range(1, players + 1):
            services.player_create(user=user, tournament_id=event.pk, display_name=f"P{number:02}")
        for _ in range(rounds):
            services.round_create(user=user, tournament_id=event.pk)
        event.refresh_from_db()
        event.scorekeeper = user  # type: ignore[attr-defined]
        return event

    return make


def lobby_results(event: Any, placements: Sequence[int], *, first: int = 0) -> list[dict[str, int]]:
    """A lobby's results: the event's players from index `first` (name order) with
    `placements` in that order."""
    from standings.models import Player

    ids = list(
        Player.objects.filter(tournament=event)
        .order_by("display_name", "pk")
        .values_list("pk", flat=True)[first : first + len(placements)]
    )
    return [{"player": pk, "placement": p} for pk, p in zip(ids, placements, strict=True)]

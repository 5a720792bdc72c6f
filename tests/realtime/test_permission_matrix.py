"""
Who may do what over the WebSocket: every client message type of docs/protocol.md against
every role, the WebSocket column of the project's permission matrix (tests/test_api_permissions.py
is the REST one).

Each cell is a real connection through the whole ASGI application (origin check, token
authentication, consumer, services) against a graphic set up so that the message would succeed
for someone allowed to send it: the actor holds the lock before an edit, unlock or refresh, the
graphic is archived before a restore, someone else holds the lock before an override, the
connection is subscribed before an unsubscribe or an activity. Anonymous connections and users
without a role never get to ask: they are refused when they connect (error, then close), and a
message sent before the close is not handled. Every refusal leaves the database as it was:
graphics and their versions, lock rows and their audit, the event log.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from gal_dashboard.access import EDITOR
from graphics.models import Graphic, GraphicVersion
from graphics.on_air import graphic_take
from graphics.services import graphic_archive
from locks.models import CanvasLock, LockEvent
from locks.services import lock_acquire
from realtime.models import Event
from tests.conftest import MATRIX_ROLES, make_actor
from tests.realtime.conftest import WsClient, token_for

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

PROTOCOL_DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
ROLES = MATRIX_ROLES

ACK = "ack"
PONG = "pong"
DENIED = "error:permission_denied"
# Refused at connect, before any message is handled: the error, then the close code.
UNAUTHENTICATED = "close:4001:not_authenticated"
FORBIDDEN = "close:4003:permission_denied"


@dataclass
class Setting:
    """What a cell starts from: the graphic, the acting user (None: anonymous), another Editor,
    and the fencing token of the actor's lock when the set-up gave it one."""

    graphic: Any
    actor: Any
    other: Any
    fencing_token: int | None = None


def nothing(setting: Setting) -> None:
    return None


def hold_lock_if_allowed(setting: Setting) -> None:
    actor = setting.actor
    if actor is not None and actor.has_perm("locks.acquire_lock"):
        lock = lock_acquire(user=actor, graphic_id=setting.graphic.pk)
        setting.fencing_token = int(lock.fencing_token)


def archive_first(setting: Setting) -> None:
    graphic_archive(user=setting.other, graphic_id=setting.graphic.pk)


def someone_else_holds_the_lock(setting: Setting) -> None:
    lock_acquire(user=setting.other, graphic_id=setting.graphic.pk)


def on_air_first(setting: Setting) -> None:
    graphic_take(user=setting.other, graphic_id=setting.graphic.pk, expected_version=1)


@dataclass(frozen=True)
class Message:
    type: str
    data: Callable[[Setting], dict[str, Any]]
    prepare: Callable[[Setting], None] = nothing  # database set-up, before connecting
    subscribed_first: bool = False  # the connection subscribes to the graphic first
    writes: bool = False  # an ack means something changed in the database
    sends: str = field(default="")  # the `type` sent, when the row's name is not it

    @property
    def wire_type(self) -> str:
        return self.sends or self.type


def graphic_id(setting: Setting) -> dict[str, Any]:
    return {"graphic_id": setting.graphic.pk}


MESSAGES: dict[str, Message] = {
    "subscribe": Message("subscribe", graphic_id),
    "subscribe_all": Message("subscribe_all", lambda s: {"graphic_id": "all"}, sends="subscribe"),
    "unsubscribe": Message("unsubscribe", graphic_id, subscribed_first=True),
    "create": Message("create", lambda s: {"title": "New", "event_name": "Week 2"}, writes=True),
    "update": Message(
        "update",
        lambda s: {
            "graphic_id": s.graphic.pk,
            "version": s.graphic.version,
            # Those who may not hold the lock present a token anyway: the role refuses them.
            "fencing_token": s.fencing_token or 1,
            "title": "Edited",
        },
        prepare=hold_lock_if_allowed,
        writes=True,
    ),
    "delete": Message("delete", graphic_id, writes=True),
    "archive": Message("archive", graphic_id, writes=True),
    "restore": Message("restore", graphic_id, prepare=archive_first, writes=True),
    "lock": Message("lock", graphic_id, writes=True),
    "unlock": Message("unlock", graphic_id, prepare=hold_lock_if_allowed, writes=True),
    "lock_refresh": Message("lock_refresh", graphic_id, prepare=hold_lock_if_allowed, writes=True),
    "lock_override": Message(
        "lock_override",
        lambda s: {"graphic_id": s.graphic.pk, "reason": "Operator left", "take_over": True},
        prepare=someone_else_holds_the_lock,
        writes=True,
    ),
    "auth": Message("auth", lambda s: {"token": token_for(s.actor or s.other)}),
    "activity_viewing": Message(
        "activity_viewing",
        lambda s: {"graphic_id": s.graphic.pk, "action": "viewing"},
        subscribed_first=True,
        sends="activity",
    ),
    "activity_editing": Message(
        "activity_editing",
        lambda s: {"graphic_id": s.graphic.pk, "action": "editing"},
        subscribed_first=True,
        sends="activity",
    ),
    "take": Message(
        "take",
        lambda s: {"graphic_id": s.graphic.pk, "expected_version": s.graphic.version},
        prepare=hold_lock_if_allowed,
        writes=True,
    ),
    "clear": Message("clear", graphic_id, prepare=on_air_first, writes=True),
    "set_live": Message(
        "set_live",
        lambda s: {"graphic_id": s.graphic.pk, "live": True},
        prepare=hold_lock_if_allowed,
        writes=True,
    ),
    "ping": Message("ping", lambda s: {}),
}

# Short names, so that each row of the table fits on one line.
U, F = UNAUTHENTICATED, FORBIDDEN

MATRIX: dict[str, tuple[str, ...]] = {
    #                  anonymous  no role  Viewer  Editor  Lock admin  superuser
    "subscribe":        (U,       F,       ACK,    ACK,    ACK,        ACK),
    "subscribe_all":    (U,       F,       ACK,    ACK,    ACK,        ACK),
    "unsubscribe":      (U,       F,       ACK,    ACK,    ACK,        ACK),
    "create":           (U,       F,       DENIED, ACK,    ACK,        ACK),
    "update":           (U,       F,       DENIED, ACK,    ACK,        ACK),
    "delete":           (U,       F,       DENIED, DENIED, ACK,        ACK),
    "archive":          (U,       F,       DENIED, ACK,    ACK,        ACK),
    "restore":          (U,       F,       DENIED, ACK,    ACK,        ACK),
    "lock":             (U,       F,       DENIED, ACK,    ACK,        ACK),
    "unlock":           (U,       F,       DENIED, ACK,    ACK,        ACK),
    "lock_refresh":     (U,       F,       DENIED, ACK,    ACK,        ACK),
    "lock_override":    (U,       F,       DENIED, DENIED, ACK,        ACK),
    "auth":             (U,       F,       ACK,    ACK,    ACK,        ACK),
    "activity_viewing": (U,       F,       ACK,    ACK,    ACK,        ACK),
    "activity_editing": (U,       F,       DENIED, ACK,    ACK,        ACK),
    "take":             (U,       F,       DENIED, ACK,    ACK,        ACK),
    "clear":            (U,       F,       DENIED, ACK,    ACK,        ACK),
    "set_live":         (U,       F,       DENIED, ACK,    ACK,        ACK),
    "ping":             (U,       F,       PONG,   PONG,   PONG,       PONG),
}  # fmt: skip

CASES = [
    pytest.param(message, role, expected, id=f"{message}-{role}")
    for message, outcomes in MATRIX.items()
    for role, expected in zip(ROLES, outcomes, strict=True)
]


def database_state() -> tuple[Any, ...]:
    """Everything a refused message must leave as it was."""
    return (
        tuple(Graphic.objects.order_by("pk").values_list("pk", "title", "version", "archived")),
        tuple(GraphicVersion.objects.order_by("pk").values_list("pk")),
        tuple(
            CanvasLock.objects.order_by("pk").values_list(
                "graphic_id", "holder_id", "fencing_token", "expires_at"
            )
        ),
        tuple(LockEvent.objects.order_by("pk").values_list("pk")),
        tuple(Event.objects.order_by("pk").values_list("pk")),
    )


def documented_client_message_types() -> set[str]:
    """The `type` column of the "Client → server messages" table of docs/protocol.md."""
    section = PROTOCOL_DOC.read_text().split("## Client → server messages", 1)[1]
    # The table opens the section; its subsections (delta updates, shapes...) have tables of
    # their own.
    section = section.split("\n## ", 1)[0].split("\n### ", 1)[0]
    return {
        match.group(1)
        for line in section.splitlines()
        if (match := re.match(r"\| `([a-z_]+)` \|", line))
    }


def test_the_matrix_covers_every_client_message_type_and_role() -> None:
    """Every client message type of docs/protocol.md has a row (activity twice, subscribe to a
    graphic and to "all"), and every row a cell per role."""
    documented = documented_client_message_types()
    assert "lock_override" in documented and "ping" in documented  # the table was found
    assert {message.wire_type for message in MESSAGES.values()} == documented
    assert set(MATRIX) == set(MESSAGES)
    assert all(len(row) == len(ROLES) for row in MATRIX.values())


async def connect(ws_connect: Callable[..., Any], actor: Any) -> WsClient:
    if actor is None:  # no token, no session cookie
        client: WsClient = await ws_connect(path="/ws/graphics", expect_welcome=False)
        return client
    client = await ws_connect(actor, expect_welcome=False)
    return client


@pytest.mark.parametrize(("message", "role", "expected"), CASES)
async def test_permission_matrix(
    message: str,
    role: str,
    expected: str,
    ws_connect: Callable[..., Any],
    make_user: Callable[..., Any],
    make_graphic: Callable[..., Any],
    db_call: Callable[..., Any],
) -> None:
    """Viewers read, subscribe, say they are viewing, renew their token and ping; Editors also
    create, edit, archive, restore, lock, unlock, refresh and say they are editing; Lock admins
    also delete and override locks; superusers may do all. A refusal is `permission_denied`
    (naming the permissions required) and leaves the connection open. Anonymous connections
    get `not_authenticated` and close 4001, users without a role `permission_denied` and close
    4003, before anything they send is handled. No refusal changes the database."""
    spec = MESSAGES[message]
    other = await db_call(make_user, "other", role=EDITOR)
    setting = Setting(
        graphic=await db_call(make_graphic, by=other),
        actor=await db_call(make_actor, make_user, role),
        other=other,
    )
    await db_call(spec.prepare, setting)
    data = await db_call(spec.data, setting)
    client = await connect(ws_connect, setting.actor)

    if expected.startswith("close:"):
        _, close_code, error_code = expected.split(":")
        refusal = await client.receive()
        assert (refusal["type"], refusal["data"]["code"]) == ("error", error_code)
        assert await client.receive() == {"type": "__closed__", "code": int(close_code)}
        before = await db_call(database_state)
        await client.send(spec.wire_type, data)
        assert await client.communicator.receive_nothing(0.3), "a refused connection answered"
        assert await db_call(database_state) == before
        return

    welcome = await client.receive()
    assert welcome["type"] == "welcome", welcome
    client.welcome = welcome["data"]
    if spec.subscribed_first:
        await client.ack("subscribe", {"graphic_id": setting.graphic.pk})
    before = await db_call(database_state)

    reply = await client.request(spec.wire_type, data)

    after = await db_call(database_state)
    if expected == ACK:
        assert reply["type"] == "ack", reply
        assert (after != before) is spec.writes, "an ack changes the database iff it writes"
        return
    if expected == PONG:
        assert reply["type"] == "pong", reply
        assert after == before
        return
    assert expected.startswith("error:")
    assert (reply["type"], reply["data"]["code"]) == ("error", expected.split(":", 1)[1]), reply
    assert reply["data"]["details"]["required"], reply
    assert after == before
    assert (await client.request("ping"))["type"] == "pong", "a refusal closed the connection"

"""
The view-key column of the permission matrix: every client message type of docs/protocol.md,
sent over a connection opened with an overlay view key, against the expected reply. The key
reads its own graphic (subscribe, unsubscribe, ping) and nothing else: every other message, and
a subscribe to another graphic or to "all", is `permission_denied` naming the key's graphic,
changes nothing in the database, and leaves the connection open.

Each row is also sent by a superuser over a token connection, set up the same way, and must
succeed there: the refusal comes from the key, never from a malformed request.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from graphics.models import Graphic, GraphicVersion, GraphicViewKey
from graphics.on_air import graphic_take
from graphics.services import graphic_archive, view_key_rotate
from locks.models import CanvasLock, LockEvent
from locks.services import lock_acquire
from realtime.models import Event
from tests.realtime.conftest import WsClient, token_for

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

PROTOCOL_DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def documented_message_types() -> set[str]:
    """The `type` column of the "Client → server messages" table (the section's first)."""
    section = PROTOCOL_DOC.read_text().split("## Client → server messages", 1)[1]
    table = section.split("\n| type |", 1)[1].split("\n\n", 1)[0]
    types: set[str] = set()
    for line in table.splitlines():
        if line.startswith("| `"):
            types.update(re.findall(r"`([a-z_]+)`", line.split("|")[1]))
    return types


@dataclass
class World:
    """What a row may refer to: the key's graphic, another graphic, and who holds locks."""

    own: Graphic
    other: Graphic
    holder: Any  # takes the locks a request needs (the superuser in the control run)
    bystander: Any  # another editor, who holds a lock a Lock admin may override
    fencing_tokens: dict[int, int] = field(default_factory=dict)

    def lock(self, graphic: Graphic, user: Any = None) -> int:
        token = int(lock_acquire(user=user or self.holder, graphic_id=graphic.pk).fencing_token)
        self.fencing_tokens[graphic.pk] = token
        return token


@dataclass(frozen=True)
class Row:
    type: str
    # Builds the request's data; runs in a thread and may prepare the database (take a lock).
    data: Callable[[World], dict[str, Any]]
    # The view key's expected reply: "ack", "pong" or an error code.
    view_key: str
    # Requests sent first on the same connection (a subscription to act within).
    before: tuple[tuple[str, Callable[[World], dict[str, Any]]], ...] = ()


def own_id(world: World) -> dict[str, Any]:
    return {"graphic_id": world.own.pk}


def update(target: str) -> Callable[[World], dict[str, Any]]:
    def data(world: World) -> dict[str, Any]:
        graphic = world.own if target == "own" else world.other
        token = world.lock(graphic)
        return {
            "graphic_id": graphic.pk,
            "version": graphic.version,
            "fencing_token": token,
            "title": "Defaced",
        }

    return data


def held(world: World) -> dict[str, Any]:
    world.lock(world.own)
    return own_id(world)


def archived(world: World) -> dict[str, Any]:
    graphic_archive(user=world.bystander, graphic_id=world.own.pk)
    return own_id(world)


def overridable(world: World) -> dict[str, Any]:
    world.lock(world.own, user=world.bystander)
    return {"graphic_id": world.own.pk, "reason": "Operator left the desk", "take_over": True}


def on_air(world: World) -> dict[str, Any]:
    graphic_take(user=world.bystander, graphic_id=world.own.pk, expected_version=1)
    return own_id(world)


def fresh_token(world: World) -> dict[str, Any]:
    return {"token": token_for(world.holder)}


SUBSCRIBED = (("subscribe", own_id),)

ROWS: dict[str, Row] = {
    "subscribe own": Row("subscribe", own_id, "ack"),
    "subscribe own with last_seq": Row(
        "subscribe", lambda w: {"graphic_id": w.own.pk, "last_seq": 0}, "ack"
    ),
    "subscribe other": Row("subscribe", lambda w: {"graphic_id": w.other.pk}, "permission_denied"),
    "subscribe all": Row("subscribe", lambda w: {"graphic_id": "all"}, "permission_denied"),
    "unsubscribe own": Row("unsubscribe", own_id, "ack", before=SUBSCRIBED),
    "create": Row("create", lambda w: {"title": "Injected", "event_name": "W"},
                  "permission_denied"),
    "update own": Row("update", update("own"), "permission_denied"),
    "update other": Row("update", update("other"), "permission_denied"),
    "update own, subscribed": Row("update", update("own"), "permission_denied", SUBSCRIBED),
    "delete own": Row("delete", own_id, "permission_denied"),
    "archive own": Row("archive", own_id, "permission_denied"),
    "restore own": Row("restore", archived, "permission_denied"),
    "lock own": Row("lock", own_id, "permission_denied"),
    "unlock own": Row("unlock", held, "permission_denied"),
    "lock_refresh own": Row("lock_refresh", held, "permission_denied"),
    "lock_override own": Row("lock_override", overridable, "permission_denied"),
    "auth": Row("auth", fresh_token, "permission_denied"),
    "activity viewing": Row(
        "activity", lambda w: {"graphic_id": w.own.pk, "action": "viewing"}, "permission_denied",
        SUBSCRIBED,
    ),
    "activity editing": Row(
        "activity", lambda w: {"graphic_id": w.own.pk, "action": "editing"}, "permission_denied",
        SUBSCRIBED,
    ),
    "take own": Row(
        "take", lambda w: {"graphic_id": w.own.pk, "expected_version": 1}, "permission_denied"
    ),
    "clear own": Row("clear", on_air, "permission_denied"),
    "set_live own": Row(
        "set_live", lambda w: {"graphic_id": w.own.pk, "live": True}, "permission_denied"
    ),
    "ping": Row("ping", lambda w: {}, "pong"),
}  # fmt: skip


def database_state() -> tuple[Any, ...]:
    """Everything a request could change."""
    return (
        tuple(Graphic.objects.order_by("pk").values_list("pk", "title", "version", "archived")),
        tuple(
            CanvasLock.objects.order_by("pk").values_list(
                "graphic_id", "holder_id", "expires_at", "fencing_token"
            )
        ),
        tuple(LockEvent.objects.order_by("pk").values_list("pk")),
        tuple(GraphicVersion.objects.order_by("pk").values_list("pk")),
        tuple(Event.objects.order_by("pk").values_list("pk")),
        tuple(GraphicViewKey.objects.order_by("pk").values_list("pk", "revoked_at")),
    )


@pytest.fixture
async def world(db_call: Any, make_graphic: Any, superuser: Any, editor2: Any) -> World:
    own = await db_call(make_graphic, title="On air")
    other = await db_call(make_graphic, title="Backstage")
    return World(own=own, other=other, holder=superuser, bystander=editor2)


def test_the_table_covers_every_documented_message_type() -> None:
    """A message type added to the protocol must get its row here."""
    assert {row.type for row in ROWS.values()} == documented_message_types()
    assert len(documented_message_types()) >= 14


async def send_row(client: WsClient, db_call: Any, row: Row, world: World) -> dict[str, Any]:
    for message_type, data in row.before:
        await client.ack(message_type, await db_call(data, world))
    return await client.request(row.type, await db_call(row.data, world))


@pytest.mark.parametrize("name", list(ROWS))
async def test_a_view_key_may_only_read_its_own_graphic(
    name: str,
    ws_connect: Callable[..., Any],
    db_call: Any,
    editor: Any,
    world: World,
) -> None:
    row = ROWS[name]
    world.holder = editor  # the locks and token the requests present are an editor's
    view_key = await db_call(view_key_rotate, graphic_id=world.own.pk, user=editor)
    client = await ws_connect(path=f"/ws/graphics?key={view_key.key}", origin=None)
    for message_type, data in row.before:
        await client.ack(message_type, await db_call(data, world))
    data = await db_call(row.data, world)
    before = await db_call(database_state)

    reply = await client.request(row.type, data)

    if row.view_key in ("ack", "pong"):
        assert reply["type"] == row.view_key, reply
    else:
        assert reply["type"] == "error", reply
        assert reply["data"]["code"] == row.view_key
        assert reply["data"]["details"] == {"view_key_graphic_id": world.own.pk}
    assert await db_call(database_state) == before
    assert (await client.request("ping"))["type"] == "pong", "the connection stays open"


@pytest.mark.parametrize("name", list(ROWS))
async def test_every_row_is_a_request_a_superuser_gets_applied(
    name: str, ws_connect: Callable[..., Any], db_call: Any, world: World
) -> None:
    """The control: the same request, set up the same way, is acknowledged for a superuser,
    so each refusal above is the key's doing."""
    row = ROWS[name]
    client = await ws_connect(world.holder)

    reply = await send_row(client, db_call, row, world)

    assert reply["type"] == ("pong" if row.type == "ping" else "ack"), reply

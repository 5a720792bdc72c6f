"""Lock notices to a lock's holder (realtime.delivery.lock_notices): `lock_lost` when a Lock admin
overrides the lock or it expires, `lock_expiring` before it runs out, on every one of the
holder's connections; and the WebSocket `lock_refresh` and `lock_override` requests."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from locks.models import CanvasLock
from locks.services import lock_acquire, lock_refresh
from realtime.delivery.lock_notices import LockExpiringNotices
from tests.conftest import expire_lock

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def is_type(message_type: str) -> Callable[[dict[str, Any]], bool]:
    return lambda frame: frame["type"] == message_type


@pytest.fixture
def fast_lock_sweep(settings: Any) -> None:
    """The hub's lock sweep (expiry and lock_expiring) every tenth of a second."""
    settings.LOCK_SWEEP_INTERVAL_SECONDS = 0.1


# --- lock_lost --------------------------------------------------------------------------------


async def test_an_override_tells_the_holder_on_every_connection_who_took_the_lock_and_why(
    ws_connect: Callable[..., Any], editor: Any, editor2: Any, lock_admin: Any, graphic: Any
) -> None:
    """A Lock admin takes the lock over with WebSocket `lock_override`: both of the editor's
    connections (subscribed to the graphic or not) get `lock_lost` naming the admin, the reason
    and the lost token; another editor's connection gets nothing."""
    tab1 = await ws_connect(editor)
    tab2 = await ws_connect(editor)
    bystander = await ws_connect(editor2)
    admin = await ws_connect(lock_admin)
    await tab1.ack("subscribe", {"graphic_id": graphic.pk})
    lost_token = (await tab1.ack("lock", {"graphic_id": graphic.pk}))["lock"]["fencing_token"]
    await tab1.next_event(match=is_type("lock_status"))

    taken = await admin.ack(
        "lock_override",
        {"graphic_id": graphic.pk, "reason": "editor left the desk", "take_over": True},
    )

    assert taken["lock"]["locked_by"] == "lockadmin"
    assert taken["lock"]["fencing_token"] > lost_token
    expected = {
        "type": "lock_lost",
        "data": {
            "graphic_id": graphic.pk,
            "reason": "overridden",
            "by": {"id": lock_admin.pk, "username": "lockadmin"},
            "note": "editor left the desk",
            "fencing_token": lost_token,
        },
    }
    # The subscribed tab sees the lock_status first, then the notice.
    status = await tab1.next_event()
    assert (status["type"], status["data"]["reason"]) == ("lock_status", "overridden")
    assert await tab1.next_event() == expected
    assert await tab2.next_event() == expected
    await bystander.no_event()
    await admin.no_event()


async def test_a_force_release_without_take_over_is_a_lock_lost_too(
    ws_connect: Callable[..., Any], db_call: Any, editor: Any, lock_admin: Any, graphic: Any
) -> None:
    """Breaking the lock without taking it also tells the holder; the graphic is free."""
    holder = await ws_connect(editor)
    admin = await ws_connect(lock_admin)
    lock = await db_call(lock_acquire, user=editor, graphic_id=graphic.pk)

    freed = await admin.ack("lock_override", {"graphic_id": graphic.pk, "reason": "stuck"})

    assert freed["lock"]["locked"] is False
    notice = await holder.next_event(match=is_type("lock_lost"))
    assert notice["data"]["by"] == {"id": lock_admin.pk, "username": "lockadmin"}
    assert notice["data"]["note"] == "stuck"
    assert notice["data"]["fencing_token"] == lock.fencing_token


async def test_a_lock_that_expires_tells_its_holder(
    fast_lock_sweep: None, ws_connect: Callable[..., Any], db_call: Any, editor: Any, graphic: Any
) -> None:
    """When the sweep expires a lock, its holder gets `lock_lost` with reason `expired`, no
    `by` and no note."""
    holder = await ws_connect(editor)
    token = (await holder.ack("lock", {"graphic_id": graphic.pk}))["lock"]["fencing_token"]

    await db_call(expire_lock, graphic)

    notice = await holder.next_event(match=is_type("lock_lost"))
    assert notice["data"] == {
        "graphic_id": graphic.pk,
        "reason": "expired",
        "by": None,
        "note": "",
        "fencing_token": token,
    }


async def test_releasing_your_own_lock_sends_no_lock_lost(
    ws_connect: Callable[..., Any], editor: Any, graphic: Any
) -> None:
    """An `unlock` is the holder's own doing: subscribers see `released`, nobody `lock_lost`."""
    holder = await ws_connect(editor)
    other_tab = await ws_connect(editor)
    await holder.ack("subscribe", {"graphic_id": graphic.pk})
    await holder.ack("lock", {"graphic_id": graphic.pk})
    await holder.ack("unlock", {"graphic_id": graphic.pk})

    acquired = await holder.next_event()
    released = await holder.next_event()

    assert [acquired["data"]["reason"], released["data"]["reason"]] == ["acquired", "released"]
    # A lock_lost would be queued in the same step as the lock_status it follows.
    await holder.no_event()
    await other_tab.no_event()


async def test_a_resumed_subscription_replays_the_override_without_a_lock_lost(
    ws_connect: Callable[..., Any], db_call: Any, editor: Any, lock_admin: Any, graphic: Any
) -> None:
    """A client that was away during the override finds it in its replay as lock_status, and
    gets no lock_lost for an event of the past."""
    watcher = await ws_connect(editor)
    seq = (await watcher.ack("subscribe", {"graphic_id": graphic.pk}))["seq"]
    await watcher.close()
    await db_call(lock_acquire, user=editor, graphic_id=graphic.pk)
    admin = await ws_connect(lock_admin)
    await admin.ack("subscribe", {"graphic_id": graphic.pk})
    await admin.ack("lock_override", {"graphic_id": graphic.pk, "reason": "gone"})
    # The hub has fanned the override out (to nobody of the editor's) before they come back.
    await admin.next_event(match=lambda frame: frame["data"].get("reason") == "overridden")

    back = await ws_connect(editor)
    resumed = await back.ack("subscribe", {"graphic_id": graphic.pk, "last_seq": seq})

    assert resumed["recovered"] is True
    replayed = [await back.next_event(), await back.next_event()]
    assert [frame["data"]["reason"] for frame in replayed] == ["acquired", "overridden"]
    assert replayed[1]["data"]["previous_holder_id"] == editor.pk
    await back.no_event()


# --- lock_expiring ------------------------------------------------------------------------------


async def test_the_holder_is_warned_before_the_lock_runs_out_and_a_refresh_re_arms_it(
    fast_lock_sweep: None,
    settings: Any,
    ws_connect: Callable[..., Any],
    editor: Any,
    viewer: Any,
    graphic: Any,
) -> None:
    """With a 5 s lock and a 4 s notice, both of the holder's connections get `lock_expiring`
    (expiry, seconds left, token) about a second after acquiring, once; a `lock_refresh`
    moves the expiry and brings a new notice for it. Other users get none."""
    settings.LOCK_TTL_SECONDS = 5
    settings.LOCK_EXPIRING_NOTICE_SECONDS = 4
    holder = await ws_connect(editor)
    other_tab = await ws_connect(editor)
    watcher = await ws_connect(viewer)
    lock = (await holder.ack("lock", {"graphic_id": graphic.pk}))["lock"]

    first = await holder.next_event(match=is_type("lock_expiring"))
    assert first["data"]["graphic_id"] == graphic.pk
    assert first["data"]["expires_at"] == lock["expires_at"]
    assert first["data"]["fencing_token"] == lock["fencing_token"]
    assert 0 <= first["data"]["seconds_left"] <= 4
    assert await other_tab.next_event(match=is_type("lock_expiring")) == first
    # Several sweeps later, still the one notice.
    await holder.no_event(within=0.5)

    refreshed = (await holder.ack("lock_refresh", {"graphic_id": graphic.pk}))["lock"]
    assert parse_time(refreshed["expires_at"]) > parse_time(lock["expires_at"])
    assert refreshed["fencing_token"] == lock["fencing_token"]

    second = await holder.next_event(match=is_type("lock_expiring"))
    assert second["data"]["expires_at"] == refreshed["expires_at"]
    await watcher.no_event()


async def test_no_notice_when_the_setting_is_zero(
    fast_lock_sweep: None, settings: Any, ws_connect: Callable[..., Any], editor: Any, graphic: Any
) -> None:
    """LOCK_EXPIRING_NOTICE_SECONDS=0 turns the notice off."""
    settings.LOCK_TTL_SECONDS = 1
    settings.LOCK_EXPIRING_NOTICE_SECONDS = 0
    holder = await ws_connect(editor)
    await holder.ack("lock", {"graphic_id": graphic.pk})

    await holder.no_event(within=0.5)


@dataclass
class Connection:
    """A recipient of notices, as the hub hands them over: what was sent to it."""

    connection_id: str
    user_id: int | None
    sent: list[dict[str, Any]] = field(default_factory=list)

    def send_direct(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


async def test_each_connection_is_told_once_per_lock_term(
    settings: Any, db_call: Any, editor: Any, editor2: Any, make_graphic: Any
) -> None:
    """The sweep tells each connection of a holder once per (lock, expiry): again after a
    refresh, and at once for a connection opened inside the window; never for locks further
    off than the window or for other users."""
    settings.LOCK_EXPIRING_NOTICE_SECONDS = 60
    due, later = await db_call(make_graphic), await db_call(make_graphic)
    await db_call(lock_acquire, user=editor, graphic_id=due.pk)
    await db_call(lock_acquire, user=editor, graphic_id=later.pk)
    soon = timezone.now() + timedelta(seconds=30)
    await db_call(
        lambda: CanvasLock.objects.filter(graphic=due).update(expires_at=soon),
    )
    notices = LockExpiringNotices()
    tab = Connection("tab", editor.pk)
    stranger = Connection("stranger", editor2.pk)

    assert await notices.send_due([tab, stranger]) == 1
    assert await notices.send_due([tab, stranger]) == 0
    new_tab = Connection("new-tab", editor.pk)
    assert await notices.send_due([tab, new_tab, stranger]) == 1
    assert new_tab.sent == tab.sent

    await db_call(lock_refresh, user=editor, graphic_id=due.pk)
    await db_call(
        lambda: CanvasLock.objects.filter(graphic=due).update(
            expires_at=timezone.now() + timedelta(seconds=40)
        ),
    )
    assert await notices.send_due([tab, new_tab]) == 2
    assert stranger.sent == []
    frames = [json.loads(message["text"]) for message in tab.sent]
    assert [frame["type"] for frame in frames] == ["lock_expiring", "lock_expiring"]
    assert {frame["data"]["graphic_id"] for frame in frames} == {due.pk}
    expiries = [parse_time(frame["data"]["expires_at"]) for frame in frames]
    assert expiries[0] == soon
    assert expiries[1] > soon


# --- lock_refresh and lock_override requests ----------------------------------------------------


async def test_lock_refresh_extends_only_a_lock_you_hold(
    ws_connect: Callable[..., Any], db_call: Any, editor: Any, editor2: Any, graphic: Any
) -> None:
    """`lock_refresh` keeps the token and moves expires_at; without the lock it is a
    lock_conflict (naming the holder, or nobody) and never acquires."""
    client = await ws_connect(editor)
    other = await ws_connect(editor2)

    reply = await client.request("lock_refresh", {"graphic_id": graphic.pk})
    assert reply["type"] == "error"
    assert reply["data"]["code"] == "lock_conflict"
    assert reply["data"]["details"]["locked_by"] is None
    assert await db_call(lambda: CanvasLock.objects.filter(graphic=graphic).exists()) is False

    lock = (await client.ack("lock", {"graphic_id": graphic.pk}))["lock"]
    refreshed = await client.ack("lock_refresh", {"graphic_id": graphic.pk})
    assert refreshed["graphic_id"] == graphic.pk
    assert refreshed["lock"]["fencing_token"] == lock["fencing_token"]
    assert parse_time(refreshed["lock"]["expires_at"]) >= parse_time(lock["expires_at"])

    reply = await other.request("lock_refresh", {"graphic_id": graphic.pk})
    assert reply["data"]["code"] == "lock_conflict"
    assert reply["data"]["details"]["locked_by"] == "editor"


@pytest.mark.parametrize(
    ("who", "data", "code"),
    [
        ("editor2", {"reason": "mine now"}, "permission_denied"),
        ("viewer", {"reason": "mine now"}, "permission_denied"),
        ("lock_admin", {}, "validation_error"),
        ("lock_admin", {"reason": "   "}, "validation_error"),
        ("lock_admin", {"reason": "x" * 501}, "validation_error"),
        ("lock_admin", {"reason": "r", "take_over": "false"}, "validation_error"),
        ("lock_admin", {"reason": "r", "ttl": 5}, "validation_error"),
    ],
)
async def test_lock_override_refusals_change_nothing(
    ws_connect: Callable[..., Any],
    db_call: Any,
    editor: Any,
    editor2: Any,
    viewer: Any,
    lock_admin: Any,
    graphic: Any,
    who: str,
    data: dict[str, Any],
    code: str,
) -> None:
    """The same refusals as the REST override: the Lock admin role, a reason of at most 500
    characters, a boolean take_over; the holder keeps the lock and hears nothing."""
    holder = await ws_connect(editor)
    lock = await db_call(lock_acquire, user=editor, graphic_id=graphic.pk)
    users = {"editor2": editor2, "viewer": viewer, "lock_admin": lock_admin}
    client = await ws_connect(users[who])

    reply = await client.request("lock_override", {"graphic_id": graphic.pk, **data})

    assert reply["type"] == "error", reply
    assert reply["data"]["code"] == code
    still = await db_call(lambda: CanvasLock.objects.get(graphic=graphic))
    assert (still.holder_id, still.fencing_token) == (editor.pk, lock.fencing_token)
    await holder.no_event()


async def test_lock_override_of_a_free_graphic_is_a_state_conflict(
    ws_connect: Callable[..., Any], lock_admin: Any, graphic: Any
) -> None:
    admin = await ws_connect(lock_admin)

    reply = await admin.request("lock_override", {"graphic_id": graphic.pk, "reason": "r"})

    assert reply["data"]["code"] == "state_conflict"

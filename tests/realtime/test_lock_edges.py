"""Lock acquire, refresh, release and override work the same over REST, the WebSocket and the
Django admin: the same operations leave the same `LockEvent` audit rows and the same
`lock_status` events, whichever edge made them (they all call `locks.services`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from locks.models import CanvasLock, LockEvent
from locks.services import lock_acquire, lock_refresh, lock_release
from realtime.models import Event, EventType

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

TAKE_OVER_REASON = "editor left the desk"
FORCE_RELEASE_REASON = "stuck lock before the break"

Step = Callable[[Any], Awaitable[None]]


def audit_of(graphic_id: int) -> list[tuple[Any, ...]]:
    """The graphic's lock audit, oldest first, with users by name and times left out (they
    differ between runs, not between edges)."""

    def name(user: Any) -> str | None:
        return user.get_username() if user is not None else None

    return [
        (
            event.action,
            name(event.actor),
            name(event.previous_holder),
            name(event.holder),
            event.reason,
            event.fencing_token,
            event.expires_at is None,
        )
        for event in LockEvent.objects.filter(graphic_ref=graphic_id)
        .select_related("actor", "previous_holder", "holder")
        .order_by("created_at", "id")
    ]


def lock_events_of(graphic_id: int) -> list[dict[str, Any]]:
    """The graphic's lock_status events without their timestamps and lock times."""
    varying = {"timestamp", "lock_time", "expires_at"}
    return [
        {key: value for key, value in data.items() if key not in varying}
        for data in Event.objects.filter(graphic_id=graphic_id, type=EventType.LOCK_STATUS)
        .order_by("id")
        .values_list("data", flat=True)
    ]


def rest_as(user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return client


class RestEdge:
    def __init__(self, editor: Any, lock_admin: Any):
        self.editor, self.lock_admin = rest_as(editor), rest_as(lock_admin)

    def acquire(self, graphic_id: int) -> None:
        assert self.editor.post(f"/api/graphics/{graphic_id}/lock/").status_code == 200

    refresh = acquire  # POST again while holding it refreshes

    def release(self, graphic_id: int) -> None:
        assert self.editor.delete(f"/api/graphics/{graphic_id}/lock/").status_code == 204

    def override(self, graphic_id: int, *, reason: str, take_over: bool) -> None:
        response = self.lock_admin.post(
            f"/api/graphics/{graphic_id}/lock/override/",
            {"reason": reason, "take_over": take_over},
            format="json",
        )
        assert response.status_code == 200, response.content


class AdminEdge:
    """The admin has no acquire, refresh or release (locks are taken where graphics are
    edited): those go through the service; the override goes through the admin's actions."""

    def __init__(self, editor: Any, lock_admin: Any):
        self.editor = editor
        self.client = Client()
        self.client.force_login(lock_admin)

    def acquire(self, graphic_id: int) -> None:
        lock_acquire(user=self.editor, graphic_id=graphic_id)

    def refresh(self, graphic_id: int) -> None:
        lock_refresh(user=self.editor, graphic_id=graphic_id)

    def release(self, graphic_id: int) -> None:
        lock_release(user=self.editor, graphic_id=graphic_id)

    def override(self, graphic_id: int, *, reason: str, take_over: bool) -> None:
        lock = CanvasLock.objects.get(graphic_id=graphic_id)
        response = self.client.post(
            reverse("admin:locks_canvaslock_changelist"),
            {
                "action": "take_over" if take_over else "force_release",
                "_selected_action": [lock.pk],
                "post": "yes",
                "reason": reason,
            },
        )
        assert response.status_code == 302, response.content


async def run_operations(
    *,
    acquire: Step,
    refresh: Step,
    release: Step,
    take_over: Step,
    force_release: Step,
    db_call: Any,
    editor: Any,
    lock_admin: Any,
    graphic_id: int,
) -> None:
    """One lock's life: acquire, refresh, release; acquire, taken over by a Lock admin; given
    back; acquired by the editor again and force-released."""
    await acquire(graphic_id)
    await refresh(graphic_id)
    await release(graphic_id)
    await acquire(graphic_id)
    await take_over(graphic_id)
    await db_call(lock_release, user=lock_admin, graphic_id=graphic_id)
    await acquire(graphic_id)
    await force_release(graphic_id)


async def test_rest_websocket_and_admin_leave_the_same_audit_and_events(
    ws_connect: Callable[..., Any],
    db_call: Any,
    make_graphic: Any,
    editor: Any,
    lock_admin: Any,
) -> None:
    """The same lock operations over each edge give identical audit rows (action, actor,
    previous holder, holder, reason, fencing token) and identical lock_status events."""
    lock_admin.is_staff = True
    await db_call(lock_admin.save, update_fields=["is_staff"])
    graphics = {edge: await db_call(make_graphic, title=edge) for edge in ("rest", "ws", "admin")}

    for edge_name in ("rest", "admin"):
        edge = await db_call(
            RestEdge if edge_name == "rest" else AdminEdge, editor=editor, lock_admin=lock_admin
        )

        def step(fn: Callable[..., None], **kwargs: Any) -> Step:
            return lambda graphic_id: db_call(fn, graphic_id, **kwargs)

        await run_operations(
            acquire=step(edge.acquire),
            refresh=step(edge.refresh),
            release=step(edge.release),
            take_over=step(edge.override, reason=TAKE_OVER_REASON, take_over=True),
            force_release=step(edge.override, reason=FORCE_RELEASE_REASON, take_over=False),
            db_call=db_call,
            editor=editor,
            lock_admin=lock_admin,
            graphic_id=graphics[edge_name].pk,
        )

    ws_editor = await ws_connect(editor)
    ws_admin = await ws_connect(lock_admin)

    def ws_step(client: Any, message_type: str, **data: Any) -> Step:
        async def run(graphic_id: int) -> None:
            await client.ack(message_type, {"graphic_id": graphic_id, **data})

        return run

    await run_operations(
        acquire=ws_step(ws_editor, "lock"),
        refresh=ws_step(ws_editor, "lock_refresh"),
        release=ws_step(ws_editor, "unlock"),
        take_over=ws_step(ws_admin, "lock_override", reason=TAKE_OVER_REASON, take_over=True),
        force_release=ws_step(ws_admin, "lock_override", reason=FORCE_RELEASE_REASON),
        db_call=db_call,
        editor=editor,
        lock_admin=lock_admin,
        graphic_id=graphics["ws"].pk,
    )

    audits = {edge: await db_call(audit_of, g.pk) for edge, g in graphics.items()}
    assert audits["rest"] == [
        ("acquired", "editor", None, "editor", "", 1, False),
        ("refreshed", "editor", None, "editor", "", 1, False),
        ("released", "editor", "editor", None, "", 1, True),
        ("acquired", "editor", None, "editor", "", 2, False),
        ("overridden", "lockadmin", "editor", "lockadmin", TAKE_OVER_REASON, 3, False),
        ("released", "lockadmin", "lockadmin", None, "", 3, True),
        ("acquired", "editor", None, "editor", "", 4, False),
        ("overridden", "lockadmin", "editor", None, FORCE_RELEASE_REASON, 4, True),
    ]
    assert audits["ws"] == audits["rest"]
    assert audits["admin"] == audits["rest"]

    events = {edge: await db_call(lock_events_of, g.pk) for edge, g in graphics.items()}
    for edge, graphic in graphics.items():
        for event in events[edge]:
            assert event.pop("graphic_id") == graphic.pk
    assert [event["reason"] for event in events["rest"]] == [row[0] for row in audits["rest"]]
    assert events["ws"] == events["rest"]
    assert events["admin"] == events["rest"]

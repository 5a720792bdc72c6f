"""Broadcasts: every way a graphic or a lock changes (a service call, a WebSocket message, the
REST API, the Django admin, a plain `.save()`) reaches the subscribers of that graphic with the
full payload and the subscribers of "all" with the summary, once per subscription, in seq
order, and only after the change committed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from rest_framework.test import APIClient

from graphics.models import Graphic
from graphics.patch import graphic_apply_event
from graphics.services import graphic_archive, graphic_delete, graphic_update
from locks.models import CanvasLock
from locks.services import lock_acquire, lock_override, lock_refresh, lock_release
from realtime.models import Event
from tests.conftest import text_element, valid_canvas

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


class Watcher:
    """A client subscribed to one graphic and to "all", with the snapshot seqs it started from
    and its copy of the graphic, kept up to date from the events as a client keeps it."""

    def __init__(
        self,
        client: Any,
        graphic_id: int,
        graphic_seq: int,
        list_seq: int,
        graphic: dict[str, Any],
    ):
        self.client = client
        self.graphic_id = graphic_id
        self.graphic_seq = graphic_seq
        self.list_seq = list_seq
        self.graphic = graphic

    async def pair(self, timeout: float = 5) -> tuple[dict[str, Any], dict[str, Any]]:
        """The next event on the graphic's subscription and its twin on "all"."""
        first = await self.client.next_event(timeout)
        second = await self.client.next_event(timeout)
        by_subscription = {first["subscription"]: first, second["subscription"]: second}
        assert set(by_subscription) == {self.graphic_id, "all"}, (first, second)
        full, summary = by_subscription[self.graphic_id], by_subscription["all"]
        assert full["type"] == summary["type"]
        assert full["data"]["seq"] == summary["data"]["seq"]
        if full["type"] == "graphic_update" and full["data"]["action"] != "deleted":
            self.graphic = graphic_apply_event(self.graphic, full["data"])
        return full, summary


@pytest.fixture
def watch(ws_connect: Callable[..., Any], viewer: Any) -> Callable[..., Any]:
    """await watch(graphic) -> a Viewer's Watcher subscribed to the graphic and to "all"."""

    async def subscribe(graphic: Graphic, user: Any = None) -> Watcher:
        client = await ws_connect(user or viewer)
        graphic_snapshot = await client.ack("subscribe", {"graphic_id": graphic.pk})
        list_snapshot = await client.ack("subscribe", {"graphic_id": "all"})
        return Watcher(
            client,
            graphic.pk,
            graphic_snapshot["seq"],
            list_snapshot["seq"],
            graphic_snapshot["graphic"],
        )

    return subscribe


def assert_graphic_event(
    full: dict[str, Any], summary: dict[str, Any], *, action: str, graphic_id: int
) -> None:
    """The graphic's subscribers get the canvas (whole, or a merge patch from the version
    before); "all" gets the same event with the graphic's summary and no canvas."""
    assert full["type"] == "graphic_update"
    assert full["data"]["id"] == summary["data"]["id"] == graphic_id
    assert full["data"]["action"] == summary["data"]["action"] == action
    assert "data" not in summary["data"]["payload"]
    assert "patch" not in summary["data"]
    if "patch" in full["data"]:
        assert full["data"]["base_version"] == full["data"]["version"] - 1
        assert summary["data"]["payload"]["version"] == full["data"]["version"]
        assert summary["data"]["payload"]["updated_at"] == full["data"]["updated_at"]
        assert summary["data"]["payload"]["updated_by"] == full["data"]["updated_by"]
        patch_only = {"patch", "base_version", "updated_at", "updated_by"}
    else:
        assert "data" in full["data"]["payload"]
        without_canvas = {k: v for k, v in full["data"]["payload"].items() if k != "data"}
        assert summary["data"]["payload"] == without_canvas
        patch_only = {"payload"}
    assert {k: v for k, v in full["data"].items() if k not in patch_only} == {
        k: v for k, v in summary["data"].items() if k != "payload"
    }


def event_count() -> int:
    return Event.objects.count()


# --- graphic changes, by every path -----------------------------------------------------------


async def test_a_service_update_reaches_graphic_and_list_subscribers(
    watch: Callable[..., Any],
    ws_connect: Callable[..., Any],
    db_call: Any,
    editor: Any,
    viewer: Any,
    graphic: Graphic,
    make_graphic: Callable[..., Any],
) -> None:
    """An update made by a service call is delivered once on the graphic's subscription (full
    payload) and once on "all" (summary), with a seq above the snapshots'; a client watching
    only another graphic hears nothing."""
    other = await db_call(make_graphic, title="Other")
    watcher = await watch(graphic)
    list_only = await ws_connect(viewer)
    await list_only.ack("subscribe", {"graphic_id": "all"})
    elsewhere = await ws_connect(viewer)
    await elsewhere.ack("subscribe", {"graphic_id": other.pk})
    await db_call(lock_acquire, user=editor, graphic_id=graphic.pk)
    await watcher.pair()
    await list_only.next_event()
    canvas = valid_canvas(elements=[text_element(content="Lobby 2")])

    await db_call(
        graphic_update, user=editor, graphic_id=graphic.pk, version=1, title="Final", data=canvas
    )

    full, summary = await watcher.pair()
    assert_graphic_event(full, summary, action="updated", graphic_id=graphic.pk)
    assert full["data"]["version"] == 2
    assert full["data"]["changed_fields"] == ["title", "data"]
    assert (watcher.graphic["title"], watcher.graphic["data"]) == ("Final", canvas)
    assert (full["data"]["user"], full["data"]["user_id"]) == ("editor", editor.pk)
    assert full["data"]["seq"] > max(watcher.graphic_seq, watcher.list_seq)
    listed = await list_only.next_event()
    assert listed == summary
    await watcher.client.no_event()
    await list_only.no_event(within=0.05)
    await elsewhere.no_event(within=0.05)


async def test_seqs_increase_with_every_change(
    watch: Callable[..., Any], db_call: Any, editor: Any, graphic: Graphic
) -> None:
    """Successive changes arrive in order, each seq greater than the one before."""
    watcher = await watch(graphic)
    await db_call(lock_acquire, user=editor, graphic_id=graphic.pk)
    for version in (1, 2, 3):
        await db_call(
            graphic_update,
            user=editor,
            graphic_id=graphic.pk,
            version=version,
            title=f"Take {version}",
        )

    pairs = [await watcher.pair() for _ in range(4)]

    seqs = [full["data"]["seq"] for full, _ in pairs]
    assert seqs == sorted(set(seqs))
    assert seqs[0] > watcher.graphic_seq
    assert [full["data"].get("version") for full, _ in pairs[1:]] == [2, 3, 4]
    await watcher.client.no_event()


async def test_a_websocket_write_reaches_everyone_including_its_author(
    watch: Callable[..., Any], ws_connect: Callable[..., Any], editor: Any, graphic: Graphic
) -> None:
    """An update sent over WebSocket is acked to its author and broadcast to every subscriber,
    the author's own subscriptions included."""
    watcher = await watch(graphic)
    author = await watch(graphic, editor)
    locked = await author.client.ack("lock", {"graphic_id": graphic.pk})
    await watcher.pair()
    await author.pair()

    reply = await author.client.ack(
        "update",
        {
            "graphic_id": graphic.pk,
            "version": 1,
            "fencing_token": locked["lock"]["fencing_token"],
            "title": "From the desk",
        },
    )

    assert reply["graphic"]["version"] == 2
    for subscriber in (watcher, author):
        full, summary = await subscriber.pair()
        assert_graphic_event(full, summary, action="updated", graphic_id=graphic.pk)
        assert subscriber.graphic == reply["graphic"]
        await subscriber.client.no_event(within=0.1)


async def test_creating_a_graphic_is_announced_on_all(
    ws_connect: Callable[..., Any], viewer: Any, editor: Any
) -> None:
    """A new graphic appears on "all" as a `created` summary."""
    watcher = await ws_connect(viewer)
    await watcher.ack("subscribe", {"graphic_id": "all"})
    author = await ws_connect(editor)

    created = (await author.ack("create", {"title": "New lobby", "event_name": "W3"}))["graphic"]

    event = await watcher.next_event()
    assert event["type"] == "graphic_update"
    assert event["subscription"] == "all"
    assert event["data"]["action"] == "created"
    assert event["data"]["id"] == created["id"]
    assert event["data"]["payload"]["title"] == "New lobby"
    assert "data" not in event["data"]["payload"]
    await watcher.no_event()


async def test_archive_and_restore_are_broadcast_with_their_reason(
    watch: Callable[..., Any], ws_connect: Callable[..., Any], editor: Any, graphic: Graphic
) -> None:
    """Archiving and restoring reach subscribers as `archived` and `restored`, with the
    operator's reason, `archived` as the changed field, and each its new version."""
    watcher = await watch(graphic)
    author = await ws_connect(editor)

    await author.ack("archive", {"graphic_id": graphic.pk, "reason": "round over"})
    full, summary = await watcher.pair()
    assert_graphic_event(full, summary, action="archived", graphic_id=graphic.pk)
    assert full["data"]["reason"] == "round over"
    assert full["data"]["payload"]["archived"] is True
    assert full["data"]["changed_fields"] == ["archived"]
    assert full["data"]["version"] == full["data"]["payload"]["version"] == 2

    await author.ack("restore", {"graphic_id": graphic.pk, "reason": "replay"})
    full, summary = await watcher.pair()
    assert_graphic_event(full, summary, action="restored", graphic_id=graphic.pk)
    assert full["data"]["payload"]["archived"] is False
    assert full["data"]["reason"] == "replay"
    assert full["data"]["version"] == 3
    await watcher.client.no_event()


async def test_deleting_a_locked_graphic_broadcasts_the_release_then_the_deletion(
    watch: Callable[..., Any], db_call: Any, lock_admin: Any, graphic: Graphic
) -> None:
    """A Lock admin deleting a graphic they hold the lock of: subscribers hear the lock
    released, then `deleted` with the last summary (no canvas, even on the graphic's own
    subscription)."""
    watcher = await watch(graphic)
    await db_call(lock_acquire, user=lock_admin, graphic_id=graphic.pk)
    await watcher.pair()

    await db_call(graphic_delete, user=lock_admin, graphic_id=graphic.pk, reason="duplicate")

    released, _ = await watcher.pair()
    assert released["type"] == "lock_status"
    assert released["data"]["reason"] == "released"
    assert released["data"]["note"] == "graphic deleted"
    deleted, summary = await watcher.pair()
    assert deleted["type"] == "graphic_update"
    assert deleted["data"]["action"] == summary["data"]["action"] == "deleted"
    assert deleted["data"]["reason"] == "duplicate"
    assert deleted["data"]["user"] == "lockadmin"
    assert deleted["data"]["payload"]["title"] == "Round 3 Scoreboard"
    assert "data" not in deleted["data"]["payload"]
    assert deleted["data"]["seq"] > released["data"]["seq"]
    await watcher.client.no_event()


async def test_a_plain_save_bumps_the_version_and_is_broadcast(
    watch: Callable[..., Any], db_call: Any, graphic: Graphic
) -> None:
    """A change saved directly on the model (a shell, a script) still makes a new version and
    reaches subscribers like any other."""
    watcher = await watch(graphic)

    def edit_in_a_shell() -> None:
        instance = Graphic.objects.get(pk=graphic.pk)
        instance.title = "Edited in a shell"
        instance.save()

    await db_call(edit_in_a_shell)

    full, summary = await watcher.pair()
    assert_graphic_event(full, summary, action="updated", graphic_id=graphic.pk)
    assert full["data"]["version"] == 2
    assert full["data"]["changed_fields"] == ["title"]
    assert watcher.graphic["title"] == "Edited in a shell"
    assert (await db_call(lambda: Graphic.objects.get(pk=graphic.pk))).version == 2
    await watcher.client.no_event()


async def test_rest_lock_and_patch_are_broadcast(
    watch: Callable[..., Any], db_call: Any, editor: Any, graphic: Graphic
) -> None:
    """Locking with POST /api/graphics/{id}/lock/ and editing with PATCH /api/graphics/{id}/
    reach WebSocket subscribers like any other change: acquired, then updated with the new
    version and canvas."""
    watcher = await watch(graphic)
    canvas = valid_canvas(elements=[text_element(content="Set over REST")])

    def edit_over_rest() -> list[int]:
        client = APIClient()
        client.force_authenticate(editor)
        locked = client.post(f"/api/graphics/{graphic.pk}/lock/")
        patched = client.patch(
            f"/api/graphics/{graphic.pk}/",
            {
                "version": 1,
                "fencing_token": locked.json()["fencing_token"],
                "title": "REST title",
                "data": canvas,
            },
            format="json",
        )
        return [locked.status_code, patched.status_code]

    assert await db_call(edit_over_rest) == [200, 200]

    acquired, _ = await watcher.pair()
    assert acquired["type"] == "lock_status"
    assert (acquired["data"]["reason"], acquired["data"]["locked_by"]) == ("acquired", "editor")
    full, summary = await watcher.pair()
    assert_graphic_event(full, summary, action="updated", graphic_id=graphic.pk)
    assert full["data"]["version"] == 2
    assert (watcher.graphic["title"], watcher.graphic["data"]) == ("REST title", canvas)
    assert full["data"]["seq"] > acquired["data"]["seq"]
    await watcher.client.no_event()


async def test_a_refused_rest_edit_is_not_broadcast(
    watch: Callable[..., Any], db_call: Any, editor: Any, graphic: Graphic
) -> None:
    """A PATCH without the lock is refused (409) and nobody hears of it."""
    watcher = await watch(graphic)

    def edit_without_the_lock() -> int:
        client = APIClient()
        client.force_authenticate(editor)
        response = client.patch(
            f"/api/graphics/{graphic.pk}/", {"version": 1, "title": "Nope"}, format="json"
        )
        return response.status_code

    assert await db_call(edit_without_the_lock) == 409
    await watcher.client.no_event()


async def test_the_admin_archive_action_is_broadcast(
    watch: Callable[..., Any], db_call: Any, superuser: Any, graphic: Graphic
) -> None:
    """Archiving from the Django admin's changelist reaches subscribers as `archived` by the
    admin user."""
    watcher = await watch(graphic)

    def archive_in_the_admin() -> int:
        client = Client()
        client.force_login(superuser)
        response = client.post(
            "/admin/graphics/graphic/",
            {"action": "archive_selected", "_selected_action": [str(graphic.pk)]},
        )
        return response.status_code

    assert await db_call(archive_in_the_admin) == 302

    full, summary = await watcher.pair()
    assert_graphic_event(full, summary, action="archived", graphic_id=graphic.pk)
    assert full["data"]["user"] == "root"
    assert full["data"]["payload"]["archived_by"]["username"] == "root"
    await watcher.client.no_event()


# --- lock changes -----------------------------------------------------------------------------


async def test_every_lock_change_is_broadcast_with_its_reason(
    watch: Callable[..., Any],
    db_call: Any,
    editor: Any,
    lock_admin: Any,
    graphic: Graphic,
) -> None:
    """Acquire, refresh, override and release reach subscribers as `lock_status` events naming
    the reason, the holder after the change, the expiry, the actor and the previous holder."""
    watcher = await watch(graphic)

    acquired = await db_call(lock_acquire, user=editor, graphic_id=graphic.pk)
    full, summary = await watcher.pair()
    assert full == {**summary, "subscription": graphic.pk}
    assert full["type"] == "lock_status"
    assert full["data"]["graphic_id"] == graphic.pk
    assert full["data"]["reason"] == "acquired"
    assert full["data"]["locked"] is True
    assert (full["data"]["locked_by"], full["data"]["locked_by_id"]) == ("editor", editor.pk)
    assert full["data"]["expires_at"].replace("Z", "+00:00") == acquired.expires_at.isoformat()
    assert full["data"]["fencing_token"] == acquired.fencing_token
    assert full["data"]["actor"] == "editor"

    refreshed = await db_call(lock_refresh, user=editor, graphic_id=graphic.pk)
    full, _ = await watcher.pair()
    assert full["data"]["reason"] == "refreshed"
    assert full["data"]["locked_by"] == "editor"
    assert full["data"]["expires_at"].replace("Z", "+00:00") == refreshed.expires_at.isoformat()

    await db_call(
        lock_override,
        user=lock_admin,
        graphic_id=graphic.pk,
        reason="editor left the desk",
        take_over=True,
    )
    full, _ = await watcher.pair()
    assert full["data"]["reason"] == "overridden"
    assert full["data"]["locked_by"] == "lockadmin"
    assert full["data"]["actor"] == "lockadmin"
    assert full["data"]["previous_holder"] == "editor"
    assert full["data"]["note"] == "editor left the desk"
    assert full["data"]["fencing_token"] > acquired.fencing_token

    assert await db_call(lock_release, user=lock_admin, graphic_id=graphic.pk) is True
    full, _ = await watcher.pair()
    assert full["data"]["reason"] == "released"
    assert full["data"]["locked"] is False
    assert full["data"]["locked_by"] is None
    assert full["data"]["expires_at"] is None
    assert full["data"]["previous_holder"] == "lockadmin"
    await watcher.client.no_event()


async def test_an_override_without_take_over_frees_the_lock_for_everyone(
    watch: Callable[..., Any], db_call: Any, editor: Any, lock_admin: Any, graphic: Graphic
) -> None:
    """A Lock admin breaking a lock without taking it: subscribers see the graphic free."""
    watcher = await watch(graphic)
    await db_call(lock_acquire, user=editor, graphic_id=graphic.pk)
    await watcher.pair()

    await db_call(lock_override, user=lock_admin, graphic_id=graphic.pk, reason="stuck")

    full, _ = await watcher.pair()
    assert full["data"]["reason"] == "overridden"
    assert full["data"]["locked"] is False
    assert full["data"]["previous_holder"] == "editor"
    await watcher.client.no_event()


async def test_websocket_lock_and_unlock_are_broadcast(
    watch: Callable[..., Any], ws_connect: Callable[..., Any], editor: Any, graphic: Graphic
) -> None:
    """`lock` and `unlock` over WebSocket reach subscribers as acquired and released."""
    watcher = await watch(graphic)
    author = await ws_connect(editor)

    await author.ack("lock", {"graphic_id": graphic.pk})
    full, _ = await watcher.pair()
    assert (full["data"]["reason"], full["data"]["locked_by"]) == ("acquired", "editor")

    await author.ack("unlock", {"graphic_id": graphic.pk})
    full, _ = await watcher.pair()
    assert (full["data"]["reason"], full["data"]["locked"]) == ("released", False)
    await watcher.client.no_event()


async def test_a_refused_write_broadcasts_nothing(
    watch: Callable[..., Any], ws_connect: Callable[..., Any], editor: Any, graphic: Graphic
) -> None:
    """A write a service refuses (here a stale version) changes nothing and sends no event."""
    watcher = await watch(graphic)
    author = await ws_connect(editor)
    token = (await author.ack("lock", {"graphic_id": graphic.pk}))["lock"]["fencing_token"]
    await watcher.pair()

    reply = await author.request(
        "update", {"graphic_id": graphic.pk, "version": 7, "fencing_token": token, "title": "Stale"}
    )

    assert reply["data"]["code"] == "version_conflict"
    await watcher.client.no_event()


# --- rollback ---------------------------------------------------------------------------------


class Cancelled(Exception):
    pass


@pytest.mark.parametrize("change", ["service update", "lock acquire", "plain save"])
async def test_a_change_that_rolls_back_is_never_broadcast(
    watch: Callable[..., Any], db_call: Any, editor: Any, graphic: Graphic, change: str
) -> None:
    """A change made inside a transaction that then fails leaves no event in the log and
    reaches no subscriber; the graphic and its lock are as before."""
    watcher = await watch(graphic)
    if change == "service update":
        await db_call(lock_acquire, user=editor, graphic_id=graphic.pk)
        await watcher.pair()
    events_before = await db_call(event_count)

    def change_then_fail() -> None:
        with transaction.atomic():
            if change == "service update":
                graphic_update(user=editor, graphic_id=graphic.pk, version=1, title="Never")
            elif change == "lock acquire":
                lock_acquire(user=editor, graphic_id=graphic.pk)
            else:
                instance = Graphic.objects.get(pk=graphic.pk)
                instance.title = "Never"
                instance.save()
            raise Cancelled()

    with pytest.raises(Cancelled):
        await db_call(change_then_fail)

    await watcher.client.no_event(within=0.5)
    assert await db_call(event_count) == events_before
    saved = await db_call(lambda: Graphic.objects.get(pk=graphic.pk))
    assert (saved.title, saved.version) == ("Round 3 Scoreboard", 1)
    holders = await db_call(lambda: list(CanvasLock.objects.values_list("holder_id", flat=True)))
    assert holders == ([editor.pk] if change == "service update" else [])


async def test_a_rolled_back_change_leaves_a_gap_that_later_events_skip_over(
    watch: Callable[..., Any], db_call: Any, editor: Any, graphic: Graphic
) -> None:
    """After a rollback, the next committed change is delivered normally (its seq may skip
    the rolled-back one, but never goes backwards)."""
    watcher = await watch(graphic)

    def acquire_then_fail() -> None:
        with transaction.atomic():
            lock_acquire(user=editor, graphic_id=graphic.pk)
            raise Cancelled()

    with pytest.raises(Cancelled):
        await db_call(acquire_then_fail)
    await db_call(graphic_archive, user=editor, graphic_id=graphic.pk)

    full, _ = await watcher.pair()
    assert full["data"]["action"] == "archived"
    assert full["data"]["seq"] > watcher.graphic_seq
    await watcher.client.no_event()

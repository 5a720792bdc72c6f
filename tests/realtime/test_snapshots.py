"""Snapshots: what a subscriber starts from and the seq it reflects, and the promise built on
them: the snapshot plus every later event of the subscription equals the current state, even
while changes are being made as the client subscribes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from gal_dashboard.errors import NotFound, ValidationFailed
from graphics.models import Graphic
from graphics.patch import graphic_apply_event
from graphics.services import graphic_archive, graphic_update
from locks.models import CanvasLock
from locks.services import lock_acquire, lock_refresh
from realtime.delivery.snapshots import events_after, graphic_snapshot, latest_seq, list_snapshot
from realtime.models import Event

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

LOCK_FIELDS = ("locked", "locked_by", "locked_by_id", "lock_time", "expires_at", "fencing_token")


def last_event_of(graphic_id: int) -> int:
    return (
        Event.objects.filter(graphic_id=graphic_id).order_by("-id").values_list("id", flat=True)[0]
    )


# --- the snapshots themselves -------------------------------------------------------------------


def test_a_graphic_snapshot_reflects_the_graphics_own_latest_event(
    editor: Any, make_graphic: Callable[..., Any]
) -> None:
    """The seq of a graphic's snapshot is that graphic's latest event, not the log's: events of
    other graphics do not concern its subscribers."""
    first = make_graphic(title="First", by=editor)
    second = make_graphic(title="Second", by=editor)
    lock_acquire(user=editor, graphic_id=second.pk)

    snapshot = graphic_snapshot(graphic_id=first.pk)

    assert snapshot["seq"] == last_event_of(first.pk)
    assert snapshot["seq"] < latest_seq()
    assert snapshot["graphic"]["title"] == "First"
    assert snapshot["graphic"]["data"] == first.data
    assert snapshot["lock"]["locked"] is False


def test_a_graphic_snapshot_of_a_missing_or_badly_named_graphic_fails(editor: Any) -> None:
    """A graphic that does not exist is NotFound; an id that is not a positive whole number
    is a ValidationFailed on graphic_id."""
    with pytest.raises(NotFound):
        graphic_snapshot(graphic_id=12345)
    with pytest.raises(ValidationFailed) as caught:
        graphic_snapshot(graphic_id="12")
    assert "graphic_id" in caught.value.details


def test_the_list_snapshot_lists_every_graphic_with_its_lock_and_the_latest_seq(
    editor: Any, make_graphic: Callable[..., Any]
) -> None:
    """The "all" snapshot has every graphic, archived ones included, newest change first, as
    summaries with lock states; its seq is the log's latest."""
    active = make_graphic(title="Active", by=editor)
    archived = make_graphic(title="Archived", by=editor)
    graphic_archive(user=editor, graphic_id=archived.pk)
    lock_acquire(user=editor, graphic_id=active.pk)

    snapshot = list_snapshot()

    assert snapshot["graphic_id"] == "all"
    assert snapshot["seq"] == latest_seq()
    assert [item["id"] for item in snapshot["graphics"]] == [archived.pk, active.pk]
    items = {item["id"]: item for item in snapshot["graphics"]}
    assert items[archived.pk]["archived"] is True
    assert items[active.pk]["lock"]["locked_by"] == "editor"
    assert items[archived.pk]["lock"]["locked"] is False
    assert all("data" not in item for item in snapshot["graphics"])


def test_the_list_snapshot_of_an_empty_dashboard(editor: Any) -> None:
    """No graphics and no events: an empty list at seq 0."""
    assert list_snapshot() == {"graphic_id": "all", "graphics": [], "seq": 0}


def test_a_lock_past_its_expiry_shows_as_free_before_the_sweeper_removes_it(
    editor: Any, graphic: Graphic
) -> None:
    """Snapshots never show an expired lock as held, even while its row still exists."""
    lock_acquire(user=editor, graphic_id=graphic.pk)
    past = timezone.now() - timedelta(seconds=1)
    CanvasLock.objects.filter(graphic=graphic).update(
        acquired_at=past - timedelta(minutes=5), expires_at=past
    )

    assert graphic_snapshot(graphic_id=graphic.pk)["lock"]["locked"] is False
    assert list_snapshot()["graphics"][0]["lock"]["locked"] is False


def test_events_after_reads_the_log_in_seq_order_in_pages(editor: Any, graphic: Graphic) -> None:
    """`events_after` returns committed events with a greater seq, oldest first, at most
    `limit` of them."""
    lock_acquire(user=editor, graphic_id=graphic.pk)
    for version in (1, 2, 3):
        graphic_update(user=editor, graphic_id=graphic.pk, version=version, title=f"v{version}")
    all_seqs = list(Event.objects.order_by("id").values_list("id", flat=True))

    page = events_after(seq=all_seqs[0], limit=2)

    assert [event.pk for event in page] == all_seqs[1:3]
    assert [event.pk for event in events_after(seq=all_seqs[-1], limit=10)] == []


# --- snapshot + stream == fresh snapshot --------------------------------------------------------


class Follower:
    """A client that subscribes to a graphic and to "all" and rebuilds both states from the
    snapshots and the events that follow them, as a dashboard does."""

    def __init__(self, client: Any, graphic_id: int):
        self.client = client
        self.graphic_id = graphic_id
        self.seqs: dict[int | str, int] = {}
        self.received: dict[int | str, list[int]] = {graphic_id: [], "all": []}
        self.graphic: dict[str, Any] = {}
        self.lock: dict[str, Any] = {}
        self.listing: dict[int, dict[str, Any]] = {}

    async def subscribe(self) -> None:
        snapshot = await self.client.ack("subscribe", {"graphic_id": self.graphic_id})
        assert not self.client.events, "no event may precede the snapshot it follows"
        self.seqs[self.graphic_id] = snapshot["seq"]
        self.graphic, self.lock = snapshot["graphic"], snapshot["lock"]
        listing = await self.client.ack("subscribe", {"graphic_id": "all"})
        assert all(event["subscription"] == self.graphic_id for event in self.client.events)
        self.seqs["all"] = listing["seq"]
        self.listing = {item["id"]: item for item in listing["graphics"]}

    async def follow_until(self, *, graphic_seq: int, list_seq: int) -> None:
        """Apply events until both subscriptions have reached the given seqs."""
        targets: dict[int | str, int] = {self.graphic_id: graphic_seq, "all": list_seq}
        while any(self.seqs[key] < target for key, target in targets.items()):
            self.apply(await self.client.next_event(timeout=5))
        await self.client.no_event(within=0.2)

    def apply(self, event: dict[str, Any]) -> None:
        key = event["subscription"]
        seq = event["data"]["seq"]
        self.received[key].append(seq)
        assert seq > self.seqs[key], f"{key}: seq {seq} after {self.seqs[key]}"
        self.seqs[key] = seq
        data = event["data"]
        lock = (
            {field: data[field] for field in LOCK_FIELDS}
            if event["type"] == "lock_status"
            else None
        )
        if key == "all":
            graphic_id = data["id"] if lock is None else data["graphic_id"]
            item = self.listing.setdefault(graphic_id, {})
            if lock is None:
                self.listing[graphic_id] = {**data["payload"], "lock": item.get("lock")}
            else:
                item["lock"] = lock
        elif lock is None:
            self.graphic = graphic_apply_event(self.graphic, data)
        else:
            self.lock = lock


async def test_snapshot_and_stream_add_up_to_the_current_state_under_concurrent_writes(
    ws_connect: Callable[..., Any],
    viewer: Any,
    editor: Any,
    graphic: Graphic,
    make_graphic: Callable[..., Any],
) -> None:
    """Clients subscribe while another thread keeps updating the graphic, refreshing its lock
    and changing a second graphic. Each client's snapshot plus the events it then receives
    equals a fresh snapshot at the end, with every seq strictly increasing and none twice."""
    other = await database_sync_to_async(make_graphic)(title="Other", by=editor)
    await database_sync_to_async(lock_acquire)(user=editor, graphic_id=graphic.pk)
    await database_sync_to_async(lock_acquire)(user=editor, graphic_id=other.pk)
    # Its own thread (not the one shared by the consumers' database calls), so the writes
    # really run concurrently with the snapshots.
    concurrent = database_sync_to_async(lambda fn, **kwargs: fn(**kwargs), thread_sensitive=False)
    rounds = 20
    started = asyncio.Event()
    # Set once the first follower has its snapshots: the writer waits for it halfway, so that
    # at least one subscription lands mid-stream however slow the subscribes are (on SQLite a
    # snapshot's IMMEDIATE transaction queues behind the writer's, and can lose every race).
    first_subscribed = asyncio.Event()

    async def keep_changing() -> None:
        for version in range(1, rounds + 1):
            if version == rounds // 2:
                await asyncio.wait_for(first_subscribed.wait(), timeout=30)
            await concurrent(
                graphic_update,
                user=editor,
                graphic_id=graphic.pk,
                version=version,
                title=f"Take {version}",
            )
            await concurrent(
                graphic_update,
                user=editor,
                graphic_id=other.pk,
                version=version,
                title=f"O{version}",
            )
            if version % 5 == 0:
                await concurrent(lock_refresh, user=editor, graphic_id=graphic.pk)
            started.set()

    writer = asyncio.create_task(keep_changing())
    followers = [Follower(await ws_connect(viewer), graphic.pk) for _ in range(3)]
    await started.wait()
    for follower in followers:
        await follower.subscribe()
        first_subscribed.set()
        await asyncio.sleep(0.03)
    await writer

    fresh_graphic = await database_sync_to_async(graphic_snapshot)(graphic_id=graphic.pk)
    fresh_list = await database_sync_to_async(list_snapshot)()
    assert fresh_graphic["graphic"]["version"] == rounds + 1
    for follower in followers:
        await follower.follow_until(graphic_seq=fresh_graphic["seq"], list_seq=fresh_list["seq"])
        assert follower.graphic == fresh_graphic["graphic"]
        assert follower.lock == fresh_graphic["lock"]
        assert follower.listing == {item["id"]: item for item in fresh_list["graphics"]}
        for seqs in follower.received.values():
            assert seqs == sorted(set(seqs))
    # The point of the test: the subscriptions happened mid-stream, not after the writes.
    assert any(follower.received[graphic.pk] for follower in followers)


async def test_a_graphic_deleted_after_the_snapshot_is_followed_to_its_deletion(
    ws_connect: Callable[..., Any], db_call: Any, viewer: Any, lock_admin: Any, graphic: Graphic
) -> None:
    """The stream after a snapshot carries the deletion too: the subscriber's last event says
    `deleted`, and a fresh subscription is not_found."""
    client = await ws_connect(viewer)
    snapshot = await client.ack("subscribe", {"graphic_id": graphic.pk})
    admin = await ws_connect(lock_admin)

    await admin.ack("delete", {"graphic_id": graphic.pk})

    event = await client.next_event()
    assert event["data"]["action"] == "deleted"
    assert event["data"]["seq"] > snapshot["seq"]
    reply = await client.request("subscribe", {"graphic_id": graphic.pk})
    assert reply["data"]["code"] == "not_found"
    assert await db_call(lambda: Graphic.objects.filter(pk=graphic.pk).exists()) is False

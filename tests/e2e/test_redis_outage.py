"""
Redis goes away under a running daphne and comes back.

The server uses a Redis of the test's own (a `redis-server` process on a free port), so that
stopping it disturbs nothing else. While it is down, REST keeps working and keeps writing events
to the log; WebSocket clients get a `notice` (`broadcast_degraded`) and keep receiving every event
from the log. When Redis returns, broadcasting resumes without restarting daphne: the missed
events arrive at once, in order and once each, then `broadcast_restored`, and later changes are
broadcast again rather than waiting for the log poll.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.e2e.conftest import HOST, NetworkClient, free_port, wait_until_ready

pytestmark = [
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

# The log poll is set far longer than the test, so any event that arrives quickly after Redis
# returns came through the broadcast path (or the catch-up that its return triggers).
SLOW_LOG_POLL_SECONDS = 120


class RedisServer:
    """A private redis-server that a test can crash and restart on the same port."""

    def __init__(self, workdir: Path):
        executable = shutil.which("redis-server")
        if executable is None:
            pytest.fail("redis-server is not installed (Debian: apt-get install redis-server)")
        self.executable = executable
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.executable,
                "--bind",
                HOST,
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
            finally:
                client.close()

    def crash(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    if server.process is not None:
        server.crash()


def notices(client: NetworkClient, code: str) -> list[dict[str, Any]]:
    return [
        frame
        for frame in client.other
        if frame["type"] == "notice" and frame["data"]["code"] == code
    ]


def seqs(client: NetworkClient, subscription: Any) -> list[int]:
    return [event["data"]["seq"] for event in client.events_of(subscription)]


async def test_broadcasts_survive_a_redis_crash_without_restarting_daphne(
    daphne_server: Any,
    ws_connect: Any,
    rest_client: Any,
    private_redis: RedisServer,
    editor: Any,
    viewer: Any,
    graphic: Any,
) -> None:
    server = daphne_server(
        REDIS_URL=private_redis.url,
        CHANNEL_LAYER_PREFIX="gal-outage",
        EVENT_POLL_INTERVAL_SECONDS=SLOW_LOG_POLL_SECONDS,
        BROADCAST_PROBE_INTERVAL_SECONDS=0.2,
        BROADCAST_PROBE_TIMEOUT_SECONDS=0.5,
    )
    subscriber = await ws_connect(server, viewer)
    assert subscriber.welcome is not None and subscriber.welcome["broadcast_degraded"] is False
    await subscriber.ack("subscribe", {"graphic_id": graphic.pk})
    api = rest_client(server, editor)
    locked = await api.call("POST", f"/api/graphics/{graphic.pk}/lock/")
    assert locked.status == 200, locked.body
    token = locked.body["fencing_token"]
    await subscriber.next_event(graphic.pk, "lock_status")

    await wait_until_ready(api)

    private_redis.crash()
    await subscriber.wait_for(
        lambda: notices(subscriber, "broadcast_degraded"), what="broadcast_degraded"
    )
    readiness = await api.call("GET", "/readyz")
    assert readiness.status == 503, readiness.body
    assert readiness.body["checks"]["channel_layer"]["ok"] is False
    assert readiness.body["checks"]["database"]["ok"] is True
    late = await ws_connect(server, viewer, name="late")
    assert late.welcome is not None and late.welcome["broadcast_degraded"] is True

    # REST keeps working and keeps writing events while Redis is away.
    version = graphic.version
    for title in ("Lobby A", "Lobby B"):
        edited = await api.call(
            "PATCH",
            f"/api/graphics/{graphic.pk}/",
            {"version": version, "fencing_token": token, "title": title},
        )
        assert edited.status == 200, edited.body
        version = edited.body["version"]

    private_redis.start()
    await subscriber.wait_for(
        lambda: notices(subscriber, "broadcast_restored"), timeout=10, what="broadcast_restored"
    )
    assert (await api.call("GET", "/readyz")).status == 200
    titles = [
        event["data"]["patch"]["title"]  # a title change travels as a merge patch
        for event in subscriber.events_of(graphic.pk, "graphic_update")
    ]
    assert titles == ["Lobby A", "Lobby B"], subscriber.event_outline()

    # Broadcasting itself is back: the next change arrives long before the log poll.
    edited = await api.call(
        "PATCH",
        f"/api/graphics/{graphic.pk}/",
        {"version": version, "fencing_token": token, "title": "Lobby C"},
    )
    assert edited.status == 200, edited.body
    await subscriber.wait_for(
        lambda: len(subscriber.events_of(graphic.pk, "graphic_update")) == 3,
        what="the change after Redis returned",
    )
    received = seqs(subscriber, graphic.pk)
    assert received == sorted(set(received)), "events out of order or duplicated"
    assert len(received) == 4  # lock, two edits during the outage, one after

"""
Redis goes away under a running daphne and comes back.

The server uses a Redis of the test's own (a `redis-server` process on a free port), so that
stopping it disturbs nothing else. While it is down, REST keeps working and keeps writing events
to the log; WebSocket clients get a `notice` (`broadcast_degraded`) and keep receiving every event
from the log. When Redis returns, broadcasting resumes without restarting daphne: the missed
events arrive at once, in order and once each, then `broadcast_restored`, and later changes are
broadcast again rather than waiting for the log poll.

Each server process logs the outage once when it starts and once when it ends, whatever fails
meanwhile, and counts it in /metrics; connections admitted while the connection registry was
unreachable are counted too, and the per-user limit applies to them again once Redis is back.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from realtime.protocol import CLOSE_TOO_MANY_CONNECTIONS
from tests.e2e.conftest import (
    HOST,
    DaphneServer,
    NetworkClient,
    RestClient,
    free_port,
    wait_until_ready,
)

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


# Long enough for channels_redis's receive task (which retries every second) and the broadcast
# probe to fail again and again, and for several events to be committed meanwhile.
OUTAGE_SECONDS = 3
# Every wait for a server to log something or close something after Redis returns: a heartbeat
# or two of the supervisor plus room for a busy machine.
AFTER_RETURN_TIMEOUT = 15.0
UNREACHABLE_LINE = "Redis is unreachable"
BACK_LINE = "Redis answers again"
METRICS_TOKEN = "scrape-secret-0123456789"


async def wait_for_log(server: DaphneServer, text: str) -> str:
    """The server's log once it contains `text`; fails after AFTER_RETURN_TIMEOUT."""
    deadline = time.monotonic() + AFTER_RETURN_TIMEOUT
    while text not in (log := server.log_text()):
        assert time.monotonic() < deadline, f"no {text!r} in the log:\n{server.log_tail()}"
        await asyncio.sleep(0.1)
    return log


async def metric_values(server: DaphneServer) -> Callable[..., float]:
    """`value(name, **labels)`: the sum of the samples of `name` with these labels in one scrape
    of `server`'s /metrics (its own process: no multiprocess directory here)."""
    response = await RestClient(server, METRICS_TOKEN).call_text("GET", "/metrics")
    assert response.status == 200, response.body
    samples = [
        sample
        for family in text_string_to_metric_families(response.body)
        for sample in family.samples
    ]

    def value(name: str, **labels: str) -> float:
        return sum(
            sample.value
            for sample in samples
            if sample.name == name and labels.items() <= sample.labels.items()
        )

    return value


async def test_an_outage_is_logged_once_and_the_connection_limit_applies_again(
    daphne_server: Any,
    ws_connect: Any,
    rest_client: Any,
    private_redis: RedisServer,
    editor: Any,
    viewer: Any,
    graphic: Any,
) -> None:
    """Two servers and one Redis that crashes for a few seconds while events are committed and
    connections arrive: each server logs one line when Redis goes and one when it returns, with
    no traceback and no channels_redis error in between, and counts both in /metrics. The
    connections admitted meanwhile (unregistered, so past the per-user limit of 2) are counted,
    and registered once Redis is back: the one past the limit is closed with 4029."""
    servers = daphne_server.many(
        2,
        REDIS_URL=private_redis.url,
        CHANNEL_LAYER_PREFIX="gal-outage-log",
        METRICS_TOKEN=METRICS_TOKEN,
        BROADCAST_PROBE_INTERVAL_SECONDS=0.2,
        # Generous: a probe that a busy machine answers late must not count as an outage.
        BROADCAST_PROBE_TIMEOUT_SECONDS=2,
        WS_HEARTBEAT_INTERVAL_SECONDS=1,
        WS_MAX_CONNECTIONS_PER_USER=2,
    )
    first, second = servers
    registered = await ws_connect(first, viewer, name="registered")
    api = rest_client(first, editor)
    for server in servers:
        await wait_until_ready(rest_client(server, editor))
    locked = await api.call("POST", f"/api/graphics/{graphic.pk}/lock/")
    assert locked.status == 200, locked.body
    token, version = locked.body["fencing_token"], graphic.version

    private_redis.crash()
    for server in servers:
        await wait_for_log(server, UNREACHABLE_LINE)
    # The registry cannot count these: both are admitted, three connections for a limit of two.
    late = [
        await ws_connect(first, viewer, name="late-first"),
        await ws_connect(second, viewer, name="late-second"),
    ]
    # Events committed while Redis is away: each one's broadcast fails.
    for number in range(5):
        edited = await api.call(
            "PATCH",
            f"/api/graphics/{graphic.pk}/",
            {"version": version, "fencing_token": token, "title": f"Lobby {number}"},
        )
        assert edited.status == 200, edited.body
        version = edited.body["version"]
    await asyncio.sleep(OUTAGE_SECONDS)
    during = [await metric_values(server) for server in servers]
    private_redis.start()

    logs = [await wait_for_log(server, BACK_LINE) for server in servers]
    for log in logs:
        assert log.count(UNREACHABLE_LINE) == 1, log
        assert log.count(BACK_LINE) == 1, log
        assert "Traceback" not in log, log
        assert "Unexpected exception in receive task" not in log, log  # channels_redis's
        assert "could not publish event" not in log, log
    for value in during:
        assert value("gal_redis_outages_total") == 1
        assert value("gal_redis_unreachable") == 1
        assert value("gal_redis_errors_total") > 1  # counted though not logged
        assert value("gal_ws_unregistered_admissions_total") == 1
        assert value("gal_ws_connections_unregistered") == 1

    # Back: the limit applies again, and the connection past it is closed.
    deadline = time.monotonic() + AFTER_RETURN_TIMEOUT
    while not any(client.closed for client in late):
        assert time.monotonic() < deadline, "no connection closed once Redis returned"
        await asyncio.sleep(0.1)
    await asyncio.sleep(2)  # a heartbeat more: a second close would show by now
    (closed,) = [client for client in late if client.closed]
    (kept,) = [client for client in late if not client.closed]
    assert closed.close_code == CLOSE_TOO_MANY_CONNECTIONS
    assert [frame["data"]["code"] for frame in closed.other if frame["type"] == "error"] == [
        "too_many_connections"
    ]
    for client in (registered, kept):
        assert (await client.request("ping"))["type"] == "pong"

    after = [await metric_values(server) for server in servers]
    for value in after:
        assert value("gal_redis_unreachable") == 0
        assert value("gal_ws_connections_unregistered") == 0
    outcomes = {
        outcome: sum(
            value("gal_ws_unregistered_outcomes_total", outcome=outcome) for value in after
        )
        for outcome in ("registered", "over_limit", "closed")
    }
    assert outcomes == {"registered": 1, "over_limit": 1, "closed": 0}

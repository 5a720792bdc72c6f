"""
End-to-end fixtures: real daphne processes (`python -m gal_dashboard.serve`) on free ports of
127.0.0.1, sharing the test database (and Redis on the services pass) with the test, and clients
that reach them over the network: `websockets` for /ws/graphics and urllib for the REST API.

Tests here commit their data (`transaction=True`) so that the server processes see it, and use
`serialized_rollback=True`: the flush after a transactional test empties every table, the roles
created by a data migration included, and the serialized copy puts them back for the next test.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import connections
from rest_framework_simplejwt.tokens import AccessToken
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

HOST = "127.0.0.1"
# A cold daphne imports Django, DRF and Channels and opens the database: about a second here;
# 15 s leaves room for a loaded CI machine without hiding a server that cannot start.
STARTUP_TIMEOUT = 15.0
# SIGTERM lets daphne close its sockets and the hub its Redis connection; after this, SIGKILL.
SHUTDOWN_TIMEOUT = 5.0
# Every wait for a frame over the network: long enough for a busy machine, short enough that a
# missing broadcast fails the test quickly.
RECEIVE_TIMEOUT = 5.0
REST_TIMEOUT = 10.0
LOG_TAIL_CHARS = 4000


def token_for(user: Any) -> str:
    """A JWT access token for `user`, valid on every server (they share SECRET_KEY)."""
    return str(AccessToken.for_user(user))


# ---------------------------------------------------------------------------------------------
# Server processes
# ---------------------------------------------------------------------------------------------


def database_url_for_servers() -> str:
    """The URL of the database pytest-django created, for a server process's DATABASE_URL."""
    database = connections["default"].settings_dict
    if connections["default"].vendor == "sqlite":
        return f"sqlite:///{database['NAME']}"
    # Keep the user, password, host and options of the configured URL; only the name changes
    # (pytest-django made it `test_<name>`).
    configured = urlsplit(settings.DATABASE_URL)
    return configured._replace(path=f"/{database['NAME']}").geturl()


def server_environment(**overrides: Any) -> dict[str, str]:
    """The environment of a server process: the test's database, channel layer and SECRET_KEY,
    plus `overrides` (setting name -> value, e.g. LOCK_TTL_SECONDS=2)."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url_for_servers(),
        SECRET_KEY=settings.SECRET_KEY,
        DEBUG="false",
        ALLOWED_HOSTS=f"{HOST},localhost",
        PYTHONUNBUFFERED="1",
        # Servers run as in production, with the PostgreSQL connection pool (the test process
        # itself runs without one); they are stopped before the test database is dropped.
        DATABASE_POOL_MAX_SIZE="4",
    )
    if settings.REDIS_URL:
        env["REDIS_URL"] = settings.REDIS_URL
        # pytest_configure (tests/conftest.py) gave this run its own prefix; the servers must
        # share it to hear the test process and each other.
        layer: Any = settings.CHANNEL_LAYERS["default"]
        env["CHANNEL_LAYER_PREFIX"] = layer["CONFIG"]["prefix"]
    else:
        env.pop("REDIS_URL", None)
        env.pop("CHANNEL_LAYER_PREFIX", None)
    env.update({name: str(value) for name, value in overrides.items()})
    return env


PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def die_with_the_test_process() -> None:
    """Runs in the server process before exec. If the test process dies without its teardown
    (SIGKILL, a crash), Linux sends the server SIGTERM instead of leaving it listening and
    holding the test database open, which would make the next run's database drop fail.
    The signal follows the thread that started the server: the test's own thread here."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


# urllib would otherwise honour *_proxy variables; every request here stays on 127.0.0.1.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


# The readiness check takes a redirect (HTTPS=true sends plain HTTP to https://) as an answer.
_readiness_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects)


@dataclass
class DaphneServer:
    port: int
    log_path: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{HOST}:{self.port}/ws/graphics"

    @property
    def origin(self) -> str:
        return self.url

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_tail(self) -> str:
        return self.log_text()[-LOG_TAIL_CHARS:]

    def is_running(self) -> bool:
        return self.process.poll() is None

    def terminate(self) -> None:
        """Ask the server to exit (SIGTERM) without waiting."""
        self._signal(signal.SIGTERM)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not exited within SHUTDOWN_TIMEOUT."""
        self._signal(signal.SIGTERM)
        try:
            self.process.wait(SHUTDOWN_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        self._signal(signal.SIGKILL)
        self.process.wait(SHUTDOWN_TIMEOUT)

    def _signal(self, signum: int) -> None:
        # The server leads its own process group (start_new_session), so anything it spawned
        # goes with it. A process already reaped is left alone: its pid may be someone else's.
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signum)

    def wait_until_ready(self) -> None:
        """Return once the server answers HTTP, which also starts its hub (lock expiry and the
        log reader run from the first request on). Fail with the log's tail otherwise."""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if not self.is_running():
                raise AssertionError(
                    f"daphne exited with {self.process.returncode} while starting:\n"
                    f"{self.log_tail()}"
                )
            try:
                with _readiness_opener.open(f"{self.url}/api/graphics/", timeout=1):
                    return
            except urllib.error.HTTPError:
                return  # 401 without a token: the application answered
            except OSError:
                time.sleep(0.1)
        raise AssertionError(
            f"daphne on port {self.port} did not answer within {STARTUP_TIMEOUT} s:\n"
            f"{self.log_tail()}"
        )


class DaphneLauncher:
    """Starts server processes for one test and stops them all after it."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.servers: list[DaphneServer] = []

    def __call__(self, *, args: Sequence[str] = (), **overrides: Any) -> DaphneServer:
        """A running server on a free port. Keyword arguments become environment variables of
        the process, e.g. `daphne_server(LOCK_TTL_SECONDS=2)`; `args` are added to daphne's
        command line (e.g. `["--proxy-headers"]`)."""
        (server,) = self.many(1, args=args, **overrides)
        return server

    def many(self, count: int, *, args: Sequence[str] = (), **overrides: Any) -> list[DaphneServer]:
        """`count` servers with the same settings, started side by side (each takes a second
        or more to import Django, so starting them one after the other would add up)."""
        servers = [self._spawn(overrides, args=args) for _ in range(count)]
        for server in servers:
            server.wait_until_ready()
        return servers

    def restart(self, server: DaphneServer, **overrides: Any) -> DaphneServer:
        """Stop `server` (SIGTERM, as a deploy does) and start a new one on the same port, so
        that clients reconnecting to the same address find it again."""
        server.stop()
        restarted = self._spawn(overrides, port=server.port)
        restarted.wait_until_ready()
        return restarted

    def _spawn(
        self, overrides: dict[str, Any], *, port: int | None = None, args: Sequence[str] = ()
    ) -> DaphneServer:
        # ASGI_SERVER=uvicorn runs the supported alternative server instead of daphne, as
        # `make run SERVER=uvicorn` does; ASGI_SERVER=daphne-plain and uvicorn-plain run either
        # without gal_dashboard.serve's fast send path (their own WebSocket protocols:
        # tests/e2e/test_fast_protocols.py).
        server_kind = overrides.pop("ASGI_SERVER", "daphne")
        log_path = self.log_dir / f"{server_kind}-{len(self.servers) + 1}.log"
        port = port or free_port()
        if server_kind == "uvicorn":
            command = [
                sys.executable, "-m", "gal_dashboard.serve", "uvicorn", "--host", HOST,
                "--port", str(port), "--no-access-log", "--lifespan", "off",
                "gal_dashboard.asgi:application",
            ]  # fmt: skip
        elif server_kind == "uvicorn-plain":
            command = [
                sys.executable, "-m", "gal_dashboard.serve", "uvicorn", "--host", HOST,
                "--port", str(port), "--ws", "websockets", "--no-access-log", "--lifespan", "off",
                "gal_dashboard.asgi:application",
            ]  # fmt: skip
        elif server_kind == "daphne-plain":
            command = [
                sys.executable, "-m", "daphne", "-b", HOST, "-p", str(port),
                "gal_dashboard.asgi:application",
            ]  # fmt: skip
        else:
            command = [
                sys.executable, "-m", "gal_dashboard.serve", "-b", HOST, "-p", str(port),
                *args, "gal_dashboard.asgi:application",
            ]  # fmt: skip
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command,
                cwd=settings.BASE_DIR,
                env=server_environment(**overrides),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_the_test_process,
            )
        server = DaphneServer(port=port, log_path=log_path, process=process)
        self.servers.append(server)
        return server

    def stop_all(self) -> None:
        for server in self.servers:
            server.terminate()
        for server in self.servers:
            server.stop()


@pytest.fixture
def daphne_server(
    transactional_db: None, django_db_serialized_rollback: None, tmp_path: Path
) -> Iterator[DaphneLauncher]:
    """daphne_server(**settings) -> a running server; daphne_server.many(2, **settings) -> two.
    Every server is stopped (killed if it lingers) after the test, before the database is
    flushed."""
    launcher = DaphneLauncher(tmp_path)
    yield launcher
    launcher.stop_all()


# ---------------------------------------------------------------------------------------------
# Network clients
# ---------------------------------------------------------------------------------------------


class NetworkClient:
    """A /ws/graphics client over a real socket. A reader task sorts every frame as it arrives:
    replies by request_id, events (frames with a `subscription`) in arrival order, the rest
    (welcome, errors without a request) in `other`. Nothing is dropped while a test waits."""

    def __init__(self, connection: ClientConnection, *, name: str):
        self.connection = connection
        self.name = name
        self.welcome: dict[str, Any] | None = None
        self.events: list[dict[str, Any]] = []
        # Presence frames (user_activity, presence_counts): ephemeral, without a seq, kept
        # apart from the events so that tests of the event stream never see them.
        self.presence: list[dict[str, Any]] = []
        self.other: list[dict[str, Any]] = []
        self.replies: dict[str, dict[str, Any]] = {}
        self.close_code: int | None = None
        self._arrived = asyncio.Condition()
        self._next_request = 0
        self._reader = asyncio.create_task(self._read(), name=f"ws-reader-{name}")

    async def _read(self) -> None:
        try:
            async for text in self.connection:
                frame = json.loads(text)
                if "request_id" in frame:
                    self.replies[frame["request_id"]] = frame
                elif frame.get("type") in ("user_activity", "presence_counts"):
                    self.presence.append(frame)
                elif "subscription" in frame:
                    self.events.append(frame)
                elif frame.get("type") == "welcome":
                    self.welcome = frame["data"]
                else:
                    self.other.append(frame)
                async with self._arrived:
                    self._arrived.notify_all()
        except ConnectionClosed:
            pass
        finally:
            self.close_code = self.connection.close_code
            async with self._arrived:
                self._arrived.notify_all()

    @property
    def closed(self) -> bool:
        return self._reader.done()

    async def wait_for(
        self, predicate: Callable[[], Any], *, timeout: float = RECEIVE_TIMEOUT, what: str = ""
    ) -> Any:
        """Wait until `predicate()` returns something truthy (checked as frames arrive); return
        it. Fails after `timeout` seconds, or if the connection closes first."""
        try:
            async with asyncio.timeout(timeout), self._arrived:
                while True:
                    result = predicate()
                    if result:
                        return result
                    if self.closed:
                        raise AssertionError(
                            f"{self.name}: closed with {self.close_code} waiting for {what}"
                        )
                    await self._arrived.wait()
        except TimeoutError:
            raise AssertionError(
                f"{self.name}: no {what or 'match'} within {timeout} s; "
                f"received (subscription, type, seq): {self.event_outline()}"
            ) from None

    def event_outline(self) -> list[tuple[Any, str, Any]]:
        return [
            (event["subscription"], event["type"], event["data"].get("seq"))
            for event in self.events
        ]

    async def request(self, message_type: str, data: dict[str, Any] | None = None) -> Any:
        """Send a request and return its reply (`ack` or `error` frame)."""
        self._next_request += 1
        request_id = f"{self.name}-{self._next_request}"
        await self.connection.send(
            json.dumps({"type": message_type, "data": data or {}, "request_id": request_id})
        )
        return await self.wait_for(
            lambda: self.replies.get(request_id), what=f"the reply to {message_type}"
        )

    async def ack(self, message_type: str, data: dict[str, Any] | None = None) -> Any:
        reply = await self.request(message_type, data)
        assert reply["type"] == "ack", reply
        return reply["data"]

    def events_of(
        self,
        subscription: Any,
        event_type: str | None = None,
        **fields: Any,
    ) -> list[dict[str, Any]]:
        """Events received on `subscription`, optionally of one type and with these `data`
        values, in arrival order."""
        return [
            event
            for event in self.events
            if event["subscription"] == subscription
            and (event_type is None or event["type"] == event_type)
            and all(event["data"].get(key) == value for key, value in fields.items())
        ]

    async def next_event(
        self,
        subscription: Any,
        event_type: str | None = None,
        *,
        timeout: float = RECEIVE_TIMEOUT,
        **fields: Any,
    ) -> dict[str, Any]:
        """The first received event that matches (see `events_of`), waiting for it if needed."""
        matches = await self.wait_for(
            lambda: self.events_of(subscription, event_type, **fields),
            timeout=timeout,
            what=f"{event_type or 'event'} on {subscription!r} with {fields}",
        )
        return dict(matches[0])

    def presence_of(self, frame_type: str = "user_activity", **fields: Any) -> list[dict[str, Any]]:
        """Presence frames received, of one type and with these `data` values."""
        return [
            frame
            for frame in self.presence
            if frame["type"] == frame_type
            and all(frame["data"].get(key) == value for key, value in fields.items())
        ]

    async def next_presence(
        self, frame_type: str = "user_activity", *, timeout: float = RECEIVE_TIMEOUT, **fields: Any
    ) -> dict[str, Any]:
        """The first received presence frame that matches, waiting for it if needed."""
        matches = await self.wait_for(
            lambda: self.presence_of(frame_type, **fields),
            timeout=timeout,
            what=f"{frame_type} with {fields}",
        )
        return dict(matches[0])

    async def close(self) -> None:
        await self.connection.close()
        with contextlib.suppress(Exception):
            await self._reader


async def open_client(
    server: DaphneServer,
    *,
    token: str | None = None,
    origin: str | None = None,
    name: str = "client",
    expect_welcome: bool = True,
) -> NetworkClient:
    """Connect to `server` (with `?token=` when given) and, by default, wait for the welcome."""
    url = server.ws_url if token is None else f"{server.ws_url}?token={token}"
    headers = {"Origin": origin} if origin is not None else None
    connection = await connect(
        url, additional_headers=headers, proxy=None, open_timeout=RECEIVE_TIMEOUT
    )
    client = NetworkClient(connection, name=name)
    if expect_welcome:
        await client.wait_for(lambda: client.welcome, what="the welcome")
    return client


@pytest.fixture
async def ws_connect(
    daphne_server: DaphneLauncher,
) -> AsyncIterator[Callable[..., Any]]:
    """await ws_connect(server, user) -> a NetworkClient authenticated with a token for `user`,
    closed after the test (before the servers stop: this fixture depends on theirs)."""
    clients: list[NetworkClient] = []

    async def open_for(server: DaphneServer, user: Any, **options: Any) -> NetworkClient:
        options.setdefault("name", f"{user.get_username()}@{server.port}")
        client = await open_client(server, token=token_for(user), **options)
        clients.append(client)
        return client

    yield open_for
    for client in clients:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.close(), RECEIVE_TIMEOUT)


@dataclass
class RestResponse:
    status: int
    body: Any


class RestClient:
    """The REST API of one server, as one user (Bearer token). Calls run in a thread so that the
    test's WebSocket readers keep reading meanwhile."""

    def __init__(
        self, server: Any, token: str, *, opener: urllib.request.OpenerDirector | None = None
    ):
        # `server`: anything with a `url` (a DaphneServer, or a proxy in front of some).
        self.server = server
        self.token = token
        self.opener = opener or _opener

    def call_blocking(
        self, method: str, path: str, body: Any = None, *, parse_json: bool = True
    ) -> RestResponse:
        request = urllib.request.Request(
            f"{self.server.url}{path}",
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
        )
        try:
            with self.opener.open(request, timeout=REST_TIMEOUT) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        if not parse_json:
            return RestResponse(status=status, body=raw.decode("utf-8", errors="replace"))
        return RestResponse(status=status, body=json.loads(raw) if raw else None)

    async def call(self, method: str, path: str, body: Any = None) -> RestResponse:
        return await asyncio.to_thread(self.call_blocking, method, path, body)

    async def call_text(self, method: str, path: str) -> RestResponse:
        """The response body as text (metrics, pages), not JSON."""
        return await asyncio.to_thread(self.call_blocking, method, path, None, parse_json=False)


@pytest.fixture
def rest_client() -> Callable[[DaphneServer, Any], RestClient]:
    """rest_client(server, user) -> a RestClient with a token for `user`."""

    def make(server: DaphneServer, user: Any) -> RestClient:
        return RestClient(server, token_for(user))

    return make


async def wait_until_ready(api: RestClient) -> None:
    """The server is ready once its hub's first probe has come back (a fraction of a second)."""
    for _ in range(50):
        if (await api.call("GET", "/readyz")).status == 200:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"/readyz never became ready: {(await api.call('GET', '/readyz')).body}")

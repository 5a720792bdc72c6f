"""
The deployment as documented: nginx, configured with the block in docs/deployment.md, in front
of two daphne processes started as the systemd unit starts them (`--proxy-headers`,
HTTPS=true). The configuration is read from the markdown at every run, so a change to the
documentation is what gets tested; only the listening ports, the upstream ports and the
certificate paths are substituted (and, for one test, the proxy timeouts, scaled down).

Covered: TLS and the WebSocket upgrade (a change through one server reaches a subscriber on the
other, both connected through nginx), the client's address in X-Forwarded-For reaching the
access log and WS_ALLOWED_NETWORKS (a client's own X-Forwarded-For is overwritten), the proxy
read timeout against the heartbeat, static and media files, and the port-80 redirect.

Needs nginx (`apt-get install nginx-light`; `.ci/run` installs it) and openssl; without them
the tests skip, except under CI=true, where they fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from websockets.asyncio.client import connect

from tests.e2e.conftest import (
    HOST,
    RECEIVE_TIMEOUT,
    STARTUP_TIMEOUT,
    DaphneServer,
    NetworkClient,
    RestClient,
    die_with_the_test_process,
    free_port,
    token_for,
)
from tests.e2e.test_multi_server import (
    assert_each_client_got_the_log_once_in_order,
    change_through_both_servers,
    subscribe,
)

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

DEPLOYMENT_DOC = Path(settings.BASE_DIR) / "docs" / "deployment.md"
HOW_TO_INSTALL = (
    "needs nginx and openssl: `apt-get install -y nginx-light openssl` (`.ci/run` installs "
    "nginx), or put nginx on PATH"
)
# Addresses of 127.0.0.0/8 other than nginx's own 127.0.0.1: clients bind to these, so that
# the address nginx forwards is not the one daphne sees the proxy connect from.
CLIENT = "127.0.0.5"
OUTSIDER = "127.0.0.6"
# The documented `location /ws/` timeouts, scaled down for the timeout test.
SCALED_PROXY_TIMEOUT_SECONDS = 3


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx",) if os.access(path, os.X_OK)), None
    )


@pytest.fixture(autouse=True)
def _needs_nginx() -> None:
    if nginx_binary() and shutil.which("openssl"):
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true: tests/e2e/test_nginx.py {HOW_TO_INSTALL}")
    pytest.skip(HOW_TO_INSTALL)


def documented_config() -> str:
    """The ```nginx block of docs/deployment.md."""
    blocks = re.findall(r"```nginx\n(.*?)```", DEPLOYMENT_DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1, f"docs/deployment.md should have one nginx block, has {len(blocks)}"
    return str(blocks[0])


def substitute(config: str, old: str, new: str) -> str:
    """`config` with `old` replaced; fails if the documentation no longer has `old`, so that
    a changed document is noticed here rather than tested half-substituted."""
    assert old in config, f"docs/deployment.md's nginx block no longer has {old!r}"
    return config.replace(old, new)


def documented_ws_timeout(directive: str) -> int:
    """A `location /ws/` timeout of the documented config, in seconds."""
    location = documented_config().split("location /ws/", 1)[1].split("}", 1)[0]
    match = re.search(rf"{directive}\s+(\d+)s;", location)
    assert match, f"no {directive} in location /ws/"
    return int(match.group(1))


@dataclass
class Nginx:
    https_port: int
    http_port: int
    directory: Path
    process: subprocess.Popen[bytes]
    tls: ssl.SSLContext

    @property
    def url(self) -> str:
        return f"https://{HOST}:{self.https_port}"

    @property
    def ws_url(self) -> str:
        return f"wss://{HOST}:{self.https_port}/ws/graphics"

    def error_log(self) -> str:
        path = self.directory / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def rest(self, token: str) -> RestClient:
        opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=self.tls)
        )
        return RestClient(self, token, opener=opener)

    def get(
        self, path: str, *, source: str = CLIENT, https: bool = True
    ) -> tuple[int, dict[str, str], bytes]:
        """A plain GET from `source`, without following redirects."""
        connection: http.client.HTTPConnection
        if https:
            connection = http.client.HTTPSConnection(
                HOST, self.https_port, timeout=RECEIVE_TIMEOUT, context=self.tls,
                source_address=(source, 0),
            )  # fmt: skip
        else:
            connection = http.client.HTTPConnection(
                HOST, self.http_port, timeout=RECEIVE_TIMEOUT, source_address=(source, 0)
            )
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    async def open_client(
        self,
        token: str,
        *,
        source: str = CLIENT,
        name: str = "client",
        headers: dict[str, str] | None = None,
        expect_welcome: bool = True,
    ) -> NetworkClient:
        connection = await connect(
            f"{self.ws_url}?token={token}",
            ssl=self.tls,
            proxy=None,
            open_timeout=RECEIVE_TIMEOUT,
            additional_headers=headers,
            local_addr=(source, 0),
        )
        client = NetworkClient(connection, name=name)
        if expect_welcome:
            await client.wait_for(lambda: client.welcome, what="the welcome")
        return client


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    certificate, key = directory / "fullchain.pem", directory / "privkey.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", f"/CN={HOST}", "-addext", f"subjectAltName=IP:{HOST},DNS:localhost",
            "-keyout", str(key), "-out", str(certificate),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return certificate, key


def nginx_config(
    upstreams: list[DaphneServer],
    *,
    https_port: int,
    http_port: int,
    directory: Path,
    certificate: Path,
    key: Path,
    ws_timeout_seconds: int | None = None,
) -> str:
    """The documented config with our ports and paths, inside the main and http contexts that a
    distribution's nginx.conf would provide."""
    config = documented_config()
    # One server stands in twice for a test that needs only one.
    ports = [server.port for server in upstreams] * 2
    for documented_port, port in zip((8001, 8002), ports, strict=False):
        config = substitute(config, f"127.0.0.1:{documented_port} ", f"{HOST}:{port} ")
    config = "\n".join(line for line in config.splitlines() if "127.0.0.1:8003" not in line)
    config = substitute(config, "listen 443 ssl http2;", f"listen {HOST}:{https_port} ssl http2;")
    config = substitute(config, "listen 80;", f"listen {HOST}:{http_port};")
    config = substitute(config, "/etc/letsencrypt/live/live.gal.gg/fullchain.pem", str(certificate))
    config = substitute(config, "/etc/letsencrypt/live/live.gal.gg/privkey.pem", str(key))
    if ws_timeout_seconds is not None:
        for directive in ("proxy_read_timeout", "proxy_send_timeout"):
            documented = f"{directive} {documented_ws_timeout(directive)}s;"
            config = substitute(config, documented, f"{directive} {ws_timeout_seconds}s;")
    temp = directory / "temp"
    temp.mkdir(exist_ok=True)
    # As root (CI's container), workers would otherwise run as nobody, who cannot write the
    # temporary files under the test's directory.
    user = "user root;\n" if os.geteuid() == 0 else ""
    return (
        f"{user}daemon off;\nworker_processes 1;\npid {directory / 'nginx.pid'};\n"
        f"error_log {directory / 'error.log'} info;\n"
        "events { worker_connections 256; }\n"
        "http {\n"
        f"    access_log {directory / 'access.log'};\n"
        f"    client_body_temp_path {temp / 'body'};\n"
        f"    proxy_temp_path {temp / 'proxy'};\n"
        f"    fastcgi_temp_path {temp / 'fastcgi'};\n"
        f"    uwsgi_temp_path {temp / 'uwsgi'};\n"
        f"    scgi_temp_path {temp / 'scgi'};\n"
        f"{config}\n"
        "}\n"
    )


class NginxLauncher:
    def __init__(self, directory: Path):
        self.directory = directory
        self.running: list[Nginx] = []

    def __call__(
        self, upstreams: list[DaphneServer], *, ws_timeout_seconds: int | None = None
    ) -> Nginx:
        directory = self.directory / f"nginx-{len(self.running) + 1}"
        directory.mkdir()
        certificate, key = self_signed_certificate(directory)
        https_port, http_port = free_port(), free_port()
        config = directory / "nginx.conf"
        config.write_text(
            nginx_config(
                upstreams, https_port=https_port, http_port=http_port, directory=directory,
                certificate=certificate, key=key, ws_timeout_seconds=ws_timeout_seconds,
            )
        )  # fmt: skip
        binary = nginx_binary()
        assert binary
        command = [binary, "-p", str(directory), "-c", str(config), "-e", "stderr"]
        with (directory / "stderr.log").open("wb") as log:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_the_test_process,
            )
        tls = ssl.create_default_context(cafile=str(certificate))
        nginx = Nginx(https_port, http_port, directory, process, tls)
        self.running.append(nginx)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                output = (directory / "stderr.log").read_text(errors="replace")
                raise AssertionError(
                    f"nginx exited with {process.returncode}:\n{output}\n{config.read_text()}"
                )
            with contextlib.suppress(OSError), socket.create_connection((HOST, https_port), 1):
                return nginx
            time.sleep(0.05)
        raise AssertionError(f"nginx did not listen within {STARTUP_TIMEOUT} s")

    def stop_all(self) -> None:
        for nginx in self.running:
            if nginx.process.poll() is None:
                # SIGQUIT: nginx's graceful stop; its workers leave with it.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(nginx.process.pid, signal.SIGQUIT)
                try:
                    nginx.process.wait(5)
                except subprocess.TimeoutExpired:
                    os.killpg(nginx.process.pid, signal.SIGKILL)
                    nginx.process.wait(5)


@pytest.fixture
def nginx(daphne_server: Any, tmp_path: Path) -> Iterator[NginxLauncher]:
    """nginx(servers) -> nginx with the documented config in front of `servers`; stopped after
    the test, before the servers (this fixture depends on theirs)."""
    launcher = NginxLauncher(tmp_path)
    yield launcher
    launcher.stop_all()


def documented_servers(daphne_server: Any, **overrides: Any) -> list[DaphneServer]:
    """Two servers as the documented systemd unit starts them: behind the proxy, over HTTPS."""
    return list(daphne_server.many(2, args=["--proxy-headers"], HTTPS="true", **overrides))


def server_of(connection_id: str, servers: list[DaphneServer]) -> DaphneServer:
    """The server whose access log has the connection (nginx chose it)."""
    deadline = time.monotonic() + RECEIVE_TIMEOUT
    while time.monotonic() < deadline:
        found = [server for server in servers if connection_id in server.log_text()]
        if found:
            assert len(found) == 1
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no server logged connection {connection_id}")


def access_lines(server: DaphneServer) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for line in server.log_text().splitlines()
        if line.startswith("{") and '"gal.access"' in line
    ]


@pytest.mark.postgres
@pytest.mark.redis
async def test_changes_through_nginx_reach_subscribers_on_both_servers(
    daphne_server: Any, nginx: Any, editor: Any, editor2: Any, viewer: Any, graphic: Any
) -> None:
    """Every client connects through nginx (TLS, WebSocket upgrade) and nginx spreads them over
    both servers: changes made over the WebSocket and over REST reach the subscribers on
    both, each event once and in the log's order."""
    servers = documented_servers(daphne_server, EVENT_POLL_INTERVAL_SECONDS=60)
    proxy = nginx(servers)
    ws_editor = await proxy.open_client(token_for(editor), name="editor")
    # least_conn: with the editor's socket open on one server, the next goes to the other.
    viewers = [await proxy.open_client(token_for(viewer), name=f"viewer-{n}") for n in range(2)]
    clients = [ws_editor, *viewers]
    placed = {
        client.name: server_of((client.welcome or {})["connection_id"], servers).port
        for client in clients
    }
    assert placed["editor"] != placed["viewer-0"], placed
    snapshot_seq = await subscribe(clients, graphic.pk)

    await change_through_both_servers(
        ws_editor=ws_editor, rest_editor=proxy.rest(token_for(editor2)), graphic=graphic
    )

    await assert_each_client_got_the_log_once_in_order(clients, graphic.pk, snapshot_seq, 5)
    for client in clients:
        await client.close()


async def test_the_client_address_nginx_forwards_is_logged_and_checked(
    daphne_server: Any, nginx: Any, viewer: Any
) -> None:
    """nginx puts the client's address in X-Forwarded-For, overwriting any the client sent:
    the access log shows it, and WS_ALLOWED_NETWORKS admits or refuses by it, not by
    nginx's own address or a header the client made up."""
    servers = documented_servers(daphne_server, WS_ALLOWED_NETWORKS=f"{CLIENT}/32")
    proxy = nginx(servers)

    inside = await proxy.open_client(
        token_for(viewer), source=CLIENT, headers={"X-Forwarded-For": "203.0.113.9"}
    )
    assert inside.welcome is not None
    server = server_of(inside.welcome["connection_id"], servers)
    await inside.close()
    outsider = await proxy.open_client(
        token_for(viewer),
        source=OUTSIDER,
        name="outsider",
        headers={"X-Forwarded-For": CLIENT},
        expect_welcome=False,
    )
    await outsider.wait_for(lambda: outsider.closed, what="the close")

    assert outsider.close_code == 4003
    (refusal,) = [frame for frame in outsider.other if frame["type"] == "error"]
    assert refusal["data"]["code"] == "network_not_allowed"
    assert refusal["data"]["details"] == {"address": OUTSIDER}
    connects = [
        line
        for line in access_lines(server)
        if line["connection_id"] == inside.welcome["connection_id"]
    ]
    assert connects and {line["remote_address"] for line in connects} == {CLIENT}, connects
    # daphne's own access log (--proxy-headers) names the client too, not nginx.
    assert any(
        line.startswith(f"{CLIENT}:") and "WSCONNECT /ws/graphics" in line
        for line in server.log_text().splitlines()
    ), server.log_tail()


def test_static_and_media_files_are_served_through_nginx(
    daphne_server: Any, nginx: Any, tmp_path: Path
) -> None:
    """A static file (WhiteNoise) and an uploaded background (MEDIA_ROOT) arrive through nginx
    byte for byte; plain HTTP on port 80 is redirected to https."""
    media = tmp_path / "media"
    (media / "backgrounds").mkdir(parents=True)
    background = os.urandom(2048)
    (media / "backgrounds" / "stage.png").write_bytes(background)
    servers = documented_servers(
        daphne_server, MEDIA_ROOT=str(media), WHITENOISE_USE_FINDERS="true"
    )
    proxy = nginx(servers)
    static_file = Path(settings.BASE_DIR) / "dashboard" / "static" / "dashboard" / "editor.js"

    status, headers, body = proxy.get("/static/dashboard/editor.js")
    assert (status, body) == (200, static_file.read_bytes()), proxy.error_log()
    assert "max-age=31536000" in headers.get("Strict-Transport-Security", "")
    status, _, body = proxy.get("/media/backgrounds/stage.png")
    assert (status, body) == (200, background)
    status, _, _ = proxy.get("/media/backgrounds/missing.png")
    assert status == 404

    status, headers, _ = proxy.get("/graphics/", https=False)
    assert status == 301
    assert headers["Location"] == f"https://{HOST}/graphics/"


def test_the_documented_proxy_timeout_outlasts_the_heartbeat() -> None:
    """nginx's read timeout on /ws/ is longer than the server's default heartbeat interval
    (twice over, so one late heartbeat does not cut a healthy socket)."""
    heartbeat = float(
        re.search(  # type: ignore[union-attr]
            r'env_float\("WS_HEARTBEAT_INTERVAL_SECONDS", ([\d.]+)',
            (Path(settings.BASE_DIR) / "gal_dashboard" / "settings.py").read_text(),
        ).group(1)
    )
    assert documented_ws_timeout("proxy_read_timeout") >= 2 * heartbeat
    assert documented_ws_timeout("proxy_send_timeout") >= 2 * heartbeat


async def test_heartbeats_keep_a_quiet_socket_open_through_nginx(
    daphne_server: Any, nginx: Any, viewer: Any
) -> None:
    """With the proxy timeouts scaled down to 3 s: a client that sends nothing stays
    connected well past them while the heartbeat (1 s) comes more often; with a heartbeat
    slower than the timeout, nginx cuts the same socket. This is why the documented timeout
    must outlast the heartbeat."""
    fast, slow = (
        daphne_server(
            args=["--proxy-headers"],
            HTTPS="true",
            WS_HEARTBEAT_INTERVAL_SECONDS=heartbeat,
            WS_IDLE_TIMEOUT_SECONDS=60,
        )
        for heartbeat in (1, 20)
    )
    kept = await nginx([fast], ws_timeout_seconds=SCALED_PROXY_TIMEOUT_SECONDS).open_client(
        token_for(viewer), name="heartbeats"
    )
    cut = await nginx([slow], ws_timeout_seconds=SCALED_PROXY_TIMEOUT_SECONDS).open_client(
        token_for(viewer), name="no-heartbeats"
    )

    await asyncio.sleep(2 * SCALED_PROXY_TIMEOUT_SECONDS + 1)

    assert not kept.closed
    assert [frame["type"] for frame in kept.other].count("heartbeat") >= 3
    assert cut.closed
    assert cut.close_code == 1006  # nginx dropped the connection: no close frame
    await kept.close()

"""
`python -m gal_dashboard.serve [daphne options] gal_dashboard.asgi:application`
`python -m gal_dashboard.serve uvicorn [uvicorn options] gal_dashboard.asgi:application`

Daphne (or uvicorn, the supported alternative) with one difference: everything it writes to
stdout and stderr passes through `redact_secrets`. Both servers log request URIs with their
query strings (daphne's access log; uvicorn's "WebSocket ... [accepted]" line, even without
an access log), so a `?token=` or `?key=` would otherwise reach the log; our own loggers are
redacted by a filter.

It also starts either server with its own WebSocket message limit set from
WS_MAX_MESSAGE_BYTES (`realtime.connection.limits.server_message_limit`): daphne at the limit itself
(it drops the TCP connection of a larger message, and autobahn does not let an application close
with 1009), uvicorn at twice the limit (the application answers a message over the limit with
`too_large` and 1009; uvicorn closes with 1009 past twice). Options given on the command line
come later and win.

daphne also gets timeouts for slow and silent connections, from settings:
HTTP_RESPONSE_TIMEOUT_SECONDS (`--http-timeout`), WS_CONNECT_TIMEOUT_SECONDS
(`--websocket_connect_timeout`), and two its command line does not offer, set on Twisted's HTTP
channel: HTTP_IDLE_TIMEOUT_SECONDS (Twisted's idle timeout, 60 s by default) and
HTTP_HEADER_TIMEOUT_SECONDS (a deadline on each request's headers: Twisted restarts its idle
timer on every byte, so headers sent a byte at a time would hold a connection forever).

Without SERVER_ID in the environment, the process is named `<hostname>:<port>` from its `-p` /
`--port` option: stable across restarts (the metrics' `server` label and the connection
registry keep one name per process) and distinct for several processes on one host. With
LOG_FORMAT=json, daphne's access log is written as JSON lines too (logger `daphne.access`).

daphne's WebSocket protocol is replaced by `gal_dashboard.daphne_fast.FastWebSocketProtocol`
(frames each shared text once, coalesces writes per loop turn, and compresses large frames
with permessage-deflate when WS_COMPRESSION is "auto"; issue 17). uvicorn negotiates
permessage-deflate itself; WS_COMPRESSION = "off" turns it off there too
(`--ws-per-message-deflate false`). uvicorn's is replaced by
`gal_dashboard.uvicorn_fast.FastWebSocketProtocol` (frames each shared text once, writes it
without websockets' per-send layers, and compresses only texts of WS_COMPRESSION_MIN_BYTES).
"""

from __future__ import annotations

import atexit
import importlib
import io
import logging
import os
import re
import socket
import sys
from functools import partial
from typing import Any, TextIO

# daphne.cli imports daphne.server, which installs Twisted's asyncio reactor: before twisted.web.
from daphne.access import AccessLogGenerator
from daphne.cli import CommandLineInterface
from daphne.server import Server
from twisted.internet.protocol import connectionDone
from twisted.python.failure import Failure
from twisted.web import http

from gal_dashboard.daphne_fast import configure_factory
from gal_dashboard.gc_tuning import tune_for_serving
from gal_dashboard.logging import StructuredLine, redact_secrets
from gal_dashboard.ws_frames import WRITE_TEXT_SCOPE_KEY


class RedactingStream(io.TextIOBase):
    """A text stream that redacts each line before passing it on."""

    def __init__(self, target: TextIO):
        self.target = target
        self._partial = ""

    def write(self, text: str) -> int:
        self._partial += text
        *lines, self._partial = self._partial.split("\n")
        for line in lines:
            self.target.write(redact_secrets(line) + "\n")
        self.target.flush()
        return len(text)

    def flush(self) -> None:
        if self._partial:
            self.target.write(redact_secrets(self._partial))
            self._partial = ""
        self.target.flush()

    def isatty(self) -> bool:
        return False


def _settings() -> Any:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gal_dashboard.settings")
    from django.conf import settings

    return settings


def message_limit_options(server: str) -> list[str]:
    """The server's own WebSocket message size options (see the module docstring)."""
    _settings()
    from realtime.connection.limits import server_message_limit

    limit = str(server_message_limit(server))
    if server == "uvicorn":
        return ["--ws-max-size", limit]
    return ["--websocket-max-message-size", limit, "--websocket-max-frame-size", limit]


def compression_options(server: str) -> list[str]:
    """uvicorn's permessage-deflate switch, from WS_COMPRESSION (daphne's is in
    `TimedServer.ws_factory`)."""
    settings = _settings()
    if server == "uvicorn" and settings.WS_COMPRESSION == "off":
        return ["--ws-per-message-deflate", "false"]
    return []


def uvicorn_protocol_options() -> list[str]:
    """uvicorn's WebSocket protocol: gal_dashboard.uvicorn_fast's, with the cheaper send path.
    A `--ws` given on the command line comes later and wins."""
    return ["--ws", "gal_dashboard.uvicorn_fast:FastWebSocketProtocol"]


def timeout_options() -> list[str]:
    """daphne's own timeout options, from settings (see the module docstring)."""
    settings = _settings()
    return [
        "--http-timeout", str(settings.HTTP_RESPONSE_TIMEOUT_SECONDS),
        "--websocket_connect_timeout", str(settings.WS_CONNECT_TIMEOUT_SECONDS),
    ]  # fmt: skip


def listening_port(args: list[str]) -> str | None:
    """The TCP port a daphne (`-p`, `--port`) or uvicorn (`--port`) command line listens on."""
    for index, arg in enumerate(args):
        if arg in ("-p", "--port") and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith("--port="):
            return arg.removeprefix("--port=")
    return None


def default_server_id(args: list[str]) -> None:
    """Name this process `<hostname>:<port>` unless SERVER_ID says otherwise (module docstring).
    Set in the environment, before the settings are read, so that settings.SERVER_ID has it."""
    port = listening_port(args)
    if port and not os.environ.get("SERVER_ID"):
        os.environ["SERVER_ID"] = f"{socket.gethostname()}:{port}"


APPLICATION_PATH = re.compile(r"^[\w.]+:[\w.]+$")


def load_application_and_tune_gc(args: list[str]) -> None:
    """Import the application the command line names (the server would, and then finds it
    imported), then tune garbage collection for serving (gal_dashboard.gc_tuning): what loading
    made is frozen, and full collections, which stop the event loop, come less often."""
    application = next((arg for arg in reversed(args) if APPLICATION_PATH.match(arg)), None)
    if application is not None:
        importlib.import_module(application.split(":")[0])
    tune_for_serving(_settings().GC_FULL_COLLECTION_THRESHOLD)


def leave_the_metrics_on_exit() -> None:
    """In prometheus-client's multiprocess mode, drop this process's live gauges (open
    connections) from the shared directory when it exits; its counters stay in the sums."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        atexit.register(multiprocess.mark_process_dead, os.getpid())


class JsonAccessLog(AccessLogGenerator):
    """daphne's access log as logging records of `daphne.access` (JSON lines with
    LOG_FORMAT=json): client, request, status and size as fields."""

    logger = logging.getLogger("daphne.access")

    def write_entry(
        self,
        host: str,
        date: Any,
        request: str,
        status: int | None = None,
        length: int | None = None,
        ident: str | None = None,
        user: str | None = None,
    ) -> None:
        self.logger.info(
            StructuredLine(
                {"event": "request", "client": host, "request": request, "status": status,
                 "size": length}
            )
        )  # fmt: skip


class HeaderDeadlineChannel(http.HTTPChannel):
    """Twisted's HTTP/1.1 channel with a deadline on each request's headers: from the moment
    it waits for a request (the connection opened, or the previous response went out) until
    that request's headers are complete, whatever trickles in meanwhile. Past it, the
    connection is closed as Twisted closes an idle one.

    Only HTTP/1.1: Twisted offers HTTP/2 only over TLS with ALPN, and daphne here sits behind
    nginx, which ends TLS (docs/deployment.md)."""

    def __init__(self, *, header_timeout: float):
        super().__init__()
        self.header_timeout = header_timeout
        self._header_deadline: Any = None  # the pending callLater, while waiting

    def connectionMade(self) -> None:
        super().connectionMade()
        self._wait_for_headers()

    def allHeadersReceived(self) -> None:
        self._stop_waiting_for_headers()
        super().allHeadersReceived()

    def requestDone(self, request: Any) -> None:
        # Armed before the next request is read: its headers may already be buffered, and
        # reading them (inside requestDone) disarms the deadline again.
        if self.persistent:
            self._wait_for_headers()
        super().requestDone(request)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._stop_waiting_for_headers()
        super().connectionLost(reason)

    def _wait_for_headers(self) -> None:
        self._stop_waiting_for_headers()
        self._header_deadline = self.callLater(self.header_timeout, self._headers_overdue)

    def _stop_waiting_for_headers(self) -> None:
        deadline, self._header_deadline = self._header_deadline, None
        if deadline is not None and deadline.active():
            deadline.cancel()

    def _headers_overdue(self) -> None:
        self._header_deadline = None
        self.timeoutConnection()


class TimedServer(Server):
    """daphne's Server with HTTP_HEADER_TIMEOUT_SECONDS and HTTP_IDLE_TIMEOUT_SECONDS on its
    HTTP connections. `Server.run` builds its HTTP factory inline (`self.http_factory =
    HTTPFactory(self)`), so the factory is adjusted here, as it is stored, before it listens."""

    def __init__(
        self,
        *args: Any,
        header_timeout: float,
        idle_timeout: float,
        compression: str = "off",
        compression_min_bytes: int = 1024,
        **kwargs: Any,
    ):
        if kwargs.get("action_logger") is not None and _settings().LOG_FORMAT == "json":
            kwargs["action_logger"] = JsonAccessLog(None)
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout
        self.idle_timeout = idle_timeout
        self.compression = compression
        self.compression_min_bytes = compression_min_bytes

    @property
    def http_factory(self) -> Any:
        return self._http_factory

    @http_factory.setter
    def http_factory(self, factory: Any) -> None:
        factory.timeOut = self.idle_timeout
        factory.protocol = partial(HeaderDeadlineChannel, header_timeout=self.header_timeout)
        self._http_factory = factory

    def create_application(self, protocol: Any, scope: dict[str, Any]) -> Any:
        # The fast protocol's synchronous write, offered to the application in the scope
        # (gal_dashboard.ws_frames.WRITE_TEXT_SCOPE_KEY).
        write_text = getattr(protocol, "write_text_now", None)
        if write_text is not None:
            scope[WRITE_TEXT_SCOPE_KEY] = write_text
        return super().create_application(protocol, scope)

    # The WebSocket factory likewise (issue 17): the fast protocol, and compression.
    @property
    def ws_factory(self) -> Any:
        return self._ws_factory

    @ws_factory.setter
    def ws_factory(self, factory: Any) -> None:
        configure_factory(
            factory, compression=self.compression, min_bytes=self.compression_min_bytes
        )
        self._ws_factory = factory


def timed_daphne() -> CommandLineInterface:
    """daphne's command line, serving with `TimedServer`."""
    settings = _settings()
    cli = CommandLineInterface()
    cli.server_class = partial(
        TimedServer,
        header_timeout=settings.HTTP_HEADER_TIMEOUT_SECONDS,
        idle_timeout=settings.HTTP_IDLE_TIMEOUT_SECONDS,
        compression=settings.WS_COMPRESSION,
        compression_min_bytes=settings.WS_COMPRESSION_MIN_BYTES,
    )
    return cli


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    # Replaced before either server configures logging, so its handlers write through these.
    sys.stdout = RedactingStream(sys.stdout)
    sys.stderr = RedactingStream(sys.stderr)
    default_server_id(args)
    leave_the_metrics_on_exit()
    load_application_and_tune_gc(args)
    if args[:1] == ["uvicorn"]:
        import uvicorn.main

        # Both parsers keep the last value of an option given twice: the caller's wins.
        uvicorn.main.main(
            [
                *message_limit_options("uvicorn"),
                *compression_options("uvicorn"),
                *uvicorn_protocol_options(),
                *args[1:],
            ]
        )
    else:
        timed_daphne().run([*message_limit_options("daphne"), *timeout_options(), *args])


if __name__ == "__main__":
    main()

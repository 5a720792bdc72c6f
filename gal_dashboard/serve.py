"""
`python -m gal_dashboard.serve [daphne options] gal_dashboard.asgi:application`
`python -m gal_dashboard.serve uvicorn [uvicorn options] gal_dashboard.asgi:application`

Daphne (or uvicorn, the supported alternative) with one difference: everything it writes to
stdout and stderr passes through `redact_secrets`. Both servers log request URIs with their
query strings (daphne's access log; uvicorn's "WebSocket ... [accepted]" line, even without
an access log), so a `?token=` or `?key=` would otherwise reach the log; our own loggers are
redacted by a filter.

It also starts either server with its own WebSocket message limit set from
WS_MAX_MESSAGE_BYTES (`realtime.limits.server_message_limit`): daphne at the limit itself (it
drops the TCP connection of a larger message, and autobahn does not let an application close
with 1009), uvicorn at twice the limit (the application answers a message over the limit with
`too_large` and 1009; uvicorn closes with 1009 past twice). Options given on the command line
come later and win.
"""

from __future__ import annotations

import io
import os
import sys
from typing import TextIO

from daphne.cli import CommandLineInterface

from gal_dashboard.logging import redact_secrets


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


def message_limit_options(server: str) -> list[str]:
    """The server's own WebSocket message size options (see the module docstring)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gal_dashboard.settings")
    from realtime.limits import server_message_limit

    limit = str(server_message_limit(server))
    if server == "uvicorn":
        return ["--ws-max-size", limit]
    return ["--websocket-max-message-size", limit, "--websocket-max-frame-size", limit]


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    # Replaced before either server configures logging, so its handlers write through these.
    sys.stdout = RedactingStream(sys.stdout)
    sys.stderr = RedactingStream(sys.stderr)
    if args[:1] == ["uvicorn"]:
        import uvicorn.main

        # Both parsers keep the last value of an option given twice: the caller's wins.
        uvicorn.main.main([*message_limit_options("uvicorn"), *args[1:]])
    else:
        CommandLineInterface().run([*message_limit_options("daphne"), *args])


if __name__ == "__main__":
    main()

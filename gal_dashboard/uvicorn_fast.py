"""
uvicorn's WebSocket protocol (its `websockets` implementation) with a cheaper send path.
`gal_dashboard.serve uvicorn` installs it (`--ws gal_dashboard.uvicorn_fast:FastWebSocketProtocol`),
so `make run SERVER=uvicorn` and `make bench` use it. Plain `uvicorn
gal_dashboard.asgi:application` works without it, only slower per delivery.

Where uvicorn spends a delivery (docs/performance.md, "Issue 17"): for every socket its
`asgi_send` awaits websockets' `send`, which checks the state, encodes the text, builds a `Frame`,
runs it through the extensions (permessage-deflate compresses every message, small or not),
serializes it, writes it and awaits a drain: half a dozen coroutine and method layers around one
`transport.write`. This protocol:

1. **Frames each text once per loop turn.** A broadcast hands every socket of an audience the
   *same* `str` object (realtime.delivery.frames.EventFrames); its frame bytes are cached by that
   object's identity until the turn ends, and each socket gets one `transport.write`.
2. **Writes without a coroutine.** It offers the application a synchronous write in the scope
   (gal_dashboard.ws_frames.WRITE_TEXT_SCOPE_KEY), which realtime.connection.outbox uses for
   each frame while the socket keeps up; ASGI `send` stays for everything else.
3. **Waits only when it must.** After the write it awaits websockets' flow control only when
   the transport asked to pause (a client that does not read), so the backpressure that bounds a
   slow reader's queue (WS_SEND_BACKLOG_BYTES) works as before.
4. **Compresses only where it pays.** With permessage-deflate negotiated, texts of at least
   WS_COMPRESSION_MIN_BYTES take websockets' path and are compressed; smaller ones go out plain
   (RSV1 clear), which RFC 7692 allows for any message.

Anything else (bytes, a close, a socket that is not open, websockets' debug logging) takes
uvicorn's own path. The internals it relies on are pinned with the uvicorn extra in
pyproject.toml and checked by tests/test_server_pins.py.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_impl import WebSocketProtocol
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from gal_dashboard.ws_frames import TURN_FRAMES, WRITE_TEXT_SCOPE_KEY


class FastWebSocketProtocol(WebSocketProtocol):
    """uvicorn's `websockets` protocol with the send path described in the module docstring."""

    compression_min_bytes: int | None = None  # WS_COMPRESSION_MIN_BYTES, read on first use

    async def run_asgi(self) -> None:
        # The application finds the direct write in its scope (realtime.connection.outbox).
        self.scope[WRITE_TEXT_SCOPE_KEY] = self.write_text_now  # type: ignore[literal-required]
        await super().run_asgi()

    def write_text_now(self, text: str) -> bool:
        """Write `text` as a frame now, if nothing stands in the way; False: send it through
        ASGI instead (a client that does not read, a closing socket, a text to compress)."""
        if self._paused or not self._can_write_directly(text):
            return False
        self.transport.write(TURN_FRAMES.text_frame(text))
        return True

    async def asgi_send(self, message: Any) -> None:
        text = message.get("text")
        if (
            text is not None
            and message["type"] == "websocket.send"
            and message.get("bytes") is None
            and self._can_write_directly(text)
        ):
            self.transport.write(TURN_FRAMES.text_frame(text))
            if self._paused:  # the transport's buffer is over its high-water mark
                try:
                    await self.drain()
                except ConnectionClosed as exc:
                    raise ClientDisconnected from exc
            return
        await super().asgi_send(message)

    def _can_write_directly(self, text: str) -> bool:
        """Whether websockets' `send` would do no more than frame `text` and write it: the
        connection is open (as `ensure_open` checks), nothing is half sent, and the text is not
        one to compress."""
        if self.extensions:
            min_bytes = self.compression_min_bytes
            if min_bytes is None:
                min_bytes = type(self).compression_min_bytes = settings.WS_COMPRESSION_MIN_BYTES
            if len(text) >= min_bytes:
                return False
        return (
            self.state is State.OPEN
            and self.handshake_completed_event.is_set()
            and not self.closed_event.is_set()
            and not self.transfer_data_task.done()
            and self._fragmented_message_waiter is None
            and not self.transport.is_closing()
            and not self.debug
        )

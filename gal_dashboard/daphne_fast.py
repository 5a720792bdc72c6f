"""
daphne's WebSocket protocol with a cheaper send path, and permessage-deflate where it pays.
`gal_dashboard.serve` installs it (`make run`, production, `make bench`); plain
`daphne gal_dashboard.asgi:application` works without it, only slower per delivery. Nothing in
the application depends on it: the outbox uses its synchronous write where the scope offers one
and the ASGI `send` otherwise, with the same frames either way.

Where daphne spends a delivery (docs/performance.md, "Issue 17"): for every socket it encodes
the frame's text to UTF-8, frames it in autobahn's `sendMessage` (type checks, stats, header),
and hands the bytes to Twisted, whose TCP transport buffers them and asks the reactor to wake
it when the socket is writable (an `add_writer`, then a loop turn, a `send`, and a
`remove_writer`: two epoll_ctl calls and a callback per delivery). This protocol:

1. **Frames each text once per reactor turn.** A broadcast hands every socket of an audience
   the *same* `str` object (realtime.delivery.frames.EventFrames). The frame bytes are cached by
   that object's identity for the rest of the loop turn, so the second to the thousandth socket
   reuse them (autobahn's prepared-message idea, without an API change: no ASGI extension is
   needed, and any application sending a shared text benefits).
2. **Writes without a coroutine.** gal_dashboard.serve puts `write_text_now` in each WebSocket
   scope (gal_dashboard.ws_frames.WRITE_TEXT_SCOPE_KEY); realtime.connection.outbox calls it
   instead of awaiting daphne's `handle_reply` for each frame.
3. **Writes at once, straight to the socket.** When neither autobahn nor Twisted holds anything
   for the socket, the frame goes to it with one `send`, in the call; what the kernel does not
   take (and every frame while something is held) goes through Twisted's transport, which
   keeps the order and waits for writability. Issue 17's first round held each socket's frames
   until the turn ended and joined them: that saved nothing measurable (a broadcast gives each
   socket one frame per turn; a burst is joined by the outbox's batches) and cost a dict entry
   per socket and a second pass over them, about 3 µs per delivery (docs/performance.md).
4. **Compresses where it pays.** With WS_COMPRESSION = "auto" the server accepts a client's
   permessage-deflate offer, without server context takeover, so that a compressed frame does
   not depend on the connection and is built once per turn as well. Only frames of at least
   WS_COMPRESSION_MIN_BYTES are compressed; smaller ones go out plain (RSV1 clear), which the
   extension allows per message.

Everything it relies on in daphne, autobahn and Twisted is pinned in pyproject.toml and checked
by tests/test_server_pins.py.
"""

from __future__ import annotations

from typing import Any

from autobahn.websocket.compress import PerMessageDeflateOffer, PerMessageDeflateOfferAccept
from autobahn.websocket.protocol import WebSocketProtocol as AutobahnProtocol
from daphne.ws_protocol import WebSocketProtocol
from twisted.internet import tcp

from gal_dashboard.ws_frames import TURN_FRAMES, deflated_text_frame, text_frame

STATE_OPEN = AutobahnProtocol.STATE_OPEN


class FastWebSocketProtocol(WebSocketProtocol):
    """daphne's WebSocket protocol with the send path described in the module docstring."""

    compression_min_bytes = 1024
    # The socket of a plain TCP transport, written to directly while Twisted buffers nothing
    # for it; None when the transport is anything else (TLS, a test's), or not looked at yet.
    _direct_socket: Any = None
    _direct_checked = False

    def write_text_now(self, text: str) -> bool:
        """The synchronous write the application finds in its scope
        (gal_dashboard.ws_frames.WRITE_TEXT_SCOPE_KEY, put there by gal_dashboard.serve): what
        daphne's `handle_reply` does for a `websocket.send` of `text`, without its coroutine.
        False (send through ASGI) unless the socket is open."""
        if self.state != STATE_OPEN:
            return False
        self.serverSend(text)
        return True

    def serverSend(self, content: Any, binary: bool = False) -> None:
        if (
            binary
            or self.state != STATE_OPEN
            or self.trackedTimings
            or self.logOctets
            or self.autoFragmentSize
        ):
            super().serverSend(content, binary)
            return
        compress = self._perMessageCompress
        key: Any = id(content)
        if compress is not None and len(content) >= self.compression_min_bytes:
            window_bits = compress.server_max_window_bits
            mem_level = compress.mem_level
            key = (key, window_bits, mem_level)
        else:
            compress = None
        frame = TURN_FRAMES.get(key, content)
        if frame is None:
            payload = content.encode("utf8")
            if 0 < self.maxMessagePayloadSize < len(payload):
                # What plain daphne does: autobahn refuses with PayloadExceededError.
                super().serverSend(content, binary)
                return
            if compress is not None:
                frame = deflated_text_frame(payload, window_bits=window_bits, mem_level=mem_level)
            else:
                frame = text_frame(payload)
            TURN_FRAMES.put(key, content, frame)
        self.trafficStats.outgoingWebSocketMessages += 1
        self._write_frame(frame)

    def _write_frame(self, data: bytes) -> None:
        """Write `data` after everything sent before it: straight to the socket when neither
        autobahn nor Twisted holds anything for it, otherwise (and for what the kernel did not
        take) through them, which keep the order."""
        if self.send_queue:  # autobahn's own synchronous queue: stay behind it
            super().sendData(data)
            return
        transport = self.transport
        sock = self._plain_tcp_socket()
        if (
            sock is not None
            and transport.connected
            and not transport.disconnecting
            and not transport.dataBuffer
            and not transport._tempDataBuffer
        ):
            try:
                written = sock.send(data)
            except OSError:
                # EWOULDBLOCK (the kernel's buffer is full) and the rest alike: Twisted's write
                # buffers the data and, on a broken socket, finds the error and closes.
                written = 0
            if written == len(data):
                self.trafficStats.outgoingOctetsWireLevel += written
                return
            data = data[written:]
        transport.write(data)

    def _plain_tcp_socket(self) -> Any:
        if not self._direct_checked:
            self._direct_checked = True
            if isinstance(self.transport, tcp.Connection):
                self._direct_socket = self.transport.socket
        return self._direct_socket


def accept_deflate(offers: list[Any]) -> PerMessageDeflateOfferAccept | None:
    """Accept a client's permessage-deflate offer, without server context takeover (so that a
    compressed frame is the same for every connection, see FastWebSocketProtocol)."""
    for offer in offers:
        if isinstance(offer, PerMessageDeflateOffer):
            return PerMessageDeflateOfferAccept(offer, no_context_takeover=True)
    return None


def configure_factory(factory: Any, *, compression: str, min_bytes: int) -> None:
    """Install the fast protocol (and compression, unless "off") on daphne's WebSocket
    factory."""
    protocol = type(
        "GalWebSocketProtocol", (FastWebSocketProtocol,), {"compression_min_bytes": min_bytes}
    )
    factory.protocol = protocol
    if compression == "auto":
        factory.setProtocolOptions(perMessageCompressionAccept=accept_deflate)

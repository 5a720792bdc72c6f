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
that
   object's identity for the rest of the loop turn, so the second to the thousandth socket
   reuse them (autobahn's prepared-message idea, without an API change: no ASGI extension is
   needed, and any application sending a shared text benefits).
2. **Writes without a coroutine.** gal_dashboard.serve puts `write_text_now` in each WebSocket
   scope (gal_dashboard.ws_frames.WRITE_TEXT_SCOPE_KEY); realtime.connection.outbox calls it
   instead of awaiting daphne's `handle_reply` for each frame.
3. **Coalesces writes per reactor turn.** Frames for a socket collect in a list; once per loop
   turn they are joined and written with one `send` straight to the socket when Twisted has
   nothing buffered for it (otherwise through Twisted's transport, which keeps the order).
   Anything autobahn writes itself (pings, close frames) first flushes what is pending, so the
   order on the wire is the order of the sends.
4. **Compresses where it pays.** With WS_COMPRESSION = "auto" the server accepts a client's
   permessage-deflate offer, without server context takeover, so that a compressed frame does
   not depend on the connection and is built once per turn as well. Only frames of at least
   WS_COMPRESSION_MIN_BYTES are compressed; smaller ones go out plain (RSV1 clear), which the
   extension allows per message.

Everything it relies on in daphne, autobahn and Twisted is pinned in pyproject.toml and checked
by tests/test_server_pins.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from autobahn.websocket.compress import PerMessageDeflateOffer, PerMessageDeflateOfferAccept
from autobahn.websocket.protocol import WebSocketProtocol as AutobahnProtocol
from daphne.ws_protocol import WebSocketProtocol

from gal_dashboard.ws_frames import deflated_text_frame, text_frame

STATE_OPEN = AutobahnProtocol.STATE_OPEN
logger = logging.getLogger(__name__)


class Turn:
    """What lives for one loop turn: frames cached by text identity, and sockets with writes
    waiting. One callback per turn ends it."""

    def __init__(self) -> None:
        # id(text) -> (text, frame). The text is held so its id cannot be reused meanwhile.
        self.frames: dict[Any, tuple[str, bytes]] = {}
        # A socket's frames: one frame as it is, several as a list. Not a list per socket: a
        # broadcast to thousands would make thousands of containers that live until the turn
        # ends, survive the young collections meanwhile, and bring the next full collection
        # (which stops the loop, gal_dashboard/gc_tuning.py) seconds nearer.
        self.pending: dict[FastWebSocketProtocol, bytes | list[bytes]] = {}
        self._scheduled = False

    def schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_event_loop().call_soon(self.end)

    def end(self) -> None:
        self._scheduled = False
        self.frames.clear()
        pending, self.pending = self.pending, {}
        for protocol, chunks in pending.items():
            try:
                protocol._write_through(chunks)
            except Exception:  # one broken socket must not keep the others' frames
                logger.exception("write failed on a WebSocket; dropping it")
                with contextlib.suppress(Exception):
                    protocol.transport.abortConnection()


TURN = Turn()


class FastWebSocketProtocol(WebSocketProtocol):
    """daphne's WebSocket protocol with the send path described in the module docstring."""

    compression_min_bytes = 1024

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
        turn = TURN
        cached = turn.frames.get(key)
        if cached is not None and cached[0] is content:
            frame = cached[1]
        else:
            payload = content.encode("utf8")
            if 0 < self.maxMessagePayloadSize < len(payload):
                # What plain daphne does: autobahn refuses with PayloadExceededError.
                super().serverSend(content, binary)
                return
            if compress is not None:
                frame = deflated_text_frame(payload, window_bits=window_bits, mem_level=mem_level)
            else:
                frame = text_frame(payload)
            turn.frames[key] = (content, frame)
        self.trafficStats.outgoingWebSocketMessages += 1
        chunks = turn.pending.get(self)
        if chunks is None:
            turn.pending[self] = frame
            turn.schedule()
        elif isinstance(chunks, bytes):
            turn.pending[self] = [chunks, frame]
        else:
            chunks.append(frame)

    # -- keeping the order on the wire ----------------------------------------------------------

    def _flush_pending(self) -> None:
        chunks = TURN.pending.pop(self, None)
        if chunks:
            self._write_through(chunks)

    def sendData(self, data: bytes, sync: bool = False, chopsize: int | None = None) -> None:
        # autobahn's own frames (pings, pongs, close) go after what this socket already sent.
        self._flush_pending()
        super().sendData(data, sync, chopsize)

    def _closeConnection(self, abort: bool = False) -> None:
        self._flush_pending()
        super()._closeConnection(abort)

    def connectionLost(self, reason: Any) -> None:
        TURN.pending.pop(self, None)
        super().connectionLost(reason)

    def _write_through(self, chunks: bytes | list[bytes]) -> None:
        data = chunks if isinstance(chunks, bytes) else b"".join(chunks)
        transport = self.transport
        if self.send_queue:  # autobahn's own synchronous queue: stay behind it
            super().sendData(data)
            return
        if (
            getattr(transport, "connected", False)
            and not transport.disconnecting
            # A plain TCP transport with nothing buffered (a TLS wrapper has neither buffer).
            and not getattr(transport, "dataBuffer", True)
            and not getattr(transport, "_tempDataBuffer", True)
        ):
            # Straight to the socket when nothing is buffered before it; the rest (if the
            # kernel took only part) through the transport, which then waits for writability.
            written = transport.writeSomeData(data)
            if isinstance(written, int):
                if written == len(data):
                    self.trafficStats.outgoingOctetsWireLevel += written
                    return
                data = data[written:]
        transport.write(data)


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

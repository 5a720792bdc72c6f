"""
WebSocket frames built once and written as bytes: shared by the two servers' fast send paths
(gal_dashboard.daphne_fast, gal_dashboard.uvicorn_fast). Neither imports the other's server.
"""

from __future__ import annotations

import asyncio
import struct
import zlib
from typing import Any

# What a fast protocol puts in the WebSocket scope (gal_dashboard.daphne_fast, .uvicorn_fast):
# scope[WRITE_TEXT_SCOPE_KEY](text) writes `text` as a frame at once and returns True, or returns
# False when it cannot (the socket is busy or closing) and the application must use the ASGI
# `send`. No coroutine per frame: realtime.connection.outbox uses it for every delivery it can.
# A scope key of its own rather than an entry in scope["extensions"]: daphne's scope has no
# "extensions", and two dicts per connection were measurable in the idle memory figure.
WRITE_TEXT_SCOPE_KEY = "gal.write_text"


def frame_header(opcode_byte: int, length: int) -> bytes:
    """An unmasked (server-to-client) frame header: FIN|RSV|opcode, then the length."""
    if length <= 125:
        return bytes((opcode_byte, length))
    if length <= 0xFFFF:
        return struct.pack("!BBH", opcode_byte, 126, length)
    return struct.pack("!BBQ", opcode_byte, 127, length)


def text_frame(payload: bytes) -> bytes:
    """A final text frame, uncompressed."""
    return frame_header(0x81, len(payload)) + payload


def deflated_text_frame(payload: bytes, *, window_bits: int, mem_level: int) -> bytes:
    """A final text frame compressed with permessage-deflate (RFC 7692) and no context
    takeover: the same bytes autobahn's PerMessageDeflate would send on any connection that
    negotiated these parameters."""
    compressor = zlib.compressobj(
        zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -window_bits, mem_level
    )
    data = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
    data = data[:-4]  # the 00 00 ff ff that ends a sync flush; the receiver adds it back
    return frame_header(0xC1, len(data)) + data


class TurnFrames:
    """Frame bytes of the texts sent during this loop turn, by the text object's identity (with
    the compression parameters, where they matter), cleared by one callback when the turn ends.
    A broadcast hands every socket of an audience the same `str` object
    (realtime.delivery.frames.EventFrames), so it is framed once per audience."""

    def __init__(self) -> None:
        # key -> (text, frame). The text is held so its id cannot be reused meanwhile.
        self._frames: dict[Any, tuple[str, bytes]] = {}

    def get(self, key: Any, text: str) -> bytes | None:
        cached = self._frames.get(key)
        return cached[1] if cached is not None and cached[0] is text else None

    def put(self, key: Any, text: str, frame: bytes) -> None:
        if not self._frames:
            asyncio.get_event_loop().call_soon(self._frames.clear)
        self._frames[key] = (text, frame)

    def text_frame(self, text: str) -> bytes:
        """`text` as an uncompressed frame, built once per turn."""
        frame = self.get(id(text), text)
        if frame is None:
            frame = text_frame(text.encode("utf-8"))
            self.put(id(text), text, frame)
        return frame


# One per process: a process serves with one server, on one loop.
TURN_FRAMES = TurnFrames()

"""
gal_dashboard.daphne_fast (and gal_dashboard.serve) rely on internals of daphne, autobahn and
Twisted: daphne's `WebSocketProtocol.serverSend` and `Server.ws_factory`, autobahn's
`sendData`, `send_queue`, `_perMessageCompress` and its deflate parameters, Twisted's TCP
transport buffers, its `disconnecting` flag and its `socket`. gal_dashboard.uvicorn_fast relies on
uvicorn's `WebSocketProtocol.asgi_send` and its handshake events, and on the legacy websockets
protocol's state, flow control (`_paused`, `drain`) and fragmentation guard. pyproject.toml pins
the five exactly; this fails, naming the versions, when what is installed is not what was
checked.
"""

from __future__ import annotations

from importlib.metadata import version

import pytest

PINNED = {
    "daphne": "4.2.3",
    "autobahn": "26.11.1",
    "twisted": "26.10.0",
    "uvicorn": "0.55.0",
    "websockets": "17.4",
}


@pytest.mark.parametrize("package", sorted(PINNED))
def test_the_server_stack_is_the_version_the_fast_protocol_was_checked_against(
    package: str,
) -> None:
    installed = version(package)
    assert installed == PINNED[package], (
        f"{package} {installed} is installed, but the fast protocols (gal_dashboard.daphne_fast, "
        f"gal_dashboard.uvicorn_fast) were checked against "
        f"{package} {PINNED[package]} (pinned in pyproject.toml). Re-run "
        "tests/e2e/test_fast_protocols.py and `make bench`, check the internals listed in "
        "tests/test_server_pins.py, then update the pins there and in pyproject.toml."
    )


def test_the_internals_the_fast_protocol_uses_are_there() -> None:
    import inspect

    from autobahn.websocket.compress_deflate import PerMessageDeflate
    from autobahn.websocket.protocol import WebSocketProtocol as Autobahn
    from daphne.server import Server
    from daphne.ws_protocol import WebSocketProtocol
    from twisted.internet.abstract import FileDescriptor
    from twisted.internet.tcp import Connection

    assert callable(WebSocketProtocol.serverSend)
    assert callable(Autobahn.sendData)
    # The socket a plain TCP transport writes to, which the fast protocol writes to directly.
    assert "self.socket: socket.socket = skt" in inspect.getsource(Connection.__init__)
    deflate = inspect.getsource(PerMessageDeflate)
    for name in ("self.server_max_window_bits", "self.mem_level", "server_no_context_takeover"):
        assert name in deflate, name
    descriptor = inspect.getsource(FileDescriptor)
    assert "self._tempDataBuffer" in descriptor and "self.dataBuffer" in descriptor
    assert FileDescriptor.disconnecting == 0 and FileDescriptor.connected == 0
    assert "self.ws_factory = " in inspect.getsource(Server.run)


def test_the_internals_the_uvicorn_protocol_uses_are_there() -> None:
    import inspect

    from uvicorn.protocols.websockets.websockets_impl import WebSocketProtocol
    from websockets.legacy.protocol import WebSocketCommonProtocol

    send = inspect.getsource(WebSocketProtocol.asgi_send)
    for name in ("self.handshake_completed_event", "self.closed_event", "await self.send(data)"):
        assert name in send, name
    protocol = inspect.getsource(WebSocketCommonProtocol)
    for name in (
        "self._paused = True",
        "self._fragmented_message_waiter",
        "self.transfer_data_task",
        "async def drain(self)",
        "extensions=self.extensions",
    ):
        assert name in protocol, name

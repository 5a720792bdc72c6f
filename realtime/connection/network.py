"""
Where a WebSocket comes from, and whether that network may connect at all.

`client_address(scope)` is the peer's address, or, when the peer is a trusted proxy
(TRUSTED_PROXY_NETWORKS) and TRUSTED_PROXY_HEADER is set, the address that proxy appended to
that header: a header from anyone else is ignored, so a client cannot claim an address.

`NetworkAllowlistMiddleware` closes WebSockets from outside WS_ALLOWED_NETWORKS (when set) with
an `error` (`network_not_allowed`) and close code 4003, before any authentication runs.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings

from realtime.protocol import CLOSE_FORBIDDEN, encode_frame, error_data

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _in_any(address: str | None, networks: list[IPNetwork]) -> bool:
    if address is None:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def _header(scope: dict[str, Any], name: str) -> str | None:
    wanted = name.lower().encode("latin1")
    for header_name, value in scope.get("headers", []):
        if header_name.lower() == wanted:
            return value.decode("latin1")
    return None


def client_address(scope: dict[str, Any]) -> str | None:
    client = scope.get("client")
    peer = client[0] if client else None
    header = settings.TRUSTED_PROXY_HEADER
    return trusted_client_address(peer, _header(scope, header) if header else None)


def trusted_client_address(peer: str | None, forwarded: str | None) -> str | None:
    """The client's address: `peer`, or, when `peer` is a trusted proxy, the last entry of
    `forwarded` (the value of its TRUSTED_PROXY_HEADER). HTTP requests use this too
    (gal_dashboard.login_throttle)."""
    if (
        forwarded
        and settings.TRUSTED_PROXY_HEADER
        and _in_any(peer, settings.TRUSTED_PROXY_NETWORKS)
    ):
        # The last entry is the one our proxy added; earlier ones came from the client.
        return forwarded.split(",")[-1].strip() or peer
    return peer


def network_allowed(scope: dict[str, Any]) -> bool:
    allowed = settings.WS_ALLOWED_NETWORKS
    return not allowed or _in_any(client_address(scope), allowed)


class NetworkAllowlistMiddleware:
    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] != "websocket" or network_allowed(scope):
            return await self.app(scope, receive, send)
        # Accepted only to say why: a refused handshake would look like a network failure to a
        # browser, which would then retry for ever.
        message = await receive()
        if message["type"] != "websocket.connect":
            return None
        await send({"type": "websocket.accept"})
        frame = encode_frame(
            "error",
            error_data(
                "network_not_allowed",
                "Connections from your network are not allowed on this server.",
                {"address": client_address(scope)},
            ),
        )
        await send({"type": "websocket.send", "text": frame})
        await send({"type": "websocket.close", "code": CLOSE_FORBIDDEN})
        return None

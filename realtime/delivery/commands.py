"""
Commands to connections, on every server: `{"command": "close" | "send", ...}` sent to the hub
group (realtime.delivery.events.publish_hub_command) and run by each process's hub on its own
connections. A command addresses connections by user (`user_id`), by token family (the
connections opened with one login's tokens), by session (`session`: its digest, the connections
opened with one page login), by overlay view key (`view_key_id`) or by `connection_id`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from realtime.delivery.member import HubMember

logger = logging.getLogger(__name__)


def command_targets(message: dict[str, Any], members: Mapping[str, HubMember]) -> list[HubMember]:
    """The connections among `members` (by connection id) that a command addresses."""
    if message.get("user_id") is not None:
        return [m for m in members.values() if m.user_id == message["user_id"]]
    if message.get("token_family") is not None:
        return [m for m in members.values() if m.token_family == message["token_family"]]
    if message.get("session") is not None:
        return [m for m in members.values() if m.session_digest == message["session"]]
    if message.get("view_key_id") is not None:
        return [m for m in members.values() if m.view_key_id == message["view_key_id"]]
    if message.get("connection_id") in members:
        return [members[message["connection_id"]]]
    return []


async def run_command(message: dict[str, Any], members: Mapping[str, HubMember]) -> None:
    """Run a command on the connections it addresses; one failing does not stop the others."""
    for member in command_targets(message, members):
        try:
            await member.hub_command(message)
        except Exception:
            logger.exception("command to connection %s failed", member.connection_id)

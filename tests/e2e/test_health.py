"""/healthz and /readyz on a real server: no login, JSON, and ready once every check passes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import wait_until_ready

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


async def test_health_and_readiness(daphne_server: Any, rest_client: Any, viewer: Any) -> None:
    server = daphne_server(BROADCAST_PROBE_INTERVAL_SECONDS=0.2)
    anonymous = rest_client(server, viewer)
    anonymous.token = ""  # no credentials: load balancers do not log in

    alive = await anonymous.call("GET", "/healthz")
    assert (alive.status, alive.body) == (200, {"status": "ok"})

    await wait_until_ready(anonymous)
    ready = await anonymous.call("GET", "/readyz")
    assert ready.body["status"] == "ready"
    assert {name: check["ok"] for name, check in ready.body["checks"].items()} == {
        "database": True,
        "event_log": True,
        "channel_layer": True,
    }

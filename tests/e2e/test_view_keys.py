"""
Overlay view keys over the network, against real daphne processes: an overlay connects with
only its key (no login, no Origin), reads its graphic live and by polling, and is disconnected
within seconds when the key is revoked or replaced, on every server; a key's connections are
bounded across servers; and the key never reaches a server's log.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from websockets.asyncio.client import connect

from gal_dashboard.logging import REDACTED
from realtime.protocol import CLOSE_TOO_MANY_CONNECTIONS, CLOSE_UNAUTHENTICATED
from tests.e2e.conftest import (
    RECEIVE_TIMEOUT,
    REST_TIMEOUT,
    DaphneServer,
    NetworkClient,
    RestClient,
)

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

# "Within a few seconds": what an operator revoking a leaked overlay URL may wait.
CLOSE_WITHIN_SECONDS = 5.0

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


async def open_overlay(
    server: DaphneServer, key: str, *, name: str = "overlay", expect_welcome: bool = True
) -> NetworkClient:
    """Connect as OBS's browser source would: the key in the URL, nothing else."""
    connection = await connect(
        f"{server.ws_url}?key={key}", proxy=None, open_timeout=RECEIVE_TIMEOUT
    )
    client = NetworkClient(connection, name=name)
    if expect_welcome:
        await client.wait_for(lambda: client.welcome, what="the welcome")
    return client


def poll_without_login(server: DaphneServer, query: str) -> tuple[int, Any]:
    try:
        with _opener.open(f"{server.url}/api/events/?{query}", timeout=REST_TIMEOUT) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


async def make_key(api: RestClient, graphic_id: int) -> str:
    made = await api.call("POST", f"/api/graphics/{graphic_id}/view-key/")
    assert made.status == 201, made.body
    return str(made.body["view_key"]["key"])


async def closed_with(client: NetworkClient, code: int, error_code: str) -> None:
    await client.wait_for(lambda: client.closed, timeout=CLOSE_WITHIN_SECONDS, what="the close")
    assert client.close_code == code, client.name
    errors = [frame["data"]["code"] for frame in client.other if frame["type"] == "error"]
    assert errors == [error_code], client.name


async def test_an_overlay_reads_its_graphic_live_and_by_polling_and_its_key_is_never_logged(
    daphne_server: Any, rest_client: Any, editor: Any, graphic: Any
) -> None:
    """With only the key an overlay gets the snapshot and the live update of an edit made over
    REST, and a poller with the key gets the same event; a bad key is refused with 4001 and a
    key polling another graphic with 403. Afterwards the server's log holds no key."""
    server = daphne_server()
    api = rest_client(server, editor)
    key = await make_key(api, graphic.pk)
    # On air in live mode (as every graphic was before on-air control): each save reaches it.
    went_live = await api.call("POST", f"/api/graphics/{graphic.pk}/live/", {"live": True})
    assert went_live.status == 200, went_live.body
    other = await api.call("POST", "/api/graphics/", {"title": "Other", "event_name": "W"})

    overlay = await open_overlay(server, key)
    assert overlay.welcome is not None
    assert overlay.welcome["auth_method"] == "view_key"
    assert overlay.welcome["view_key"] == {"graphic_id": graphic.pk}
    snapshot = await overlay.ack("subscribe", {"graphic_id": graphic.pk})
    status, first_poll = await asyncio.to_thread(
        poll_without_login, server, f"graphic={graphic.pk}&key={key}"
    )
    assert status == 200 and first_poll["snapshot"]["seq"] == snapshot["seq"], first_poll

    locked = await api.call("POST", f"/api/graphics/{graphic.pk}/lock/")
    edited = await api.call(
        "PATCH",
        f"/api/graphics/{graphic.pk}/",
        {"version": 1, "fencing_token": locked.body["fencing_token"], "title": "On air now"},
    )
    assert edited.status == 200, edited.body

    live = await overlay.next_event(graphic.pk, "graphic_update")
    assert live["data"]["version"] == 2
    status, page = await asyncio.to_thread(
        poll_without_login,
        server,
        f"graphic={graphic.pk}&since={first_poll['next_since']}&key={key}",
    )
    assert status == 200
    assert [event["data"]["seq"] for event in page["events"]][-1] == live["data"]["seq"]
    status, refused = await asyncio.to_thread(
        poll_without_login, server, f"graphic={other.body['id']}&key={key}"
    )
    assert (status, refused["error"]["code"]) == (403, "permission_denied")
    bad = await open_overlay(server, key[:-2] + "zz", name="bad", expect_welcome=False)
    await closed_with(bad, CLOSE_UNAUTHENTICATED, "view_key_invalid")
    await overlay.close()

    await asyncio.to_thread(server.stop)
    log = server.log_text()
    assert "WSCONNECT" in log, log
    assert f"key={REDACTED}" in log, log
    assert key not in log
    assert key[:20] not in log


async def test_revoking_the_key_closes_the_open_overlay_within_seconds(
    daphne_server: Any, rest_client: Any, editor: Any, viewer: Any, graphic: Any
) -> None:
    """An Editor revokes over REST: the listening overlay gets `view_key_revoked` and 4001 at
    once; the key is refused from then on; a user's connection stays."""
    server = daphne_server()
    api = rest_client(server, editor)
    key = await make_key(api, graphic.pk)
    overlay = await open_overlay(server, key)
    await overlay.ack("subscribe", {"graphic_id": graphic.pk})

    started = time.monotonic()
    revoked = await api.call("DELETE", f"/api/graphics/{graphic.pk}/view-key/")
    assert revoked.body == {"graphic_id": graphic.pk, "revoked": True}

    await closed_with(overlay, CLOSE_UNAUTHENTICATED, "view_key_revoked")
    assert time.monotonic() - started < CLOSE_WITHIN_SECONDS
    again = await open_overlay(server, key, name="again", expect_welcome=False)
    await closed_with(again, CLOSE_UNAUTHENTICATED, "view_key_invalid")
    status, body = await asyncio.to_thread(
        poll_without_login, server, f"graphic={graphic.pk}&key={key}"
    )
    assert (status, body["error"]["code"]) == (401, "view_key_invalid")


@pytest.mark.postgres
@pytest.mark.redis
async def test_a_key_is_bounded_and_closed_on_every_server(
    daphne_server: Any, rest_client: Any, editor: Any, graphic: Any
) -> None:
    """Two servers behind one PostgreSQL and Redis. The key's connections count across both
    (WS_MAX_CONNECTIONS_PER_VIEW_KEY=2: a third is refused with 4029, on either). Replacing the
    key through server 1 closes its overlays on both servers within seconds."""
    first, second = daphne_server.many(2, WS_MAX_CONNECTIONS_PER_VIEW_KEY=2)
    api = rest_client(first, editor)
    key = await make_key(api, graphic.pk)
    overlays = [
        await open_overlay(first, key, name="overlay@first"),
        await open_overlay(second, key, name="overlay@second"),
    ]
    await overlays[1].ack("subscribe", {"graphic_id": graphic.pk})

    third = await open_overlay(first, key, name="third", expect_welcome=False)
    await closed_with(third, CLOSE_TOO_MANY_CONNECTIONS, "too_many_connections")

    started = time.monotonic()
    new_key = await make_key(api, graphic.pk)

    for overlay in overlays:
        await closed_with(overlay, CLOSE_UNAUTHENTICATED, "view_key_revoked")
    assert time.monotonic() - started < CLOSE_WITHIN_SECONDS
    replacement = await open_overlay(second, new_key, name="replacement")
    assert (await replacement.ack("subscribe", {"graphic_id": graphic.pk}))["graphic_id"] == (
        graphic.pk
    )
    await replacement.close()

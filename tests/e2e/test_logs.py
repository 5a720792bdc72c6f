"""
The server's own output never contains a token: daphne's access log prints request URLs with
their query string, so `gal_dashboard.serve` redacts every line before it is written. The
access log (gal.access) is JSON lines, and with LOG_FORMAT=json so is everything else.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

import pytest
from websockets.asyncio.client import connect

from gal_dashboard.logging import REDACTED
from tests.e2e.conftest import NetworkClient, RestClient, open_client, token_for

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


async def test_tokens_in_query_strings_never_reach_the_server_log(
    daphne_server: Any, editor: Any
) -> None:
    """A WebSocket authenticated with ?token=, one refused for a bad ?token=, and an HTTP request
    with ?token= in its URL all leave access-log lines, and none of them shows a token: the
    HTTP line has `token=[redacted]` where daphne printed the query string."""
    server = daphne_server()
    token = token_for(editor)
    bad_token = token[:-8] + "AAAAAAAA"

    accepted = await open_client(server, token=token, name="accepted")
    assert accepted.welcome is not None
    assert accepted.welcome["auth_method"] == "token"
    await accepted.close()
    refused = await open_client(server, token=bad_token, name="refused", expect_welcome=False)
    await refused.wait_for(lambda: refused.closed, what="the close")
    assert refused.close_code == 4001
    # An HTTP GET with the token in the query string (and, as any client sends it, in the
    # Authorization header, which daphne does not log).
    response = await RestClient(server, token).call("GET", f"/api/graphics/?token={token}")
    assert response.status == 200, response.body

    # Stopping the server flushes whatever it still buffers.
    await asyncio.to_thread(server.stop)
    log = server.log_text()
    assert f"/api/graphics/?token={REDACTED}" in log, log
    assert "WSCONNECT" in log, log
    assert token not in log
    assert bad_token not in log
    # No fragment long enough to be useful either (a JWT's signature is its last part).
    assert token.rsplit(".", 1)[1] not in log


def json_lines(log: str) -> list[dict[str, Any]]:
    """Every line of `log` parsed as one JSON object (a line that is not fails the test)."""
    parsed = []
    for number, line in enumerate(log.splitlines(), 1):
        try:
            parsed.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"line {number} is not JSON: {line!r}\n{log}") from None
        assert isinstance(parsed[-1], dict), line
    return parsed


async def a_session_with_secrets(server: Any, editor: Any, graphic: Any) -> list[str]:
    """An editor's WebSocket with ?token=, one refused for a bad token, an overlay with
    ?key=, a request with ?token= in its URL and one refused for a bad ?key=; the server is
    stopped afterwards so that its log is complete. Returns the secrets used."""
    token = token_for(editor)
    bad_token = token[:-8] + "AAAAAAAA"
    api = RestClient(server, token)
    made = await api.call("POST", f"/api/graphics/{graphic.pk}/view-key/")
    assert made.status == 201, made.body
    key = str(made.body["view_key"]["key"])

    accepted = await open_client(server, token=token, name="accepted")
    await accepted.ack("subscribe", {"graphic_id": graphic.pk})
    assert (await accepted.request("nonsense"))["data"]["code"] == "unknown_type"
    await accepted.close()
    refused = await open_client(server, token=bad_token, name="refused", expect_welcome=False)
    await refused.wait_for(lambda: refused.closed, what="the close")
    overlay = NetworkClient(
        await connect(f"{server.ws_url}?key={key}", proxy=None, open_timeout=5), name="overlay"
    )
    await overlay.wait_for(lambda: overlay.welcome, what="the overlay's welcome")
    await overlay.close()
    assert (await api.call("GET", f"/api/graphics/?token={token}")).status == 200
    polled = await RestClient(server, "").call(
        "GET", f"/api/events/?graphic={graphic.pk}&key={key[:-4]}zzzz"
    )
    assert polled.status in (401, 403), polled.body

    await asyncio.to_thread(server.stop)
    return [token, bad_token, key, token.rsplit(".", 1)[1]]


def access_events(lines: list[dict[str, Any]]) -> list[str]:
    return [line["event"] for line in lines if line.get("logger") == "gal.access"]


async def test_the_access_log_is_json_lines_without_secrets(
    daphne_server: Any, editor: Any, graphic: Any
) -> None:
    """With the default LOG_FORMAT (text), every gal.access line of a real server's output is
    one JSON object with time, level, logger and the connection's fields, and neither they nor
    any other line shows a token or a view key."""
    server = daphne_server()
    secrets = await a_session_with_secrets(server, editor, graphic)
    log = server.log_text()
    access = json_lines("\n".join(line for line in log.splitlines() if "gal.access" in line))
    # The editor, the bad token (accepted, then refused with 4001) and the overlay.
    assert access_events(access).count("connect") == 3, log
    assert access_events(access).count("close") == 3, log
    assert access_events(access).count("rejected") == 2, log
    for line in access:
        assert line["logger"] == "gal.access"
        assert line["level"] == "INFO"
        assert datetime.fromisoformat(line["time"]).tzinfo is not None
        assert {"event", "connection_id", "remote_address", "server"} <= line.keys(), line
    overlay = next(line for line in access if line["username"] and "view-key:" in line["username"])
    assert overlay["event"] == "connect"
    for secret in secrets:
        assert secret not in log


async def test_with_log_format_json_every_line_is_json_without_secrets(
    daphne_server: Any, editor: Any, graphic: Any
) -> None:
    """LOG_FORMAT=json: every line the server writes, daphne's own access log included
    (logger daphne.access, with the URL's token and key redacted), is one JSON object with
    time, level and logger; none shows a token or a view key."""
    server = daphne_server(LOG_FORMAT="json")
    secrets = await a_session_with_secrets(server, editor, graphic)
    log = server.log_text()
    lines = json_lines(log)
    for line in lines:
        assert {"time", "level", "logger"} <= line.keys(), line
    assert "connect" in access_events(lines)
    requests = [line["request"] for line in lines if line["logger"] == "daphne.access"]
    assert f"GET /api/graphics/?token={REDACTED}" in requests, requests
    assert any(request.startswith("WSCONNECT /ws/graphics") for request in requests), requests
    for secret in secrets:
        assert secret not in log

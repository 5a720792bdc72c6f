"""
The server's own output never contains a token: daphne's access log prints request URLs with
their query string, so `gal_dashboard.serve` redacts every line before it is written.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gal_dashboard.logging import REDACTED
from tests.e2e.conftest import RestClient, open_client, token_for

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

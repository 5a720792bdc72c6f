"""Logging out closes the WebSockets opened with that login's tokens, and a revoked access
token cannot open a new one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from realtime.protocol import CLOSE_UNAUTHENTICATED
from tests.conftest import TEST_PASSWORD

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def login(username: str) -> dict[str, str]:
    response = APIClient().post(
        "/api/auth/token/", {"username": username, "password": TEST_PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    pair: dict[str, str] = response.json()
    return pair


def logout(refresh: str) -> int:
    return APIClient().post("/api/auth/logout/", {"refresh": refresh}, format="json").status_code


async def test_logout_closes_the_sockets_of_that_login_and_no_other(
    ws_connect: Callable[..., Any], db_call: Callable[..., Any], viewer: Any
) -> None:
    """A WebSocket opened with a login's access token gets `error` `token_revoked` and close
    4001 when that login logs out; a socket of the same user's other login stays open."""
    mine, other = await db_call(login, "viewer"), await db_call(login, "viewer")
    doomed = await ws_connect(token=mine["access"])
    survivor = await ws_connect(token=other["access"])

    assert await db_call(logout, mine["refresh"]) == 204

    notice = await doomed.receive()
    assert notice["type"] == "error"
    assert notice["data"]["code"] == "token_revoked"
    assert await doomed.receive() == {"type": "__closed__", "code": CLOSE_UNAUTHENTICATED}
    assert (await survivor.request("ping"))["type"] == "pong"


async def test_a_revoked_access_token_cannot_connect(
    ws_connect: Callable[..., Any], db_call: Callable[..., Any], viewer: Any
) -> None:
    """After logout the access token opens nothing: `error` then close 4001."""
    pair = await db_call(login, "viewer")
    assert await db_call(logout, pair["refresh"]) == 204

    client = await ws_connect(token=pair["access"], expect_welcome=False)
    refusal = await client.receive()
    assert refusal["type"] == "error"
    assert refusal["data"]["code"] == "token_invalid"
    assert await client.receive() == {"type": "__closed__", "code": CLOSE_UNAUTHENTICATED}

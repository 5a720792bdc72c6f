"""
Credentials across real daphne servers: failed logins counted on one server lock the account
out on every server (the login page too, answered by the server's asynchronous middleware);
a password change closes the account's WebSockets on every server, and logging out of a page
closes that session's WebSockets on every server.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from websockets.asyncio.client import connect

from tests.conftest import TEST_PASSWORD
from tests.e2e.conftest import RECEIVE_TIMEOUT, REST_TIMEOUT, DaphneServer, NetworkClient

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

WRONG = "not-the-password"
# Any 32 characters do as a CSRF secret: sent as the cookie and as the form's token, as a
# page of ours would after a GET (tests/test_auth_api.py does the same over the test client).
CSRF_SECRET = "a" * 32


class _KeepRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _KeepRedirects())


@dataclass
class Answer:
    status: int
    headers: Any
    body: str


def _post(url: str, data: bytes, headers: dict[str, str]) -> Answer:
    request = urllib.request.Request(url, data=data, method="POST", headers=headers)
    try:
        with _opener.open(request, timeout=REST_TIMEOUT) as response:
            return Answer(response.status, response.headers, response.read().decode())
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.headers, error.read().decode())


async def api_login(server: DaphneServer, username: str, password: str) -> Answer:
    body = json.dumps({"username": username, "password": password}).encode()
    return await asyncio.to_thread(
        _post,
        f"{server.url}/api/auth/token/",
        body,
        {"Content-Type": "application/json", "Accept": "application/json"},
    )


async def page_post(
    server: DaphneServer, path: str, form: dict[str, str], *, session: str | None = None
) -> Answer:
    """A form POST as a page of ours sends it: the CSRF cookie and token, and the session."""
    cookies = f"csrftoken={CSRF_SECRET}"
    if session is not None:
        cookies += f"; {session}"
    data = urlencode({**form, "csrfmiddlewaretoken": CSRF_SECRET}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookies}
    return await asyncio.to_thread(_post, f"{server.url}{path}", data, headers)


def set_password(user: Any, password: str) -> None:
    user.set_password(password)
    user.save()


def session_cookie_for(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


async def open_session_client(server: DaphneServer, cookie: str, *, name: str) -> NetworkClient:
    """A WebSocket of a dashboard page: the session cookie and the page's Origin."""
    connection = await connect(
        server.ws_url,
        additional_headers={"Origin": server.origin, "Cookie": cookie},
        proxy=None,
        open_timeout=RECEIVE_TIMEOUT,
    )
    client = NetworkClient(connection, name=name)
    await client.wait_for(lambda: client.welcome, what="the welcome")
    return client


async def assert_closed_as_revoked(client: NetworkClient) -> None:
    await client.wait_for(lambda: client.closed, what="the close")
    assert client.close_code == 4001
    codes = [frame["data"]["code"] for frame in client.other if frame["type"] == "error"]
    assert codes == ["token_revoked"]


async def test_failed_logins_on_one_server_lock_the_account_on_every_server(
    daphne_server: Any, superuser: Any, settings: Any
) -> None:
    """Failures spread over two servers add up; then the right password is refused with 429
    and Retry-After on both, by the API and by the login page alike."""
    # The servers check passwords with the production hashers, not the tests' fast one.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    await database_sync_to_async(set_password)(superuser, TEST_PASSWORD)
    first, second = daphne_server.many(2)
    assert (await api_login(second, "root", TEST_PASSWORD)).status == 200
    for number in range(settings.LOGIN_FAILURE_LIMIT - 1):
        failed = await api_login((first, second)[number % 2], "root", WRONG)
        assert failed.status == 401, failed.body
    assert (await api_login(first, "root", TEST_PASSWORD)).status == 200  # not yet locked
    assert (await api_login(second, "root", WRONG)).status == 429  # the last failure allowed

    for server in (second, first):
        refused = await api_login(server, "root", TEST_PASSWORD)
        assert refused.status == 429, refused.body
        assert json.loads(refused.body)["error"]["code"] == "too_many_attempts"
        assert refused.headers["Retry-After"] == str(settings.LOGIN_LOCKOUT_SECONDS)
    page = await page_post(second, "/login/", {"username": "root", "password": TEST_PASSWORD})
    assert page.status == 429, page.body
    assert "Too many failed log-in attempts" in page.body
    assert page.headers["Retry-After"] == str(settings.LOGIN_LOCKOUT_SECONDS)
    assert "sessionid" not in (page.headers.get("Set-Cookie") or "")


@pytest.mark.postgres
@pytest.mark.redis
async def test_a_password_change_closes_the_accounts_sockets_on_every_server(
    daphne_server: Any, ws_connect: Any, viewer: Any, editor: Any
) -> None:
    """Token and session connections of the account, on both servers, get `token_revoked`
    and 4001 once the new password is saved; another user's connection stays."""
    first, second = daphne_server.many(2)
    cookie = await database_sync_to_async(session_cookie_for)(viewer)
    doomed = [
        await ws_connect(first, viewer, name="viewer-token@first"),
        await ws_connect(second, viewer, name="viewer-token@second"),
        await open_session_client(second, cookie, name="viewer-session@second"),
    ]
    bystander = await ws_connect(first, editor, name="editor@first")

    @database_sync_to_async
    def change_password() -> None:
        user = get_user_model().objects.get(pk=viewer.pk)
        user.set_password("a-brand-new-long-passphrase-42")
        user.save()

    try:
        await change_password()

        for client in doomed:
            await assert_closed_as_revoked(client)
        assert (await bystander.request("ping"))["type"] == "pong"
    finally:
        await asyncio.gather(*(client.close() for client in doomed), return_exceptions=True)


@pytest.mark.postgres
@pytest.mark.redis
async def test_logging_out_of_a_page_closes_that_sessions_sockets_on_every_server(
    daphne_server: Any, superuser: Any
) -> None:
    """POST /logout/ on one server closes the session's WebSockets on both servers; the same
    user's other session stays connected."""
    first, second = daphne_server.many(2)
    cookie = await database_sync_to_async(session_cookie_for)(superuser)
    other_cookie = await database_sync_to_async(session_cookie_for)(superuser)
    doomed = [
        await open_session_client(first, cookie, name="session@first"),
        await open_session_client(second, cookie, name="session@second"),
    ]
    survivor = await open_session_client(second, other_cookie, name="other-session@second")
    try:
        logout = await page_post(first, "/logout/", {}, session=cookie)
        assert logout.status == 302, logout.body

        for client in doomed:
            await assert_closed_as_revoked(client)
        assert (await survivor.request("ping"))["type"] == "pong"
    finally:
        await asyncio.gather(
            *(client.close() for client in [*doomed, survivor]), return_exceptions=True
        )

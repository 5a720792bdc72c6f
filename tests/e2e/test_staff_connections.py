"""
The staff connections page on real daphne servers, used as a browser would (session cookie,
the page's CSRF token, a form POST): a Lock admin disconnects a client connected to the OTHER
server (with Redis; the same server on the SQLite pass), an Editor cannot, and the errors
clients provoke on one server show on the page of every server.
"""

from __future__ import annotations

import asyncio
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.test import Client

from gal_dashboard.access import EDITOR, LOCK_ADMIN
from tests.e2e.conftest import REST_TIMEOUT, DaphneServer, NetworkClient

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

PAGE = "/staff/connections/"
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
# How long the page may take to show an error a server recorded: its writer is fire and
# forget, so the entry lands a moment after the frame went out.
RECENT_ERRORS_WAIT_SECONDS = 5.0


class _KeepRedirects(urllib.request.HTTPRedirectHandler):
    """Report a redirect instead of following it: the test checks where it points."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _KeepRedirects())


@dataclass
class PageResponse:
    status: int
    location: str | None
    body: str


class StaffBrowser:
    """A browser signed in to one server: it keeps the cookies the server sets (session,
    csrftoken, messages) and sends them back, as a browser would."""

    def __init__(self, server: DaphneServer, session_cookie: str):
        self.server = server
        name, _, value = session_cookie.partition("=")
        self.cookies: dict[str, str] = {name: value}

    def _call(self, method: str, path: str, form: dict[str, str] | None) -> PageResponse:
        headers = {"Cookie": "; ".join(f"{name}={value}" for name, value in self.cookies.items())}
        data = None
        if form is not None:
            data = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        request = urllib.request.Request(
            f"{self.server.url}{path}", data=data, method=method, headers=headers
        )
        try:
            with _opener.open(request, timeout=REST_TIMEOUT) as response:
                status, answer_headers, raw = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            status, answer_headers, raw = error.code, error.headers, error.read()
        for header in answer_headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        return PageResponse(
            status=status,
            location=answer_headers.get("Location"),
            body=raw.decode("utf-8", errors="replace"),
        )

    async def get(self, path: str = PAGE) -> PageResponse:
        return await asyncio.to_thread(self._call, "GET", path, None)

    async def post(self, path: str, form: dict[str, str]) -> PageResponse:
        return await asyncio.to_thread(self._call, "POST", path, form)

    async def csrf_token(self) -> str:
        """The token of a CSRF-protected form: the staff page's when it has one, else the
        login page's (same cookie, so valid for any form of this browser)."""
        page = await self.get()
        found = CSRF_INPUT.search(page.body)
        if found is None:
            anonymous = StaffBrowser(self.server, "none=")
            login = await anonymous.get("/admin/login/")
            found = CSRF_INPUT.search(login.body)
            assert found is not None, login.body
            self.cookies["csrftoken"] = anonymous.cookies["csrftoken"]
        return found.group(1)


def session_cookie_for(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


async def browser_for(server: DaphneServer, user: Any) -> StaffBrowser:
    return StaffBrowser(server, await database_sync_to_async(session_cookie_for)(user))


def disconnect_path(connection_id: str) -> str:
    return f"/staff/connections/{connection_id}/disconnect/"


def connection_id_of(client: NetworkClient) -> str:
    assert client.welcome is not None
    return str(client.welcome["connection_id"])


def errors_received(client: NetworkClient) -> list[dict[str, Any]]:
    return [frame["data"] for frame in client.other if frame["type"] == "error"]


def servers_for_the_pass(daphne_server: Any, **overrides: Any) -> tuple[DaphneServer, ...]:
    """Two servers named live-1 and live-2 with Redis, so that what happens on one is seen
    from the other; one (live-1) on the SQLite pass, where nothing is shared between
    processes."""
    if not settings.REDIS_URL:
        return (daphne_server(SERVER_ID="live-1", **overrides),)
    return (
        daphne_server(SERVER_ID="live-1", **overrides),
        daphne_server(SERVER_ID="live-2", **overrides),
    )


def client_server_id(servers: tuple[DaphneServer, ...]) -> str:
    """The SERVER_ID of the server the clients connect to (the last one)."""
    return "live-2" if len(servers) == 2 else "live-1"


async def test_a_lock_admin_disconnects_a_client_on_the_other_server(
    daphne_server: Any, ws_connect: Any, make_user: Any, viewer: Any, editor: Any
) -> None:
    """Through the page of live-1, a Lock admin's form closes a client connected to live-2:
    it gets `disconnected_by_staff` naming them and their reason, then close 4002, within a few
    seconds; the page says so; the user's other connection and other users stay connected."""
    staff = await database_sync_to_async(make_user)("lockadmin", role=LOCK_ADMIN, is_staff=True)
    servers = servers_for_the_pass(daphne_server)
    page_server, client_server = servers[0], servers[-1]
    victim = await ws_connect(client_server, viewer, name="victim")
    same_user = await ws_connect(page_server, viewer, name="viewer-second-tab")
    bystander = await ws_connect(client_server, editor, name="bystander")
    browser = await browser_for(page_server, staff)
    page = await browser.get()
    assert page.status == 200
    assert f'action="{disconnect_path(connection_id_of(victim))}"' in page.body

    response = await browser.post(
        disconnect_path(connection_id_of(victim)),
        {"csrfmiddlewaretoken": await browser.csrf_token(), "reason": "stuck overlay"},
    )

    assert (response.status, response.location) == (302, PAGE)
    started = time.monotonic()
    await victim.wait_for(lambda: victim.closed, timeout=5.0, what="the close")
    assert time.monotonic() - started < 5.0
    assert victim.close_code == 4002
    (error,) = errors_received(victim)
    assert error["code"] == "disconnected_by_staff"
    assert error["details"] == {"by": "lockadmin", "reason": "stuck overlay"}
    assert "lockadmin" in error["message"] and "stuck overlay" in error["message"]
    for other in (same_user, bystander):
        assert (await other.request("ping"))["type"] == "pong"
        assert not errors_received(other)

    after = await browser.get()
    assert "Disconnected viewer&#x27;s connection" in after.body
    assert f"on {client_server_id(servers)}." in after.body
    assert f"<code>{connection_id_of(victim)}</code>" not in after.body
    assert f"<code>{connection_id_of(bystander)}</code>" in after.body


async def test_an_editor_on_staff_sees_no_button_and_its_post_is_403(
    daphne_server: Any, ws_connect: Any, make_user: Any, viewer: Any
) -> None:
    """A staff member with the Editor role sees the connections but no Disconnect button, and
    a well-formed POST (valid CSRF token) is refused with 403 and closes nothing."""
    staff = await database_sync_to_async(make_user)("deskeditor", role=EDITOR, is_staff=True)
    servers = servers_for_the_pass(daphne_server)
    victim = await ws_connect(servers[-1], viewer, name="victim")
    browser = await browser_for(servers[0], staff)
    page = await browser.get()
    assert page.status == 200
    assert f"<code>{connection_id_of(victim)}</code>" in page.body
    assert "Disconnect</button>" not in page.body

    response = await browser.post(
        disconnect_path(connection_id_of(victim)),
        {"csrfmiddlewaretoken": await browser.csrf_token(), "reason": "let me try"},
    )

    assert response.status == 403
    assert "CSRF" not in response.body
    await asyncio.sleep(0.5)  # a close sent anyway would have arrived by now
    assert not victim.closed
    assert (await victim.request("ping"))["type"] == "pong"
    assert not errors_received(victim)


RECENT_ERROR_ROW = re.compile(r'<tr class="(error|close)">(.*?)</tr>', re.DOTALL)
CELL = re.compile(r"<td>(.*?)</td>", re.DOTALL)
TAG = re.compile(r"<[^>]+>")


def recent_error_rows(page: str) -> list[dict[str, str]]:
    """The recent-errors table as the page shows it, newest first."""
    table = page[page.index('<table id="recent-errors">') :]
    table = table[: table.index("</table>")]
    names = ["time", "server", "connection", "user", "address", "what", "caused_by"]
    return [
        dict(zip(names, (TAG.sub("", cell).strip() for cell in CELL.findall(row)), strict=True))
        for _, row in RECENT_ERROR_ROW.findall(table)
    ]


async def test_errors_clients_provoke_on_one_server_show_on_the_page_of_another(
    daphne_server: Any, ws_connect: Any, make_user: Any, viewer: Any, editor: Any, graphic: Any
) -> None:
    """A `validation_error` an Editor provoked with `update`, and a viewer's idle close (its
    `idle_timeout` and close 4000), both on live-2, are listed on live-1's page (the same
    server on the SQLite pass) with the server, connection, user, address and cause."""
    staff = await database_sync_to_async(make_user)("ops", is_staff=True)
    servers = servers_for_the_pass(
        daphne_server, WS_HEARTBEAT_INTERVAL_SECONDS=0.2, WS_IDLE_TIMEOUT_SECONDS=1
    )
    provoker = await ws_connect(servers[-1], editor, name="provoker")
    reply = await provoker.request(
        "update", {"graphic_id": graphic.pk, "version": "four", "fencing_token": 1}
    )
    assert reply["data"]["code"] == "validation_error"
    await provoker.close()
    idler = await ws_connect(servers[-1], viewer, name="idler")
    await idler.wait_for(lambda: idler.closed, timeout=5.0, what="the idle close")
    assert idler.close_code == 4000
    browser = await browser_for(servers[0], staff)

    expected = [
        ("close 4000", connection_id_of(idler), "viewer", "—"),
        ("idle_timeout", connection_id_of(idler), "viewer", "—"),
        ("validation_error", connection_id_of(provoker), "editor", "update"),
    ]
    deadline = time.monotonic() + RECENT_ERRORS_WAIT_SECONDS
    while True:
        rows = recent_error_rows((await browser.get()).body)
        shown = [(row["what"], row["connection"], row["user"], row["caused_by"]) for row in rows]
        if shown == expected or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert shown == expected
    for row in rows:
        assert row["server"] == client_server_id(servers)
        assert row["address"] == "127.0.0.1"

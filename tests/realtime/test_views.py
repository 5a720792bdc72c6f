"""The staff connections page (/staff/connections/): every open connection from the registry
(memory, or Redis on the services pass), with counts per user and per server, the recent errors
of every server, and a Disconnect button for Lock admins and superusers; staff only."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db import connections
from django.test import AsyncClient

from gal_dashboard.access import EDITOR, LOCK_ADMIN
from realtime.connection.supervisor import get_supervisor
from realtime.ops.recent_errors import get_recent_error_writer, open_recent_errors
from realtime.ops.registry import open_registry, server_id
from realtime.protocol import CLOSE_BY_STAFF, CLOSE_IDLE, CLOSE_UNAUTHENTICATED
from tests.realtime.conftest import WsClient

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

URL = "/staff/connections/"
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
DISCONNECT_BUTTON = '<button type="submit">Disconnect</button>'


def disconnect_url(connection_id: str) -> str:
    return f"/staff/connections/{connection_id}/disconnect/"


@pytest.fixture(autouse=True)
async def close_database_thread_connections() -> AsyncIterator[None]:
    """The async view reads the user in the shared database thread; close that connection
    after the test, or PostgreSQL refuses to drop the test database."""
    yield
    await database_sync_to_async(connections.close_all)()


async def logged_in(user: Any, *, enforce_csrf_checks: bool = False) -> AsyncClient:
    client = AsyncClient(enforce_csrf_checks=enforce_csrf_checks)
    await client.aforce_login(user)
    return client


def connection_id_of(client: WsClient) -> str:
    assert client.welcome is not None
    return str(client.welcome["connection_id"])


async def still_connected(client: WsClient) -> None:
    """Nothing was sent to the client (no error, no close), and it still gets answers."""
    await client.no_event(within=0.3)
    assert (await client.request("ping"))["type"] == "pong"


async def registered_ids() -> set[str]:
    async with open_registry() as registry:
        return {entry.connection_id for entry in await registry.entries()}


async def test_staff_see_every_connection_with_counts_per_user_and_server(
    ws_connect: Callable[..., Any], make_user: Any, viewer: Any, editor: Any, db_call: Any
) -> None:
    """Two connections of the viewer and one of the editor show as three rows, counted 2 and 1
    per user and 3 for this server, with their subscriptions once refreshed."""
    staff = await db_call(make_user, "staffer", is_staff=True)
    viewer_tabs = [await ws_connect(viewer), await ws_connect(viewer)]
    editor_tab = await ws_connect(editor)
    await viewer_tabs[0].ack("subscribe", {"graphic_id": "all"})
    await get_supervisor().refresh_registry()
    client = AsyncClient()
    await client.aforce_login(staff)

    response = await client.get(URL)

    assert response.status_code == 200
    context = response.context
    assert context["total"] == 3
    assert context["per_user"] == [
        {"username": "editor", "user_id": editor.pk, "count": 1},
        {"username": "viewer", "user_id": viewer.pk, "count": 2},
    ]
    assert context["per_server"] == [{"server_id": get_supervisor().server_id, "count": 3}]
    ids = {row["connection_id"]: row for row in context["connections"]}
    assert set(ids) == {
        tab.welcome["connection_id"] for tab in [*viewer_tabs, editor_tab] if tab.welcome
    }
    assert viewer_tabs[0].welcome is not None
    assert ids[viewer_tabs[0].welcome["connection_id"]]["subscriptions"] == "all"
    assert response.content.decode().count("<code>") == 3


async def test_users_who_are_not_staff_get_403(make_user: Any, db_call: Any) -> None:
    """A signed-in user without is_staff (even a Lock admin role holder) is forbidden."""
    user = await db_call(make_user, "plain", role="Lock admin")
    client = AsyncClient()
    await client.aforce_login(user)
    assert (await client.get(URL)).status_code == 403


async def test_anonymous_visitors_are_sent_to_log_in() -> None:
    response = await AsyncClient().get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/staff/connections/")


# --- disconnect -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "superuser", "sees_buttons"),
    [(LOCK_ADMIN, False, True), (None, True, True), (EDITOR, False, False), (None, False, False)],
    ids=["lock-admin", "superuser", "editor", "no-role"],
)
async def test_lock_admins_and_superusers_get_a_disconnect_button_per_connection(
    role: str | None,
    superuser: bool,
    sees_buttons: bool,
    ws_connect: Callable[..., Any],
    make_user: Any,
    viewer: Any,
    editor: Any,
    db_call: Any,
) -> None:
    """Staff with the Lock admin role and superusers see one Disconnect form per connection,
    CSRF-protected, posting to that connection's URL; other staff see the list without them."""
    staff = await db_call(make_user, "staffer", role=role, superuser=superuser, is_staff=True)
    tabs = [await ws_connect(viewer), await ws_connect(editor)]
    client = await logged_in(staff)

    response = await client.get(URL)

    assert response.status_code == 200
    page = response.content.decode()
    assert response.context["can_disconnect"] is sees_buttons
    assert page.count(DISCONNECT_BUTTON) == (2 if sees_buttons else 0)
    for tab in tabs:
        assert (f'action="{disconnect_url(connection_id_of(tab))}"' in page) is sees_buttons
    assert len(CSRF_INPUT.findall(page)) == (2 if sees_buttons else 0)


async def test_a_lock_admin_disconnects_a_connection_which_gets_an_error_and_close_4002(
    ws_connect: Callable[..., Any],
    make_user: Any,
    viewer: Any,
    editor: Any,
    db_call: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Through the page's own form (CSRF token included): the connection gets `error`
    `disconnected_by_staff` naming the staff member and the reason, then close 4002, and leaves
    the registry; the staff member is sent back to the page with a message saying so; one
    access-log line records who disconnected which connection and why. Other connections, of
    the same user included, stay open."""
    caplog.set_level(logging.INFO, logger="gal.access")
    staff = await db_call(make_user, "lockadmin", role=LOCK_ADMIN, is_staff=True)
    victim, same_user, bystander = (
        await ws_connect(viewer),
        await ws_connect(viewer),
        await ws_connect(editor),
    )
    victim_id = connection_id_of(victim)
    client = await logged_in(staff, enforce_csrf_checks=True)
    page = (await client.get(URL)).content.decode()
    form_action = f'action="{disconnect_url(victim_id)}"'
    form = page[page.index(form_action) :]
    token = CSRF_INPUT.search(form)
    assert token is not None

    response = await client.post(
        disconnect_url(victim_id),
        {"csrfmiddlewaretoken": token.group(1), "reason": "stuck overlay, reloading it"},
    )

    assert response.status_code == 302
    assert response["Location"] == URL
    error = await victim.receive()
    assert error == {
        "type": "error",
        "data": {
            "code": "disconnected_by_staff",
            "message": error["data"]["message"],
            "details": {"by": "lockadmin", "reason": "stuck overlay, reloading it"},
        },
    }
    assert error["data"]["message"] == (
        'Disconnected by staff member lockadmin (reason: "stuck overlay, reloading it"). '
        "You may reconnect."
    )
    assert (await victim.receive())["code"] == CLOSE_BY_STAFF
    await victim.close()
    assert victim_id not in await registered_ids()
    for other in (same_user, bystander):
        await still_connected(other)

    followed = await client.get(URL)
    shown = [str(message) for message in followed.context["messages"]]
    assert shown == [
        f"Disconnected viewer's connection {victim_id} on {get_supervisor().server_id}."
    ]
    lines = [
        json.loads(record.getMessage())
        for record in caplog.records
        if record.name == "gal.access" and "staff_disconnect" in record.getMessage()
    ]
    assert lines == [
        {
            "event": "staff_disconnect",
            "connection_id": victim_id,
            "user_id": viewer.pk,
            "username": "viewer",
            "server": get_supervisor().server_id,
            "staff_user_id": staff.pk,
            "staff_username": "lockadmin",
            "reason": "stuck overlay, reloading it",
        }
    ]


async def test_a_superuser_may_disconnect_without_a_reason(
    ws_connect: Callable[..., Any], superuser: Any, viewer: Any, db_call: Any
) -> None:
    """The reason is optional: the message then names only the staff member."""
    victim = await ws_connect(viewer)
    client = await logged_in(superuser)

    response = await client.post(disconnect_url(connection_id_of(victim)))

    assert response.status_code == 302
    error = await victim.receive()
    assert error["data"]["code"] == "disconnected_by_staff"
    assert error["data"]["details"] == {"by": "root", "reason": ""}
    assert error["data"]["message"] == "Disconnected by staff member root. You may reconnect."
    assert (await victim.receive())["code"] == CLOSE_BY_STAFF


@pytest.mark.parametrize(
    ("role", "is_staff"),
    [(EDITOR, True), (None, True), (LOCK_ADMIN, False)],
    ids=["staff-editor", "staff-without-role", "lock-admin-not-staff"],
)
async def test_others_get_403_and_close_nothing(
    role: str | None,
    is_staff: bool,
    ws_connect: Callable[..., Any],
    make_user: Any,
    viewer: Any,
    db_call: Any,
) -> None:
    """Staff without the Lock admin role, and Lock admins who are not staff, are forbidden
    (the permission, not the CSRF check, refuses them) and the connection stays open."""
    user = await db_call(make_user, "someone", role=role, is_staff=is_staff)
    victim = await ws_connect(viewer)
    client = await logged_in(user)

    response = await client.post(disconnect_url(connection_id_of(victim)), {"reason": "let me try"})

    assert response.status_code == 403
    assert b"CSRF" not in response.content
    await still_connected(victim)


async def test_anonymous_posts_are_sent_to_log_in_and_close_nothing(
    ws_connect: Callable[..., Any], viewer: Any
) -> None:
    victim = await ws_connect(viewer)

    response = await AsyncClient().post(disconnect_url(connection_id_of(victim)))

    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/staff/connections/")
    await still_connected(victim)


async def test_the_form_is_refused_without_its_csrf_token(
    ws_connect: Callable[..., Any], lock_admin: Any, viewer: Any, db_call: Any
) -> None:
    """A cross-site form cannot make a Lock admin's browser disconnect anyone."""
    lock_admin.is_staff = True
    await db_call(lock_admin.save)
    victim = await ws_connect(viewer)
    client = await logged_in(lock_admin, enforce_csrf_checks=True)

    response = await client.post(disconnect_url(connection_id_of(victim)), {"reason": "x"})

    assert response.status_code == 403
    assert b"CSRF" in response.content
    await still_connected(victim)


async def test_disconnect_answers_post_only(lock_admin: Any, db_call: Any) -> None:
    lock_admin.is_staff = True
    await db_call(lock_admin.save)
    client = await logged_in(lock_admin)

    response = await client.get(disconnect_url("0" * 32))

    assert response.status_code == 405


@pytest.mark.parametrize(
    ("connection_id", "reason", "expected"),
    [
        ("0" * 32, "", "Not disconnected: No open connection has this id"),
        ("not-a-connection-id", "", "Not disconnected: No open connection has this id"),
        (None, "x" * 501, "Not disconnected: reason: Ensure this field has no more than 500"),
        (None, "bad\x00reason", "Not disconnected: reason: "),
    ],
    ids=["unknown-id", "malformed-id", "reason-too-long", "reason-with-nul"],
)
async def test_a_refused_disconnect_says_why_and_closes_nothing(
    connection_id: str | None,
    reason: str,
    expected: str,
    ws_connect: Callable[..., Any],
    lock_admin: Any,
    viewer: Any,
    db_call: Any,
) -> None:
    """An id that names no open connection (closed meanwhile, or never one) and a reason that
    is not text of at most 500 characters are reported on the page; nothing is closed."""
    lock_admin.is_staff = True
    await db_call(lock_admin.save)
    victim = await ws_connect(viewer)
    client = await logged_in(lock_admin)

    response = await client.post(
        disconnect_url(connection_id or connection_id_of(victim)), {"reason": reason}, follow=True
    )

    assert response.status_code == 200
    (message,) = [str(message) for message in response.context["messages"]]
    assert message.startswith(expected), message
    await still_connected(victim)


async def test_a_disconnect_that_cannot_read_the_registry_says_so(
    lock_admin: Any, db_call: Any, settings: Any
) -> None:
    """With the registry's Redis unreachable, the page says the disconnect was not done and
    why, instead of failing."""
    lock_admin.is_staff = True
    await db_call(lock_admin.save)
    client = await logged_in(lock_admin)
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1

    response = await client.post(disconnect_url("0" * 32), follow=False)

    assert response.status_code == 302
    settings.REDIS_URL = ""  # render the page from this process's memory
    followed = await client.get(URL)
    assert [str(message) for message in followed.context["messages"]] == [
        "Not disconnected: The connection registry could not be read; try again shortly."
    ]


async def test_the_page_says_when_the_registry_cannot_be_read(
    lock_admin: Any, db_call: Any, settings: Any
) -> None:
    """With the registry's Redis unreachable the page still renders, answers 503 and says the
    connections are unknown (not that there are none)."""
    lock_admin.is_staff = True
    await db_call(lock_admin.save)
    client = await logged_in(lock_admin)
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1

    response = await client.get(URL)

    assert response.status_code == 503
    assert 'id="registry-unavailable"' in response.content.decode()
    assert response.context["connections"] == []


# --- recent errors ------------------------------------------------------------------------------


async def recent_error_rows(client: AsyncClient) -> list[dict[str, Any]]:
    await get_recent_error_writer().flush()
    response = await client.get(URL)
    assert response.status_code == 200
    rows: list[dict[str, Any]] = response.context["recent_errors"]
    return rows


async def test_recent_errors_list_error_frames_and_abnormal_closes_newest_first(
    ws_connect: Callable[..., Any],
    make_user: Any,
    viewer: Any,
    editor: Any,
    db_call: Any,
    settings: Any,
) -> None:
    """An error a client provoked (with the message type that caused it), an idle close (its
    error, then close 4000) and a refused token (token_invalid, then 4001) are listed with the
    time, server, connection, user and address; normal closes (1000) are not."""
    settings.WS_HEARTBEAT_INTERVAL_SECONDS = 0.1
    settings.WS_IDLE_TIMEOUT_SECONDS = 0.5
    staff = await db_call(make_user, "staffer", is_staff=True)
    provoker = await ws_connect(editor)
    reply = await provoker.request("subscribe", {"graphic_id": "seven"})
    assert reply["data"]["code"] == "validation_error"
    await provoker.close()  # 1000: not an error

    idler = await ws_connect(viewer)
    while (frame := await idler.receive())["type"] != "error":
        pass
    assert frame["data"]["code"] == "idle_timeout"
    assert (await idler.receive())["code"] == CLOSE_IDLE
    await idler.close()

    refused = await ws_connect(token="not-a-jwt", expect_welcome=False)
    assert (await refused.receive())["data"]["code"] == "token_invalid"
    assert (await refused.receive())["code"] == CLOSE_UNAUTHENTICATED
    await refused.close()

    rows = await recent_error_rows(await logged_in(staff))

    outline = [
        (row["what"], row["request_type"], row["username"], row["connection_id"]) for row in rows
    ]
    refused_id = rows[0]["connection_id"]  # never told to the client: it got no welcome
    assert outline == [
        ("close 4001", None, None, refused_id),
        ("token_invalid", None, None, refused_id),
        ("close 4000", None, "viewer", connection_id_of(idler)),
        ("idle_timeout", None, "viewer", connection_id_of(idler)),
        ("validation_error", "subscribe", "editor", connection_id_of(provoker)),
    ]
    assert refused_id not in (connection_id_of(idler), connection_id_of(provoker))
    # The remote address is the scope's, which the in-process client has none of (the
    # end-to-end test sees it).
    assert {row["server_id"] for row in rows} == {server_id()}
    assert rows[0]["at"] >= rows[-1]["at"]
    assert rows[-1]["user_id"] == editor.pk


async def test_only_the_newest_staff_recent_errors_max_are_kept(
    ws_connect: Callable[..., Any], make_user: Any, viewer: Any, db_call: Any, settings: Any
) -> None:
    """With STAFF_RECENT_ERRORS_MAX=3, five errors leave the newest three, newest first."""
    settings.STAFF_RECENT_ERRORS_MAX = 3
    staff = await db_call(make_user, "staffer", is_staff=True)
    client = await ws_connect(viewer)
    await client.request("subscribe", {"graphic_id": "seven"})  # validation_error
    await client.request("no_such_type")  # unknown_type
    await client.request("unsubscribe", {"graphic_id": "all"})  # not_subscribed
    await client.request("delete", {"graphic_id": 1})  # permission_denied
    await client.send_raw("{not json")
    assert (await client.receive())["data"]["code"] == "invalid_json"

    rows = await recent_error_rows(await logged_in(staff))

    assert [(row["code"], row["request_type"]) for row in rows] == [
        ("invalid_json", None),
        ("permission_denied", "delete"),
        ("not_subscribed", "unsubscribe"),
    ]
    async with open_recent_errors() as store:
        assert len(await store.latest()) == 3


async def test_recent_errors_never_hold_tokens(
    ws_connect: Callable[..., Any], make_user: Any, viewer: Any, db_call: Any
) -> None:
    """Neither a refused token in the URL nor a token sent with `auth` reaches the store or the
    page; an unknown message type is kept as "other", never as the client's text."""
    staff = await db_call(make_user, "staffer", is_staff=True)
    refused = await ws_connect(token="eyJhbGciOiJIUzI1NiJ9.SECRET-IN-URL.x", expect_welcome=False)
    assert (await refused.receive())["data"]["code"] == "token_invalid"
    await refused.close()
    client = await ws_connect(viewer)
    reply = await client.request("auth", {"token": "SECRET-IN-AUTH"})
    assert reply["data"]["code"] == "validation_error"
    await client.request("SECRET-AS-TYPE")

    rows = await recent_error_rows(await logged_in(staff))
    page = (await (await logged_in(staff)).get(URL)).content.decode()

    assert [row["request_type"] for row in rows][:2] == ["other", "auth"]
    async with open_recent_errors() as store:
        stored = "".join(entry.to_json() for entry in await store.latest())
    for secret in ("SECRET-IN-URL", "SECRET-IN-AUTH", "SECRET-AS-TYPE"):
        assert secret not in stored
        assert secret not in page

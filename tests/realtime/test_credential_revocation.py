"""WebSockets that must not outlive their credentials: a password change closes every open
connection of the account (token or session) and refuses its old tokens from then on; logging
out of a page closes the WebSockets of that session and no other."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.test import Client
from django.urls import reverse

from graphics.models import Graphic
from realtime.protocol import CLOSE_UNAUTHENTICATED
from tests.realtime.conftest import token_for

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

NEW_PASSWORD = "a-brand-new-long-passphrase-42"
WS_PATH = "/ws/graphics"


async def assert_closed_as_revoked(client: Any, *, request_id: str | None = None) -> None:
    """One `error` `token_revoked` (answering `request_id`, if given), then close 4001."""
    error = await client.receive()
    assert error["type"] == "error", error
    assert error["data"]["code"] == "token_revoked"
    assert error.get("request_id") == request_id
    assert await client.receive() == {"type": "__closed__", "code": CLOSE_UNAUTHENTICATED}


def logged_in_client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def session_cookie(client: Client) -> tuple[str, str]:
    name = settings.SESSION_COOKIE_NAME
    return ("cookie", f"{name}={client.cookies[name].value}")


def set_password_and_save(user: Any, root: Any) -> None:
    fresh = get_user_model().objects.get(pk=user.pk)
    fresh.set_password(NEW_PASSWORD)
    fresh.save()


def admin_password_form(user: Any, root: Any) -> None:
    response = logged_in_client(root).post(
        reverse("admin:auth_user_password_change", args=[user.pk]),
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302, response.content


@pytest.mark.parametrize("change", [set_password_and_save, admin_password_form])
async def test_a_password_change_closes_every_open_connection_of_the_account(
    change: Callable[[Any, Any], None],
    ws_connect: Callable[..., Any],
    db_call: Any,
    viewer: Any,
    editor: Any,
    superuser: Any,
    graphic: Graphic,
) -> None:
    """The account's token and session connections, listening ones included, get `error`
    `token_revoked` and close 4001 as soon as the new password is saved; another user's
    connection stays."""
    by_token = await ws_connect(viewer)
    by_session = await ws_connect(viewer, session=True)
    for client in (by_token, by_session):
        await client.ack("subscribe", {"graphic_id": graphic.pk})
    bystander = await ws_connect(editor)

    await db_call(change, viewer, superuser)

    for client in (by_token, by_session):
        await assert_closed_as_revoked(client)
    assert (await bystander.request("ping"))["type"] == "pong"


async def test_a_token_from_before_the_change_cannot_connect_or_reauthenticate(
    ws_connect: Callable[..., Any], db_call: Any, viewer: Any
) -> None:
    """The old access token opens nothing (`token_invalid`, 4001), and cannot be presented
    with `auth` on a connection opened after the change either."""
    old = await db_call(token_for, viewer)
    await db_call(set_password_and_save, viewer, None)

    refused = await ws_connect(token=old, expect_welcome=False)
    error = await refused.receive()
    assert (error["type"], error["data"]["code"]) == ("error", "token_invalid")
    assert await refused.receive() == {"type": "__closed__", "code": CLOSE_UNAUTHENTICATED}

    current = await ws_connect(await db_call(get_user_model().objects.get, pk=viewer.pk))
    reply = await current.request("auth", {"token": old})
    assert (reply["type"], reply["data"]["code"]) == ("error", "validation_error")


async def test_a_password_written_without_a_signal_is_caught_at_the_next_request(
    ws_connect: Callable[..., Any], db_call: Any, viewer: Any, graphic: Graphic
) -> None:
    """A queryset update sends no close command (nor would a lost one arrive): the next
    request of the open connection is refused with `token_revoked` and the connection closed."""
    client = await ws_connect(viewer)

    await db_call(
        lambda: (
            get_user_model()
            .objects.filter(pk=viewer.pk)
            .update(password=make_password(NEW_PASSWORD))
        )
    )

    request_id = await client.send("subscribe", {"graphic_id": graphic.pk})
    await assert_closed_as_revoked(client, request_id=request_id)


@pytest.mark.parametrize("logout_url", ["/logout/", "/admin/logout/"])
async def test_logging_out_of_a_page_closes_the_sockets_of_that_session_only(
    logout_url: str,
    ws_connect: Callable[..., Any],
    db_call: Any,
    superuser: Any,
    graphic: Graphic,
) -> None:
    """POST /logout/ (or the admin's log out) closes the WebSockets opened with that
    session's cookie (`token_revoked`, 4001); the same user's other session and token
    connections stay open."""
    page, other_page = (
        await db_call(logged_in_client, superuser),
        await db_call(logged_in_client, superuser),
    )
    doomed = await ws_connect(path=WS_PATH, extra_headers=[session_cookie(page)])
    await doomed.ack("subscribe", {"graphic_id": graphic.pk})
    other_session = await ws_connect(path=WS_PATH, extra_headers=[session_cookie(other_page)])
    by_token = await ws_connect(superuser)

    response = await db_call(page.post, logout_url)
    assert response.status_code in (200, 302)

    await assert_closed_as_revoked(doomed)
    for survivor in (other_session, by_token):
        assert (await survivor.request("ping"))["type"] == "pong"

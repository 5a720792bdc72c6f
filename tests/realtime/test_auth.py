"""Who may open /ws/graphics: the Origin check, token or session authentication, the close codes
of a refused connection, and a token that expires while the connection is open."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from django.contrib.auth.models import Group
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from gal_dashboard.access import EDITOR, VIEWER
from graphics.models import Graphic
from locks.services import lock_acquire
from realtime.protocol import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED
from tests.realtime.conftest import ORIGIN, session_cookie_for, token_for

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


async def assert_refused(client: Any, *, close_code: int, error_code: str) -> None:
    """The handshake was accepted, then one `error` with `error_code`, then the close."""
    assert client.connected, "the handshake should be accepted so the browser sees the code"
    error = await client.receive()
    assert error["type"] == "error", error
    assert error["data"]["code"] == error_code
    closed = await client.receive()
    assert closed == {"type": "__closed__", "code": close_code}


def token_expiring_at(user: Any, expires_at: int) -> str:
    token = AccessToken.for_user(user)
    token.set_exp(from_time=datetime.fromtimestamp(expires_at, UTC), lifetime=timedelta(0))
    return str(token)


def expired_token(user: Any) -> str:
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-timedelta(seconds=1))
    return str(token)


def forged_token(user: Any) -> str:
    """A well-formed access token for `user`, signed with a key that is not the server's."""
    payload = AccessToken.for_user(user).payload
    return jwt.encode(payload, "someone-elses-signing-key-0123456789abcdef", algorithm="HS256")


def unsigned_token(user: Any) -> str:
    payload = AccessToken.for_user(user).payload
    return jwt.encode(payload, "", algorithm="none")


# --- token authentication ---------------------------------------------------------------------


async def test_a_valid_token_connects_without_an_origin(
    ws_connect: Callable[..., Any], editor: Any
) -> None:
    """A non-browser client sends no Origin: its access token alone authenticates it, and the
    welcome says when the token expires."""
    client = await ws_connect(editor, origin=None)

    assert client.welcome["user"] == {"id": editor.pk, "username": "editor"}
    assert client.welcome["auth_method"] == "token"
    assert client.welcome["token_expires_at"] > time.time() + 60


@pytest.mark.parametrize(
    ("make_token", "error_code"),
    [
        (lambda user: "not-a-jwt", "token_invalid"),
        (lambda user: "a.b.c", "token_invalid"),
        (lambda user: token_for(user)[:-4], "token_invalid"),
        (lambda user: "x" * 5000, "token_invalid"),
        (forged_token, "token_invalid"),
        (unsigned_token, "token_invalid"),
        (expired_token, "token_expired"),
        (lambda user: str(RefreshToken.for_user(user)), "token_invalid"),
    ],
    ids=[
        "malformed",
        "three-garbage-parts",
        "truncated-signature",
        "oversized",
        "signed-with-another-key",
        "unsigned",
        "expired",
        "refresh-token-as-access",
    ],
)
async def test_a_bad_token_is_closed_with_4001(
    ws_connect: Callable[..., Any],
    db_call: Any,
    editor: Any,
    make_token: Callable[[Any], str],
    error_code: str,
) -> None:
    """A malformed, forged, unsigned, expired or refresh token is accepted at the handshake,
    then answered with one `error` naming the problem and closed with 4001, from a page (with
    an Origin) or a script (without)."""
    token = await db_call(make_token, editor)

    for origin in (ORIGIN, None):
        client = await ws_connect(editor, token=token, origin=origin, expect_welcome=False)

        await assert_refused(client, close_code=CLOSE_UNAUTHENTICATED, error_code=error_code)


async def test_a_bad_token_does_not_fall_back_to_the_session_cookie(
    ws_connect: Callable[..., Any], db_call: Any, editor: Any
) -> None:
    """A connection carrying both a valid session cookie and a bad token is refused: a stale
    token is never silently replaced by the cookie."""
    cookie = await db_call(session_cookie_for, editor)

    client = await ws_connect(
        path="/ws/graphics?token=not-a-jwt",
        expect_welcome=False,
        extra_headers=[("cookie", cookie)],
    )

    await assert_refused(client, close_code=CLOSE_UNAUTHENTICATED, error_code="token_invalid")


async def test_an_empty_token_does_not_fall_back_to_the_session_cookie(
    ws_connect: Callable[..., Any], db_call: Any, editor: Any
) -> None:
    """`?token=` with nothing after it is a token that is present and invalid, not an absent
    one: the cookie sent alongside does not authenticate the connection."""
    cookie = await db_call(session_cookie_for, editor)

    client = await ws_connect(
        path="/ws/graphics?token=", expect_welcome=False, extra_headers=[("cookie", cookie)]
    )

    await assert_refused(client, close_code=CLOSE_UNAUTHENTICATED, error_code="token_invalid")


async def test_the_token_of_an_inactive_user_is_closed_with_4001(
    ws_connect: Callable[..., Any], db_call: Any, make_user: Callable[..., Any]
) -> None:
    """A deactivated account's token no longer opens a connection."""
    user = await db_call(make_user, "retired", role=EDITOR, is_active=False)

    client = await ws_connect(user, expect_welcome=False)

    await assert_refused(client, close_code=CLOSE_UNAUTHENTICATED, error_code="token_invalid")


async def test_the_token_of_a_deleted_user_is_closed_with_4001(
    ws_connect: Callable[..., Any], db_call: Any, make_user: Callable[..., Any]
) -> None:
    """A token outliving its account is refused."""
    user = await db_call(make_user, "gone", role=EDITOR)
    token = await db_call(token_for, user)
    await db_call(user.delete)

    client = await ws_connect(token=token, expect_welcome=False)

    await assert_refused(client, close_code=CLOSE_UNAUTHENTICATED, error_code="token_invalid")


@pytest.mark.parametrize("origin", [ORIGIN, None], ids=["with-origin", "no-origin"])
async def test_no_credentials_at_all_is_closed_with_4001(
    ws_connect: Callable[..., Any], origin: str | None
) -> None:
    """Without a token or a session the server says not_authenticated and closes with 4001."""
    client = await ws_connect(path="/ws/graphics", origin=origin, expect_welcome=False)

    await assert_refused(client, close_code=CLOSE_UNAUTHENTICATED, error_code="not_authenticated")


async def test_a_user_without_a_role_is_closed_with_4003(
    ws_connect: Callable[..., Any], no_role_user: Any
) -> None:
    """An authenticated user who may not view graphics gets permission_denied and close 4003."""
    client = await ws_connect(no_role_user, expect_welcome=False)

    await assert_refused(client, close_code=CLOSE_FORBIDDEN, error_code="permission_denied")


async def test_a_refused_connection_never_sees_events(
    ws_connect: Callable[..., Any],
    db_call: Any,
    no_role_user: Any,
    editor: Any,
    graphic: Graphic,
) -> None:
    """Frames a refused client sends before the close are ignored: no snapshot, no events."""
    client = await ws_connect(no_role_user, expect_welcome=False)
    await client.send("subscribe", {"graphic_id": graphic.pk})
    await client.send("subscribe", {"graphic_id": "all"})

    await assert_refused(client, close_code=CLOSE_FORBIDDEN, error_code="permission_denied")
    assert await client.communicator.receive_nothing(0.2)


# --- session authentication and the Origin check ------------------------------------------------


async def test_the_session_cookie_authenticates_a_page_of_ours(
    ws_connect: Callable[..., Any], viewer: Any, graphic: Graphic
) -> None:
    """A dashboard page (allowed Origin, session cookie) connects as its user; a session does
    not expire with a token."""
    client = await ws_connect(viewer, session=True)

    assert client.welcome["user"] == {"id": viewer.pk, "username": "viewer"}
    assert client.welcome["auth_method"] == "session"
    assert client.welcome["token_expires_at"] is None
    snapshot = await client.ack("subscribe", {"graphic_id": graphic.pk})
    assert snapshot["graphic"]["id"] == graphic.pk


async def test_a_session_cookie_without_an_origin_is_closed_with_4001(
    ws_connect: Callable[..., Any], viewer: Any
) -> None:
    """A cookie alone (a script, not a page) never authenticates."""
    client = await ws_connect(viewer, session=True, origin=None, expect_welcome=False)

    await assert_refused(client, close_code=CLOSE_UNAUTHENTICATED, error_code="not_authenticated")


async def test_the_session_of_a_user_without_a_role_is_closed_with_4003(
    ws_connect: Callable[..., Any], no_role_user: Any
) -> None:
    """Session authentication leads to the same permission check as a token."""
    client = await ws_connect(no_role_user, session=True, expect_welcome=False)

    await assert_refused(client, close_code=CLOSE_FORBIDDEN, error_code="permission_denied")


async def test_the_session_of_a_deactivated_user_is_closed_with_4001(
    ws_connect: Callable[..., Any], db_call: Any, editor: Any
) -> None:
    """Deactivating an account ends the sessions it had: they no longer connect."""
    cookie = await db_call(session_cookie_for, editor)
    editor.is_active = False
    await db_call(editor.save)

    client = await ws_connect(
        path="/ws/graphics", expect_welcome=False, extra_headers=[("cookie", cookie)]
    )

    await assert_refused(client, close_code=CLOSE_UNAUTHENTICATED, error_code="not_authenticated")


@pytest.mark.parametrize("credentials", ["session", "token"])
async def test_a_foreign_origin_is_refused_at_the_handshake(
    ws_connect: Callable[..., Any], viewer: Any, credentials: str
) -> None:
    """A page from a host outside ALLOWED_HOSTS cannot even open the WebSocket, whatever
    credentials it carries."""
    for origin in (
        "http://evil.example",
        "https://127.0.0.1.evil.example",
        "http://evil.example:8000",
        "null",
        "file://",
        "localhost",
    ):
        client = await ws_connect(
            viewer, session=credentials == "session", origin=origin, expect_welcome=False
        )

        assert client.connected is False, origin


@pytest.mark.parametrize("credentials", ["session", "token"])
@pytest.mark.parametrize(
    "origin",
    [
        "http://localhost:1337",  # the attack of issue 14, finding 6
        "http://127.0.0.1:1337",  # our host, another port: another site
        "http://127.0.0.1",  # port 80
        "https://127.0.0.1:8000",  # another scheme
        "http://localhost:8000",  # an allowed host, but not the one the page was served from
        "http://127.0.0.1:8000/",  # not an origin (browsers never send a path)
        "http://user@127.0.0.1:8000",
    ],
)
async def test_an_origin_on_another_port_scheme_or_host_is_refused_at_the_handshake(
    ws_connect: Callable[..., Any], viewer: Any, credentials: str, origin: str
) -> None:
    """Origins compare scheme, host and port: a page on another port of an allowed host (any
    local dev server or service) is another site, and gets HTTP 403 whatever it carries."""
    client = await ws_connect(
        viewer, session=credentials == "session", origin=origin, expect_welcome=False
    )

    assert client.connected is False, origin


@pytest.mark.parametrize(
    ("host", "origin"),
    [
        ("127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("localhost:8000", "http://localhost:8000"),
        ("LOCALHOST", "http://localhost:80"),  # the default port, spelled or not
        ("localhost:80", "http://localhost"),
    ],
)
async def test_the_pages_own_origin_connects_with_its_session(
    ws_connect: Callable[..., Any], viewer: Any, host: str, origin: str
) -> None:
    """A page served from `host` sends its own origin: that is ours, port included."""
    client = await ws_connect(viewer, session=True, origin=origin, extra_headers=[("host", host)])

    assert client.welcome["auth_method"] == "session"


async def test_behind_https_only_https_pages_are_ours(
    ws_connect: Callable[..., Any], viewer: Any, settings: Any
) -> None:
    """With HTTPS on, the TLS proxy in front speaks plain ws: to us, but every page is https:
    `https://host` is the page's origin (port 443 when the Host names none), plain http not."""
    settings.HTTPS = True
    served = [("host", "localhost")]

    ours = await ws_connect(viewer, session=True, origin="https://localhost", extra_headers=served)
    plain = await ws_connect(
        viewer,
        session=True,
        origin="http://localhost",
        extra_headers=served,
        expect_welcome=False,
    )

    assert ours.welcome["auth_method"] == "session"
    assert plain.connected is False


async def test_a_host_outside_allowed_hosts_is_no_page_of_ours(
    ws_connect: Callable[..., Any], viewer: Any
) -> None:
    """DNS rebinding: a page on evil.example:8000 whose name resolves to us sends a matching
    Origin and Host, but the Host is not one of ours."""
    client = await ws_connect(
        viewer,
        session=True,
        origin="http://evil.example:8000",
        extra_headers=[("host", "evil.example:8000")],
        expect_welcome=False,
    )

    assert client.connected is False


async def test_configured_origins_may_connect_and_nothing_near_them(
    ws_connect: Callable[..., Any], viewer: Any, settings: Any
) -> None:
    """WS_ALLOWED_ORIGINS admits exactly the origins it lists, port and scheme included."""
    settings.WS_ALLOWED_ORIGINS = ["http://localhost:5173", "https://overlay.gal.example"]

    for origin in ("http://localhost:5173", "https://overlay.gal.example:443"):
        client = await ws_connect(viewer, session=True, origin=origin)
        assert client.welcome["auth_method"] == "session", origin
    for origin in (
        "http://localhost:5174",
        "https://localhost:5173",
        "http://overlay.gal.example",
        "https://overlay.gal.example:8443",
        "https://evil.overlay.gal.example",
    ):
        client = await ws_connect(viewer, session=True, origin=origin, expect_welcome=False)
        assert client.connected is False, origin


# --- token expiry while connected ---------------------------------------------------------------


async def test_the_connection_closes_when_its_token_expires(
    ws_connect: Callable[..., Any], db_call: Any, editor: Any
) -> None:
    """At the token's `exp` the server sends `error` token_expired and closes with 4001."""
    expires_at = math.ceil(time.time() + 0.7)
    token = await db_call(token_expiring_at, editor, expires_at)
    client = await ws_connect(token=token)
    assert client.welcome["token_expires_at"] == expires_at

    error = await client.receive(timeout=expires_at - time.time() + 3)

    assert time.time() >= expires_at - 0.05
    assert error["type"] == "error"
    assert error["data"]["code"] == "token_expired"
    assert await client.receive() == {"type": "__closed__", "code": CLOSE_UNAUTHENTICATED}


async def test_a_fresh_token_sent_with_auth_keeps_the_connection_open(
    ws_connect: Callable[..., Any], db_call: Any, editor: Any
) -> None:
    """Sending `auth` with a new token of the same user before `exp` moves the deadline: the
    connection stays open past the old expiry and keeps working."""
    expires_at = math.ceil(time.time() + 0.7)
    client = await ws_connect(token=await db_call(token_expiring_at, editor, expires_at))

    fresh = await db_call(token_for, editor)
    reply = await client.ack("auth", {"token": fresh})
    assert reply["token_expires_at"] > expires_at + 60

    await client.no_event(within=expires_at - time.time() + 0.5)
    pong = await client.request("ping")
    assert pong["type"] == "pong"


async def test_a_rejected_auth_keeps_the_old_deadline(
    ws_connect: Callable[..., Any], db_call: Any, editor: Any, editor2: Any
) -> None:
    """An `auth` with someone else's token changes nothing: the connection still ends at the
    first token's expiry."""
    expires_at = math.ceil(time.time() + 0.7)
    client = await ws_connect(token=await db_call(token_expiring_at, editor, expires_at))

    reply = await client.request("auth", {"token": await db_call(token_for, editor2)})
    assert reply["data"]["code"] == "validation_error"

    error = await client.receive(timeout=expires_at - time.time() + 3)
    assert error["data"]["code"] == "token_expired"
    assert await client.receive() == {"type": "__closed__", "code": CLOSE_UNAUTHENTICATED}


async def test_auth_with_an_expired_token_is_a_validation_error(
    ws_connect: Callable[..., Any], db_call: Any, editor: Any
) -> None:
    """An expired token sent with `auth` is refused and the connection carries on."""
    client = await ws_connect(editor)

    reply = await client.request("auth", {"token": await db_call(expired_token, editor)})

    assert reply["data"]["code"] == "validation_error"
    assert (await client.request("ping"))["type"] == "pong"


async def test_nothing_is_handled_or_delivered_after_the_expiry_close(
    ws_connect: Callable[..., Any], db_call: Any, editor: Any, graphic: Graphic
) -> None:
    """Once the server has closed a connection for an expired token, frames the client still
    sends are not acted on and events no longer reach it."""
    expires_at = math.ceil(time.time() + 0.7)
    client = await ws_connect(token=await db_call(token_expiring_at, editor, expires_at))
    await client.ack("subscribe", {"graphic_id": graphic.pk})
    error = await client.receive(timeout=expires_at - time.time() + 3)
    assert error["data"]["code"] == "token_expired"
    assert await client.receive() == {"type": "__closed__", "code": CLOSE_UNAUTHENTICATED}

    await client.send("create", {"title": "Too late", "event_name": "E"})
    await db_call(lock_acquire, user=editor, graphic_id=graphic.pk)

    assert await client.communicator.receive_nothing(0.3)
    assert await db_call(lambda: Graphic.objects.count()) == 1


# --- account changes while connected ------------------------------------------------------------


async def test_a_user_deactivated_while_connected_is_closed_at_the_next_request(
    ws_connect: Callable[..., Any], db_call: Any, editor: Any, graphic: Graphic
) -> None:
    """Deactivating an account takes effect on its open connection: the next request is
    answered not_authenticated (with its request_id), nothing is done, and the connection is
    closed with 4001."""
    client = await ws_connect(editor)
    await client.ack("lock", {"graphic_id": graphic.pk})
    await db_call(lambda: type(editor).objects.filter(pk=editor.pk).update(is_active=False))

    request_id = await client.send(
        "update", {"graphic_id": graphic.pk, "version": 1, "title": "After deactivation"}
    )

    error = await client.receive()
    assert error["type"] == "error"
    assert error["request_id"] == request_id
    assert error["data"]["code"] == "not_authenticated"
    assert await client.receive() == {"type": "__closed__", "code": CLOSE_UNAUTHENTICATED}
    saved = await db_call(lambda: Graphic.objects.get(pk=graphic.pk))
    assert (saved.title, saved.version) == ("Round 3 Scoreboard", 1)


@pytest.mark.parametrize("change", ["deactivate", "delete"])
async def test_a_listening_user_is_closed_as_soon_as_the_account_is_deactivated_or_deleted(
    ws_connect: Callable[..., Any], db_call: Any, viewer: Any, graphic: Graphic, change: str
) -> None:
    """A viewer who only listens sends no request; deactivating (or deleting) the account,
    in the admin or anywhere that saves the user, closes its connection at once with 4001."""
    client = await ws_connect(viewer)
    await client.ack("subscribe", {"graphic_id": graphic.pk})

    def change_account() -> None:
        user = type(viewer).objects.get(pk=viewer.pk)
        if change == "delete":
            user.delete()
        else:
            user.is_active = False
            user.save()

    await db_call(change_account)

    await assert_refused(client, close_code=CLOSE_UNAUTHENTICATED, error_code="account_disabled")


async def test_a_user_whose_roles_are_removed_while_connected_is_closed_with_4003(
    ws_connect: Callable[..., Any], db_call: Any, editor: Any
) -> None:
    """Removing every role from a connected user: their next request is permission_denied and
    the connection closes with 4003, as it would at connect."""
    client = await ws_connect(editor)
    await db_call(editor.groups.clear)

    request_id = await client.send("create", {"title": "After demotion", "event_name": "E"})

    error = await client.receive()
    assert (error["request_id"], error["data"]["code"]) == (request_id, "permission_denied")
    assert await client.receive() == {"type": "__closed__", "code": CLOSE_FORBIDDEN}
    assert await db_call(lambda: Graphic.objects.count()) == 0


async def test_an_editor_demoted_to_viewer_while_connected_can_no_longer_write(
    ws_connect: Callable[..., Any], db_call: Any, editor: Any, graphic: Graphic
) -> None:
    """Role changes apply to open connections at their next request: an Editor made a Viewer
    keeps watching but may no longer lock or edit."""
    client = await ws_connect(editor)

    def make_viewer() -> None:
        editor.groups.set([Group.objects.get(name=VIEWER)])

    await db_call(make_viewer)

    error = (await client.request("lock", {"graphic_id": graphic.pk}))["data"]
    assert error["code"] == "permission_denied"
    snapshot = await client.ack("subscribe", {"graphic_id": graphic.pk})
    assert snapshot["lock"]["locked"] is False

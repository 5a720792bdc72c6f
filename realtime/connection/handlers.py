"""
The handler table: one small function per client message type, `HANDLERS[type]`.

Each validates its message's shape, calls one service, selector or snapshot as the connection's
current user (realtime.connection.session), and returns the `ack`'s data; a refusal is an exception
(DomainError, ProtocolError) that the consumer turns into the `error` reply, with the same codes
as the REST API. `ping` is answered by the consumer itself, without the account check.

A connection opened with an overlay view key may send only VIEW_KEY_MESSAGE_TYPES (and `ping`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from gal_dashboard.access import CHANGE_GRAPHIC, require_permission
from gal_dashboard.errors import PermissionDenied, ValidationFailed
from gal_dashboard.storable import BIGINT_MAX
from graphics.models import Graphic
from graphics.on_air import graphic_clear, graphic_set_live, graphic_take
from graphics.serialization import graphic_payload
from graphics.services import (
    UNSET,
    graphic_archive,
    graphic_create,
    graphic_delete,
    graphic_restore,
    graphic_update,
)
from locks.models import CanvasLock
from locks.selectors import lock_live, lock_state
from locks.services import lock_acquire, lock_override, lock_refresh, lock_release
from realtime.connection.auth import TokenRejected, authenticate_access_token, view_key_out_of_scope
from realtime.connection.limits import check_subscription_room
from realtime.connection.session import ConnectionSession
from realtime.connection.subscription import Subscription
from realtime.db import database_sync_to_async
from realtime.delivery.frames import ALL, SubscriptionKey
from realtime.delivery.hub import get_hub
from realtime.delivery.replay import check_seq, subscription_start
from realtime.ops import observability
from realtime.presence.store import ACTIONS, EDITING
from realtime.presence.tracker import get_presence
from realtime.protocol import ClientMessage, ProtocolError

Handler = Callable[[ConnectionSession, ClientMessage], Awaitable[dict[str, Any]]]

# All a view-key connection may send besides `ping`: it reads one graphic.
VIEW_KEY_MESSAGE_TYPES = frozenset({"subscribe", "unsubscribe"})


def out_of_scope(session: ConnectionSession) -> PermissionDenied:
    """The refusal of what a view-key connection may not ask (realtime.connection.auth)."""
    assert session.view_key_graphic_id is not None
    return view_key_out_of_scope(session.view_key_graphic_id)


def _allowed_keys(message: ClientMessage, allowed: set[str]) -> None:
    unknown = set(message.data) - allowed
    if unknown:
        raise ValidationFailed(
            details={key: ["Unknown field."] for key in sorted(unknown)},
        )


# The replies below are built in the database thread, with the service call they report on:
# a payload reads rows the service need not have loaded (a graphic's `created_by`, a lock's
# holder), and the ORM refuses to run on the event loop (SynchronousOnlyOperation). Issue 14: an
# `update` that changed nothing answered internal_error, because only a real change had loaded
# the graphic's users (for its broadcast) before the payload was built on the loop.


def _graphic_reply(service: Callable[..., Graphic], **arguments: Any) -> dict[str, Any]:
    """`{"graphic": payload}` of the graphic a service returns. Runs in the database thread."""
    return {"graphic": graphic_payload(service(**arguments))}


def _lock_reply(
    service: Callable[..., CanvasLock | None], *, graphic_id: Any, **arguments: Any
) -> dict[str, Any]:
    """`{"graphic_id", "lock": lock state}` after a lock service. Runs in the database thread."""
    lock = service(graphic_id=graphic_id, **arguments)
    return {"graphic_id": graphic_id, "lock": lock_state(lock)}


def _unlock_reply(*, user: Any, graphic_id: Any) -> dict[str, Any]:
    """The `unlock` ack: whether it released, and the lock as it is now (someone may have
    taken it since). Runs in the database thread."""
    released = lock_release(user=user, graphic_id=graphic_id)
    lock = lock_live(graphic_id=graphic_id)
    return {"graphic_id": graphic_id, "released": released, "lock": lock_state(lock)}


def graphic_key(value: Any) -> SubscriptionKey:
    if value == ALL:
        return ALL
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= BIGINT_MAX:
        raise ValidationFailed(
            details={"graphic_id": ['A graphic id (positive whole number) or "all".']}
        )
    return value


async def on_subscribe(session: ConnectionSession, message: ClientMessage) -> dict[str, Any]:
    _allowed_keys(message, {"graphic_id", "last_seq"})
    key = graphic_key(message.data.get("graphic_id"))
    if session.view_key_id is not None and key != session.view_key_graphic_id:
        raise out_of_scope(session)
    last_seq = check_seq(message.data.get("last_seq"), field="last_seq")
    check_subscription_room(session.subscriptions, key, request_id=message.request_id)
    hub = get_hub()
    hub.unsubscribe(session, key)
    subscription = session.subscriptions[key] = Subscription()
    hub.subscribe(session, key)
    try:
        await hub.wait_joined(key)
        start = await database_sync_to_async(subscription_start)(
            key=key, last_seq=last_seq, view_key=session.view_key_id is not None
        )
    except BaseException:
        session.subscriptions.pop(key, None)
        hub.unsubscribe(session, key)
        if key != ALL:
            await get_presence().leave(session, int(key))
        raise
    # Presence is not in the event log: every ack, snapshot or replay, carries it afresh.
    if key == ALL:
        start.ack["presence_counts"] = await get_presence().counts(session)
    else:
        await get_presence().join(session, int(key))
        # An overlay's view key reads the graphic, not who works on it: staff usernames stay
        # with staff (the presence store never counts a view key either).
        if session.view_key_id is None:
            start.ack["presence"] = await get_presence().graphic_presence(session, int(key))
    if last_seq is not None:
        observability.resumed(bool(start.ack.get("recovered")))
    if start.replay is None:
        subscription.last_seq = start.ack["seq"]
    else:
        # The replay goes out after the ack through the pending queue, ahead of the live
        # events that arrived during the read: session.flush_pending sends each seq once, in order.
        assert last_seq is not None and subscription.pending is not None
        subscription.last_seq = last_seq
        subscription.pending[:0] = start.replay
    return start.ack


async def on_unsubscribe(session: ConnectionSession, message: ClientMessage) -> dict[str, Any]:
    _allowed_keys(message, {"graphic_id"})
    key = graphic_key(message.data.get("graphic_id"))
    if not await session.end_subscription(key):
        raise ProtocolError(
            "not_subscribed", f"Not subscribed to {key!r}.", request_id=message.request_id
        )
    return {"graphic_id": key}


async def on_activity(session: ConnectionSession, message: ClientMessage) -> dict[str, Any]:
    """Say what this connection does on a graphic it is subscribed to (realtime.presence.tracker):
    `viewing`, or `editing` (Editors only)."""
    _allowed_keys(message, {"graphic_id", "action"})
    key = graphic_key(message.data.get("graphic_id"))
    action = message.data.get("action")
    if key == ALL:
        raise ValidationFailed(details={"graphic_id": ['A graphic id, not "all".']})
    if action not in ACTIONS:
        raise ValidationFailed(details={"action": ['"viewing" or "editing".']})
    if key not in session.subscriptions:
        # Presence lasts as long as the subscription: an unsubscribe or a close ends it.
        raise ProtocolError(
            "not_subscribed",
            f"Subscribe to {key!r} before saying what you do there.",
            request_id=message.request_id,
        )
    if action == EDITING:
        await database_sync_to_async(require_permission)(session.user, CHANGE_GRAPHIC)
    await get_presence().set_action(session, int(key), action)
    return {"graphic_id": key, "action": action}


async def on_create(session: ConnectionSession, message: ClientMessage) -> dict[str, Any]:
    _allowed_keys(message, {"title", "event_name", "data"})
    return await database_sync_to_async(_graphic_reply)(
        graphic_create,
        user=session.user,
        title=message.data.get("title"),
        event_name=message.data.get("event_name"),
        data=message.data.get("data"),
    )


async def on_update(session: ConnectionSession, message: ClientMessage) -> dict[str, Any]:
    _allowed_keys(
        message,
        {
            "graphic_id",
            "version",
            "fencing_token",
            "title",
            "event_name",
            "data",
            "patch",
            "transition",
            "transition_ms",
        },
    )
    return await database_sync_to_async(_graphic_reply)(
        graphic_update,
        user=session.user,
        graphic_id=message.data.get("graphic_id"),
        version=message.data.get("version"),
        title=message.data.get("title", UNSET),
        event_name=message.data.get("event_name", UNSET),
        data=message.data.get("data", UNSET),
        patch=message.data.get("patch", UNSET),
        transition=message.data.get("transition", UNSET),
        transition_ms=message.data.get("transition_ms", UNSET),
        fencing_token=message.data.get("fencing_token"),
    )


async def on_delete(session: ConnectionSession, message: ClientMessage) -> dict[str, Any]:
    _allowed_keys(message, {"graphic_id", "reason"})
    graphic_id = message.data.get("graphic_id")
    await database_sync_to_async(graphic_delete)(
        user=session.user, graphic_id=graphic_id, reason=message.data.get("reason", "")
    )
    return {"graphic_id": graphic_id, "deleted": True}


async def on_archive(session: ConnectionSession, message: ClientMessage) -> dict[str, Any]:
    _allowed_keys(message, {"graphic_id", "reason"})
    return await database_sync_to_async(_graphic_reply)(
        graphic_archive,
        user=session.user,
        graphic_id=message.data.get("graphic_id"),
        reason=message.data.get("reason", ""),
    )


async def on_restore(session: ConnectionSession, message: ClientMessage) -> dict[str, Any]:
    _allowed_keys(message, {"graphic_id", "reason"})
    return await database_sync_to_async(_graphic_reply)(
        graphic_restore,
        user=session.user,
        graphic_id=message.data.get("graphic_id"),
        reason=message.data.get("reason", ""),
    )


async def on_lock(session: ConnectionSession, message: ClientMessage) -> dict[str, Any]:
    _allowed_keys(message, {"graphic_id"})
    graphic_id = message.data.get("graphic_id")
    return await database_sync_to_async(_lock_reply)(
        lock_acquire, user=session.user, graphic_id=graphic_id
    )


async def on_unlock(session: ConnectionSession, message: ClientMessage) -> dict[str, Any]:
    _allowed_keys(message, {"graphic_id"})
    graphic_id = message.data.get("graphic_id")
    return await database_sync_to_async(_unlock_reply)(user=session.user, graphic_id=graphic_id)


async def on_lock_refresh(session: ConnectionSession, message: ClientMessage) -> dict[str, Any]:
    _allowed_keys(message, {"graphic_id"})
    graphic_id = message.data.get("graphic_id")
    return await database_sync_to_async(_lock_reply)(
        lock_refresh, user=session.user, graphic_id=graphic_id
    )


async def on_lock_override(session: ConnectionSession, message: ClientMessage) -> dict[str, Any]:
    _allowed_keys(message, {"graphic_id", "reason", "take_over"})
    graphic_id = message.data.get("graphic_id")
    return await database_sync_to_async(_lock_reply)(
        lock_override,
        user=session.user,
        graphic_id=graphic_id,
        reason=message.data.get("reason"),
        take_over=message.data.get("take_over", False),
    )


async def on_auth(session: ConnectionSession, message: ClientMessage) -> dict[str, Any]:
    _allowed_keys(message, {"token"})
    token = message.data.get("token")
    if not isinstance(token, str):
        raise ValidationFailed(details={"token": ["An access token string is required."]})
    try:
        identity = await database_sync_to_async(authenticate_access_token)(token)
    except TokenRejected as exc:
        raise ValidationFailed(exc.message, details={"token": [exc.message]}) from None
    if identity.user.pk != session.user_id:
        raise ValidationFailed(details={"token": ["The token belongs to another user."]})
    if session.scope.get("auth_method") == "token":
        session.schedule_token_expiry(identity.expires_at)
        session.token_family = identity.family
    return {"token_expires_at": identity.expires_at}


# -- on air (issue 16): take, clear, set_live; the rules are graphics.on_air's ---------------


async def on_take(session: ConnectionSession, message: ClientMessage) -> dict[str, Any]:
    _allowed_keys(message, {"graphic_id", "expected_version", "reason"})
    return await database_sync_to_async(_graphic_reply)(
        graphic_take,
        user=session.user,
        graphic_id=message.data.get("graphic_id"),
        expected_version=message.data.get("expected_version"),
        reason=message.data.get("reason", ""),
    )


async def on_clear(session: ConnectionSession, message: ClientMessage) -> dict[str, Any]:
    _allowed_keys(message, {"graphic_id", "reason"})
    return await database_sync_to_async(_graphic_reply)(
        graphic_clear,
        user=session.user,
        graphic_id=message.data.get("graphic_id"),
        reason=message.data.get("reason", ""),
    )


async def on_set_live(session: ConnectionSession, message: ClientMessage) -> dict[str, Any]:
    _allowed_keys(message, {"graphic_id", "live", "expected_version", "reason"})
    return await database_sync_to_async(_graphic_reply)(
        graphic_set_live,
        user=session.user,
        graphic_id=message.data.get("graphic_id"),
        live=message.data.get("live"),
        expected_version=message.data.get("expected_version"),
        reason=message.data.get("reason", ""),
    )


HANDLERS: dict[str, Handler] = {
    "subscribe": on_subscribe,
    "unsubscribe": on_unsubscribe,
    "create": on_create,
    "update": on_update,
    "delete": on_delete,
    "archive": on_archive,
    "restore": on_restore,
    "lock": on_lock,
    "unlock": on_unlock,
    "lock_refresh": on_lock_refresh,
    "lock_override": on_lock_override,
    "auth": on_auth,
    "activity": on_activity,
    "take": on_take,
    "clear": on_clear,
    "set_live": on_set_live,
}

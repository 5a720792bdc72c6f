"""The limits a WebSocket client meets (in-process; the same over real servers in
tests/e2e/test_limits.py): connections per user, the frame rate and flooding, subscriptions per
connection and message size. A frame over a limit is never applied."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from graphics.models import Graphic
from realtime.protocol import CLOSE_MESSAGE_TOO_BIG, CLOSE_POLICY, CLOSE_TOO_MANY_CONNECTIONS
from tests.conftest import valid_canvas
from tests.realtime.conftest import WsClient

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


async def closing_error(client: WsClient) -> tuple[dict[str, Any], int | None]:
    """The `error` frame a refused client gets, and the close code that follows it."""
    error = await client.receive()
    assert error["type"] == "error", error
    closed = await client.receive()
    assert closed["type"] == "__closed__", closed
    return error, closed["code"]


def graphic_titles() -> list[str]:
    return list(Graphic.objects.values_list("title", flat=True))


async def test_the_sixth_connection_of_a_user_is_refused_with_4029(
    ws_connect: Callable[..., Any], editor: Any, viewer: Any
) -> None:
    """Five connections per user are welcome; the sixth gets `too_many_connections`, saying to
    close another tab, then 4029. Another user is unaffected, and closing one of the five
    frees a place."""
    tabs = [await ws_connect(editor) for _ in range(5)]

    sixth = await ws_connect(editor, expect_welcome=False)
    error, code = await closing_error(sixth)
    assert code == CLOSE_TOO_MANY_CONNECTIONS
    assert error["data"]["code"] == "too_many_connections"
    assert "close another tab" in error["data"]["message"]
    assert (await ws_connect(viewer)).welcome is not None

    await tabs[0].close()
    assert (await ws_connect(editor)).welcome is not None


async def test_frames_past_the_burst_are_rate_limited_and_not_applied(
    ws_connect: Callable[..., Any], db_call: Any, editor: Any, editor2: Any, settings: Any
) -> None:
    """With a burst of 3, the fourth request in a row gets `rate_limited` with
    `details.retry_after` (seconds) and is not applied; pings are still answered; another
    user's connection keeps working."""
    settings.WS_RATE_LIMIT_BURST = 3
    settings.WS_RATE_LIMIT_PER_MINUTE = 6  # one token per 10 s: none come back mid-test
    flooder = await ws_connect(editor)
    other = await ws_connect(editor2)
    for index in range(3):
        await flooder.ack("create", {"title": f"Allowed {index}", "event_name": "GAL"})

    refused = await flooder.request("create", {"title": "Refused", "event_name": "GAL"})

    assert refused["type"] == "error"
    assert refused["data"]["code"] == "rate_limited"
    assert 0 < refused["data"]["details"]["retry_after"] <= 10
    assert (await flooder.request("ping"))["type"] == "pong"
    await other.ack("create", {"title": "Other user", "event_name": "GAL"})
    assert sorted(await db_call(graphic_titles)) == [
        "Allowed 0",
        "Allowed 1",
        "Allowed 2",
        "Other user",
    ]


async def test_malformed_frames_count_against_the_rate_limit(
    ws_connect: Callable[..., Any], viewer: Any, settings: Any
) -> None:
    """Garbage costs a token like a request: after the burst it is rate-limited too."""
    settings.WS_RATE_LIMIT_BURST = 2
    settings.WS_RATE_LIMIT_PER_MINUTE = 6
    client = await ws_connect(viewer)
    codes = []
    for _ in range(3):
        await client.send_raw("not json")
        codes.append((await client.receive())["data"]["code"])
    assert codes == ["invalid_json", "invalid_json", "rate_limited"]


async def test_persistent_flooding_closes_the_connection_with_4008(
    ws_connect: Callable[..., Any], viewer: Any, settings: Any
) -> None:
    """Past WS_RATE_LIMIT_FLOOD_REJECTIONS outstanding rejections the connection is closed
    with 4008 (after an error saying why); until then each gets `rate_limited`."""
    settings.WS_RATE_LIMIT_BURST = 2
    settings.WS_RATE_LIMIT_PER_MINUTE = 6
    settings.WS_RATE_LIMIT_FLOOD_REJECTIONS = 5
    client = await ws_connect(viewer)
    for _ in range(2 + 5 + 1):
        await client.send("unsubscribe", {"graphic_id": "all"})

    replies = [await client.receive() for _ in range(2 + 5 + 1)]
    codes = [reply["data"]["code"] for reply in replies]
    assert codes == ["not_subscribed"] * 2 + ["rate_limited"] * 6
    assert (await client.receive())["code"] == CLOSE_POLICY


async def test_a_subscription_past_the_cap_is_refused_and_changes_nothing(
    ws_connect: Callable[..., Any],
    db_call: Any,
    viewer: Any,
    editor: Any,
    make_graphic: Any,
    settings: Any,
) -> None:
    """At WS_MAX_SUBSCRIPTIONS, subscribing to one more gets `too_many_subscriptions` (with the
    limit in details) and no subscription; re-subscribing to a held key still works."""
    settings.WS_MAX_SUBSCRIPTIONS = 2
    first, second, third = [
        await db_call(make_graphic, title=title, by=editor) for title in ("A", "B", "C")
    ]
    client = await ws_connect(viewer)
    await client.ack("subscribe", {"graphic_id": first.pk})
    await client.ack("subscribe", {"graphic_id": second.pk})

    refused = await client.request("subscribe", {"graphic_id": third.pk})

    assert refused["type"] == "error"
    assert refused["data"]["code"] == "too_many_subscriptions"
    assert refused["data"]["details"] == {"limit": 2}
    not_held = await client.request("unsubscribe", {"graphic_id": third.pk})
    assert not_held["data"]["code"] == "not_subscribed"
    await client.ack("subscribe", {"graphic_id": second.pk})


async def test_a_message_over_the_size_limit_closes_with_1009_and_is_not_applied(
    ws_connect: Callable[..., Any], db_call: Any, editor: Any, settings: Any
) -> None:
    """A `create` padded past WS_MAX_MESSAGE_BYTES (valid JSON, a valid canvas) gets
    `too_large` and a 1009 close; no graphic is created."""
    settings.GRAPHIC_DATA_MAX_BYTES = 4096
    settings.WS_MAX_MESSAGE_BYTES = 4096 + 1024
    client = await ws_connect(editor)
    frame = json.dumps(
        {
            "type": "create",
            "data": {"title": "Too big", "event_name": "GAL", "data": valid_canvas()},
        }
    )
    padded = frame[:-1] + " " * (settings.WS_MAX_MESSAGE_BYTES - len(frame) + 1) + "}"
    assert len(padded.encode()) == settings.WS_MAX_MESSAGE_BYTES + 1

    await client.send_raw(padded)

    error, code = await closing_error(client)
    assert code == CLOSE_MESSAGE_TOO_BIG
    assert error["data"]["code"] == "too_large"
    assert await db_call(graphic_titles) == []

"""The frame format of /ws/graphics: malformed frames get exactly one error with a documented
code, never close the connection and never reach anyone else; replies carry their request's
request_id, one per request, in order."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from graphics.models import Graphic
from realtime.protocol import (
    REQUEST_ID_MAX_LENGTH,
    ClientMessage,
    ProtocolError,
    encode_frame,
    parse_client_frame,
)
from tests.conftest import valid_canvas

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

TOO_LONG_ID = "r" * (REQUEST_ID_MAX_LENGTH + 1)

# (frame text, error code, request_id the reply carries)
BAD_FRAMES: list[tuple[str, str, str | None]] = [
    ("{not json", "invalid_json", None),
    ("", "invalid_json", None),
    ('{"type": "ping", "data": {"x": NaN}, "request_id": "n1"}', "invalid_json", None),
    ('{"type": "ping", "data": {"x": Infinity}}', "invalid_json", None),
    ('{"type": "ping", "data": {"x": -Infinity}}', "invalid_json", None),
    ("[" * 100_000 + "]" * 100_000, "invalid_json", None),
    ("[1, 2]", "invalid_message", None),
    ('"ping"', "invalid_message", None),
    ("42", "invalid_message", None),
    ("null", "invalid_message", None),
    ('{"data": {}, "request_id": "m1"}', "invalid_message", "m1"),
    ('{"type": 5, "request_id": "m2"}', "invalid_message", "m2"),
    ('{"type": "", "request_id": "m3"}', "invalid_message", "m3"),
    ('{"type": null, "request_id": "m4"}', "invalid_message", "m4"),
    ('{"type": "ping", "data": [], "request_id": "m5"}', "invalid_message", "m5"),
    ('{"type": "ping", "data": "x", "request_id": "m6"}', "invalid_message", "m6"),
    ('{"type": "ping", "data": null, "request_id": "m7"}', "invalid_message", "m7"),
    ('{"type": "ping", "request_id": "m8", "extra": 1}', "invalid_message", "m8"),
    ('{"type": "ping", "request_id": 7}', "invalid_message", None),
    ('{"type": "ping", "request_id": ""}', "invalid_message", None),
    ('{"type": "ping", "request_id": ["r1"]}', "invalid_message", None),
    (json.dumps({"type": "ping", "request_id": TOO_LONG_ID}), "invalid_message", None),
    ('{"type": "ping", "request_id": "\\ud800"}', "invalid_message", None),
    (
        '{"type": "update", "request_id": "s1", "data": {"title": "a\\udc00"}}',
        "invalid_message",
        "s1",
    ),
    ('{"type": "update", "request_id": "s2", "data": {"\\ud83d": 1}}', "invalid_message", "s2"),
    ('{"type": "destroy", "request_id": "u1"}', "unknown_type", "u1"),
    ('{"type": "PING", "request_id": "u2"}', "unknown_type", "u2"),
    ('{"type": "handlers", "request_id": "u3"}', "unknown_type", "u3"),
    (
        json.dumps({"type": "update", "request_id": "v1", "data": {"graphic_id": "x"}}),
        "validation_error",
        "v1",
    ),
    (
        # A number too big for a float reads as infinity: not an id.
        '{"type": "subscribe", "request_id": "v2", "data": {"graphic_id": 1e400}}',
        "validation_error",
        "v2",
    ),
]


@pytest.fixture
async def watched_graphic(
    ws_connect: Callable[..., Any], editor: Any, viewer: Any, graphic: Graphic
) -> tuple[Any, Any, Graphic]:
    """(sender, bystander, graphic): the editor holds the graphic's lock; a viewer is subscribed
    to it and to "all"."""
    sender = await ws_connect(editor)
    await sender.ack("lock", {"graphic_id": graphic.pk})
    bystander = await ws_connect(viewer)
    await bystander.ack("subscribe", {"graphic_id": graphic.pk})
    await bystander.ack("subscribe", {"graphic_id": "all"})
    return sender, bystander, graphic


async def assert_still_works(client: Any) -> None:
    reply = await client.request("ping")
    assert reply["type"] == "pong"


@pytest.mark.parametrize("code", sorted({code for _, code, _ in BAD_FRAMES}))
async def test_a_bad_frame_gets_one_error_and_harms_nobody(
    watched_graphic: tuple[Any, Any, Graphic], db_call: Any, code: str
) -> None:
    """A malformed or invalid frame is answered with exactly one `error` carrying the documented
    code and the frame's request_id when it could be read; the connection stays open, another
    client hears nothing and keeps working, and the graphic is unchanged."""
    sender, bystander, graphic = watched_graphic

    for frame, expected_code, request_id in BAD_FRAMES:
        if expected_code != code:
            continue
        await sender.send_raw(frame)

        reply = await sender.receive()
        assert reply["type"] == "error", (frame[:80], reply)
        assert reply["data"]["code"] == code, frame[:80]
        assert reply.get("request_id") == request_id, frame[:80]
        assert set(reply["data"]) == {"code", "message", "details"}
        await sender.no_event(within=0.05)
        await assert_still_works(sender)
        await bystander.no_event(within=0.05)
        await assert_still_works(bystander)

    saved = await db_call(lambda: Graphic.objects.get(pk=graphic.pk))
    assert (saved.version, saved.title, saved.data) == (1, "Round 3 Scoreboard", valid_canvas())


async def test_a_binary_frame_is_an_invalid_message(
    watched_graphic: tuple[Any, Any, Graphic],
) -> None:
    """Binary frames are not part of the protocol: one invalid_message error, and the
    connection carries on."""
    sender, bystander, _ = watched_graphic

    await sender.communicator.send_to(bytes_data=b'{"type": "ping"}')

    reply = await sender.receive()
    assert reply["type"] == "error"
    assert reply["data"]["code"] == "invalid_message"
    assert "request_id" not in reply
    await sender.no_event(within=0.1)
    await assert_still_works(sender)
    await bystander.no_event(within=0.1)


async def test_a_request_without_request_id_is_answered_without_one(
    ws_connect: Callable[..., Any], viewer: Any
) -> None:
    """Requests need no request_id; their reply then has none."""
    client = await ws_connect(viewer)

    await client.send_raw('{"type": "ping"}')

    reply = await client.receive()
    assert reply["type"] == "pong"
    assert "request_id" not in reply


async def test_replies_come_one_per_request_in_request_order(
    ws_connect: Callable[..., Any], editor: Any, graphic: Graphic
) -> None:
    """Requests sent back to back, good and bad mixed, get one reply each, in the order sent,
    each with its own request_id."""
    client = await ws_connect(editor)
    token = (await client.ack("lock", {"graphic_id": graphic.pk}))["lock"]["fencing_token"]
    edit = {"graphic_id": graphic.pk, "fencing_token": token}
    requests = [
        ("ping", {}),
        ("lock", {"graphic_id": graphic.pk}),  # a refresh: the same lock and token
        ("update", {**edit, "version": 9, "title": "Stale"}),
        ("nonsense", {}),
        ("update", {**edit, "version": 1, "title": "Fresh"}),
        ("unsubscribe", {"graphic_id": graphic.pk}),
        ("ping", {}),
    ]
    sent = [await client.send(message_type, data) for message_type, data in requests]

    replies = [await client.receive() for _ in sent]

    assert [reply["request_id"] for reply in replies] == sent
    assert [reply["type"] for reply in replies] == [
        "pong",
        "ack",
        "error",
        "error",
        "ack",
        "error",
        "pong",
    ]
    assert [reply["data"].get("code") for reply in replies if reply["type"] == "error"] == [
        "version_conflict",
        "unknown_type",
        "not_subscribed",
    ]
    await client.no_event()


async def test_request_ids_are_echoed_verbatim(ws_connect: Callable[..., Any], viewer: Any) -> None:
    """Any string of 1 to 128 characters is a request_id, echoed exactly (unicode included)."""
    client = await ws_connect(viewer)

    for request_id in ("x", "r" * REQUEST_ID_MAX_LENGTH, "écran-1 ✓", "42"):
        reply = await client.reply_to(await client.send("ping", request_id=request_id))
        assert reply["request_id"] == request_id


# --- the parser and encoder on their own --------------------------------------------------------


def test_parse_client_frame_defaults_data_to_an_empty_object() -> None:
    """`data` may be left out; it is then an empty object, and request_id None."""
    assert parse_client_frame('{"type": "ping"}') == ClientMessage(
        type="ping", data={}, request_id=None
    )


def test_parse_client_frame_keeps_the_request_id_of_a_frame_it_rejects() -> None:
    """A frame whose request_id could be read carries it in the ProtocolError, so the error
    reply can be matched to the request."""
    with pytest.raises(ProtocolError) as caught:
        parse_client_frame('{"type": "ping", "data": 1, "request_id": "r9"}')

    assert caught.value.code == "invalid_message"
    assert caught.value.request_id == "r9"


def test_encode_frame_is_compact_json_without_a_null_request_id() -> None:
    """Server frames are compact JSON objects; `request_id` appears only when there is one,
    and text is not escaped to ASCII."""
    assert (
        encode_frame("pong", {"server_time": "t"}) == '{"type":"pong","data":{"server_time":"t"}}'
    )
    assert json.loads(encode_frame("ack", {"title": "Écran"}, request_id="r1")) == {
        "type": "ack",
        "data": {"title": "Écran"},
        "request_id": "r1",
    }
    assert "Écran" in encode_frame("ack", {"title": "Écran"})

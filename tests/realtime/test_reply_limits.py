"""Every request that fits in a frame gets exactly one reply, and a reply small enough to arrive
(issue 14): errors about a client's own keys or types name a bounded number of them, and a
reply over WS_MAX_MESSAGE_BYTES (which daphne would drop without a word) is replaced by a
`reply_too_large` error. In-process, the real application; tests/e2e/test_reply_limits.py
crosses a real daphne."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from gal_dashboard.errors import DETAILS_MAX_FIELDS, DETAILS_MORE
from graphics.models import Graphic, GraphicViewKey
from graphics.services import view_key_rotate
from tests.conftest import text_element, valid_canvas
from tests.realtime.conftest import WsClient
from tests.realtime.test_view_key_auth import rename

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

# What a bounded error takes at most here: fifty field names of ours, a message, the envelope.
BOUNDED_REPLY_BYTES = 20_000


@pytest.fixture
def view_key(editor: Any, graphic: Graphic) -> GraphicViewKey:
    return view_key_rotate(graphic_id=graphic.pk, user=editor)


@pytest.fixture
def connect_as(
    ws_connect: Callable[..., Any], view_key: GraphicViewKey, superuser: Any
) -> Callable[[str], Any]:
    """connect_as("view_key" | "staff") -> an overlay's connection (only its key, no Origin),
    or a superuser's (a token)."""

    async def connect(who: str) -> WsClient:
        if who == "view_key":
            client: WsClient = await ws_connect(
                path=f"/ws/graphics?key={view_key.key}", origin=None
            )
        else:
            client = await ws_connect(superuser)
        return client

    return connect


async def replies_to(client: WsClient, text: str, request_id: str) -> list[str]:
    """Send a raw frame, then a ping; return the raw text of every frame that answers
    `request_id`, read up to the pong. Replies come in request order, so once the pong is
    here, every reply to the frame is too."""
    await client.send_raw(text)
    await client.send("ping", request_id="fence")
    answers: list[str] = []
    while True:
        output = await client.communicator.receive_output(5)
        assert output["type"] == "websocket.send", f"closed: {output}"
        frame = json.loads(output["text"])
        if frame.get("request_id") == "fence":
            assert frame["type"] == "pong", frame
            return answers
        if frame.get("request_id") == request_id:
            answers.append(output["text"])


def the_one_error(answers: list[str]) -> dict[str, Any]:
    assert len(answers) == 1, f"{len(answers)} replies"
    assert len(answers[0].encode()) < BOUNDED_REPLY_BYTES, len(answers[0].encode())
    frame = json.loads(answers[0])
    assert frame["type"] == "error", frame
    return dict(frame["data"])


@pytest.mark.parametrize("who", ["view_key", "staff"])
async def test_a_subscribe_with_60000_unknown_keys_gets_one_bounded_error(
    connect_as: Callable[[str], Any], graphic: Graphic, who: str
) -> None:
    """Issue 14 sent this on an overlay's connection and never got a reply (it would have been
    2 MB). Now: one validation_error naming the first fifty keys and counting the rest, and the
    connection goes on working."""
    client = await connect_as(who)
    data: dict[str, Any] = {"graphic_id": graphic.pk}
    data.update((f"k{index:05}", 1) for index in range(60_000))
    text = json.dumps(
        {"type": "subscribe", "data": data, "request_id": "big"}, separators=(",", ":")
    )

    error = the_one_error(await replies_to(client, text, "big"))

    assert error["code"] == "validation_error"
    named = [key for key in error["details"] if key != DETAILS_MORE]
    assert named == [f"k{index:05}" for index in range(DETAILS_MAX_FIELDS)]
    assert error["details"][DETAILS_MORE] == [f"{60_000 - DETAILS_MAX_FIELDS} more not shown."]
    snapshot = await client.ack("subscribe", {"graphic_id": graphic.pk})
    assert snapshot["graphic"]["id"] == graphic.pk


@pytest.mark.parametrize("who", ["view_key", "staff"])
async def test_60000_unknown_top_level_keys_or_a_huge_type_get_one_bounded_error(
    connect_as: Callable[[str], Any], who: str
) -> None:
    """The frame-level errors name what the client sent in a few characters: twenty unknown
    top-level keys and a count; an unknown type of almost a megabyte cut to a hundred
    characters."""
    client = await connect_as(who)
    frame: dict[str, Any] = {"type": "ping", "request_id": "keys"}
    frame.update((f"extra_{index:05}", 1) for index in range(60_000))

    error = the_one_error(await replies_to(client, json.dumps(frame), "keys"))

    assert error["code"] == "invalid_message"
    assert "extra_00000, extra_00001" in error["message"]
    assert "and 59980 more" in error["message"]

    huge_type = "t" * 1_000_000
    text = json.dumps({"type": huge_type, "data": {}, "request_id": "type"})
    error = the_one_error(await replies_to(client, text, "type"))
    assert error["code"] == "unknown_type"
    assert len(error["message"]) < 200


async def test_a_reply_over_the_message_limit_becomes_reply_too_large_and_subscribes_nothing(
    ws_connect: Callable[..., Any],
    db_call: Any,
    settings: Any,
    editor: Any,
    make_graphic: Callable[..., Any],
) -> None:
    """A snapshot larger than WS_MAX_MESSAGE_BYTES (a canvas saved before the limits were
    lowered) would never arrive: the client gets `reply_too_large` instead, is not subscribed
    (no events come, unsubscribing is not_subscribed), and the connection goes on working."""
    big = await db_call(
        make_graphic,
        data=valid_canvas(elements=[text_element(content="x" * 4000)]),
        by=editor,
    )
    settings.WS_MAX_MESSAGE_BYTES = 4096
    client = await ws_connect(editor)
    text = json.dumps({"type": "subscribe", "data": {"graphic_id": big.pk}, "request_id": "s"})

    error = the_one_error(await replies_to(client, text, "s"))

    assert error["code"] == "reply_too_large"
    assert error["details"] == {"limit": 4096}
    await db_call(rename, editor, big.pk, "Renamed while not subscribed")
    await client.no_event()
    reply = await client.request("unsubscribe", {"graphic_id": big.pk})
    assert reply["data"]["code"] == "not_subscribed", reply
    small = await db_call(make_graphic, by=editor)
    assert (await client.ack("subscribe", {"graphic_id": small.pk}))["graphic"]["id"] == small.pk


async def test_an_invalid_canvas_over_the_websocket_is_refused_in_a_bounded_error(
    ws_connect: Callable[..., Any], editor: Any, editor2: Any, graphic: Graphic
) -> None:
    """`update` as REST: without the lock, a near-limit invalid canvas is a lock_conflict; with
    it, 5,000 invalid elements are a validation_error naming fifty fields and counting the rest,
    in one small frame."""
    holder = await ws_connect(editor)
    token = (await holder.ack("lock", {"graphic_id": graphic.pk}))["lock"]["fencing_token"]
    other = await ws_connect(editor2)
    zeros = {"background": None, "elements": [0] * 500_000}
    text = json.dumps(
        {
            "type": "update",
            "data": {"graphic_id": graphic.pk, "version": 1, "fencing_token": 1, "data": zeros},
            "request_id": "u",
        },
        separators=(",", ":"),
    )

    error = the_one_error(await replies_to(other, text, "u"))
    assert error["code"] == "lock_conflict"
    assert error["details"]["locked_by"] == "editor"

    elements = [text_element(f"e{index}", x="left") for index in range(5000)]
    data = {
        "graphic_id": graphic.pk,
        "version": 1,
        "fencing_token": token,
        "data": valid_canvas(elements=elements),
    }
    text = json.dumps({"type": "update", "data": data, "request_id": "v"})
    error = the_one_error(await replies_to(holder, text, "v"))
    assert error["code"] == "validation_error"
    assert list(error["details"])[:-1] == [f"data.elements[{index}].x" for index in range(50)]
    assert error["details"][DETAILS_MORE] == ["4950 more not shown."]

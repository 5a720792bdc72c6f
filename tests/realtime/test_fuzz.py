"""
Property-based fuzzing of the WebSocket message handling (hypothesis): arbitrary JSON frames,
arbitrary text and arbitrary bytes. Every frame gets exactly one reply, an `ack`, a `pong` or an
`error` whose code docs/protocol.md documents; the connection stays usable; and a graphic
locked by someone else is never changed, whatever arrives.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from channels.db import database_sync_to_async
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphics.models import Graphic
from locks.models import CanvasLock
from locks.services import lock_acquire

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

PROTOCOL_DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
MESSAGE_TYPES = [
    "subscribe", "unsubscribe", "create", "update", "delete", "archive", "restore", "lock",
    "unlock", "lock_refresh", "lock_override", "activity", "auth", "ping",
]  # fmt: skip
FIELDS = [
    "graphic_id", "version", "fencing_token", "title", "event_name", "data", "patch", "reason",
    "last_seq", "token", "action", "take_over",
]  # fmt: skip
REPLY_TYPES = {"ack", "pong", "error"}


def documented_error_codes() -> set[str]:
    section = PROTOCOL_DOC.read_text().split("## Error codes", 1)[1].split("\n## ", 1)[0]
    codes: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            codes.update(re.findall(r"`([a-z_]+)`", line.split("|")[1]))
    return codes


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def protocol_like_frames(draw: Any) -> str:
    """Frames shaped like requests, most of them wrong in some way."""
    frame: dict[str, Any] = {"type": draw(st.sampled_from(MESSAGE_TYPES) | st.text(max_size=12))}
    if draw(st.booleans()):
        keys = st.sampled_from(FIELDS) | st.text(max_size=8)
        data = draw(st.dictionaries(keys, json_values, max_size=5))
        if draw(st.booleans()):
            data["graphic_id"] = "THE_GRAPHIC"  # replaced by the watched graphic's id
        frame["data"] = data
    if draw(st.booleans()):
        frame["request_id"] = draw(st.text(min_size=1, max_size=12) | json_values)
    if draw(st.integers(0, 9)) == 0:
        frame[draw(st.text(max_size=6))] = draw(json_values)
    return json.dumps(frame)


frames = st.lists(
    st.one_of(
        protocol_like_frames(),
        json_values.map(json.dumps),
        st.text(max_size=60),
        st.binary(max_size=60),
    ),
    min_size=1,
    max_size=8,
)


@pytest.fixture
def documented_codes() -> set[str]:
    codes = documented_error_codes()
    assert {"invalid_json", "invalid_message", "unknown_type", "validation_error"} <= codes
    return codes


@settings(
    derandomize=True,  # the same frames every run: CI stays repeatable
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sent=frames)
async def test_any_frame_gets_one_documented_reply_and_changes_nothing(
    ws_connect: Callable[..., Any],
    db_call: Any,
    editor: Any,
    editor2: Any,
    make_graphic: Callable[..., Any],
    documented_codes: set[str],
    sent: list[str | bytes],
) -> None:
    graphic = await db_call(make_graphic, by=editor2)
    await db_call(lock_acquire, user=editor2, graphic_id=graphic.pk)
    before = await db_call(lambda: Graphic.objects.filter(pk=graphic.pk).values().get())
    client = await ws_connect(editor)

    for frame in sent:
        if isinstance(frame, bytes):
            await client.communicator.send_input({"type": "websocket.receive", "bytes": frame})
        else:
            await client.send_raw(frame.replace('"THE_GRAPHIC"', str(graphic.pk)))

    replies: list[dict[str, Any]] = []
    while len(replies) < len(sent):
        output = await client.receive()
        assert output["type"] != "__closed__", (output, sent)
        if output["type"] in REPLY_TYPES:
            replies.append(output)
        else:
            # Events of a subscription a frame made, heartbeats, notices: not replies.
            assert "subscription" in output or output["type"] in {"heartbeat", "notice"}, output
    for reply in replies:
        if reply["type"] == "error":
            assert reply["data"]["code"] in documented_codes, reply

    assert (await client.request("ping"))["type"] == "pong"
    after = await db_call(lambda: Graphic.objects.filter(pk=graphic.pk).values().get())
    assert after == before
    holder = await db_call(lambda: CanvasLock.objects.get(graphic_id=graphic.pk).holder_id)
    assert holder == editor2.pk
    await client.close()
    await database_sync_to_async(lambda: None)()

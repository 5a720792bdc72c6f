"""
The access log and the Prometheus metrics move as a scripted session says they should, and
/metrics is for staff or a scraper with METRICS_TOKEN.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from graphics.models import Graphic
from realtime.ops.registry import server_id

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, {"server": server_id(), **labels}) or 0.0


def access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "gal.access"]


async def test_a_scripted_session_moves_the_counters_and_writes_the_access_log(
    ws_connect: Callable[..., Any],
    viewer: Any,
    graphic: Graphic,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="gal.access")
    names = [
        ("gal_ws_connects_total", {}),
        ("gal_ws_connections_open", {}),
        ("gal_ws_closes_total", {"code": "1000"}),
        ("gal_ws_messages_received_total", {"type": "subscribe"}),
        ("gal_ws_messages_received_total", {"type": "ping"}),
        ("gal_ws_messages_received_total", {"type": "other"}),
        ("gal_ws_messages_sent_total", {"type": "ack"}),
        ("gal_ws_errors_total", {"code": "permission_denied"}),
        ("gal_ws_errors_total", {"code": "invalid_json"}),
        ("gal_ws_resumes_total", {"recovered": "true"}),
    ]
    before = {(name, tuple(labels.items())): sample(name, **labels) for name, labels in names}

    client = await ws_connect(viewer)
    first = await client.ack("subscribe", {"graphic_id": graphic.pk})
    await client.ack("subscribe", {"graphic_id": graphic.pk, "last_seq": first["seq"]})
    assert (await client.request("ping"))["type"] == "pong"
    await client.send_raw("{not json")
    assert (await client.receive())["data"]["code"] == "invalid_json"
    denied = await client.request("delete", {"graphic_id": graphic.pk})
    assert denied["data"]["code"] == "permission_denied"
    await client.communicator.disconnect(code=1000)

    after = {(name, tuple(labels.items())): sample(name, **labels) for name, labels in names}
    moved = {key[0] + str(dict(key[1])): after[key] - before[key] for key in before}
    assert moved == {
        "gal_ws_connects_total{}": 1,
        "gal_ws_connections_open{}": 0,  # opened, then closed
        "gal_ws_closes_total{'code': '1000'}": 1,
        "gal_ws_messages_received_total{'type': 'subscribe'}": 2,
        "gal_ws_messages_received_total{'type': 'ping'}": 1,
        "gal_ws_messages_received_total{'type': 'other'}": 1,
        "gal_ws_messages_sent_total{'type': 'ack'}": 2,
        "gal_ws_errors_total{'code': 'permission_denied'}": 1,
        "gal_ws_errors_total{'code': 'invalid_json'}": 1,
        "gal_ws_resumes_total{'recovered': 'true'}": 1,
    }

    lines = access_lines(caplog)
    assert [line["event"] for line in lines] == [
        "connect",
        "rejected",
        "permission_denied",
        "close",
    ]
    for line in lines:
        assert line["connection_id"] == client.welcome["connection_id"]
        assert (line["user_id"], line["username"]) == (viewer.pk, "viewer")
        assert line["server"] == server_id()
        assert "remote_address" in line
    assert lines[-1]["code"] == 1000 and lines[-1]["duration_s"] >= 0


async def test_events_count_per_recipient_and_their_latency_is_observed(
    ws_connect: Callable[..., Any], db_call: Any, viewer: Any, editor: Any, graphic: Graphic
) -> None:
    from locks.services import lock_acquire

    deliveries = sample("gal_ws_messages_sent_total", type="lock_status")
    observed = sample("gal_broadcast_latency_seconds_count")
    watchers = [await ws_connect(viewer) for _ in range(3)]
    for watcher in watchers:
        await watcher.ack("subscribe", {"graphic_id": graphic.pk})

    await db_call(lock_acquire, user=editor, graphic_id=graphic.pk)
    for watcher in watchers:
        assert (await watcher.next_event())["type"] == "lock_status"

    assert sample("gal_ws_messages_sent_total", type="lock_status") - deliveries == 3
    assert sample("gal_broadcast_latency_seconds_count") - observed == 1


@pytest.mark.parametrize(
    ("who", "status"), [("anonymous", 403), ("editor", 403), ("staff", 200), ("token", 200)]
)
def test_metrics_are_for_staff_or_the_token(
    who: str, status: int, editor: Any, make_user: Callable[..., Any], settings: Any
) -> None:
    settings.METRICS_TOKEN = "scrape-secret-0123456789"
    client = Client()
    headers = {}
    if who == "editor":
        client.force_login(editor)
    elif who == "staff":
        staff = make_user("ops")
        staff.is_staff = True
        staff.save()
        client.force_login(staff)
    elif who == "token":
        headers["Authorization"] = "Bearer scrape-secret-0123456789"

    response = client.get("/metrics", headers=headers)

    assert response.status_code == status
    if status == 200:
        assert response["Content-Type"].startswith("text/plain")
        assert "gal_ws_connects_total" in response.content.decode()
    else:
        assert response.json()["error"]["code"] == "permission_denied"


def scraped(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_count_http_requests_and_database_queries(
    editor: Any, graphic: Graphic, settings: Any
) -> None:
    """django-prometheus's series sit beside ours on /metrics, behind the same check: a REST
    request is counted by method and status (django_http_*), its queries by database
    (django_db_*)."""
    settings.METRICS_TOKEN = "scrape-secret-0123456789"
    scraper = {"Authorization": "Bearer scrape-secret-0123456789"}
    vendor = (("alias", "default"), ("vendor", connection.vendor))
    before = scraped(Client().get("/metrics", headers=scraper).content.decode())

    client = Client()
    client.force_login(editor)
    assert client.get("/api/graphics/").status_code == 200
    response = Client().get("/metrics", headers=scraper)

    assert response.status_code == 200
    after = scraped(response.content.decode())
    for name, labels in [
        ("django_http_requests_total_by_method_total", (("method", "GET"),)),
        ("django_http_responses_total_by_status_total", (("status", "200"),)),
        ("django_db_execute_total", vendor),
    ]:
        assert after[(name, labels)] > before.get((name, labels), 0.0), name
    assert any(name == "gal_ws_connects_total" for name, _ in after)
    assert Client().get("/metrics").status_code == 403

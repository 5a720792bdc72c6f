"""A real daphne's /metrics after a scripted session, scraped as Prometheus would."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import RestClient

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

TOKEN = "scrape-secret-0123456789"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_a_scrape_counts_the_session_per_server(
    daphne_server: Any, ws_connect: Any, viewer: Any, graphic: Any
) -> None:
    server = daphne_server(METRICS_TOKEN=TOKEN, SERVER_ID="live-1")
    client = await ws_connect(server, viewer)
    await client.ack("subscribe", {"graphic_id": graphic.pk})
    assert (await client.request("nonsense"))["data"]["code"] == "unknown_type"
    await client.close()

    scraper = RestClient(server, TOKEN)
    response = await scraper.call_text("GET", "/metrics")
    assert response.status == 200
    values = samples(response.body)
    server_label = (("server", "live-1"),)
    assert values[("gal_ws_connects_total", server_label)] >= 1
    assert (
        values[("gal_ws_messages_received_total", (("server", "live-1"), ("type", "subscribe")))]
        >= 1
    )
    assert values[("gal_ws_errors_total", (("code", "unknown_type"), ("server", "live-1")))] >= 1

    anonymous = RestClient(server, "")
    assert (await anonymous.call_text("GET", "/metrics")).status == 403


async def test_processes_sharing_a_multiprocess_directory_appear_in_one_scrape(
    daphne_server: Any, ws_connect: Any, viewer: Any, tmp_path: Any
) -> None:
    """Two processes on one host, one PROMETHEUS_MULTIPROC_DIR: whichever answers the scrape
    reports both, each under its own server label."""
    directory = tmp_path / "prometheus"
    directory.mkdir()
    first = daphne_server(
        METRICS_TOKEN=TOKEN, SERVER_ID="live-1", PROMETHEUS_MULTIPROC_DIR=str(directory)
    )
    second = daphne_server(
        METRICS_TOKEN=TOKEN, SERVER_ID="live-2", PROMETHEUS_MULTIPROC_DIR=str(directory)
    )
    for server in (first, second):
        client = await ws_connect(server, viewer)
        assert (await client.request("ping"))["type"] == "pong"

    values = samples((await RestClient(first, TOKEN).call_text("GET", "/metrics")).body)

    for server_id in ("live-1", "live-2"):
        assert values[("gal_ws_connects_total", (("server", server_id),))] >= 1
        assert values[("gal_ws_connections_open", (("server", server_id),))] == 1


async def test_http_and_database_series_beside_the_websocket_ones_under_a_stable_name(
    daphne_server: Any, rest_client: Any, ws_connect: Any, editor: Any
) -> None:
    """Without SERVER_ID a server is `<hostname>:<port>` (the same after a restart, unlike a
    pid); its scrape holds django-prometheus's request and query series beside the WebSocket
    ones, and stays closed to anyone without the token."""
    server = daphne_server(METRICS_TOKEN=TOKEN, SERVER_ID="")
    client = await ws_connect(server, editor)
    assert (await client.request("ping"))["type"] == "pong"
    assert (await rest_client(server, editor).call("GET", "/api/graphics/")).status == 200

    values = samples((await RestClient(server, TOKEN).call_text("GET", "/metrics")).body)

    name = f"{socket.gethostname()}:{server.port}"
    assert values[("gal_ws_connects_total", (("server", name),))] >= 1
    assert values[("django_http_requests_total_by_method_total", (("method", "GET"),))] >= 1
    assert values[("django_http_responses_total_by_status_total", (("status", "200"),))] >= 1
    assert any(
        metric == "django_db_execute_total" and dict(labels)["alias"] == "default" and value >= 1
        for (metric, labels), value in values.items()
    )
    assert any(metric.startswith("django_db_query_duration_seconds") for metric, _ in values)
    assert (await RestClient(server, "").call_text("GET", "/metrics")).status == 403


async def test_a_stopped_process_keeps_its_counters_and_drops_its_gauges(
    daphne_server: Any, ws_connect: Any, viewer: Any, tmp_path: Any
) -> None:
    """In one multiprocess directory, a process that stopped (a rolling restart) still counts
    in the sums of its counters, and its open connections leave the gauges with it."""
    directory = tmp_path / "prometheus"
    directory.mkdir()
    first, second = (
        daphne_server(METRICS_TOKEN=TOKEN, SERVER_ID=name, PROMETHEUS_MULTIPROC_DIR=str(directory))
        for name in ("live-1", "live-2")
    )
    client = await ws_connect(second, viewer)
    assert (await client.request("ping"))["type"] == "pong"

    await asyncio.to_thread(second.stop)
    values = samples((await RestClient(first, TOKEN).call_text("GET", "/metrics")).body)

    assert values[("gal_ws_connects_total", (("server", "live-2"),))] == 1
    assert ("gal_ws_connections_open", (("server", "live-2"),)) not in values

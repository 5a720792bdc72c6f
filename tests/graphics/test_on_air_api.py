"""The on-air REST endpoints: take, clear, live and the air log (issue 16)."""

from __future__ import annotations

from typing import Any

import pytest

from graphics.on_air import graphic_clear, graphic_take
from locks.services import lock_acquire
from tests.conftest import error_of
from tests.graphics.test_api import api_client

pytestmark = pytest.mark.django_db


def url(graphic_id: int, action: str) -> str:
    return f"/api/graphics/{graphic_id}/{action}/"


def test_take_answers_the_graphic_on_air(graphic: Any, editor: Any) -> None:
    response = api_client(editor).post(
        url(graphic.pk, "take"), {"expected_version": 1, "reason": "Stream Deck"}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["on_air"], body["program_version"], body["draft_differs"]) == (True, 1, False)
    assert body["lock"]["locked"] is False


def test_take_without_a_body_is_a_validation_error(graphic: Any, editor: Any) -> None:
    response = api_client(editor).post(url(graphic.pk, "take"), {}, format="json")
    assert "expected_version" in error_of(response, 400, "validation_error")["details"]


def test_take_errors_use_the_error_envelope(graphic: Any, editor: Any, editor2: Any) -> None:
    client = api_client(editor2)
    response = client.post(url(graphic.pk, "take"), {"expected_version": 2}, format="json")
    assert error_of(response, 409, "version_conflict")["details"]["current_version"] == 1
    lock_acquire(user=editor, graphic_id=graphic.pk)
    response = client.post(url(graphic.pk, "take"), {"expected_version": 1}, format="json")
    assert error_of(response, 409, "lock_conflict")["details"]["locked_by"] == "editor"
    response = client.post(url(graphic.pk + 1000, "take"), {"expected_version": 1}, format="json")
    error_of(response, 404, "not_found")


def test_clear_and_live(graphic: Any, editor: Any) -> None:
    client = api_client(editor)
    response = client.post(url(graphic.pk, "live"), {"live": True}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["live"], response.json()["on_air"]) == (True, True)
    response = client.post(url(graphic.pk, "clear"), {"reason": "Break"}, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["live"], response.json()["on_air"]) == (False, False)
    # No body at all, as a Stream Deck button might send.
    assert client.post(url(graphic.pk, "clear")).status_code == 200
    response = client.post(url(graphic.pk, "live"), {"live": "on"}, format="json")
    assert "live" in error_of(response, 400, "validation_error")["details"]


def test_the_air_log_lists_intervals(graphic: Any, editor: Any, viewer: Any) -> None:
    graphic_take(user=editor, graphic_id=graphic.pk, expected_version=1, reason="Open")
    graphic_clear(user=editor, graphic_id=graphic.pk, reason="Close")
    graphic_take(user=editor, graphic_id=graphic.pk, expected_version=1)

    for path in (url(graphic.pk, "air-log"), "/api/air-log/"):
        response = api_client(viewer).get(path)
        assert response.status_code == 200, response.content
        results = response.json()["results"]
        assert [
            (row["version"], row["taken_reason"], row["cleared_reason"]) for row in results
        ] == [
            (1, "Open", "Close"),
            (1, "", ""),
        ]
        first = results[0]
        assert first["taken_by"]["username"] == "editor"
        assert first["cleared_by"]["username"] == "editor"
        assert results[1]["cleared_at"] is None and results[1]["cleared_by"] is None
        assert first["version_url"] == f"/api/graphics/{graphic.pk}/history/1/"
        assert first["graphic_id"] == graphic.pk and first["graphic_title"] == graphic.title
        assert api_client(viewer).get(first["version_url"]).status_code == 200


def test_the_air_log_filters_by_time(graphic: Any, editor: Any, viewer: Any) -> None:
    graphic_take(user=editor, graphic_id=graphic.pk, expected_version=1)
    taken_at = api_client(viewer).get("/api/air-log/").json()["results"][0]["taken_at"]
    client = api_client(viewer)
    assert client.get("/api/air-log/", {"to": "2000-01-01T00:00:00Z"}).json()["results"] == []
    assert len(client.get("/api/air-log/", {"from": taken_at}).json()["results"]) == 1
    # Still on air: any later instant finds it.
    assert len(client.get("/api/air-log/", {"from": "2999-01-01T00:00:00"}).json()["results"]) == 1
    response = client.get("/api/air-log/", {"from": "yesterday"})
    assert "from" in error_of(response, 400, "validation_error")["details"]
    response = client.get("/api/air-log/", {"from": "2026-01-02T00:00:00Z", "to": "2026-01-01"})
    assert "to" in error_of(response, 400, "validation_error")["details"]

"""Reads of graphics for lists: filters, order, and no canvas loaded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from graphics.selectors import graphic_list
from realtime.delivery.snapshots import list_snapshot

pytestmark = pytest.mark.django_db


def test_the_list_does_not_load_canvases(make_graphic: Callable[..., Any]) -> None:
    """A list shows summaries: each graphic comes without its canvas data (which can be up to
    GRAPHIC_DATA_MAX_BYTES), and everything else is there."""
    make_graphic(title="Standings")
    (listed,) = graphic_list()
    assert listed.get_deferred_fields() == {"data"}
    assert listed.title == "Standings"


def test_the_list_snapshot_carries_no_canvas(make_graphic: Callable[..., Any]) -> None:
    """The WebSocket list snapshot holds summaries without `data`."""
    make_graphic(title="Standings")
    (summary,) = list_snapshot()["graphics"]
    assert "data" not in summary
    assert summary["title"] == "Standings"

"""
gal_dashboard.serve tunes garbage collection once it has loaded the application
(gal_dashboard.gc_tuning): what loading made is frozen, so full collections, which stop the event
loop, no longer walk it, and they come after GC_FULL_COLLECTION_THRESHOLD middle-generation
collections instead of CPython's 10.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator

import pytest
from django.conf import settings

from gal_dashboard.serve import load_application_and_tune_gc


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.parametrize(
    "command_line",
    [
        ["-b", "127.0.0.1", "-p", "8000", "gal_dashboard.asgi:application"],
        ["uvicorn", "--host", "127.0.0.1", "--port", "8000", "gal_dashboard.asgi:application"],
    ],
)
def test_the_application_is_loaded_and_frozen_before_serving(
    restored_gc: None, command_line: list[str]
) -> None:
    loaded_before = sys.modules.pop("gal_dashboard.asgi", None)
    try:
        gc.unfreeze()
        load_application_and_tune_gc(command_line)
        assert "gal_dashboard.asgi" in sys.modules
    finally:
        if loaded_before is not None:  # other tests hold the first import's application
            sys.modules["gal_dashboard.asgi"] = loaded_before
    # The application's objects are in the permanent generation: no collection walks them.
    assert gc.get_freeze_count() > 10_000
    assert gc.get_threshold()[2] == settings.GC_FULL_COLLECTION_THRESHOLD == 1000


def test_young_garbage_is_still_collected_as_often(restored_gc: None) -> None:
    young, middle, _ = gc.get_threshold()
    load_application_and_tune_gc(["-p", "8000", "gal_dashboard.asgi:application"])
    assert gc.get_threshold()[:2] == (young, middle)


def test_the_threshold_is_a_setting(restored_gc: None, settings: object) -> None:
    settings.GC_FULL_COLLECTION_THRESHOLD = 25  # type: ignore[attr-defined]
    load_application_and_tune_gc(["-p", "8000"])  # no application named: nothing to load
    assert gc.get_threshold()[2] == 25

"""The on-air migration (graphics 0006, 0007): graphics that existed before on-air control keep
behaving as before (on air, live mode on, their current version the program, an open interval
in the air log), so no overlay goes dark. Run as real migrations on the test database."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from graphics.models import AirInterval, Graphic
from graphics.serialization import graphic_payload

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

BEFORE = [("graphics", "0005_graphicviewkey")]


def migrate(targets: list[tuple[str, str]]) -> Any:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_existing_graphics_stay_on_air_and_live() -> None:
    leaves = MigrationExecutor(connection).loader.graph.leaf_nodes()
    old_apps = migrate(BEFORE)
    try:
        OldGraphic = old_apps.get_model("graphics", "Graphic")
        edited = OldGraphic.objects.create(
            title="Scorebug", event_name="Week 2", data={"elements": []}, version=3
        )
        archived = OldGraphic.objects.create(
            title="Old card", event_name="Week 1", data={"elements": []}, version=2
        )
    finally:
        migrate(leaves)

    for pk, version in ((edited.pk, 3), (archived.pk, 2)):
        graphic = Graphic.objects.get(pk=pk)
        assert (graphic.on_air, graphic.live, graphic.program_version) == (True, True, version)
        assert graphic.draft_differs is False
        assert (graphic.transition, graphic.transition_ms) == ("fade", 400)
        interval = AirInterval.objects.get(graphic=graphic)
        assert (interval.version, interval.cleared_at, interval.taken_by) == (version, None, None)
        assert interval.graphic_title == graphic.title
    assert graphic_payload(Graphic.objects.get(pk=edited.pk))["on_air"] is True

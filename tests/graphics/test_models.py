"""The Graphic model: its version counts content changes however a save is reached, and the
database refuses rows that break the model's invariants even when the services are bypassed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from graphics.models import Graphic
from tests.conftest import text_element, valid_canvas

pytestmark = pytest.mark.django_db


def stored_version(graphic: Graphic) -> int:
    return Graphic.objects.values_list("version", flat=True).get(pk=graphic.pk)


def test_a_new_graphic_starts_at_version_1(graphic: Graphic) -> None:
    """Creating a graphic makes version 1, active, with the canvas it was given."""
    assert graphic.version == 1
    assert stored_version(graphic) == 1
    assert graphic.archived is False
    assert graphic.data == valid_canvas()


def test_a_graphic_created_directly_starts_at_version_1() -> None:
    """A graphic made without the services (a shell, a fixture) also starts at version 1 with
    an empty canvas."""
    graphic = Graphic.objects.create(title="Standings", event_name="Week 1")
    assert stored_version(graphic) == 1
    assert graphic.data == {"background": None, "elements": []}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", "Round 4 Scoreboard"),
        ("event_name", "GAL Season 3 Week 3"),
        ("data", valid_canvas(elements=[text_element(content="Changed")])),
    ],
)
def test_a_plain_save_that_changes_content_bumps_the_version(
    graphic: Graphic, field: str, value: Any
) -> None:
    """Changing title, event_name or data and calling `.save()` makes the next version."""
    setattr(graphic, field, value)
    graphic.save()
    assert graphic.version == 2
    assert stored_version(graphic) == 2


def test_each_change_bumps_the_version_by_one(graphic: Graphic) -> None:
    """Versions count changes: three saves with changes make version 4."""
    for title in ("One", "Two", "Three"):
        graphic.title = title
        graphic.save()
    assert stored_version(graphic) == 4


def test_editing_the_canvas_in_place_bumps_the_version(graphic: Graphic) -> None:
    """Mutating the stored dict (rather than assigning a new one) still counts as a change."""
    graphic.data["elements"][0]["x"] = 400
    graphic.save()
    assert stored_version(graphic) == 2
    graphic.refresh_from_db()
    assert graphic.data["elements"][0]["x"] == 400


def test_save_with_update_fields_bumps_and_stores_the_version(graphic: Graphic) -> None:
    """`save(update_fields=["title"])` writes the new version too, not only the title."""
    graphic.title = "Renamed"
    graphic.save(update_fields=["title"])
    assert stored_version(graphic) == 2
    fresh = Graphic.objects.get(pk=graphic.pk)
    assert fresh.title == "Renamed"
    assert fresh.updated_at >= graphic.created_at


def test_a_save_without_changes_keeps_the_version(graphic: Graphic) -> None:
    """Saving an unchanged graphic, or one whose values were set to what they already were,
    makes no new version."""
    graphic.save()
    graphic.title = str(graphic.title)
    graphic.data = valid_canvas()
    graphic.save()
    assert stored_version(graphic) == 1


def test_a_graphic_loaded_again_tracks_changes_from_what_was_loaded(graphic: Graphic) -> None:
    """A graphic fetched from the database bumps from its stored version."""
    graphic.title = "Second"
    graphic.save()
    fresh = Graphic.objects.get(pk=graphic.pk)
    fresh.event_name = "Another week"
    fresh.save()
    assert stored_version(graphic) == 3


def test_a_change_after_refresh_from_db_bumps_from_the_refreshed_version(
    graphic: Graphic,
) -> None:
    """After `refresh_from_db()` picks up someone else's change, the next change to the
    instance makes the version after the refreshed one."""
    other = Graphic.objects.get(pk=graphic.pk)
    other.title = "Changed elsewhere"
    other.save()
    graphic.refresh_from_db()
    assert graphic.version == 2
    graphic.title = "Changed here"
    graphic.save()
    assert stored_version(graphic) == 3


def test_a_change_to_a_partly_loaded_graphic_bumps_the_version(graphic: Graphic) -> None:
    """A graphic loaded with `.only()` still makes a new version when its title changes."""
    partial = Graphic.objects.only("id", "title").get(pk=graphic.pk)
    partial.title = "Changed"
    partial.save()
    assert stored_version(graphic) == 2


def test_save_with_update_fields_counts_only_the_fields_it_saves(graphic: Graphic) -> None:
    """`save(update_fields=["event_name"])` makes a new version for the event name only; an
    unsaved change to the title in memory is neither stored nor counted."""
    graphic.title = "Not saved"
    graphic.event_name = "Saved"
    graphic.save(update_fields=["event_name"])
    stored = Graphic.objects.get(pk=graphic.pk)
    assert (stored.version, stored.event_name, stored.title) == (2, "Saved", "Round 3 Scoreboard")


def test_save_with_update_fields_of_no_content_makes_no_version(graphic: Graphic) -> None:
    """Saving only a non-content field with a changed title in memory makes no new version."""
    graphic.title = "Not saved"
    graphic.save(update_fields=["updated_at"])
    assert stored_version(graphic) == 1


def test_archive_and_restore_are_versions_too(graphic: Graphic, editor: Any) -> None:
    """Archiving and restoring are not content changes, but each is a recorded change of the
    graphic and so makes the next version (its history keeps one row per version)."""
    graphic.archived = True
    graphic.archived_at = timezone.now()
    graphic.archived_by = editor
    graphic.save()
    assert stored_version(graphic) == 2
    graphic.archived = False
    graphic.archived_at = None
    graphic.archived_by = None
    graphic.save()
    assert stored_version(graphic) == 3


def test_str_names_the_title_and_event(graphic: Graphic) -> None:
    """A graphic reads as "<title> (<event>)" in the admin and in logs."""
    assert str(graphic) == "Round 3 Scoreboard (GAL Season 3 Week 2)"


@pytest.mark.parametrize(
    "fields",
    [
        {"title": "", "event_name": "Week 1"},
        {"title": "Standings", "event_name": ""},
        {"title": "Standings", "event_name": "Week 1", "version": 0},
        {"title": "Standings", "event_name": "Week 1", "archived": True},
        {"title": "Standings", "event_name": "Week 1", "archived_at": timezone.now()},
    ],
    ids=["empty-title", "empty-event", "version-0", "archived-without-time", "time-not-archived"],
)
def test_the_database_rejects_an_invalid_graphic(fields: dict[str, Any]) -> None:
    """Empty titles or event names, version 0 and an archive flag without its time are refused
    by the database itself, even when the services are bypassed."""
    with pytest.raises(IntegrityError), transaction.atomic():
        Graphic.objects.create(**fields)
    assert not Graphic.objects.exists()


def test_the_database_rejects_an_empty_title_written_by_an_update(
    make_graphic: Callable[..., Graphic],
) -> None:
    """A queryset `.update()` cannot blank a title either."""
    graphic = make_graphic()
    with pytest.raises(IntegrityError), transaction.atomic():
        Graphic.objects.filter(pk=graphic.pk).update(title="")
    graphic.refresh_from_db()
    assert graphic.title == "Round 3 Scoreboard"

"""graphics.on_air: take, clear and the live switch, their rules, the on-air log and the history
rows they write (issue 16)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from gal_dashboard.errors import (
    LockConflict,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    StateConflict,
    ValidationFailed,
    VersionConflict,
)
from graphics.models import AirInterval, Graphic, GraphicVersion
from graphics.on_air import RETAKE_REASON, graphic_clear, graphic_set_live, graphic_take
from graphics.selectors import air_log, graphic_version_get
from graphics.serialization import graphic_payload
from graphics.services import graphic_archive, graphic_delete, graphic_history_prune, graphic_update
from locks.services import lock_acquire
from realtime.models import Event

pytestmark = pytest.mark.django_db


def edit(graphic: Any, user: Any, **fields: Any) -> Graphic:
    lock = lock_acquire(user=user, graphic_id=graphic.pk)
    current = Graphic.objects.get(pk=graphic.pk)
    return graphic_update(
        user=user,
        graphic_id=graphic.pk,
        version=current.version,
        fencing_token=lock.fencing_token,
        **fields,
    )


def intervals(graphic: Any) -> list[tuple[Any, ...]]:
    return list(
        AirInterval.objects.filter(graphic=graphic)
        .order_by("id")
        .values_list("version", "taken_by__username", "cleared_by__username", "cleared_reason")
    )


def air_events(graphic: Any) -> list[tuple[str, dict[str, Any]]]:
    return [
        (event.type, event.data)
        for event in Event.objects.filter(graphic_id=graphic.pk, type__startswith="graphic_")
        .exclude(type="graphic_update")
        .order_by("id")
    ]


def test_a_new_graphic_starts_off_air_with_live_off(graphic: Any) -> None:
    """New graphics are off air, live off, never taken (the draft differs from air), fading in
    400 ms."""
    payload = graphic_payload(graphic)
    assert {key: payload[key] for key in ("on_air", "program_version", "live")} == {
        "on_air": False,
        "program_version": None,
        "live": False,
    }
    assert payload["draft_differs"] is True
    assert (payload["transition"], payload["transition_ms"]) == ("fade", 400)
    assert not AirInterval.objects.exists()


def test_take_puts_the_current_version_on_air(graphic: Any, editor: Any) -> None:
    """A take makes the current version the program, opens an interval, writes a history row
    naming the version and a graphic_take event with the program's payload."""
    taken = graphic_take(user=editor, graphic_id=graphic.pk, expected_version=1, reason="Top")

    assert (taken.on_air, taken.program_version, taken.version) == (True, 1, 1)
    assert taken.draft_differs is False
    assert intervals(graphic) == [(1, "editor", None, "")]
    row = GraphicVersion.objects.filter(graphic=graphic, action="take").get()
    assert (row.version, row.actor, row.reason) == (1, editor, "Top")
    [(event_type, data)] = air_events(graphic)
    assert event_type == "graphic_take"
    assert data["on_air"] is True and data["program_version"] == 1
    assert data["taken_by"] == "editor" and data["reason"] == "Top"
    assert data["payload"]["version"] == 1 and data["payload"]["data"] == graphic.data


def test_editing_after_a_take_leaves_the_program(graphic: Any, editor: Any) -> None:
    """Without live mode, a save makes a new draft; the program stays, the draft differs, and
    the graphic_update says it did not go to air (live false)."""
    graphic_take(user=editor, graphic_id=graphic.pk, expected_version=1)
    edited = edit(graphic, editor, title="Draft title")

    assert (edited.version, edited.program_version, edited.on_air) == (2, 1, True)
    assert edited.draft_differs is True
    update = Event.objects.filter(graphic_id=graphic.pk, type="graphic_update").last()
    assert update is not None and update.data["live"] is False
    assert intervals(graphic) == [(1, "editor", None, "")]


def test_a_stale_expected_version_is_a_version_conflict(graphic: Any, editor: Any) -> None:
    """Take names the version it takes: a stale one is refused and nothing goes to air."""
    edit(graphic, editor, title="Version 2")
    with pytest.raises(VersionConflict) as caught:
        graphic_take(user=editor, graphic_id=graphic.pk, expected_version=1)
    assert caught.value.details == {"current_version": 2, "your_version": 1}
    assert not Graphic.objects.get(pk=graphic.pk).on_air
    assert not AirInterval.objects.exists()


def test_someone_elses_lock_refuses_a_take_unless_lock_admin(
    graphic: Any, editor: Any, editor2: Any, lock_admin: Any
) -> None:
    """An Editor cannot take a graphic another holds the lock on (lock_conflict); a Lock admin
    can; the holder can."""
    lock_acquire(user=editor, graphic_id=graphic.pk)
    with pytest.raises(LockConflict):
        graphic_take(user=editor2, graphic_id=graphic.pk, expected_version=1)
    with pytest.raises(LockConflict):
        graphic_set_live(user=editor2, graphic_id=graphic.pk, live=True)
    assert graphic_take(user=lock_admin, graphic_id=graphic.pk, expected_version=1).on_air
    assert graphic_take(user=editor, graphic_id=graphic.pk, expected_version=1).on_air


def test_clear_needs_no_lock(graphic: Any, editor: Any, editor2: Any) -> None:
    """Anyone with the Editor role can pull a graphic off air, whoever holds the lock."""
    graphic_take(user=editor, graphic_id=graphic.pk, expected_version=1)
    lock_acquire(user=editor, graphic_id=graphic.pk)

    cleared = graphic_clear(user=editor2, graphic_id=graphic.pk, reason="Wrong score")

    assert (cleared.on_air, cleared.program_version, cleared.live) == (False, 1, False)
    assert cleared.draft_differs is False
    assert intervals(graphic) == [(1, "editor", "editor2", "Wrong score")]
    assert [event_type for event_type, _ in air_events(graphic)] == [
        "graphic_take",
        "graphic_clear",
    ]
    clear = air_events(graphic)[-1][1]
    assert clear["on_air"] is False and clear["cleared_by"] == "editor2"
    assert "payload" not in clear


def test_clearing_a_graphic_off_air_records_nothing(graphic: Any, editor: Any) -> None:
    """A second press of Clear is harmless: no event, no history row."""
    before = (Event.objects.count(), GraphicVersion.objects.count())
    assert graphic_clear(user=editor, graphic_id=graphic.pk).on_air is False
    assert (Event.objects.count(), GraphicVersion.objects.count()) == before


@pytest.mark.parametrize("service", ["take", "clear", "live"])
def test_viewers_may_not_take_clear_or_switch_live(
    service: str, graphic: Any, viewer: Any, editor: Any
) -> None:
    """Take, clear and live need the Editor role: a Viewer is permission_denied, anonymous is
    not_authenticated; nothing changes."""
    graphic_take(user=editor, graphic_id=graphic.pk, expected_version=1)
    calls = {
        "take": lambda user: graphic_take(user=user, graphic_id=graphic.pk, expected_version=1),
        "clear": lambda user: graphic_clear(user=user, graphic_id=graphic.pk),
        "live": lambda user: graphic_set_live(user=user, graphic_id=graphic.pk, live=True),
    }
    before = (intervals(graphic), Event.objects.count())
    with pytest.raises(PermissionDenied):
        calls[service](viewer)
    with pytest.raises(NotAuthenticated):
        calls[service](None)
    assert (intervals(graphic), Event.objects.count()) == before


def test_bad_input_is_a_validation_error(graphic: Any, editor: Any) -> None:
    with pytest.raises(ValidationFailed) as caught:
        graphic_take(user=editor, graphic_id=graphic.pk, expected_version="1")
    assert "expected_version" in caught.value.details
    with pytest.raises(ValidationFailed) as caught:
        graphic_set_live(user=editor, graphic_id=graphic.pk, live="yes")
    assert "live" in caught.value.details
    with pytest.raises(ValidationFailed) as caught:
        graphic_take(user=editor, graphic_id=graphic.pk, expected_version=1, reason=5)
    assert "reason" in caught.value.details
    with pytest.raises(NotFound):
        graphic_take(user=editor, graphic_id=graphic.pk + 100, expected_version=1)


def test_archived_graphics_cannot_be_taken_but_can_be_cleared(graphic: Any, editor: Any) -> None:
    graphic_take(user=editor, graphic_id=graphic.pk, expected_version=1)
    archived = graphic_archive(user=editor, graphic_id=graphic.pk)
    with pytest.raises(StateConflict):
        graphic_take(user=editor, graphic_id=graphic.pk, expected_version=archived.version)
    with pytest.raises(StateConflict):
        graphic_set_live(user=editor, graphic_id=graphic.pk, live=True)
    assert graphic_clear(user=editor, graphic_id=graphic.pk).on_air is False


def test_a_retake_closes_the_open_interval_and_opens_another(graphic: Any, editor: Any) -> None:
    graphic_take(user=editor, graphic_id=graphic.pk, expected_version=1)
    edit(graphic, editor, title="Version 2")
    retaken = graphic_take(user=editor, graphic_id=graphic.pk, expected_version=2)

    assert (retaken.program_version, retaken.draft_differs) == (2, False)
    assert intervals(graphic) == [(1, "editor", "editor", RETAKE_REASON), (2, "editor", None, "")]


def test_live_mode_puts_every_save_on_air(graphic: Any, editor: Any) -> None:
    """Live on takes the current version to air; every save after it goes to air at once, each
    version its own interval, and its graphic_update says live true; live off keeps the program
    on air and later saves wait for a take."""
    live = graphic_set_live(user=editor, graphic_id=graphic.pk, live=True)
    assert (live.on_air, live.live, live.program_version) == (True, True, 1)
    [(event_type, data)] = air_events(graphic)
    assert event_type == "graphic_live" and data["live"] is True
    assert data["payload"]["version"] == 1

    saved = edit(graphic, editor, title="Typed live")
    assert (saved.version, saved.program_version, saved.draft_differs) == (2, 2, False)
    update = Event.objects.filter(graphic_id=graphic.pk, type="graphic_update").last()
    assert update is not None and update.data["live"] is True
    assert [row[0] for row in intervals(graphic)] == [1, 2]

    off = graphic_set_live(user=editor, graphic_id=graphic.pk, live=False)
    assert (off.on_air, off.live, off.program_version) == (True, False, 2)
    assert "payload" not in air_events(graphic)[-1][1]
    saved = edit(graphic, editor, title="Waits for a take")
    assert (saved.version, saved.program_version) == (3, 2)
    assert [row[0] for row in intervals(graphic)] == [1, 2]
    assert [row.action for row in GraphicVersion.objects.filter(graphic=graphic, action="live")]


def test_live_on_when_already_on_air_as_it_is_keeps_the_interval(graphic: Any, editor: Any) -> None:
    graphic_take(user=editor, graphic_id=graphic.pk, expected_version=1)
    graphic_set_live(user=editor, graphic_id=graphic.pk, live=True)
    assert intervals(graphic) == [(1, "editor", None, "")]


def test_clear_ends_live_mode(graphic: Any, editor: Any) -> None:
    graphic_set_live(user=editor, graphic_id=graphic.pk, live=True)
    cleared = graphic_clear(user=editor, graphic_id=graphic.pk)
    assert (cleared.on_air, cleared.live) == (False, False)
    saved = edit(graphic, editor, title="Not on air")
    assert (saved.on_air, saved.program_version) == (False, 1)


def test_an_old_instance_saved_does_not_undo_a_take(graphic: Any, editor: Any) -> None:
    """The on-air state is written only by the on-air services: saving an instance read before
    a take keeps the graphic on air."""
    stale = Graphic.objects.get(pk=graphic.pk)
    graphic_take(user=editor, graphic_id=graphic.pk, expected_version=1)
    stale.title = "Saved from a shell"
    stale.updated_by = editor
    stale.save()
    fresh = Graphic.objects.get(pk=graphic.pk)
    assert (fresh.on_air, fresh.program_version, fresh.version) == (True, 1, 2)


def test_the_history_keeps_versions_and_on_air_rows_apart(graphic: Any, editor: Any) -> None:
    """History rows of takes share the number of the version they took; reading a version
    reads its own row."""
    graphic_take(user=editor, graphic_id=graphic.pk, expected_version=1)
    graphic_clear(user=editor, graphic_id=graphic.pk)
    found = graphic_version_get(graphic_id=graphic.pk, version=1)
    assert found.action == "created"
    actions = list(
        GraphicVersion.objects.filter(graphic=graphic)
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["created", "take", "clear"]


def test_the_program_version_survives_history_pruning(
    graphic: Any, editor: Any, settings: Any
) -> None:
    """Overlays draw the program from its history row, so pruning keeps it however old."""
    settings.GRAPHIC_HISTORY_MAX_VERSIONS = 2
    graphic_take(user=editor, graphic_id=graphic.pk, expected_version=1)
    for number in range(2, 6):
        edit(graphic, editor, title=f"Draft {number}")
    graphic_history_prune()
    assert graphic_version_get(graphic_id=graphic.pk, version=1).title == graphic.title
    with pytest.raises(NotFound):
        graphic_version_get(graphic_id=graphic.pk, version=2)


def test_transition_is_set_by_an_edit(graphic: Any, editor: Any) -> None:
    edited = edit(graphic, editor, transition="slide", transition_ms=250)
    assert (edited.transition, edited.transition_ms, edited.version) == ("slide", 250, 2)
    for bad in ({"transition": "wipe"}, {"transition_ms": 5001}, {"transition_ms": -1}):
        with pytest.raises(ValidationFailed):
            edit(graphic, editor, **bad)


def test_the_database_allows_one_open_interval_per_graphic(graphic: Any, editor: Any) -> None:
    graphic_take(user=editor, graphic_id=graphic.pk, expected_version=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        AirInterval.objects.create(
            graphic=graphic, graphic_title="x", version=1, taken_at=timezone.now()
        )


def test_the_database_refuses_live_off_air(graphic: Any) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Graphic.objects.filter(pk=graphic.pk).update(live=True)


def test_deleting_a_graphic_closes_its_interval_and_keeps_the_log(
    graphic: Any, editor: Any, lock_admin: Any
) -> None:
    graphic_take(user=editor, graphic_id=graphic.pk, expected_version=1)
    graphic_delete(user=lock_admin, graphic_id=graphic.pk, reason="Done")
    [interval] = air_log()
    assert interval.graphic_id is None and interval.graphic_title == graphic.title
    assert interval.cleared_by == lock_admin and interval.cleared_reason == "Done"

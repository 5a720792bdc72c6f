"""Graphic services: who may create, edit, archive, restore, duplicate and delete a graphic, and
the lock and version rules every edit has to pass."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from gal_dashboard.errors import (
    LockConflict,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    StateConflict,
    TooLarge,
    ValidationFailed,
    VersionConflict,
)
from gal_dashboard.timestamps import iso_timestamp
from graphics.models import Graphic
from graphics.services import (
    graphic_archive,
    graphic_create,
    graphic_delete,
    graphic_duplicate,
    graphic_restore,
    graphic_update,
)
from locks.models import CanvasLock, LockEvent
from locks.services import lock_acquire
from tests.conftest import expire_lock, text_element, valid_canvas

pytestmark = pytest.mark.django_db


def lock_actions(graphic_id: int) -> list[str]:
    return list(
        LockEvent.objects.filter(graphic_ref=graphic_id)
        .order_by("created_at", "id")
        .values_list("action", flat=True)
    )


def stored(graphic: Graphic) -> Graphic:
    return Graphic.objects.get(pk=graphic.pk)


@pytest.fixture
def locked_graphic(graphic: Graphic, editor: Any) -> Graphic:
    """The `graphic` fixture with its lock held by `editor`."""
    lock_acquire(user=editor, graphic_id=graphic.pk)
    return graphic


@pytest.fixture
def inactive_editor(make_user: Callable[..., Any]) -> Any:
    return make_user("retired", role="Editor", is_active=False)


# --- create ----------------------------------------------------------------------------------


def test_an_editor_creates_a_graphic(editor: Any) -> None:
    """An Editor creates an active graphic at version 1 with the canvas given, attributed to
    them; title and event name are stored without surrounding spaces."""
    graphic = graphic_create(
        user=editor, title="  Round 1 Lobby  ", event_name=" Week 1 ", data=valid_canvas()
    )
    fresh = stored(graphic)
    assert (fresh.title, fresh.event_name) == ("Round 1 Lobby", "Week 1")
    assert fresh.version == 1
    assert fresh.archived is False
    assert fresh.data == valid_canvas()
    assert fresh.created_by == editor
    assert fresh.updated_by == editor


def test_a_graphic_created_without_data_gets_an_empty_canvas(editor: Any) -> None:
    """Leaving out the canvas gives the empty one (no background, no elements)."""
    graphic = graphic_create(user=editor, title="Blank", event_name="Week 1")
    assert stored(graphic).data == {"background": None, "elements": []}


@pytest.mark.parametrize("who", ["lock_admin", "superuser"])
def test_lock_admins_and_superusers_create_graphics(request: Any, who: str) -> None:
    """Lock admins and superusers can do everything an Editor can, creating included."""
    user = request.getfixturevalue(who)
    graphic_create(user=user, title="Standings", event_name="Week 1")
    assert Graphic.objects.count() == 1


@pytest.mark.parametrize("who", ["viewer", "no_role_user"])
def test_users_without_the_editor_role_cannot_create(request: Any, who: str) -> None:
    """Viewers and users with no role are refused with permission_denied."""
    user = request.getfixturevalue(who)
    with pytest.raises(PermissionDenied) as caught:
        graphic_create(user=user, title="Standings", event_name="Week 1")
    assert caught.value.http_status == 403
    assert caught.value.details == {"required": ["graphics.add_graphic"]}
    assert not Graphic.objects.exists()


def test_anonymous_and_inactive_users_cannot_create(inactive_editor: Any) -> None:
    """Nobody signed out, and no deactivated account, can write: not_authenticated."""
    for user in (AnonymousUser(), inactive_editor, None):
        with pytest.raises(NotAuthenticated) as caught:
            graphic_create(user=user, title="Standings", event_name="Week 1")
        assert caught.value.http_status == 401
    assert not Graphic.objects.exists()


@pytest.mark.parametrize("field", ["title", "event_name"])
@pytest.mark.parametrize("value", ["", "   ", None, 5, ["Standings"], "x" * 256])
def test_title_and_event_name_are_required_strings_of_at_most_255(
    editor: Any, field: str, value: Any
) -> None:
    """Title and event name must be non-blank strings of at most 255 characters; the error
    names the field."""
    fields = {"title": "Standings", "event_name": "Week 1", field: value}
    with pytest.raises(ValidationFailed) as caught:
        graphic_create(user=editor, **fields)
    assert list(caught.value.details) == [field]
    assert not Graphic.objects.exists()


def test_a_title_of_255_characters_after_stripping_is_accepted(editor: Any) -> None:
    """The limit counts the title without its surrounding spaces."""
    graphic = graphic_create(user=editor, title=f"  {'x' * 255}  ", event_name="Week 1")
    assert stored(graphic).title == "x" * 255


def test_an_invalid_canvas_is_refused_on_create(editor: Any) -> None:
    """A graphic is never created with a canvas that fails validation."""
    data = valid_canvas(elements=[text_element(x="left")])
    with pytest.raises(ValidationFailed) as caught:
        graphic_create(user=editor, title="Standings", event_name="Week 1", data=data)
    assert list(caught.value.details) == ["data.elements[0].x"]
    assert not Graphic.objects.exists()


def test_a_canvas_over_the_size_limit_is_refused_on_create(editor: Any, settings: Any) -> None:
    """A canvas over GRAPHIC_DATA_MAX_BYTES is too_large and nothing is created."""
    settings.GRAPHIC_DATA_MAX_BYTES = 1024
    data = valid_canvas(elements=[text_element(content="x" * 1024)])
    with pytest.raises(TooLarge):
        graphic_create(user=editor, title="Standings", event_name="Week 1", data=data)
    assert not Graphic.objects.exists()


# --- update ----------------------------------------------------------------------------------


def test_the_lock_holder_updates_with_the_current_version(
    locked_graphic: Graphic, editor: Any
) -> None:
    """Holding the lock and naming the current version, an Editor changes title, event name
    and canvas in one new version."""
    data = valid_canvas(elements=[text_element(content="Final standings")])
    updated = graphic_update(
        user=editor,
        graphic_id=locked_graphic.pk,
        version=1,
        title=" Finals ",
        event_name="Week 9",
        data=data,
    )
    assert updated.version == 2
    fresh = stored(locked_graphic)
    assert (fresh.title, fresh.event_name, fresh.data) == ("Finals", "Week 9", data)
    assert fresh.version == 2
    assert fresh.updated_by == editor


def statements_of_an_edit(graphic: Graphic, editor: Any) -> list[str]:
    """The SQL of one canvas edit by `editor`, who holds the graphic's lock at version 1."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        graphic_update(
            user=editor,
            graphic_id=graphic.pk,
            version=1,
            data=valid_canvas(elements=[text_element(content="Round 2")]),
        )
    return [query["sql"] for query in queries.captured_queries]


def test_an_update_names_its_authors_without_reading_their_rows_again(
    locked_graphic: Graphic, editor: Any, make_user: Callable[..., Any]
) -> None:
    """The write path of every edit: the graphic's authors come with its row, and the event
    names its actor from them, so no user row is read again."""
    from realtime.models import Event

    Graphic.objects.filter(pk=locked_graphic.pk).update(created_by=make_user("founder"))
    statements = statements_of_an_edit(locked_graphic, editor)
    user_reads = [sql for sql in statements if 'FROM "auth_user"' in sql]
    assert user_reads == []
    event = Event.objects.filter(graphic_id=locked_graphic.pk).latest("id")
    assert (event.data["user"], event.data["user_id"]) == (editor.username, editor.pk)
    summary = event.data.get("summary") or event.data["payload"]
    assert summary["created_by"]["username"] == "founder"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_update_takes_no_savepoint_and_reads_the_last_seqs_once(
    locked_graphic: Graphic, editor: Any
) -> None:
    """Every edit's write path (issue 17): Graphic.save joins the service's transaction without a
    savepoint, and the event's predecessors (the log's last seq and the graphic's) come in one
    read (on SQLite an edit is 9 statements from BEGIN to COMMIT; it was 12)."""
    statements = statements_of_an_edit(locked_graphic, editor)
    assert not [sql for sql in statements if "SAVEPOINT" in sql]
    event_reads = [
        sql for sql in statements if sql.startswith("SELECT") and '"realtime_event"' in sql
    ]
    assert len(event_reads) == 1, event_reads


def test_successive_updates_each_need_the_latest_version(
    locked_graphic: Graphic, editor: Any
) -> None:
    """Each update moves the version on by one and the next must name it."""
    graphic_update(user=editor, graphic_id=locked_graphic.pk, version=1, title="Two")
    graphic_update(user=editor, graphic_id=locked_graphic.pk, version=2, title="Three")
    assert stored(locked_graphic).version == 3


def test_a_stale_version_is_a_version_conflict_naming_the_current_one(
    locked_graphic: Graphic, editor: Any
) -> None:
    """An edit of an older version is refused with the current version in the details, and
    changes nothing."""
    graphic_update(user=editor, graphic_id=locked_graphic.pk, version=1, title="Two")
    with pytest.raises(VersionConflict) as caught:
        graphic_update(user=editor, graphic_id=locked_graphic.pk, version=1, title="Stale")
    assert caught.value.code == "version_conflict"
    assert caught.value.http_status == 409
    assert caught.value.details["current_version"] == 2
    assert stored(locked_graphic).title == "Two"


def test_a_version_from_the_future_is_a_version_conflict(
    locked_graphic: Graphic, editor: Any
) -> None:
    """A version the graphic never had is refused like a stale one."""
    with pytest.raises(VersionConflict) as caught:
        graphic_update(user=editor, graphic_id=locked_graphic.pk, version=7, title="Future")
    assert caught.value.details["current_version"] == 1


@pytest.mark.parametrize("version", [None, "1", 1.0, True, 0, -1])
def test_the_version_must_be_a_positive_whole_number(
    locked_graphic: Graphic, editor: Any, version: Any
) -> None:
    """`version` is an integer of at least 1: strings, floats and booleans are invalid."""
    with pytest.raises(ValidationFailed) as caught:
        graphic_update(user=editor, graphic_id=locked_graphic.pk, version=version, title="X")
    assert list(caught.value.details) == ["version"]


def test_another_users_lock_is_a_lock_conflict_naming_them(
    locked_graphic: Graphic, editor2: Any
) -> None:
    """While someone else holds the lock, an update is refused with their username and the
    lock's expiry."""
    lock = CanvasLock.objects.get(graphic=locked_graphic)
    with pytest.raises(LockConflict) as caught:
        graphic_update(user=editor2, graphic_id=locked_graphic.pk, version=1, title="Mine")
    assert caught.value.code == "lock_conflict"
    assert caught.value.http_status == 409
    assert caught.value.details["locked_by"] == "editor"
    assert caught.value.details["expires_at"] == iso_timestamp(lock.expires_at)
    assert "editor" in caught.value.message
    assert stored(locked_graphic).title == "Round 3 Scoreboard"


def test_updating_without_the_lock_is_a_lock_conflict(graphic: Graphic, editor: Any) -> None:
    """Nobody edits a graphic without holding its lock, even when nobody else holds it."""
    with pytest.raises(LockConflict) as caught:
        graphic_update(user=editor, graphic_id=graphic.pk, version=1, title="Unlocked")
    assert caught.value.details["locked_by"] is None
    assert stored(graphic).version == 1


def test_updating_with_an_expired_lock_is_a_lock_conflict(
    locked_graphic: Graphic, editor: Any
) -> None:
    """A lock past its expiry no longer allows editing, even to its old holder."""
    expire_lock(locked_graphic)
    with pytest.raises(LockConflict):
        graphic_update(user=editor, graphic_id=locked_graphic.pk, version=1, title="Late")
    assert stored(locked_graphic).title == "Round 3 Scoreboard"


def test_updating_an_archived_graphic_is_a_state_conflict(graphic: Graphic, editor: Any) -> None:
    """An archived graphic cannot be edited until it is restored."""
    graphic_archive(user=editor, graphic_id=graphic.pk)
    with pytest.raises(StateConflict) as caught:
        graphic_update(user=editor, graphic_id=graphic.pk, version=1, title="Archived")
    assert caught.value.code == "state_conflict"


def test_an_update_with_nothing_to_change_is_invalid(locked_graphic: Graphic, editor: Any) -> None:
    """An update must give at least one of title, event_name, data."""
    with pytest.raises(ValidationFailed) as caught:
        graphic_update(user=editor, graphic_id=locked_graphic.pk, version=1)
    assert "non_field_errors" in caught.value.details


def test_an_update_to_the_same_values_makes_no_new_version(
    locked_graphic: Graphic, editor: Any
) -> None:
    """Sending the values the graphic already has changes nothing: the version stays."""
    updated = graphic_update(
        user=editor,
        graphic_id=locked_graphic.pk,
        version=1,
        title="Round 3 Scoreboard",
        data=valid_canvas(),
    )
    assert updated.version == 1
    assert stored(locked_graphic).version == 1


def test_an_update_with_an_invalid_canvas_changes_nothing(
    locked_graphic: Graphic, editor: Any
) -> None:
    """An invalid canvas is refused field by field and the stored graphic stays as it was."""
    data = valid_canvas(elements=[text_element(color="gold")])
    with pytest.raises(ValidationFailed) as caught:
        graphic_update(user=editor, graphic_id=locked_graphic.pk, version=1, data=data)
    assert list(caught.value.details) == ["data.elements[0].color"]
    assert stored(locked_graphic).data == valid_canvas()


def test_an_update_with_a_blank_title_changes_nothing(locked_graphic: Graphic, editor: Any) -> None:
    """A title cannot be blanked by an update either."""
    with pytest.raises(ValidationFailed) as caught:
        graphic_update(user=editor, graphic_id=locked_graphic.pk, version=1, title="  ")
    assert list(caught.value.details) == ["title"]


def test_a_viewer_cannot_update(graphic: Graphic, viewer: Any) -> None:
    """Viewers read; they never edit."""
    with pytest.raises(PermissionDenied):
        graphic_update(user=viewer, graphic_id=graphic.pk, version=1, title="Viewer")


# --- archive and restore ---------------------------------------------------------------------


def test_an_editor_archives_a_graphic_as_a_new_version(graphic: Graphic, editor2: Any) -> None:
    """Archiving records who and when; it is not a content change but it is a new version."""
    archived = graphic_archive(user=editor2, graphic_id=graphic.pk, reason="Old week")
    fresh = stored(archived)
    assert fresh.archived is True
    assert fresh.archived_at is not None
    assert fresh.archived_by == editor2
    assert fresh.version == 2


def test_archiving_an_archived_graphic_is_a_state_conflict(graphic: Graphic, editor: Any) -> None:
    """A graphic is archived once."""
    graphic_archive(user=editor, graphic_id=graphic.pk)
    with pytest.raises(StateConflict):
        graphic_archive(user=editor, graphic_id=graphic.pk)


def test_archiving_is_refused_while_another_user_holds_the_lock(
    locked_graphic: Graphic, editor2: Any
) -> None:
    """Nobody archives a graphic out from under the person editing it."""
    with pytest.raises(LockConflict) as caught:
        graphic_archive(user=editor2, graphic_id=locked_graphic.pk)
    assert caught.value.details["locked_by"] == "editor"
    assert stored(locked_graphic).archived is False


def test_archiving_is_allowed_once_the_other_users_lock_has_expired(
    locked_graphic: Graphic, editor2: Any
) -> None:
    """An expired lock does not block; its expiry is recorded in the lock audit."""
    expire_lock(locked_graphic)
    graphic_archive(user=editor2, graphic_id=locked_graphic.pk)
    assert stored(locked_graphic).archived is True
    assert not CanvasLock.objects.exists()
    assert lock_actions(locked_graphic.pk) == ["acquired", "expired"]


def test_archiving_releases_the_archivers_own_lock(locked_graphic: Graphic, editor: Any) -> None:
    """The lock holder may archive; their lock is released (an archived graphic cannot be
    edited, so the lock would only get in the way later)."""
    graphic_archive(user=editor, graphic_id=locked_graphic.pk)
    assert stored(locked_graphic).archived is True
    assert not CanvasLock.objects.exists()
    assert lock_actions(locked_graphic.pk) == ["acquired", "released"]
    released = LockEvent.objects.get(action="released")
    assert released.actor == editor


def test_an_editor_restores_an_archived_graphic(graphic: Graphic, editor: Any) -> None:
    """Restoring makes the graphic active again, clears the archive fields and, like the
    archive before it, makes a new version."""
    graphic_archive(user=editor, graphic_id=graphic.pk)
    restored = graphic_restore(user=editor, graphic_id=graphic.pk, reason="Needed again")
    fresh = stored(restored)
    assert fresh.archived is False
    assert fresh.archived_at is None
    assert fresh.archived_by is None
    assert fresh.version == 3


def test_restoring_an_active_graphic_is_a_state_conflict(graphic: Graphic, editor: Any) -> None:
    """Only archived graphics can be restored."""
    with pytest.raises(StateConflict):
        graphic_restore(user=editor, graphic_id=graphic.pk)


def test_restoring_is_refused_while_another_user_holds_the_lock(
    graphic: Graphic, editor: Any, editor2: Any
) -> None:
    """Restore follows the same lock rule as archive. (The services never lock an archived
    graphic, so the lock is written directly, as a shell or an older server might have.)"""
    graphic_archive(user=editor, graphic_id=graphic.pk)
    now = timezone.now()
    CanvasLock.objects.create(
        graphic=graphic,
        holder=editor2,
        acquired_at=now,
        expires_at=now + timedelta(minutes=5),
        fencing_token=1,
    )
    with pytest.raises(LockConflict) as caught:
        graphic_restore(user=editor, graphic_id=graphic.pk)
    assert caught.value.details["locked_by"] == "editor2"
    assert stored(graphic).archived is True


@pytest.mark.parametrize("action", [graphic_archive, graphic_restore])
@pytest.mark.parametrize("reason", ["x" * 501, 42, ["why"]])
def test_a_reason_is_a_string_of_at_most_500_characters(
    graphic: Graphic, editor: Any, action: Callable[..., Any], reason: Any
) -> None:
    """The optional reason of an archive or restore is at most 500 characters of text."""
    if action is graphic_restore:
        graphic_archive(user=editor, graphic_id=graphic.pk)
    with pytest.raises(ValidationFailed) as caught:
        action(user=editor, graphic_id=graphic.pk, reason=reason)
    assert list(caught.value.details) == ["reason"]


def test_a_reason_of_500_characters_is_accepted(graphic: Graphic, editor: Any) -> None:
    """Exactly 500 characters is within the limit."""
    graphic_archive(user=editor, graphic_id=graphic.pk, reason="x" * 500)
    assert stored(graphic).archived is True


@pytest.mark.parametrize("action", [graphic_archive, graphic_restore])
def test_a_viewer_cannot_archive_or_restore(
    graphic: Graphic, viewer: Any, action: Callable[..., Any]
) -> None:
    """Archive and restore need the Editor role."""
    with pytest.raises(PermissionDenied):
        action(user=viewer, graphic_id=graphic.pk)


# --- duplicate -------------------------------------------------------------------------------


def test_duplicating_makes_an_active_copy_at_version_1(
    locked_graphic: Graphic, editor: Any, editor2: Any
) -> None:
    """A copy has the title "<title> (Copy)", the same event and canvas, version 1, is active
    and belongs to whoever duplicated it; the original's lock does not stop a copy."""
    graphic_update(user=editor, graphic_id=locked_graphic.pk, version=1, title="Standings")
    copy = graphic_duplicate(user=editor2, graphic_id=locked_graphic.pk)
    fresh = stored(copy)
    assert fresh.pk != locked_graphic.pk
    assert fresh.title == "Standings (Copy)"
    assert fresh.event_name == locked_graphic.event_name
    assert fresh.data == stored(locked_graphic).data
    assert fresh.version == 1
    assert fresh.archived is False
    assert fresh.created_by == editor2


def test_duplicating_an_archived_graphic_makes_an_active_copy(
    graphic: Graphic, editor: Any
) -> None:
    """The copy of an archived graphic is active."""
    graphic_archive(user=editor, graphic_id=graphic.pk)
    copy = graphic_duplicate(user=editor, graphic_id=graphic.pk)
    assert stored(copy).archived is False


def test_a_copy_of_a_long_title_is_shortened_and_still_reads_as_a_copy(
    make_graphic: Callable[..., Graphic], editor: Any
) -> None:
    """The default title fits in 255 characters and keeps its " (Copy)" suffix."""
    original = make_graphic(title="x" * 255)
    copy = graphic_duplicate(user=editor, graphic_id=original.pk)
    title = stored(copy).title
    assert len(title) == 255
    assert title.endswith(" (Copy)")


def test_a_copy_may_be_given_its_own_title(graphic: Graphic, editor: Any) -> None:
    """A title given for the copy is used (stripped) instead of the default."""
    copy = graphic_duplicate(user=editor, graphic_id=graphic.pk, title="  Round 4 Scoreboard ")
    assert stored(copy).title == "Round 4 Scoreboard"


def test_a_copy_title_is_validated(graphic: Graphic, editor: Any) -> None:
    """The copy's title follows the same rules as any title."""
    with pytest.raises(ValidationFailed):
        graphic_duplicate(user=editor, graphic_id=graphic.pk, title="x" * 256)
    assert Graphic.objects.count() == 1


def test_a_viewer_cannot_duplicate(graphic: Graphic, viewer: Any) -> None:
    """Duplicating creates a graphic, so it needs the permission to add one."""
    with pytest.raises(PermissionDenied):
        graphic_duplicate(user=viewer, graphic_id=graphic.pk)
    assert Graphic.objects.count() == 1


# --- delete ----------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["lock_admin", "superuser"])
def test_lock_admins_and_superusers_delete_graphics(
    request: Any, graphic: Graphic, who: str
) -> None:
    """Permanent deletion is for Lock admins and superusers."""
    graphic_delete(user=request.getfixturevalue(who), graphic_id=graphic.pk, reason="Test run")
    assert not Graphic.objects.exists()


@pytest.mark.parametrize("who", ["editor", "viewer"])
def test_editors_and_viewers_cannot_delete(request: Any, graphic: Graphic, who: str) -> None:
    """An Editor archives; only a Lock admin deletes."""
    with pytest.raises(PermissionDenied) as caught:
        graphic_delete(user=request.getfixturevalue(who), graphic_id=graphic.pk)
    assert caught.value.details == {"required": ["graphics.delete_graphic"]}
    assert Graphic.objects.filter(pk=graphic.pk).exists()


def test_deleting_is_refused_while_another_user_holds_the_lock(
    locked_graphic: Graphic, lock_admin: Any
) -> None:
    """A Lock admin must override a lock before deleting the graphic under it."""
    with pytest.raises(LockConflict) as caught:
        graphic_delete(user=lock_admin, graphic_id=locked_graphic.pk)
    assert caught.value.details["locked_by"] == "editor"
    assert Graphic.objects.filter(pk=locked_graphic.pk).exists()
    assert CanvasLock.objects.filter(graphic=locked_graphic).exists()


def test_deleting_a_graphic_whose_lock_expired_records_the_expiry(
    locked_graphic: Graphic, lock_admin: Any
) -> None:
    """An expired lock does not block deletion; the audit shows it expired."""
    graphic_id = locked_graphic.pk
    expire_lock(locked_graphic)
    graphic_delete(user=lock_admin, graphic_id=graphic_id)
    assert not Graphic.objects.exists()
    assert lock_actions(graphic_id) == ["acquired", "expired"]


def test_deleting_keeps_the_lock_audit(graphic: Graphic, lock_admin: Any) -> None:
    """A Lock admin holding the lock deletes; the lock is released and every audit record
    stays, still naming the graphic by id and title."""
    graphic_id = graphic.pk
    lock_acquire(user=lock_admin, graphic_id=graphic_id)
    graphic_delete(user=lock_admin, graphic_id=graphic_id, reason="Duplicate of #2")
    assert not Graphic.objects.exists()
    assert not CanvasLock.objects.exists()
    events = LockEvent.objects.filter(graphic_ref=graphic_id)
    assert lock_actions(graphic_id) == ["acquired", "released"]
    assert {(e.graphic_id, e.graphic_title) for e in events} == {(None, "Round 3 Scoreboard")}


# --- lookups ---------------------------------------------------------------------------------

ACTIONS_ON_A_GRAPHIC: list[tuple[Callable[..., Any], dict[str, Any]]] = [
    (graphic_update, {"version": 1, "title": "X"}),
    (graphic_archive, {}),
    (graphic_restore, {}),
    (graphic_duplicate, {}),
    (graphic_delete, {}),
]


@pytest.mark.parametrize(("action", "extra"), ACTIONS_ON_A_GRAPHIC)
@pytest.mark.parametrize("graphic_id", [999_999, 2**70])
def test_a_graphic_that_does_not_exist_is_not_found(
    superuser: Any, action: Callable[..., Any], extra: dict[str, Any], graphic_id: int
) -> None:
    """Every action on a missing graphic id, even one too large for the database's id
    column, says not_found (404)."""
    with pytest.raises(NotFound) as caught:
        action(user=superuser, graphic_id=graphic_id, **extra)
    assert caught.value.http_status == 404


@pytest.mark.parametrize("graphic_id", ["1", None, 1.0, True, 0])
@pytest.mark.parametrize(("action", "extra"), ACTIONS_ON_A_GRAPHIC)
def test_a_graphic_id_that_is_not_a_positive_integer_is_invalid(
    superuser: Any, action: Callable[..., Any], extra: dict[str, Any], graphic_id: Any
) -> None:
    """A graphic id is a positive whole number; anything else is a validation error on
    `graphic_id`."""
    with pytest.raises(ValidationFailed) as caught:
        action(user=superuser, graphic_id=graphic_id, **extra)
    assert list(caught.value.details) == ["graphic_id"]


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["title", "event_name"])
def test_create_refuses_text_with_a_nul_character(editor: Any, field: str) -> None:
    """A NUL in a title or event name is a field error, not a database failure later."""
    fields = {"title": "Standings", "event_name": "GAL Season 3 Week 2", field: "a\x00b"}
    with pytest.raises(ValidationFailed) as caught:
        graphic_create(user=editor, **fields)
    assert caught.value.details == {field: ["Must not contain NUL characters."]}
    assert not Graphic.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["title", "event_name"])
def test_create_refuses_text_with_an_unpaired_surrogate(editor: Any, field: str) -> None:
    """A lone surrogate (JSON "\\udc00") cannot be stored as UTF-8: a field error, not a 500."""
    fields = {"title": "Standings", "event_name": "GAL Season 3 Week 2", field: "a\udc00b"}
    with pytest.raises(ValidationFailed) as caught:
        graphic_create(user=editor, **fields)
    assert caught.value.details == {field: ["Must be valid Unicode text (no unpaired surrogates)."]}
    assert not Graphic.objects.exists()

"""Version history and revert: every change keeps the version it produced (who, when, what,
the whole graphic), the REST API lists and reads versions and reverts to one under the rules of
an edit, retention prunes, and the admin shows history read-only."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from gal_dashboard.errors import (
    LockConflict,
    NotFound,
    PermissionDenied,
    StateConflict,
    ValidationFailed,
    VersionConflict,
)
from graphics.models import Graphic, GraphicVersion
from graphics.selectors import graphic_history, graphic_version_get
from graphics.serialization import graphic_payload
from graphics.services import (
    graphic_archive,
    graphic_delete,
    graphic_restore,
    graphic_revert,
    graphic_update,
)
from locks.selectors import lock_state
from locks.services import lock_acquire, lock_release
from realtime.delivery.events import publish_event
from realtime.models import Event, EventType
from tests.conftest import error_of, expire_lock, fencing_token_of, text_element, valid_canvas

pytestmark = pytest.mark.django_db

SCORES = valid_canvas(elements=[text_element(content="Scores after round 2")])


def api_client(user: Any = None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return client


def history_url(graphic_id: int, version: int | None = None) -> str:
    return f"/api/graphics/{graphic_id}/history/" + (f"{version}/" if version else "")


def revert_url(graphic_id: int) -> str:
    return f"/api/graphics/{graphic_id}/revert/"


def versions_of(graphic: Graphic) -> list[tuple[int, str]]:
    """(version, action) of every stored version, oldest first."""
    return list(
        GraphicVersion.objects.filter(graphic=graphic)
        .order_by("version")
        .values_list("version", "action")
    )


def latest(graphic: Graphic) -> GraphicVersion:
    return GraphicVersion.objects.filter(graphic=graphic).order_by("-version").first()  # type: ignore[return-value]


@pytest.fixture
def edited(graphic: Graphic, editor: Any) -> Graphic:
    """The graphic at version 2: editor renamed it and changed its canvas."""
    lock_acquire(user=editor, graphic_id=graphic.pk)
    return graphic_update(
        user=editor, graphic_id=graphic.pk, version=1, title="Week 2 Standings", data=SCORES
    )


# --- each action records exactly one version ----------------------------------------------


def test_creating_records_version_one_with_the_whole_graphic(graphic: Graphic, editor: Any):
    """A new graphic's history is one "created" version by its author, holding its state."""
    (version,) = GraphicVersion.objects.filter(graphic=graphic)
    assert (version.version, version.action, version.actor) == (1, "created", editor)
    assert version.changed_fields == []
    assert (version.title, version.event_name) == (graphic.title, graphic.event_name)
    assert version.data == graphic.data == valid_canvas()
    assert version.archived is False


def test_an_update_records_one_version_naming_the_changed_fields(
    edited: Graphic, editor: Any
) -> None:
    """An edit of title and canvas is version 2, by the editor, changing exactly those."""
    assert versions_of(edited) == [(1, "created"), (2, "updated")]
    version = latest(edited)
    assert version.actor == editor
    assert version.changed_fields == ["title", "data"]
    assert (version.title, version.data) == ("Week 2 Standings", SCORES)


def test_an_update_that_changes_nothing_records_nothing(graphic: Graphic, editor: Any) -> None:
    """Values equal to the current ones make no version, as they make no new `version`."""
    lock_acquire(user=editor, graphic_id=graphic.pk)
    graphic_update(user=editor, graphic_id=graphic.pk, version=1, title=graphic.title)
    assert versions_of(graphic) == [(1, "created")]


def test_archive_and_restore_are_versions_with_actor_and_reason(
    edited: Graphic, editor: Any, editor2: Any
) -> None:
    """Archiving and restoring each record one version: who, why, `archived` changed, and the
    archive state it left; the content is carried over unchanged."""
    graphic_archive(user=editor, graphic_id=edited.pk, reason="Week over")
    graphic_restore(user=editor2, graphic_id=edited.pk, reason="Replay tonight")

    assert versions_of(edited) == [(1, "created"), (2, "updated"), (3, "archived"), (4, "restored")]
    archived, restored = GraphicVersion.objects.filter(graphic=edited, version__gte=3).order_by(
        "version"
    )
    assert (archived.actor, archived.reason, archived.changed_fields) == (
        editor,
        "Week over",
        ["archived"],
    )
    assert archived.archived is True and archived.archived_at is not None
    assert archived.archived_by == editor
    assert (restored.actor, restored.reason, restored.archived) == (
        editor2,
        "Replay tonight",
        False,
    )
    assert restored.archived_at is None
    assert archived.data == restored.data == SCORES


def test_a_plain_save_records_its_version_too(graphic: Graphic, editor2: Any) -> None:
    """A save outside the services (a shell, a data fix) still leaves its version."""
    graphic.event_name = "GAL Season 3 Week 3"
    graphic.updated_by = editor2
    graphic.save()
    version = latest(graphic)
    assert (version.version, version.action, version.actor) == (2, "updated", editor2)
    assert version.changed_fields == ["event_name"]


def test_a_rolled_back_change_leaves_no_version(graphic: Graphic) -> None:
    """The version is written in the change's transaction: if it rolls back, both go."""
    with pytest.raises(RuntimeError), transaction.atomic():
        graphic.title = "Never committed"
        graphic.save()
        raise RuntimeError("the caller failed after saving")
    assert versions_of(graphic) == [(1, "created")]
    assert Graphic.objects.get(pk=graphic.pk).version == 1


def test_the_database_refuses_a_second_row_for_one_version(graphic: Graphic) -> None:
    """(graphic, version) is unique in the database, not only by the code that writes it."""
    first = latest(graphic)
    with pytest.raises(IntegrityError), transaction.atomic():
        GraphicVersion.objects.create(
            graphic=graphic,
            version=first.version,
            action="updated",
            title="Twin",
            event_name="E",
            data=valid_canvas(),
            archived=False,
        )


def test_deleting_a_graphic_deletes_its_history(
    edited: Graphic, editor: Any, lock_admin: Any
) -> None:
    """Permanent delete takes the history with it; the event log keeps the deletion."""
    lock_release(user=editor, graphic_id=edited.pk)
    graphic_delete(user=lock_admin, graphic_id=edited.pk, reason="duplicate")
    assert not GraphicVersion.objects.filter(graphic_id=edited.pk).exists()
    assert Event.objects.filter(graphic_id=edited.pk, data__action="deleted").exists()


# --- revert (service) ------------------------------------------------------------------------


def test_revert_makes_the_old_content_current_as_a_new_version(
    edited: Graphic, editor: Any
) -> None:
    """Reverting version 2 to version 1 makes version 3 with version 1's title and canvas,
    recorded as "reverted" from 1 with its reason, and logged as a graphic_update."""
    reverted = graphic_revert(
        user=editor, graphic_id=edited.pk, version=1, expected_version=2, reason="wrong scores"
    )

    fresh = Graphic.objects.get(pk=edited.pk)
    assert (fresh.version, fresh.title, fresh.data) == (3, "Round 3 Scoreboard", valid_canvas())
    assert reverted.version == 3
    version = latest(edited)
    assert (version.version, version.action, version.reverted_from) == (3, "reverted", 1)
    assert (version.actor, version.reason) == (editor, "wrong scores")
    assert version.changed_fields == ["title", "data"]
    event = Event.objects.filter(graphic_id=edited.pk, type=EventType.GRAPHIC_UPDATE).last()
    assert event is not None
    assert event.data["action"] == "reverted"
    assert event.data["reverted_from"] == 1
    assert event.data["version"] == 3
    # A revert is broadcast as the merge patch from the version before.
    assert event.data["base_version"] == 2
    assert event.data["patch"]["title"] == "Round 3 Scoreboard"


def test_revert_is_published_when_it_commits(
    edited: Graphic, editor: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """The revert's event is handed to the hubs by an on-commit callback, exactly once, as a
    graphic_update with action "reverted": never before the transaction commits."""
    with django_capture_on_commit_callbacks() as callbacks:
        graphic_revert(user=editor, graphic_id=edited.pk, version=1, expected_version=2)

    published = [
        callback.args[0]
        for callback in callbacks
        if getattr(callback, "func", None) is publish_event
    ]
    # Version 1 brings back the standings list that version 2 removed, so the graphic's
    # standings follow its update (realtime.delivery.signals).
    assert [message["event_type"] for message in published] == [
        "graphic_update",
        "standings_update",
    ]
    message = published[0]
    assert message["data"]["action"] == "reverted"
    assert message["data"]["version"] == 3
    assert published[1]["data"]["action"] == "graphic_bound"


def test_revert_to_the_current_content_makes_no_version(edited: Graphic, editor: Any) -> None:
    """Bringing back content equal to the current changes nothing, like an equal update."""
    graphic_revert(user=editor, graphic_id=edited.pk, version=2, expected_version=2)
    assert Graphic.objects.get(pk=edited.pk).version == 2
    assert versions_of(edited)[-1] == (2, "updated")


def test_revert_follows_the_rules_of_an_edit(
    edited: Graphic, editor: Any, editor2: Any, viewer: Any
) -> None:
    """Editor role, the live lock, the current version, a known version, a whole number."""
    with pytest.raises(PermissionDenied):
        graphic_revert(user=viewer, graphic_id=edited.pk, version=1, expected_version=2)
    with pytest.raises(LockConflict):
        graphic_revert(user=editor2, graphic_id=edited.pk, version=1, expected_version=2)
    with pytest.raises(VersionConflict):
        graphic_revert(user=editor, graphic_id=edited.pk, version=1, expected_version=1)
    with pytest.raises(NotFound):
        graphic_revert(user=editor, graphic_id=edited.pk, version=9, expected_version=2)
    with pytest.raises(ValidationFailed) as caught:
        graphic_revert(user=editor, graphic_id=edited.pk, version="1", expected_version=2)
    assert list(caught.value.details) == ["version"]
    with pytest.raises(ValidationFailed) as caught:
        graphic_revert(user=editor, graphic_id=edited.pk, version=1, expected_version=None)
    assert list(caught.value.details) == ["expected_version"]
    assert versions_of(edited)[-1] == (2, "updated")


def test_revert_of_an_archived_graphic_is_refused_like_an_update(
    edited: Graphic, editor: Any
) -> None:
    """Archived graphics cannot be edited, so they cannot be reverted: restore first."""
    graphic_archive(user=editor, graphic_id=edited.pk)
    with pytest.raises(StateConflict):
        graphic_revert(user=editor, graphic_id=edited.pk, version=1, expected_version=3)


def test_history_survives_archive_and_restore_and_reverts_across_them(
    edited: Graphic, editor: Any
) -> None:
    """After archive and restore every version is still there, and the pre-archive content
    can be brought back."""
    graphic_archive(user=editor, graphic_id=edited.pk)
    graphic_restore(user=editor, graphic_id=edited.pk)
    lock_acquire(user=editor, graphic_id=edited.pk)

    graphic_revert(user=editor, graphic_id=edited.pk, version=1, expected_version=4)

    assert [entry.version for entry in graphic_history(graphic_id=edited.pk)] == [5, 4, 3, 2, 1]
    assert graphic_version_get(graphic_id=edited.pk, version=5).title == "Round 3 Scoreboard"


# --- retention -------------------------------------------------------------------------------


def test_retention_keeps_the_newest_versions_on_each_write(
    graphic: Graphic, editor: Any, settings: Any
) -> None:
    """With GRAPHIC_HISTORY_MAX_VERSIONS=3 a graphic keeps its three newest versions; a pruned
    version cannot be read or reverted to."""
    settings.GRAPHIC_HISTORY_MAX_VERSIONS = 3
    lock_acquire(user=editor, graphic_id=graphic.pk)
    for version, title in enumerate(("Two", "Three", "Four", "Five"), start=1):
        graphic_update(user=editor, graphic_id=graphic.pk, version=version, title=title)

    assert [number for number, _ in versions_of(graphic)] == [3, 4, 5]
    with pytest.raises(NotFound):
        graphic_version_get(graphic_id=graphic.pk, version=2)
    with pytest.raises(NotFound):
        graphic_revert(user=editor, graphic_id=graphic.pk, version=1, expected_version=5)


def test_retention_zero_keeps_every_version(graphic: Graphic, editor: Any) -> None:
    """The default keeps all."""
    lock_acquire(user=editor, graphic_id=graphic.pk)
    for version in range(1, 11):
        graphic_update(user=editor, graphic_id=graphic.pk, version=version, title=f"T{version}")
    assert len(versions_of(graphic)) == 11


def test_the_prune_command_applies_a_lowered_limit(
    graphic: Graphic, make_graphic: Any, editor: Any, settings: Any
) -> None:
    """`prune_graphic_history` catches up graphics that did not change since the limit was
    lowered; other graphics within the limit keep everything."""
    other = make_graphic(title="Untouched")
    lock_acquire(user=editor, graphic_id=graphic.pk)
    for version in range(1, 5):
        graphic_update(user=editor, graphic_id=graphic.pk, version=version, title=f"T{version}")
    settings.GRAPHIC_HISTORY_MAX_VERSIONS = 2

    call_command("prune_graphic_history")

    assert [number for number, _ in versions_of(graphic)] == [4, 5]
    assert versions_of(other) == [(1, "created")]


# --- the data migration ----------------------------------------------------------------------


def test_the_migration_records_a_baseline_for_graphics_without_history(
    edited: Graphic, make_graphic: Any
) -> None:
    """Graphics that predate history get one row for their current state: "created" if they
    never changed, "baseline" otherwise; graphics that have history are left alone."""
    fresh = make_graphic(title="Fresh")
    GraphicVersion.objects.filter(graphic__in=[edited, fresh]).delete()
    migration = importlib.import_module("graphics.migrations.0004_graphic_history_baseline")

    migration.record_baselines(apps, None)
    migration.record_baselines(apps, None)  # again: nothing more

    assert versions_of(edited) == [(2, "baseline")]
    assert latest(edited).data == SCORES
    assert versions_of(fresh) == [(1, "created")]


# --- REST ------------------------------------------------------------------------------------


def test_a_viewer_lists_the_history_newest_first_without_canvases(
    edited: Graphic, editor: Any, viewer: Any
) -> None:
    """The list is paginated like the other lists; each item says what made the version."""
    graphic_archive(user=editor, graphic_id=edited.pk, reason="Week over")

    body = api_client(viewer).get(history_url(edited.pk)).json()

    assert body["count"] == 3 and body["next"] is None
    assert [item["version"] for item in body["results"]] == [3, 2, 1]
    newest = body["results"][0]
    assert newest == {
        "version": 3,
        "action": "archived",
        "changed_fields": ["archived"],
        "actor": {"id": editor.pk, "username": "editor"},
        "created_at": newest["created_at"],
        "reason": "Week over",
        "reverted_from": None,
    }
    assert newest["created_at"].endswith("Z")


def test_the_history_list_pages(graphic: Graphic, editor: Any, viewer: Any) -> None:
    """page_size and page work as on the graphics list."""
    lock_acquire(user=editor, graphic_id=graphic.pk)
    for version in range(1, 5):
        graphic_update(user=editor, graphic_id=graphic.pk, version=version, title=f"T{version}")

    first = api_client(viewer).get(history_url(graphic.pk), {"page_size": 2}).json()
    second = api_client(viewer).get(history_url(graphic.pk), {"page_size": 2, "page": 2}).json()

    assert first["count"] == 5 and first["next"] is not None
    assert [item["version"] for item in first["results"]] == [5, 4]
    assert [item["version"] for item in second["results"]] == [3, 2]


def test_a_viewer_reads_one_version_whole(edited: Graphic, editor: Any, viewer: Any) -> None:
    """A version reads as the graphic did then (the detail payload's shape, canvas included),
    with the current lock and its history entry as `change`."""
    graphic_at_two = graphic_payload(Graphic.objects.get(pk=edited.pk))
    graphic_update(user=editor, graphic_id=edited.pk, version=2, title="Later")

    body = api_client(viewer).get(history_url(edited.pk, 2)).json()
    first = api_client(viewer).get(history_url(edited.pk, 1)).json()

    change = body.pop("change")
    lock = body.pop("lock")
    assert body == graphic_at_two
    assert lock == lock_state(edited.lock)
    assert change["action"] == "updated" and change["version"] == 2
    assert (first["title"], first["data"], first["version"]) == (
        "Round 3 Scoreboard",
        valid_canvas(),
        1,
    )


def test_history_needs_view_permission(edited: Graphic, no_role_user: Any, viewer: Any) -> None:
    """Anonymous: 401; a user without a role: 403; an unknown graphic or version: 404."""
    error_of(api_client().get(history_url(edited.pk)), 401, "not_authenticated")
    error_of(api_client(no_role_user).get(history_url(edited.pk)), 403, "permission_denied")
    error_of(api_client(no_role_user).get(history_url(edited.pk, 1)), 403, "permission_denied")
    error_of(api_client(viewer).get(history_url(999999)), 404, "not_found")
    error_of(api_client(viewer).get(history_url(999999, 1)), 404, "not_found")
    missing = error_of(api_client(viewer).get(history_url(edited.pk, 7)), 404, "not_found")
    assert missing["details"] == {"graphic_id": edited.pk, "version": 7}


def test_archived_graphics_history_is_readable(edited: Graphic, editor: Any, viewer: Any) -> None:
    """Archiving hides a graphic from the active list, not its history."""
    graphic_archive(user=editor, graphic_id=edited.pk)
    assert api_client(viewer).get(history_url(edited.pk)).json()["count"] == 3
    assert api_client(viewer).get(history_url(edited.pk, 1)).status_code == 200


def test_an_editor_holding_the_lock_reverts_over_rest(edited: Graphic, editor: Any) -> None:
    """POST revert answers the graphic (with its lock) at its new version."""
    response = api_client(editor).post(
        revert_url(edited.pk),
        {
            "version": 1,
            "expected_version": 2,
            "reason": "typo",
            "fencing_token": fencing_token_of(edited.pk),
        },
        format="json",
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["version"], body["title"], body["data"]) == (
        3,
        "Round 3 Scoreboard",
        valid_canvas(),
    )
    assert body["lock"]["locked_by"] == "editor"
    assert body["updated_by"] == {"id": editor.pk, "username": "editor"}
    entry = api_client(editor).get(history_url(edited.pk)).json()["results"][0]
    assert (entry["action"], entry["reverted_from"], entry["reason"]) == ("reverted", 1, "typo")


def test_revert_over_rest_refuses_with_the_edit_error_codes(
    edited: Graphic, editor: Any, editor2: Any, viewer: Any
) -> None:
    """viewer: permission_denied; no lock: lock_conflict; stale: version_conflict naming the
    current version; unknown version: not_found; bad body: validation_error; archived:
    state_conflict. None of them makes a version."""
    token = fencing_token_of(edited.pk)
    body = {"version": 1, "expected_version": 2, "fencing_token": token}
    error_of(
        api_client(viewer).post(revert_url(edited.pk), body, format="json"),
        403,
        "permission_denied",
    )
    conflict = error_of(
        api_client(editor2).post(revert_url(edited.pk), body, format="json"), 409, "lock_conflict"
    )
    assert conflict["details"]["locked_by"] == "editor"
    stale = error_of(
        api_client(editor).post(
            revert_url(edited.pk),
            {"version": 1, "expected_version": 1, "fencing_token": token},
            format="json",
        ),
        409,
        "version_conflict",
    )
    assert stale["details"] == {"current_version": 2, "your_version": 1}
    error_of(
        api_client(editor).post(
            revert_url(edited.pk),
            {"version": 40, "expected_version": 2, "fencing_token": token},
            format="json",
        ),
        404,
        "not_found",
    )
    invalid = error_of(
        api_client(editor).post(
            revert_url(edited.pk), {"expected_version": 2, "fencing_token": token}, format="json"
        ),
        400,
        "validation_error",
    )
    assert list(invalid["details"]) == ["version"]
    error_of(api_client(editor).post(revert_url(999999), body, format="json"), 404, "not_found")
    assert Graphic.objects.get(pk=edited.pk).version == 2

    graphic_archive(user=editor, graphic_id=edited.pk)
    error_of(
        api_client(editor).post(
            revert_url(edited.pk), {"version": 1, "expected_version": 3}, format="json"
        ),
        409,
        "state_conflict",
    )


def test_an_editor_whose_lock_expired_cannot_revert(edited: Graphic, editor: Any) -> None:
    """An expired lock is no lock."""
    expire_lock(edited)
    error_of(
        api_client(editor).post(
            revert_url(edited.pk), {"version": 1, "expected_version": 2}, format="json"
        ),
        409,
        "lock_conflict",
    )


# --- admin -----------------------------------------------------------------------------------


def test_the_admin_shows_history_read_only(client: Any, superuser: Any, edited: Graphic) -> None:
    """The graphic's page links to its versions; the list and a version's page render; adding,
    changing and deleting versions are refused."""
    client.force_login(superuser)
    version = latest(edited)
    changelist = reverse("admin:graphics_graphicversion_changelist")
    change = reverse("admin:graphics_graphicversion_change", args=[version.pk])

    graphic_page = client.get(reverse("admin:graphics_graphic_change", args=[edited.pk]))
    listed = client.get(changelist, {"graphic__id__exact": edited.pk})
    detail = client.get(change)

    assert graphic_page.status_code == 200
    assert f"{changelist}?graphic__id__exact={edited.pk}" in graphic_page.text
    assert "2 version(s)" in graphic_page.text
    assert listed.status_code == 200
    assert "Week 2 Standings" in listed.text and "title, data" in listed.text
    assert detail.status_code == 200
    assert "Scores after round 2" in detail.text
    assert 'name="_save"' not in detail.text
    assert client.get(reverse("admin:graphics_graphicversion_add")).status_code == 403
    assert client.post(change, {"title": "Forged"}).status_code == 403
    delete = reverse("admin:graphics_graphicversion_delete", args=[version.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert GraphicVersion.objects.get(pk=version.pk).title == "Week 2 Standings"

"""The Graphic admin: a read-only change form, and archive, restore, add and delete that go
through the graphic services, so the admin never writes around a canvas lock."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.urls import reverse

from graphics.models import Graphic
from graphics.services import graphic_archive
from locks.models import CanvasLock, LockAction, LockEvent
from locks.services import lock_acquire
from tests.conftest import valid_canvas

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:graphics_graphic_changelist"


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def run_action(client: Any, action: str, graphics: list[Any], **extra: Any) -> Any:
    return client.post(
        reverse(CHANGELIST),
        {"action": action, "_selected_action": [graphic.pk for graphic in graphics], **extra},
    )


@pytest.fixture
def staff_lock_admin(lock_admin: Any) -> Any:
    lock_admin.is_staff = True
    lock_admin.save(update_fields=["is_staff"])
    return lock_admin


def test_changelist_search_and_filters_render(client: Any, superuser: Any, make_graphic: Any):
    """The change list, its search and both filters answer 200 and list the matching graphics."""
    make_graphic(title="Week 2 Standings", event_name="GAL Season 3 Week 2")
    make_graphic(title="Round 4 Scoreboard", event_name="GAL Season 3 Week 3")
    client.force_login(superuser)

    everything = client.get(reverse(CHANGELIST))
    searched = client.get(reverse(CHANGELIST), {"q": "standings"})
    by_event = client.get(reverse(CHANGELIST), {"event_name": "GAL Season 3 Week 3"})
    archived = client.get(reverse(CHANGELIST), {"archived__exact": "1"})

    assert everything.status_code == 200
    assert "Week 2 Standings" in everything.text
    assert "Round 4 Scoreboard" in everything.text
    assert searched.status_code == 200
    assert "Week 2 Standings" in searched.text
    assert "Round 4 Scoreboard" not in searched.text
    assert by_event.status_code == 200
    assert "Round 4 Scoreboard" in by_event.text
    assert "Week 2 Standings" not in by_event.text
    assert archived.status_code == 200
    assert "0 graphics" in archived.text


def test_changelist_shows_the_lock_holder(client: Any, superuser: Any, editor: Any, graphic: Any):
    """A graphic with a live lock shows who holds it in the list."""
    lock_acquire(user=editor, graphic_id=graphic.pk)
    client.force_login(superuser)

    response = client.get(reverse(CHANGELIST))

    assert '<td class="field-lock_holder">editor</td>' in response.text


def test_change_form_is_read_only_with_the_canvas_as_pretty_json(
    client: Any, superuser: Any, graphic: Any
):
    """The change page shows the graphic and its canvas, indented, but offers nothing to edit,
    and a POST to it changes nothing."""
    client.force_login(superuser)
    url = reverse("admin:graphics_graphic_change", args=[graphic.pk])

    page = client.get(url)
    posted = client.post(url, {"title": "Edited around the lock", "event_name": "X", "data": "{}"})

    assert page.status_code == 200
    assert 'name="title"' not in page.text
    assert 'name="_save"' not in page.text
    assert "&quot;elements&quot;: [\n" in page.text
    assert posted.status_code == 403
    graphic.refresh_from_db()
    assert graphic.title == "Round 3 Scoreboard"
    assert graphic.version == 1


def test_add_creates_the_graphic_through_the_service(client: Any, superuser: Any):
    """Adding in the admin creates a version-1 graphic attributed to the staff user."""
    client.force_login(superuser)

    response = client.post(
        reverse("admin:graphics_graphic_add"),
        {
            "title": "Caster Lower Third",
            "event_name": "GAL Season 3 Week 2",
            "data": json.dumps(valid_canvas()),
        },
    )

    assert response.status_code == 302
    created = Graphic.objects.get(title="Caster Lower Third")
    assert created.version == 1
    assert created.created_by == superuser
    assert created.data == valid_canvas()


def test_add_with_an_invalid_canvas_shows_the_problem_and_creates_nothing(
    client: Any, superuser: Any
):
    """A canvas the rules reject is reported on the form, field by field."""
    client.force_login(superuser)
    canvas = valid_canvas()
    canvas["elements"][0]["x"] = "left"

    response = client.post(
        reverse("admin:graphics_graphic_add"),
        {"title": "Broken", "event_name": "GAL Season 3 Week 2", "data": json.dumps(canvas)},
    )

    assert response.status_code == 200
    assert "elements[0].x" in response.text
    assert not Graphic.objects.filter(title="Broken").exists()


def test_archive_action_archives_and_releases_the_actors_own_lock(
    client: Any, superuser: Any, graphic: Any
):
    """Archiving a graphic the staff user has locked archives it and releases that lock, with a
    `released` entry in the lock audit."""
    lock_acquire(user=superuser, graphic_id=graphic.pk)
    client.force_login(superuser)

    response = run_action(client, "archive_selected", [graphic])

    assert response.status_code == 302
    graphic.refresh_from_db()
    assert graphic.archived
    assert graphic.archived_by == superuser
    assert not CanvasLock.objects.filter(graphic=graphic).exists()
    released = LockEvent.objects.get(graphic_ref=graphic.pk, action=LockAction.RELEASED)
    assert released.actor == superuser
    assert messages_of(response) == ["Archived 1 graphic: “Round 3 Scoreboard”."]


def test_archive_action_reports_a_lock_held_by_someone_else(
    client: Any, superuser: Any, editor2: Any, make_graphic: Any
):
    """A graphic someone else is editing is not archived and the refusal names the holder; the
    other selected graphics are archived all the same."""
    locked = make_graphic(title="Week 2 Standings")
    free = make_graphic(title="Lobby A Placements")
    lock_acquire(user=editor2, graphic_id=locked.pk)
    client.force_login(superuser)

    response = run_action(client, "archive_selected", [locked, free])

    assert response.status_code == 302
    locked.refresh_from_db()
    free.refresh_from_db()
    assert not locked.archived
    assert free.archived
    reported = messages_of(response)
    assert reported[0].startswith("Could not archive “Week 2 Standings”: ")
    assert "being edited by editor2" in reported[0]
    assert reported[1] == "Archived 1 graphic: “Lobby A Placements”."


def test_archive_action_without_change_permission_is_reported(
    client: Any, make_user: Any, graphic: Any
):
    """A staff user who may only view graphics is told so, and nothing is archived."""
    watcher = make_user("watcher", is_staff=True)
    watcher.user_permissions.add(Permission.objects.get(codename="view_graphic"))
    client.force_login(watcher)

    response = run_action(client, "archive_selected", [graphic])

    graphic.refresh_from_db()
    assert not graphic.archived
    assert messages_of(response) == [
        "Could not archive “Round 3 Scoreboard”: You do not have permission to do this."
    ]


def test_restore_action_restores_archived_graphics(client: Any, superuser: Any, make_graphic: Any):
    """Restoring brings an archived graphic back; one that is not archived is reported."""
    archived = make_graphic(title="Week 1 Standings")
    active = make_graphic(title="Week 2 Standings")
    graphic_archive(user=superuser, graphic_id=archived.pk)
    client.force_login(superuser)

    response = run_action(client, "restore_selected", [archived, active])

    archived.refresh_from_db()
    assert not archived.archived
    assert archived.archived_at is None
    assert messages_of(response) == [
        "Could not restore “Week 2 Standings”: The graphic is not archived.",
        "Restored 1 graphic: “Week 1 Standings”.",
    ]


def test_delete_view_deletes_through_the_service(client: Any, superuser: Any, graphic: Any):
    """Confirming the delete page removes the graphic and logs the deletion."""
    client.force_login(superuser)

    response = client.post(
        reverse("admin:graphics_graphic_delete", args=[graphic.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert not Graphic.objects.filter(pk=graphic.pk).exists()
    assert LogEntry.objects.filter(object_id=str(graphic.pk), action_flag=DELETION).exists()


def test_delete_view_is_refused_while_someone_else_holds_the_lock(
    client: Any, superuser: Any, editor2: Any, graphic: Any
):
    """Deleting a graphic another user is editing is refused with the holder's name; the graphic
    stays and no deletion is logged."""
    lock_acquire(user=editor2, graphic_id=graphic.pk)
    client.force_login(superuser)

    response = client.post(
        reverse("admin:graphics_graphic_delete", args=[graphic.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:graphics_graphic_change", args=[graphic.pk])
    assert Graphic.objects.filter(pk=graphic.pk).exists()
    assert not LogEntry.objects.filter(action_flag=DELETION).exists()
    [reported] = messages_of(response)
    assert reported.startswith("Could not delete: The graphic is being edited by editor2")


def test_lock_admin_can_delete_a_graphic_they_have_locked(
    client: Any, staff_lock_admin: Any, graphic: Any
):
    """A lock admin's own lock does not stand in the way: the graphic and its lock go, and the
    lock audit records the release."""
    lock_acquire(user=staff_lock_admin, graphic_id=graphic.pk)
    client.force_login(staff_lock_admin)
    url = reverse("admin:graphics_graphic_delete", args=[graphic.pk])

    confirmation = client.get(url)
    response = client.post(url, {"post": "yes"})

    assert confirmation.status_code == 200
    assert 'name="post"' in confirmation.text
    assert response.status_code == 302
    assert not Graphic.objects.filter(pk=graphic.pk).exists()
    assert LockEvent.objects.filter(graphic_ref=graphic.pk, action=LockAction.RELEASED).exists()


def test_editor_cannot_delete(client: Any, editor: Any, graphic: Any):
    """Deleting needs the Lock admin role; an Editor on staff gets 403."""
    editor.is_staff = True
    editor.save(update_fields=["is_staff"])
    client.force_login(editor)

    response = client.post(
        reverse("admin:graphics_graphic_delete", args=[graphic.pk]), {"post": "yes"}
    )

    assert response.status_code == 403
    assert Graphic.objects.filter(pk=graphic.pk).exists()


def test_delete_selected_deletes_each_and_reports_refusals(
    client: Any, superuser: Any, editor2: Any, make_graphic: Any
):
    """The bulk delete asks for confirmation, then deletes every graphic the service allows and
    reports the others, without claiming they were deleted."""
    locked = make_graphic(title="Week 2 Standings")
    free = make_graphic(title="Lobby A Placements")
    lock_acquire(user=editor2, graphic_id=locked.pk)
    client.force_login(superuser)

    confirmation = run_action(client, "delete_selected", [locked, free])
    assert confirmation.status_code == 200
    assert Graphic.objects.filter(pk=free.pk).exists()

    response = run_action(client, "delete_selected", [locked, free], post="yes")

    assert response.status_code == 302
    assert Graphic.objects.filter(pk=locked.pk).exists()
    assert not Graphic.objects.filter(pk=free.pk).exists()
    reported = messages_of(response)
    assert len(reported) == 2
    assert reported[0].startswith("Could not delete “Week 2 Standings”: ")
    assert reported[1] == "Deleted 1 graphic: “Lobby A Placements”."
    assert list(LogEntry.objects.values_list("object_id", flat=True)) == [str(free.pk)]

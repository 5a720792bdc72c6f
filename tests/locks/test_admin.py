"""The lock admin: locks and their audit are read-only; "Force release" and "Take over" ask for
a reason, then override through `lock_override`, which checks the permission and writes the
audit."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from locks.admin import format_time_left
from locks.models import CanvasLock, LockAction, LockEvent
from locks.services import lock_acquire

pytestmark = pytest.mark.django_db

LOCKS = "admin:locks_canvaslock_changelist"
EVENTS = "admin:locks_lockevent_changelist"


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def run_action(client: Any, action: str, locks: list[Any], **extra: Any) -> Any:
    return client.post(
        reverse(LOCKS), {"action": action, "_selected_action": [lock.pk for lock in locks], **extra}
    )


@pytest.fixture
def held_lock(editor: Any, graphic: Any) -> CanvasLock:
    return lock_acquire(user=editor, graphic_id=graphic.pk)


@pytest.fixture
def staff_lock_admin(lock_admin: Any) -> Any:
    lock_admin.is_staff = True
    lock_admin.save(update_fields=["is_staff"])
    return lock_admin


def test_time_left_reads_like_a_countdown():
    """Time left is minutes and seconds (hours when there are any), or "expired"."""
    now = timezone.now()

    def lock_expiring_in(seconds: float) -> CanvasLock:
        return CanvasLock(acquired_at=now, expires_at=timezone.now() + timedelta(seconds=seconds))

    assert format_time_left(lock_expiring_in(252.5)) == "4m 12s"
    assert format_time_left(lock_expiring_in(3605.5)) == "1h 0m 5s"
    assert format_time_left(lock_expiring_in(-1)) == "expired"


def test_lock_changelist_shows_holder_and_time_left(
    client: Any, superuser: Any, held_lock: CanvasLock
):
    """The list of locks names the graphic and holder and counts down the time left."""
    client.force_login(superuser)

    response = client.get(reverse(LOCKS))

    assert response.status_code == 200
    assert "Round 3 Scoreboard (GAL Season 3 Week 2)" in response.text
    assert '<td class="field-holder nowrap">editor</td>' in response.text
    # A five-minute lock, a moment after it was taken.
    assert re.search(r'<td class="field-time_left">4m \d{1,2}s</td>', response.text)


def test_lock_event_changelist_search_and_filter_render(
    client: Any, superuser: Any, held_lock: CanvasLock
):
    """The audit list, its search by graphic title and its action filter answer 200."""
    client.force_login(superuser)

    everything = client.get(reverse(EVENTS))
    searched = client.get(reverse(EVENTS), {"q": "Scoreboard"})
    filtered = client.get(reverse(EVENTS), {"action__exact": "overridden"})

    assert everything.status_code == 200
    assert "Acquired" in everything.text
    assert searched.status_code == 200
    assert "Round 3 Scoreboard" in searched.text
    assert filtered.status_code == 200
    assert "0 lock events" in filtered.text


def test_force_release_asks_for_a_reason_then_releases(
    client: Any, superuser: Any, editor: Any, held_lock: CanvasLock
):
    """The action first shows a confirmation page with a reason field; confirming releases the
    lock and the audit records who overrode whom, and why."""
    client.force_login(superuser)

    confirmation = run_action(client, "force_release", [held_lock])

    assert confirmation.status_code == 200
    assert "admin/locks/canvaslock/override_confirmation.html" in [
        template.name for template in confirmation.templates
    ]
    assert 'name="reason"' in confirmation.text
    assert "held by editor" in confirmation.text
    assert CanvasLock.objects.filter(pk=held_lock.pk).exists()

    response = run_action(
        client, "force_release", [held_lock], post="yes", reason="Editor left the booth"
    )

    assert response.status_code == 302
    assert not CanvasLock.objects.filter(pk=held_lock.pk).exists()
    event = LockEvent.objects.get(action=LockAction.OVERRIDDEN)
    assert event.reason == "Editor left the booth"
    assert event.previous_holder == editor
    assert event.actor == superuser
    assert event.holder is None
    assert messages_of(response) == ["Released the lock on “Round 3 Scoreboard” held by editor."]


def test_take_over_makes_the_lock_admin_the_holder(
    client: Any, staff_lock_admin: Any, editor: Any, held_lock: CanvasLock
):
    """A lock admin on staff may take a lock over: they become the holder with a newer fencing
    token, and the audit names the previous holder and the reason."""
    client.force_login(staff_lock_admin)

    confirmation = run_action(client, "take_over", [held_lock])
    response = run_action(client, "take_over", [held_lock], post="yes", reason="Fixing a typo")

    assert confirmation.status_code == 200
    assert response.status_code == 302
    lock = CanvasLock.objects.get(graphic_id=held_lock.graphic_id)
    assert lock.holder == staff_lock_admin
    assert lock.fencing_token > held_lock.fencing_token
    event = LockEvent.objects.get(action=LockAction.OVERRIDDEN)
    assert event.previous_holder == editor
    assert event.holder == staff_lock_admin
    assert event.reason == "Fixing a typo"
    assert messages_of(response) == ["Took over the lock on “Round 3 Scoreboard” held by editor."]


@pytest.mark.parametrize(
    ("reason", "error"),
    [
        ("", "This field is required."),
        ("   ", "This field is required."),
        ("x" * 501, "Ensure this value has at most 500 characters (it has 501)."),
    ],
)
def test_override_without_a_valid_reason_shows_the_form_again(
    client: Any, superuser: Any, held_lock: CanvasLock, reason: str, error: str
):
    """A missing or over-long reason re-shows the confirmation page with the error, and the lock
    stays with its holder."""
    client.force_login(superuser)

    response = run_action(client, "take_over", [held_lock], post="yes", reason=reason)

    assert response.status_code == 200
    assert error in response.text
    assert CanvasLock.objects.get(pk=held_lock.pk).holder_id == held_lock.holder_id
    assert not LockEvent.objects.filter(action=LockAction.OVERRIDDEN).exists()


def test_override_without_the_permission_is_reported_and_changes_nothing(
    client: Any, make_user: Any, held_lock: CanvasLock
):
    """A staff user who can see locks but lacks `locks.override_lock` is told so; the lock and
    the audit are untouched."""
    watcher = make_user("watcher", is_staff=True)
    watcher.user_permissions.add(Permission.objects.get(codename="view_canvaslock"))
    client.force_login(watcher)

    response = run_action(client, "force_release", [held_lock], post="yes", reason="Because")

    assert response.status_code == 302
    assert CanvasLock.objects.get(pk=held_lock.pk).holder_id == held_lock.holder_id
    assert not LockEvent.objects.filter(action=LockAction.OVERRIDDEN).exists()
    assert messages_of(response) == [
        "Could not release the lock on “Round 3 Scoreboard”: You do not have permission to do this."
    ]


def test_overriding_an_expired_lock_is_reported(client: Any, superuser: Any, held_lock: CanvasLock):
    """An expired lock has nothing left to override; the admin says so."""
    CanvasLock.objects.filter(pk=held_lock.pk).update(
        expires_at=held_lock.acquired_at + timedelta(microseconds=1)
    )
    client.force_login(superuser)

    response = run_action(client, "force_release", [held_lock], post="yes", reason="Stale")

    assert messages_of(response) == [
        "Could not release the lock on “Round 3 Scoreboard”: "
        "The graphic is not locked; there is nothing to override."
    ]
    assert not LockEvent.objects.filter(action=LockAction.OVERRIDDEN).exists()


def test_locks_cannot_be_added_changed_or_deleted_in_the_admin(
    client: Any, superuser: Any, held_lock: CanvasLock
):
    """Even a superuser gets no add, change or delete form for a lock: locks change only through
    the lock services."""
    client.force_login(superuser)

    add = client.get(reverse("admin:locks_canvaslock_add"))
    view = client.get(reverse("admin:locks_canvaslock_change", args=[held_lock.pk]))
    change = client.post(
        reverse("admin:locks_canvaslock_change", args=[held_lock.pk]),
        {"expires_at_0": "2099-01-01", "expires_at_1": "00:00:00"},
    )
    delete = client.post(
        reverse("admin:locks_canvaslock_delete", args=[held_lock.pk]), {"post": "yes"}
    )
    bulk_delete = run_action(client, "delete_selected", [held_lock], post="yes")

    assert add.status_code == 403
    assert view.status_code == 200
    assert 'name="_save"' not in view.text
    assert change.status_code == 403
    assert delete.status_code == 403
    assert bulk_delete.status_code == 302
    assert messages_of(bulk_delete) == ["No action selected."]
    assert CanvasLock.objects.get(pk=held_lock.pk).expires_at == held_lock.expires_at


def test_lock_events_are_read_only(client: Any, superuser: Any, held_lock: CanvasLock):
    """The lock audit cannot be added to, edited or deleted in the admin, even by a superuser."""
    event = LockEvent.objects.get()
    client.force_login(superuser)

    add = client.get(reverse("admin:locks_lockevent_add"))
    view = client.get(reverse("admin:locks_lockevent_change", args=[event.pk]))
    change = client.post(
        reverse("admin:locks_lockevent_change", args=[event.pk]), {"reason": "rewritten"}
    )
    delete = client.post(reverse("admin:locks_lockevent_delete", args=[event.pk]), {"post": "yes"})

    assert add.status_code == 403
    assert view.status_code == 200
    assert change.status_code == 403
    assert delete.status_code == 403
    event.refresh_from_db()
    assert event.reason == ""


def test_lock_admin_on_staff_can_see_locks_and_the_audit(
    client: Any, staff_lock_admin: Any, held_lock: CanvasLock
):
    """The Lock admin role holds no model permissions on locks, yet its members (on staff) see
    the locks and the audit they act on."""
    client.force_login(staff_lock_admin)

    assert client.get(reverse(LOCKS)).status_code == 200
    assert client.get(reverse(EVENTS)).status_code == 200

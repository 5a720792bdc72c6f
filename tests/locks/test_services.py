"""Lock services: one editor at a time per graphic. Acquire, refresh, release, override and
expiry, who may do each, and the audit each leaves."""

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
    ValidationFailed,
)
from gal_dashboard.timestamps import iso_timestamp
from graphics.models import Graphic
from graphics.services import graphic_archive, graphic_update
from locks.models import CanvasLock, LockEvent
from locks.services import (
    lock_acquire,
    lock_expire_due,
    lock_override,
    lock_refresh,
    lock_release,
)
from tests.conftest import expire_lock

pytestmark = pytest.mark.django_db


def lock_actions(graphic: Graphic) -> list[str]:
    return list(
        LockEvent.objects.filter(graphic_ref=graphic.pk)
        .order_by("created_at", "id")
        .values_list("action", flat=True)
    )


def last_event(graphic: Graphic) -> LockEvent:
    event = LockEvent.objects.filter(graphic_ref=graphic.pk).order_by("created_at", "id").last()
    assert event is not None
    return event


@pytest.fixture
def locked_graphic(graphic: Graphic, editor: Any) -> Graphic:
    """The `graphic` fixture with its lock held by `editor`."""
    lock_acquire(user=editor, graphic_id=graphic.pk)
    return graphic


# --- acquire ---------------------------------------------------------------------------------


def test_an_editor_acquires_a_free_lock_for_the_configured_ttl(
    graphic: Graphic, editor: Any, settings: Any
) -> None:
    """An Editor gets the lock of a free graphic for LOCK_TTL_SECONDS, with fencing token 1,
    and the audit records who acquired it and until when."""
    settings.LOCK_TTL_SECONDS = 42
    before = timezone.now()
    lock = lock_acquire(user=editor, graphic_id=graphic.pk)
    stored = CanvasLock.objects.get(graphic=graphic)
    assert stored.pk == lock.pk
    assert stored.holder == editor
    assert stored.fencing_token == 1
    assert stored.expires_at - stored.acquired_at == timedelta(seconds=42)
    assert stored.acquired_at >= before
    event = last_event(graphic)
    assert event.action == "acquired"
    assert (event.actor, event.holder) == (editor, editor)
    assert event.fencing_token == 1
    assert event.expires_at == stored.expires_at


@pytest.mark.parametrize("who", ["lock_admin", "superuser"])
def test_lock_admins_and_superusers_acquire_locks(request: Any, graphic: Graphic, who: str) -> None:
    """Lock admins and superusers can lock like Editors."""
    user = request.getfixturevalue(who)
    assert lock_acquire(user=user, graphic_id=graphic.pk).holder == user


@pytest.mark.parametrize("who", ["viewer", "no_role_user"])
def test_users_without_the_editor_role_cannot_acquire(
    request: Any, graphic: Graphic, who: str
) -> None:
    """Viewers and users with no role never hold a lock."""
    with pytest.raises(PermissionDenied) as caught:
        lock_acquire(user=request.getfixturevalue(who), graphic_id=graphic.pk)
    assert caught.value.details == {"required": ["locks.acquire_lock"]}
    assert not CanvasLock.objects.exists()


def test_anonymous_and_inactive_users_cannot_acquire(
    graphic: Graphic, make_user: Callable[..., Any]
) -> None:
    """Signed-out users and deactivated accounts are not authenticated."""
    inactive = make_user("retired", role="Editor", is_active=False)
    for user in (AnonymousUser(), inactive):
        with pytest.raises(NotAuthenticated):
            lock_acquire(user=user, graphic_id=graphic.pk)
    assert not CanvasLock.objects.exists()


def test_acquiring_again_refreshes_the_holders_lock(
    locked_graphic: Graphic, editor: Any, settings: Any
) -> None:
    """Acquiring a lock you already hold is not an error: it extends the expiry, keeps the
    same lock and fencing token, and is recorded as a refresh."""
    first = CanvasLock.objects.get(graphic=locked_graphic)
    settings.LOCK_TTL_SECONDS = 600
    again = lock_acquire(user=editor, graphic_id=locked_graphic.pk)
    stored = CanvasLock.objects.get(graphic=locked_graphic)
    assert again.pk == first.pk == stored.pk
    assert stored.fencing_token == first.fencing_token
    assert stored.acquired_at == first.acquired_at
    assert stored.expires_at > first.expires_at
    assert lock_actions(locked_graphic) == ["acquired", "refreshed"]


def test_another_users_lock_is_a_conflict_naming_holder_and_expiry(
    locked_graphic: Graphic, editor2: Any
) -> None:
    """While someone holds a graphic's lock, nobody else gets it; the error says who has it
    and until when, and the lock is untouched."""
    lock = CanvasLock.objects.get(graphic=locked_graphic)
    with pytest.raises(LockConflict) as caught:
        lock_acquire(user=editor2, graphic_id=locked_graphic.pk)
    assert caught.value.http_status == 409
    details = caught.value.details
    assert details["locked_by"] == "editor"
    assert details["graphic_id"] == locked_graphic.pk
    assert details["expires_at"] == iso_timestamp(lock.expires_at)
    assert "editor" in caught.value.message
    assert CanvasLock.objects.get(graphic=locked_graphic).expires_at == lock.expires_at
    assert lock_actions(locked_graphic) == ["acquired"]


def test_an_expired_lock_is_free_for_someone_else(
    locked_graphic: Graphic, editor: Any, editor2: Any
) -> None:
    """A lock past its expiry counts as free: another Editor acquires it, the audit shows the
    old lock expiring and the new one acquired, and the fencing token goes up."""
    expire_lock(locked_graphic)
    lock = lock_acquire(user=editor2, graphic_id=locked_graphic.pk)
    assert lock.holder == editor2
    assert lock.fencing_token == 2
    assert CanvasLock.objects.get(graphic=locked_graphic).holder == editor2
    assert lock_actions(locked_graphic) == ["acquired", "expired", "acquired"]
    expired = LockEvent.objects.get(action="expired")
    assert expired.actor is None
    assert expired.previous_holder == editor


def test_the_old_holder_of_an_expired_lock_acquires_it_anew(
    locked_graphic: Graphic, editor: Any
) -> None:
    """Coming back after expiry gives a new lock with a new fencing token, not a refresh."""
    expire_lock(locked_graphic)
    lock = lock_acquire(user=editor, graphic_id=locked_graphic.pk)
    assert lock.fencing_token == 2
    assert lock_actions(locked_graphic) == ["acquired", "expired", "acquired"]


def test_fencing_tokens_increase_with_every_new_holder(
    graphic: Graphic, editor: Any, editor2: Any
) -> None:
    """Each new holder of a graphic's lock gets a larger fencing token than the one before."""
    tokens = []
    for user in (editor, editor2, editor):
        tokens.append(lock_acquire(user=user, graphic_id=graphic.pk).fencing_token)
        lock_release(user=user, graphic_id=graphic.pk)
    assert tokens == [1, 2, 3]


def test_fencing_tokens_are_per_graphic(make_graphic: Callable[..., Graphic], editor: Any) -> None:
    """Locking one graphic does not move another graphic's tokens."""
    first, second = make_graphic(title="One"), make_graphic(title="Two")
    assert lock_acquire(user=editor, graphic_id=first.pk).fencing_token == 1
    assert lock_acquire(user=editor, graphic_id=second.pk).fencing_token == 1


def test_an_archived_graphic_cannot_be_locked(graphic: Graphic, editor: Any) -> None:
    """Archived graphics are not edited, so they are not locked either."""
    graphic_archive(user=editor, graphic_id=graphic.pk)
    with pytest.raises(StateConflict):
        lock_acquire(user=editor, graphic_id=graphic.pk)
    assert not CanvasLock.objects.exists()


# --- refresh ---------------------------------------------------------------------------------


def test_the_holder_refreshes_their_lock(
    locked_graphic: Graphic, editor: Any, settings: Any
) -> None:
    """Refreshing extends the holder's lock by LOCK_TTL_SECONDS from now, keeping its token."""
    settings.LOCK_TTL_SECONDS = 120
    CanvasLock.objects.filter(graphic=locked_graphic).update(
        expires_at=timezone.now() + timedelta(seconds=5)
    )
    before = timezone.now()
    lock = lock_refresh(user=editor, graphic_id=locked_graphic.pk)
    stored = CanvasLock.objects.get(graphic=locked_graphic)
    assert stored.expires_at == lock.expires_at
    assert stored.expires_at >= before + timedelta(seconds=120)
    assert stored.fencing_token == 1
    assert lock_actions(locked_graphic) == ["acquired", "refreshed"]


def test_refreshing_someone_elses_lock_is_a_conflict(locked_graphic: Graphic, editor2: Any) -> None:
    """Only the holder refreshes; anyone else learns who holds it."""
    with pytest.raises(LockConflict) as caught:
        lock_refresh(user=editor2, graphic_id=locked_graphic.pk)
    assert caught.value.details["locked_by"] == "editor"


def test_refreshing_without_a_lock_is_a_conflict(graphic: Graphic, editor: Any) -> None:
    """There is nothing to refresh on an unlocked graphic: acquire it instead."""
    with pytest.raises(LockConflict) as caught:
        lock_refresh(user=editor, graphic_id=graphic.pk)
    assert caught.value.details["locked_by"] is None
    assert not CanvasLock.objects.exists()


def test_refreshing_an_expired_lock_is_a_conflict(locked_graphic: Graphic, editor: Any) -> None:
    """An expired lock cannot be brought back by a refresh; the holder has to acquire again
    (and may find someone else got there first)."""
    expire_lock(locked_graphic)
    with pytest.raises(LockConflict):
        lock_refresh(user=editor, graphic_id=locked_graphic.pk)


def test_a_viewer_cannot_refresh(locked_graphic: Graphic, viewer: Any) -> None:
    """Refreshing needs the lock permission."""
    with pytest.raises(PermissionDenied):
        lock_refresh(user=viewer, graphic_id=locked_graphic.pk)


# --- release ---------------------------------------------------------------------------------


def test_the_holder_releases_their_lock(locked_graphic: Graphic, editor: Any, editor2: Any) -> None:
    """Releasing frees the graphic at once for someone else; the audit names the holder."""
    assert lock_release(user=editor, graphic_id=locked_graphic.pk) is True
    assert not CanvasLock.objects.exists()
    event = last_event(locked_graphic)
    assert event.action == "released"
    assert (event.actor, event.previous_holder, event.holder) == (editor, editor, None)
    assert lock_acquire(user=editor2, graphic_id=locked_graphic.pk).holder == editor2


def test_releasing_an_unlocked_graphic_returns_false(graphic: Graphic, editor: Any) -> None:
    """A page that releases on close never errors: an unlocked graphic returns False and
    nothing is recorded."""
    assert lock_release(user=editor, graphic_id=graphic.pk) is False
    assert not LockEvent.objects.exists()


def test_releasing_an_expired_lock_returns_false_and_records_the_expiry(
    locked_graphic: Graphic, editor: Any
) -> None:
    """An expired lock was already free; releasing it says so and the audit shows it
    expired."""
    expire_lock(locked_graphic)
    assert lock_release(user=editor, graphic_id=locked_graphic.pk) is False
    assert not CanvasLock.objects.exists()
    assert lock_actions(locked_graphic) == ["acquired", "expired"]


def test_releasing_someone_elses_lock_is_a_conflict(locked_graphic: Graphic, editor2: Any) -> None:
    """Nobody releases another user's lock (a Lock admin overrides it instead)."""
    with pytest.raises(LockConflict) as caught:
        lock_release(user=editor2, graphic_id=locked_graphic.pk)
    assert caught.value.details["locked_by"] == "editor"
    assert CanvasLock.objects.filter(graphic=locked_graphic).exists()


# --- override --------------------------------------------------------------------------------


def test_a_lock_admin_force_releases_a_lock(
    locked_graphic: Graphic, editor: Any, editor2: Any, lock_admin: Any
) -> None:
    """Override without take-over deletes the lock; the audit names the admin, the previous
    holder and the reason; the graphic is free for anyone."""
    result = lock_override(
        user=lock_admin, graphic_id=locked_graphic.pk, reason="  Operator went home  "
    )
    assert result is None
    assert not CanvasLock.objects.exists()
    event = last_event(locked_graphic)
    assert event.action == "overridden"
    assert event.actor == lock_admin
    assert event.previous_holder == editor
    assert event.holder is None
    assert event.reason == "Operator went home"
    assert lock_acquire(user=editor2, graphic_id=locked_graphic.pk).holder == editor2


def test_a_lock_admin_takes_over_a_lock(
    locked_graphic: Graphic, editor: Any, lock_admin: Any, settings: Any
) -> None:
    """With take_over the admin becomes the holder with a higher fencing token and a fresh
    TTL; the previous holder can no longer edit, the admin can."""
    settings.LOCK_TTL_SECONDS = 90
    lock = lock_override(
        user=lock_admin, graphic_id=locked_graphic.pk, reason="Fixing a typo live", take_over=True
    )
    assert lock is not None
    stored = CanvasLock.objects.get(graphic=locked_graphic)
    assert stored.holder == lock_admin
    assert stored.fencing_token == 2
    assert stored.expires_at - stored.acquired_at == timedelta(seconds=90)
    event = last_event(locked_graphic)
    assert event.action == "overridden"
    assert (event.actor, event.previous_holder, event.holder) == (lock_admin, editor, lock_admin)
    assert event.reason == "Fixing a typo live"
    assert event.fencing_token == 2
    with pytest.raises(LockConflict) as caught:
        graphic_update(user=editor, graphic_id=locked_graphic.pk, version=1, title="Mine")
    assert caught.value.details["locked_by"] == "lockadmin"
    graphic_update(user=lock_admin, graphic_id=locked_graphic.pk, version=1, title="Fixed")


def test_a_superuser_may_override(locked_graphic: Graphic, superuser: Any) -> None:
    """Superusers hold every permission, override included."""
    lock_override(user=superuser, graphic_id=locked_graphic.pk, reason="Stuck lock")
    assert not CanvasLock.objects.exists()


@pytest.mark.parametrize("who", ["editor2", "viewer"])
def test_editors_cannot_override(request: Any, locked_graphic: Graphic, who: str) -> None:
    """Overriding needs the Lock admin role; an Editor's attempt changes nothing."""
    with pytest.raises(PermissionDenied) as caught:
        lock_override(
            user=request.getfixturevalue(who), graphic_id=locked_graphic.pk, reason="Mine now"
        )
    assert caught.value.details == {"required": ["locks.override_lock"]}
    assert CanvasLock.objects.get(graphic=locked_graphic).holder.username == "editor"


@pytest.mark.parametrize("reason", ["", "   ", None, "x" * 501, 3])
def test_an_override_needs_a_reason_of_at_most_500_characters(
    locked_graphic: Graphic, lock_admin: Any, reason: Any
) -> None:
    """An override is never silent: a missing, blank, too long or non-text reason is refused
    and the lock stays."""
    with pytest.raises(ValidationFailed) as caught:
        lock_override(user=lock_admin, graphic_id=locked_graphic.pk, reason=reason)
    assert list(caught.value.details) == ["reason"]
    assert CanvasLock.objects.filter(graphic=locked_graphic).exists()


def test_overriding_an_unlocked_graphic_is_a_state_conflict(
    graphic: Graphic, lock_admin: Any
) -> None:
    """There is nothing to override on a free graphic."""
    with pytest.raises(StateConflict):
        lock_override(user=lock_admin, graphic_id=graphic.pk, reason="Just in case")


def test_overriding_an_expired_lock_is_a_state_conflict(
    locked_graphic: Graphic, lock_admin: Any
) -> None:
    """An expired lock is already free; overriding it is refused like any free graphic."""
    expire_lock(locked_graphic)
    with pytest.raises(StateConflict):
        lock_override(user=lock_admin, graphic_id=locked_graphic.pk, reason="Stale")


# --- expiry ----------------------------------------------------------------------------------


def test_expire_due_removes_each_past_due_lock_exactly_once(
    make_graphic: Callable[..., Graphic], editor: Any, editor2: Any
) -> None:
    """The periodic sweep deletes every lock past its expiry, records each as expired (no
    actor, the holder as previous holder), leaves live locks alone, and a second sweep finds
    nothing."""
    stale_one, stale_two, live = (make_graphic(title=t) for t in ("One", "Two", "Live"))
    lock_acquire(user=editor, graphic_id=stale_one.pk)
    lock_acquire(user=editor2, graphic_id=stale_two.pk)
    lock_acquire(user=editor, graphic_id=live.pk)
    expire_lock(stale_one)
    expire_lock(stale_two)

    assert lock_expire_due() == 2
    assert lock_expire_due() == 0

    assert list(CanvasLock.objects.values_list("graphic_id", flat=True)) == [live.pk]
    expired = LockEvent.objects.filter(action="expired")
    assert sorted(e.graphic_ref for e in expired) == sorted([stale_one.pk, stale_two.pk])
    assert {(e.actor_id, e.previous_holder_id) for e in expired} == {
        (None, editor.pk),
        (None, editor2.pk),
    }
    assert lock_actions(live) == ["acquired"]


def test_expire_due_stops_at_its_limit(make_graphic: Callable[..., Graphic], editor: Any) -> None:
    """One sweep expires at most `limit` locks; the next sweep picks up the rest."""
    graphics = [make_graphic(title=f"G{n}") for n in range(3)]
    for graphic in graphics:
        lock_acquire(user=editor, graphic_id=graphic.pk)
        expire_lock(graphic)
    assert lock_expire_due(limit=2) == 2
    assert lock_expire_due(limit=2) == 1
    assert not CanvasLock.objects.exists()


def test_expire_due_with_nothing_due_changes_nothing(locked_graphic: Graphic) -> None:
    """Live locks are never swept."""
    assert lock_expire_due() == 0
    assert CanvasLock.objects.filter(graphic=locked_graphic).exists()
    assert lock_actions(locked_graphic) == ["acquired"]


# --- lookups ---------------------------------------------------------------------------------

LOCK_ACTIONS: list[tuple[Callable[..., Any], dict[str, Any]]] = [
    (lock_acquire, {}),
    (lock_refresh, {}),
    (lock_release, {}),
    (lock_override, {"reason": "Testing"}),
]


@pytest.mark.parametrize(("action", "extra"), LOCK_ACTIONS)
def test_locking_a_graphic_that_does_not_exist_is_not_found(
    superuser: Any, action: Callable[..., Any], extra: dict[str, Any]
) -> None:
    """Every lock action on a missing graphic says not_found."""
    with pytest.raises(NotFound):
        action(user=superuser, graphic_id=999_999, **extra)


@pytest.mark.parametrize("graphic_id", ["1", None, True, -3])
@pytest.mark.parametrize(("action", "extra"), LOCK_ACTIONS)
def test_a_lock_action_with_an_invalid_graphic_id_is_invalid(
    superuser: Any, action: Callable[..., Any], extra: dict[str, Any], graphic_id: Any
) -> None:
    """A graphic id is a positive whole number."""
    with pytest.raises(ValidationFailed) as caught:
        action(user=superuser, graphic_id=graphic_id, **extra)
    assert list(caught.value.details) == ["graphic_id"]

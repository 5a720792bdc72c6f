"""The lock REST API: status, acquire-or-refresh, release, override, and the live lock list."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from locks.models import CanvasLock, LockAction, LockEvent
from locks.selectors import lock_state
from locks.services import lock_acquire
from tests.conftest import error_of, expire_lock

pytestmark = pytest.mark.django_db


def api_client(user: Any = None) -> APIClient:
    """A client that authenticates as `user` with a real access token (anonymous for None)."""
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return client


def lock_url(graphic_id: int) -> str:
    return f"/api/graphics/{graphic_id}/lock/"


def override_url(graphic_id: int) -> str:
    return f"/api/graphics/{graphic_id}/lock/override/"


# --- status ---------------------------------------------------------------------------------


def test_status_of_a_free_graphic(viewer: Any, graphic: Any) -> None:
    """A graphic nobody holds shows as free."""
    response = api_client(viewer).get(lock_url(graphic.pk))

    assert response.status_code == 200
    assert response.json() == {
        "locked": False,
        "locked_by": None,
        "locked_by_id": None,
        "lock_time": None,
        "expires_at": None,
        "fencing_token": None,
    }


def test_status_names_the_holder(viewer: Any, editor: Any, graphic: Any) -> None:
    """A held lock shows its holder, since when, until when and its fencing token."""
    lock = lock_acquire(user=editor, graphic_id=graphic.pk)

    body = api_client(viewer).get(lock_url(graphic.pk)).json()

    assert body == lock_state(lock)
    assert body["locked"] is True
    assert body["locked_by"] == "editor"
    assert body["locked_by_id"] == editor.pk
    assert body["fencing_token"] == 1


def test_status_of_an_expired_lock_is_free(viewer: Any, editor: Any, graphic: Any) -> None:
    """A lock past its expiry shows as free."""
    lock_acquire(user=editor, graphic_id=graphic.pk)
    expire_lock(graphic)

    assert api_client(viewer).get(lock_url(graphic.pk)).json()["locked"] is False


def test_status_of_unknown_graphic_is_not_found(viewer: Any) -> None:
    """The lock of an id with no graphic is a 404, not a free lock."""
    error_of(api_client(viewer).get(lock_url(999999)), 404, "not_found")


# --- acquire / refresh ----------------------------------------------------------------------


def test_acquire_a_free_lock(editor: Any, graphic: Any) -> None:
    """POST takes a free lock for the caller for LOCK_TTL_SECONDS."""
    before = timezone.now()

    response = api_client(editor).post(lock_url(graphic.pk))

    assert response.status_code == 200
    body = response.json()
    assert body["locked"] is True
    assert body["locked_by"] == "editor"
    lock = CanvasLock.objects.get(graphic=graphic)
    assert lock.holder == editor
    assert body == lock_state(lock)
    assert lock.expires_at >= before + timedelta(seconds=300)


def test_acquire_again_refreshes_my_lock(editor: Any, graphic: Any) -> None:
    """POSTing again while holding the lock extends it and keeps its fencing token."""
    client = api_client(editor)
    first = client.post(lock_url(graphic.pk)).json()
    CanvasLock.objects.filter(graphic=graphic).update(
        expires_at=timezone.now() + timedelta(seconds=10)
    )

    second = client.post(lock_url(graphic.pk)).json()

    lock = CanvasLock.objects.get(graphic=graphic)
    assert lock.expires_at > timezone.now() + timedelta(seconds=200)
    assert second["fencing_token"] == first["fencing_token"]
    assert second["lock_time"] == first["lock_time"]
    assert second["expires_at"] == lock_state(lock)["expires_at"]


def test_acquire_while_someone_else_holds_it_names_them(
    editor: Any, editor2: Any, graphic: Any
) -> None:
    """A lock held by another user is a 409 lock_conflict naming the holder and the expiry."""
    lock = lock_acquire(user=editor2, graphic_id=graphic.pk)

    response = api_client(editor).post(lock_url(graphic.pk))

    error = error_of(response, 409, "lock_conflict")
    assert error["details"] == {
        "graphic_id": graphic.pk,
        "locked_by": "editor2",
        "locked_by_id": editor2.pk,
        "expires_at": lock_state(lock)["expires_at"],
    }
    assert CanvasLock.objects.get(graphic=graphic).holder == editor2


def test_acquire_after_the_other_lock_expired(editor: Any, editor2: Any, graphic: Any) -> None:
    """An expired lock is free to take; the new holder gets a new fencing token."""
    old = lock_acquire(user=editor2, graphic_id=graphic.pk)
    expire_lock(graphic)

    response = api_client(editor).post(lock_url(graphic.pk))

    assert response.status_code == 200
    assert response.json()["locked_by"] == "editor"
    assert response.json()["fencing_token"] > old.fencing_token


def test_acquire_on_an_archived_graphic_is_a_state_conflict(editor: Any, graphic: Any) -> None:
    """Archived graphics cannot be locked."""
    api_client(editor).post(f"/api/graphics/{graphic.pk}/archive/")

    error_of(api_client(editor).post(lock_url(graphic.pk)), 409, "state_conflict")


def test_acquire_on_unknown_graphic_is_not_found(editor: Any) -> None:
    """Locking an id with no graphic is a 404."""
    error_of(api_client(editor).post(lock_url(999999)), 404, "not_found")


# --- release --------------------------------------------------------------------------------


def test_release_my_lock(editor: Any, graphic: Any) -> None:
    """DELETE releases the caller's lock: 204, then the graphic is free."""
    client = api_client(editor)
    client.post(lock_url(graphic.pk))

    response = client.delete(lock_url(graphic.pk))

    assert response.status_code == 204
    assert response.content == b""
    assert not CanvasLock.objects.exists()
    assert client.get(lock_url(graphic.pk)).json()["locked"] is False


def test_release_when_nobody_holds_it_is_fine(editor: Any, graphic: Any) -> None:
    """Releasing a free lock is 204 too, so a page can release on close without checking."""
    assert api_client(editor).delete(lock_url(graphic.pk)).status_code == 204


def test_release_someone_elses_lock_is_refused(editor: Any, editor2: Any, graphic: Any) -> None:
    """Only the holder releases a lock; others get a lock_conflict naming the holder."""
    lock_acquire(user=editor2, graphic_id=graphic.pk)

    response = api_client(editor).delete(lock_url(graphic.pk))

    assert error_of(response, 409, "lock_conflict")["details"]["locked_by"] == "editor2"
    assert CanvasLock.objects.get(graphic=graphic).holder == editor2


def test_release_on_unknown_graphic_is_not_found(editor: Any) -> None:
    """Releasing on an id with no graphic is a 404."""
    error_of(api_client(editor).delete(lock_url(999999)), 404, "not_found")


# --- override -------------------------------------------------------------------------------


def test_override_releases_the_lock_and_records_why(
    lock_admin: Any, editor: Any, graphic: Any
) -> None:
    """A lock admin breaks someone's lock with a reason; the audit names both and the reason."""
    lock_acquire(user=editor, graphic_id=graphic.pk)

    response = api_client(lock_admin).post(
        override_url(graphic.pk), {"reason": "Editor went home"}, format="json"
    )

    assert response.status_code == 200
    assert response.json() == lock_state(None)
    assert not CanvasLock.objects.exists()
    event = LockEvent.objects.filter(action=LockAction.OVERRIDDEN).get()
    assert (event.actor, event.previous_holder, event.reason) == (
        lock_admin,
        editor,
        "Editor went home",
    )


def test_override_with_take_over_makes_me_the_holder(
    lock_admin: Any, editor: Any, graphic: Any
) -> None:
    """With take_over the admin becomes the holder, with a new fencing token."""
    old = lock_acquire(user=editor, graphic_id=graphic.pk)

    response = api_client(lock_admin).post(
        override_url(graphic.pk),
        {"reason": "Fixing a typo on air", "take_over": True},
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert body["locked_by"] == "lockadmin"
    assert body["fencing_token"] > old.fencing_token
    assert CanvasLock.objects.get(graphic=graphic).holder == lock_admin


@pytest.mark.parametrize(
    ("body", "details"),
    [
        ({}, {"reason": ["A reason is required."]}),
        ({"reason": "   "}, {"reason": ["A reason is required."]}),
        ({"reason": 5}, {"reason": ["Must be a string."]}),
        (
            {"reason": "x" * 501},
            {"reason": ["Ensure this field has no more than 500 characters."]},
        ),
        ({"reason": "Why", "take_over": "false"}, {"take_over": ["Must be true or false."]}),
        ({"reason": "Why", "take_over": 1}, {"take_over": ["Must be true or false."]}),
    ],
)
def test_override_rejects_a_missing_reason_or_a_non_boolean_take_over(
    lock_admin: Any, editor: Any, graphic: Any, body: dict[str, Any], details: dict[str, Any]
) -> None:
    """The reason is required; take_over must be a JSON boolean. The lock stays as it was."""
    lock_acquire(user=editor, graphic_id=graphic.pk)

    response = api_client(lock_admin).post(override_url(graphic.pk), body, format="json")

    assert error_of(response, 400, "validation_error")["details"] == details
    assert CanvasLock.objects.get(graphic=graphic).holder == editor


def test_override_needs_the_override_permission(editor: Any, editor2: Any, graphic: Any) -> None:
    """An Editor cannot override; the error names the permission."""
    lock_acquire(user=editor2, graphic_id=graphic.pk)

    response = api_client(editor).post(
        override_url(graphic.pk), {"reason": "Mine now", "take_over": True}, format="json"
    )

    error = error_of(response, 403, "permission_denied")
    assert error["details"] == {"required": ["locks.override_lock"]}
    assert CanvasLock.objects.get(graphic=graphic).holder == editor2


def test_override_of_a_free_graphic_is_a_state_conflict(lock_admin: Any, graphic: Any) -> None:
    """There is nothing to override on a free graphic (an expired lock counts as free)."""
    error_of(
        api_client(lock_admin).post(override_url(graphic.pk), {"reason": "x"}, format="json"),
        409,
        "state_conflict",
    )


def test_override_on_unknown_graphic_is_not_found(lock_admin: Any) -> None:
    """Overriding on an id with no graphic is a 404."""
    response = api_client(lock_admin).post(override_url(999999), {"reason": "x"}, format="json")

    error_of(response, 404, "not_found")


# --- live locks -----------------------------------------------------------------------------


def test_live_locks_list_names_each_graphic_and_its_lock(
    viewer: Any, editor: Any, editor2: Any, make_graphic: Any
) -> None:
    """The list shows every live lock with its graphic, soonest expiry first; expired and
    free graphics are not in it."""
    first = make_graphic(title="Standings")
    second = make_graphic(title="Scoreboard")
    expired = make_graphic(title="Player card")
    make_graphic(title="Free")
    lock_acquire(user=editor, graphic_id=second.pk)
    lock_acquire(user=editor2, graphic_id=first.pk)
    lock_acquire(user=editor2, graphic_id=expired.pk)
    expire_lock(expired)
    CanvasLock.objects.filter(graphic=first).update(
        expires_at=timezone.now() + timedelta(seconds=30)
    )

    response = api_client(viewer).get("/api/locks/")

    assert response.status_code == 200
    locks = {lock.graphic_id: lock for lock in CanvasLock.objects.all()}
    assert response.json() == [
        {"graphic_id": first.pk, "graphic_title": "Standings", "lock": lock_state(locks[first.pk])},
        {
            "graphic_id": second.pk,
            "graphic_title": "Scoreboard",
            "lock": lock_state(locks[second.pk]),
        },
    ]


def test_live_locks_list_is_empty_when_nothing_is_locked(viewer: Any, graphic: Any) -> None:
    """No locks, an empty list."""
    assert api_client(viewer).get("/api/locks/").json() == []


def test_live_locks_list_query_count_is_fixed(
    viewer: Any, editor: Any, make_graphic: Any, django_assert_max_num_queries: Any
) -> None:
    """The holders and graphics of the locks come with them, not one query each."""
    for _ in range(8):
        lock_acquire(user=editor, graphic_id=make_graphic().pk)

    # Authenticate, the user's permissions (2), the locks.
    with django_assert_max_num_queries(4):
        assert len(api_client(viewer).get("/api/locks/").json()) == 8

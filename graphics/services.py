"""
Every write to a graphic. REST views, WebSocket handlers, admin actions and management commands
call these functions and nothing else, so each rule is written once:

- editing title, event_name or data needs the graphic's live lock and the version edited;
- archive, restore and delete are refused while someone else holds the lock;
- permissions come from the roles in `gal_dashboard.access`;
- reverting to an earlier version is an edit, under the same rules as an update;
- an overlay view key is made and revoked by Editors, one active key per graphic.

Each function runs in one transaction. `Graphic.save()` writes the version the change produced
to the graphic's history, and the model's receivers record it in the event log, inside that
transaction; the event is broadcast only after it commits.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from gal_dashboard.access import (
    ADD_GRAPHIC,
    CHANGE_GRAPHIC,
    DELETE_GRAPHIC,
    VIEW_GRAPHIC,
    require_permission,
)
from gal_dashboard.errors import (
    LockConflict,
    StateConflict,
    ValidationFailed,
    VersionConflict,
)
from gal_dashboard.storable import BIGINT_MAX, INT_MAX, text_problem
from graphics.canvas import check_canvas_data, empty_canvas
from graphics.models import (
    TRANSITION_MS_MAX,
    AirInterval,
    Graphic,
    GraphicVersion,
    GraphicViewKey,
    Transition,
)
from graphics.patch import canvas_patch_apply, check_graphic_patch
from graphics.selectors import graphic_get, graphic_get_for_update, graphic_version_get
from locks.selectors import lock_conflict_for
from locks.services import (
    check_reason,
    lock_check_not_held_by_other,
    lock_live_or_clear_expired,
    lock_release_held,
)

TEXT_FIELD_MAX_LENGTH = 255


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


def check_text_field(value: Any, *, field: str, max_length: int = TEXT_FIELD_MAX_LENGTH) -> str:
    """A required one-line text: a non-blank string of at most `max_length` characters."""
    if value is None:
        raise ValidationFailed(details={field: ["This field is required."]})
    if not isinstance(value, str):
        raise ValidationFailed(details={field: ["Must be a string."]})
    problem = text_problem(value)
    if problem:
        raise ValidationFailed(details={field: [problem]})
    cleaned = value.strip()
    if not cleaned:
        raise ValidationFailed(details={field: ["This field may not be blank."]})
    if len(cleaned) > max_length:
        raise ValidationFailed(
            details={field: [f"Ensure this field has no more than {max_length} characters."]}
        )
    return cleaned


def check_transition(value: Any) -> str:
    if value not in Transition.values:
        raise ValidationFailed(details={"transition": [f"One of {', '.join(Transition.values)}."]})
    return str(value)


def check_transition_ms(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= TRANSITION_MS_MAX:
        raise ValidationFailed(
            details={
                "transition_ms": [f"A whole number of milliseconds, 0 to {TRANSITION_MS_MAX}."]
            }
        )
    return value


def check_version(value: Any, *, field: str = "version") -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(details={field: ["A whole number is required."]})
    if value < 1:
        raise ValidationFailed(details={field: ["Must be at least 1."]})
    if value > INT_MAX:
        raise ValidationFailed(details={field: [f"Must be at most {INT_MAX}."]})
    return value


def graphic_create(*, user: Any, title: Any, event_name: Any, data: Any = None) -> Graphic:
    require_permission(user, ADD_GRAPHIC)
    title = check_text_field(title, field="title")
    event_name = check_text_field(event_name, field="event_name")
    if data is None:
        data = empty_canvas()
    check_canvas_data(data)
    with transaction.atomic():
        return Graphic.objects.create(
            title=title, event_name=event_name, data=data, created_by=user, updated_by=user
        )


def graphic_update(
    *,
    user: Any,
    graphic_id: Any,
    version: Any,
    title: Any = UNSET,
    event_name: Any = UNSET,
    data: Any = UNSET,
    patch: Any = UNSET,
    fencing_token: Any = UNSET,
    transition: Any = UNSET,
    transition_ms: Any = UNSET,
) -> Graphic:
    """Change title, event_name and/or data, given in full or as a `patch` (a merge patch of
    the version edited, see graphics.patch), and/or how the graphic goes on and off air
    (`transition`, `transition_ms`: a new version like any edit, on air with the next take).
    The caller must hold the graphic's live lock and
    pass the version it edited; a stale version is a VersionConflict naming the current one.
    Clients (REST, WebSocket) also pass their lock's `fencing_token` (see
    graphic_get_for_edit); only code acting for a user in person (the admin) leaves it UNSET.
    Values equal to the current ones change nothing and make no new version. The lock, the
    fencing token and the version are checked before the canvas, so a caller without the lock
    gets its LockConflict whatever canvas it sent."""
    require_permission(user, CHANGE_GRAPHIC)
    version = check_version(version)
    fencing_token = check_fencing_token(fencing_token)
    if patch is not UNSET and (title, event_name, data) != (UNSET, UNSET, UNSET):
        raise ValidationFailed(
            "Give either a patch or fields, not both.",
            details={"patch": ["Cannot be combined with title, event_name or data."]},
        )
    if patch is not UNSET:
        patch = check_graphic_patch(patch)
        title = patch.get("title", UNSET)
        event_name = patch.get("event_name", UNSET)
    changes: dict[str, Any] = {}
    if title is not UNSET:
        changes["title"] = check_text_field(title, field="title")
    if event_name is not UNSET:
        changes["event_name"] = check_text_field(event_name, field="event_name")
    if data is not UNSET:
        changes["data"] = data
    if transition is not UNSET:
        changes["transition"] = check_transition(transition)
    if transition_ms is not UNSET:
        changes["transition_ms"] = check_transition_ms(transition_ms)
    if not changes and (patch is UNSET or "data" not in patch):
        raise ValidationFailed(
            "Nothing to update.",
            # transition and transition_ms count too; the message names the fields most sent.
            details={"non_field_errors": ["Give at least one of title, event_name, data."]},
        )
    with transaction.atomic():
        graphic = graphic_get_for_edit(
            user=user, graphic_id=graphic_id, version=version, fencing_token=fencing_token
        )
        if patch is not UNSET and "data" in patch:
            # The patch applies to the version edited, which the check above proved current.
            changes["data"] = canvas_patch_apply(graphic.data, patch["data"])
        if "data" in changes:
            # Validated only now that the caller is known to hold the lock, at the current
            # version: the canvas is the one costly check (up to GRAPHIC_DATA_MAX_BYTES), and
            # an Editor without the lock must not make the server pay it (issue 14).
            check_canvas_data(changes["data"])
        for name, value in changes.items():
            setattr(graphic, name, value)
        graphic.updated_by = user
        graphic.save()
        return graphic


def check_fencing_token(value: Any) -> Any:
    """UNSET (not checked), None (a client that sent none: refused once the lock checks have
    said whether it holds the lock at all), or the whole number a client presents."""
    if value is UNSET or value is None:
        return value
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= BIGINT_MAX:
        raise ValidationFailed(details={"fencing_token": ["A positive whole number is required."]})
    return value


def graphic_get_for_edit(
    *, user: Any, graphic_id: Any, version: int, fencing_token: Any = UNSET
) -> Graphic:
    """The graphic, row-locked, after the checks every content change makes (update and
    revert alike): it is not archived, `user` holds its live lock, the `fencing_token` they
    present (unless UNSET) is that lock's, and `version` is current. Call inside a transaction.

    The token is what makes a late message harmless: a client whose lock expired and was
    acquired again (by anyone, the same user in another tab included) holds an old token, and
    its edits are refused even if they name the current version."""
    graphic = graphic_get_for_update(graphic_id=graphic_id)
    if graphic.archived:
        raise StateConflict("Archived graphics cannot be edited; restore it first.")
    lock = lock_live_or_clear_expired(graphic)
    if lock is None:
        raise LockConflict(
            "You must hold the graphic's lock to edit it.",
            details={"graphic_id": graphic.pk, "locked_by": None, "expires_at": None},
        )
    if lock.holder_id != user.pk:
        raise lock_conflict_for(lock)
    if fencing_token is None:
        raise ValidationFailed(
            details={"fencing_token": ["Required: the fencing_token of the lock you hold."]}
        )
    if fencing_token is not UNSET and fencing_token != lock.fencing_token:
        raise LockConflict(
            "Your lock was lost and taken again since this edit was made; reload the graphic.",
            details={
                "graphic_id": graphic.pk,
                "fencing_token": lock.fencing_token,
                "your_fencing_token": fencing_token,
            },
        )
    if version != graphic.version:
        raise VersionConflict(
            f"The graphic is at version {graphic.version}; you edited version {version}.",
            details={"current_version": graphic.version, "your_version": version},
        )
    return graphic


def graphic_revert(
    *,
    user: Any,
    graphic_id: Any,
    version: Any,
    expected_version: Any,
    reason: Any = "",
    fencing_token: Any = UNSET,
) -> Graphic:
    """Make the title, event_name and data of an earlier `version` current again, as a new
    version (action "reverted", naming `version`), recorded and broadcast like an update.

    The rules are graphic_update's: the Editor role, the graphic's live lock (and its
    `fencing_token` from clients), not archived,
    and `expected_version` must be the current version (a stale one is a VersionConflict).
    A version not in the history (never made, or pruned) is NotFound. Reverting to content
    equal to the current one changes nothing and makes no new version, as an update would."""
    require_permission(user, CHANGE_GRAPHIC)
    version = check_version(version)
    expected_version = check_version(expected_version, field="expected_version")
    reason = check_reason(reason)
    fencing_token = check_fencing_token(fencing_token)
    with transaction.atomic():
        graphic = graphic_get_for_edit(
            user=user,
            graphic_id=graphic_id,
            version=expected_version,
            fencing_token=fencing_token,
        )
        source = graphic_version_get(graphic_id=graphic.pk, version=version)
        # The canvas rules (its size limit above all) may have tightened since it was saved.
        check_canvas_data(source.data)
        graphic.title = source.title
        graphic.event_name = source.event_name
        graphic.data = source.data
        graphic.updated_by = user
        graphic.change_reason = reason
        graphic.reverted_from = source.version
        graphic.save()
        return graphic


def graphic_history_prune(*, graphic_id: int | None = None) -> int:
    """Delete versions beyond GRAPHIC_HISTORY_MAX_VERSIONS for one graphic (or all); return
    how many went. Writes prune as they go; this catches up after the setting is lowered."""
    if settings.GRAPHIC_HISTORY_MAX_VERSIONS <= 0:
        return 0  # keep all: nothing to look at
    deleted = 0
    graphics = Graphic.objects.order_by("pk").values_list("pk", "version", "program_version")
    if graphic_id is not None:
        graphics = graphics.filter(pk=graphic_id)
    for pk, newest, program in graphics.iterator():
        with transaction.atomic():
            deleted += GraphicVersion.objects.prune(graphic_id=pk, newest=newest, program=program)
    return deleted


def graphic_archive(*, user: Any, graphic_id: Any, reason: Any = "") -> Graphic:
    require_permission(user, CHANGE_GRAPHIC)
    reason = check_reason(reason)
    with transaction.atomic():
        graphic = graphic_get_for_update(graphic_id=graphic_id)
        if graphic.archived:
            raise StateConflict("The graphic is already archived.")
        own_lock = lock_check_not_held_by_other(graphic=graphic, user=user)
        if own_lock is not None:
            # An archived graphic cannot be edited; a lock on it would only block others later.
            lock_release_held(own_lock, graphic=graphic, user=user, note="graphic archived")
        graphic.archived = True
        graphic.archived_at = timezone.now()
        graphic.archived_by = user
        graphic.change_reason = reason
        graphic.save()
        return graphic


def graphic_restore(*, user: Any, graphic_id: Any, reason: Any = "") -> Graphic:
    require_permission(user, CHANGE_GRAPHIC)
    reason = check_reason(reason)
    with transaction.atomic():
        graphic = graphic_get_for_update(graphic_id=graphic_id)
        if not graphic.archived:
            raise StateConflict("The graphic is not archived.")
        lock_check_not_held_by_other(graphic=graphic, user=user)
        graphic.archived = False
        graphic.archived_at = None
        graphic.archived_by = None
        graphic.updated_by = user
        graphic.change_reason = reason
        graphic.save()
        return graphic


def graphic_duplicate(*, user: Any, graphic_id: Any, title: Any = None) -> Graphic:
    """A new, active copy of a graphic; its title defaults to "<title> (Copy)"."""
    require_permission(user, VIEW_GRAPHIC, ADD_GRAPHIC)
    source = graphic_get(graphic_id=graphic_id)
    if title is None or (isinstance(title, str) and not title.strip()):
        # Shorten the source title, not the suffix: a copy of a long title must still read as
        # a copy rather than as a second graphic with the same name.
        suffix = " (Copy)"
        title = source.title[: TEXT_FIELD_MAX_LENGTH - len(suffix)].rstrip() + suffix
    return graphic_create(user=user, title=title, event_name=source.event_name, data=source.data)


def graphic_delete(*, user: Any, graphic_id: Any, reason: Any = "") -> None:
    """Delete permanently. The event log and the lock audit keep their records of it."""
    require_permission(user, DELETE_GRAPHIC)
    reason = check_reason(reason)
    with transaction.atomic():
        graphic = graphic_get_for_update(graphic_id=graphic_id)
        own_lock = lock_check_not_held_by_other(graphic=graphic, user=user)
        if own_lock is not None:
            lock_release_held(own_lock, graphic=graphic, user=user, note="graphic deleted")
        # The on-air log outlives the graphic: what was on air until now ends now.
        AirInterval.objects.close_open(
            graphic.pk, actor_id=user.pk, reason=reason or "graphic deleted", at=timezone.now()
        )
        graphic.deleted_by_id = user.pk
        graphic.change_reason = reason
        graphic.delete()


# -- overlay view keys ---------------------------------------------------------------------------
# Revoking a key (by a rotation too) or deleting its graphic closes the WebSockets opened with
# it on every server, after commit: realtime.delivery.signals hears the key's save or delete.


def view_key_rotate(*, graphic_id: int, user: Any) -> GraphicViewKey:
    """Make a new view key for the graphic, revoking its active one if any: the old overlay
    URL stops working and its connections close. Needs the Editor role; archived graphics
    may have a key too (an overlay may be set up before a graphic goes on air again)."""
    require_permission(user, CHANGE_GRAPHIC)
    with transaction.atomic():
        # The graphic's row lock queues two rotations of the same graphic one after the other,
        # so both succeed; the partial unique constraint is what guarantees one active key.
        graphic = graphic_get_for_update(graphic_id=graphic_id, without_canvas=True)
        _view_key_revoke_active(graphic_id=graphic.pk, user=user)
        return GraphicViewKey.objects.create(graphic=graphic, created_by=user)


def view_key_revoke(*, graphic_id: int, user: Any, view_key_id: int | None = None) -> bool:
    """Revoke the graphic's active view key; False when it had none (nothing changes). With
    `view_key_id`, only if that is the active key (the admin revokes the rows it shows, never
    a newer key made since). Needs the Editor role."""
    require_permission(user, CHANGE_GRAPHIC)
    with transaction.atomic():
        graphic = graphic_get_for_update(graphic_id=graphic_id, without_canvas=True)
        return _view_key_revoke_active(graphic_id=graphic.pk, user=user, view_key_id=view_key_id)


def _view_key_revoke_active(*, graphic_id: int, user: Any, view_key_id: int | None = None) -> bool:
    keys = GraphicViewKey.objects.filter(graphic_id=graphic_id, revoked_at__isnull=True)
    if view_key_id is not None:
        keys = keys.filter(pk=view_key_id)
    active = keys.first()
    if active is None:
        return False
    active.revoked_at = timezone.now()
    active.revoked_by = user
    # save(), not a queryset update: the post_save receiver closes the key's connections.
    active.save(update_fields=["revoked_at", "revoked_by"])
    return True

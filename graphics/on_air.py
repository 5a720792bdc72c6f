"""
On-air control (issue 16): take, clear and the live switch, the only writes of a graphic's
on-air state. REST, the WebSocket and the admin call these, so each rule is written once:

- All three need the Editor role (graphics.change_graphic).
- Take names the version it takes (`expected_version`): a stale one is a version_conflict, never
  a take of something the operator did not see. Taking a graphic whose lock someone else holds
  needs the Lock admin role (lock_conflict otherwise): no one takes another person's half-made
  draft. Archived graphics cannot be taken (state_conflict).
- Clear needs no lock: an operator must always be able to pull a graphic off air, whoever is
  editing it. Clearing ends live mode too (live mode means "every save goes to air"). Clearing a
  graphic that is off air changes nothing and records nothing (a second press of a Stream Deck
  button is harmless).
- The live switch follows take's lock rule; turning it on takes the current version to air.

Each change writes, in one transaction: the graphic's on-air fields (a queryset update: taking
makes no new version), the on-air log (`AirInterval`), a row of the graphic's history naming the
version (action take, clear or live) and, through `air_changed`, the event log
(realtime.delivery.signals records a graphic_take, graphic_clear or graphic_live event, broadcast
after commit).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from gal_dashboard.access import CHANGE_GRAPHIC, OVERRIDE_LOCK, require_permission
from gal_dashboard.errors import NotFound, StateConflict, ValidationFailed, VersionConflict
from graphics.models import (
    CONTENT_ACTIONS,
    AirInterval,
    Graphic,
    GraphicVersion,
    VersionAction,
)
from graphics.selectors import graphic_get_for_update
from locks.selectors import lock_conflict_for
from locks.services import check_reason, lock_live_or_clear_expired

# Why an interval closed when it was not cleared: another take replaced it.
RETAKE_REASON = "replaced by a take"

# Sent inside the transaction of every take, clear and live switch, with `change` (an
# AirChange); realtime.delivery.signals records it in the event log.
air_changed = Signal()


@dataclass(frozen=True)
class AirChange:
    """What one on-air service did, for the event log."""

    action: str  # take | clear | live
    actor_id: int | None
    reason: str
    at: datetime
    # The program's history row (its content): what overlays draw after a take or live on.
    program: GraphicVersion | None


def _check_version(value: Any, *, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationFailed(details={field: ["A version (positive whole number) is required."]})
    return value


def _check_lock(graphic: Graphic, user: Any) -> None:
    """Someone else's live lock refuses a take (or live on) unless `user` is a Lock admin."""
    lock = lock_live_or_clear_expired(graphic)
    if lock is not None and lock.holder_id != user.pk and not user.has_perm(OVERRIDE_LOCK):
        raise lock_conflict_for(lock)


def _content_row(graphic: Graphic, version: int) -> GraphicVersion:
    row = GraphicVersion.objects.filter(
        graphic_id=graphic.pk, version=version, action__in=CONTENT_ACTIONS
    ).first()
    if row is None:  # the current version always has its row (Graphic.save())
        raise NotFound(f"Graphic {graphic.pk} has no version {version}.")
    return row


def _write_state(graphic: Graphic, **fields: Any) -> None:
    # Not save(): the on-air state is no content change and makes no version or update event.
    Graphic.objects.filter(pk=graphic.pk).update(**fields)
    for name, value in fields.items():
        setattr(graphic, name, value)


def _record(
    graphic: Graphic,
    *,
    action: str,
    row: GraphicVersion,
    user: Any,
    reason: str,
    at: datetime,
    program: GraphicVersion | None,
) -> None:
    GraphicVersion.objects.record_air(
        graphic, action=action, version=row, actor_id=user.pk, reason=reason, at=at
    )
    air_changed.send(
        sender=Graphic,
        graphic=graphic,
        change=AirChange(action=action, actor_id=user.pk, reason=reason, at=at, program=program),
    )


def _put_on_air(graphic: Graphic, *, user: Any, reason: str, at: datetime) -> GraphicVersion:
    """Make the current version the program, on air: close the open interval (a re-take) and
    open the new one."""
    program = _content_row(graphic, graphic.version)
    AirInterval.objects.close_open(graphic.pk, actor_id=user.pk, reason=RETAKE_REASON, at=at)
    AirInterval.objects.open(
        graphic, version=graphic.version, actor_id=user.pk, reason=reason, at=at
    )
    _write_state(graphic, on_air=True, program_version=graphic.version)
    return program


def graphic_take(*, user: Any, graphic_id: Any, expected_version: Any, reason: Any = "") -> Graphic:
    """Put the current version on air as the program. `expected_version` is the version the
    operator saw: anything else is a VersionConflict naming the current one."""
    require_permission(user, CHANGE_GRAPHIC)
    expected_version = _check_version(expected_version, field="expected_version")
    reason = check_reason(reason)
    with transaction.atomic():
        graphic = graphic_get_for_update(graphic_id=graphic_id, without_canvas=True)
        if graphic.archived:
            raise StateConflict("Archived graphics cannot be taken to air; restore it first.")
        _check_lock(graphic, user)
        if expected_version != graphic.version:
            raise VersionConflict(
                f"The graphic is at version {graphic.version}; you asked to take version "
                f"{expected_version}.",
                details={"current_version": graphic.version, "your_version": expected_version},
            )
        now = timezone.now()
        program = _put_on_air(graphic, user=user, reason=reason, at=now)
        _record(
            graphic,
            action=VersionAction.TAKE,
            row=program,
            user=user,
            reason=reason,
            at=now,
            program=program,
        )
        return _reloaded(graphic)


def graphic_clear(*, user: Any, graphic_id: Any, reason: Any = "") -> Graphic:
    """Take the graphic off air (and out of live mode). Needs no lock; off air already, it
    changes nothing."""
    require_permission(user, CHANGE_GRAPHIC)
    reason = check_reason(reason)
    with transaction.atomic():
        graphic = graphic_get_for_update(graphic_id=graphic_id, without_canvas=True)
        if not graphic.on_air:
            return _reloaded(graphic)
        assert graphic.program_version is not None  # graphic_on_air_has_program
        now = timezone.now()
        AirInterval.objects.close_open(graphic.pk, actor_id=user.pk, reason=reason, at=now)
        _write_state(graphic, on_air=False, live=False)
        _record(
            graphic,
            action=VersionAction.CLEAR,
            row=_content_row(graphic, graphic.program_version),
            user=user,
            reason=reason,
            at=now,
            program=None,
        )
        return _reloaded(graphic)


def graphic_set_live(
    *,
    user: Any,
    graphic_id: Any,
    live: Any,
    reason: Any = "",
    expected_version: Any = None,
) -> Graphic:
    """Switch live mode on (the current version goes to air at once, and every version saved
    after it) or off (the program stays on air; later saves wait for a take). With
    `expected_version`, turning it on checks it as a take does. Setting the state the graphic
    already has changes nothing."""
    require_permission(user, CHANGE_GRAPHIC)
    if not isinstance(live, bool):
        raise ValidationFailed(details={"live": ["true or false is required."]})
    if expected_version is not None:
        expected_version = _check_version(expected_version, field="expected_version")
    reason = check_reason(reason)
    with transaction.atomic():
        graphic = graphic_get_for_update(graphic_id=graphic_id, without_canvas=True)
        if graphic.live == live:
            return _reloaded(graphic)
        now = timezone.now()
        if live:
            if graphic.archived:
                raise StateConflict("Archived graphics cannot go live; restore it first.")
            _check_lock(graphic, user)
            if expected_version is not None and expected_version != graphic.version:
                raise VersionConflict(
                    f"The graphic is at version {graphic.version}; you saw version "
                    f"{expected_version}.",
                    details={"current_version": graphic.version, "your_version": expected_version},
                )
            if graphic.on_air and graphic.program_version == graphic.version:
                program = _content_row(graphic, graphic.version)  # already on air as it is
            else:
                program = _put_on_air(graphic, user=user, reason=reason or "live on", at=now)
            _write_state(graphic, live=True)
        else:
            assert graphic.program_version is not None  # live => on air => a program
            program = _content_row(graphic, graphic.program_version)
            _write_state(graphic, live=False)
        _record(
            graphic,
            action=VersionAction.LIVE,
            row=program,
            user=user,
            reason=reason or ("live on" if live else "live off"),
            at=now,
            program=program if live else None,
        )
        return _reloaded(graphic)


def _reloaded(graphic: Graphic) -> Graphic:
    """The graphic whole, as the services return it (the row lock read it without canvas)."""
    return Graphic.objects.select_related("created_by", "updated_by", "archived_by").get(
        pk=graphic.pk
    )

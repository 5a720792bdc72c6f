"""Canvas locks: one editor at a time per graphic, and the audit trail of every lock change."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone


class LockAction(models.TextChoices):
    ACQUIRED = "acquired", "Acquired"
    REFRESHED = "refreshed", "Refreshed"
    RELEASED = "released", "Released"
    EXPIRED = "expired", "Expired"
    OVERRIDDEN = "overridden", "Overridden"


@dataclass(frozen=True)
class LockChange:
    """Why the last `save()` or `delete()` of a lock happened, for the audit and the broadcast."""

    action: str  # one of LockAction
    actor_id: int | None
    previous_holder_id: int | None = None
    note: str = ""
    # The fencing token of the lock term that ended, when a save (a take-over) replaces it with
    # a new one; a deleted lock still carries its own. Its holder's `lock_lost` names it.
    previous_fencing_token: int | None = None


class LiveLockQuerySet(models.QuerySet["CanvasLock"]):
    def live(self) -> LiveLockQuerySet:
        """Locks that have not expired. A lock past `expires_at` counts as free everywhere."""
        return self.filter(expires_at__gt=timezone.now())

    def expired(self) -> LiveLockQuerySet:
        return self.filter(expires_at__lte=timezone.now())


class CanvasLock(models.Model):
    # One-to-one is a UNIQUE constraint on graphic_id: the database, not Python, guarantees at
    # most one lock row per graphic, whatever races between servers.
    graphic = models.OneToOneField(
        "graphics.Graphic", on_delete=models.CASCADE, related_name="lock"
    )
    holder = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="canvas_locks"
    )
    acquired_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    # Fencing token: increases with each new holder of this graphic's lock, so a write carrying
    # an older token is recognisably late.
    fencing_token = models.PositiveBigIntegerField()

    objects = LiveLockQuerySet.as_manager()

    # Set by the lock services before save()/delete(); a plain save() gets a default.
    pending_change: LockChange | None = None

    class Meta:
        permissions = [
            ("acquire_lock", "Can acquire, refresh and release canvas locks"),
            ("override_lock", "Can override another user's canvas lock"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(expires_at__gt=models.F("acquired_at")),
                name="canvaslock_expires_after_acquired",
            )
        ]

    def __str__(self) -> str:
        return f"Lock on graphic {self.graphic_id} held by user {self.holder_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Atomic so that the receivers' audit row and event commit (or roll back) with it.
        with transaction.atomic(using=kwargs.get("using")):
            super().save(*args, **kwargs)
        self.pending_change = None

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        with transaction.atomic(using=kwargs.get("using")):
            result = super().delete(*args, **kwargs)
        self.pending_change = None
        return result

    def change_for(self, *, created: bool = False, deleted: bool = False) -> LockChange:
        """The change a save/delete of this lock made: the service's `pending_change`, or for a
        plain save in a shell (or a cascade), acquired/refreshed/released by the holder."""
        if self.pending_change is not None:
            return self.pending_change
        if deleted:
            return LockChange(
                action=LockAction.RELEASED,
                actor_id=self.holder_id,
                previous_holder_id=self.holder_id,
            )
        action = LockAction.ACQUIRED if created else LockAction.REFRESHED
        return LockChange(action=action, actor_id=self.holder_id)

    @property
    def is_live(self) -> bool:
        return self.expires_at > timezone.now()

    @property
    def seconds_left(self) -> int:
        return max(0, int((self.expires_at - timezone.now()).total_seconds()))


class LockEvent(models.Model):
    """Audit of every lock change. Kept when the graphic is deleted; never edited."""

    # The graphic may be deleted later; graphic_ref and graphic_title keep the record readable.
    graphic = models.ForeignKey(
        "graphics.Graphic",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="lock_events",
    )
    graphic_ref = models.BigIntegerField(db_index=True)
    graphic_title = models.CharField(max_length=255, blank=True)
    action = models.CharField(max_length=16, choices=LockAction.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    previous_holder = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    holder = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reason = models.TextField(blank=True)
    fencing_token = models.PositiveBigIntegerField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(action="overridden") | ~models.Q(reason=""),
                name="lockevent_override_has_reason",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} lock on graphic {self.graphic_ref}"

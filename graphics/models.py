"""The Graphic: one on-air graphic (a scoreboard, standings, a player card) and its canvas."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import models, transaction

from graphics.canvas import empty_canvas

# Fields whose change is a new version of the graphic. Archiving is not a content change.
CONTENT_FIELDS = ("title", "event_name", "data")


@dataclass(frozen=True)
class GraphicChange:
    """What the last `save()` or `delete()` did, for the receivers that record and broadcast it."""

    action: str  # created | updated | archived | restored | deleted
    actor_id: int | None
    changed_fields: tuple[str, ...] = ()
    reason: str = ""


class Graphic(models.Model):
    title = models.CharField(max_length=255)
    event_name = models.CharField(max_length=255, db_index=True)
    data = models.JSONField(default=empty_canvas)
    version = models.PositiveIntegerField(default=1)
    archived = models.BooleanField(default=False, db_index=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    archived_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Increases with every new lock holder; a lock's fencing token is the value it was given.
    lock_generation = models.PositiveBigIntegerField(default=0, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Set by save()/delete() for the post_save/post_delete receivers; not a database field.
    pending_change: GraphicChange | None = None
    # A service sets this before delete() so the deletion is attributed to its actor.
    deleted_by_id: int | None = None
    # A service sets this before save()/delete() when the operator gave a reason (archive...).
    change_reason: str = ""
    _saved_state: dict[str, Any] | None = None

    class Meta:
        ordering = ["-updated_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(version__gte=1),
                name="graphic_version_positive",
            ),
            models.CheckConstraint(condition=~models.Q(title=""), name="graphic_title_not_empty"),
            models.CheckConstraint(
                condition=~models.Q(event_name=""), name="graphic_event_name_not_empty"
            ),
            models.CheckConstraint(
                condition=models.Q(archived=False, archived_at__isnull=True)
                | models.Q(archived=True, archived_at__isnull=False),
                name="graphic_archived_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.event_name})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """
        Save in one transaction with the receivers that record the change, bumping `version`
        when title, event_name or data changed, however the save was reached (a service, the
        admin or a plain `.save()` in a shell).
        """
        using = kwargs.get("using")
        update_fields = kwargs.get("update_fields")
        with transaction.atomic(using=using):
            adding = self._state.adding
            saved = None if adding else (self._saved_state or self._stored_state(using))
            changed: tuple[str, ...] = ()
            if saved is not None:
                candidates = (
                    CONTENT_FIELDS
                    if update_fields is None
                    else tuple(name for name in CONTENT_FIELDS if name in update_fields)
                )
                changed = tuple(name for name in candidates if getattr(self, name) != saved[name])
            if changed and saved is not None:
                self.version = saved["version"] + 1
                if update_fields is not None:
                    kwargs["update_fields"] = {*update_fields, "version", "updated_at"}
            if adding or saved is None:
                action = "created"
            elif saved["archived"] != self.archived:
                action = "archived" if self.archived else "restored"
            elif changed:
                action = "updated"
            else:
                action = ""
            actor = self.archived_by_id if action == "archived" else self.updated_by_id
            if action == "created":
                actor = self.created_by_id
            self.pending_change = (
                GraphicChange(
                    action=action,
                    actor_id=actor,
                    changed_fields=changed,
                    reason=self.change_reason,
                )
                if action
                else None
            )
            super().save(*args, **kwargs)
        self._remember_saved_state()
        self.pending_change = None
        self.change_reason = ""

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        self.pending_change = GraphicChange(
            action="deleted", actor_id=self.deleted_by_id, reason=self.change_reason
        )
        with transaction.atomic(using=kwargs.get("using")):
            result = super().delete(*args, **kwargs)
        self.pending_change = None
        return result

    @classmethod
    def from_db(cls, db: str | None, field_names: Any, values: Any) -> Graphic:
        instance = super().from_db(db, field_names, values)
        instance._remember_saved_state()
        return instance

    def refresh_from_db(
        self, using: str | None = None, fields: Any = None, from_queryset: Any = None
    ) -> None:
        super().refresh_from_db(using=using, fields=fields, from_queryset=from_queryset)
        if fields is None:
            self._remember_saved_state()
        else:
            # Partly refreshed: the next save() compares against the stored row instead.
            self._saved_state = None

    def _stored_state(self, using: str | None) -> dict[str, Any] | None:
        """The content as stored, for an instance loaded without it (`.only()`, `.defer()`)."""
        return (
            type(self)
            ._base_manager.using(using or "default")
            .filter(pk=self.pk)
            .values(*CONTENT_FIELDS, "version", "archived")
            .first()
        )

    def _remember_saved_state(self) -> None:
        deferred = self.get_deferred_fields()
        if deferred & {*CONTENT_FIELDS, "version", "archived"}:
            self._saved_state = None
            return
        self._saved_state = {
            "title": self.title,
            "event_name": self.event_name,
            "data": _deep_copy_json(self.data),
            "version": self.version,
            "archived": self.archived,
        }


def _deep_copy_json(value: Any) -> Any:
    # Canvas data is plain JSON; a structural copy is enough to notice in-place edits later.
    if isinstance(value, dict):
        return {key: _deep_copy_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_deep_copy_json(item) for item in value]
    return value

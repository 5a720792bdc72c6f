"""The Graphic: one on-air graphic (a scoreboard, standings, a player card) and its canvas."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from graphics.canvas import empty_canvas

# The on-air state (issue 16), written only by graphics.on_air and by live mode's saves.
ON_AIR_STATE_FIELDS = ("on_air", "live", "program_version")
# How a graphic goes on and off air: set by an edit like its content, so they make a version
# (without being part of the history's content copy) and go to air with the next take.
AIR_SETTING_FIELDS = ("transition", "transition_ms")

# Fields whose change is a content change: an update (or a revert) of the graphic. Archiving
# and restoring are not content changes, but they are versions too: every recorded change to a
# graphic makes exactly one new version and one row of its history (`GraphicVersion`).
CONTENT_FIELDS = ("title", "event_name", "data")


class Transition(models.TextChoices):
    """How an overlay animates a graphic in (take) and out (clear)."""

    NONE = "none", "None (cut)"
    FADE = "fade", "Fade"
    SLIDE = "slide", "Slide"


# The longest transition an overlay plays: longer ones read as a stuck graphic on air.
TRANSITION_MS_MAX = 5000


@dataclass(frozen=True)
class GraphicChange:
    """What the last `save()` or `delete()` did, for the receivers that record and broadcast it."""

    action: str  # created | updated | archived | restored | reverted | deleted
    actor_id: int | None
    changed_fields: tuple[str, ...] = ()
    reason: str = ""
    # For "reverted": the version whose content was made current again.
    reverted_from: int | None = None
    # The values the changed content fields had before (for updates and reverts), from which
    # subscribers get a merge patch instead of the whole graphic.
    previous: Mapping[str, Any] | None = None


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
    # On air (issue 16): the program is `program_version`, which only a take (graphics.on_air)
    # changes, or every new version while `live` is on. The current version is the draft.
    # Written by the services with a queryset update, never through save()'s change tracking:
    # taking and clearing make no new version.
    on_air = models.BooleanField(default=False)
    program_version = models.PositiveIntegerField(null=True, blank=True)
    live = models.BooleanField(default=False)
    transition = models.CharField(max_length=8, choices=Transition.choices, default=Transition.FADE)
    transition_ms = models.PositiveIntegerField(default=400)
    # seed_demo's name for a demo graphic it made (issue 18): it finds its graphics by this key,
    # since titles are the operators' to change. Null for every other graphic.
    demo_key = models.CharField(
        max_length=64,
        null=True,
        blank=True,
        unique=True,
        editable=False,
        help_text="Names a graphic made by seed_demo, which finds it by this key.",
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
    # A service sets this before save() when the new content is that of an earlier version
    # (graphic_revert), so the change is recorded as "reverted" and names its source.
    reverted_from: int | None = None
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
            # Live mode puts every version on air: it cannot be on while the graphic is off.
            models.CheckConstraint(
                condition=models.Q(live=False) | models.Q(on_air=True), name="graphic_live_on_air"
            ),
            models.CheckConstraint(
                condition=models.Q(on_air=False) | models.Q(program_version__isnull=False),
                name="graphic_on_air_has_program",
            ),
            models.CheckConstraint(
                condition=models.Q(program_version__isnull=True)
                | models.Q(program_version__gte=1, program_version__lte=models.F("version")),
                name="graphic_program_version_made",
            ),
            models.CheckConstraint(
                condition=models.Q(transition__in=Transition.values),
                name="graphic_transition_known",
            ),
            models.CheckConstraint(
                condition=models.Q(transition_ms__lte=TRANSITION_MS_MAX),
                name="graphic_transition_ms_bounded",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.event_name})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """
        Save in one transaction with the records of the change, however the save was reached
        (a service, the admin or a plain `.save()` in a shell): a change of title, event_name
        or data, an archive or a restore bumps `version` by one, writes the `GraphicVersion`
        of the new version, and leaves `pending_change` for the receivers that log and
        broadcast it (realtime.delivery.signals).
        """
        using = kwargs.get("using")
        update_fields = kwargs.get("update_fields")
        # Its own transaction when called outside one; inside the caller's (every service) no
        # savepoint, as Django's save_base does for a model's parents: two queries fewer on
        # every edit, and an error still rolls the caller's transaction back whole.
        with transaction.atomic(using=using, savepoint=False):
            adding = self._state.adding
            saved = None if adding else (self._saved_state or self._stored_state(using))
            changed: tuple[str, ...] = ()
            if saved is not None:
                tracked = (*CONTENT_FIELDS, *AIR_SETTING_FIELDS, "archived")
                candidates = (
                    tracked
                    if update_fields is None
                    else tuple(name for name in tracked if name in update_fields)
                )
                changed = tuple(name for name in candidates if getattr(self, name) != saved[name])
            if not adding:
                # The on-air state is written only by graphics.on_air (a queryset update): an
                # instance read before a take must not put back what it read.
                self._load_on_air_state(using)
            if changed and saved is not None:
                self.version = saved["version"] + 1
                if update_fields is not None:
                    kwargs["update_fields"] = {*update_fields, "version", "updated_at"}
                if self.live:
                    # Live mode (issue 16): every new version goes to air as it is saved.
                    self.program_version = self.version
                    if update_fields is not None:
                        kwargs["update_fields"] = {*kwargs["update_fields"], "program_version"}
            if adding or saved is None:
                action = "created"
            elif "archived" in changed:
                action = "archived" if self.archived else "restored"
            elif changed:
                action = "reverted" if self.reverted_from is not None else "updated"
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
                    reverted_from=self.reverted_from if action == "reverted" else None,
                    previous=(
                        {name: saved[name] for name in changed if name != "archived"}
                        if saved is not None and action in ("updated", "reverted")
                        else None
                    ),
                )
                if action
                else None
            )
            super().save(*args, **kwargs)
            if self.pending_change is not None:
                GraphicVersion.objects.record(self, self.pending_change)
                if self.live and saved is not None:
                    AirInterval.objects.roll(self, actor_id=self.pending_change.actor_id)
        self._remember_saved_state()
        self.pending_change = None
        self.change_reason = ""
        self.reverted_from = None

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        self.pending_change = GraphicChange(
            action="deleted", actor_id=self.deleted_by_id, reason=self.change_reason
        )
        with transaction.atomic(using=kwargs.get("using")):
            result = super().delete(*args, **kwargs)
        self.pending_change = None
        return result

    def _load_on_air_state(self, using: str | None) -> None:
        stored = (
            type(self)
            ._base_manager.using(using or "default")
            .filter(pk=self.pk)
            .values(*ON_AIR_STATE_FIELDS)
            .first()
        )
        if stored is not None:
            for name, value in stored.items():
                setattr(self, name, value)

    @property
    def draft_differs(self) -> bool:
        """Whether the current version (the draft) is not what is on air: on air at another
        version, or never taken."""
        if self.program_version is None:
            return True
        return self.on_air and self.program_version != self.version

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
            .values(*CONTENT_FIELDS, *AIR_SETTING_FIELDS, "version", "archived")
            .first()
        )

    def _remember_saved_state(self) -> None:
        deferred = self.get_deferred_fields()
        if deferred & {*CONTENT_FIELDS, *AIR_SETTING_FIELDS, "version", "archived"}:
            self._saved_state = None
            return
        self._saved_state = {
            "title": self.title,
            "event_name": self.event_name,
            "data": _deep_copy_json(self.data),
            "transition": self.transition,
            "transition_ms": self.transition_ms,
            "version": self.version,
            "archived": self.archived,
        }


class VersionAction(models.TextChoices):
    CREATED = "created", "Created"
    UPDATED = "updated", "Updated"
    ARCHIVED = "archived", "Archived"
    RESTORED = "restored", "Restored"
    REVERTED = "reverted", "Reverted"
    # The state a graphic had when history began (migration 0004): what came before is unknown.
    BASELINE = "baseline", "Baseline"
    # On air (issue 16): rows that make no new version. They name the version they put on
    # (or took off) air, so several rows share a number; see GraphicVersion.
    TAKE = "take", "Taken to air"
    CLEAR = "clear", "Cleared from air"
    LIVE = "live", "Live mode switched"


# The actions that make a new version (one row per version number); the others record what
# happened to a version that exists (on air).
CONTENT_ACTIONS = (
    VersionAction.CREATED,
    VersionAction.UPDATED,
    VersionAction.ARCHIVED,
    VersionAction.RESTORED,
    VersionAction.REVERTED,
    VersionAction.BASELINE,
)
AIR_ACTIONS = (VersionAction.TAKE, VersionAction.CLEAR, VersionAction.LIVE)


class GraphicVersionManager(models.Manager["GraphicVersion"]):
    def record(self, graphic: Graphic, change: GraphicChange) -> GraphicVersion:
        """
        Write the version `change` produced, inside the caller's transaction (Graphic.save()),
        then prune the graphic's oldest versions beyond GRAPHIC_HISTORY_MAX_VERSIONS (0: keep
        all). Pruning here, on the write, keeps the bound without a scheduled job; lowering the
        setting takes effect for each graphic at its next change (or `prune_graphic_history`).
        """
        version = self.create(
            graphic=graphic,
            version=graphic.version,
            action=change.action,
            changed_fields=list(change.changed_fields),
            reason=change.reason,
            reverted_from=change.reverted_from,
            actor_id=change.actor_id,
            title=graphic.title,
            event_name=graphic.event_name,
            data=graphic.data,
            archived=graphic.archived,
            archived_at=graphic.archived_at,
            archived_by_id=graphic.archived_by_id,
            # The same instant as the graphic's updated_at, so a version reads as the graphic
            # did at that moment.
            created_at=graphic.updated_at,
        )
        self.prune(graphic_id=graphic.pk, newest=graphic.version, program=graphic.program_version)
        return version

    def record_air(
        self,
        graphic: Graphic,
        *,
        action: str,
        version: GraphicVersion,
        actor_id: int | None,
        reason: str,
        at: Any,
    ) -> GraphicVersion:
        """Write an on-air row (take, clear, live) naming `version`, with that version's
        content, inside the caller's transaction. It makes no new version."""
        return self.create(
            graphic=graphic,
            version=version.version,
            action=action,
            changed_fields=[],
            reason=reason,
            actor_id=actor_id,
            title=version.title,
            event_name=version.event_name,
            data=version.data,
            archived=graphic.archived,
            archived_at=graphic.archived_at,
            archived_by_id=graphic.archived_by_id,
            created_at=at,
        )

    def prune(self, *, graphic_id: int, newest: int, program: int | None = None) -> int:
        """Delete the graphic's versions older than the newest GRAPHIC_HISTORY_MAX_VERSIONS;
        return how many went. Versions are numbered without gaps, so a number bounds them.
        The program version (`program`) is kept whatever its age: overlays draw it."""
        keep = settings.GRAPHIC_HISTORY_MAX_VERSIONS
        if keep <= 0:
            return 0
        old = self.filter(graphic_id=graphic_id, version__lte=newest - keep)
        if program is not None:
            old = old.exclude(version=program, action__in=CONTENT_ACTIONS)
        deleted, _ = old.delete()
        return deleted


class GraphicVersion(models.Model):
    """
    One version of a graphic: the change that produced it (who, when, what, why) and the
    graphic's whole state after it. Written only by Graphic.save(), in the change's transaction;
    never edited. The on-air services add rows too (take, clear, live: AIR_ACTIONS), which
    name the version they concern and make no new one: only content rows have a number of
    their own. Deleting a graphic permanently deletes its history with it (the event log
    keeps the record of the deletion).
    """

    graphic = models.ForeignKey(Graphic, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    action = models.CharField(max_length=16, choices=VersionAction.choices)
    changed_fields = models.JSONField(default=list)
    reason = models.TextField(blank=True, default="")
    reverted_from = models.PositiveIntegerField(null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # The graphic as this version left it.
    title = models.CharField(max_length=255)
    event_name = models.CharField(max_length=255)
    data = models.JSONField()
    archived = models.BooleanField()
    archived_at = models.DateTimeField(null=True, blank=True)
    archived_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = GraphicVersionManager()

    class Meta:
        ordering = ["graphic", "-version", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["graphic", "version"],
                condition=models.Q(action__in=CONTENT_ACTIONS),
                name="graphic_version_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(version__gte=1), name="graphic_version_number_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(action=VersionAction.REVERTED, reverted_from__isnull=False)
                | (~models.Q(action=VersionAction.REVERTED) & models.Q(reverted_from__isnull=True)),
                name="graphic_version_reverted_names_source",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.graphic_id} v{self.version} {self.action}"


class AirIntervalManager(models.Manager["AirInterval"]):
    def open(
        self, graphic: Graphic, *, version: int, actor_id: int | None, reason: str, at: Any
    ) -> AirInterval:
        return self.create(
            graphic=graphic,
            graphic_title=graphic.title,
            version=version,
            taken_at=at,
            taken_by_id=actor_id,
            taken_reason=reason,
        )

    def close_open(self, graphic_id: int, *, actor_id: int | None, reason: str, at: Any) -> int:
        """Close the graphic's open interval, if any; return how many closed (0 or 1)."""
        return self.filter(graphic_id=graphic_id, cleared_at__isnull=True).update(
            cleared_at=at, cleared_by_id=actor_id, cleared_reason=reason
        )

    def roll(self, graphic: Graphic, *, actor_id: int | None) -> AirInterval:
        """Live mode: the version just saved replaces the one on air (Graphic.save())."""
        now = timezone.now()
        self.close_open(graphic.pk, actor_id=actor_id, reason=LIVE_SAVE_REASON, at=now)
        return self.open(
            graphic, version=graphic.version, actor_id=actor_id, reason=LIVE_SAVE_REASON, at=now
        )


# The reason an interval opened or closed by a save in live mode gives.
LIVE_SAVE_REASON = "live save"


class AirInterval(models.Model):
    """
    One stretch of time a version of a graphic was on air: the on-air log (issue 16), which
    answers "what was on air at 20:14?". A take opens one (closing the open one of a re-take);
    a clear closes it; in live mode every saved version closes the open one and opens its own.
    Written only by graphics.on_air and Graphic.save(), in the transaction of the change.

    The graphic's title is kept as it was on air, and the row outlives the graphic (whose id
    becomes null): a league asks about a show after the graphics are gone.
    """

    graphic = models.ForeignKey(
        Graphic, null=True, on_delete=models.SET_NULL, related_name="air_intervals"
    )
    graphic_title = models.CharField(max_length=255)
    version = models.PositiveIntegerField()
    taken_at = models.DateTimeField(db_index=True)
    taken_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    taken_reason = models.TextField(blank=True, default="")
    cleared_at = models.DateTimeField(null=True, blank=True, db_index=True)
    cleared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cleared_reason = models.TextField(blank=True, default="")

    objects = AirIntervalManager()

    class Meta:
        ordering = ["taken_at", "id"]
        constraints = [
            # At most one version of a graphic on air at a time: the database decides.
            models.UniqueConstraint(
                fields=["graphic"],
                condition=models.Q(cleared_at__isnull=True, graphic__isnull=False),
                name="air_interval_one_open",
            ),
            models.CheckConstraint(
                condition=models.Q(cleared_at__isnull=True)
                | models.Q(cleared_at__gte=models.F("taken_at")),
                name="air_interval_cleared_after_taken",
            ),
            models.CheckConstraint(
                condition=models.Q(version__gte=1), name="air_interval_version_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.graphic_title} v{self.version} on air from {self.taken_at:%Y-%m-%d %H:%M:%S}"


# 32 random bytes (256 bits; 43 URL-safe characters): unguessable by any number of tries a
# server would answer, and short enough to paste into OBS.
VIEW_KEY_BYTES = 32
VIEW_KEY_MAX_LENGTH = 64


def new_view_key() -> str:
    return secrets.token_urlsafe(VIEW_KEY_BYTES)


class GraphicViewKey(models.Model):
    """
    A key that lets whoever holds it read one graphic and nothing else: what the on-air overlay
    (`/overlay/<id>/?key=<key>`, shown by OBS with no login) authenticates with. At most one
    key per graphic is active; rotating revokes it and makes a new one. Written only by the
    services (`view_key_rotate`, `view_key_revoke`), never edited; a revoked key stays as the
    record of who made and who revoked it, until its graphic is deleted.

    The key is stored as it is, not hashed: operators read it back (REST, the admin) to paste
    the overlay URL into OBS, and it grants no more than reading one graphic.
    """

    graphic = models.ForeignKey(Graphic, on_delete=models.CASCADE, related_name="view_keys")
    key = models.CharField(
        max_length=VIEW_KEY_MAX_LENGTH, unique=True, default=new_view_key, editable=False
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One live overlay URL per graphic: the database decides, whatever races between
            # two operators rotating at once.
            models.UniqueConstraint(
                fields=["graphic"],
                condition=models.Q(revoked_at__isnull=True),
                name="graphic_view_key_one_active",
            ),
            models.CheckConstraint(condition=~models.Q(key=""), name="graphic_view_key_not_empty"),
        ]

    def __str__(self) -> str:
        # Never the key itself: this is what admin messages and the admin log show.
        state = "revoked" if self.revoked_at is not None else "active"
        return f"View key {self.pk} of graphic {self.graphic_id} ({state})"

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _deep_copy_json(value: Any) -> Any:
    # Canvas data is plain JSON; a structural copy is enough to notice in-place edits later.
    if isinstance(value, dict):
        return {key: _deep_copy_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_deep_copy_json(item) for item in value]
    return value

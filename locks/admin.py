"""
The lock admin: who holds which canvas, for how long, and the audit of every lock change.

Both models are read-only here. A lock changes only through `locks.services`; the two actions,
"Force release" and "Take over", ask for a reason on a confirmation page and then call
`lock_override` for each selected lock, which checks the permission and writes the audit.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from gal_dashboard.access import OVERRIDE_LOCK
from gal_dashboard.errors import DomainError
from locks.forms import LockOverrideForm
from locks.models import CanvasLock, LockEvent
from locks.services import lock_override


def format_time_left(lock: CanvasLock) -> str:
    """What is left of a lock, like "4m 12s" (or "1h 0m 5s"); "expired" once it has run out."""
    if not lock.is_live:
        return "expired"
    minutes, seconds = divmod(lock.seconds_left, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}m {seconds}s" if hours else f"{minutes}m {seconds}s"


class ReadOnlyAdmin(admin.ModelAdmin):
    """No add, change or delete through the admin's forms; visible to lock admins too."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The Lock admin role has no model permissions on locks (they change only through the
        # services), yet its members are the ones who override locks and read the audit.
        return super().has_view_permission(request, obj) or request.user.has_perm(OVERRIDE_LOCK)


@admin.register(CanvasLock)
class CanvasLockAdmin(ReadOnlyAdmin):
    list_display = ["graphic", "holder", "acquired_at", "expires_at", "time_left", "fencing_token"]
    list_select_related = ["graphic", "holder"]
    ordering = ["expires_at"]
    # Not gated on a permission: lock_override decides, and a refusal is reported as a message.
    actions = ["force_release", "take_over"]

    @admin.display(description="Time left")
    def time_left(self, lock: CanvasLock) -> str:
        return format_time_left(lock)

    @admin.action(description="Force release selected locks")
    def force_release(
        self, request: HttpRequest, queryset: QuerySet[CanvasLock]
    ) -> TemplateResponse | None:
        return self._override(request, queryset, take_over=False)

    @admin.action(description="Take over selected locks")
    def take_over(
        self, request: HttpRequest, queryset: QuerySet[CanvasLock]
    ) -> TemplateResponse | None:
        return self._override(request, queryset, take_over=True)

    def _override(
        self, request: HttpRequest, queryset: QuerySet[CanvasLock], *, take_over: bool
    ) -> TemplateResponse | None:
        """The admin's intermediate-page pattern: the first POST (from the change list) shows
        the reason form; the second, marked `post`, carries the reason and overrides."""
        locks = list(queryset.select_related("graphic", "holder"))
        form = LockOverrideForm(request.POST if request.POST.get("post") else None)
        if form.is_valid():
            for lock in locks:
                self._override_one(
                    request, lock, reason=form.cleaned_data["reason"], take_over=take_over
                )
            return None
        action = "take_over" if take_over else "force_release"
        title = "Take over locks" if take_over else "Force release locks"
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "subtitle": None,
            "opts": self.opts,
            "locks": [(lock, format_time_left(lock)) for lock in locks],
            "form": form,
            "action": action,
            "take_over": take_over,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media + form.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(
            request, "admin/locks/canvaslock/override_confirmation.html", context
        )

    def _override_one(
        self, request: HttpRequest, lock: CanvasLock, *, reason: str, take_over: bool
    ) -> None:
        title = lock.graphic.title
        holder = lock.holder.get_username()
        try:
            lock_override(
                user=request.user, graphic_id=lock.graphic_id, reason=reason, take_over=take_over
            )
        except DomainError as error:
            verb = "take over" if take_over else "release"
            self.message_user(
                request, f"Could not {verb} the lock on “{title}”: {error.message}", messages.ERROR
            )
            return
        done = "Took over" if take_over else "Released"
        self.message_user(
            request, f"{done} the lock on “{title}” held by {holder}.", messages.SUCCESS
        )


@admin.register(LockEvent)
class LockEventAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "action",
        "graphic_ref",
        "graphic_title",
        "actor",
        "previous_holder",
        "holder",
        "reason",
    ]
    list_filter = ["action"]
    search_fields = ["graphic_title", "reason"]
    list_select_related = ["actor", "previous_holder", "holder"]

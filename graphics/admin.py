"""
The Graphic admin: a staff view of every graphic, with archive, restore and delete, its history
and its overlay view keys.

Every write goes through `graphics.services`, as in the dashboard and the API, so the admin can
never save around a canvas lock: the change form is read-only, and adding, archiving, restoring,
deleting, and making or revoking an overlay view key call the service for each graphic and
report its refusals as messages.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected as confirm_delete_selected
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from gal_dashboard.errors import DomainError
from graphics.canvas import check_canvas_data
from graphics.models import AirInterval, Graphic, GraphicVersion, GraphicViewKey
from graphics.selectors import overlay_url
from graphics.serialization import air_interval_payload
from graphics.services import (
    graphic_archive,
    graphic_create,
    graphic_delete,
    graphic_restore,
    view_key_revoke,
    view_key_rotate,
)
from locks.selectors import lock_state


def error_messages(error: DomainError) -> list[str]:
    """A domain error as form messages: one per offending field, addressed like the API does."""
    found = [
        f"{field}: {message}" if field not in ("data", "non_field_errors") else message
        for field, field_messages in error.details.items()
        if isinstance(field_messages, list)
        for message in field_messages
    ]
    return found or [error.message]


class GraphicCreateForm(forms.ModelForm):
    class Meta:
        model = Graphic
        fields = ["title", "event_name", "data"]
        help_texts = {
            "data": 'Canvas JSON: {"background": {...} or null, "elements": [...]}.',
        }

    def clean_data(self) -> Any:
        data = self.cleaned_data["data"]
        # The canvas rules live in graphics.canvas; asking them here shows each problem on the
        # form instead of failing the save in graphic_create.
        try:
            check_canvas_data(data)
        except DomainError as error:
            raise forms.ValidationError(error_messages(error)) from None
        return data


@admin.register(Graphic)
class GraphicAdmin(admin.ModelAdmin):
    form = GraphicCreateForm
    list_display = [
        "title",
        "event_name",
        "version",
        "archived",
        "updated_at",
        "updated_by",
        "lock_holder",
    ]
    list_filter = ["archived", "event_name"]
    search_fields = ["title", "event_name"]
    actions = ["archive_selected", "restore_selected", "delete_selected", "rotate_view_keys"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Graphic]:
        return super().get_queryset(request).select_related("updated_by", "lock__holder")

    def get_fieldsets(self, request: HttpRequest, obj: Graphic | None = None) -> Any:
        if obj is None:
            return [(None, {"fields": ["title", "event_name", "data"]})]
        return [
            (None, {"fields": ["title", "event_name", "version", "lock_holder"]}),
            ("Archive", {"fields": ["archived", "archived_at", "archived_by"]}),
            (
                "History",
                {"fields": ["created_by", "created_at", "updated_by", "updated_at", "versions"]},
            ),
            ("Overlay", {"fields": ["overlay_view_key"]}),
            ("Canvas", {"fields": ["canvas"]}),
        ]

    def has_change_permission(self, request: HttpRequest, obj: Graphic | None = None) -> bool:
        # Editing a graphic needs its canvas lock and the version edited (graphic_update), which
        # the dashboard and the API carry and a form does not. Without change permission Django
        # shows the graphic read-only, with no Save button that could write around the lock.
        return False

    @admin.display(description="Lock holder")
    def lock_holder(self, graphic: Graphic) -> str | None:
        # An expired lock counts as free everywhere, so it shows as empty here too.
        return lock_state(getattr(graphic, "lock", None))["locked_by"]

    @admin.display(description="Canvas")
    def canvas(self, graphic: Graphic) -> str:
        return format_html("<pre>{}</pre>", json.dumps(graphic.data, indent=2, ensure_ascii=False))

    @admin.display(description="Versions")
    def versions(self, graphic: Graphic) -> str:
        # A link to the history's own changelist rather than an inline: a graphic edited all
        # evening has hundreds of versions, which a paginated, filterable list handles and a
        # change page would not.
        changelist = reverse(f"{self.admin_site.name}:graphics_graphicversion_changelist")
        query = urlencode({"graphic__id__exact": graphic.pk})
        count = graphic.versions.count()
        return format_html('<a href="{}?{}">{} version(s)</a>', changelist, query, count)

    @admin.display(description="Overlay view key")
    def overlay_view_key(self, graphic: Graphic) -> str:
        changelist = reverse(f"{self.admin_site.name}:graphics_graphicviewkey_changelist")
        keys = format_html(
            '<a href="{}?{}">All view keys of this graphic</a>',
            changelist,
            urlencode({"graphic__id__exact": graphic.pk}),
        )
        active = graphic.view_keys.filter(revoked_at__isnull=True).first()
        if active is None:
            return format_html(
                "None: use the action “Create a new overlay view key” in the list. {}", keys
            )
        return format_html("<code>{}</code><br>{}", overlay_url(graphic.pk, active.key), keys)

    def save_model(self, request: HttpRequest, obj: Graphic, form: Any, change: bool) -> None:
        # Only adds get here (the change form is read-only). Creating through the service makes
        # an admin-made graphic validated, attributed and broadcast like any other; the admin
        # needs only the new primary key to log the addition and redirect.
        created = graphic_create(
            user=request.user, title=obj.title, event_name=obj.event_name, data=obj.data
        )
        obj.pk = created.pk

    def delete_model(self, request: HttpRequest, obj: Graphic) -> None:
        # A refusal propagates to delete_view, which rolls back the admin log entry and reports it.
        graphic_delete(user=request.user, graphic_id=obj.pk)

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        try:
            return super().delete_view(request, object_id, extra_context)
        except DomainError as error:
            self.message_user(request, f"Could not delete: {error.message}", messages.ERROR)
            change_url = f"{self.admin_site.name}:graphics_graphic_change"
            return HttpResponseRedirect(reverse(change_url, args=[object_id]))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Graphic]) -> None:
        deleted = self._apply_to_each(
            request,
            list(queryset),
            verb="delete",
            done="Deleted",
            call=lambda graphic: graphic_delete(user=request.user, graphic_id=graphic.pk),
        )
        if deleted:
            self.log_deletions(request, deleted)  # type: ignore[arg-type]

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        # graphic_delete decides who may delete and removes the graphic's lock row with it. The
        # admin's own walk would also demand delete permission on that lock row, which nobody
        # has (locks change only through the lock services), and so refuse every locked graphic.
        deleted_objects, model_count, _perms_needed, protected = super().get_deleted_objects(
            objs, request
        )
        return deleted_objects, model_count, set(), protected

    @admin.action(description="Archive selected graphics")
    def archive_selected(self, request: HttpRequest, queryset: QuerySet[Graphic]) -> None:
        self._apply_to_each(
            request,
            queryset,
            verb="archive",
            done="Archived",
            call=lambda graphic: graphic_archive(user=request.user, graphic_id=graphic.pk),
        )

    @admin.action(description="Restore selected graphics")
    def restore_selected(self, request: HttpRequest, queryset: QuerySet[Graphic]) -> None:
        self._apply_to_each(
            request,
            queryset,
            verb="restore",
            done="Restored",
            call=lambda graphic: graphic_restore(user=request.user, graphic_id=graphic.pk),
        )

    @admin.action(description="Create a new overlay view key (revokes the old one)")
    def rotate_view_keys(self, request: HttpRequest, queryset: QuerySet[Graphic]) -> None:
        made: list[tuple[Graphic, GraphicViewKey]] = []

        def rotate(graphic: Graphic) -> None:
            made.append((graphic, view_key_rotate(graphic_id=graphic.pk, user=request.user)))

        self._apply_to_each(
            request,
            queryset,
            verb="make a view key for",
            done="Made a new overlay view key for",
            call=rotate,
        )
        # Each new overlay URL, to paste into OBS (the keys page shows them again later).
        for graphic, view_key in made:
            self.message_user(
                request,
                format_html(
                    "Overlay URL of “{}”: <code>{}</code>",
                    graphic.title,
                    overlay_url(graphic.pk, view_key.key),
                ),
                messages.INFO,
            )

    @admin.action(permissions=["delete"], description="Delete selected graphics permanently")
    def delete_selected(
        self, request: HttpRequest, queryset: QuerySet[Graphic]
    ) -> HttpResponse | None:
        # Replaces Django's action of the same name, which would announce "Successfully deleted"
        # for graphics the service refused. Its confirmation page is kept.
        if request.POST.get("post"):
            self.delete_queryset(request, queryset)
            return None
        return confirm_delete_selected(self, request, queryset)

    def _apply_to_each(
        self,
        request: HttpRequest,
        graphics: Iterable[Graphic],
        *,
        verb: str,
        done: str,
        call: Callable[[Graphic], Any],
    ) -> list[Graphic]:
        """Call the service for each graphic on its own, so one refusal does not undo the
        others; report every refusal and then the successes. Returns the graphics it changed."""
        succeeded: list[Graphic] = []
        for graphic in graphics:
            try:
                call(graphic)
            except DomainError as error:
                self.message_user(
                    request, f"Could not {verb} “{graphic.title}”: {error.message}", messages.ERROR
                )
            else:
                succeeded.append(graphic)
        if succeeded:
            titles = ", ".join(f"“{graphic.title}”" for graphic in succeeded)
            noun = "graphic" if len(succeeded) == 1 else "graphics"
            self.message_user(
                request, f"{done} {len(succeeded)} {noun}: {titles}.", messages.SUCCESS
            )
        return succeeded


VERSION_FIELDS: tuple[str, ...] = (
    "graphic",
    "version",
    "action",
    "changed",
    "reverted_from",
    "reason",
    "actor",
    "created_at",
    "title",
    "event_name",
    "archived",
    "archived_at",
    "archived_by",
    "canvas",
)


class GraphicRecordAdmin(admin.ModelAdmin):
    """Records that belong to a graphic and are written only by the services (its versions, its
    view keys): anyone who may view graphics may read them here; nobody adds, changes or deletes
    them by hand. They go when their graphic is deleted (the foreign keys cascade)."""

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.has_perm("graphics.view_graphic")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(GraphicVersion)
class GraphicVersionAdmin(GraphicRecordAdmin):
    """
    Graphics' histories, read-only. Versions are written by Graphic.save() alone, in the
    change's transaction; the admin may show them and nothing else (no add, change or delete),
    so the history stays a true record. Reading needs the permission to view graphics.
    """

    list_display = ["graphic", "version", "action", "changed", "actor", "created_at", "reason"]
    list_filter = ["action", "graphic"]
    list_select_related = ["graphic", "actor"]
    search_fields = ["graphic__title", "title", "reason"]
    ordering = ["graphic", "-version"]
    fields = VERSION_FIELDS
    readonly_fields = VERSION_FIELDS

    def get_queryset(self, request: HttpRequest) -> QuerySet[GraphicVersion]:
        # The list shows no canvas; the detail page reads it through `canvas`.
        queryset = super().get_queryset(request)
        return queryset.defer("data", "graphic__data")

    @admin.display(description="Changed fields")
    def changed(self, version: GraphicVersion) -> str:
        return ", ".join(version.changed_fields)

    @admin.display(description="Canvas")
    def canvas(self, version: GraphicVersion) -> str:
        return format_html("<pre>{}</pre>", json.dumps(version.data, indent=2, ensure_ascii=False))


VIEW_KEY_FIELDS: tuple[str, ...] = (
    "graphic",
    "key",
    "overlay",
    "created_at",
    "created_by",
    "revoked_at",
    "revoked_by",
)


@admin.register(GraphicViewKey)
class GraphicViewKeyAdmin(GraphicRecordAdmin):
    """
    Overlay view keys, read-only: made by the Graphic admin's action (or the REST API) and
    revoked by the action here, both through the services, so revoking always disconnects the
    overlays using the key. Staff who may view graphics see the keys, to copy an overlay URL
    into OBS; making and revoking need the Editor role (the services refuse others).
    """

    list_display = ["graphic", "created_at", "created_by", "revoked_at", "active"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    list_select_related = ["graphic", "created_by"]
    search_fields = ["graphic__title"]
    ordering = ["-created_at", "-id"]
    fields = VIEW_KEY_FIELDS
    readonly_fields = VIEW_KEY_FIELDS
    actions = ["revoke_selected"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[GraphicViewKey]:
        # The graphic's title is shown, never its canvas (up to GRAPHIC_DATA_MAX_BYTES).
        queryset = super().get_queryset(request).select_related("graphic", "created_by")
        return queryset.defer("graphic__data")

    @admin.display(description="Active", boolean=True)
    def active(self, view_key: GraphicViewKey) -> bool:
        return view_key.active

    @admin.display(description="Overlay URL")
    def overlay(self, view_key: GraphicViewKey) -> str:
        if not view_key.active:
            return "— (revoked)"
        return format_html("<code>{}</code>", overlay_url(view_key.graphic_id, view_key.key))

    @admin.action(description="Revoke selected view keys")
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[GraphicViewKey]) -> None:
        revoked = 0
        for view_key in queryset:
            title = view_key.graphic.title
            try:
                done = view_key_revoke(
                    graphic_id=view_key.graphic_id, user=request.user, view_key_id=view_key.pk
                )
            except DomainError as error:
                self.message_user(
                    request,
                    f"Could not revoke the view key of “{title}”: {error.message}",
                    messages.ERROR,
                )
                continue
            if done:
                revoked += 1
            else:
                self.message_user(
                    request,
                    f"The view key {view_key.pk} of “{title}” was already revoked.",
                    messages.WARNING,
                )
        if revoked:
            noun = "view key" if revoked == 1 else "view keys"
            self.message_user(
                request,
                f"Revoked {revoked} {noun}; overlays using them were disconnected.",
                messages.SUCCESS,
            )


AIR_INTERVAL_FIELDS: tuple[str, ...] = (
    "graphic_link",
    "graphic_title",
    "version_link",
    "taken_at",
    "taken_by",
    "taken_reason",
    "cleared_at",
    "cleared_by",
    "cleared_reason",
)


@admin.register(AirInterval)
class AirIntervalAdmin(GraphicRecordAdmin):
    """
    The on-air log, read-only: what was on air when (issue 16). Written by the on-air services
    (take, clear, live) and live mode's saves alone; the admin shows it and nothing else. Each
    row links to the graphic and to the API URL that renders its version. Unlike versions and
    view keys, intervals outlive their graphic (the log of a show is kept).
    """

    list_display = [
        "graphic_title",
        "graphic_link",
        "version_link",
        "taken_at",
        "taken_by",
        "cleared_at",
        "cleared_by",
        "on_air",
    ]
    list_filter = [("cleared_at", admin.EmptyFieldListFilter), "taken_at"]
    list_select_related = ["taken_by", "cleared_by"]
    search_fields = ["graphic_title", "taken_reason", "cleared_reason"]
    date_hierarchy = "taken_at"
    ordering = ["-taken_at", "-id"]
    fields = AIR_INTERVAL_FIELDS
    readonly_fields = AIR_INTERVAL_FIELDS

    @admin.display(description="On air now", boolean=True)
    def on_air(self, interval: AirInterval) -> bool:
        return interval.cleared_at is None

    @admin.display(description="Graphic")
    def graphic_link(self, interval: AirInterval) -> str:
        if interval.graphic_id is None:
            return "— (deleted)"
        url = reverse("admin:graphics_graphic_change", args=[interval.graphic_id])
        return format_html('<a href="{}">#{}</a>', url, interval.graphic_id)

    @admin.display(description="Version", ordering="version")
    def version_link(self, interval: AirInterval) -> str:
        url = air_interval_payload(interval)["version_url"]
        if url is None:
            return f"v{interval.version}"
        return format_html('<a href="{}">v{}</a>', url, interval.version)

"""
The standings admin: tournament events with their players and rounds, each round's results,
and the correction audit.

Every write goes through `standings.services`, as from the API and the results page, so an
admin edit is checked, audited and broadcast to the graphics bound to the event like any other:
adding, renaming and deleting an event or a player, adding and deleting a round. Results are
read-only here (a lobby is entered whole, on the results page or through the API), and so is
the audit. Forms ask the services' own checks, so a problem shows on its field; a refusal the
form could not foresee (someone else's change meanwhile) is reported as a message.

Who: reading needs standings.view_tournament (every role); writing needs
standings.manage_results (Scorekeeper, Lock admin, superuser). Model permissions (add_player,
delete_result...) are not used: the roles have none, the services decide.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from gal_dashboard.access import MANAGE_RESULTS, VIEW_STANDINGS
from gal_dashboard.errors import DomainError
from graphics.admin import error_messages
from graphics.services import UNSET, check_text_field
from locks.services import check_reason
from standings import services
from standings.models import Player, Result, ResultChange, Round, Tournament
from standings.selectors import event_standings

TOURNAMENT_FIELDS = ("name", "points_table", "tie_breakers")
PLAYER_FIELDS = ("display_name", "riot_id", "discord_id")


def can_view(request: HttpRequest) -> bool:
    user = request.user
    return user.has_perm(VIEW_STANDINGS) or user.has_perm(MANAGE_RESULTS)


def can_manage(request: HttpRequest) -> bool:
    return request.user.has_perm(MANAGE_RESULTS)


def _checked(check: Any, *args: Any, **kwargs: Any) -> Any:
    """A service check's result, or its problems as the form field's errors."""
    try:
        return check(*args, **kwargs)
    except DomainError as error:
        raise forms.ValidationError(error_messages(error)) from None


class ServiceAdmin(admin.ModelAdmin):
    """Permissions from the roles, and a service's refusal during a save or a delete shown as
    a message (the admin's transaction has rolled it all back) instead of a server error."""

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return can_view(request)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return can_view(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return can_manage(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return can_manage(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return can_manage(request)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        # The service decides who may delete (manage_results) and removes the players, rounds
        # and results with the event; the admin's own walk would demand model permissions on
        # each of those, which no role has.
        deleted_objects, model_count, _perms_needed, protected = super().get_deleted_objects(
            objs, request
        )
        return deleted_objects, model_count, set(), protected

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as error:
            return self._refused(request, "save", error)

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        try:
            return super().delete_view(request, object_id, extra_context)
        except DomainError as error:
            return self._refused(request, "delete", error)

    def _refused(self, request: HttpRequest, verb: str, error: DomainError) -> HttpResponse:
        for message in error_messages(error):
            self.message_user(request, f"Could not {verb}: {message}", messages.ERROR)
        return HttpResponseRedirect(request.path)

    def _delete_each(
        self, request: HttpRequest, objs: QuerySet[Any], delete: Any, noun: str
    ) -> None:
        """Delete each through the service on its own, reporting refusals, so one refusal
        does not undo the others."""
        deleted = []
        for obj in objs:
            try:
                delete(obj)
            except DomainError as error:
                self.message_user(
                    request, f"Could not delete {noun} “{obj}”: {error.message}", messages.ERROR
                )
            else:
                deleted.append(obj)
        if deleted:
            self.log_deletions(request, deleted)  # type: ignore[arg-type]


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return can_view(request)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# -- events ---------------------------------------------------------------------------------------


class TournamentForm(forms.ModelForm):
    reason = forms.CharField(
        required=False,
        max_length=500,
        help_text="Why, when changing the points table: kept in the correction audit with "
        "every result whose points change.",
    )

    class Meta:
        model = Tournament
        fields = ["name", "points_table", "tie_breakers"]
        help_texts = {
            "name": "Graphics whose event name is exactly this draw the event's standings.",
            "points_table": "Points of 1st to 8th place, e.g. [8, 7, 6, 5, 4, 3, 2, 1].",
            "tie_breakers": "In order, from: top4_plus_firsts, placement_counts, "
            "latest_placement, average_placement, best_placement (Riot's are the first three).",
        }

    def clean_name(self) -> str:
        return str(_checked(check_text_field, self.cleaned_data.get("name"), field="name"))

    def clean_points_table(self) -> list[int]:
        value = self.cleaned_data.get("points_table")
        return list(_checked(services.check_points_table, value))

    def clean_tie_breakers(self) -> list[str]:
        value = self.cleaned_data.get("tie_breakers")
        return list(_checked(services.check_tie_breakers, value))

    def clean_reason(self) -> str:
        return str(_checked(check_reason, self.cleaned_data.get("reason")))


class PlayerInline(admin.TabularInline):
    model = Player
    fields = ["display_name", "riot_id", "discord_id"]
    extra = 0
    show_change_link = True

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return can_view(request)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return can_manage(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return can_manage(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return can_manage(request)


class RoundInline(admin.TabularInline):
    """The event's rounds, read-only (add one from the Rounds page or the results page);
    ticking Delete removes the round and its results through round_delete."""

    model = Round
    fields = ["number", "results"]
    readonly_fields = ["number", "results"]
    extra = 0
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[Round]:
        return super().get_queryset(request).annotate(result_count=Count("results"))

    @admin.display(description="Results")
    def results(self, round_: Round) -> int:
        return int(getattr(round_, "result_count", 0))

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return can_view(request)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return can_manage(request)


@admin.register(Tournament)
class TournamentAdmin(ServiceAdmin):
    form = TournamentForm
    inlines = [PlayerInline, RoundInline]
    list_display = ["name", "players", "rounds", "revision", "updated_at"]
    search_fields = ["name"]
    readonly_fields = [
        "revision",
        "created_by",
        "created_at",
        "updated_at",
        "standings",
        "corrections",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tournament]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                player_count=Count("players", distinct=True),
                round_count=Count("rounds", distinct=True),
            )
        )

    def get_fieldsets(self, request: HttpRequest, obj: Tournament | None = None) -> Any:
        rules = ["name", "points_table", "tie_breakers"]
        if obj is None:
            return [(None, {"fields": rules})]
        return [
            (None, {"fields": [*rules, "reason"]}),
            ("Standings", {"fields": ["standings", "corrections", "revision"]}),
            ("History", {"fields": ["created_by", "created_at", "updated_at"]}),
        ]

    @admin.display(description="Players")
    def players(self, tournament: Tournament) -> int:
        return int(getattr(tournament, "player_count", 0))

    @admin.display(description="Rounds")
    def rounds(self, tournament: Tournament) -> int:
        return int(getattr(tournament, "round_count", 0))

    @admin.display(description="Total standings")
    def standings(self, tournament: Tournament) -> str:
        rows = event_standings(tournament)["total"]
        if not rows:
            return "No players yet."
        return format_html(
            "<table><tr><th>Rank</th><th>Player</th><th>Points</th><th>Played</th></tr>{}</table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (row["rank"] or "—", row["name"], row["points"] or 0, row["played"])
                    for row in rows
                ),
            ),
        )

    @admin.display(description="Correction audit")
    def corrections(self, tournament: Tournament) -> str:
        changelist = reverse(f"{self.admin_site.name}:standings_resultchange_changelist")
        query = urlencode({"tournament__id__exact": tournament.pk})
        count = tournament.result_changes.count()
        return format_html('<a href="{}?{}">{} change(s)</a>', changelist, query, count)

    def save_model(self, request: HttpRequest, obj: Tournament, form: Any, change: bool) -> None:
        data = form.cleaned_data
        if not change:
            created = services.tournament_create(
                user=request.user,
                name=data["name"],
                points_table=data["points_table"],
                tie_breakers=data["tie_breakers"],
            )
            # The admin needs only the new primary key, to log the addition, save the inlines
            # and redirect.
            obj.pk = created.pk
            return
        fields = {key: data[key] for key in TOURNAMENT_FIELDS if key in form.changed_data}
        if fields:
            services.tournament_update(
                user=request.user, tournament_id=obj.pk, reason=data.get("reason", ""), **fields
            )

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        tournament_id = form.instance.pk
        formset.save(commit=False)
        if formset.model is Round:
            for round_ in formset.deleted_objects:
                services.round_delete(
                    user=request.user, tournament_id=tournament_id, number=round_.number
                )
            return
        for player in formset.deleted_objects:
            services.player_delete(
                user=request.user, tournament_id=tournament_id, player_id=player.pk
            )
        for player, changed in formset.changed_objects:
            services.player_update(
                user=request.user,
                tournament_id=tournament_id,
                player_id=player.pk,
                **{key: getattr(player, key) for key in changed if key in PLAYER_FIELDS},
            )
        for player in formset.new_objects:
            created = services.player_create(
                user=request.user,
                tournament_id=tournament_id,
                display_name=player.display_name,
                riot_id=player.riot_id,
                discord_id=player.discord_id,
            )
            player.pk = created.pk

    def delete_model(self, request: HttpRequest, obj: Tournament) -> None:
        services.tournament_delete(user=request.user, tournament_id=obj.pk)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Tournament]) -> None:
        self._delete_each(
            request,
            queryset,
            lambda tournament: services.tournament_delete(
                user=request.user, tournament_id=tournament.pk
            ),
            "event",
        )


# -- players --------------------------------------------------------------------------------------


class PlayerForm(forms.ModelForm):
    class Meta:
        model = Player
        fields = ["tournament", "display_name", "riot_id", "discord_id"]


@admin.register(Player)
class PlayerAdmin(ServiceAdmin):
    form = PlayerForm
    list_display = ["display_name", "tournament", "riot_id", "discord_id", "created_at"]
    list_filter = ["tournament"]
    list_select_related = ["tournament"]
    search_fields = ["display_name", "riot_id", "discord_id"]

    def get_readonly_fields(self, request: HttpRequest, obj: Player | None = None) -> Any:
        # A player belongs to one event for good: their results are that event's.
        return ["tournament", "created_at"] if obj is not None else []

    def get_fields(self, request: HttpRequest, obj: Player | None = None) -> Any:
        fields = ["tournament", "display_name", "riot_id", "discord_id"]
        return [*fields, "created_at"] if obj is not None else fields

    def save_model(self, request: HttpRequest, obj: Player, form: Any, change: bool) -> None:
        data = form.cleaned_data
        if not change:
            created = services.player_create(
                user=request.user,
                tournament_id=data["tournament"].pk,
                display_name=data["display_name"],
                riot_id=data["riot_id"],
                discord_id=data["discord_id"],
            )
            obj.pk = created.pk
            return
        services.player_update(
            user=request.user,
            tournament_id=obj.tournament_id,
            player_id=obj.pk,
            **{key: data.get(key, UNSET) for key in PLAYER_FIELDS if key in form.changed_data},
        )

    def delete_model(self, request: HttpRequest, obj: Player) -> None:
        services.player_delete(user=request.user, tournament_id=obj.tournament_id, player_id=obj.pk)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Player]) -> None:
        self._delete_each(
            request,
            queryset,
            lambda player: services.player_delete(
                user=request.user, tournament_id=player.tournament_id, player_id=player.pk
            ),
            "player",
        )


# -- rounds and results ---------------------------------------------------------------------------


class ResultInline(ReadOnlyInline):
    """A round's results by lobby and placement. Read-only: a lobby is entered whole (its
    rules span all its results) on the results page or with PUT .../lobbies/<n>/."""

    model = Result
    fk_name = "round"
    fields = readonly_fields = ("lobby_number", "placement", "player", "points", "updated_at")
    ordering = ["lobby__number", "placement"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Result]:
        return super().get_queryset(request).select_related("lobby", "player")

    @admin.display(description="Lobby")
    def lobby_number(self, result: Result) -> int:
        return result.lobby.number


class RoundForm(forms.ModelForm):
    number = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=services.ROUNDS_MAX,
        help_text="Leave empty for the round after the event's last.",
    )

    class Meta:
        model = Round
        fields = ["tournament", "number"]


@admin.register(Round)
class RoundAdmin(ServiceAdmin):
    form = RoundForm
    inlines = [ResultInline]
    list_display = ["__str__", "tournament", "number", "results"]
    list_filter = ["tournament"]
    list_select_related = ["tournament"]
    ordering = ["tournament", "number"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Round]:
        return super().get_queryset(request).annotate(result_count=Count("results"))

    @admin.display(description="Results")
    def results(self, round_: Round) -> int:
        return int(getattr(round_, "result_count", 0))

    def get_inlines(self, request: HttpRequest, obj: Round | None) -> Any:
        # A new round has no results to show.
        return self.inlines if obj is not None else []

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A round has nothing to edit but its results, which are entered a lobby at a time.
        return False

    def save_model(self, request: HttpRequest, obj: Round, form: Any, change: bool) -> None:
        created = services.round_create(
            user=request.user,
            tournament_id=form.cleaned_data["tournament"].pk,
            number=form.cleaned_data.get("number"),
        )
        obj.pk = created.pk
        obj.number = created.number

    def delete_model(self, request: HttpRequest, obj: Round) -> None:
        services.round_delete(user=request.user, tournament_id=obj.tournament_id, number=obj.number)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Round]) -> None:
        self._delete_each(
            request,
            queryset,
            lambda round_: services.round_delete(
                user=request.user, tournament_id=round_.tournament_id, number=round_.number
            ),
            "round",
        )


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written by the services only: readable by every role, changed by nobody."""

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return can_view(request)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return can_view(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Result)
class ResultAdmin(ReadOnlyAdmin):
    """Every result, read-only: correct a lobby on the results page or through the API, where
    the lobby's rules are checked together and the correction is audited and broadcast."""

    list_display = ["player", "event", "round_number", "lobby_number", "placement", "points"]
    list_filter = ["round__tournament"]
    list_select_related = ["player", "round__tournament", "lobby"]
    search_fields = ["player__display_name", "player__riot_id"]
    ordering = ["round__tournament", "round__number", "lobby__number", "placement"]
    fields = readonly_fields = (
        "event",
        "round_number",
        "lobby_number",
        "player",
        "placement",
        "points",
    )

    @admin.display(description="Event", ordering="round__tournament__name")
    def event(self, result: Result) -> str:
        return result.round.tournament.name

    @admin.display(description="Round", ordering="round__number")
    def round_number(self, result: Result) -> int:
        return result.round.number

    @admin.display(description="Lobby", ordering="lobby__number")
    def lobby_number(self, result: Result) -> int:
        return result.lobby.number


CHANGE_FIELDS = (
    "created_at",
    "actor",
    "source",
    "reason",
    "tournament_name",
    "round_number",
    "lobby_number",
    "player_name",
    "old_placement",
    "new_placement",
    "old_points",
    "new_points",
)


@admin.register(ResultChange)
class ResultChangeAdmin(ReadOnlyAdmin):
    """The correction audit, read-only: who changed which result, when, from what to what,
    how (a lobby saved, an import, a points-table change, a deletion) and why."""

    list_display = [
        "created_at",
        "tournament_name",
        "round_number",
        "lobby_number",
        "player_name",
        "placement_change",
        "points_change",
        "source",
        "actor",
        "reason",
    ]
    list_filter = ["tournament", "source"]
    list_select_related = ["actor"]
    search_fields = ["player_name", "tournament_name", "reason", "actor__username"]
    date_hierarchy = "created_at"
    fields = CHANGE_FIELDS
    readonly_fields = CHANGE_FIELDS

    @admin.display(description="Placement")
    def placement_change(self, change: ResultChange) -> str:
        return _arrow(change.old_placement, change.new_placement)

    @admin.display(description="Points")
    def points_change(self, change: ResultChange) -> str:
        return _arrow(change.old_points, change.new_points)


def _arrow(old: int | None, new: int | None) -> str:
    return f"{'—' if old is None else old} → {'—' if new is None else new}"

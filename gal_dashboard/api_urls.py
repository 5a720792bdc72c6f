"""REST API routes, mounted under /api/ (namespace "api"). Unknown URLs answer 404 as JSON."""

from __future__ import annotations

from django.urls import path, re_path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from gal_dashboard import auth_api
from gal_dashboard.api_errors import api_not_found
from graphics import api as graphics_api
from locks import api as locks_api
from realtime.connection import api as realtime_api
from standings import api as standings_api

app_name = "api"


class IdConverter:
    """A database id in a URL: a positive whole number small enough for a 64-bit column.
    Anything else (0, -1, a 30-digit number) is an unknown URL, 404, never a query."""

    regex = "[1-9][0-9]{0,17}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(IdConverter, "id")

urlpatterns = [
    path("auth/token/", auth_api.TokenObtainView.as_view(), name="token-obtain"),
    path("auth/token/refresh/", auth_api.TokenRefreshPairView.as_view(), name="token-refresh"),
    path("auth/token/verify/", auth_api.TokenCheckView.as_view(), name="token-verify"),
    path("auth/logout/", auth_api.LogoutView.as_view(), name="logout"),
    path("graphics/", graphics_api.GraphicListView.as_view(), name="graphic-list"),
    path(
        "uploads/backgrounds/",
        graphics_api.BackgroundUploadView.as_view(),
        name="background-upload",
    ),
    path("graphics/events/", graphics_api.GraphicEventNamesView.as_view(), name="event-names"),
    path(
        "graphics/<id:graphic_id>/",
        graphics_api.GraphicDetailView.as_view(),
        name="graphic-detail",
    ),
    path(
        "graphics/<id:graphic_id>/archive/",
        graphics_api.GraphicArchiveView.as_view(),
        name="graphic-archive",
    ),
    path(
        "graphics/<id:graphic_id>/restore/",
        graphics_api.GraphicRestoreView.as_view(),
        name="graphic-restore",
    ),
    path(
        "graphics/<id:graphic_id>/duplicate/",
        graphics_api.GraphicDuplicateView.as_view(),
        name="graphic-duplicate",
    ),
    path(
        "graphics/<id:graphic_id>/history/",
        graphics_api.GraphicHistoryView.as_view(),
        name="graphic-history",
    ),
    path(
        "graphics/<id:graphic_id>/history/<id:version>/",
        graphics_api.GraphicVersionView.as_view(),
        name="graphic-version",
    ),
    path(
        "graphics/<id:graphic_id>/revert/",
        graphics_api.GraphicRevertView.as_view(),
        name="graphic-revert",
    ),
    path(
        "graphics/<id:graphic_id>/view-key/",
        graphics_api.GraphicViewKeyView.as_view(),
        name="graphic-view-key",
    ),
    path("graphics/<id:graphic_id>/take/", graphics_api.GraphicTakeView.as_view(), name="take"),
    path("graphics/<id:graphic_id>/clear/", graphics_api.GraphicClearView.as_view(), name="clear"),
    path("graphics/<id:graphic_id>/live/", graphics_api.GraphicLiveView.as_view(), name="live"),
    path(
        "graphics/<id:graphic_id>/air-log/",
        graphics_api.GraphicAirLogView.as_view(),
        name="graphic-air-log",
    ),
    path("air-log/", graphics_api.AirLogView.as_view(), name="air-log"),
    path("graphics/<id:graphic_id>/lock/", locks_api.GraphicLockView.as_view(), name="lock"),
    path(
        "graphics/<id:graphic_id>/lock/override/",
        locks_api.GraphicLockOverrideView.as_view(),
        name="lock-override",
    ),
    path("locks/", locks_api.LockListView.as_view(), name="lock-list"),
    path("events/", realtime_api.EventPollView.as_view(), name="event-poll"),
    path("standings/events/", standings_api.EventListView.as_view(), name="standings-events"),
    path(
        "standings/events/<id:event_id>/",
        standings_api.EventDetailView.as_view(),
        name="standings-event",
    ),
    path(
        "standings/events/<id:event_id>/standings/",
        standings_api.EventStandingsView.as_view(),
        name="standings-table",
    ),
    path(
        "standings/events/<id:event_id>/players/",
        standings_api.PlayerListView.as_view(),
        name="standings-players",
    ),
    path(
        "standings/events/<id:event_id>/players/<id:player_id>/",
        standings_api.PlayerDetailView.as_view(),
        name="standings-player",
    ),
    path(
        "standings/events/<id:event_id>/rounds/",
        standings_api.RoundListView.as_view(),
        name="standings-rounds",
    ),
    path(
        "standings/events/<id:event_id>/rounds/<id:number>/",
        standings_api.RoundDetailView.as_view(),
        name="standings-round",
    ),
    path(
        "standings/events/<id:event_id>/rounds/<id:number>/lobbies/<id:lobby>/",
        standings_api.LobbyResultsView.as_view(),
        name="standings-lobby",
    ),
    path(
        "standings/events/<id:event_id>/changes/",
        standings_api.ResultChangeListView.as_view(),
        name="standings-changes",
    ),
    path(
        "standings/events/<id:event_id>/import/",
        standings_api.ResultsImportView.as_view(),
        name="standings-import",
    ),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file: the CSP forbids inline scripts.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    # [\s\S], not ".": a path holding a newline (%0A) must get the JSON 404 too.
    re_path(r"^[\s\S]*$", api_not_found),
]

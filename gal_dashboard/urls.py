"""URL map: the admin, the REST API under /api/, the pages, the staff pages and the health
endpoints."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path

from gal_dashboard import health, metrics_view, views
from realtime.ops import views as realtime_views

urlpatterns = [
    path("", views.home, name="home"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("admin/", admin.site.urls),
    path("api/", include("gal_dashboard.api_urls")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view.metrics, name="metrics"),
    path("staff/connections/", realtime_views.connections, name="staff-connections"),
    path(
        "staff/connections/<str:connection_id>/disconnect/",
        realtime_views.connection_disconnect_view,
        name="staff-connection-disconnect",
    ),
    path("", include("dashboard.urls")),
]
if settings.SERVE_MEDIA:
    # Uploaded backgrounds: random names, checked to be images when stored (graphics.backgrounds).
    urlpatterns += [
        re_path(
            rf"^{settings.MEDIA_URL.strip('/')}/(?P<path>.+)$",
            views.media_file,
            name="media",
        )
    ]

"""Pages: the home page, which points at the dashboard, the API docs and the admin; uploaded
media; and /favicon.ico."""

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.static import serve


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")


def media_file(request: HttpRequest, path: str) -> FileResponse:
    """A file under MEDIA_ROOT (read at request time, so it may change with the settings).
    `serve` refuses paths that leave MEDIA_ROOT and never lists directories."""
    return serve(request, path, document_root=str(settings.MEDIA_ROOT))


# A day: the icon changes with a release at most, and every overlay (OBS included) asks for it.
FAVICON_MAX_AGE_SECONDS = 24 * 60 * 60


def favicon(request: HttpRequest) -> FileResponse:
    """/favicon.ico, which browsers ask for on every page without an icon link (the admin's,
    Swagger UI's fallback, a bare overlay URL in OBS): the pages' own icon (their <link
    rel="icon"> names the same static file), rather than a 404 and a WARNING in the log."""
    found = finders.find("dashboard/favicon.ico")
    if not isinstance(found, str):
        raise Http404("no favicon among the static files")
    response = FileResponse(open(found, "rb"), content_type="image/x-icon")  # noqa: SIM115
    response["Cache-Control"] = f"public, max-age={FAVICON_MAX_AGE_SECONDS}"
    return response

"""Pages: the home page, which points at the dashboard, the API docs and the admin; and uploaded
media."""

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.static import serve


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")


def media_file(request: HttpRequest, path: str) -> FileResponse:
    """A file under MEDIA_ROOT (read at request time, so it may change with the settings).
    `serve` refuses paths that leave MEDIA_ROOT and never lists directories."""
    return serve(request, path, document_root=str(settings.MEDIA_ROOT))

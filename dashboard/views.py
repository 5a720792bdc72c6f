"""
The pages broadcast staff work in (the graphics list, the editor and the results page) and the
page OBS shows on air (the overlay).

Thin edges: each view checks who may see the page and renders a template with the little the
page's script needs to start (who you are, what you may do); everything else the script reads
live from /ws/graphics and writes through the REST API, the same paths every client uses.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache

from gal_dashboard.access import (
    ADD_GRAPHIC,
    CHANGE_GRAPHIC,
    DELETE_GRAPHIC,
    MANAGE_RESULTS,
    OVERRIDE_LOCK,
    VIEW_GRAPHIC,
    VIEW_STANDINGS,
)
from gal_dashboard.errors import NotFound
from graphics.selectors import graphic_get, view_key_authenticate
from standings.models import LOBBY_SIZE


def page_config(request: HttpRequest) -> dict[str, Any]:
    """What a dashboard page's script needs to know about the signed-in user."""
    user = request.user
    return {
        "user": {"id": user.pk, "username": user.get_username()},
        "can_create": user.has_perm(ADD_GRAPHIC),
        "can_edit": user.has_perm(CHANGE_GRAPHIC),
        "can_delete": user.has_perm(DELETE_GRAPHIC),
        "can_override": user.has_perm(OVERRIDE_LOCK),
    }


def _require_viewer(request: HttpRequest) -> None:
    if not request.user.has_perm(VIEW_GRAPHIC):
        raise PermissionDenied("Your account has no role that may view graphics.")


@login_required
@never_cache
def graphic_list_page(request: HttpRequest) -> HttpResponse:
    """Every graphic, live: search, event filter, active/archived tabs, lock badges, presence."""
    _require_viewer(request)
    return render(request, "dashboard/list.html", {"config": page_config(request)})


@login_required
@never_cache
def graphic_editor_page(request: HttpRequest, graphic_id: int) -> HttpResponse:
    """One graphic's editor. The page takes the lock itself (or shows who holds it)."""
    _require_viewer(request)
    try:
        graphic = graphic_get(graphic_id=graphic_id)
    except NotFound:
        raise Http404("No such graphic.") from None
    config = {
        **page_config(request),
        "graphic_id": graphic.pk,
        "list_url": reverse("dashboard:graphic-list"),
    }
    return render(request, "dashboard/editor.html", {"config": config, "graphic": graphic})


@login_required
@never_cache
def results_page(request: HttpRequest) -> HttpResponse:
    """The league's results: pick an event and a round, enter or correct a lobby's placements,
    watch the standings. Scorekeepers, Lock admins and superusers enter results; the other roles
    that may read standings (Viewer, Editor) see the same page read-only, so a producer can
    follow the standings; an account with neither is refused."""
    user = request.user
    can_manage = user.has_perm(MANAGE_RESULTS)
    if not (can_manage or user.has_perm(VIEW_STANDINGS)):
        raise PermissionDenied("Your account has no role that may see the results.")
    config = {
        "user": {"id": user.pk, "username": user.get_username()},
        "can_manage": can_manage,
    }
    return render(
        request, "dashboard/results.html", {"config": config, "seats": range(1, LOBBY_SIZE + 1)}
    )


@never_cache
def overlay_page(request: HttpRequest, graphic_id: int) -> HttpResponse:
    """What OBS shows on air: the canvas alone, no login, read with the graphic's view key.
    An unknown, revoked or foreign key is a 404 that says nothing about the graphic."""
    view_key = view_key_authenticate(key=request.GET.get("key", ""))
    if view_key is None or view_key.graphic_id != graphic_id:
        raise Http404("No such overlay.")
    config = {"graphic_id": graphic_id, "view_key": view_key.key}
    return render(request, "dashboard/overlay.html", {"config": config})

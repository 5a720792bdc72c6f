"""
`GET /metrics`: Prometheus metrics (realtime.ops.observability), for staff or for a scraper that
presents METRICS_TOKEN as a Bearer token.

With several server processes on one host, set PROMETHEUS_MULTIPROC_DIR (an empty directory,
the same for all of them, cleared at deploy) and every process's metrics are summed into each
scrape (prometheus-client's multiprocess mode); without it, a scrape shows the process that
answered it.
"""

from __future__ import annotations

import hmac
import os

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from gal_dashboard.api_errors import error_body


def _allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    presented = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(presented.encode(), f"Bearer {token}".encode()):
        return True
    user = request.user
    return bool(user.is_authenticated and user.is_staff)


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not _allowed(request):
        return JsonResponse(
            error_body(
                "permission_denied",
                "Metrics are for staff, or for a scraper with the METRICS_TOKEN.",
            ),
            status=403,
        )
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)

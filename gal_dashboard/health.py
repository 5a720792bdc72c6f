"""
Health endpoints for load balancers and orchestrators.

`GET /healthz`: the process is alive and serving (no dependency is touched, so a database
outage does not get every server restarted). `GET /readyz`: this process can do its job now:
the database answers, the event log accepts writes, and broadcasts get through the channel layer
(its hub's latest probe came back; through Redis when configured). 200 when ready, 503 with the
failing checks otherwise; both answer JSON and need no login.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.db import connection, transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from realtime.delivery.hub import get_hub
from realtime.models import Event, EventType


class _RolledBack(Exception):
    """Raised to undo the readiness write."""


def _database_answers() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _event_log_writable() -> None:
    # A real insert, undone: proves the table, its sequence and the disk take writes, without
    # leaving an event behind (a rolled-back id is a gap, which the log already allows).
    try:
        with transaction.atomic():
            Event.objects.create(graphic_id=0, type=EventType.GRAPHIC_UPDATE, data={})
            raise _RolledBack
    except _RolledBack:
        pass


async def _timed(check: Callable[[], Any]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        await sync_to_async(check, thread_sensitive=True)()
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    finally:
        elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
    return {"ok": True, "ms": elapsed_ms}


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
async def readyz(request: HttpRequest) -> JsonResponse:
    hub = get_hub()
    checks = {
        "database": await _timed(_database_answers),
        "event_log": await _timed(_event_log_writable),
    }
    if not hub.running:
        checks["channel_layer"] = {"ok": False, "error": "the event hub is not running yet"}
    elif hub.probe.channel_layer_answers():
        checks["channel_layer"] = {"ok": True}
    else:
        checks["channel_layer"] = {
            "ok": False,
            "error": "no recent probe came back through the channel layer",
        }
    ready = all(check["ok"] for check in checks.values())
    return JsonResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks},
        status=200 if ready else 503,
    )

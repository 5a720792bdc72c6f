"""
What operators see of the WebSocket side: an access log and Prometheus metrics.

Access log (logger `gal.access`, INFO): one JSON object per line (gal_dashboard.logging's
JsonLinesFormatter, whatever LOG_FORMAT says) per connection opened, connection
closed (with its close code and duration), request rejected (`error` sent), permission denial
and disconnect by staff, each naming the connection id, user, remote address and server.
Message-level detail goes to logger `gal.messages` at DEBUG, which an operator switches on with
LOG_LEVEL=DEBUG or a logger setting, separately.

Recent errors (`realtime.ops.recent_errors`): every `error` frame sent and every close with a code
other than 1000/1001 is also queued, fire and forget, for the staff connections page.

Metrics (prometheus-client), every one labelled with this process's `server` id:

- `gal_ws_connections_open` (gauge), `gal_ws_connects_total`, `gal_ws_closes_total{code}`
- `gal_ws_view_key_connections_open{view_key}` (gauge): of those, the ones opened with an
  overlay view key, per key as `view-key:<id>` (the key's row, never the key)
- `gal_ws_messages_received_total{type}`, `gal_ws_messages_sent_total{type}` (replies and
  events; events counted once per recipient)
- `gal_ws_errors_total{code}`, `gal_ws_rate_limited_total`, `gal_ws_resumes_total{recovered}`
- `gal_broadcast_latency_seconds` (histogram): from an event's commit to its last local send
- `gal_hub_event_messages_total`: event messages this process's hub received from the channel
  layer; it is only in the groups of the graphics its sockets watch (and the list's while one
  watches "all"), so events of other graphics never reach it
- `gal_event_log_lag` (gauge): events that this process's hub found in the log at its last poll
  without having had them from the channel layer (in flight, or lost)
- `gal_ws_unregistered_admissions_total`, `gal_ws_connections_unregistered` (gauge): connections
  admitted while the connection registry (Redis) was unreachable, so unchecked against the
  per-user limit, and those of them still open and unregistered;
  `gal_ws_unregistered_outcomes_total{outcome}`: how each ended (`registered` once Redis
  returned, `over_limit`: closed with 4029 then, `closed` before)
- Redis outages (`gal_redis_outages_total`, `gal_redis_unreachable`, `gal_redis_errors_total`):
  see realtime.ops.redis_outage

Several processes on one host share one scrape when PROMETHEUS_MULTIPROC_DIR names a directory
(prometheus-client's multiprocess mode); see gal_dashboard/metrics_view.py.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from gal_dashboard.logging import StructuredLine
from realtime.connection.network import client_address
from realtime.ops.recent_errors import CLOSE, ERROR, RecentError, record_recent_error
from realtime.ops.registry import server_id

access_log = logging.getLogger("gal.access")
message_log = logging.getLogger("gal.messages")

_SERVER = ["server"]

CONNECTIONS_OPEN = Gauge(
    "gal_ws_connections_open",
    "Open WebSocket connections.",
    _SERVER,
    multiprocess_mode="livesum",
)
VIEW_KEY_CONNECTIONS_OPEN = Gauge(
    "gal_ws_view_key_connections_open",
    "Open WebSocket connections authenticated by an overlay view key, per key.",
    [*_SERVER, "view_key"],
    multiprocess_mode="livesum",
)
CONNECTS = Counter("gal_ws_connects_total", "WebSocket connections accepted.", _SERVER)
CLOSES = Counter(
    "gal_ws_closes_total", "WebSocket connections closed, by code.", [*_SERVER, "code"]
)
RECEIVED = Counter(
    "gal_ws_messages_received_total", "Frames received, by message type.", [*_SERVER, "type"]
)
SENT = Counter("gal_ws_messages_sent_total", "Frames sent, by message type.", [*_SERVER, "type"])
ERRORS = Counter("gal_ws_errors_total", "`error` frames sent, by code.", [*_SERVER, "code"])
RATE_LIMITED = Counter("gal_ws_rate_limited_total", "Frames refused by the rate limit.", _SERVER)
RESUMES = Counter(
    "gal_ws_resumes_total", "Subscribes with last_seq, by outcome.", [*_SERVER, "recovered"]
)
BROADCAST_LATENCY = Histogram(
    "gal_broadcast_latency_seconds",
    "From an event's commit to its last local send.",
    _SERVER,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
UNREGISTERED_ADMISSIONS = Counter(
    "gal_ws_unregistered_admissions_total",
    "Connections admitted while the connection registry was unreachable.",
    _SERVER,
)
CONNECTIONS_UNREGISTERED = Gauge(
    "gal_ws_connections_unregistered",
    "Open connections admitted while the registry was unreachable, not registered yet.",
    _SERVER,
    multiprocess_mode="livesum",
)
UNREGISTERED_OUTCOMES = Counter(
    "gal_ws_unregistered_outcomes_total",
    "Connections admitted unregistered, by how that ended: registered, over_limit or closed.",
    [*_SERVER, "outcome"],
)
HUB_EVENT_MESSAGES = Counter(
    "gal_hub_event_messages_total",
    "Event messages this process's hub received from the channel layer (one per group it is "
    "in that the event was sent to), before de-duplication.",
    _SERVER,
)
EVENT_LOG_LAG = Gauge(
    "gal_event_log_lag",
    "Committed events this process's hub had not delivered yet, at its last log poll.",
    _SERVER,
    multiprocess_mode="max",
)

# The types a client may send; anything else is counted as "other" so that a client cannot
# create unbounded label values.
KNOWN_TYPES = frozenset(
    {
        "subscribe", "unsubscribe", "activity", "create", "update", "delete", "archive",
        "restore", "lock", "unlock", "lock_refresh", "lock_override", "auth", "ping",
    }
)  # fmt: skip

# Closes that are not worth a line on the staff page's recent errors: a client leaving, a
# server restarting.
NORMAL_CLOSE_CODES = frozenset({1000, 1001})


def _server() -> str:
    return server_id()


def view_key_label(view_key_id: int) -> str:
    """How logs, metrics and the connection registry name a view-key connection."""
    return f"view-key:{view_key_id}"


def _describe(consumer: Any) -> dict[str, Any]:
    user = getattr(consumer, "user", None)
    view_key_id = getattr(consumer, "view_key_id", None)
    if view_key_id is not None:
        username = view_key_label(view_key_id)
    elif user is not None and user.is_authenticated:
        username = user.get_username()
    else:
        username = None
    return {
        "connection_id": getattr(consumer, "connection_id", None),
        "user_id": getattr(consumer, "user_id", None),
        "username": username,
        "remote_address": client_address(consumer.scope),
        "server": _server(),
    }


def _log(event: str, consumer: Any, **fields: Any) -> None:
    if access_log.isEnabledFor(logging.INFO):
        access_log.info(StructuredLine({"event": event, **_describe(consumer), **fields}))


def connection_opened(consumer: Any) -> None:
    CONNECTS.labels(_server()).inc()
    CONNECTIONS_OPEN.labels(_server()).inc()
    view_key_id = getattr(consumer, "view_key_id", None)
    if view_key_id is not None:
        VIEW_KEY_CONNECTIONS_OPEN.labels(_server(), view_key_label(view_key_id)).inc()
    _log("connect", consumer, auth_method=consumer.scope.get("auth_method"))


def connection_closed(consumer: Any, code: int | None) -> None:
    CONNECTIONS_OPEN.labels(_server()).dec()
    view_key_id = getattr(consumer, "view_key_id", None)
    if view_key_id is not None:
        VIEW_KEY_CONNECTIONS_OPEN.labels(_server(), view_key_label(view_key_id)).dec()
    CLOSES.labels(_server(), str(code)).inc()
    duration = time.time() - getattr(consumer, "connected_at", time.time())
    _log("close", consumer, code=code, duration_s=round(duration, 3))
    # None: the server cancelled the connection while stopping, which is not the client's doing.
    if code is not None and code not in NORMAL_CLOSE_CODES:
        _remember(consumer, CLOSE, str(code), getattr(consumer, "close_cause", None))


def message_received(consumer: Any, message_type: str | None) -> None:
    label = message_type if message_type in KNOWN_TYPES else "other"
    RECEIVED.labels(_server(), label).inc()
    if message_log.isEnabledFor(logging.DEBUG):
        message_log.debug(
            "received %s on %s", message_type, getattr(consumer, "connection_id", None)
        )


def frame_sent(
    consumer: Any, message_type: str, data: dict[str, Any], *, request_type: str | None = None
) -> None:
    """One frame sent to a client; for an `error`, `request_type` is the type of the client
    message that caused it (None when the connection itself is the cause: idle, expiry)."""
    SENT.labels(_server(), message_type).inc()
    if message_type != "error":
        return
    code = str(data.get("code"))
    ERRORS.labels(_server(), code).inc()
    if code == "rate_limited":
        RATE_LIMITED.labels(_server()).inc()
    event = "permission_denied" if code == "permission_denied" else "rejected"
    _log(event, consumer, code=code, message=data.get("message"))
    _remember(consumer, ERROR, code, request_type)


def _known_type(request_type: str | None) -> str | None:
    # A client may send any `type`; only the known ones are kept, as in the metrics labels.
    if request_type is None:
        return None
    return request_type if request_type in KNOWN_TYPES else "other"


def _remember(consumer: Any, kind: str, code: str, request_type: str | None) -> None:
    """Queue the error or close for the staff page (realtime.ops.recent_errors); never raises."""
    try:
        described = _describe(consumer)
        record_recent_error(
            RecentError(
                at=time.time(),
                server_id=described["server"],
                connection_id=described["connection_id"],
                user_id=described["user_id"],
                username=described["username"],
                remote_address=described["remote_address"],
                kind=kind,
                code=code,
                request_type=_known_type(request_type),
            )
        )
    except Exception:
        message_log.debug("could not queue a recent error", exc_info=True)


def connection_disconnected_by_staff(
    *, connection_id: str, username: str, user_id: int, server: str, staff: Any, reason: str
) -> None:
    """The access-log line of a staff disconnect (realtime.ops.services.connection_disconnect)."""
    if access_log.isEnabledFor(logging.INFO):
        line = StructuredLine({
            "event": "staff_disconnect",
            "connection_id": connection_id,
            "user_id": user_id,
            "username": username,
            "server": server,
            "staff_user_id": staff.pk,
            "staff_username": staff.get_username(),
            "reason": reason,
        })  # fmt: skip
        access_log.info(line)


def resumed(recovered: bool) -> None:
    RESUMES.labels(_server(), "true" if recovered else "false").inc()


def events_delivered(event_type: str, recipients: int, committed_at: str | None) -> None:
    """One event handed to `recipients` local sockets (called once per event by the hub)."""
    if not recipients:
        return
    SENT.labels(_server(), event_type).inc(recipients)
    if committed_at:
        try:
            committed = datetime.fromisoformat(committed_at.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return
        BROADCAST_LATENCY.labels(_server()).observe(max(0.0, time.time() - committed))


def admitted_unregistered() -> None:
    """A connection admitted without a registry entry (the registry was unreachable)."""
    UNREGISTERED_ADMISSIONS.labels(_server()).inc()
    CONNECTIONS_UNREGISTERED.labels(_server()).inc()


def unregistered_resolved(outcome: str) -> None:
    """A connection admitted unregistered was `registered`, closed `over_limit`, or `closed`."""
    CONNECTIONS_UNREGISTERED.labels(_server()).dec()
    UNREGISTERED_OUTCOMES.labels(_server(), outcome).inc()


def hub_event_received() -> None:
    HUB_EVENT_MESSAGES.labels(_server()).inc()


def event_log_lag(events_behind: int) -> None:
    EVENT_LOG_LAG.labels(_server()).set(events_behind)

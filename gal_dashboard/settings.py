"""
Settings for GAL Live.

Every value that changes between machines is read here, once, from the environment, and has a
default documented in README.md. Code elsewhere reads `django.conf.settings`, never `os.environ`.
"""

from __future__ import annotations

import ipaddress
import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
# The SQLite database, collected static files and uploads. In a checkout: its var/. Installed
# from the wheel (`gal-live`), BASE_DIR is site-packages, so the default is ./var of the
# directory the server starts in.
VAR_DIR = Path(
    os.environ.get("VAR_DIR")
    or (BASE_DIR / "var" if (BASE_DIR / "manage.py").exists() else Path.cwd() / "var")
).resolve()


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, got {raw!r}")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {raw!r}") from exc
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def env_float(name: str, default: float, *, minimum: float = 0.0) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from exc
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)

_DEVELOPMENT_SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment for production, "
            "or set DEBUG=true for local development (make run does)."
        )
    SECRET_KEY = _DEVELOPMENT_SECRET_KEY

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])


def env_networks(
    name: str, default: list[str]
) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for value in env_list(name, default):
        try:
            networks.append(ipaddress.ip_network(value, strict=False))
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"{name}: {value!r} is not a network (CIDR): {exc}"
            ) from None
    return networks


# A scraper presents this as `Authorization: Bearer <token>` to read /metrics (staff may read it
# logged in). Empty: staff only.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")

# WebSockets from outside these networks are closed with 4003 (empty: from anywhere).
WS_ALLOWED_NETWORKS = env_networks("WS_ALLOWED_NETWORKS", [])


def env_origins(name: str, default: list[str]) -> list[str]:
    """Origins as browsers send them: `http(s)://host[:port]`, nothing after the host."""
    origins = []
    for value in env_list(name, default):
        parts = urlsplit(value)
        try:
            parts.port  # noqa: B018  # raises ValueError for a port that is not a port
        except ValueError:
            parts = parts._replace(scheme="")
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or "@" in parts.netloc
            or parts.path
            or parts.query
            or parts.fragment
        ):
            raise ImproperlyConfigured(
                f"{name}: {value!r} is not an origin (scheme://host[:port], "
                "e.g. https://live.gal.gg)"
            )
        origins.append(value)
    return origins


# Browser pages on other origins whose WebSockets are accepted besides our own pages (the
# request's own scheme, host and port): e.g. a separately served overlay. Empty: our pages only.
WS_ALLOWED_ORIGINS = env_origins("WS_ALLOWED_ORIGINS", [])
# The header a trusted proxy puts the client's address in (e.g. X-Forwarded-For), honoured only
# on connections from TRUSTED_PROXY_NETWORKS, so nobody else can claim an address.
TRUSTED_PROXY_HEADER = os.environ.get("TRUSTED_PROXY_HEADER", "")
TRUSTED_PROXY_NETWORKS = env_networks("TRUSTED_PROXY_NETWORKS", ["127.0.0.1/32", "::1/128"])

# Served over HTTPS (behind a TLS-terminating proxy that sets X-Forwarded-Proto): secure
# cookies, redirect plain HTTP, and HSTS. Off by default so `make run` and the tests work on
# plain http://127.0.0.1; docs/deployment.md turns it on in production.
HTTPS = env_bool("HTTPS", False)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS
# Trusted only when HTTPS is on: that is the deployment where the proxy sets the header (and
# strips a client's own).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", HTTPS)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"


def env_hosts(name: str, default: list[str]) -> list[str]:
    """Exact host names, each with an optional port (`cdn.gal.gg`, `img.gal.gg:8443`)."""
    hosts = []
    for value in env_list(name, default):
        host = value.lower()
        if not re.fullmatch(
            r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:\d{1,5})?", host
        ):
            raise ImproperlyConfigured(
                f"{name}: {value!r} is not a host name (e.g. cdn.gal.gg or cdn.gal.gg:8443)"
            )
        hosts.append(host)
    return hosts


# Hosts a canvas background may be loaded from over https, besides this site's own uploads
# (MEDIA_URL): every viewer, OBS included, fetches a background, so a third-party URL would
# tell that host who watches (issue 14, finding 8). Empty: uploads only.
BACKGROUND_IMAGE_HOSTS = env_hosts("BACKGROUND_IMAGE_HOSTS", [])

# No inline script anywhere: scripts and styles come from our own static files. Images come from
# here (uploaded backgrounds, static files), the BACKGROUND_IMAGE_HOSTS, or inline data: images
# (backgrounds pasted by older clients, Swagger UI's icons); never from any other site. The
# WebSocket is same-origin ('self' covers ws:/wss: of this host in CSP Level 3 browsers).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", *(f"https://{host}" for host in BACKGROUND_IMAGE_HOSTS)],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "axes",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "channels",
    # HTTP request and database metrics, on our own /metrics (gal_dashboard.metrics_view).
    "django_prometheus",
    "graphics",
    "dashboard",
    "locks",
    "realtime",
    "standings",
]

MIDDLEWARE = [
    # First and (but for axes) last: django-prometheus times and counts every request
    # (django_http_*), the redirects and refusals of the middleware between them included.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    # Serves /static/ from daphne itself, in development and production alike.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
    # Last, as django-axes asks: turns a login refused for too many failures into its 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "gal_dashboard.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [Path(__file__).resolve().parent / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

ASGI_APPLICATION = "gal_dashboard.asgi.application"

# Database: SQLite under var/ by default so `make run` works on a bare machine;
# PostgreSQL (or anything dj-database-url understands) when DATABASE_URL is set.
DATABASE_URL = os.environ.get("DATABASE_URL", "")
# No persistent connections: under ASGI, Django serves each request from a thread of its own,
# so a connection kept per thread is never reused and they pile up until the database refuses
# more (Django's documentation says as much). PostgreSQL gets a connection pool instead.
CONN_MAX_AGE = env_int("CONN_MAX_AGE", 0)
# The exception: the one thread per process where WebSocket handlers, the hub and the lock
# timers reach the database keeps its connection this many seconds (0: closed after each
# call, like the rest). Why and how: realtime/db.py.
WS_DB_CONN_MAX_AGE = env_int("WS_DB_CONN_MAX_AGE", 60, minimum=0)
# Connections per server process in the PostgreSQL pool (0: no pool). Several daphne processes
# share the database's max_connections (100 by default): 8 each leaves room for 10 processes.
DATABASE_POOL_MAX_SIZE = env_int("DATABASE_POOL_MAX_SIZE", 8)
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL,
            conn_max_age=CONN_MAX_AGE,
            # A connection kept between calls (realtime.db) is checked with a `SELECT 1` before
            # its first query of each call, so one that a database restart or failover cut is
            # replaced instead of failing that call.
            conn_health_checks=True,
        )
    }
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and (
        DATABASE_POOL_MAX_SIZE > 0
    ):
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": DATABASE_POOL_MAX_SIZE,
            # A request waits this long for a free connection before failing with a clear error.
            "timeout": 10,
        }
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "db.sqlite3"),
            # The test database is a file, not memory, so that a daphne process started by the
            # end-to-end tests sees the same data as the test itself.
            # One file per test run (by process id) so that parallel runs never share it.
            "TEST": {"NAME": str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3")},
            "CONN_MAX_AGE": CONN_MAX_AGE,
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # IMMEDIATE takes SQLite's write lock when a transaction begins, so two writers queue
        # instead of one failing with "database is locked" halfway through.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
# django-prometheus's subclasses of the same backends count queries, errors and connections
# (django_db_*) for /metrics; they behave as Django's own otherwise.
PROMETHEUS_DATABASE_ENGINES = {
    "django.db.backends.postgresql": "django_prometheus.db.backends.postgresql",
    "django.db.backends.sqlite3": "django_prometheus.db.backends.sqlite3",
}
DATABASES["default"]["ENGINE"] = PROMETHEUS_DATABASE_ENGINES.get(
    DATABASES["default"]["ENGINE"], DATABASES["default"]["ENGINE"]
)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Channel layer: in-process memory by default (one server process only); Redis when REDIS_URL
# is set, for several daphne processes behind a load balancer.
#
# Why the pub/sub layer rather than the core (list-based) RedisChannelLayer: we broadcast only to
# groups and never rely on a message waiting in a per-channel queue (a client that misses
# something resumes from the event log by seq). The pub/sub layer publishes a group message once,
# keeps group membership in the subscribing process rather than in Redis sorted sets (so a crashed
# server leaves no stale members behind), and measured faster in fan-out.
REDIS_URL = os.environ.get("REDIS_URL", "")
REDIS_CONNECT_TIMEOUT_SECONDS = env_float("REDIS_CONNECT_TIMEOUT_SECONDS", 2.0, minimum=0.05)
REDIS_SOCKET_TIMEOUT_SECONDS = env_float("REDIS_SOCKET_TIMEOUT_SECONDS", 5.0, minimum=0.05)
# The connection registry, presence store and recent errors use a Redis client of their own
# (realtime.redis_store.redis_client) with a shorter bound: they sit on a WebSocket's admission
# and on every heartbeat, and carry on without Redis rather than wait for it.
REDIS_STORE_TIMEOUT_SECONDS = env_float("REDIS_STORE_TIMEOUT_SECONDS", 2.0, minimum=0.05)
# Each server process sends a probe through the channel layer this often and expects it back
# within the timeout; when it does not come back, broadcasting is down (Redis away): clients
# are told, and events keep reaching them from the event log (EVENT_POLL_INTERVAL_SECONDS).
BROADCAST_PROBE_INTERVAL_SECONDS = env_float("BROADCAST_PROBE_INTERVAL_SECONDS", 2.0, minimum=0.05)
BROADCAST_PROBE_TIMEOUT_SECONDS = env_float("BROADCAST_PROBE_TIMEOUT_SECONDS", 2.0, minimum=0.05)
CHANNEL_LAYERS: dict[str, dict[str, Any]]
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        # Without these, a Redis host that stops answering (a partition rather
                        # than a refused connection) would hold every broadcast, and the REST
                        # write waiting on it, for as long as TCP retries.
                        "socket_connect_timeout": REDIS_CONNECT_TIMEOUT_SECONDS,
                        "socket_timeout": REDIS_SOCKET_TIMEOUT_SECONDS,
                    }
                ],
                "prefix": os.environ.get("CHANNEL_LAYER_PREFIX", "gal"),
            },
        }
    }
else:
    # Channels' in-memory layer, without its 24-hour group expiry and with a cheaper sweep
    # (realtime/delivery/memory_layer.py).
    CHANNEL_LAYERS = {"default": {"BACKEND": "realtime.delivery.memory_layer.InMemoryChannelLayer"}}

# First the login throttle (django-axes: refuses a locked-out account or address before any
# password is checked), then Django's ModelBackend with a user's permissions read in one query.
AUTHENTICATION_BACKENDS = [
    "gal_dashboard.login_throttle.LoginThrottleBackend",
    "gal_dashboard.auth_backends.RoleModelBackend",
]

# Failed logins (the API's token endpoint, /login/ and /admin/login/), counted by django-axes in
# the database, so every server process sees the same counts and the admin lists them
# ("Access attempts": delete a row to lift its lockout). An account, or an address, with
# LOGIN_FAILURE_LIMIT failures within LOGIN_LOCKOUT_SECONDS of each other is refused (429) until
# LOGIN_LOCKOUT_SECONDS pass without another try. Ten leaves room for typos, including a studio's
# operators behind one address; guessing a password at ten tries per quarter hour is hopeless.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 10, minimum=1)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 15 * 60, minimum=1)
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(seconds=LOGIN_LOCKOUT_SECONDS)
# By account and, separately, by address: an attacker spreading guesses over many addresses
# still locks the account; one guessing many accounts from one address locks the address.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# The address behind our trusted proxy, as the WebSocket side sees it (realtime.connection.network).
AXES_CLIENT_IP_CALLABLE = "gal_dashboard.login_throttle.client_address"
AXES_LOCKOUT_CALLABLE = "gal_dashboard.login_throttle.lockout_response"
# Successful logins are not recorded (Django keeps last_login); only failures are counted.
AXES_DISABLE_ACCESS_LOG = True
# No start-up banner in every server process's log.
AXES_VERBOSE = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or VAR_DIR / "static")
# WhiteNoise serves collected files from here (`make run` collects them); it warns on every
# request when the folder is missing, as on a fresh clone before the first collectstatic.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# WhiteNoise serves STATIC_ROOT (filled by collectstatic, as `make run` does); with finders it
# also serves the apps' static folders directly: development, and the browser tests' servers.
WHITENOISE_USE_FINDERS = env_bool("WHITENOISE_USE_FINDERS", DEBUG)
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", str(VAR_DIR / "media")))

LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/graphics/"
LOGOUT_REDIRECT_URL = "/login/"
# Uploaded media (background images) are served by the application itself, as static files are
# by WhiteNoise, so that one daphne serves everything; set SERVE_MEDIA=false when a proxy or a
# CDN serves MEDIA_ROOT instead.
SERVE_MEDIA = env_bool("SERVE_MEDIA", True)
# 10 MiB: a 1920x1080 PNG with photographic content is 3-6 MB.
BACKGROUND_UPLOAD_MAX_BYTES = env_int("BACKGROUND_UPLOAD_MAX_BYTES", 10 * 1024 * 1024, minimum=1024)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "gal_dashboard.tokens.FamilyJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "gal_dashboard.api_errors.api_exception_handler",
    "DEFAULT_PARSER_CLASSES": ["gal_dashboard.api_errors.JSONBodyParser"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(
        seconds=env_int("JWT_ACCESS_LIFETIME_SECONDS", 15 * 60, minimum=1)
    ),
    "REFRESH_TOKEN_LIFETIME": timedelta(
        seconds=env_int("JWT_REFRESH_LIFETIME_SECONDS", 24 * 60 * 60, minimum=1)
    ),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    # Tokens carry a digest of the password hash they were issued under; once the password
    # changes (any path: the admin, changepassword, set_password) they are refused, refresh
    # tokens included (gal_dashboard.tokens).
    "CHECK_REVOKE_TOKEN": True,
    # Access tokens name their refresh token, so that logging out revokes them too.
    "TOKEN_OBTAIN_SERIALIZER": "gal_dashboard.tokens.FamilyTokenObtainPairSerializer",
    "TOKEN_REFRESH_SERIALIZER": "gal_dashboard.tokens.FamilyTokenRefreshSerializer",
    "TOKEN_VERIFY_SERIALIZER": "gal_dashboard.tokens.FamilyTokenVerifySerializer",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "GAL Live API",
    "DESCRIPTION": "Graphics, canvas locks and the event log of the GAL live graphics dashboard.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # 3.1 is JSON Schema, so the canvas schema generated from graphics.canvas fits as it is.
    "OAS_VERSION": "3.1.0",
    # The docs page loads Swagger UI from our static files (drf-spectacular-sidecar), not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "gal_dashboard.api_schema.request_bodies_are_closed",
    ],
}

# Domain settings.
# A lock lasts five minutes unless refreshed: long enough for an operator to finish an edit,
# short enough that a closed laptop does not block the show for long.
LOCK_TTL_SECONDS = env_int("LOCK_TTL_SECONDS", 300, minimum=1)
# 1 MiB of canvas JSON: room for hundreds of elements, small enough to broadcast to every screen.
GRAPHIC_DATA_MAX_BYTES = env_int("GRAPHIC_DATA_MAX_BYTES", 1024 * 1024, minimum=1024)
# Versions of each graphic kept in its history; 0 keeps all. Every version holds a whole canvas
# (up to GRAPHIC_DATA_MAX_BYTES), so a busy show may want a bound; older ones go on the next write.
GRAPHIC_HISTORY_MAX_VERSIONS = env_int("GRAPHIC_HISTORY_MAX_VERSIONS", 0)

# Real-time delivery.
# Each server reads the event log this often to pick up any event whose broadcast was lost
# (Redis away, a change made by a process without a channel layer): the worst-case delay then.
EVENT_POLL_INTERVAL_SECONDS = env_float("EVENT_POLL_INTERVAL_SECONDS", 2.0, minimum=0.05)
# Expired locks are recorded and broadcast within this interval (plus delivery) of expires_at;
# the design promises 5 s.
LOCK_SWEEP_INTERVAL_SECONDS = env_float("LOCK_SWEEP_INTERVAL_SECONDS", 2.0, minimum=0.05)
# A lock's holder is warned (`lock_expiring`) this long before it runs out: a minute is time to
# finish a sentence and refresh. Sent by the lock sweep above, so up to one interval late; 0: never.
LOCK_EXPIRING_NOTICE_SECONDS = env_int("LOCK_EXPIRING_NOTICE_SECONDS", 60)

# A client that stops reading may fall this far behind (bytes of frames queued for it) before it
# is closed with 4009 and left to resume from its last seq: 16 MiB holds minutes of ordinary
# updates, or a dozen full canvases at the 1 MiB limit.
WS_SEND_BACKLOG_BYTES = env_int("WS_SEND_BACKLOG_BYTES", 16 * 1024 * 1024, minimum=65536)
# A server process (gal_dashboard.serve) runs a full garbage collection after this many
# collections of the middle generation (CPython: 10): each one stops the event loop for as long
# as it takes to walk every object: 60-300 ms at 1,000 connections, about a second at 5,000
# (gal_dashboard/gc_tuning.py).
GC_FULL_COLLECTION_THRESHOLD = env_int("GC_FULL_COLLECTION_THRESHOLD", 1000, minimum=1)

# Retention of the event log (`manage.py prune_events`). A day covers any reconnect of a show
# day; the newest 10,000 events are kept whatever their age, so a quiet week still lets a
# client that slept through it resume instead of reloading.
EVENT_RETENTION_SECONDS = env_int("EVENT_RETENTION_SECONDS", 24 * 60 * 60, minimum=1)
EVENT_RETENTION_MIN_EVENTS = env_int("EVENT_RETENTION_MIN_EVENTS", 10_000)
# A `subscribe` with `last_seq` replays at most this many events; further behind, a snapshot is
# smaller and quicker to apply than the history (1,000 is minutes of a busy show).
EVENT_REPLAY_MAX_EVENTS = env_int("EVENT_REPLAY_MAX_EVENTS", 1000)
# The largest page of GET /api/events/ (and its default `limit`): about the replay bound, so
# one poll answers in one database read of bounded size.
EVENT_API_PAGE_SIZE = env_int("EVENT_API_PAGE_SIZE", 500, minimum=1)
# Connections, heartbeats and limits (docs/protocol.md, "Heartbeats" and "Limits").
# Names this process in the connection registry and the metrics' `server` label. Empty means
# `<hostname>:<port>` under gal_dashboard.serve (which sets it from -p/--port), else the host
# name: stable across restarts, distinct per port.
SERVER_ID = os.environ.get("SERVER_ID", "")
# Every connection gets a `heartbeat` frame this often. Browsers cannot see WebSocket-level
# pings, so the browser client detects a dead connection by missing two of these.
WS_HEARTBEAT_INTERVAL_SECONDS = env_float("WS_HEARTBEAT_INTERVAL_SECONDS", 20.0, minimum=0.05)
# A connection from which nothing (not even a `ping` answering a heartbeat) arrived for this
# long is closed with 4000. A client that stops reading stops answering heartbeats, so this is
# also what bounds a non-reading client under daphne, whose sends never wait.
WS_IDLE_TIMEOUT_SECONDS = env_float("WS_IDLE_TIMEOUT_SECONDS", 60.0, minimum=0.1)


def require_two_heartbeats(name: str, value: float, why: str) -> None:
    """`value` (the setting `name`) must span at least two heartbeat intervals, because `why`."""
    if value < 2 * WS_HEARTBEAT_INTERVAL_SECONDS:
        raise ImproperlyConfigured(
            f"{name} ({value:g}) must be at least twice WS_HEARTBEAT_INTERVAL_SECONDS "
            f"({WS_HEARTBEAT_INTERVAL_SECONDS:g}): {why}"
        )


require_two_heartbeats(
    "WS_IDLE_TIMEOUT_SECONDS",
    WS_IDLE_TIMEOUT_SECONDS,
    "clients answer heartbeats, so a shorter timeout would close well-behaved quiet clients",
)
# Above this many subscribers of a graphic on one server (an on-air audience, not a team of
# editors), viewers' arrivals and departures are not announced one by one: each would cost a
# frame per subscriber. Editing is still announced; subscribe acks carry the whole presence.
PRESENCE_ANNOUNCE_MAX_AUDIENCE = env_int("PRESENCE_ANNOUNCE_MAX_AUDIENCE", 100, minimum=1)
# A subscribe ack lists at most this many present users (editors first) with the full counts.
PRESENCE_LIST_MAX = env_int("PRESENCE_LIST_MAX", 50, minimum=1)
# Presence (realtime.presence.tracker): each connection's entry on a graphic lives this long without
# a refresh. Entries are renewed with every heartbeat and expired ones are swept on every
# supervisor tick (at most a quarter of WS_IDLE_TIMEOUT_SECONDS apart, 15 s by default), so a
# crashed server's users are announced `left` within 45 + 15 = 60 s, as issue 6 asks.
PRESENCE_TTL_SECONDS = env_float("PRESENCE_TTL_SECONDS", 45.0, minimum=0.1)
require_two_heartbeats(
    "PRESENCE_TTL_SECONDS",
    PRESENCE_TTL_SECONDS,
    "entries are renewed once per heartbeat, so one late renewal must not make a present user "
    "leave",
)
# The old system's stated targets (issue 5): five tabs per person, across every server.
WS_MAX_CONNECTIONS_PER_USER = env_int("WS_MAX_CONNECTIONS_PER_USER", 5, minimum=1)
# An overlay view key is shared by an OBS setup's scenes and previews (a few browser sources,
# a studio-mode preview, a backup machine): ten, across servers, and a leaked key cannot open
# more than that.
WS_MAX_CONNECTIONS_PER_VIEW_KEY = env_int("WS_MAX_CONNECTIONS_PER_VIEW_KEY", 10, minimum=1)
# Frames per connection: a token bucket of WS_RATE_LIMIT_BURST, refilled at
# WS_RATE_LIMIT_PER_MINUTE. An operator clicking fast stays far below; a runaway script does not.
WS_RATE_LIMIT_BURST = env_int("WS_RATE_LIMIT_BURST", 20, minimum=1)
WS_RATE_LIMIT_PER_MINUTE = env_int("WS_RATE_LIMIT_PER_MINUTE", 100, minimum=1)
# Persistent flooding: each rejected frame is a strike, forgiven at this many per minute; a
# connection with more than this many outstanding strikes is closed with 4008. A client that
# honours `retry_after` collects one or two strikes at most.
WS_RATE_LIMIT_FLOOD_REJECTIONS = env_int("WS_RATE_LIMIT_FLOOD_REJECTIONS", 30, minimum=1)
# Room for a frame's envelope (type, request_id, graphic_id, version, title, event_name)
# around the largest canvas; titles and names are far smaller than this.
WS_MESSAGE_ENVELOPE_BYTES = 64 * 1024
# Largest incoming WebSocket message; a larger one closes the connection with 1009. It must
# hold the largest canvas an `update` may carry, so its default follows GRAPHIC_DATA_MAX_BYTES.
WS_MAX_MESSAGE_BYTES = env_int(
    "WS_MAX_MESSAGE_BYTES", GRAPHIC_DATA_MAX_BYTES + WS_MESSAGE_ENVELOPE_BYTES, minimum=1024
)
if WS_MAX_MESSAGE_BYTES < GRAPHIC_DATA_MAX_BYTES + WS_MESSAGE_ENVELOPE_BYTES:
    raise ImproperlyConfigured(
        f"WS_MAX_MESSAGE_BYTES ({WS_MAX_MESSAGE_BYTES}) must be at least GRAPHIC_DATA_MAX_BYTES "
        f"({GRAPHIC_DATA_MAX_BYTES}) + {WS_MESSAGE_ENVELOPE_BYTES} bytes of envelope, or the "
        "largest canvas the API accepts could not be sent over the WebSocket"
    )
# permessage-deflate on outgoing WebSocket frames (issue 17): "auto" accepts a client's offer
# (daphne through gal_dashboard.serve, uvicorn with the websockets implementation) and compresses
# frames of at least WS_COMPRESSION_MIN_BYTES (snapshots, full graphics); smaller frames go out
# plain, where compressing costs more CPU than the bytes it saves. "off" never negotiates it.
WS_COMPRESSION = os.environ.get("WS_COMPRESSION", "auto").strip().lower() or "auto"
if WS_COMPRESSION not in ("auto", "off"):
    raise ImproperlyConfigured(f'WS_COMPRESSION must be "auto" or "off", got {WS_COMPRESSION!r}')
WS_COMPRESSION_MIN_BYTES = env_int("WS_COMPRESSION_MIN_BYTES", 1024, minimum=0)
# Subscriptions per connection: the list ("all") plus every graphic of a busy show fit easily.
WS_MAX_SUBSCRIPTIONS = env_int("WS_MAX_SUBSCRIPTIONS", 100, minimum=1)
# The staff connections page lists this many of the newest error frames and abnormal closes,
# across every server: a screenful, enough to see what a misbehaving client or a bad deploy is
# doing, small enough to keep in one Redis list (each entry is about 250 bytes).
STAFF_RECENT_ERRORS_MAX = env_int("STAFF_RECENT_ERRORS_MAX", 100, minimum=1)

# Slow and silent connections (gal_dashboard.serve; daphne only, whole seconds as daphne takes
# them). A request's headers must be complete this long after the connection starts waiting for
# them, however slowly they trickle in: 10 s is ages for a browser or nginx, and a slowloris
# client holds a socket no longer. Twisted's default is none (its idle timer restarts on each byte).
HTTP_HEADER_TIMEOUT_SECONDS = env_int("HTTP_HEADER_TIMEOUT_SECONDS", 10, minimum=1)
# A connection that sends nothing for this long while a request (head or body) is due is closed;
# Twisted's default is 60 s. A WebSocket has its own idle close (WS_IDLE_TIMEOUT_SECONDS).
HTTP_IDLE_TIMEOUT_SECONDS = env_int("HTTP_IDLE_TIMEOUT_SECONDS", 15, minimum=1)
# The application must have answered a request within this (daphne's --http-timeout, 503 or a cut
# response past it; daphne's default is none). No endpoint long-polls or streams for long: a
# minute is room for a slow database, not for a request that hangs forever.
HTTP_RESPONSE_TIMEOUT_SECONDS = env_int("HTTP_RESPONSE_TIMEOUT_SECONDS", 60, minimum=1)
# A WebSocket handshake must be accepted within this (daphne's --websocket_connect_timeout): it
# covers the authentication middleware; the consumer accepts before its own checks.
WS_CONNECT_TIMEOUT_SECONDS = env_int("WS_CONNECT_TIMEOUT_SECONDS", 5, minimum=1)

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(
        f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {LOG_LEVEL!r}"
    )

# `text` (the default: `<time> <LEVEL> <logger> <message>`, for a person at a terminal) or
# `json` (one JSON object per line with time, level, logger and message, for a log shipper).
# The access log (gal.access) is JSON lines either way.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text").lower()
if LOG_FORMAT not in {"text", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be text or json, got {LOG_FORMAT!r}")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact_secrets": {"()": "gal_dashboard.logging.RedactSecretsFilter"},
        # A Redis outage is logged once when it starts and once when it ends, not once per
        # failed operation (realtime.ops.redis_outage).
        "redis_outage": {"()": "realtime.ops.redis_outage.RedisOutageFilter"},
    },
    "formatters": {
        # gal.access is a JSON line either way; LOG_FORMAT chooses for everything else.
        "console": {
            "()": "gal_dashboard.logging.ConsoleFormatter",
            "log_format": LOG_FORMAT,
            "text_format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        }
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "console",
            "filters": ["redis_outage", "redact_secrets"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # django-axes says each failed login at INFO twice before its one WARNING: keep the WARNING.
    "loggers": {"axes": {"level": "WARNING"}},
}

"""Settings come from the environment and fail loudly when they are wrong.

Each case starts a fresh Python with a clean environment (only what the case sets), because
settings are read once at import and the test process has already imported them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEST_SECRET_KEY = "settings-test-secret-key-0123456789abcdefghijklmnopqrstuvwxyz"

PROBE = """
import json, os
os.environ["DJANGO_SETTINGS_MODULE"] = "gal_dashboard.settings"
import django
django.setup()
from django.conf import settings
database = settings.DATABASES["default"]
layer = settings.CHANNEL_LAYERS["default"]
print(json.dumps({
    "DEBUG": settings.DEBUG,
    "SECRET_KEY": settings.SECRET_KEY,
    "WS_COMPRESSION": settings.WS_COMPRESSION,
    "WS_COMPRESSION_MIN_BYTES": settings.WS_COMPRESSION_MIN_BYTES,
    "ALLOWED_HOSTS": settings.ALLOWED_HOSTS,
    "ENGINE": database["ENGINE"],
    "NAME": str(database["NAME"]),
    "HOST": database.get("HOST", ""),
    "PORT": database.get("PORT", ""),
    "USER": database.get("USER", ""),
    "OPTIONS": database.get("OPTIONS", {}),
    "CHANNEL_BACKEND": layer["BACKEND"],
    "CHANNEL_CONFIG": layer.get("CONFIG", {}),
    "LOCK_TTL_SECONDS": settings.LOCK_TTL_SECONDS,
    "GRAPHIC_DATA_MAX_BYTES": settings.GRAPHIC_DATA_MAX_BYTES,
    "EVENT_RETENTION_SECONDS": settings.EVENT_RETENTION_SECONDS,
    "EVENT_RETENTION_MIN_EVENTS": settings.EVENT_RETENTION_MIN_EVENTS,
    "EVENT_REPLAY_MAX_EVENTS": settings.EVENT_REPLAY_MAX_EVENTS,
    "EVENT_API_PAGE_SIZE": settings.EVENT_API_PAGE_SIZE,
    "WS_ALLOWED_NETWORKS": [str(network) for network in settings.WS_ALLOWED_NETWORKS],
    "WS_ALLOWED_ORIGINS": settings.WS_ALLOWED_ORIGINS,
    "BACKGROUND_IMAGE_HOSTS": settings.BACKGROUND_IMAGE_HOSTS,
    "IMG_SRC": settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["img-src"],
    "AXES_FAILURE_LIMIT": settings.AXES_FAILURE_LIMIT,
    "AXES_COOLOFF_SECONDS": settings.AXES_COOLOFF_TIME.total_seconds(),
}))
"""


def start_django(**environ: str) -> subprocess.CompletedProcess[str]:
    """Import the settings and set Django up in a new interpreter whose environment holds
    only PATH and `environ`."""
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1", **environ}
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def loaded_settings(**environ: str) -> dict[str, Any]:
    """The settings Django starts with under `environ` (which must be valid)."""
    result = start_django(**environ)
    assert result.returncode == 0, result.stderr
    settings: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return settings


def refusal(**environ: str) -> str:
    """The error output of a start that `environ` must make fail with ImproperlyConfigured."""
    result = start_django(**environ)
    assert result.returncode != 0, result.stdout
    assert "django.core.exceptions.ImproperlyConfigured" in result.stderr, result.stderr
    return result.stderr


@pytest.mark.parametrize("debug", [None, "", "false", "0", "no"])
def test_without_a_secret_key_production_refuses_to_start(debug: str | None) -> None:
    """With DEBUG unset or false and no SECRET_KEY, the server does not start, and the error
    says what to set."""
    environ = {} if debug is None else {"DEBUG": debug}
    message = refusal(**environ)
    assert "SECRET_KEY is not set" in message
    assert "DEBUG=true" in message


def test_debug_starts_with_a_development_key() -> None:
    """For local development, DEBUG=true without a SECRET_KEY starts with a fixed development
    key that says it is insecure."""
    settings = loaded_settings(DEBUG="true")
    assert settings["DEBUG"] is True
    assert settings["SECRET_KEY"]
    assert "insecure" in settings["SECRET_KEY"]


def test_a_given_secret_key_is_used_and_debug_is_off_by_default() -> None:
    """Production sets SECRET_KEY; DEBUG is off unless asked for, and the documented
    defaults apply."""
    settings = loaded_settings(SECRET_KEY=TEST_SECRET_KEY)
    assert settings["SECRET_KEY"] == TEST_SECRET_KEY
    assert settings["DEBUG"] is False
    assert settings["ALLOWED_HOSTS"] == ["127.0.0.1", "localhost"]
    assert settings["LOCK_TTL_SECONDS"] == 300
    assert settings["GRAPHIC_DATA_MAX_BYTES"] == 1024 * 1024


def test_without_database_url_the_database_is_sqlite_with_immediate_transactions() -> None:
    """The default database is a SQLite file under var/, whose writers queue (IMMEDIATE)
    rather than fail with "database is locked"."""
    settings = loaded_settings(SECRET_KEY=TEST_SECRET_KEY)
    # django-prometheus's subclass of Django's SQLite backend (its queries are counted).
    assert settings["ENGINE"] == "django_prometheus.db.backends.sqlite3"
    assert settings["NAME"] == str(PROJECT_ROOT / "var" / "db.sqlite3")
    assert settings["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


def test_a_postgres_database_url_selects_postgresql() -> None:
    """DATABASE_URL=postgres://... is parsed into the PostgreSQL engine with its host, port,
    user and database name (nothing connects at start)."""
    settings = loaded_settings(
        SECRET_KEY=TEST_SECRET_KEY,
        DATABASE_URL="postgres://gal:s3cret@db.example.internal:5433/gal_live",
    )
    assert settings["ENGINE"] == "django_prometheus.db.backends.postgresql"
    assert settings["NAME"] == "gal_live"
    assert (settings["HOST"], settings["PORT"], settings["USER"]) == (
        "db.example.internal",
        5433,
        "gal",
    )


def test_redis_url_selects_the_redis_pubsub_channel_layer() -> None:
    """With REDIS_URL several servers share the Redis pub/sub channel layer at that URL."""
    settings = loaded_settings(SECRET_KEY=TEST_SECRET_KEY, REDIS_URL="redis://127.0.0.1:6379/3")
    assert settings["CHANNEL_BACKEND"] == "channels_redis.pubsub.RedisPubSubChannelLayer"
    assert settings["CHANNEL_CONFIG"]["hosts"] == [
        {
            "address": "redis://127.0.0.1:6379/3",
            "socket_connect_timeout": 2.0,
            "socket_timeout": 5.0,
        }
    ]


def test_redis_timeouts_are_settings() -> None:
    """A partitioned Redis must not hold broadcasts (and the writes waiting on them) forever."""
    settings = loaded_settings(
        SECRET_KEY=TEST_SECRET_KEY,
        REDIS_URL="redis://127.0.0.1:6379/3",
        REDIS_CONNECT_TIMEOUT_SECONDS="0.5",
        REDIS_SOCKET_TIMEOUT_SECONDS="1.5",
    )
    (host,) = settings["CHANNEL_CONFIG"]["hosts"]
    assert (host["socket_connect_timeout"], host["socket_timeout"]) == (0.5, 1.5)


def test_without_redis_url_the_channel_layer_is_in_memory() -> None:
    """Without REDIS_URL, one server process uses the in-memory channel layer."""
    settings = loaded_settings(SECRET_KEY=TEST_SECRET_KEY)
    assert settings["CHANNEL_BACKEND"] == "realtime.delivery.memory_layer.InMemoryChannelLayer"


def test_integer_settings_are_read_from_the_environment() -> None:
    """LOCK_TTL_SECONDS and GRAPHIC_DATA_MAX_BYTES take whole numbers from the environment;
    ALLOWED_HOSTS is a comma-separated list."""
    settings = loaded_settings(
        SECRET_KEY=TEST_SECRET_KEY,
        LOCK_TTL_SECONDS="30",
        GRAPHIC_DATA_MAX_BYTES="4096",
        ALLOWED_HOSTS=" live.gal.example , localhost ,",
    )
    assert settings["LOCK_TTL_SECONDS"] == 30
    assert settings["GRAPHIC_DATA_MAX_BYTES"] == 4096
    assert settings["ALLOWED_HOSTS"] == ["live.gal.example", "localhost"]


def test_event_retention_replay_and_page_settings_have_their_documented_defaults() -> None:
    """Retention 24 h and at least 10,000 events, replays of up to 1,000 events, polling pages
    of 500, each overridable from the environment."""
    defaults = loaded_settings(SECRET_KEY=TEST_SECRET_KEY)
    assert defaults["EVENT_RETENTION_SECONDS"] == 86400
    assert defaults["EVENT_RETENTION_MIN_EVENTS"] == 10000
    assert defaults["EVENT_REPLAY_MAX_EVENTS"] == 1000
    assert defaults["EVENT_API_PAGE_SIZE"] == 500
    changed = loaded_settings(
        SECRET_KEY=TEST_SECRET_KEY,
        EVENT_RETENTION_SECONDS="3600",
        EVENT_RETENTION_MIN_EVENTS="0",
        EVENT_REPLAY_MAX_EVENTS="50",
        EVENT_API_PAGE_SIZE="20",
    )
    assert changed["EVENT_RETENTION_SECONDS"] == 3600
    assert changed["EVENT_RETENTION_MIN_EVENTS"] == 0
    assert changed["EVENT_REPLAY_MAX_EVENTS"] == 50
    assert changed["EVENT_API_PAGE_SIZE"] == 20


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("LOCK_TTL_SECONDS", "abc", "LOCK_TTL_SECONDS must be a whole number"),
        ("LOCK_TTL_SECONDS", "2.5", "LOCK_TTL_SECONDS must be a whole number"),
        ("LOCK_TTL_SECONDS", "0", "LOCK_TTL_SECONDS must be at least 1"),
        ("GRAPHIC_DATA_MAX_BYTES", "1MB", "GRAPHIC_DATA_MAX_BYTES must be a whole number"),
        ("GRAPHIC_DATA_MAX_BYTES", "100", "GRAPHIC_DATA_MAX_BYTES must be at least 1024"),
        ("DEBUG", "maybe", "DEBUG must be true or false"),
        ("EVENT_RETENTION_SECONDS", "0", "EVENT_RETENTION_SECONDS must be at least 1"),
        ("EVENT_API_PAGE_SIZE", "0", "EVENT_API_PAGE_SIZE must be at least 1"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT must be text or json"),
    ],
)
def test_a_malformed_setting_refuses_to_start_naming_it(name: str, value: str, says: str) -> None:
    """A setting that is not what it should be stops the start with a message naming the
    setting and the bad value, rather than running with a surprise."""
    message = refusal(SECRET_KEY=TEST_SECRET_KEY, **{name: value})
    assert says in message
    assert repr(value) in message or value in message


def test_compression_is_auto_above_1_kb_by_default_and_can_be_turned_off() -> None:
    defaults = loaded_settings(SECRET_KEY=TEST_SECRET_KEY)
    assert (defaults["WS_COMPRESSION"], defaults["WS_COMPRESSION_MIN_BYTES"]) == ("auto", 1024)
    changed = loaded_settings(
        SECRET_KEY=TEST_SECRET_KEY, WS_COMPRESSION=" OFF ", WS_COMPRESSION_MIN_BYTES="4096"
    )
    assert (changed["WS_COMPRESSION"], changed["WS_COMPRESSION_MIN_BYTES"]) == ("off", 4096)
    message = refusal(SECRET_KEY=TEST_SECRET_KEY, WS_COMPRESSION="gzip")
    assert "WS_COMPRESSION must be" in message and "'gzip'" in message


def test_the_websocket_message_limit_follows_the_canvas_limit() -> None:
    """Unset, WS_MAX_MESSAGE_BYTES is the canvas limit plus 64 KiB of envelope; set below
    that, the server refuses to start, naming both settings."""
    probe = PROBE.replace(
        '"GRAPHIC_DATA_MAX_BYTES": settings.GRAPHIC_DATA_MAX_BYTES,',
        '"GRAPHIC_DATA_MAX_BYTES": settings.GRAPHIC_DATA_MAX_BYTES, '
        '"WS_MAX_MESSAGE_BYTES": settings.WS_MAX_MESSAGE_BYTES,',
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=PROJECT_ROOT,
        env={"PATH": os.environ.get("PATH", ""), "SECRET_KEY": TEST_SECRET_KEY,
             "GRAPHIC_DATA_MAX_BYTES": "4096"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1])["WS_MAX_MESSAGE_BYTES"] == 4096 + 65536

    message = refusal(
        SECRET_KEY=TEST_SECRET_KEY, GRAPHIC_DATA_MAX_BYTES="1048576", WS_MAX_MESSAGE_BYTES="1048576"
    )
    assert "WS_MAX_MESSAGE_BYTES (1048576) must be at least GRAPHIC_DATA_MAX_BYTES" in message


def test_the_idle_timeout_must_leave_room_for_heartbeat_answers() -> None:
    """An idle timeout shorter than two heartbeat intervals would close clients that answer
    every heartbeat: the server refuses to start."""
    message = refusal(
        SECRET_KEY=TEST_SECRET_KEY, WS_HEARTBEAT_INTERVAL_SECONDS="20", WS_IDLE_TIMEOUT_SECONDS="30"
    )
    assert "WS_IDLE_TIMEOUT_SECONDS (30) must be at least twice" in message


def test_network_settings_are_cidr_lists() -> None:
    settings = loaded_settings(
        SECRET_KEY=TEST_SECRET_KEY, WS_ALLOWED_NETWORKS="10.0.0.0/8, 2001:db8::/32"
    )
    assert settings["WS_ALLOWED_NETWORKS"] == ["10.0.0.0/8", "2001:db8::/32"]


def test_a_bad_network_is_refused_at_start_up() -> None:
    error = refusal(SECRET_KEY=TEST_SECRET_KEY, WS_ALLOWED_NETWORKS="10.0.0.0/8,ten")
    assert "WS_ALLOWED_NETWORKS: 'ten' is not a network" in error


def test_allowed_origins_and_background_hosts_are_empty_by_default() -> None:
    """Our own pages only, backgrounds from our uploads (or inline) only."""
    settings = loaded_settings(SECRET_KEY=TEST_SECRET_KEY)
    assert settings["WS_ALLOWED_ORIGINS"] == []
    assert settings["BACKGROUND_IMAGE_HOSTS"] == []
    assert settings["IMG_SRC"] == ["'self'", "data:"]


def test_background_hosts_are_the_only_other_sites_images_load_from() -> None:
    settings = loaded_settings(
        SECRET_KEY=TEST_SECRET_KEY,
        WS_ALLOWED_ORIGINS="http://localhost:5173, https://overlay.gal.gg",
        BACKGROUND_IMAGE_HOSTS="CDN.gal.gg, img.gal.gg:8443",
    )
    assert settings["WS_ALLOWED_ORIGINS"] == ["http://localhost:5173", "https://overlay.gal.gg"]
    assert settings["BACKGROUND_IMAGE_HOSTS"] == ["cdn.gal.gg", "img.gal.gg:8443"]
    assert settings["IMG_SRC"] == [
        "'self'",
        "data:",
        "https://cdn.gal.gg",
        "https://img.gal.gg:8443",
    ]


@pytest.mark.parametrize(
    "origin", ["localhost:5173", "http://localhost:5173/", "ws://localhost", "*", "null"]
)
def test_an_allowed_origin_that_is_not_an_origin_is_refused_at_start_up(origin: str) -> None:
    error = refusal(SECRET_KEY=TEST_SECRET_KEY, WS_ALLOWED_ORIGINS=origin)
    assert f"WS_ALLOWED_ORIGINS: {origin!r} is not an origin" in error


@pytest.mark.parametrize("host", ["https://cdn.gal.gg", "*.gal.gg", "cdn.gal.gg/images", "*"])
def test_a_background_host_that_is_not_a_host_is_refused_at_start_up(host: str) -> None:
    """A scheme, a wildcard or a path would widen the Content-Security-Policy beyond one host."""
    error = refusal(SECRET_KEY=TEST_SECRET_KEY, BACKGROUND_IMAGE_HOSTS=host)
    assert f"BACKGROUND_IMAGE_HOSTS: {host!r} is not a host name" in error


def test_a_presence_ttl_shorter_than_two_heartbeats_is_refused() -> None:
    """Presence entries are renewed once per heartbeat: a TTL under two intervals would make
    present users leave after one late renewal, so the server refuses to start."""
    message = refusal(
        SECRET_KEY=TEST_SECRET_KEY, WS_HEARTBEAT_INTERVAL_SECONDS="20", PRESENCE_TTL_SECONDS="30"
    )
    assert "PRESENCE_TTL_SECONDS (30) must be at least twice" in message


def test_login_throttle_settings_have_their_documented_defaults() -> None:
    """Ten failed logins lock an account or an address out for 15 minutes; both come from
    the environment, and a limit of 0 is refused."""
    defaults = loaded_settings(SECRET_KEY=TEST_SECRET_KEY)
    assert (defaults["AXES_FAILURE_LIMIT"], defaults["AXES_COOLOFF_SECONDS"]) == (10, 900)
    changed = loaded_settings(
        SECRET_KEY=TEST_SECRET_KEY, LOGIN_FAILURE_LIMIT="5", LOGIN_LOCKOUT_SECONDS="60"
    )
    assert (changed["AXES_FAILURE_LIMIT"], changed["AXES_COOLOFF_SECONDS"]) == (5, 60)
    assert "LOGIN_FAILURE_LIMIT" in refusal(SECRET_KEY=TEST_SECRET_KEY, LOGIN_FAILURE_LIMIT="0")

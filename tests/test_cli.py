"""`gal-live` (gal_dashboard/cli.py): its commands, in process. tests/test_packaging.py runs the
installed script itself."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings

from gal_dashboard.cli import APPLICATION, main, serve_arguments


def test_serve_names_our_application_unless_given_one():
    assert serve_arguments(["-b", "127.0.0.1", "-p", "8000"]) == [
        "-b", "127.0.0.1", "-p", "8000", APPLICATION,
    ]  # fmt: skip
    assert serve_arguments(["--bind", "::1"]) == ["--bind", "::1", APPLICATION]
    assert serve_arguments(["uvicorn", "--host", "::1", "other.asgi:app"]) == [
        "uvicorn", "--host", "::1", "other.asgi:app",
    ]  # fmt: skip


def test_without_a_command_it_prints_the_usage(capsys: Any):
    assert main([]) == 2
    assert "gal-live serve" in capsys.readouterr().err
    assert main(["--help"]) == 0
    assert main(["nonsense"]) == 2


@pytest.mark.django_db
def test_check_passes_on_a_migrated_database(capsys: Any):
    assert main(["check"]) == 0

    out = capsys.readouterr().out
    assert "database: ok" in out
    assert ("redis: ok" if settings.REDIS_URL else "redis: not configured") in out


@pytest.mark.django_db
def test_check_fails_on_unapplied_migrations(capsys: Any):
    """A migration the database has not recorded (forgotten on a deploy) fails the check."""
    from django.db import connection
    from django.db.migrations.recorder import MigrationRecorder

    MigrationRecorder(connection).record_unapplied("standings", "0002_scorekeeper_role")

    assert main(["check"]) == 1
    assert (
        "database: FAILED (1 migration to apply: gal-live manage migrate)"
        in capsys.readouterr().out
    )


def test_manage_runs_a_django_command(capsys: Any):
    assert main(["manage", "check"]) == 0
    assert "no issues" in capsys.readouterr().out

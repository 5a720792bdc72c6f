"""`manage.py import_results`: the CSV import from a shell, as a named user, with a summary on
success and every problem listed by line (and a non-zero exit) on failure."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections

from gal_dashboard.access import VIEWER
from standings.imports import RESULTS_IMPORT_MAX_BYTES
from standings.management.commands.import_results import Command
from standings.models import Result, ResultChange

pytestmark = pytest.mark.django_db

SHEET = "player,round,placement\n" + "".join(f"P{n:02},1,{n}\n" for n in range(1, 9))


@pytest.fixture
def event(make_event: Any) -> Any:
    return make_event(players=8, rounds=1)


@pytest.fixture
def sheet_file(tmp_path: Path) -> Path:
    path = tmp_path / "results.csv"
    path.write_text(SHEET, encoding="utf-8")
    return path


def import_results(*args: str) -> str:
    out = io.StringIO()
    call_command("import_results", *args, stdout=out)
    return out.getvalue()


def test_import_by_event_name_prints_a_summary(event: Any, sheet_file: Path) -> None:
    output = import_results(
        str(sheet_file),
        "--event",
        event.name,
        "--user",
        event.scorekeeper.username,
        "--reason",
        "Week 2 sheet",
    )

    assert f"Imported 8 results into “{event.name}” (round 1); 8 created" in output
    assert Result.objects.count() == 8
    assert set(ResultChange.objects.values_list("source", "reason", "actor")) == {
        ("import", "Week 2 sheet", event.scorekeeper.pk)
    }


def test_import_by_event_id(event: Any, sheet_file: Path) -> None:
    import_results(str(sheet_file), "--event", str(event.pk), "--user", event.scorekeeper.username)

    assert Result.objects.count() == 8


def test_a_wrong_sheet_lists_every_problem_by_line_and_saves_nothing(
    event: Any, tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(SHEET.replace("P02,1,2", "P02,1,twelve").replace("P05", "Ghost"))

    with pytest.raises(CommandError) as failure:
        import_results(str(path), "--event", event.name, "--user", event.scorekeeper.username)

    lines = str(failure.value).splitlines()
    assert lines[0] == "2 problems in the file; nothing was saved."
    assert lines[1] == "  line 3, column placement: A placement from 1 to 8 (a whole number)."
    assert lines[2].startswith("  line 6, column player: No player 'Ghost'")
    assert not Result.objects.exists()


def test_a_failure_exits_non_zero_with_the_problems_on_stderr(
    event: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Run as from the shell (run_from_argv): exit status 1, problems on stderr."""
    # run_from_argv closes the database connections when it ends, which would end the test's
    # transaction with them.
    monkeypatch.setattr(connections, "close_all", lambda: None)
    path = tmp_path / "bad.csv"
    path.write_text("player,round,placement\nP01,1,9\n")

    with pytest.raises(SystemExit) as exit_:
        Command().run_from_argv(
            [
                "manage.py",
                "import_results",
                str(path),
                "--event",
                event.name,
                "--user",
                event.scorekeeper.username,
            ]
        )

    assert exit_.value.code == 1
    assert "line 2, column placement: A placement from 1 to 8." in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--event", "No such week", "--user", "{scorekeeper}"], "No event named or numbered"),
        (["--event", "{event}", "--user", "nobody"], "No user 'nobody'"),
    ],
)
def test_unknown_event_or_user(event: Any, sheet_file: Path, args: list[str], words: str) -> None:
    filled = [a.format(event=event.name, scorekeeper=event.scorekeeper.username) for a in args]

    with pytest.raises(CommandError, match=words):
        import_results(str(sheet_file), *filled)


def test_a_missing_or_oversized_file(event: Any, tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    big.write_bytes(SHEET.encode() + b" " * RESULTS_IMPORT_MAX_BYTES)
    common = ["--event", event.name, "--user", event.scorekeeper.username]

    with pytest.raises(CommandError, match="Cannot read"):
        import_results(str(tmp_path / "missing.csv"), *common)
    with pytest.raises(CommandError, match="the limit is"):
        import_results(str(big), *common)


def test_a_user_without_the_scorekeeper_role_is_refused(
    event: Any, sheet_file: Path, make_user: Any
) -> None:
    viewer = make_user("watcher", role=VIEWER)

    with pytest.raises(CommandError, match="permission"):
        import_results(str(sheet_file), "--event", event.name, "--user", viewer.username)

    assert not Result.objects.exists()

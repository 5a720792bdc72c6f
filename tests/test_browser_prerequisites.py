"""A CHROMIUM_PATH that names no executable: the browser tests skip, all for one stated reason
(tests/browser/conftest.py), instead of each failing to launch; under CI=true it is an error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BROWSER_TESTS = "tests/browser/test_results_page.py"


def run_browser_tests(tmp_path: Path, *, ci: bool) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST")}
    env |= {"CHROMIUM_PATH": str(tmp_path / "no-chromium-here"), "CI": "true" if ci else ""}
    return subprocess.run(
        [sys.executable, "-m", "pytest", BROWSER_TESTS, "-rs", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_wrong_chromium_path_skips_the_browser_tests_with_the_reason(tmp_path: Path):
    completed = run_browser_tests(tmp_path, ci=False)

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert " skipped" in completed.stdout and " error" not in completed.stdout, completed.stdout
    assert f"CHROMIUM_PATH={tmp_path / 'no-chromium-here'} is not an executable" in (
        completed.stdout
    )


def test_a_wrong_chromium_path_is_an_error_under_ci(tmp_path: Path):
    completed = run_browser_tests(tmp_path, ci=True)

    assert completed.returncode != 0
    output = completed.stdout + completed.stderr
    assert "CI=true: the browser tests needs Chromium: CHROMIUM_PATH=" in output, output
    assert " passed" not in output

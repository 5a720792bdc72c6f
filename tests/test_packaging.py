"""The wheel holds the whole application and serves from a clean virtualenv (issue 18, item 2).

Built from this checkout with `pip wheel`, installed into a new venv as a deployment would
install it (the locked dependencies of requirements/run.txt with their hashes, then the wheel),
and run from an empty directory with SQLite in it: `gal-live manage migrate`, `collectstatic`,
`gal-live check`, then `gal-live serve` answers a page and a static file. About a minute, most of
it pip (from its cache after the first run); it runs once, in the SQLite pass.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest
from django.conf import settings

from tests.e2e.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.timeout(900),
    pytest.mark.skipif(
        "postgresql" in settings.DATABASES["default"]["ENGINE"],
        reason="the wheel test runs once, in the SQLite pass (it brings its own SQLite database)",
    ),
]


def run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=600, check=False, **kwargs
    )  # type: ignore[call-overload]
    assert completed.returncode == 0, f"{command}\n{completed.stdout}\n{completed.stderr}"
    return completed


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # setuptools builds in the source tree (build/, *.egg-info): build from a copy, so the
    # checkout stays as it was (mypy would find every module twice).
    source = tmp_path_factory.mktemp("source") / "gal-live"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv*", "var", "build", "*.egg-info", "node_modules", "__pycache__", ".*cache"
        ),
    )
    dist = tmp_path_factory.mktemp("dist")
    run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(source)]
    )
    (built,) = dist.glob("gal_live-*.whl")
    return built


def test_the_wheel_holds_code_templates_static_files_migrations_and_the_script(wheel: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "gal_dashboard/settings.py",
        "gal_dashboard/cli.py",
        "gal_dashboard/templates/dashboard/base.html",
        "gal_dashboard/templates/admin/locks/canvaslock/override_confirmation.html",
        "graphics/migrations/0001_initial.py",
        "graphics/management/commands/seed_demo.py",
        "locks/migrations/0001_initial.py",
        "realtime/static/realtime/live-client.js",
        "dashboard/static/dashboard/dashboard.css",
        "standings/models.py",
    ):
        assert expected in names, expected
    assert not any(name.startswith(("tests/", "bench/")) for name in names)
    (entry_points,) = (name for name in names if name.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "gal-live = gal_dashboard.cli:main" in text


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_the_installed_wheel_migrates_and_serves_from_a_clean_venv(wheel: Path, tmp_path: Path):
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)])
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    run([*pip, "--require-hashes", "-r", str(ROOT / "requirements" / "run.txt")])
    run([*pip, "--no-deps", str(wheel)])
    run([str(venv / "bin" / "python"), "-m", "pip", "check"])

    # An empty directory: nothing of the checkout is importable from here.
    workdir = tmp_path / "site"
    workdir.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "VAR_DIR", "MEDIA_ROOT", "PYTHONPATH"}
        and not key.startswith(("PYTEST", "DJANGO"))
    }
    env |= {
        "DEBUG": "false",
        "SECRET_KEY": "packaging-test-only-secret-key-0123456789abcdefghijklmnop",
        "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
    }
    gal_live = str(venv / "bin" / "gal-live")
    where = run(
        [str(venv / "bin" / "python"), "-c", "import gal_dashboard; print(gal_dashboard.__file__)"],
        cwd=workdir,
        env=env,
    )
    assert where.stdout.startswith(str(venv)), where.stdout
    run([gal_live, "manage", "migrate", "--noinput"], cwd=workdir, env=env)
    run(
        [gal_live, "manage", "collectstatic", "--noinput", "--verbosity", "0"], cwd=workdir, env=env
    )
    checked = run([gal_live, "check"], cwd=workdir, env=env)
    assert "database: ok" in checked.stdout
    assert (workdir / "var" / "db.sqlite3").is_file()

    port = free_port()
    server = subprocess.Popen(
        [gal_live, "serve", "-b", "127.0.0.1", "-p", str(port)],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, body = fetch(f"http://127.0.0.1:{port}/healthz")
                break
            except OSError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                assert time.monotonic() < deadline, "gal-live serve did not answer in 60 s"
                time.sleep(0.5)
        assert status == 200
        status, body = fetch(f"http://127.0.0.1:{port}/login/")
        assert status == 200
        assert b"<form" in body
        status, body = fetch(f"http://127.0.0.1:{port}/static/dashboard/dashboard.css")
        assert status == 200
        assert body == (ROOT / "dashboard" / "static" / "dashboard" / "dashboard.css").read_bytes()
        icon = (ROOT / "dashboard" / "static" / "dashboard" / "favicon.ico").read_bytes()
        assert fetch(f"http://127.0.0.1:{port}/favicon.ico") == (200, icon)
        assert fetch(f"http://127.0.0.1:{port}/static/dashboard/favicon.ico") == (200, icon)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

"""
Response headers that protect the dashboard in a browser, and the production settings check.

Every response carries a Content-Security-Policy without inline script, nosniff, a Referrer-
Policy and frame refusal; with HTTPS on (production), cookies are secure and
`manage.py check --deploy` reports nothing.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parent.parent


def directives(header: str) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for part in header.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/admin/login/", "/api/graphics/", "/api/docs/", "/healthz"])
def test_every_response_carries_the_protective_headers(path: str) -> None:
    response = Client().get(path)

    policy = directives(response["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'"], "no inline or foreign script"
    assert "'unsafe-inline'" not in policy["style-src"] + policy["default-src"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/api/graphics/", "/healthz"])
def test_images_load_only_from_here_or_inline(path: str) -> None:
    """No other site's images: a background on a third-party host would make every viewer,
    OBS included, fetch from it (issue 14, finding 8). BACKGROUND_IMAGE_HOSTS adds hosts
    (tests/test_settings.py)."""
    policy = directives(Client().get(path)["Content-Security-Policy"])

    assert policy["img-src"] == ["'self'", "data:"]


@pytest.mark.django_db
def test_the_api_docs_page_runs_no_inline_script() -> None:
    """Swagger UI's start-up script is served as a file, so the policy need not allow inline."""
    html = Client().get("/api/docs/").content.decode()
    assert "<script>" not in html
    script = Client().get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")


def production_environment(**overrides: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DEBUG", "DATABASE_URL", "REDIS_URL", "HTTPS"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="gal_dashboard.settings",
        DEBUG="false",
        HTTPS="true",
        SECRET_KEY="p" + "r0d-k3y_" * 8,
        ALLOWED_HOSTS="live.gal.gg",
    )
    env.update(overrides)
    return env


def test_the_deployment_check_passes_with_production_settings() -> None:
    """`manage.py check --deploy` finds nothing to warn about once HTTPS is on."""
    completed = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=production_environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "no issues" in completed.stdout


def test_https_settings_make_cookies_secure_and_trust_the_proxy_header() -> None:
    code = (
        "from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, "
        "s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER)"
    )
    completed = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env=production_environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.stdout.strip().split(None, 4) == [
        "True",
        "True",
        "True",
        "31536000",
        "('HTTP_X_FORWARDED_PROTO', 'https')",
    ], completed.stderr


def test_no_template_has_an_inline_script_or_style():
    """The Content-Security-Policy allows scripts and styles only from our own files: an inline
    <script> with code, a <style> block or a style="" attribute in a template would be blocked
    by browsers (a broken page), so none may exist. (json_script data blocks are not code.)"""
    from pathlib import Path

    from gal_dashboard import settings as project_settings

    offenders = []
    for template in Path(project_settings.__file__).with_name("templates").rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        scripts = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", text)
        if scripts or "<style" in text or "style=" in text:
            offenders.append(str(template))
    assert offenders == []

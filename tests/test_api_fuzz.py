"""
Schema-driven fuzzing of the REST API (schemathesis) from the project's own OpenAPI schema:
for every operation, generated requests (valid and not) as a superuser never get a server
error, and every response matches what the schema documents.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework_simplejwt.tokens import AccessToken
from schemathesis.checks import positive_data_acceptance

# A bounded run keeps CI fast and repeatable (derandomized below).
EXAMPLES_PER_OPERATION = 8

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())


@pytest.fixture(autouse=True)
def keep_the_test_connection() -> Any:
    """Requests go through the real WSGI handler, which closes database connections when a
    request ends; Django's test client switches that off the same way, or the test's own
    transaction would be closed under it."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def auth_headers(superuser: Any, make_graphic: Any) -> dict[str, str]:
    make_graphic(by=superuser)
    return {"Authorization": f"Bearer {AccessToken.for_user(superuser)}"}


@pytest.mark.django_db
@schema.parametrize()
@settings(
    # The same examples every run, so CI is repeatable; raise EXAMPLES_PER_OPERATION (or drop
    # derandomize) locally to search further.
    derandomize=True,
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_api_honours_its_schema(case: Any, auth_headers: dict[str, str]) -> None:
    # Every check but "a request the schema allows is accepted": the schema cannot say all the
    # rules (a title of spaces only, a stale version), which rightly answer 400 or 409.
    case.call_and_validate(headers=auth_headers, excluded_checks=[positive_data_acceptance])


def test_every_operation_has_a_test_id_of_its_own() -> None:
    """One id per operation (tests/conftest.py), as pytest lists them: -k and --lf can pick
    one, and pytest's progress reaches 100%."""
    listed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            __file__,
        ],
        cwd=Path(__file__).resolve().parent.parent,
        env={key: value for key, value in os.environ.items() if not key.startswith("PYTEST")},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout.splitlines()
    ids = [line for line in listed if "::test_the_api_honours_its_schema" in line]
    assert len(ids) > 20, listed
    assert len(set(ids)) == len(ids)
    assert "tests/test_api_fuzz.py::test_the_api_honours_its_schema[GET /api/graphics/]" in ids

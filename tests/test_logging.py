"""Secrets never reach a log line: tokens and keys in URLs, dicts and Authorization headers are
redacted by `redact_secrets` and by the filter on every configured handler."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from gal_dashboard.logging import (
    REDACTED,
    ConsoleFormatter,
    RedactSecretsFilter,
    StructuredLine,
    redact_secrets,
)

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyX2lkIjoxfQ.c2lnbmF0dXJl-_x"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"GET /ws/graphics/?token={JWT}", f"GET /ws/graphics/?token={REDACTED}"),
        (f"GET /ws/?a=1&token={JWT}&b=2", f"GET /ws/?a=1&token={REDACTED}&b=2"),
        ("GET /overlay/?key=abc123 200", f"GET /overlay/?key={REDACTED} 200"),
        ("view_key=abc123", f"view_key={REDACTED}"),
        (f"access_token={JWT}", f"access_token={REDACTED}"),
        ("api_key=abc123", f"api_key={REDACTED}"),
        (f"refresh={JWT}&access={JWT}", f"refresh={REDACTED}&access={REDACTED}"),
        ("TOKEN=abc123", f"TOKEN={REDACTED}"),
        (f"Authorization: Bearer {JWT}", f"Authorization: Bearer {REDACTED}"),
        (f"authorization: bearer {JWT}", f"authorization: bearer {REDACTED}"),
        (
            f"{{'refresh': '{JWT}', 'user': 'editor'}}",
            f"{{'refresh': '{REDACTED}', 'user': 'editor'}}",
        ),
        (f'{{"token": "{JWT}"}}', f'{{"token": "{REDACTED}"}}'),
    ],
)
def test_secrets_are_redacted(text: str, expected: str) -> None:
    """Query-string tokens and keys, names ending in _token or _key, the JWT pair's access and
    refresh, dict and JSON values under those names, and Bearer credentials are all replaced
    by [redacted], keeping the name so the line still reads."""
    assert redact_secrets(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "GET /api/graphics/?page=2&archived=false 200",
        "lock acquired on graphic 7 by editor (fencing token 3)",
        "keyboard=us monkey=banana tokens=5",
        "user editor refreshed the lock",
    ],
)
def test_text_without_secrets_is_left_alone(text: str) -> None:
    """Ordinary lines, including words that merely contain "key" or "token", are untouched."""
    assert redact_secrets(text) == text


@pytest.fixture
def captured_log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger whose only handler writes through RedactSecretsFilter to a string."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactSecretsFilter())
    logger = logging.getLogger("tests.redaction")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def test_the_filter_redacts_secrets_passed_as_arguments(
    captured_log: tuple[logging.Logger, io.StringIO],
) -> None:
    """A secret that arrives through `%s` arguments is redacted in the written line."""
    logger, stream = captured_log
    logger.info("WebSocket connect %s from %s", f"/ws/graphics/?token={JWT}", "127.0.0.1")
    logger.warning("bad header %r", {"Authorization": f"Bearer {JWT}"})
    written = stream.getvalue()
    assert JWT not in written
    assert f"WebSocket connect /ws/graphics/?token={REDACTED} from 127.0.0.1" in written
    assert f"Bearer {REDACTED}" in written


def test_the_filter_redacts_secrets_in_tracebacks(
    captured_log: tuple[logging.Logger, io.StringIO],
) -> None:
    """An exception whose message holds a token is logged with the token redacted."""
    logger, stream = captured_log
    try:
        raise ConnectionError(f"upstream refused /ws/?token={JWT}")
    except ConnectionError:
        logger.exception("relay failed")
    written = stream.getvalue()
    assert "Traceback" in written
    assert JWT not in written
    assert f"token={REDACTED}" in written


def test_the_filter_never_raises_into_the_caller(
    captured_log: tuple[logging.Logger, io.StringIO], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A log call whose arguments do not fit its format string is reported by the handler as
    logging always does; it does not raise into the code that logged."""
    logger, _ = captured_log
    # As in production: logging reports its own errors instead of raising them (pytest's
    # capture handler would otherwise fail the test on the bad call itself).
    monkeypatch.setattr(logging, "raiseExceptions", False)
    handler = next(h for h in logger.handlers if h.filters)
    reported: list[logging.LogRecord] = []
    monkeypatch.setattr(handler, "handleError", reported.append)
    logger.info("two values %s %s", "only one")
    assert len(reported) == 1


def test_the_configured_handlers_redact() -> None:
    """Every handler the settings configure on the root logger carries the redaction
    filter."""
    configured = [
        handler
        for handler in logging.getLogger().handlers
        if type(handler).__module__.startswith("logging")
    ]
    assert configured
    for handler in configured:
        assert any(isinstance(f, RedactSecretsFilter) for f in handler.filters), handler


def formatted(record_name: str, log_format: str, *args: Any, **kwargs: Any) -> str:
    """What the configured console handler (its filters and ConsoleFormatter) writes for one
    record of logger `record_name`."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        ConsoleFormatter(log_format=log_format, text_format="%(levelname)s %(name)s %(message)s")
    )
    handler.addFilter(RedactSecretsFilter())
    logger = logging.getLogger(record_name)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        logger.info(*args, **kwargs)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_an_access_line_is_one_json_object_with_its_fields_and_no_secret() -> None:
    """A gal.access line is one JSON object (time, level, logger and its fields at the top) even
    with LOG_FORMAT=text, and a secret in any of its values is redacted."""
    written = formatted(
        "gal.access",
        "text",
        StructuredLine(event="rejected", code=4001, url=f"/ws/?token={JWT}", username="editor"),
    )
    assert written.endswith("\n") and written.count("\n") == 1
    line = json.loads(written)
    assert (line["logger"], line["level"], line["event"], line["code"]) == (
        "gal.access",
        "INFO",
        "rejected",
        4001,
    )
    assert datetime.fromisoformat(line["time"]).tzinfo is not None
    assert line["url"] == f"/ws/?token={REDACTED}"
    assert "message" not in line
    assert JWT not in written


def test_an_access_line_reads_as_json_to_any_formatter() -> None:
    """Other handlers (pytest's capture, a plain formatter) see the fields' compact JSON."""
    line = StructuredLine(event="connect", user_id=3)
    record = logging.LogRecord("gal.access", logging.INFO, __file__, 1, line, None, None)
    assert json.loads(record.getMessage()) == {"event": "connect", "user_id": 3}


def test_other_loggers_follow_log_format() -> None:
    """LOG_FORMAT=text keeps other loggers' lines as text; json makes each a JSON object with
    the message, redacted."""
    text = formatted("tests.other", "text", "fetched %s", f"/x?token={JWT}")
    assert text == f"INFO tests.other fetched /x?token={REDACTED}\n"
    line = json.loads(formatted("tests.other", "json", "fetched %s", f"/x?token={JWT}"))
    assert (line["logger"], line["level"], line["message"]) == (
        "tests.other",
        "INFO",
        f"fetched /x?token={REDACTED}",
    )


def test_a_json_traceback_is_redacted() -> None:
    """python-json-logger formats the exception itself; the token in it is redacted there."""
    try:
        raise ConnectionError(f"upstream refused /ws/?token={JWT}")
    except ConnectionError:
        written = formatted("tests.other", "json", "relay failed", exc_info=True)
    line = json.loads(written)
    assert "Traceback" in line["exc_info"]
    assert f"token={REDACTED}" in line["exc_info"]
    assert JWT not in written

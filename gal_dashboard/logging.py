"""Log filters and formatters: secrets never reach a log line, and a JSON log is one object per
line (python-json-logger) with `time`, `level`, `logger` and the record's fields."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from pythonjsonlogger.json import JsonFormatter

# Names that carry a secret: `token`, `key` and anything ending in them (`access_token`,
# `api_key`, `view_key`, `x-api-key`), plus the JWT pair's `access` and `refresh`.
_SECRET_NAME = r"\b(?:[\w-]*[_-])?(?:token|key|secret|password)\b|\b(?:access|refresh)\b"
_SECRET_PATTERNS = [
    # Query strings and form bodies: `?token=...`, `&access_token=...`.
    re.compile(rf"(?P<name>(?:{_SECRET_NAME})=)[^&\s\"']+", re.IGNORECASE),
    # Dicts and JSON: `'refresh': 'eyJ...'`, `"token": "..."`.
    re.compile(rf"(?P<name>[\"']?(?:{_SECRET_NAME})[\"']?\s*:\s*[\"'])[^\"']+", re.IGNORECASE),
    # Authorization headers.
    re.compile(r"(?P<name>\bBearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE),
]
REDACTED = "[redacted]"


def redact_secrets(text: str) -> str:
    """Return `text` with every token-like secret replaced by `[redacted]`."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda match: match.group("name") + REDACTED, text)
    return text


class StructuredLine(dict[str, Any]):
    """A log line's fields, logged as the record's message (`logger.info(StructuredLine(...))`):
    JsonLinesFormatter writes them as fields of the line's object, and any other formatter as
    their compact JSON (what `record.getMessage()` returns)."""

    def __str__(self) -> str:
        return json.dumps(self, separators=(",", ":"), default=str)


def _redacted_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """`fields` (a structured log line) with secrets redacted as they would be in its JSON."""
    text = json.dumps(fields, default=str)
    redacted = redact_secrets(text)
    if redacted == text:
        return fields
    try:
        return dict(json.loads(redacted))
    except ValueError:
        # A value with an escaped quote right after a secret's name: the whole line, redacted,
        # as one string rather than an unparsable one.
        return {"message": redacted}


class RedactSecretsFilter(logging.Filter):
    """Rewrites each record's message, traceback and stack so that no token or key is ever
    written out."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            # A call with the wrong arguments for its format string: let the handler report
            # it as logging always does, instead of raising into the code that logged.
            return True
        if isinstance(record.msg, dict):
            # A structured line (gal.access): redact its values, keep it a dict so that the
            # JSON formatter writes its fields, not their text.
            record.msg = type(record.msg)(_redacted_fields(record.msg))
            message = redacted = ""
        else:
            redacted = redact_secrets(message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        # Exception messages carry URLs and headers too (a failed request to `...?token=`).
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_secrets(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_secrets(record.stack_info)
        return True


def _redacted_lines(text: str | list[str]) -> str | list[str]:
    # python-json-logger gives a traceback as a list of lines with exc_info_as_array=True.
    if isinstance(text, str):
        return redact_secrets(text)
    return [redact_secrets(line) for line in text]


class JsonLinesFormatter(JsonFormatter):
    """One JSON object per line: `time` (ISO 8601, UTC), `level`, `logger`, `message`, and the
    fields of a record logged as a dict (`logger.info({"event": ...})`, gal.access) or with
    `extra`. Tracebacks are redacted here too: python-json-logger formats `exc_info` itself
    rather than use the text RedactSecretsFilter left on the record."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", "time")
        super().__init__("{levelname}{name}{message}", style="{", **kwargs)

    def formatException(self, ei: Any) -> str | list[str]:  # type: ignore[override]
        return _redacted_lines(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str | list[str]:  # type: ignore[override]
        return _redacted_lines(super().formatStack(stack_info))

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        # A dict record has its fields instead of a message (python-json-logger leaves "").
        if isinstance(record.msg, dict) and log_data.get("message") == "":
            del log_data["message"]


class ConsoleFormatter(logging.Formatter):
    """The console's format: `LOG_FORMAT` (text or json) for every logger, except that the
    structured loggers (gal.access) are always written as JSON lines, so that a log shipper
    can parse them whatever the rest of the log looks like."""

    JSON_LOGGERS = ("gal.access",)

    def __init__(self, *, log_format: str = "text", text_format: str = "") -> None:
        super().__init__(text_format or None)
        self.json = JsonLinesFormatter()
        self.log_format = log_format

    def format(self, record: logging.LogRecord) -> str:
        if self.log_format == "json" or record.name.startswith(self.JSON_LOGGERS):
            return self.json.format(record)
        return super().format(record)

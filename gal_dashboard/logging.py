"""Log filters: secrets never reach a log line."""

from __future__ import annotations

import logging
import re

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

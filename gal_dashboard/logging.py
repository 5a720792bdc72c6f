"""Log filters: secrets never reach a log line."""

from __future__ import annotations

import logging
import re

# Query-string secrets (`?token=...`, `&key=...`) and bearer headers.
_SECRET_PATTERNS = [
    re.compile(r"(?P<name>\b(?:token|access|refresh|key|view_key)=)[^&\s\"']+", re.IGNORECASE),
    re.compile(r"(?P<name>\bBearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE),
]
REDACTED = "[redacted]"


def redact_secrets(text: str) -> str:
    """Return `text` with every token-like secret replaced by `[redacted]`."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda match: match.group("name") + REDACTED, text)
    return text


class RedactSecretsFilter(logging.Filter):
    """Rewrites each record's message so that no token or key is ever written out."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_secrets(message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        return True

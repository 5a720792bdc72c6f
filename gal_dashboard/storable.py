"""
Text and numbers the database can store.

JSON lets a client send two things that Python accepts as `str` but the database cannot store:
NUL (`\\u0000`, refused by PostgreSQL in text and jsonb) and lone UTF-16 surrogates
(`\\ud800`, which are not Unicode scalar values and cannot be encoded as UTF-8). Both are bad
input, to be refused with a validation error, not a server error on write.
"""

from __future__ import annotations

from typing import Any

# Ids, seqs and fencing tokens are 64-bit columns; versions are PositiveIntegerField (32-bit on
# PostgreSQL). A client's number past these is bad input, not a database error ("integer out
# of range") at query time.
BIGINT_MAX = 2**63 - 1
INT_MAX = 2**31 - 1


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored, or None if it can."""
    if "\x00" in value:
        return "Must not contain NUL characters."
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "Must be valid Unicode text (no unpaired surrogates)."
    return None


def json_text_problem(value: Any) -> str | None:
    """Why some string (key or value) inside a JSON document cannot be stored, or None."""
    if isinstance(value, str):
        return text_problem(value)
    if isinstance(value, dict):
        for key, item in value.items():
            problem = json_text_problem(key) or json_text_problem(item)
            if problem:
                return problem
    elif isinstance(value, list):
        for item in value:
            problem = json_text_problem(item)
            if problem:
                return problem
    return None

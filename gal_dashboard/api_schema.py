"""
Post-processing of the OpenAPI schema, so that it says exactly what the API accepts.

Every request body of ours refuses fields it does not know (a `validation_error` naming them),
so each request component declares `additionalProperties: false`; otherwise a client (or the
schema-driven fuzzer in tests/test_api_fuzz.py) would read the schema as allowing extras.
"""

from __future__ import annotations

from typing import Any


def request_bodies_are_closed(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and component.get("type") == "object":
            component["additionalProperties"] = False
    return result

"""
The shared delta-update cases, tests/js/patch_cases.json: the browser client's port
(realtime/static/realtime/patch.js, run on the same file by tests/js/patch.test.mjs) must give
what the reference, graphics.patch.graphic_apply_event, gives here. Each case is
`{name, graphic, event}` and either `expected` (the graphic after the event) or `error`
(`{"type": "VersionGap"}`, or `{"type": "PatchInvalid", "details": ...}` for ValidationFailed).

After adding a case or changing graphics/patch.py, rewrite every `expected` / `error` from the
reference and review the diff:

    python -m tests.graphics.test_patch_cases
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from gal_dashboard.errors import ValidationFailed
from graphics.canvas import check_canvas_data
from graphics.patch import graphic_apply_event

CASES_FILE = Path(__file__).resolve().parents[1] / "js" / "patch_cases.json"
CASES: list[dict[str, Any]] = json.loads(CASES_FILE.read_text(encoding="utf-8"))


def reference_outcome(graphic: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """`{"expected": ...}` or `{"error": ...}`, as the case file states them."""
    try:
        return {"expected": graphic_apply_event(graphic, event)}
    except ValidationFailed as exc:  # before ValueError's clause, in case it ever becomes one
        return {"error": {"type": "PatchInvalid", "details": exc.details}}
    except ValueError:
        return {"error": {"type": "VersionGap"}}


def stated_outcome(case: dict[str, Any]) -> dict[str, Any]:
    return {key: case[key] for key in ("expected", "error") if key in case}


def test_the_cases_cover_what_subscribers_meet() -> None:
    """At least the kinds the browser must get right: patches of the canvas and of fields, full
    payloads, version gaps and malformed patches; every case states one outcome."""
    names = [case["name"] for case in CASES]
    assert len(names) == len(set(names)) >= 15
    assert all(len(stated_outcome(case)) == 1 for case in CASES)
    kinds = {
        "payload": any("payload" in case["event"] for case in CASES),
        "element_order": any("element_order" in json.dumps(case["event"]) for case in CASES),
        "gap": any(case.get("error", {}).get("type") == "VersionGap" for case in CASES),
        "invalid": any(case.get("error", {}).get("type") == "PatchInvalid" for case in CASES),
    }
    assert all(kinds.values()), kinds


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_the_reference_gives_the_stated_outcome(case: dict[str, Any]) -> None:
    graphic, event = copy.deepcopy(case["graphic"]), copy.deepcopy(case["event"])

    outcome = reference_outcome(graphic, event)

    assert outcome == stated_outcome(case)
    assert (graphic, event) == (case["graphic"], case["event"]), "inputs must not be modified"
    check_canvas_data(case["graphic"]["data"])
    if "expected" in outcome:
        # The cases are realistic: every result is a canvas the server would accept.
        check_canvas_data(outcome["expected"]["data"])


def write_outcomes() -> None:
    """Rewrite each case's outcome from the reference (the module docstring says when)."""
    cases = []
    for case in CASES:
        inputs = {key: case[key] for key in ("name", "graphic", "event")}
        cases.append(
            {
                **inputs,
                **reference_outcome(copy.deepcopy(case["graphic"]), copy.deepcopy(case["event"])),
            }
        )
    text = json.dumps(cases, indent=1, ensure_ascii=False)
    CASES_FILE.write_text(text + "\n", encoding="utf-8")
    print(f"{CASES_FILE}: {len(cases)} cases")


if __name__ == "__main__":
    write_outcomes()

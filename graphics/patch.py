"""
Delta updates: JSON Merge Patch (RFC 7396) for graphics, with canvas elements keyed by id.

A graphic patch is an object with any of `title`, `event_name` and `data`. `title` and
`event_name` replace the field. `data` is a merge patch against the canvas seen *keyed*:

    canvas:  {"background": B, "elements": [{"id": "title", ...}, {"id": "logo", ...}]}
    keyed:   {"background": B, "elements": {"title": {...}, "logo": {...}}}

so that moving one text box sends only that box's changed keys:

    {"data": {"elements": {"title": {"x": 120, "y": 48}}}}

and leaves the rest of the canvas (an inline background image included) out of the message.

- `{"elements": {"logo": null}}` removes an element; `{"elements": {"new": {...}}}` adds one (a
  whole element; its `id` is its key and may be left out); `{"background": null}` clears the
  background. An element's `id` cannot be changed by a patch (remove it and add another).
- Elements keep their order (the drawing order, last on top); new ones go on top, in the order
  the patch names them. `"element_order": [ids]` in the data patch sets the whole order (it
  must name every element of the result exactly once).
- In elements, as RFC 7396 requires, `null` means "remove the key", so an optional field that is
  absent and one that is null mean the same thing.

The result is validated as a whole, like any canvas (`graphics.canvas.check_canvas_data`).
`canvas_diff` computes the patch from one canvas to another, which is what subscribers receive.
"""

from __future__ import annotations

from typing import Any

from gal_dashboard.errors import ValidationFailed

GRAPHIC_PATCH_FIELDS = ("title", "event_name", "data")
ELEMENT_ORDER = "element_order"


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 section 2, MergePatch(Target, Patch)."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed("The patch is invalid.", details={field: [message]})


def check_graphic_patch(patch: Any) -> dict[str, Any]:
    """The patch if it is an object naming only patchable fields; ValidationFailed otherwise."""
    if not isinstance(patch, dict):
        raise _invalid("patch", "Must be a JSON object (a merge patch).")
    unknown = sorted(set(patch) - set(GRAPHIC_PATCH_FIELDS))
    if unknown:
        raise ValidationFailed(
            "The patch is invalid.",
            details={f"patch.{key}": ["Not a patchable field."] for key in unknown},
        )
    if not patch:
        raise _invalid("patch", "An empty patch changes nothing.")
    return patch


def canvas_patch_apply(canvas: dict[str, Any], patch: Any) -> dict[str, Any]:
    """The canvas `patch` (a keyed merge patch, see the module docstring) makes of `canvas`.
    Checks the patch's form; the caller validates the resulting canvas."""
    if not isinstance(patch, dict):
        raise _invalid("patch.data", "Must be a JSON object (a merge patch of the canvas).")
    patch = dict(patch)
    order_override = patch.pop(ELEMENT_ORDER, None)
    elements_patch = patch.get("elements")
    if elements_patch is not None and not isinstance(elements_patch, dict):
        raise _invalid(
            "patch.data.elements", "Must be an object keyed by element id (or null to clear)."
        )
    current = {element["id"]: element for element in canvas.get("elements", [])}
    order = [element["id"] for element in canvas.get("elements", [])]
    keyed = {**canvas, "elements": current}
    for element_id, element_patch in (elements_patch or {}).items():
        if isinstance(element_patch, dict) and element_patch.get("id", element_id) != element_id:
            raise _invalid(
                f"patch.data.elements.{element_id}.id",
                "An element's id is its key and cannot be changed by a patch.",
            )
        if element_patch is not None and not isinstance(element_patch, dict):
            raise _invalid(f"patch.data.elements.{element_id}", "Must be an object or null.")
    merged = merge_patch(keyed, patch)
    elements: dict[str, Any] = merged.pop("elements", None) or {}
    result_order = [element_id for element_id in order if element_id in elements]
    result_order += [element_id for element_id in elements if element_id not in current]
    if order_override is not None:
        if (
            not isinstance(order_override, list)
            or not all(isinstance(element_id, str) for element_id in order_override)
            or sorted(order_override) != sorted(elements)
        ):
            raise _invalid(
                f"patch.data.{ELEMENT_ORDER}",
                "Must list the id of every element of the result exactly once.",
            )
        result_order = list(order_override)
    merged.setdefault("background", None)
    merged["elements"] = [{**elements[element_id], "id": element_id} for element_id in result_order]
    return merged


def _object_diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    diff: dict[str, Any] = {}
    for key in old:
        if key not in new or (new[key] is None and old[key] is not None):
            diff[key] = None
    for key, value in new.items():
        if value is None:
            continue  # absent and null mean the same (RFC 7396 cannot say "set to null")
        previous = old.get(key)
        if isinstance(value, dict) and isinstance(previous, dict):
            nested = _object_diff(previous, value)
            if nested:
                diff[key] = nested
        elif value != previous:
            diff[key] = value
    return diff


def _array_index_like(key: str) -> bool:
    return (
        key.isascii()
        and key.isdigit()
        and (key == "0" or not key.startswith("0"))
        and int(key) < 2**32 - 1
    )


def canvas_diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The keyed merge patch that turns `old` into `new` (`{}` when they are the same)."""
    old_elements = {element["id"]: element for element in old.get("elements", [])}
    new_elements = {element["id"]: element for element in new.get("elements", [])}
    diff = _object_diff(
        {**old, "elements": old_elements},
        {**new, "elements": new_elements},
    )
    # Element order: say it only when applying the patch would not give it on its own.
    natural = [element_id for element_id in old_elements if element_id in new_elements]
    natural += [element_id for element_id in new_elements if element_id not in old_elements]
    wanted = list(new_elements)
    added = [element_id for element_id in new_elements if element_id not in old_elements]
    # JavaScript's JSON.parse lists keys that look like array indices ("2", "10") before the
    # others, so a browser cannot read the order of added elements from the patch's keys when
    # one of them has such an id: name the order then too.
    if natural != wanted or any(_array_index_like(element_id) for element_id in added):
        diff[ELEMENT_ORDER] = wanted
    if diff.get("elements") == {}:
        del diff["elements"]
    return diff


def graphic_apply_event(graphic: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """What a subscriber holding `graphic` (a full payload) has after a `graphic_update` event of
    its subscription: the event's `payload`, or `graphic` with the event's `patch` applied. The
    reference for clients (docs/protocol.md); raises ValueError on a version gap, where a client
    must take a fresh snapshot instead."""
    if "payload" in event:
        return dict(event["payload"])
    if event["base_version"] != graphic["version"]:
        raise ValueError(
            f"version gap: the patch applies to version {event['base_version']}, "
            f"this copy is at {graphic['version']}"
        )
    result = dict(graphic)
    for name, value in event["patch"].items():
        result[name] = canvas_patch_apply(graphic["data"], value) if name == "data" else value
    result.update(
        version=event["version"], updated_at=event["updated_at"], updated_by=event["updated_by"]
    )
    return result

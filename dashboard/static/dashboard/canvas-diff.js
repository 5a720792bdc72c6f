// The editor saves what changed, not the whole graphic: a JSON Merge Patch of the version it
// edited, with canvas elements keyed by id (docs/protocol.md, Delta updates). Moving one text
// box sends that box's x and y; a large background image is never sent again for a text change.

function same(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Keys of `edited` that differ from `base`, and null for keys `edited` no longer has. */
function objectPatch(base, edited) {
  const patch = {};
  for (const [key, value] of Object.entries(edited)) {
    if (!same(base[key], value)) patch[key] = value;
  }
  for (const key of Object.keys(base)) {
    if (!(key in edited)) patch[key] = null;
  }
  return patch;
}

/** The canvas part of the patch (`patch.data`), or null when the canvases are equal. */
export function canvasPatch(base, edited) {
  const patch = {};
  if (!same(base.background, edited.background)) {
    patch.background = edited.background === null || base.background === null
      ? edited.background
      : objectPatch(base.background, edited.background);
  }
  const baseById = new Map(base.elements.map((element) => [element.id, element]));
  const editedIds = new Set(edited.elements.map((element) => element.id));
  const elements = {};
  for (const id of baseById.keys()) {
    if (!editedIds.has(id)) elements[id] = null;
  }
  for (const element of edited.elements) {
    const before = baseById.get(element.id);
    if (!before) {
      elements[element.id] = element;
    } else {
      const changes = objectPatch(before, element);
      if (Object.keys(changes).length) elements[element.id] = changes;
    }
  }
  if (Object.keys(elements).length) patch.elements = elements;
  const baseOrder = base.elements.map((element) => element.id);
  const editedOrder = edited.elements.map((element) => element.id);
  if (!same(baseOrder, editedOrder)) patch.element_order = editedOrder;
  return Object.keys(patch).length ? patch : null;
}

/** The patch that turns graphic `base` into `edited` (title, event_name and data), or null. */
export function graphicPatch(base, edited) {
  const patch = {};
  if (base.title !== edited.title) patch.title = edited.title;
  if (base.event_name !== edited.event_name) patch.event_name = edited.event_name;
  const data = canvasPatch(base.data, edited.data);
  if (data) patch.data = data;
  return Object.keys(patch).length ? patch : null;
}

// How the graphic goes on and off air: set in the same update as the patch, under the lock,
// but beside it (`transition`, `transition_ms` in the request body), since they are no part of
// the canvas document a merge patch describes.
const TRANSITION_FIELDS = ["transition", "transition_ms"];

/** The transition fields `edited` changes from `base` ({transition?, transition_ms?}), or
 * null; a field `edited` lacks is left alone. */
export function transitionChanges(base, edited) {
  const changes = {};
  for (const name of TRANSITION_FIELDS) {
    if (name in edited && base[name] !== edited[name]) changes[name] = edited[name];
  }
  return Object.keys(changes).length ? changes : null;
}

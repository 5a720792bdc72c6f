/**
 * Delta updates in the browser: a port of graphics/patch.py (`merge_patch`,
 * `canvas_patch_apply`, `graphic_apply_event`), the server's reference for what a subscriber
 * holds after each `graphic_update` (docs/protocol.md, "Delta updates").
 *
 * A canvas is patched as if its elements were keyed by id:
 *   {"background": B, "elements": {"title": {...}, "logo": {...}}}
 * `null` removes a key (an element, the background, an optional field), a new id adds an
 * element on top, `element_order` sets the whole drawing order. Nothing here mutates its
 * inputs: results are new objects that may share unchanged parts with them, so treat every
 * state object as read-only.
 *
 * One difference JavaScript cannot avoid: JSON.parse lists keys that look like array indices
 * ("2", "10") first, so when a patch adds several elements and one of them has such an id (and
 * no `element_order`), they are put on top in another order than the server's. The client
 * (subscription.js) takes a fresh snapshot in that case instead of calling this.
 *
 * tests/js/patch_cases.json holds cases that tests/graphics/test_patch_cases.py checks against
 * the Python reference and tests/js/patch.test.mjs against this file: the two are kept equal
 * by running both on the same cases.
 */

const ELEMENT_ORDER = "element_order";

/** A patch that applies to another version than the copy's: take a fresh snapshot instead. */
export class VersionGap extends Error {
  /**
   * @param {number} baseVersion the version the patch applies to
   * @param {number} version the version of the copy
   */
  constructor(baseVersion, version) {
    super(`version gap: the patch applies to version ${baseVersion}, this copy is at ${version}`);
    this.name = "VersionGap";
    this.baseVersion = baseVersion;
    this.version = version;
  }
}

/**
 * A malformed patch (the server's `validation_error`): `details` maps the field path to its
 * messages, as ValidationFailed's do. The server never broadcasts one; a client that meets one
 * takes a fresh snapshot.
 */
export class PatchInvalid extends Error {
  /**
   * @param {string} field e.g. "patch.data.elements"
   * @param {string} message
   */
  constructor(field, message) {
    super("The patch is invalid.");
    this.name = "PatchInvalid";
    this.details = { [field]: [message] };
  }
}

function isObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

// Element ids and field names come from users: "constructor" or "__proto__" must read and
// write own properties only, never the prototype's.
function own(object, key) {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

function setOwn(object, key, value) {
  Object.defineProperty(object, key, {
    value,
    writable: true,
    enumerable: true,
    configurable: true,
  });
}

function copyOf(object) {
  const copy = {};
  for (const [key, value] of Object.entries(object)) setOwn(copy, key, value);
  return copy;
}

/**
 * RFC 7396 section 2, MergePatch(Target, Patch). Returns a new object; never mutates `target`.
 * @param {*} target
 * @param {*} patch
 * @returns {*}
 */
export function mergePatch(target, patch) {
  if (!isObject(patch)) return patch;
  const result = isObject(target) ? copyOf(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else setOwn(result, key, mergePatch(own(result, key), value));
  }
  return result;
}

function sameIds(a, b) {
  if (a.length !== b.length) return false;
  const left = [...a].sort();
  const right = [...b].sort();
  return left.every((id, index) => id === right[index]);
}

/**
 * The canvas `patch` (a keyed merge patch) makes of `canvas`. Checks the patch's form and throws
 * PatchInvalid as the server's `canvas_patch_apply` raises ValidationFailed; does not validate
 * the resulting canvas (the server did).
 * @param {object} canvas {background, elements: [{id, ...}]}
 * @param {object} patch
 * @returns {object} a new canvas
 */
export function canvasPatchApply(canvas, patch) {
  if (!isObject(patch)) {
    throw new PatchInvalid("patch.data", "Must be a JSON object (a merge patch of the canvas).");
  }
  const orderOverride = own(patch, ELEMENT_ORDER) ?? null;
  const elementsPatch = own(patch, "elements");
  if (elementsPatch !== undefined && elementsPatch !== null && !isObject(elementsPatch)) {
    throw new PatchInvalid(
      "patch.data.elements",
      "Must be an object keyed by element id (or null to clear).",
    );
  }
  const canvasElements = own(canvas, "elements") ?? [];
  const order = canvasElements.map((element) => element.id);
  // A Map keeps the ids in drawing order; a plain object would move numeric ids to the front.
  const elements = new Map(canvasElements.map((element) => [element.id, element]));
  const current = new Set(order);
  for (const [elementId, elementPatch] of Object.entries(elementsPatch ?? {})) {
    // As Python's `element_patch.get("id", element_id)`: an explicit null id is a change too.
    const patchedId =
      isObject(elementPatch) && Object.hasOwn(elementPatch, "id") ? elementPatch.id : elementId;
    if (patchedId !== elementId) {
      throw new PatchInvalid(
        `patch.data.elements.${elementId}.id`,
        "An element's id is its key and cannot be changed by a patch.",
      );
    }
    if (elementPatch !== null && !isObject(elementPatch)) {
      throw new PatchInvalid(`patch.data.elements.${elementId}`, "Must be an object or null.");
    }
  }

  // Everything but the elements merges as plain RFC 7396; the elements merge by id.
  const rest = copyOf(patch);
  delete rest[ELEMENT_ORDER];
  delete rest.elements;
  const others = copyOf(canvas);
  delete others.elements;
  const merged = mergePatch(others, rest);
  if (elementsPatch === null) elements.clear(); // {"elements": null} clears, as in Python
  for (const [elementId, elementPatch] of Object.entries(elementsPatch ?? {})) {
    if (elementPatch === null) elements.delete(elementId);
    else elements.set(elementId, mergePatch(elements.get(elementId), elementPatch));
  }

  let resultOrder = order.filter((id) => elements.has(id));
  resultOrder.push(...[...elements.keys()].filter((id) => !current.has(id)));
  if (orderOverride !== null) {
    if (
      !Array.isArray(orderOverride) ||
      !orderOverride.every((id) => typeof id === "string") ||
      !sameIds(orderOverride, [...elements.keys()])
    ) {
      throw new PatchInvalid(
        `patch.data.${ELEMENT_ORDER}`,
        "Must list the id of every element of the result exactly once.",
      );
    }
    resultOrder = [...orderOverride];
  }
  if (!Object.hasOwn(merged, "background")) merged.background = null;
  merged.elements = resultOrder.map((id) => ({ ...elements.get(id), id }));
  return merged;
}

/**
 * What a subscriber holding `graphic` (a full graphic) has after a `graphic_update` event of
 * its subscription: the event's `payload`, or `graphic` with the event's `patch` applied.
 * @param {object} graphic the copy, at some version
 * @param {object} eventData the event frame's `data`
 * @returns {object} a new graphic
 * @throws {VersionGap} when a patch applies to another version than the copy's
 * @throws {PatchInvalid} when the patch is malformed
 */
export function graphicApplyEvent(graphic, eventData) {
  if (Object.hasOwn(eventData, "payload")) return { ...eventData.payload };
  if (eventData.base_version !== graphic.version) {
    throw new VersionGap(eventData.base_version, graphic.version);
  }
  const result = copyOf(graphic);
  for (const [name, value] of Object.entries(eventData.patch)) {
    setOwn(result, name, name === "data" ? canvasPatchApply(graphic.data, value) : value);
  }
  result.version = eventData.version;
  result.updated_at = eventData.updated_at;
  result.updated_by = eventData.updated_by;
  return result;
}

/**
 * A graphic's on-air state, as the browser client keeps it (docs/protocol.md, On air).
 *
 * Every graphic a staff client holds (the full graphic of a subscription, or a summary on
 * "all") carries `on_air`, `program_version`, `live`, `transition`, `transition_ms` and
 * `draft_differs`. The events `graphic_take`, `graphic_clear` and `graphic_live` change them,
 * and in live mode every saved version goes to air (`graphic_update` with `live: true`). A view
 * key's copy is the program itself: the graphic as it is on air, or, while cleared, only its
 * on-air fields and no canvas.
 *
 * Pure functions, so node tests every rule (tests/js/air.test.mjs).
 */

/** The fields of a graphic that say what is on air. */
export const AIR_FIELDS = Object.freeze([
  "on_air",
  "program_version",
  "live",
  "transition",
  "transition_ms",
]);

/** The transitions a graphic can animate in and out with, as the server names them. */
export const TRANSITIONS = Object.freeze(["none", "fade", "slide"]);

/** A graphic's transition as the overlay animates it: a known name, and a duration in ms. */
export function transitionOf(graphic) {
  const name = TRANSITIONS.includes(graphic?.transition) ? graphic.transition : "none";
  const ms = Number(graphic?.transition_ms);
  // 0..5000 ms, as the server allows; anything else animates as a cut.
  const duration = Number.isFinite(ms) ? Math.min(5000, Math.max(0, Math.round(ms))) : 0;
  return { name: duration === 0 ? "none" : name, ms: name === "none" ? 0 : duration };
}

/**
 * Whether the draft (the current version) is not what is on air: the rule the server's
 * `draft_differs` follows. True when the graphic was never taken, or when it is on air at
 * another version than the current one; false while it is cleared after a take (nothing on
 * air to differ from), and for a copy without on-air fields (an older server).
 */
export function draftDiffers(graphic) {
  if (!graphic || !("program_version" in graphic)) return false;
  if (graphic.program_version === null || graphic.program_version === undefined) return true;
  return Boolean(graphic.on_air) && graphic.program_version !== graphic.version;
}

/** The on-air fields `data` (an event's data) carries, and only those. */
export function airFieldsOf(data) {
  const fields = {};
  for (const name of AIR_FIELDS) {
    if (data && Object.hasOwn(data, name)) fields[name] = data[name];
  }
  return fields;
}

/** `graphic` with `fields` set and `draft_differs` worked out again (a new object). */
export function withAir(graphic, fields) {
  const next = { ...(graphic ?? {}), ...fields };
  if ("program_version" in next) next.draft_differs = draftDiffers(next);
  return next;
}

/**
 * A copy after an on-air event (`graphic_take`, `graphic_clear`, `graphic_live`), for a
 * graphic's subscriber (`summary` false) or the list (`summary` true, no canvas).
 *
 * A take names the version it put on air and carries the graphic at that version: it becomes
 * the copy (for staff it is the current version, since a take must name the current version;
 * for a view key it is the new program). A clear only changes the on-air fields: the overlay
 * still has the picture it animates out. Turning live on carries the graphic like a take.
 *
 * @param {object|null} graphic the copy before
 * @param {string} type the event's type
 * @param {object} data the event's data
 * @param {{summary?: boolean}} [options]
 * @returns {object} the copy after
 */
export function graphicAfterAirEvent(graphic, type, data, { summary = false } = {}) {
  let next = graphic;
  const payload = data.payload && typeof data.payload === "object" ? data.payload : null;
  if (payload && (type === "graphic_take" || type === "graphic_live")) {
    const { data: _canvas, ...rest } = payload;
    next = { ...(graphic ?? {}), ...(summary ? rest : payload) };
  }
  const fields = airFieldsOf(data);
  if (type === "graphic_take") fields.on_air = true;
  if (type === "graphic_clear") fields.on_air = false;
  if (next === null || next === undefined) next = { id: data.graphic_id };
  return withAir(next, fields);
}

/**
 * A copy after a `graphic_update` has been applied to it: in live mode the saved version went
 * to air at once, so it is the program version (the patch form of the event does not carry
 * it). `data.live` is the graphic's live flag when the change was written.
 */
export function afterUpdate(graphic, data) {
  if (!graphic || !("program_version" in graphic)) return graphic;
  const fields = {};
  if (typeof data.live === "boolean") fields.live = data.live;
  if (data.live === true && graphic.on_air && typeof data.version === "number") {
    fields.program_version = data.version;
  }
  return withAir(graphic, fields);
}

// What the list and the editor show of a graphic's on-air state, and their keyboard shortcuts
// for Take and Clear: pure, so node tests them (tests/js/air-controls.test.mjs).

/**
 * The shortcuts, written on both pages. Function keys type nothing, so they work wherever the
 * focus is (a text field included) and clash with no text editing; F8 is where broadcast
 * keyboards put their take key less often than F1-F4, which browsers and OBS use.
 */
export const SHORTCUTS = Object.freeze({ take: "F8", clear: "Shift+F8" });

/**
 * The on-air action a key press asks for: "take", "clear" or null. A key held down repeats:
 * only the first press counts, so a held key never takes twice.
 * @param {{key: string, shiftKey?: boolean, ctrlKey?: boolean, altKey?: boolean,
 *   metaKey?: boolean, repeat?: boolean}} event
 */
export function airShortcut(event) {
  if (event.key !== "F8" || event.repeat || event.ctrlKey || event.altKey || event.metaKey) {
    return null;
  }
  return event.shiftKey ? "clear" : "take";
}

/**
 * The on-air badge: `{state, text}` with state "on-air", "off-air" or "never" (and "live" when
 * every save goes to air), for a graphic with on-air fields; null for one without.
 */
export function airBadge(graphic) {
  if (!graphic || !("on_air" in graphic)) return null;
  if (graphic.on_air) {
    const version = graphic.program_version;
    return {
      state: graphic.live ? "live" : "on-air",
      text: `${graphic.live ? "ON AIR · LIVE" : "ON AIR"} · v${version}`,
    };
  }
  if (graphic.program_version === null || graphic.program_version === undefined) {
    return { state: "never", text: "Never on air" };
  }
  return { state: "off-air", text: `Off air (last v${graphic.program_version})` };
}

/** "Draft v5 differs from air (v3)", "Not taken yet", or "" when the draft is what is on air
 * (or nothing is on air to differ from). */
export function draftDiffersText(graphic) {
  if (!graphic || !graphic.draft_differs) return "";
  if (graphic.program_version === null || graphic.program_version === undefined) return "Not taken yet";
  return `Draft v${graphic.version} differs from air (v${graphic.program_version})`;
}

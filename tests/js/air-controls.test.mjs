// The on-air badge, the "draft differs from air" text and the Take / Clear shortcuts
// (dashboard/static/dashboard/air-controls.js), as the list and the editor show and use them.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  SHORTCUTS, airBadge, airShortcut, draftDiffersText,
} from "../../dashboard/static/dashboard/air-controls.js";

test("F8 takes, Shift+F8 clears; with Ctrl, Alt or Meta, or held down, nothing", () => {
  assert.equal(airShortcut({ key: "F8" }), "take");
  assert.equal(airShortcut({ key: "F8", shiftKey: true }), "clear");
  assert.equal(airShortcut({ key: "F8", repeat: true }), null);
  for (const modifier of ["ctrlKey", "altKey", "metaKey"]) {
    assert.equal(airShortcut({ key: "F8", [modifier]: true }), null, modifier);
  }
  for (const key of ["F7", "F9", "Enter", "Backspace", "8", "s"]) {
    assert.equal(airShortcut({ key }), null, key);
  }
  assert.deepEqual(SHORTCUTS, { take: "F8", clear: "Shift+F8" });
});

test("the badge: on air (live or not) with its version, off air, never taken", () => {
  assert.deepEqual(airBadge({ on_air: true, program_version: 3, live: false }), { state: "on-air", text: "ON AIR · v3" });
  assert.deepEqual(airBadge({ on_air: true, program_version: 4, live: true }), { state: "live", text: "ON AIR · LIVE · v4" });
  assert.deepEqual(airBadge({ on_air: false, program_version: 3 }), { state: "off-air", text: "Off air (last v3)" });
  assert.deepEqual(airBadge({ on_air: false, program_version: null }), { state: "never", text: "Never on air" });
  assert.equal(airBadge({ id: 7 }), null, "a graphic without on-air fields");
});

test("draft differs: the versions, or not taken yet; nothing when they agree", () => {
  assert.equal(
    draftDiffersText({ version: 5, program_version: 3, draft_differs: true }),
    "Draft v5 differs from air (v3)",
  );
  assert.equal(draftDiffersText({ version: 1, program_version: null, draft_differs: true }), "Not taken yet");
  assert.equal(draftDiffersText({ version: 3, program_version: 3, draft_differs: false }), "");
  assert.equal(draftDiffersText(null), "");
});

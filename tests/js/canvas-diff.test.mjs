// The editor's patches (dashboard/static/dashboard/canvas-diff.js), checked by applying them
// with the client's reference merge (realtime/static/realtime/patch.js): whatever the edit,
// base + patch must give exactly the edited graphic, and an unchanged graphic gives no patch.
import assert from "node:assert/strict";
import { test } from "node:test";

import { graphicPatch, transitionChanges } from "../../dashboard/static/dashboard/canvas-diff.js";
import { graphicApplyEvent } from "../../realtime/static/realtime/patch.js";

const text = (id, extra = {}) => ({
  id, type: "text", x: 40, y: 32, font_size: 48, color: "#ffffff", content: id, ...extra,
});

const base = {
  id: 7, version: 4, title: "Week 2 Standings", event_name: "Week 2", archived: false,
  updated_at: "2026-11-26T09:00:00Z", updated_by: { id: 3, username: "editor" },
  data: {
    background: { image_url: "/media/backgrounds/a.png", width: 1920, height: 1080 },
    elements: [text("title", { bold: true }), text("subtitle"), text("footer")],
  },
};

function applied(edited) {
  const patch = graphicPatch(base, edited);
  assert.ok(patch, "an edit makes a patch");
  const event = {
    id: 7, action: "updated", version: 5, base_version: 4, patch,
    updated_at: "2026-11-26T09:01:00Z", updated_by: { id: 3, username: "editor" },
  };
  return { patch, result: graphicApplyEvent(structuredClone(base), event) };
}

function edit(mutate) {
  const copy = structuredClone(base);
  mutate(copy);
  return copy;
}

const cases = {
  "move one element": (g) => { g.data.elements[1].x = 120; g.data.elements[1].y = 48; },
  "change text and title": (g) => { g.data.elements[0].content = "Final"; g.title = "Final"; },
  "remove an optional key": (g) => { delete g.data.elements[0].bold; },
  "add an element": (g) => { g.data.elements.push(text("logo")); },
  "delete an element": (g) => { g.data.elements.splice(1, 1); },
  "reorder": (g) => { g.data.elements.reverse(); },
  "add, delete and reorder": (g) => {
    g.data.elements = [text("new"), g.data.elements[2], g.data.elements[0]];
  },
  "clear the background": (g) => { g.data.background = null; },
  "change the background": (g) => {
    g.data.background = { image_url: "/media/backgrounds/b.png", width: 1280, height: 720 };
  },
  "event name": (g) => { g.event_name = "Week 3"; },
};

for (const [name, mutate] of Object.entries(cases)) {
  test(`patch round trip: ${name}`, () => {
    const edited = edit(mutate);
    const { result } = applied(edited);
    assert.deepEqual(result.data, edited.data);
    assert.equal(result.title, edited.title);
    assert.equal(result.event_name, edited.event_name);
    assert.equal(result.version, 5);
  });
}

test("a moved element sends only its changed keys", () => {
  const { patch } = applied(edit((g) => { g.data.elements[1].x = 120; }));
  assert.deepEqual(patch, { data: { elements: { subtitle: { x: 120 } } } });
});

test("a text change never resends the background", () => {
  const { patch } = applied(edit((g) => { g.data.elements[0].content = "Final"; }));
  assert.ok(!("background" in patch.data));
});

test("no change, no patch", () => {
  assert.equal(graphicPatch(base, structuredClone(base)), null);
});

test("setting a background on a canvas without one sends it whole", () => {
  const bare = { ...structuredClone(base), data: { background: null, elements: [] } };
  const edited = structuredClone(bare);
  edited.data.background = { image_url: "/media/x.png", width: 10, height: 20 };
  assert.deepEqual(graphicPatch(bare, edited), { data: { background: edited.data.background } });
});

test("the transition and its duration are sent beside the patch, only when they change", () => {
  const onAir = { ...structuredClone(base), transition: "fade", transition_ms: 400 };
  const edited = { ...structuredClone(onAir), transition: "slide", transition_ms: 250 };
  assert.deepEqual(transitionChanges(onAir, edited), { transition: "slide", transition_ms: 250 });
  assert.equal(graphicPatch(onAir, edited), null, "no part of the canvas patch");
  assert.deepEqual(
    transitionChanges(onAir, { ...structuredClone(onAir), transition_ms: 0 }), { transition_ms: 0 },
  );
  assert.equal(transitionChanges(onAir, structuredClone(onAir)), null);
  // A working copy without them (a graphic from an older server) leaves them alone.
  const { transition: _t, transition_ms: _ms, ...without } = structuredClone(onAir);
  assert.equal(transitionChanges(onAir, without), null);
});

// On air in the browser client (realtime/static/realtime/air.js and how subscription.js applies
// graphic_take, graphic_clear and graphic_live): the staff copy keeps its draft and learns
// what is on air; a view key's copy is the program, with seq gaps where drafts were withheld,
// and never asks for a snapshot because of them.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  afterUpdate,
  draftDiffers,
  graphicAfterAirEvent,
  transitionOf,
} from "../../realtime/static/realtime/air.js";
import { LiveClient } from "../../realtime/static/realtime/live-client.js";
import { FakeClock, fakeFetch, fakeWebSocketClass } from "./fakes.mjs";

const URL = "ws://127.0.0.1:8000/ws/graphics";

function canvas(content) {
  return {
    background: null,
    elements: [{ id: "title", type: "text", x: 40, y: 32, content }],
  };
}

function graphic(version, air = {}, content = `v${version}`) {
  return {
    id: 7,
    title: "Caster Lower Third",
    event_name: "Week 2",
    version,
    archived: false,
    updated_at: "2026-11-26T09:40:00Z",
    updated_by: null,
    data: canvas(content),
    on_air: true,
    program_version: version,
    live: false,
    transition: "fade",
    transition_ms: 400,
    draft_differs: false,
    ...air,
  };
}

function makeClient(options = {}) {
  const clock = new FakeClock();
  const WebSocketImpl = fakeWebSocketClass();
  const http = fakeFetch();
  const client = new LiveClient({
    url: URL,
    WebSocketImpl,
    fetchImpl: http.fetch,
    setTimeoutImpl: clock.setTimeout,
    clearTimeoutImpl: clock.clearTimeout,
    nowImpl: clock.nowImpl,
    random: () => 0.5,
    ...options,
  });
  const sockets = WebSocketImpl.sockets;
  return { client, clock, sockets, http, socket: () => sockets.at(-1) };
}

/** A client subscribed to graphic 7 from a snapshot of `snapshotGraphic` at `seq`. */
function following(snapshotGraphic, { seq = 100, viewKey = undefined } = {}) {
  const setup = makeClient(viewKey ? { viewKey } : {});
  const sub = setup.client.subscribe(7);
  const seen = [];
  sub.addEventListener("snapshot", () => seen.push("snapshot"));
  sub.addEventListener("change", (event) => seen.push(event.detail.type));
  setup.client.start();
  setup.socket().welcome();
  setup.socket().ack("subscribe", {
    graphic_id: 7,
    graphic: snapshotGraphic,
    lock: null,
    seq,
    recovered: false,
  });
  return { ...setup, sub, seen };
}

function frame(type, seq, data) {
  return { type, subscription: 7, data: { graphic_id: 7, seq, ...data } };
}

function take(seq, payload, extra = {}) {
  return frame("graphic_take", seq, {
    program_version: payload.version,
    on_air: true,
    live: false,
    transition: "fade",
    transition_ms: 400,
    timestamp: "t",
    payload,
    ...extra,
  });
}

function clear(seq, programVersion, extra = {}) {
  return frame("graphic_clear", seq, {
    on_air: false,
    program_version: programVersion,
    transition: "slide",
    transition_ms: 250,
    timestamp: "t",
    ...extra,
  });
}

function patchUpdate(seq, version, content, live = false) {
  return {
    type: "graphic_update",
    subscription: 7,
    data: {
      id: 7,
      action: "updated",
      version,
      base_version: version - 1,
      patch: { data: { elements: { title: { content } } } },
      updated_at: "2026-11-26T10:01:00Z",
      updated_by: null,
      changed_fields: ["data"],
      live,
      seq,
    },
  };
}

const FIELDS = ["on_air", "program_version", "live", "draft_differs"];
const airOf = (copy) => Object.fromEntries(FIELDS.map((name) => [name, copy[name]]));

describe("the rules (air.js)", () => {
  test("draft_differs: never taken, or on air at another version than the draft", () => {
    assert.equal(draftDiffers({ version: 1, on_air: false, program_version: null }), true);
    assert.equal(draftDiffers({ version: 3, on_air: true, program_version: 3 }), false);
    assert.equal(draftDiffers({ version: 4, on_air: true, program_version: 3 }), true);
    assert.equal(draftDiffers({ version: 4, on_air: false, program_version: 3 }), false);
    assert.equal(draftDiffers({ version: 4 }), false, "a copy without on-air fields");
    assert.equal(draftDiffers(null), false);
  });

  test("transitionOf: a known name and 0..5000 ms; none or 0 ms is a cut", () => {
    assert.deepEqual(transitionOf({ transition: "fade", transition_ms: 400 }), { name: "fade", ms: 400 });
    assert.deepEqual(transitionOf({ transition: "slide", transition_ms: 9000 }), { name: "slide", ms: 5000 });
    assert.deepEqual(transitionOf({ transition: "slide", transition_ms: 0 }), { name: "none", ms: 0 });
    assert.deepEqual(transitionOf({ transition: "none", transition_ms: 400 }), { name: "none", ms: 0 });
    assert.deepEqual(transitionOf({ transition: "wipe", transition_ms: 400 }), { name: "none", ms: 0 });
    assert.deepEqual(transitionOf({}), { name: "none", ms: 0 });
  });

  test("a take brings the graphic at the taken version; a clear keeps the picture", () => {
    const before = graphic(3, { program_version: 2, draft_differs: true });
    const taken = graphicAfterAirEvent(before, "graphic_take", take(5, graphic(3)).data);
    assert.deepEqual(airOf(taken), { on_air: true, program_version: 3, live: false, draft_differs: false });
    const cleared = graphicAfterAirEvent(taken, "graphic_clear", clear(6, 3).data);
    assert.deepEqual(airOf(cleared), { on_air: false, program_version: 3, live: false, draft_differs: false });
    assert.deepEqual(cleared.data, taken.data);
    assert.equal(cleared.transition, "slide");
    assert.equal(cleared.transition_ms, 250);
  });

  test("a summary (the list) takes a take's fields but never a canvas", () => {
    const summary = { id: 7, title: "A", version: 3, on_air: false, program_version: null, lock: null };
    const after = graphicAfterAirEvent(summary, "graphic_take", take(5, graphic(3)).data, { summary: true });
    assert.equal("data" in after, false);
    assert.equal(after.on_air, true);
    assert.equal(after.program_version, 3);
    assert.equal(after.draft_differs, false);
    assert.equal(after.lock, null, "what the event does not carry is kept");
  });

  test("a save in live mode goes to air: it becomes the program version", () => {
    const onAir = graphic(3, { live: true });
    assert.deepEqual(
      airOf(afterUpdate({ ...onAir, version: 4 }, { version: 4, live: true })),
      { on_air: true, program_version: 4, live: true, draft_differs: false },
    );
    assert.deepEqual(
      airOf(afterUpdate({ ...graphic(3), version: 4 }, { version: 4, live: false })),
      { on_air: true, program_version: 3, live: false, draft_differs: true },
    );
  });
});

describe("a staff subscriber", () => {
  test("edits make the draft differ; a take puts it on air; a clear takes it off", () => {
    const { sub, seen, socket } = following(graphic(3));
    socket().receive(patchUpdate(101, 4, "typo fixed"));
    assert.deepEqual(airOf(sub.graphic), { on_air: true, program_version: 3, live: false, draft_differs: true });
    assert.equal(sub.graphic.data.elements[0].content, "typo fixed", "staff see the draft");

    socket().receive(take(102, graphic(4, {}, "typo fixed")));
    assert.deepEqual(airOf(sub.graphic), { on_air: true, program_version: 4, live: false, draft_differs: false });
    socket().receive(clear(103, 4));
    assert.deepEqual(airOf(sub.graphic), { on_air: false, program_version: 4, live: false, draft_differs: false });
    assert.deepEqual(seen, ["snapshot", "graphic_update", "graphic_take", "graphic_clear"]);
  });

  test("graphic_live turns live mode on and off; live saves keep the draft on air", () => {
    const { sub, socket } = following(graphic(3));
    socket().receive(
      frame("graphic_live", 101, { live: true, on_air: true, program_version: 3, payload: graphic(3, { live: true }) }),
    );
    assert.equal(sub.graphic.live, true);
    socket().receive(patchUpdate(102, 4, "live edit", true));
    assert.deepEqual(airOf(sub.graphic), { on_air: true, program_version: 4, live: true, draft_differs: false });
    socket().receive(frame("graphic_live", 103, { live: false, on_air: true, program_version: 4 }));
    socket().receive(patchUpdate(104, 5, "draft again"));
    assert.deepEqual(airOf(sub.graphic), { on_air: true, program_version: 4, live: false, draft_differs: true });
  });

  test('"all" gets take, clear and live in summary form', () => {
    const { client, socket } = makeClient();
    const list = client.subscribe("all");
    client.start();
    socket().welcome();
    const { data: _canvas, ...summary } = graphic(3, { on_air: false, program_version: null, draft_differs: true });
    socket().ack("subscribe", { graphic_id: "all", graphics: [{ ...summary, lock: null }], seq: 50, recovered: false });
    const { data: _, ...taken } = graphic(3);
    socket().receive({ ...take(51, taken), subscription: "all" });
    assert.deepEqual(airOf(list.graphics.get(7)), { on_air: true, program_version: 3, live: false, draft_differs: false });
    socket().receive({
      type: "graphic_update",
      subscription: "all",
      data: { id: 7, action: "updated", payload: { ...taken, version: 4 }, version: 4, live: false, seq: 52 },
    });
    assert.equal(list.graphics.get(7).draft_differs, true);
    socket().receive({ ...clear(53, 3), subscription: "all" });
    assert.deepEqual(airOf(list.graphics.get(7)), { on_air: false, program_version: 3, live: false, draft_differs: false });
  });
});

describe("a view key (the overlay)", () => {
  test("seq gaps where drafts were withheld are not version gaps: no snapshot is asked for", () => {
    const { sub, seen, socket } = following(graphic(3), { viewKey: "k" });
    // Versions 4 and 5 were drafts (seqs 101, 102 withheld); the take of version 5 comes next.
    socket().receive(take(103, graphic(5, {}, "final text")));
    assert.equal(sub.graphic.version, 5);
    assert.equal(sub.graphic.data.elements[0].content, "final text");
    assert.equal(sub.seq, 103);
    socket().receive(clear(110, 5));
    assert.equal(sub.graphic.on_air, false);
    assert.equal(socket().sentOf("subscribe").length, 1, "no resync for a gap");
    assert.deepEqual(seen, ["snapshot", "graphic_take", "graphic_clear"]);
  });

  test("a cleared snapshot has no canvas; a stray patch is ignored, a take draws", () => {
    const offAir = { id: 7, on_air: false, program_version: 3, live: false, transition: "fade", transition_ms: 400 };
    const { sub, socket } = following(offAir, { viewKey: "k" });
    assert.equal(sub.graphic.on_air, false);
    assert.equal("data" in sub.graphic, false);
    socket().receive(patchUpdate(101, 4, "not for air"));
    assert.equal(socket().sentOf("subscribe").length, 1, "nothing to patch is no reason to resync");
    assert.equal("data" in sub.graphic, false);
    socket().receive(take(102, graphic(4)));
    assert.equal(sub.graphic.on_air, true);
    assert.equal(sub.graphic.data.elements[0].content, "v4");
  });

  test("live updates patch the program; one the copy cannot take asks for one snapshot", () => {
    const { sub, socket } = following(graphic(3, { live: true }), { viewKey: "k" });
    socket().receive(patchUpdate(104, 4, "live", true));
    assert.equal(sub.graphic.data.elements[0].content, "live");
    assert.equal(sub.graphic.program_version, 4);
    socket().receive(patchUpdate(108, 7, "after a gap", true)); // base 6, the copy is at 4
    assert.equal(socket().sentOf("subscribe").length, 2);
    socket().receive(patchUpdate(109, 8, "dropped until the snapshot", true));
    assert.equal(socket().sentOf("subscribe").length, 2, "one snapshot asked for, not a loop");
  });

  test("resumes after a reconnect from the last seq it applied, gaps and all", async () => {
    const { sub, socket, clock } = following(graphic(3), { viewKey: "k" });
    socket().receive(clear(107, 3));
    socket().drop(1006);
    await clock.advance(250);
    socket().welcome();
    assert.deepEqual(socket().sentOf("subscribe").at(-1).data, { graphic_id: 7, last_seq: 107 });
    socket().ack("subscribe", { graphic_id: 7, recovered: true, replayed: 0, seq: 107 });
    assert.equal(sub.graphic.on_air, false);
    assert.equal(socket().sentOf("subscribe").length, 1, "one subscribe on the new socket");
  });

  test("polling with a view key moves on with next_since past withheld events", async () => {
    const { client, clock, http } = makeClient({ viewKey: "k", WebSocketImpl: null });
    const sub = client.subscribe(7);
    http.responses.push({
      status: 200,
      body: {
        graphic: 7, recovered: false, more: false, next_since: 100, events: [],
        snapshot: { graphic_id: 7, graphic: graphic(3), lock: null, seq: 100 },
      },
    });
    http.responses.push({
      status: 200,
      body: { graphic: 7, recovered: true, more: false, next_since: 140, events: [take(120, graphic(6)).valueOf()] },
    });
    http.responses.push({ status: 200, body: { graphic: 7, recovered: true, more: false, next_since: 141, events: [] } });
    client.start();
    await clock.advance(0);
    assert.equal(sub.graphic.version, 3);
    await clock.advance(2000);
    assert.equal(sub.graphic.version, 6);
    assert.equal(sub.seq, 140);
    await clock.advance(2000);
    assert.match(http.calls.at(-1).url, /since=140&key=k$/);
    assert.equal(http.calls.filter((call) => !call.url.includes("since=")).length, 1, "one snapshot");
  });
});

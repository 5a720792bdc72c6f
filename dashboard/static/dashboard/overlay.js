// The on-air overlay: the graphic's program (what an operator took to air) at its native size
// on a transparent page, kept live with the graphic's view key. A view key is never sent a
// draft: its copy is the program version, or, while the graphic is cleared, no canvas at all,
// and then the page is empty (fully transparent). A take draws the program with the graphic's
// transition in (fade or slide, over its duration in ms); a clear plays it out, then empties
// the page. Snapshots (opening the page, a reconnect) draw at once, without a transition.
//
// It keeps the last picture through restarts and network cuts (the client resumes and catches
// up by seq) and redraws only from a whole, applied state. A new program version redraws the
// canvas; new standings redraw only the rows of its lists, so nothing else on the canvas moves
// when a result comes in.
//
// The animations are CSS (overlay.css) chosen by a data attribute and a class; their duration
// goes in a CSS custom property set through the CSSOM, which the Content-Security-Policy
// allows (it forbids inline style attributes and scripts).

import { transitionOf } from "../realtime/air.js";
import { LiveClient } from "../realtime/live-client.js";
import { pageConfig } from "./api.js";
import { redrawLists, renderCanvas } from "./render.js";

const config = pageConfig();
const root = document.getElementById("overlay");
const client = new LiveClient({ viewKey: config.view_key, batch: true });
const subscription = client.subscribe(config.graphic_id);

// What is drawn: the program version and its standings (as JSON: a snapshot after a
// reconnect brings an equal copy, which changes nothing on air); null while the page is empty.
let drawn = null;
// Bumped by every transition started, so the end of an older one does nothing.
let transitionRun = 0;

function standingsText(standings) {
  return standings ? JSON.stringify(standings) : "";
}

/** Whether the copy is something to show: on air, with a canvas (a view key's copy while
 * cleared has none). A server without on-air fields puts everything on air. */
function programOnAir() {
  const graphic = subscription.graphic;
  return Boolean(!subscription.deleted && graphic && graphic.on_air !== false && graphic.data);
}

function setAir(air) {
  root.dataset.air = air;
}

function stopTransition() {
  transitionRun += 1;
  root.classList.remove("air-in", "air-out");
}

/** Play `direction` ("in" or "out") with the graphic's transition; `done` runs at its end. */
function playTransition(direction, done = () => {}) {
  stopTransition();
  const run = transitionRun;
  const { name, ms } = transitionOf(subscription.graphic);
  if (name === "none") {
    done();
    return;
  }
  root.dataset.transition = name;
  root.style.setProperty("--air-ms", `${ms}ms`);
  void root.offsetWidth; // restart the animation even when the same class comes back
  root.classList.add(`air-${direction}`);
  setTimeout(() => {
    if (run !== transitionRun) return;
    root.classList.remove(`air-${direction}`);
    done();
  }, ms);
}

/** Draw the program (or only its lists' rows) if it is not what is drawn. */
function drawProgram() {
  const graphic = subscription.graphic;
  const standings = subscription.standings;
  const text = standingsText(standings);
  if (!drawn || graphic.version !== drawn.version) {
    renderCanvas(root, graphic.data, { standings });
  } else if (text !== drawn.standings) {
    redrawLists(root, graphic.data, { standings });
  } else {
    return;
  }
  drawn = { version: graphic.version, standings: text };
  // For OBS operators and the browser tests: which version, and which standings, are on air.
  root.dataset.version = String(graphic.version);
  root.dataset.standingsRevision = standings ? String(standings.revision) : "";
}

function blank() {
  root.replaceChildren();
  root.dataset.version = "";
  root.dataset.standingsRevision = "";
  drawn = null;
  setAir("off");
}

/** A snapshot (the page opening, a reconnect): show the state as it is, at once. */
function showSnapshot() {
  stopTransition();
  if (programOnAir()) {
    drawProgram();
    setAir("on");
  } else {
    blank();
  }
}

function takeIn() {
  const wasShown = drawn !== null && root.dataset.air === "on";
  drawProgram();
  setAir("on");
  // Already on air (a re-take, live saves): the new version replaces the old in place.
  if (!wasShown) playTransition("in");
}

function clearOut() {
  if (root.dataset.air === "out") return; // already on its way out
  if (drawn === null) {
    blank();
    return;
  }
  setAir("out");
  playTransition("out", blank);
}

function onChange(event) {
  const frame = event.detail;
  if (subscription.deleted) {
    stopTransition();
    blank();
  } else if (frame.type === "graphic_clear" || !programOnAir()) {
    clearOut();
  } else if (frame.type === "graphic_take" || frame.type === "graphic_live") {
    takeIn();
  } else if (root.dataset.air === "on") {
    drawProgram(); // a live save, or new standings
  } else if (root.dataset.air === "off") {
    takeIn();
  }
}

subscription.addEventListener("snapshot", showSnapshot);
subscription.addEventListener("change", onChange);
client.addEventListener("state", (event) => {
  root.dataset.state = event.detail.state;
});
client.addEventListener("fatal", (event) => {
  // A revoked key: the picture stays until someone fixes the source; say why in the log.
  console.warn("GAL Live overlay stopped:", event.detail.message);
});
client.start();

// The on-air overlay: the graphic's canvas at its native size on a transparent page, kept live
// with the graphic's view key. It keeps the last picture through restarts and network cuts
// (the client resumes and catches up by seq) and redraws only from a whole, applied state.
// A new version of the graphic redraws the canvas; new standings redraw only the rows of its
// lists, so nothing else on the canvas moves when a result comes in.

import { LiveClient } from "../realtime/live-client.js";
import { pageConfig } from "./api.js";
import { redrawLists, renderCanvas } from "./render.js";

const config = pageConfig();
const root = document.getElementById("overlay");
const client = new LiveClient({ viewKey: config.view_key, batch: true });
const subscription = client.subscribe(config.graphic_id);

let drawnVersion = null;
// The standings drawn, as JSON: a snapshot after a reconnect brings an equal copy, which
// changes nothing on air.
let drawnStandings = null;

function standingsText(standings) {
  return standings ? JSON.stringify(standings) : "";
}

function draw() {
  if (subscription.deleted) {
    root.replaceChildren();
    root.dataset.version = "";
    root.dataset.standingsRevision = "";
    drawnVersion = null;
    drawnStandings = null;
    return;
  }
  const graphic = subscription.graphic;
  if (!graphic) return;
  const standings = subscription.standings;
  const text = standingsText(standings);
  if (graphic.version !== drawnVersion) {
    renderCanvas(root, graphic.data, { standings });
  } else if (text !== drawnStandings) {
    redrawLists(root, graphic.data, { standings });
  } else {
    return;
  }
  drawnVersion = graphic.version;
  drawnStandings = text;
  // For OBS operators and the browser tests: which version, and which standings, are on air.
  root.dataset.version = String(graphic.version);
  root.dataset.standingsRevision = standings ? String(standings.revision) : "";
}

subscription.addEventListener("snapshot", draw);
subscription.addEventListener("change", draw);
client.addEventListener("state", (event) => {
  root.dataset.state = event.detail.state;
});
client.addEventListener("fatal", (event) => {
  // A revoked key: the picture stays until someone fixes the source; say why in the log.
  console.warn("GAL Live overlay stopped:", event.detail.message);
});
client.start();

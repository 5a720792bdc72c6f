// The on-air overlay: the graphic's canvas at its native size on a transparent page, kept live
// with the graphic's view key. It keeps the last picture through restarts and network cuts
// (the client resumes and catches up by seq) and redraws only from a whole, applied state.

import { LiveClient } from "../realtime/live-client.js";
import { pageConfig } from "./api.js";
import { renderCanvas } from "./render.js";

const config = pageConfig();
const root = document.getElementById("overlay");
const client = new LiveClient({ viewKey: config.view_key });
const subscription = client.subscribe(config.graphic_id);

let drawnVersion = null;

function draw() {
  if (subscription.deleted) {
    root.replaceChildren();
    root.dataset.version = "";
    drawnVersion = null;
    return;
  }
  const graphic = subscription.graphic;
  if (!graphic || graphic.version === drawnVersion) return;
  renderCanvas(root, graphic.data);
  drawnVersion = graphic.version;
  // For OBS operators and the browser tests: which version is on air.
  root.dataset.version = String(graphic.version);
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

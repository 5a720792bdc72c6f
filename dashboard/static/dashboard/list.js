// The graphics list: every graphic, live. Everything other people do (new graphics, titles,
// archive and restore, locks with their countdown, who is watching, takes and clears) arrives
// on the "all" subscription and is drawn without a reload; writes go through the REST API.
//
// On air: each row says whether the graphic is on air and at which version (the program),
// and whether its draft differs from it. Editors get Take (which names the version the row
// shows, so a take never puts on air a version nobody here saw) and Clear, on the buttons or
// with F8 / Shift+F8 on the selected row (click a row to select it).

import { LiveClient } from "../realtime/live-client.js";
import { SHORTCUTS, airBadge, airShortcut, draftDiffersText } from "./air-controls.js";
import { api, describeError, pageConfig } from "./api.js";
import {
  copyObsUrl, formatCountdown, openOverlay, showBanner, showConnectionState,
} from "./connection.js";

const config = pageConfig();
const client = new LiveClient({ batch: true });
const all = client.subscribe("all");
showConnectionState(client);

const body = document.getElementById("graphics-body");
const empty = document.getElementById("empty");
const search = document.getElementById("search");
const eventFilter = document.getElementById("event-filter");
const eventNames = document.getElementById("event-names");
let tab = "active";
// Graphic id -> when its lock was last seen to free up, for the "now available" moment.
const freedAt = new Map();
const FREED_NOTICE_MS = 8000;
// The row F8 / Shift+F8 act on: the last one clicked.
let selectedId = null;

function lockHeld(lock) {
  return Boolean(lock && lock.locked && Date.parse(lock.expires_at) > client.serverNow());
}

function button(label, onClick, { danger = false, action = label } = {}) {
  const node = document.createElement("button");
  node.type = "button";
  node.textContent = label;
  node.dataset.action = action;
  if (danger) node.className = "danger";
  node.addEventListener("click", onClick);
  return node;
}

function cell(className, text = "") {
  const node = document.createElement("td");
  node.className = className;
  node.textContent = text;
  return node;
}

function statusCell(graphic) {
  const node = cell("status");
  const badge = document.createElement("span");
  if (lockHeld(graphic.lock)) {
    const left = Date.parse(graphic.lock.expires_at) - client.serverNow();
    badge.className = "badge in-use";
    badge.textContent = `In use by ${graphic.lock.locked_by} · ${formatCountdown(left)}`;
  } else if (graphic.archived) {
    badge.className = "badge free";
    badge.textContent = "Archived";
  } else if (freedAt.has(graphic.id) && client.serverNow() - freedAt.get(graphic.id) < FREED_NOTICE_MS) {
    badge.className = "badge available";
    badge.textContent = "Now available";
  } else {
    badge.className = "badge free";
    badge.textContent = "Available";
  }
  node.append(badge);
  return node;
}

function airCell(graphic) {
  const node = cell("air");
  const badge = airBadge(graphic);
  if (badge) {
    const span = document.createElement("span");
    span.className = `badge air ${badge.state}`;
    span.dataset.air = badge.state;
    span.textContent = badge.text;
    node.append(span);
  }
  const differs = draftDiffersText(graphic);
  if (differs) {
    const note = document.createElement("span");
    note.className = "draft-differs";
    note.textContent = differs;
    node.append(" ", note);
  }
  return node;
}

/** Take the version the row shows to air. */
function takeGraphic(graphic) {
  return act(() => api("POST", `/api/graphics/${graphic.id}/take/`, {
    expected_version: graphic.version,
  }));
}

function clearGraphic(graphic) {
  return act(() => api("POST", `/api/graphics/${graphic.id}/clear/`, {}));
}

function presenceText(graphicId) {
  const counts = all.presenceCounts.get(graphicId) || all.presenceCounts.get(String(graphicId));
  if (!counts || (!counts.viewing && !counts.editing)) return "";
  const parts = [];
  if (counts.editing) parts.push(`${counts.editing} editing`);
  if (counts.viewing) parts.push(`${counts.viewing} viewing`);
  return parts.join(", ");
}

async function act(work, doneText) {
  try {
    await work();
    if (doneText) showBanner(doneText, "info");
  } catch (error) {
    showBanner(describeError(error), "error");
  }
}

function confirmDialog(text, { withReason = true } = {}) {
  const dialog = document.getElementById("confirm-dialog");
  document.getElementById("confirm-text").textContent = text;
  const reason = document.getElementById("confirm-reason");
  reason.value = "";
  document.getElementById("confirm-reason-label").hidden = !withReason;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "ok" ? { reason: reason.value } : null);
    }, { once: true });
    dialog.showModal();
  });
}

function actionsCell(graphic) {
  const node = cell("actions");
  if (config.can_edit && !graphic.archived && "on_air" in graphic) {
    const take = button("Take", () => takeGraphic(graphic), { action: "take" });
    take.className = "take";
    take.title = `Put version ${graphic.version} on air (${SHORTCUTS.take} on the selected row)`;
    const clear = button("Clear", () => clearGraphic(graphic), { action: "clear" });
    clear.title = `Take it off air (${SHORTCUTS.clear} on the selected row)`;
    clear.disabled = !graphic.on_air;
    node.append(take, clear);
  }
  const open = document.createElement("a");
  open.href = `/graphics/${graphic.id}/edit/`;
  open.textContent = config.can_edit && !graphic.archived ? "Edit" : "Open";
  open.dataset.action = "open";
  node.append(open);
  node.append(button("Open overlay", () => act(
    () => openOverlay(api, graphic.id, config.can_edit),
  ), { action: "open-overlay" }));
  node.append(button("Copy OBS URL", () => act(
    () => copyObsUrl(api, graphic.id, config.can_edit),
  ), { action: "copy-obs-url" }));
  if (config.can_create) {
    node.append(button("Duplicate", () => act(
      () => api("POST", `/api/graphics/${graphic.id}/duplicate/`, {}),
      `Duplicated "${graphic.title}".`,
    )));
  }
  if (config.can_edit && !graphic.archived) {
    node.append(button("Archive", () => act(
      () => api("POST", `/api/graphics/${graphic.id}/archive/`, {}),
    )));
  }
  if (config.can_edit && graphic.archived) {
    node.append(button("Restore", () => act(
      () => api("POST", `/api/graphics/${graphic.id}/restore/`, {}),
    )));
  }
  if (config.can_delete) {
    node.append(button("Delete", async () => {
      const answer = await confirmDialog(
        `Delete "${graphic.title}" permanently? This cannot be undone; its overlay goes blank.`,
      );
      if (answer) {
        await act(
          () => api("DELETE", `/api/graphics/${graphic.id}/`, { reason: answer.reason }),
          `Deleted "${graphic.title}".`,
        );
      }
    }, { danger: true, action: "delete" }));
  }
  return node;
}

function row(graphic) {
  const tr = document.createElement("tr");
  tr.id = `graphic-${graphic.id}`;
  tr.dataset.graphicId = String(graphic.id);
  if (graphic.id === selectedId) tr.classList.add("selected");
  if (graphic.on_air) tr.classList.add("on-air");
  tr.addEventListener("click", () => {
    selectedId = graphic.id;
    for (const other of body.querySelectorAll("tr.selected")) other.classList.remove("selected");
    tr.classList.add("selected");
  });
  const title = cell("title");
  const link = document.createElement("a");
  link.href = `/graphics/${graphic.id}/edit/`;
  link.textContent = graphic.title;
  title.append(link);
  tr.append(
    title,
    cell("event", graphic.event_name),
    cell("version", String(graphic.version)),
    airCell(graphic),
    cell("updated", new Date(graphic.updated_at).toLocaleString()),
    statusCell(graphic),
    cell("presence", presenceText(graphic.id)),
    actionsCell(graphic),
  );
  return tr;
}

function matches(graphic) {
  if ((tab === "archived") !== Boolean(graphic.archived)) return false;
  if (eventFilter.value && graphic.event_name !== eventFilter.value) return false;
  const needle = search.value.trim().toLowerCase();
  return !needle
    || graphic.title.toLowerCase().includes(needle)
    || graphic.event_name.toLowerCase().includes(needle);
}

function renderEventOptions(graphics) {
  const names = [...new Set(graphics.map((graphic) => graphic.event_name))].sort();
  const chosen = eventFilter.value;
  const options = [new Option("All events", "")];
  for (const name of names) options.push(new Option(name, name));
  eventFilter.replaceChildren(...options);
  eventFilter.value = names.includes(chosen) ? chosen : "";
  if (eventNames) eventNames.replaceChildren(...names.map((name) => new Option(name)));
}

function render() {
  const graphics = [...all.graphics.values()].sort(
    (a, b) => Date.parse(b.updated_at) - Date.parse(a.updated_at) || b.id - a.id,
  );
  renderEventOptions(graphics);
  document.getElementById("count-active").textContent = String(graphics.filter((g) => !g.archived).length);
  document.getElementById("count-archived").textContent = String(graphics.filter((g) => g.archived).length);
  const shown = graphics.filter(matches);
  body.replaceChildren(...shown.map(row));
  empty.hidden = shown.length > 0 || !all.ready;
}

let renderQueued = false;
function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    render();
  });
}

all.addEventListener("snapshot", scheduleRender);
all.addEventListener("presence", scheduleRender);
all.addEventListener("change", (event) => {
  const frame = event.detail;
  if (frame.type === "lock_status" && !frame.data.locked) freedAt.set(frame.data.graphic_id, client.serverNow());
  scheduleRender();
});
// Countdowns tick, and "now available" fades, without any event. Only the status cells are
// redrawn, so a button under the pointer is never replaced between press and release.
setInterval(() => {
  for (const tr of body.children) {
    const graphic = all.graphics.get(Number(tr.dataset.graphicId));
    const status = tr.querySelector("td.status");
    if (graphic && status) status.replaceWith(statusCell(graphic));
  }
}, 1000);

for (const tabButton of document.querySelectorAll("[data-tab]")) {
  tabButton.addEventListener("click", () => {
    tab = tabButton.dataset.tab;
    for (const other of document.querySelectorAll("[data-tab]")) {
      other.setAttribute("aria-selected", String(other === tabButton));
    }
    render();
  });
}
search.addEventListener("input", render);

document.addEventListener("keydown", (event) => {
  const action = airShortcut(event);
  if (!action || !config.can_edit) return;
  event.preventDefault(); // F8 is the take key here, whatever the browser does with it
  const graphic = all.graphics.get(selectedId);
  if (!graphic || graphic.archived || !body.querySelector(`tr.selected`)) {
    showBanner(`Click a graphic's row first: ${SHORTCUTS.take} takes it, ${SHORTCUTS.clear} clears it.`, "info");
    return;
  }
  if (action === "take") takeGraphic(graphic);
  else if (graphic.on_air) clearGraphic(graphic);
});
eventFilter.addEventListener("change", render);

const createForm = document.getElementById("create-form");
if (createForm) {
  createForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const form = new FormData(createForm);
    act(async () => {
      await api("POST", "/api/graphics/", {
        title: String(form.get("title")), event_name: String(form.get("event_name")),
      });
      createForm.reset();
    });
  });
}

client.start();

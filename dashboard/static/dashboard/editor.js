// The editor: one graphic, its lock, its canvas. The page takes the lock when it opens (or
// shows who holds it, until when, and says when it frees), refreshes it while the user works,
// releases it when the page closes, and saves edits as merge patches under the lock's fencing
// token. The graphic itself always comes from the live subscription, so the preview is what
// the overlay shows. List elements (players, scores, placements) show the event's real
// standings from the same subscription, and placeholder rows while there are none.
//
// On air: the page shows the program (the version on air, fetched from the graphic's history
// when it is not the current one) below the draft, says when the draft differs from it, and
// gives editors Take (the saved current version to air), Clear and the live switch, on
// buttons and on F8 / Shift+F8. The transition is edited and saved like the title.

import { LiveClient } from "../realtime/live-client.js";
import { airBadge, airShortcut, draftDiffersText } from "./air-controls.js";
import { api, describeError, pageConfig } from "./api.js";
import { graphicPatch, transitionChanges } from "./canvas-diff.js";
import {
  copyObsUrl, formatCountdown, hideBanner, openOverlay, showBanner, showConnectionState,
} from "./connection.js";
import {
  AIR, INITIAL, airBusy, canTake, hasUnsavedChanges, heldToken, isSaving, transition,
} from "./editor-state.js";
import {
  EMPTY_STATE_TEXT, TOTAL, canvasSize, isList, listRows, renderCanvas, tableName,
} from "./render.js";

const config = pageConfig();
const graphicId = config.graphic_id;
const me = config.user;
const client = new LiveClient({ batch: true });
const subscription = client.subscribe(graphicId);
showConnectionState(client);

const $ = (id) => document.getElementById(id);
const stage = $("stage");
const programStage = $("program-stage");

// The page's lock term and the state of its edits (editor-state.js); only dispatch() changes it.
let state = INITIAL;
// The page's working copy ({title, event_name, transition, transition_ms, data}); whether it
// is saved is in `state`.
let working = null;
// The program's content when it is not the current version ({version, data}), as fetched for
// `state.program`; whether it is the one wanted is in `state`.
let programContent = null;
let selectedId = null;
let lastActivity = Date.now();
let lastRefresh = Date.now();
let lastHolderSeen = null;
// Refresh the lock at most this often while the user is active (the TTL is minutes).
const REFRESH_EVERY_MS = 60 * 1000;
const ADD_BUTTONS = ["add-text", "add-players", "add-scores", "add-placements"];

const clone = (value) => JSON.parse(JSON.stringify(value));

/** Apply `event` to the page's state; false (and no change) when the state refuses it. */
function dispatch(event) {
  const next = transition(state, event);
  if (next === null) return false;
  state = next;
  return true;
}

function liveLock() {
  const lock = subscription.lock;
  return lock && lock.locked && Date.parse(lock.expires_at) > client.serverNow() ? lock : null;
}

function holdingLock() {
  const lock = liveLock();
  const token = heldToken(state);
  return Boolean(lock && token !== null && lock.fencing_token === token && lock.locked_by_id === me.id);
}

function canEditNow() {
  return holdingLock() && subscription.graphic && !subscription.graphic.archived;
}

// ----------------------------------------------------------------------------------- drawing

function selectedElement() {
  return working && working.data.elements.find((element) => element.id === selectedId);
}

function drawStage() {
  if (!working) return;
  const size = canvasSize(working.data);
  renderCanvas(stage, working.data, { standings: subscription.standings, editor: true });
  const canvas = stage.firstElementChild;
  const scale = Math.min(1, (stage.parentElement.clientWidth - 4) / size.width);
  canvas.style.transform = `scale(${scale})`;
  canvas.style.transformOrigin = "0 0";
  stage.style.height = `${size.height * scale}px`;
  stage.dataset.scale = String(scale);
  $("canvas-size").textContent = `${size.width} × ${size.height}`;
  for (const node of canvas.querySelectorAll("[data-element-id]")) {
    if (node.dataset.elementId === selectedId) node.classList.add("selected");
  }
}

/** The program as it is on air ({version, data}), or null: off air, or not fetched yet. */
function programOnAir() {
  const graphic = subscription.graphic;
  if (!graphic || !graphic.on_air) return null;
  if (graphic.program_version === graphic.version) return graphic;
  const wanted = state.program;
  return wanted && wanted.loaded && programContent && programContent.version === graphic.program_version
    ? programContent
    : null;
}

/** Fetch the program's content when it is not the current version (and not fetched yet). */
function syncProgram() {
  const graphic = subscription.graphic;
  const needed = graphic && graphic.on_air && graphic.program_version !== graphic.version
    ? graphic.program_version
    : null;
  if (!dispatch({ type: "program_wanted", version: needed }) || needed === null) return;
  api("GET", `/api/graphics/${graphicId}/history/${needed}/`).then(
    (answer) => {
      if (!dispatch({ type: "program_loaded", version: needed })) return;
      programContent = { version: needed, data: answer.data };
      drawProgram();
    },
    (error) => {
      if (dispatch({ type: "program_failed", version: needed })) {
        $("program-label").textContent = `version ${needed} could not be loaded: ${describeError(error)}`;
      }
    },
  );
}

function drawProgram() {
  const graphic = subscription.graphic;
  const label = $("program-label");
  const program = programOnAir();
  programStage.dataset.version = program ? String(program.version) : "";
  if (!graphic || !("on_air" in graphic)) {
    programStage.replaceChildren();
    label.textContent = "";
    return;
  }
  if (!graphic.on_air) {
    programStage.replaceChildren();
    programStage.style.width = "";
    programStage.style.height = "";
    label.textContent = graphic.program_version === null
      ? "· nothing on air: this graphic was never taken"
      : `· nothing on air (cleared; version ${graphic.program_version} was on air last)`;
    return;
  }
  if (!program) {
    label.textContent = `· version ${graphic.program_version} on air (loading…)`;
    return;
  }
  const size = canvasSize(program.data);
  renderCanvas(programStage, program.data, { standings: subscription.standings });
  const canvas = programStage.firstElementChild;
  // Half the width of the draft: enough to check what is on air.
  const scale = Math.min(1, (programStage.parentElement.clientWidth / 2 - 4) / size.width);
  canvas.style.transform = `scale(${scale})`;
  canvas.style.transformOrigin = "0 0";
  programStage.style.width = `${size.width * scale + 2}px`;
  programStage.style.height = `${size.height * scale}px`;
  label.textContent = `· version ${program.version} on air${graphic.live ? ", live" : ""}`
    + (graphic.draft_differs ? "; the draft above differs" : "; the same as the draft");
}

function otherHolder() {
  const lock = liveLock();
  return lock && lock.locked_by_id !== me.id ? lock.locked_by : null;
}

function drawAir() {
  const graphic = subscription.graphic;
  const badge = airBadge(graphic);
  const status = $("air-status");
  status.textContent = badge ? badge.text : "";
  status.className = `badge air ${badge ? badge.state : ""}`;
  status.dataset.air = badge ? badge.state : "";
  $("air-differs").textContent = draftDiffersText(graphic);
  const takeButton = $("take");
  if (!takeButton) return; // no Editor role: nothing to press
  const usable = Boolean(graphic && !graphic.archived && !subscription.deleted && badge);
  const holder = otherHolder();
  const lockedOut = Boolean(holder) && !config.can_override;
  takeButton.disabled = !usable || !canTake(state) || lockedOut;
  takeButton.title = `Put version ${graphic ? graphic.version : ""} on air (F8)`;
  $("clear").disabled = !usable || !graphic.on_air || airBusy(state);
  const live = $("live-switch");
  live.checked = Boolean(graphic && graphic.live);
  live.disabled = !usable || airBusy(state) || lockedOut || (!live.checked && !canTake(state));
  const note = $("air-note");
  if (state.air !== AIR.IDLE) {
    note.textContent = { taking: "Taking…", clearing: "Clearing…", switching: "Switching live…" }[state.air];
  } else if (usable && hasUnsavedChanges(state)) {
    note.textContent = "Save first: Take puts the saved version on air.";
  } else if (usable && lockedOut) {
    note.textContent = `In use by ${holder}: only they or a Lock admin can take it.`;
  } else {
    note.textContent = "";
  }
}

function drawPanel() {
  const editable = canEditNow();
  const graphic = subscription.graphic;
  if (working) {
    const title = $("field-title");
    const event = $("field-event");
    if (document.activeElement !== title) title.value = working.title;
    if (document.activeElement !== event) event.value = working.event_name;
    if (working.transition !== undefined) $("field-transition").value = working.transition;
    const duration = $("field-transition-ms");
    if (working.transition_ms !== undefined && document.activeElement !== duration) {
      duration.value = String(working.transition_ms);
    }
    const list = $("element-list");
    list.replaceChildren(...working.data.elements.map((element) => {
      const item = document.createElement("li");
      item.dataset.elementId = element.id;
      item.textContent = element.type === "text"
        ? `${element.id}: ${element.content}`
        : `${element.id} (${listLabel(element)})`;
      if (element.id === selectedId) item.classList.add("selected");
      item.addEventListener("click", () => select(element.id));
      return item;
    }));
  }
  const fields = ["field-title", "field-event", "field-transition", "field-transition-ms"];
  for (const id of [...fields, ...ADD_BUTTONS, "background-file", "clear-background"]) {
    $(id).disabled = !editable;
  }
  const element = selectedElement();
  $("element-props").disabled = !editable || !element;
  $("list-props").hidden = !isList(element);
  $("prop-content-label").hidden = Boolean(element) && isList(element);
  if (element) {
    const content = $("prop-content");
    content.disabled = element.type !== "text";
    if (isList(element)) drawListProps(element);
    if (document.activeElement !== content) content.value = element.type === "text" ? element.content : "";
    for (const [id, key] of [["prop-font-size", "font_size"], ["prop-x", "x"], ["prop-y", "y"]]) {
      if (document.activeElement !== $(id)) $(id).value = String(element[key]);
    }
    $("prop-color").value = element.color.length === 7 ? element.color : "#ffffff";
  }
  const saving = isSaving(state);
  const dirty = hasUnsavedChanges(state);
  $("save").disabled = !editable || !dirty || saving;
  drawAir(); // Take waits for a save: what the buttons allow follows the edits
  $("save-state").textContent = saving ? "Saving…" : dirty ? "Unsaved changes" : graphic ? "Saved" : "";
  if (graphic) {
    $("graphic-title").textContent = graphic.title;
    $("graphic-version").textContent = `version ${graphic.version}${graphic.archived ? " · archived" : ""}`;
  }
}

function listLabel(element) {
  const table = tableName(element.round_id);
  const round = table === TOTAL ? "total" : table.replace(/^round_/, "round ");
  const first = Number.isInteger(element.start) ? element.start : 1;
  const last = first + element.preview_count - 1;
  const rows = element.preview_count > 0 ? `${first}\u2013${last}` : "no rows";
  return `${element.type} · ${round} · ${rows}`;
}

function drawListProps(element) {
  const round = /^round_([0-9]+)$/.exec(tableName(element.round_id));
  const kind = $("prop-round-kind");
  const number = $("prop-round-number");
  kind.value = tableName(element.round_id) === TOTAL ? "total" : "round";
  number.disabled = kind.value !== "round";
  if (document.activeElement !== number) number.value = round ? round[1] : "";
  for (const [id, value] of [
    ["prop-start", Number.isInteger(element.start) ? element.start : 1],
    ["prop-preview-count", element.preview_count],
    ["prop-spacing", element.spacing],
  ]) {
    if (document.activeElement !== $(id)) $(id).value = String(value);
  }
}

/** What the lists will show, in a line under the element list: the producer's check. */
function drawStandingsNote() {
  const note = $("standings-note");
  const lists = working ? working.data.elements.filter(isList) : [];
  const standings = subscription.standings;
  if (!lists.length) {
    note.textContent = "";
  } else if (
    !standings || standings.event_name !== working.event_name
    || lists.some((element) => !(tableName(element.round_id) in (standings.tables ?? {})))
  ) {
    note.textContent = `Save to show the standings of "${working.event_name}" in these lists.`;
  } else if (standings.tournament_id === null) {
    note.textContent = `No event named "${standings.event_name}" yet: the lists show `
      + `placeholders here, and on air "${EMPTY_STATE_TEXT}".`;
  } else if (lists.some((element) => listRows(element, standings).state !== "rows")) {
    note.textContent = `Live standings of "${standings.event_name}"; a list without results `
      + `yet shows placeholders here, and on air "${EMPTY_STATE_TEXT}".`;
  } else {
    note.textContent = `Live standings of "${standings.event_name}".`;
  }
}

function drawLock() {
  const lock = liveLock();
  const message = $("lock-message");
  const status = $("lock-status");
  const take = $("take-lock");
  const release = $("release-lock");
  const force = $("force-unlock");
  const graphic = subscription.graphic;
  take.hidden = true;
  release.hidden = true;
  if (force) force.hidden = true;
  if (subscription.deleted) {
    message.textContent = "This graphic was deleted.";
    status.textContent = "";
    return;
  }
  if (holdingLock()) {
    status.textContent = "You are editing";
    status.dataset.state = "mine";
    message.textContent = `Your lock runs until ${new Date(Date.parse(lock.expires_at) - client.serverOffsetMs).toLocaleTimeString()}; it is kept while you work.`;
    release.hidden = false;
  } else if (lock && lock.locked_by_id === me.id) {
    // Ours, but not this page's: another tab, or this page's acquire still on its way.
    status.textContent = "In use by you";
    status.dataset.state = "taken";
    message.textContent = "You hold this lock in another tab or window; edit there, or close it and take the lock here.";
  } else if (lock) {
    const left = Date.parse(lock.expires_at) - client.serverNow();
    status.textContent = `In use by ${lock.locked_by}`;
    status.dataset.state = "taken";
    message.textContent = `In use by ${lock.locked_by} for up to ${formatCountdown(left)}. You can look, not edit.`;
    lastHolderSeen = lock.locked_by;
    if (force) force.hidden = false;
  } else {
    status.textContent = graphic && graphic.archived ? "Archived" : "Available";
    status.dataset.state = "free";
    if (graphic && graphic.archived) {
      message.textContent = "Archived graphics cannot be edited; restore it from the list first.";
    } else if (!config.can_edit) {
      message.textContent = "You can look at this graphic; editing needs the Editor role.";
    } else {
      message.textContent = lastHolderSeen ? `Now available: ${lastHolderSeen} is done.` : "Available.";
      take.hidden = false;
    }
  }
}

function drawPresence() {
  const presence = subscription.presence;
  const others = ((presence && presence.users) || []).filter((entry) => entry.user_id !== me.id);
  $("presence").textContent = others.length
    ? `Also here: ${others.map((entry) => `${entry.username} (${entry.action})`).join(", ")}`
    : "";
}

function drawAll() {
  drawLock();
  drawPanel();
  drawStage();
  drawStandingsNote();
  drawPresence();
  syncProgram();
  drawAir();
  drawProgram();
}

// ------------------------------------------------------------------------------ live state

function takeServerCopy() {
  const graphic = subscription.graphic;
  if (!graphic) return;
  // Unsaved changes stay until saved or discarded; otherwise show the graphic as it is now.
  if (!hasUnsavedChanges(state) || !working) {
    working = { title: graphic.title, event_name: graphic.event_name, data: clone(graphic.data) };
    for (const name of ["transition", "transition_ms"]) {
      if (name in graphic) working[name] = graphic[name];
    }
  }
}

subscription.addEventListener("snapshot", () => {
  takeServerCopy();
  drawAll();
});
subscription.addEventListener("change", (event) => {
  const frame = event.detail;
  // A lock_status that ends our term needs nothing here: holdingLock() compares the live
  // lock's token with ours, and lock_lost (which may come before or after it) says why.
  if (frame.type !== "lock_status" && frame.type !== "standings_update") takeServerCopy();
  drawAll();
});
subscription.addEventListener("presence", drawPresence);

client.addEventListener("lock_expiring", (event) => {
  if (event.detail.graphic_id !== graphicId || event.detail.fencing_token !== heldToken(state)) return;
  showBanner(`Your lock expires in ${event.detail.seconds_left} s.`, "warning", {
    action: { label: "Keep editing", onClick: () => refreshLock().then(hideBanner) },
  });
});

client.addEventListener("lock_lost", (event) => {
  const lost = event.detail;
  if (lost.graphic_id !== graphicId || !dispatch({ type: "lock_lost", token: lost.fencing_token })) return;
  const why = lost.reason === "overridden"
    ? `${lost.by ? lost.by.username : "A lock admin"} took your lock${lost.note ? `: "${lost.note}"` : ""}.`
    : "Your lock expired.";
  showBanner(`${why} Your unsaved changes are kept on this page; take the lock again to save them.`, "error", {
    action: { label: "Take the lock", onClick: () => acquireLock() },
  });
  drawAll();
});

client.addEventListener("state", (event) => {
  // A new connection has no presence of its own yet: say "editing" again.
  if (event.detail.state === "live" && holdingLock()) announce("editing");
});

// ---------------------------------------------------------------------------------- locking

function announce(action) {
  if (client.state !== "live") return;
  client.request("activity", { graphic_id: graphicId, action }).catch(() => {});
}

async function acquireLock() {
  if (!dispatch({ type: "acquire" })) return;
  try {
    const lock = await api("POST", `/api/graphics/${graphicId}/lock/`);
    // Refused only when a force unlock with take-over answered first: its token stands.
    if (dispatch({ type: "acquired", token: lock.fencing_token })) {
      lastRefresh = Date.now();
      hideBanner();
      announce("editing");
    }
  } catch (error) {
    dispatch({ type: "acquire_failed" });
    if (error.code !== "lock_conflict") showBanner(describeError(error), "error");
  }
  drawAll();
}

async function refreshLock() {
  if (!holdingLock()) return;
  try {
    const lock = await api("POST", `/api/graphics/${graphicId}/lock/`);
    if (lock.fencing_token === heldToken(state)) lastRefresh = Date.now();
  } catch (error) {
    showBanner(describeError(error), "error");
  }
}

async function releaseLock() {
  if (!holdingLock() || !dispatch({ type: "release" })) return;
  try {
    await api("DELETE", `/api/graphics/${graphicId}/lock/`);
    dispatch({ type: "released" });
  } catch (error) {
    dispatch({ type: "release_failed" });
    showBanner(describeError(error), "error");
  }
  announce("viewing");
  drawAll();
}

for (const name of ["keydown", "pointerdown", "input"]) {
  document.addEventListener(name, () => { lastActivity = Date.now(); }, { capture: true });
}

setInterval(() => {
  if (holdingLock() && lastActivity > lastRefresh && Date.now() - lastRefresh >= REFRESH_EVERY_MS) {
    refreshLock();
  }
  drawLock();
}, 1000);

window.addEventListener("pagehide", () => {
  if (holdingLock()) {
    // keepalive: the request outlives the page.
    api("DELETE", `/api/graphics/${graphicId}/lock/`, undefined, { keepalive: true }).catch(() => {});
  }
});

$("take-lock").addEventListener("click", acquireLock);
$("release-lock").addEventListener("click", releaseLock);

const forceButton = $("force-unlock");
if (forceButton) {
  forceButton.addEventListener("click", () => {
    const dialog = $("override-dialog");
    $("override-reason").value = "";
    $("override-take-over").checked = false;
    dialog.addEventListener("close", async () => {
      if (dialog.returnValue !== "ok") return;
      const reason = $("override-reason").value.trim();
      const takeOver = $("override-take-over").checked;
      try {
        const lock = await api("POST", `/api/graphics/${graphicId}/lock/override/`, { reason, take_over: takeOver });
        if (takeOver && dispatch({ type: "taken_over", token: lock.fencing_token })) announce("editing");
        hideBanner();
      } catch (error) {
        showBanner(describeError(error), "error");
      }
      drawAll();
    }, { once: true });
    dialog.showModal();
  });
}

// ---------------------------------------------------------------------------------- editing

function change(mutate) {
  if (!canEditNow() || !working || !dispatch({ type: "edit" })) return;
  mutate(working);
  drawPanel();
  drawStage();
  drawStandingsNote();
}

function select(id) {
  selectedId = id;
  drawPanel();
  drawStage();
}

function changeSelected(mutate) {
  change((copy) => {
    const element = copy.data.elements.find((candidate) => candidate.id === selectedId);
    if (element) mutate(element);
  });
}

$("field-title").addEventListener("input", (event) => change((copy) => { copy.title = event.target.value; }));
$("field-event").addEventListener("input", (event) => change((copy) => { copy.event_name = event.target.value; }));
$("field-transition").addEventListener("change", (event) => change((copy) => { copy.transition = event.target.value; }));
$("field-transition-ms").addEventListener("input", (event) => {
  const ms = wholeNumberIn(event.target, 0, 5000);
  if (ms !== null) change((copy) => { copy.transition_ms = ms; });
});
$("prop-content").addEventListener("input", (event) => changeSelected((element) => { element.content = event.target.value; }));
$("prop-color").addEventListener("input", (event) => changeSelected((element) => { element.color = event.target.value; }));
for (const [id, key] of [["prop-font-size", "font_size"], ["prop-x", "x"], ["prop-y", "y"]]) {
  $(id).addEventListener("input", (event) => {
    const value = Number(event.target.value);
    if (event.target.value !== "" && Number.isFinite(value)) changeSelected((element) => { element[key] = value; });
  });
}

/** `<prefix>-<n>`, the first n from the element count up that no element has. */
function newElementId(prefix) {
  const taken = new Set(working.data.elements.map((element) => element.id));
  let number = working.data.elements.length + 1;
  while (taken.has(`${prefix}-${number}`)) number += 1;
  return `${prefix}-${number}`;
}

$("add-text").addEventListener("click", () => {
  const id = newElementId("text");
  change((copy) => {
    copy.data.elements.push({ id, type: "text", x: 100, y: 100, font_size: 48, color: "#ffffff", content: "New text" });
  });
  select(id);
});

// A new column sits to the right of the last list, on its rows (same top, spacing, rows,
// round and first rank), so players | scores | placements line up without measuring.
const COLUMN_GAP_PX = 420;

function newListElement(type, id) {
  const last = working.data.elements.filter(isList).at(-1);
  if (!last) {
    return {
      id, type, x: 100, y: 200, font_size: 36, color: "#ffffff", spacing: 48, preview_count: 8,
      round_id: TOTAL,
    };
  }
  const element = {
    id, type, x: last.x + COLUMN_GAP_PX, y: last.y, font_size: last.font_size, color: last.color,
    spacing: last.spacing, preview_count: last.preview_count,
  };
  for (const key of ["round_id", "start", "font_family", "bold", "italic"]) {
    if (last[key] !== undefined && last[key] !== null) element[key] = last[key];
  }
  return element;
}

for (const type of ["players", "scores", "placements"]) {
  $(`add-${type}`).addEventListener("click", () => {
    const id = newElementId(type);
    change((copy) => { copy.data.elements.push(newListElement(type, id)); });
    select(id);
  });
}

function wholeNumberIn(input, min, max) {
  const value = Number(input.value);
  const whole = input.value !== "" && Number.isInteger(value);
  return whole && value >= min && value <= max ? value : null;
}

$("prop-round-kind").addEventListener("change", (event) => {
  const round = wholeNumberIn($("prop-round-number"), 1, 64) ?? 1;
  changeSelected((element) => {
    element.round_id = event.target.value === "total" ? TOTAL : `round_${round}`;
  });
});
$("prop-round-number").addEventListener("input", (event) => {
  const round = wholeNumberIn(event.target, 1, 64);
  if (round !== null) changeSelected((element) => { element.round_id = `round_${round}`; });
});
$("prop-start").addEventListener("input", (event) => {
  const start = wholeNumberIn(event.target, 1, 1000);
  if (start === null) return;
  // Absent means 1: a list that starts at the top keeps no `start`.
  changeSelected((element) => {
    if (start === 1) delete element.start;
    else element.start = start;
  });
});
$("prop-preview-count").addEventListener("input", (event) => {
  const count = wholeNumberIn(event.target, 0, 100);
  if (count !== null) changeSelected((element) => { element.preview_count = count; });
});
$("prop-spacing").addEventListener("input", (event) => {
  const spacing = Number(event.target.value);
  if (event.target.value !== "" && Number.isFinite(spacing) && spacing >= 0 && spacing <= 10000) {
    changeSelected((element) => { element.spacing = spacing; });
  }
});

$("delete-element").addEventListener("click", () => {
  const id = selectedId;
  change((copy) => { copy.data.elements = copy.data.elements.filter((element) => element.id !== id); });
  select(null);
});

$("background-file").addEventListener("change", async (event) => {
  const file = event.target.files[0];
  if (!file) return;
  const form = new FormData();
  form.append("file", file);
  $("save-state").textContent = "Uploading…";
  try {
    const background = await api("POST", "/api/uploads/backgrounds/", form);
    change((copy) => { copy.data.background = background; });
  } catch (error) {
    showBanner(describeError(error), "error");
  }
  event.target.value = "";
  drawPanel();
});

$("clear-background").addEventListener("click", () => change((copy) => { copy.data.background = null; }));

stage.addEventListener("pointerdown", (event) => {
  const node = event.target.closest("[data-element-id]");
  if (!node) {
    select(null);
    return;
  }
  select(node.dataset.elementId);
  stage.focus();
  if (!canEditNow()) return;
  const element = selectedElement();
  const scale = Number(stage.dataset.scale) || 1;
  const start = { x: event.clientX, y: event.clientY, elementX: element.x, elementY: element.y };
  const move = (moveEvent) => {
    changeSelected((target) => {
      target.x = Math.round(start.elementX + (moveEvent.clientX - start.x) / scale);
      target.y = Math.round(start.elementY + (moveEvent.clientY - start.y) / scale);
    });
  };
  const stop = () => {
    window.removeEventListener("pointermove", move);
    window.removeEventListener("pointerup", stop);
  };
  window.addEventListener("pointermove", move);
  window.addEventListener("pointerup", stop);
  event.preventDefault();
});

stage.addEventListener("keydown", (event) => {
  const steps = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
  if (event.key in steps && selectedElement()) {
    const [dx, dy] = steps[event.key];
    const step = event.shiftKey ? 10 : 1;
    changeSelected((element) => { element.x += dx * step; element.y += dy * step; });
    event.preventDefault();
  } else if ((event.key === "Delete" || event.key === "Backspace") && selectedElement() && canEditNow()) {
    $("delete-element").click();
    event.preventDefault();
  }
});

async function save() {
  const graphic = subscription.graphic;
  if (!canEditNow() || !graphic) return;
  const patch = graphicPatch(graphic, working);
  const transition = transitionChanges(graphic, working);
  if (!patch && !transition) {
    if (dispatch({ type: "nothing_to_save" })) drawPanel();
    return;
  }
  if (!dispatch({ type: "save" })) return; // nothing unsaved, or a save already on its way
  const token = heldToken(state);
  drawPanel();
  try {
    const body = { version: graphic.version, fencing_token: token, ...transition };
    if (patch) body.patch = patch;
    await api("PATCH", `/api/graphics/${graphicId}/`, body);
    dispatch({ type: "saved" });
    lastRefresh = Date.now() - REFRESH_EVERY_MS; // a save is activity: refresh on the next tick
    hideBanner();
  } catch (error) {
    dispatch({ type: "save_failed" });
    showBanner(`Not saved: ${describeError(error)}`, "error");
  }
  drawPanel();
}

$("save").addEventListener("click", save);
document.addEventListener("keydown", (event) => {
  if ((event.ctrlKey || event.metaKey) && event.key === "s") {
    event.preventDefault();
    save();
  }
});

// ----------------------------------------------------------------------------------- on air

/** Send one on-air request (`event` starts it in the state machine); say why if refused. */
async function airRequest(event, path, body, failure) {
  if (!dispatch(event)) return;
  drawAir();
  try {
    await api("POST", `/api/graphics/${graphicId}/${path}/`, body);
    dispatch({ type: "air_done" });
    hideBanner();
  } catch (error) {
    dispatch({ type: "air_failed" });
    showBanner(`${failure}: ${describeError(error)}`, "error");
  }
  drawAll();
}

function takeToAir() {
  const graphic = subscription.graphic;
  if (!config.can_edit || !graphic || graphic.archived) return;
  if (hasUnsavedChanges(state)) {
    showBanner("Not taken: save first. Take puts the saved version on air, and your changes are not saved yet.", "warning");
    return;
  }
  // The version this page shows: a newer one saved elsewhere meanwhile is a version_conflict,
  // never a take of something this operator did not see.
  airRequest({ type: "take" }, "take", { expected_version: graphic.version }, "Not taken");
}

function clearFromAir() {
  const graphic = subscription.graphic;
  if (!config.can_edit || !graphic || !graphic.on_air) return;
  airRequest({ type: "clear" }, "clear", {}, "Not cleared");
}

if (config.can_edit) {
  $("take").addEventListener("click", takeToAir);
  $("clear").addEventListener("click", clearFromAir);
  $("live-switch").addEventListener("change", (event) => {
    const live = event.target.checked;
    event.target.checked = !live; // the graphic's flag decides what shows, once it changes
    airRequest({ type: "set_live", live }, "live", { live }, live ? "Live not turned on" : "Live not turned off");
  });
  document.addEventListener("keydown", (event) => {
    const action = airShortcut(event);
    if (!action) return;
    event.preventDefault();
    if (action === "take") takeToAir();
    else clearFromAir();
  });
}

for (const [id, action] of [["open-overlay", openOverlay], ["copy-obs-url", copyObsUrl]]) {
  $(id).addEventListener("click", () => action(api, graphicId, config.can_edit).catch(
    (error) => showBanner(describeError(error), "error"),
  ));
}

window.addEventListener("resize", () => {
  drawStage();
  drawProgram();
});

client.start();
// Take the lock once, when the page opens and this user may edit; later the user decides.
subscription.addEventListener("snapshot", () => {
  const graphic = subscription.graphic;
  if (!config.can_edit || !graphic || graphic.archived || liveLock()) return;
  if (dispatch({ type: "open_free" })) acquireLock();
});

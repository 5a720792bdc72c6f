// The results page: pick an event and a round, enter a lobby's placements by keyboard, correct
// a saved lobby, and watch the standings. Every write is one REST call (/api/standings/); the
// standings beside the form are fetched again after each save, and whenever a standings_update
// for this event arrives on the "all" subscription (another scorekeeper's save, an import).

import { LiveClient } from "../realtime/live-client.js";
import { ApiError, api, describeError, pageConfig } from "./api.js";
import { showBanner, showConnectionState } from "./connection.js";

const EVENTS_URL = "/api/standings/events/";
const SEATS = 8;
// A save raises standings_update once per graphic bound to the event; one refetch serves them.
const REFRESH_COALESCE_MS = 30;

const config = pageConfig();
const canManage = Boolean(config.can_manage);
const client = new LiveClient({ batch: true });
const all = client.subscribe("all");
showConnectionState(client);

const $ = (id) => document.getElementById(id);
const eventSelect = $("event-select");
const roundSelect = $("round-select");
const form = $("lobby-form");
const lobbyInput = $("lobby-number");
const reasonLabel = $("reason-label");
const reasonInput = $("reason");
const saveButton = $("save-lobby");
const saveStatus = $("save-status");
const playerOptions = $("event-players");

const state = {
  events: [],
  /** the chosen event's detail: {id, name, players, rounds, revision, ...} or null */
  event: null,
  /** the chosen round's number, or null */
  round: null,
  /** the chosen round's lobbies: [{number, results: [{player, name, placement, points}]}] */
  lobbies: [],
  /** the standings revision drawn, so a standings_update already seen is not fetched again */
  shownRevision: -1,
  saving: false,
};

// -- small things -------------------------------------------------------------------------------

function eventUrl(path = "") {
  return `${EVENTS_URL}${state.event.id}/${path}`;
}

function listOf(answer) {
  // A list endpoint answers a plain list or a page ({results, next}).
  return Array.isArray(answer) ? answer : (answer?.results ?? []);
}

function playerName(player) {
  return player.display_name ?? player.name ?? "";
}

function rememberSelection() {
  const params = new URLSearchParams();
  if (state.event) params.set("event", String(state.event.id));
  if (state.round !== null) params.set("round", String(state.round));
  const query = params.toString();
  window.history.replaceState(null, "", query ? `?${query}` : window.location.pathname);
}

function requested(name) {
  const value = Number(new URLSearchParams(window.location.search).get(name));
  return Number.isSafeInteger(value) && value > 0 ? value : null;
}

function td(text, className = "") {
  const node = document.createElement("td");
  node.textContent = text;
  if (className) node.className = className;
  return node;
}

// -- loading ------------------------------------------------------------------------------------

/** The events, then one of them shown: `prefer` (the one shown now by default) if it still
 * exists, at round `round` when given, else the newest. */
async function loadEvents({ prefer = state.event?.id ?? null, round = undefined } = {}) {
  const events = [];
  let url = EVENTS_URL;
  // Bounded: a league has a handful of events; the API pages them.
  for (let page = 0; url && page < 50; page += 1) {
    const answer = await api("GET", url);
    events.push(...listOf(answer));
    url = Array.isArray(answer) ? null : answer?.next;
  }
  state.events = events;
  eventSelect.replaceChildren(...events.map((event) => new Option(event.name, String(event.id))));
  $("no-event").hidden = events.length > 0;
  const pick = events.find((event) => event.id === prefer) ?? events[0];
  if (pick) {
    eventSelect.value = String(pick.id);
    await selectEvent(pick.id, pick.id === prefer ? { round } : {});
  } else {
    state.event = null;
    renderEmpty();
  }
}

/**
 * Show an event: its players, rounds, the round's lobbies and the standings. `round`: the round
 * to show; without it, the one shown now when the event stays the same (read when the answer
 * comes, so a round picked meanwhile is kept), else the last one.
 */
async function selectEvent(eventId, { round } = {}) {
  const token = (selectEvent.token = (selectEvent.token ?? 0) + 1);
  const event = await api("GET", `${EVENTS_URL}${eventId}/`);
  if (token !== selectEvent.token) return; // another event was picked meanwhile
  const changed = state.event?.id !== event.id;
  state.event = event;
  if (changed) state.shownRevision = -1;
  renderPlayers();
  renderRounds(round ?? (changed ? null : state.round));
  if ($("add-round")) $("add-round").disabled = false;
  rememberSelection();
  await Promise.all([loadRound(), loadStandings()]);
}

/** Fetch the event's detail again (players, rounds) keeping the round chosen. */
async function reloadEvent() {
  if (!state.event) return;
  await selectEvent(state.event.id);
}

async function loadRound() {
  const token = (loadRound.token = (loadRound.token ?? 0) + 1);
  if (!state.event || state.round === null) {
    state.lobbies = [];
  } else {
    try {
      const answer = await api("GET", eventUrl(`rounds/${state.round}/`));
      if (token !== loadRound.token) return;
      state.lobbies = answer.lobbies ?? [];
    } catch (error) {
      if (token !== loadRound.token) return;
      if (!(error instanceof ApiError && error.status === 404)) throw error;
      state.lobbies = []; // the round was removed meanwhile
    }
  }
  renderLobbies();
  updateLobbyNote();
}

async function fetchTable(roundId) {
  return api("GET", eventUrl(`standings/?round=${encodeURIComponent(roundId)}`));
}

async function loadStandings() {
  const token = (loadStandings.token = (loadStandings.token ?? 0) + 1);
  if (!state.event) return;
  const roundId = state.round === null ? null : `round_${state.round}`;
  const [total, round] = await Promise.all([
    fetchTable("total"),
    roundId ? fetchTable(roundId) : Promise.resolve(null),
  ]);
  if (token !== loadStandings.token) return; // a later fetch answers for the page
  state.shownRevision = total.revision ?? state.shownRevision;
  renderTable($("standings-total"), total.rows ?? [], "total");
  renderTable($("standings-round"), round?.rows ?? [], "round");
  $("round-standings-title").textContent = state.round === null ? "Round" : `Round ${state.round}`;
  $("standings-updated").textContent = `as of ${new Date().toLocaleTimeString()}`;
}

// -- rendering ----------------------------------------------------------------------------------

function renderEmpty() {
  state.round = null;
  state.lobbies = [];
  roundSelect.replaceChildren();
  if (playerOptions) playerOptions.replaceChildren();
  renderLobbies();
  renderTable($("standings-total"), [], "total");
  renderTable($("standings-round"), [], "round");
  if (saveButton) saveButton.disabled = true;
  if ($("add-round")) $("add-round").disabled = true;
}

/** Ids of the players with a result in another lobby of the round than the form's. */
function placedInOtherLobbies() {
  const current = lobbyInput ? Number(lobbyInput.value) : null;
  const ids = new Set();
  for (const lobby of state.lobbies) {
    if (lobby.number === current) continue;
    for (const result of lobby.results) ids.add(result.player);
  }
  return ids;
}

/** The name suggestions: the event's players not yet placed in another lobby of the round. */
function renderPlayers() {
  if (!playerOptions || !state.event) return;
  const placed = placedInOtherLobbies();
  const free = state.event.players.filter((player) => !placed.has(player.id));
  playerOptions.replaceChildren(...free.map((player) => {
    const option = document.createElement("option");
    option.value = playerName(player);
    if (player.riot_id) option.label = player.riot_id;
    return option;
  }));
}

function renderRounds(wanted) {
  const rounds = [...(state.event.rounds ?? [])].map(Number).sort((a, b) => a - b);
  roundSelect.replaceChildren(...rounds.map((number) => new Option(`Round ${number}`, String(number))));
  const pick = rounds.includes(wanted) ? wanted : (rounds.at(-1) ?? null);
  state.round = pick;
  if (pick !== null) roundSelect.value = String(pick);
  $("lobbies-round").textContent = pick === null ? "this round" : `round ${pick}`;
  if (saveButton) saveButton.disabled = pick === null;
  const noRound = "This event has no round yet: add one.";
  if (saveStatus && pick === null) saveStatus.textContent = noRound;
  else if (saveStatus && saveStatus.textContent === noRound) saveStatus.textContent = "";
}

function renderTable(table, rows, kind) {
  const body = table.tBodies[0];
  if (!rows.length) {
    const empty = document.createElement("tr");
    const cell = td(state.event ? "No players yet." : "", "empty");
    cell.colSpan = 4;
    empty.append(cell);
    body.replaceChildren(empty);
    return;
  }
  body.replaceChildren(...rows.map((row) => {
    const tr = document.createElement("tr");
    tr.dataset.playerId = String(row.player_id);
    if (row.rank === null) tr.className = "unranked";
    const rank = row.rank === null ? "–" : String(row.rank);
    const points = row.points === null ? "–" : String(row.points);
    if (kind === "total") {
      tr.append(td(rank, "rank"), td(row.name, "name"), td(points, "points"), td(String(row.played ?? 0), "played"));
    } else {
      const placement = row.placement === null ? "–" : String(row.placement);
      tr.append(td(rank, "rank"), td(row.name, "name"), td(placement, "placement"), td(points, "points"));
    }
    return tr;
  }));
}

function renderLobbies() {
  const list = $("lobbies");
  list.replaceChildren(...state.lobbies.map((lobby) => {
    const item = document.createElement("li");
    item.id = `lobby-${lobby.number}`;
    item.dataset.lobby = String(lobby.number);
    const title = document.createElement("strong");
    title.textContent = `Lobby ${lobby.number}`;
    const results = document.createElement("span");
    results.className = "lobby-results";
    results.textContent = lobby.results
      .map((result) => `${result.placement}. ${result.name}`)
      .join(" · ");
    item.append(title, " ", results);
    if (canManage) {
      const load = document.createElement("button");
      load.type = "button";
      load.textContent = "Correct";
      load.dataset.action = "load-lobby";
      load.addEventListener("click", () => loadLobbyIntoForm(lobby));
      item.append(" ", load);
    }
    return item;
  }));
  $("no-lobbies").hidden = state.lobbies.length > 0 || state.round === null;
}

// -- the lobby form -----------------------------------------------------------------------------

const seatPlayer = (seat) => $(`seat-player-${seat}`);
const seatPlacement = (seat) => $(`seat-placement-${seat}`);

function existingLobby(number) {
  return state.lobbies.find((lobby) => lobby.number === number) ?? null;
}

function nextLobbyNumber() {
  return state.lobbies.reduce((max, lobby) => Math.max(max, lobby.number), 0) + 1;
}

/** The title and reason field follow the lobby number: a lobby with results is a correction. */
function updateLobbyNote() {
  if (!form) return;
  // The lobby number follows the round's lobbies (the next free one) until someone types one.
  if ((!lobbyInput.value || lobbyInput.dataset.auto === "true") && state.round !== null) {
    lobbyInput.value = String(nextLobbyNumber());
    lobbyInput.dataset.auto = "true";
  }
  const number = Number(lobbyInput.value);
  const existing = existingLobby(number);
  reasonLabel.hidden = !existing;
  $("entry-title").textContent = existing ? `Correcting lobby ${number}` : `New lobby ${lobbyInput.value || ""}`.trim();
  $("lobby-note").textContent = existing ? "has results: saving replaces them" : "";
  renderPlayers();
}

function setFieldError(id, messages) {
  const node = $(id);
  if (!node) return false;
  node.textContent = messages.join(" ");
  const field = node.previousElementSibling;
  if (field && field.matches("input")) field.setAttribute("aria-invalid", messages.length ? "true" : "false");
  return true;
}

function clearErrors() {
  for (const node of form.querySelectorAll(".field-error")) node.textContent = "";
  for (const field of form.querySelectorAll("[aria-invalid]")) field.removeAttribute("aria-invalid");
}

function clearForm({ lobby = null } = {}) {
  clearErrors();
  for (let seat = 1; seat <= SEATS; seat += 1) {
    seatPlayer(seat).value = "";
    seatPlacement(seat).value = "";
  }
  reasonInput.value = "";
  lobbyInput.value = lobby === null ? "" : String(lobby);
  lobbyInput.dataset.auto = String(lobby === null);
  updateLobbyNote();
}

function loadLobbyIntoForm(lobby) {
  clearForm({ lobby: lobby.number });
  lobby.results.forEach((result, index) => {
    if (index >= SEATS) return;
    seatPlayer(index + 1).value = result.name;
    seatPlacement(index + 1).value = String(result.placement);
  });
  updateLobbyNote();
  saveStatus.textContent = `Lobby ${lobby.number} loaded: change what is wrong, then save.`;
  seatPlacement(1).focus();
  seatPlacement(1).select();
}

/**
 * The player a typed name means: the exact name or Riot ID (any case), else the one name that
 * starts with it, else the one that contains it. Players already picked in another seat, or
 * placed in another lobby of the round, are left out when that settles it (the API still
 * refuses a player in two lobbies). Returns {player} or {error}.
 */
function resolvePlayer(text, seat) {
  const needle = text.trim().toLowerCase();
  const players = state.event?.players ?? [];
  const exact = players.filter((player) => playerName(player).toLowerCase() === needle
    || (player.riot_id && player.riot_id.toLowerCase() === needle));
  if (exact.length === 1) return { player: exact[0] };
  const pickedElsewhere = new Set();
  for (let other = 1; other <= SEATS; other += 1) {
    if (other === seat) continue;
    const value = seatPlayer(other).value.trim().toLowerCase();
    if (value) pickedElsewhere.add(value);
  }
  const placed = placedInOtherLobbies();
  const taken = (player) => placed.has(player.id)
    || pickedElsewhere.has(playerName(player).toLowerCase());
  for (const match of [
    (name) => name.startsWith(needle),
    (name) => name.includes(needle),
  ]) {
    let found = players.filter((player) => match(playerName(player).toLowerCase()));
    if (found.length > 1) {
      const free = found.filter((player) => !taken(player));
      if (free.length) found = free;
    }
    if (found.length === 1) return { player: found[0] };
    if (found.length > 1) {
      const names = found.slice(0, 4).map(playerName).join(", ");
      return { error: `"${text.trim()}" matches ${found.length} players (${names}${found.length > 4 ? ", …" : ""}): type more.` };
    }
  }
  return { error: `No player of ${state.event?.name ?? "this event"} is called "${text.trim()}".` };
}

/** Complete a seat's typed name to the player's full name (or say why it cannot). */
function settlePlayer(seat) {
  const input = seatPlayer(seat);
  if (!input.value.trim()) {
    setFieldError(`seat-player-error-${seat}`, []);
    return null;
  }
  const { player, error } = resolvePlayer(input.value, seat);
  if (player) {
    input.value = playerName(player);
    setFieldError(`seat-player-error-${seat}`, []);
    return player;
  }
  setFieldError(`seat-player-error-${seat}`, [error]);
  return null;
}

/**
 * The request body from the form, or null when a field is wrong in a way only the page can
 * see (a name it cannot match, a placement that is not a number); those fields say why.
 * `rows[i]` is the seat that `results[i]` of the request (and of its errors) stands for.
 */
function collectLobby() {
  clearErrors();
  let ok = true;
  const results = [];
  const rows = [];
  const lobby = Number(lobbyInput.value);
  if (!lobbyInput.value || !Number.isSafeInteger(lobby) || lobby < 1) {
    setFieldError("lobby-error", ["A lobby number (1, 2, 3…)."]);
    ok = false;
  }
  for (let seat = 1; seat <= SEATS; seat += 1) {
    const name = seatPlayer(seat).value.trim();
    const placementText = seatPlacement(seat).value.trim();
    if (!name && !placementText) continue;
    const player = name ? settlePlayer(seat) : null;
    if (!name) {
      setFieldError(`seat-player-error-${seat}`, ["Pick a player for this placement."]);
    }
    let placement = null;
    if (!placementText) {
      setFieldError(`seat-placement-error-${seat}`, ["Give a placement from 1 to 8."]);
    } else if (!/^[0-9]+$/.test(placementText)) {
      setFieldError(`seat-placement-error-${seat}`, ["A placement is a number from 1 to 8."]);
    } else {
      placement = Number(placementText);
    }
    if (!player || placement === null) {
      ok = false;
      continue;
    }
    results.push({ player: player.id, placement });
    rows.push(seat);
  }
  if (ok && !results.length) {
    setFieldError("results-error", ["Enter at least one player and placement."]);
    ok = false;
  }
  if (!ok) return null;
  return { lobby, body: { results, reason: reasonInput.value }, rows };
}

const FIELD_PATH = /results\[(\d+)\](?:\.(player|placement))?/g;

/**
 * Show the API's field-level errors (`results[2].placement`...) next to their fields, in the
 * page's words: a path in a message ("also at results[1].placement") names the seat, and that
 * seat's field is marked too, so both halves of a clash are visible.
 */
function showApiErrors(error, rows) {
  const general = [];
  const marks = new Map(); // error node id -> messages
  const mark = (id, message) => marks.set(id, [...(marks.get(id) ?? []), message]);
  const seatOf = (index) => rows[Number(index)];
  const fieldId = (index, field) => `seat-${field === "placement" ? "placement" : "player"}-error-${seatOf(index)}`;
  for (const [key, value] of Object.entries(error.details ?? {})) {
    const messages = (Array.isArray(value) ? value : [value]).map((message) => String(message)
      .replace(FIELD_PATH, (path, index) => (seatOf(index) === undefined ? path : `seat ${seatOf(index)}`)));
    const match = /^results\[(\d+)\](?:\.(player|placement))?$/.exec(key);
    if (match && seatOf(match[1]) !== undefined) {
      for (const message of messages) mark(fieldId(match[1], match[2]), message);
      for (const raw of Array.isArray(value) ? value : [value]) {
        for (const [, index, field] of String(raw).matchAll(FIELD_PATH)) {
          if (seatOf(index) !== undefined && index !== match[1]) {
            mark(fieldId(index, field), `Clashes with seat ${seatOf(match[1])}.`);
          }
        }
      }
    } else if (key === "lobby") {
      for (const message of messages) mark("lobby-error", message);
    } else if (key === "results") {
      for (const message of messages) mark("results-error", message);
    } else if (key !== "required") {
      general.push(key === "reason" ? `Reason: ${messages.join(" ")}` : messages.join(" "));
    }
  }
  for (const [id, messages] of marks) setFieldError(id, messages);
  const summary = error.message || "The results were not saved.";
  $("results-error").textContent = [
    $("results-error").textContent, general.length ? `${summary} ${general.join(" ")}` : "",
  ].filter(Boolean).join(" ") || summary;
}

async function saveLobby() {
  if (!form || state.saving || !state.event || state.round === null) return;
  const collected = collectLobby();
  if (!collected) {
    saveStatus.textContent = "Nothing was saved: fix the marked fields.";
    focusFirstError();
    return;
  }
  const { lobby, body, rows } = collected;
  state.saving = true;
  saveButton.disabled = true;
  saveStatus.textContent = "Saving…";
  let answer;
  try {
    answer = await api("PUT", eventUrl(`rounds/${state.round}/lobbies/${lobby}/`), body);
  } catch (error) {
    saveStatus.textContent = "Nothing was saved: fix the marked fields.";
    if (error instanceof ApiError && error.code === "validation_error") {
      showApiErrors(error, rows);
      focusFirstError();
    } else {
      saveStatus.textContent = `Nothing was saved: ${describeError(error)}`;
      if (error instanceof ApiError && error.status === 404) await reloadEvent().catch(() => {});
    }
    return;
  } finally {
    state.saving = false;
    saveButton.disabled = state.round === null;
  }
  const corrected = existingLobby(lobby) !== null;
  saveStatus.textContent = `${corrected ? "Corrected" : "Saved"} lobby ${lobby} of round ${state.round}.`;
  // The answer carries the new total standings: draw them now, then fetch the round's too.
  if (answer?.standings?.rows) {
    renderTable($("standings-total"), answer.standings.rows, "total");
    state.shownRevision = Math.max(state.shownRevision, answer.standings.revision ?? -1);
  }
  await refresh();
  clearForm();
  seatPlayer(1).focus();
}

function focusFirstError() {
  const node = [...form.querySelectorAll(".field-error")].find((error) => error.textContent);
  const field = node?.previousElementSibling;
  if (field && field.matches("input")) field.focus();
}

/** The fields in keyboard order: lobby, then each seat's player and placement. */
function fieldOrder() {
  const fields = [lobbyInput];
  for (let seat = 1; seat <= SEATS; seat += 1) fields.push(seatPlayer(seat), seatPlacement(seat));
  return fields;
}

function onFormKeydown(event) {
  if (event.key !== "Enter" || event.isComposing) return;
  const target = event.target;
  if (event.ctrlKey || event.metaKey) {
    event.preventDefault();
    if (target.classList.contains("seat-player")) settlePlayer(Number(target.dataset.seat));
    saveLobby();
    return;
  }
  if (target === reasonInput || target === seatPlacement(SEATS)) {
    event.preventDefault();
    saveLobby();
    return;
  }
  const fields = fieldOrder();
  const index = fields.indexOf(target);
  if (index < 0) return;
  event.preventDefault();
  if (target.classList.contains("seat-player")) settlePlayer(Number(target.dataset.seat));
  const next = fields[index + 1];
  next.focus();
  next.select?.();
}

// -- live ---------------------------------------------------------------------------------------

let refreshing = null;
let refreshAgain = false;

/** Fetch the round's lobbies and the standings; calls while one runs make one more run. */
async function refresh() {
  if (refreshing) {
    refreshAgain = true;
    return refreshing;
  }
  refreshing = (async () => {
    try {
      do {
        refreshAgain = false;
        await Promise.all([loadRound(), loadStandings()]);
      } while (refreshAgain);
    } catch (error) {
      showBanner(`The standings could not be loaded: ${describeError(error)}`, "error");
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

let refreshTimer = null;
function refreshSoon({ event = false } = {}) {
  if (refreshTimer) clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => {
    refreshTimer = null;
    (event ? reloadEvent() : refresh()).catch((error) => {
      showBanner(`The results could not be loaded: ${describeError(error)}`, "error");
    });
  }, REFRESH_COALESCE_MS);
}

// Actions after which the players or rounds of the event may differ, not only the standings.
const EVENT_ACTIONS = new Set([
  "player_added", "player_renamed", "player_removed", "round_removed", "results_imported",
  "event_renamed", "event_deleted", "event_created",
]);

all.addEventListener("change", (event) => {
  const frame = event.detail;
  if (frame.type !== "standings_update") return;
  const standings = frame.data?.standings ?? {};
  const action = frame.data?.action;
  if (action === "event_created" || action === "event_deleted" || action === "event_renamed") {
    loadEvents().catch(() => {});
    return;
  }
  if (!state.event || standings.event_name !== state.event.name) return;
  if (typeof standings.revision === "number" && standings.revision <= state.shownRevision) return;
  refreshSoon({ event: EVENT_ACTIONS.has(action) });
});
// A fresh snapshot of the list (after a reconnect that could not resume) may hide saves made
// meanwhile: fetch again rather than trust what is drawn.
let listSnapshots = 0;
all.addEventListener("snapshot", () => {
  listSnapshots += 1;
  if (listSnapshots > 1 && state.event) refreshSoon({ event: true });
});

// Saves reach this page through the standings_update of the graphics bound to the event; an
// event no graphic shows yet has none, so coming back to the tab fetches again.
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && state.event) refreshSoon();
});

// -- wiring -------------------------------------------------------------------------------------

eventSelect.addEventListener("change", () => {
  if (Number(eventSelect.value) === state.event?.id) return;
  clearFormIfPresent();
  selectEvent(Number(eventSelect.value)).catch((error) => showBanner(describeError(error), "error"));
});

roundSelect.addEventListener("change", () => {
  state.round = Number(roundSelect.value);
  $("lobbies-round").textContent = `round ${state.round}`;
  rememberSelection();
  clearFormIfPresent();
  refresh();
});

function clearFormIfPresent() {
  if (!form) return;
  clearForm();
  saveStatus.textContent = "";
}

if (form) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    saveLobby();
  });
  form.addEventListener("keydown", onFormKeydown);
  form.addEventListener("focusout", (event) => {
    const target = event.target;
    if (target.classList?.contains("seat-player")) settlePlayer(Number(target.dataset.seat));
  });
  form.addEventListener("input", (event) => {
    const target = event.target;
    if (target === lobbyInput) {
      lobbyInput.dataset.auto = "false";
      updateLobbyNote();
      setFieldError("lobby-error", []);
    } else if (target.dataset?.seat) {
      const field = target.classList.contains("seat-player") ? "player" : "placement";
      setFieldError(`seat-${field}-error-${target.dataset.seat}`, []);
    }
  });
  $("clear-lobby").addEventListener("click", () => {
    clearForm();
    saveStatus.textContent = "";
    seatPlayer(1).focus();
  });

  $("add-round").addEventListener("click", async () => {
    try {
      const round = await api("POST", eventUrl("rounds/"), {});
      clearFormIfPresent();
      await selectEvent(state.event.id, { round: round.number });
      saveStatus.textContent = `Round ${round.number} added.`;
    } catch (error) {
      showBanner(describeError(error), "error");
    }
  });

  $("event-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = $("event-name").value.trim();
    $("event-name-error").textContent = "";
    try {
      const created = await api("POST", EVENTS_URL, { name });
      $("event-name").value = "";
      clearFormIfPresent();
      await loadEvents({ prefer: created.id });
    } catch (error) {
      $("event-name-error").textContent = error.details?.name?.join(" ") || describeError(error);
    }
  });

  $("players-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const names = $("player-names").value.split(/\r?\n/).map((name) => name.trim()).filter(Boolean);
    const errorNode = $("player-names-error");
    errorNode.textContent = "";
    if (!state.event || !names.length) return;
    const failed = [];
    const problems = [];
    for (const name of names) {
      try {
        await api("POST", eventUrl("players/"), { display_name: name });
      } catch (error) {
        failed.push(name);
        problems.push(`${name}: ${error.details?.display_name?.join(" ") || describeError(error)}`);
      }
    }
    $("player-names").value = failed.join("\n");
    errorNode.textContent = problems.join(" · ");
    saveStatus.textContent = `${names.length - failed.length} player(s) added.`;
    await reloadEvent().catch((error) => showBanner(describeError(error), "error"));
  });
}

loadEvents({ prefer: requested("event"), round: requested("round") ?? undefined }).catch((error) => {
  showBanner(`The events could not be loaded: ${describeError(error)}`, "error");
});
client.start();

// Draws a canvas (docs/protocol.md, Shapes) as DOM: the editor's preview and the on-air overlay
// share it, so what the editor shows is what goes on air. Every user-supplied string goes in
// with textContent, never as HTML; positions and styles go through the CSSOM, which the
// Content-Security-Policy allows (it forbids inline style attributes and scripts).
//
// List elements (`players`, `scores`, `placements`) draw rows of the graphic's standings
// (docs/protocol.md, Standings): `listRows` decides what each row says, without the DOM, so
// the rules are unit-tested (tests/js/standings.test.mjs).

export const DEFAULT_CANVAS_SIZE = { width: 1920, height: 1080 };

export const LIST_TYPES = Object.freeze(["players", "scores", "placements"]);

/** The table of a graphic's standings that draws a `round_id` of total standings. */
export const TOTAL = "total";

/** What a `players` list shows on air while its event has no standings yet. */
export const EMPTY_STATE_TEXT = "Standings to come";

/** A value a row does not have yet (no result): points or placement. An en dash. */
export const NO_VALUE = "\u2013";

const ROUND_ID = /^round_([1-9][0-9]{0,4})$/;

/** The canvas's native size: its background's, or 1920x1080 (a broadcast frame). */
export function canvasSize(data) {
  const background = data && data.background;
  if (background && background.width && background.height) {
    return { width: background.width, height: background.height };
  }
  return { ...DEFAULT_CANVAS_SIZE };
}

export function isList(element) {
  return Boolean(element) && LIST_TYPES.includes(element.type);
}

/**
 * The name of the standings table a list element's `round_id` draws, as the server names it
 * (standings.scoring.normalize_round_id): absent, null, "" or "total" → "total"; 3 or
 * "round_3" → "round_3". Anything else names no table of the event: the server sends it under
 * its own text, as an empty table.
 */
export function tableName(roundId) {
  if (roundId === undefined || roundId === null || roundId === "" || roundId === TOTAL) {
    return TOTAL;
  }
  if (Number.isInteger(roundId) && roundId >= 1) return `round_${roundId}`;
  if (typeof roundId === "string" && ROUND_ID.test(roundId)) return roundId;
  return String(roundId);
}

/** 1 → "1st", 2 → "2nd", 11 → "11th", 23 → "23rd". */
export function ordinal(number) {
  const lastTwo = Math.abs(number) % 100;
  const last = lastTwo % 10;
  const suffix = lastTwo >= 11 && lastTwo <= 13
    ? "th"
    : ({ 1: "st", 2: "nd", 3: "rd" }[last] ?? "th");
  return `${number}${suffix}`;
}

/** 32 → "32 pts", 1 → "1 pt", null → "–" (no result yet). */
export function pointsText(points) {
  if (points === null || points === undefined) return NO_VALUE;
  return `${points} ${Math.abs(points) === 1 ? "pt" : "pts"}`;
}

/** A placement (the rank for total standings): 2 → "2nd", null → "–". */
export function placementText(placement) {
  return placement === null || placement === undefined ? NO_VALUE : ordinal(placement);
}

/** What one row of a standings table says in a column of `type`. */
export function rowText(type, row) {
  if (type === "players") return row.name;
  if (type === "scores") return pointsText(row.points);
  if (type === "placements") return placementText(row.placement);
  return "";
}

// The editor's stand-ins for rows an event does not have: the shape of the list, numbered
// like the ranks it will show ("Player 9" on a list that starts at 9).
function placeholderText(type, position) {
  if (type === "players") return `Player ${position}`;
  if (type === "scores") return pointsText(Math.max(0, 40 - 4 * position));
  if (type === "placements") return placementText(position);
  return `Row ${position}`;
}

function firstPosition(element) {
  return Number.isInteger(element.start) && element.start >= 1 ? element.start : 1;
}

function rowCount(element) {
  return Number.isInteger(element.preview_count) && element.preview_count > 0
    ? element.preview_count
    : 0;
}

/**
 * The rows a list element draws, from the graphic's standings (null: none).
 *
 * Rows `start` to `start + preview_count - 1` of the table its `round_id` names, in standings
 * order: every column with the same round_id, start and preview_count draws the same players
 * in the same slots, so side-by-side columns line up and tied players (who share a rank) show
 * that rank the same way everywhere.
 *
 * A table without a ranked row (the event does not exist, has no results yet, or the round
 * has none) is "no standings yet": on air a `players` list says EMPTY_STATE_TEXT on one line
 * and the other columns draw nothing; in the editor (`editor: true`) every list shows
 * placeholder rows instead, as it does when the slice it shows is empty, so the element can
 * still be seen and dragged.
 *
 * @returns {{state: "rows"|"empty"|"placeholder", table: string, emptyText: string|null,
 *   rows: Array<{position: number, rank: number|null, playerId: number|null, text: string}>}}
 */
export function listRows(element, standings, { editor = false } = {}) {
  const table = tableName(element.round_id);
  const start = firstPosition(element);
  const count = rowCount(element);
  const tableRows = standings?.tables?.[table] ?? [];
  const hasStandings = Array.isArray(tableRows) && tableRows.some((row) => row.rank !== null);
  const slice = hasStandings ? tableRows.slice(start - 1, start - 1 + count) : [];
  if (slice.length || (hasStandings && !editor)) {
    return {
      state: "rows",
      table,
      emptyText: null,
      rows: slice.map((row, index) => ({
        position: start + index,
        rank: row.rank ?? null,
        playerId: row.player_id ?? null,
        text: rowText(element.type, row),
      })),
    };
  }
  if (editor) {
    const rows = [];
    for (let index = 0; index < count; index += 1) {
      const position = start + index;
      const text = placeholderText(element.type, position);
      rows.push({ position, rank: position, playerId: null, text });
    }
    return { state: "placeholder", table, emptyText: null, rows };
  }
  const emptyText = element.type === "players" && count > 0 ? EMPTY_STATE_TEXT : null;
  return { state: "empty", table, emptyText, rows: [] };
}

function applyTextStyle(node, element) {
  node.style.left = `${element.x}px`;
  node.style.top = `${element.y}px`;
  node.style.fontSize = `${element.font_size}px`;
  node.style.color = element.color;
  if (element.font_family) node.style.fontFamily = element.font_family;
  if (element.bold) node.style.fontWeight = "bold";
  if (element.italic) node.style.fontStyle = "italic";
  if (element.underline) node.style.textDecoration = "underline";
}

function rowNode(element, text) {
  const line = document.createElement("div");
  line.className = "row";
  // Every row of every column is exactly `spacing` tall, so columns line up row by row.
  line.style.height = `${element.spacing}px`;
  line.textContent = text;
  return line;
}

/** Fill a list element's node with its rows (replacing the ones it had, in one step). */
function fillList(node, element, standings, options) {
  const drawn = listRows(element, standings, options);
  node.dataset.table = drawn.table;
  node.dataset.state = drawn.state;
  const lines = drawn.rows.map((row) => {
    const line = rowNode(element, row.text);
    line.dataset.position = String(row.position);
    line.dataset.rank = row.rank === null ? "" : String(row.rank);
    if (row.playerId !== null) line.dataset.playerId = String(row.playerId);
    if (drawn.state === "placeholder") line.classList.add("placeholder");
    return line;
  });
  if (drawn.emptyText) {
    const line = rowNode(element, drawn.emptyText);
    line.classList.add("empty-state");
    lines.push(line);
  }
  node.replaceChildren(...lines);
}

/**
 * One element as a DOM node (absolutely positioned, data-element-id set). `options`:
 * `standings` (the graphic's, or null) and `editor` (placeholders instead of the on-air empty
 * state).
 */
export function renderElement(element, { standings = null, editor = false } = {}) {
  const node = document.createElement("div");
  node.className = `element element-${element.type}`;
  node.dataset.elementId = element.id;
  applyTextStyle(node, element);
  if (element.type === "text") {
    node.textContent = element.content;
  } else if (isList(element)) {
    fillList(node, element, standings, { editor });
  }
  return node;
}

/**
 * Replace `root`'s content with the drawing of `data` in one step (a new tree swapped in with
 * replaceChildren), so a viewer never sees a half-drawn update. `options` as renderElement's.
 * Returns the canvas size.
 */
export function renderCanvas(root, data, options = {}) {
  const size = canvasSize(data);
  const canvas = document.createElement("div");
  canvas.className = "canvas";
  canvas.style.width = `${size.width}px`;
  canvas.style.height = `${size.height}px`;
  if (data && data.background) {
    const image = document.createElement("img");
    image.className = "background";
    image.alt = "";
    image.src = data.background.image_url;
    image.width = data.background.width;
    image.height = data.background.height;
    canvas.append(image);
  }
  for (const element of (data && data.elements) || []) {
    canvas.append(renderElement(element, options));
  }
  root.replaceChildren(canvas);
  return size;
}

/**
 * Redraw only the rows of `data`'s list elements already drawn under `root` (by renderCanvas)
 * from new standings: the background, the text elements and the list nodes themselves stay
 * the same DOM nodes, so nothing else on the canvas moves. Returns how many lists it redrew;
 * a list not drawn under `root` is left alone (the caller redraws the canvas instead).
 */
export function redrawLists(root, data, options = {}) {
  const nodes = new Map();
  for (const node of root.querySelectorAll(".canvas > .element")) {
    nodes.set(node.dataset.elementId, node);
  }
  let redrawn = 0;
  for (const element of (data && data.elements) || []) {
    const node = nodes.get(element.id);
    if (!isList(element) || !node) continue;
    fillList(node, element, options.standings ?? null, { editor: Boolean(options.editor) });
    redrawn += 1;
  }
  return redrawn;
}

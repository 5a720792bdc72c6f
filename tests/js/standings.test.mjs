// What the list elements draw from a graphic's standings (dashboard/static/dashboard/render.js,
// `listRows` and its formats): which table a round_id names, which rows a start and a
// preview_count show, what each column says, how side-by-side columns and ties line up, the
// on-air empty state and the editor's placeholders.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  EMPTY_STATE_TEXT,
  NO_VALUE,
  listRows,
  ordinal,
  placementText,
  pointsText,
  tableName,
} from "../../dashboard/static/dashboard/render.js";

function row(rank, playerId, name, points, placement = rank, played = 2) {
  return { rank, player_id: playerId, name, points, placement, played };
}

// Ten players after two rounds: Cass and Dario tied on every tie-breaker (rank 3 both), Juno
// and Kai yet to play (no rank, last).
const TOTAL_ROWS = [
  row(1, 1, "Aria", 15),
  row(2, 2, "Bex", 13),
  row(3, 3, "Cass", 12),
  row(3, 4, "Dario", 12),
  row(5, 5, "Ezra", 10),
  row(6, 6, "Fen", 8),
  row(7, 7, "Gus", 6),
  row(8, 8, "Hana", 3),
  row(null, 9, "Juno", null, null, 0),
  row(null, 10, "Kai", null, null, 0),
];
const ROUND_2_ROWS = [row(1, 3, "Cass", 8, 1, 1), row(2, 1, "Aria", 7, 2, 1)];

function standings(tables = { total: TOTAL_ROWS, round_2: ROUND_2_ROWS }, extra = {}) {
  return { event_name: "GAL Season 3 Week 2", tournament_id: 4, revision: 7, tables, ...extra };
}

function list(type, fields = {}) {
  return {
    id: `${type}-1`, type, x: 40, y: 120, font_size: 28, color: "#ffffff", spacing: 36,
    preview_count: 4, ...fields,
  };
}

const texts = (drawn) => drawn.rows.map((entry) => entry.text);

describe("formats", () => {
  test("round_id names a table as the server does", () => {
    for (const total of [undefined, null, "", "total"]) assert.equal(tableName(total), "total");
    assert.equal(tableName(3), "round_3");
    assert.equal(tableName("round_3"), "round_3");
    // Names of no table are sent (empty) under their own text.
    assert.equal(tableName("r3"), "r3");
    assert.equal(tableName("round_0"), "round_0");
    assert.equal(tableName(0), "0");
  });

  test("points, placements and ordinals", () => {
    assert.equal(pointsText(32), "32 pts");
    assert.equal(pointsText(1), "1 pt");
    assert.equal(pointsText(0), "0 pts");
    assert.equal(pointsText(null), NO_VALUE);
    assert.deepEqual(
      [1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 101, 111].map(ordinal),
      ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "101st",
        "111th"],
    );
    assert.equal(placementText(null), NO_VALUE);
  });
});

describe("rows", () => {
  test("players, scores and placements draw names, points and ranks of the same rows", () => {
    const drawn = Object.fromEntries(
      ["players", "scores", "placements"].map((type) => [type, listRows(list(type), standings())]),
    );
    assert.deepEqual(texts(drawn.players), ["Aria", "Bex", "Cass", "Dario"]);
    assert.deepEqual(texts(drawn.scores), ["15 pts", "13 pts", "12 pts", "12 pts"]);
    assert.deepEqual(texts(drawn.placements), ["1st", "2nd", "3rd", "3rd"]);
    for (const drawnList of Object.values(drawn)) {
      assert.equal(drawnList.state, "rows");
      assert.deepEqual(drawnList.rows.map((entry) => entry.playerId), [1, 2, 3, 4]);
      assert.deepEqual(drawnList.rows.map((entry) => entry.position), [1, 2, 3, 4]);
      assert.deepEqual(drawnList.rows.map((entry) => entry.rank), [1, 2, 3, 3], "a tie: 3 and 3");
    }
  });

  test("start and preview_count pick the slice; ranks 9 and on show dashes", () => {
    const second = listRows(list("players", { start: 5, preview_count: 4 }), standings());
    assert.deepEqual(texts(second), ["Ezra", "Fen", "Gus", "Hana"]);
    assert.deepEqual(second.rows.map((entry) => entry.position), [5, 6, 7, 8]);
    const tail = { start: 8, preview_count: 8 };
    assert.deepEqual(texts(listRows(list("players", tail), standings())), ["Hana", "Juno", "Kai"]);
    const tailOf = (type) => texts(listRows(list(type, tail), standings()));
    assert.deepEqual(tailOf("scores"), ["3 pts", NO_VALUE, NO_VALUE]);
    assert.deepEqual(tailOf("placements"), ["8th", NO_VALUE, NO_VALUE]);
    assert.deepEqual(listRows(list("placements", tail), standings()).rows[1].rank, null);
  });

  test("a round's table: its placements, by int or by name", () => {
    for (const roundId of [2, "round_2"]) {
      const drawn = listRows(list("placements", { round_id: roundId }), standings());
      assert.equal(drawn.table, "round_2");
      assert.deepEqual(texts(drawn), ["1st", "2nd"]);
      assert.deepEqual(texts(listRows(list("players", { round_id: roundId }), standings())), [
        "Cass",
        "Aria",
      ]);
    }
  });

  test("past the end of the field, on air draws nothing and the editor placeholders", () => {
    const beyond = list("players", { start: 20 });
    assert.deepEqual(listRows(beyond, standings()), {
      state: "rows", table: "total", emptyText: null, rows: [],
    });
    const editing = listRows(beyond, standings(), { editor: true });
    assert.equal(editing.state, "placeholder");
    assert.deepEqual(texts(editing), ["Player 20", "Player 21", "Player 22", "Player 23"]);
  });
});

describe("no standings yet", () => {
  const without = [
    ["no standings at all", null],
    ["no such event", standings({ total: [] }, { tournament_id: null, revision: 0 })],
    ["an event without results", standings({ total: [row(null, 9, "Juno", null, null, 0)] })],
    ["the table is not there yet", standings({ round_2: ROUND_2_ROWS })],
  ];
  for (const [why, document] of without) {
    test(`${why}: players say "${EMPTY_STATE_TEXT}" on air, other columns nothing`, () => {
      const players = listRows(list("players"), document);
      assert.equal(players.state, "empty");
      assert.equal(players.emptyText, EMPTY_STATE_TEXT);
      assert.deepEqual(players.rows, []);
      for (const type of ["scores", "placements"]) {
        assert.deepEqual(listRows(list(type), document), {
          state: "empty", table: "total", emptyText: null, rows: [],
        });
      }
    });

    test(`${why}: the editor shows placeholders, numbered from start`, () => {
      const fields = { start: 9, preview_count: 3 };
      const drawn = (type) => listRows(list(type, fields), document, { editor: true });
      assert.deepEqual(texts(drawn("players")), ["Player 9", "Player 10", "Player 11"]);
      assert.deepEqual(texts(drawn("scores")), ["4 pts", "0 pts", "0 pts"]);
      assert.deepEqual(texts(drawn("placements")), ["9th", "10th", "11th"]);
      assert.equal(drawn("players").state, "placeholder");
      assert.ok(drawn("players").rows.every((entry) => entry.playerId === null));
    });
  }

  test("a list with no rows to show has no empty-state line either", () => {
    const none = list("players", { preview_count: 0 });
    assert.equal(listRows(none, null).emptyText, null);
    assert.deepEqual(listRows(none, null, { editor: true }).rows, []);
  });
});

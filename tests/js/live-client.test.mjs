// The browser client's logic (realtime/static/realtime/live-client.js), driven through fake
// WebSockets, a fake fetch and a fake clock (tests/js/fakes.mjs): states, reconnects and
// resume by seq, de-duplication, snapshots on a version gap, fatal closes, dead connections,
// the polling fallback and its way back, heartbeats and requests.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { LiveClient, LiveError } from "../../realtime/static/realtime/live-client.js";
import { FakeClock, T0, fakeFetch, fakeWebSocketClass, settle } from "./fakes.mjs";

const URL = "ws://127.0.0.1:8000/ws/graphics";

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
  const states = [];
  client.addEventListener("state", (event) => states.push(event.detail.state));
  const sockets = WebSocketImpl.sockets;
  return { client, clock, sockets, http, states, socket: () => sockets.at(-1) };
}

function graphic(version = 4, fields = {}) {
  return {
    id: 7,
    title: "Week 2 Standings",
    event_name: "GAL Season 3 Week 2",
    version,
    archived: false,
    updated_at: "2026-11-26T09:40:00Z",
    updated_by: { id: 3, username: "editor" },
    data: {
      background: null,
      elements: [{ id: "title", type: "text", x: 40, y: 32, content: "Standings" }],
    },
    ...fields,
  };
}

const FREE = {
  locked: false,
  locked_by: null,
  locked_by_id: null,
  lock_time: null,
  expires_at: null,
  fencing_token: null,
};

function snapshotAck(seq, version = 4, extra = {}) {
  return {
    graphic_id: 7,
    graphic: graphic(version),
    lock: FREE,
    seq,
    recovered: false,
    presence: { graphic_id: 7, viewing: 1, editing: 0, truncated: false, users: [] },
    ...extra,
  };
}

function titleUpdate(seq, version, title = `Title v${version}`) {
  return {
    type: "graphic_update",
    subscription: 7,
    data: {
      id: 7,
      action: "updated",
      version,
      base_version: version - 1,
      patch: { title },
      updated_at: "2026-11-26T10:01:00Z",
      updated_by: { id: 5, username: "editor2" },
      changed_fields: ["title"],
      seq,
    },
  };
}

/** A client live with graphic 7 subscribed at `seq` (version 4). */
function liveOn7(seq = 100, options = {}) {
  const setup = makeClient(options);
  const sub = setup.client.subscribe(7);
  setup.client.start();
  setup.socket().welcome();
  setup.socket().ack("subscribe", snapshotAck(seq));
  return { ...setup, sub };
}

describe("connecting", () => {
  test("welcome makes the client live and sets the server clock offset", () => {
    const { client, socket, states } = makeClient();
    const welcomes = [];
    client.addEventListener("welcome", (event) => welcomes.push(event.detail));
    assert.equal(client.state, "offline");

    client.start();
    assert.equal(client.state, "connecting");
    assert.equal(socket().url, URL);
    socket().welcome({ server_time: "2026-11-26T10:00:05.250000Z" });

    assert.equal(client.state, "live");
    assert.deepEqual(states, ["connecting", "live"]);
    assert.equal(client.welcome.connection_id, "c0ffee");
    assert.equal(welcomes.length, 1);
    assert.equal(client.serverOffsetMs, 5250); // the fake clock reads 10:00:00.000
    assert.equal(client.serverNow(), T0 + 5250);
  });

  test("a view key goes in the WebSocket URL, escaped", () => {
    const { client, socket } = makeClient({ viewKey: "a b&c" });
    client.start();
    assert.equal(socket().url, `${URL}?key=a%20b%26c`);
  });

  test("subscribe() is idempotent per key; one subscribe is sent, without last_seq", () => {
    const { client, socket } = makeClient();
    client.start();
    socket().welcome();
    const sub = client.subscribe(7);
    assert.equal(client.subscribe("7"), sub);
    assert.equal(client.subscribe(7), sub);
    assert.deepEqual(
      socket().sentOf("subscribe").map((frame) => frame.data),
      [{ graphic_id: 7 }],
    );
    assert.throws(() => client.subscribe("seven"), TypeError);
  });

  test("the snapshot ack fills the subscription and dispatches snapshot", () => {
    const { client, socket } = makeClient();
    const sub = client.subscribe(7);
    const snapshots = [];
    sub.addEventListener("snapshot", (event) => snapshots.push(event.detail));
    assert.equal(sub.ready, false);
    client.start();
    socket().welcome();
    socket().ack("subscribe", snapshotAck(100));

    assert.equal(sub.ready, true);
    assert.equal(sub.seq, 100);
    assert.deepEqual(sub.graphic, graphic(4));
    assert.deepEqual(sub.lock, FREE);
    assert.deepEqual(sub.presence, { viewing: 1, editing: 0, truncated: false, users: [] });
    assert.equal(snapshots.length, 1);
  });
});

describe("events", () => {
  test("a patch event is applied and dispatched as change", () => {
    const { socket, sub } = liveOn7(100);
    const changes = [];
    sub.addEventListener("change", (event) => changes.push(event.detail));
    socket().receive(titleUpdate(101, 5));
    assert.equal(sub.graphic.title, "Title v5");
    assert.equal(sub.graphic.version, 5);
    assert.equal(sub.seq, 101);
    assert.equal(changes.length, 1);
    assert.equal(changes[0].data.seq, 101);
  });

  test("duplicate and old seqs are ignored", () => {
    const { socket, sub } = liveOn7(100);
    const changes = [];
    sub.addEventListener("change", () => changes.push(sub.graphic.version));
    socket().receive(titleUpdate(101, 5));
    socket().receive(titleUpdate(101, 5)); // the same again
    socket().receive(titleUpdate(100, 5)); // as old as the snapshot
    socket().receive(titleUpdate(99, 4)); // older still
    assert.deepEqual(changes, [5]);
    assert.equal(sub.seq, 101);
    assert.equal(socket().sentOf("subscribe").length, 1, "a duplicate is not a version gap");
  });

  test("a version gap re-subscribes without last_seq and shows no half-applied state", () => {
    const { socket, sub } = liveOn7(100);
    const changes = [];
    sub.addEventListener("change", () => changes.push(sub.graphic.version));
    socket().receive(titleUpdate(105, 7)); // base_version 6, the copy is at 4

    assert.deepEqual(changes, []);
    assert.equal(sub.graphic.version, 4, "the last whole state stays");
    const resubscribe = socket().sentOf("subscribe").at(-1);
    assert.deepEqual(resubscribe.data, { graphic_id: 7 });
    socket().receive(titleUpdate(106, 8)); // before the new snapshot: dropped
    assert.equal(sub.graphic.version, 4);
    assert.equal(socket().sentOf("subscribe").length, 2, "one snapshot asked for, not two");

    socket().ack("subscribe", snapshotAck(106, 8));
    assert.equal(sub.graphic.version, 8);
    assert.equal(sub.seq, 106);
    socket().receive(titleUpdate(107, 9));
    assert.equal(sub.graphic.version, 9);
  });

  test("added elements whose order JSON.parse loses are taken from a snapshot instead", () => {
    const { socket, sub } = liveOn7(100);
    const element = (id) => ({ type: "text", x: 1, y: 1, content: id });
    const adding = (seq, version, elements) => ({
      ...titleUpdate(seq, version),
      data: { ...titleUpdate(seq, version).data, patch: { data: { elements } } },
    });
    // The server wrote {"logo", "10"}: on top in that order. Parsed, "10" comes first.
    socket().receive(adding(101, 5, { logo: element("logo"), 10: element("10") }));
    assert.equal(sub.graphic.version, 4);
    assert.deepEqual(socket().sentOf("subscribe").at(-1).data, { graphic_id: 7 });

    socket().ack("subscribe", snapshotAck(101, 5));
    socket().receive(adding(102, 6, { 2: element("2") })); // one element: no order to lose
    assert.equal(sub.graphic.version, 6);
    assert.deepEqual(sub.graphic.data.elements.map((e) => e.id), ["title", "2"]);
  });

  test("lock_status sets the lock; a deleted event empties the graphic", () => {
    const { socket, sub } = liveOn7(100);
    const lock = { ...FREE, locked: true, locked_by: "editor", locked_by_id: 3, fencing_token: 12 };
    socket().receive({
      type: "lock_status",
      subscription: 7,
      data: { graphic_id: 7, ...lock, reason: "acquired", seq: 101 },
    });
    assert.deepEqual(sub.lock, { ...lock, reason: "acquired" });
    socket().receive({
      type: "graphic_update",
      subscription: 7,
      data: { id: 7, action: "deleted", payload: { id: 7 }, version: 4, seq: 102 },
    });
    assert.equal(sub.deleted, true);
    assert.equal(sub.graphic, null);
  });

  test("subscribing to a graphic that does not exist marks it deleted", () => {
    const { client, socket } = makeClient();
    client.start();
    socket().welcome();
    const sub = client.subscribe(404);
    const snapshots = [];
    sub.addEventListener("snapshot", () => snapshots.push(sub.deleted));
    const request = socket().sentOf("subscribe").at(-1);
    socket().receive({
      type: "error",
      request_id: request.request_id,
      data: { code: "not_found", message: "Not found.", details: {} },
    });
    assert.deepEqual(snapshots, [true]);
    assert.equal(sub.graphic, null);
  });

  test('"all": summaries keep their lock, lock_status changes it, deleted removes', () => {
    const { client, socket } = makeClient();
    const list = client.subscribe("all");
    client.start();
    socket().welcome();
    const locked = { ...FREE, locked: true, locked_by: "editor", locked_by_id: 3 };
    socket().ack("subscribe", {
      graphic_id: "all",
      graphics: [
        { id: 7, title: "A", version: 4, lock: locked },
        { id: 8, title: "B", version: 1, lock: FREE },
      ],
      seq: 200,
      recovered: false,
      presence_counts: { 7: { viewing: 1, editing: 1 } },
    });
    assert.deepEqual([...list.graphics.keys()], [7, 8]);
    assert.deepEqual(list.presenceCounts.get(7), { viewing: 1, editing: 1 });

    const summary = { id: 7, title: "A2", version: 5 };
    socket().receive({
      type: "graphic_update",
      subscription: "all",
      data: { id: 7, action: "updated", payload: summary, version: 5, seq: 201 },
    });
    assert.deepEqual(list.graphics.get(7), { ...summary, lock: locked });
    socket().receive({
      type: "lock_status",
      subscription: "all",
      data: { graphic_id: 7, ...FREE, reason: "released", previous_holder: "editor", seq: 202 },
    });
    assert.equal(list.graphics.get(7).lock.locked, false);
    assert.equal(list.graphics.get(7).lock.previous_holder, "editor");
    socket().receive({
      type: "graphic_update",
      subscription: "all",
      data: { id: 9, action: "created", payload: { id: 9, title: "C", version: 1 }, seq: 203 },
    });
    assert.deepEqual(list.graphics.get(9).lock, FREE);
    socket().receive({
      type: "graphic_update",
      subscription: "all",
      data: { id: 8, action: "deleted", payload: { id: 8 }, seq: 204 },
    });
    assert.deepEqual([...list.graphics.keys()], [7, 9]);
  });

  test("user_activity and presence_counts update presence, as states", () => {
    const { client, socket, sub } = liveOn7(100);
    const list = client.subscribe("all");
    socket().ack("subscribe", { graphic_id: "all", graphics: [], seq: 100, recovered: false });
    let presenceEvents = 0;
    sub.addEventListener("presence", () => presenceEvents++);
    const activity = (user_id, action) => ({
      type: "user_activity",
      subscription: 7,
      data: { graphic_id: 7, user_id, username: `u${user_id}`, action, target: 7, timestamp: "t" },
    });

    socket().receive(activity(5, "viewing"));
    socket().receive(activity(5, "editing"));
    socket().receive(activity(5, "editing")); // the same state again changes nothing
    const actions = sub.presence.users.map((user) => [user.user_id, user.action]);
    assert.deepEqual(actions, [[5, "editing"]]);
    assert.deepEqual([sub.presence.viewing, sub.presence.editing], [1, 1]);
    socket().receive(activity(5, "left"));
    assert.deepEqual(sub.presence.users, []);
    assert.deepEqual([sub.presence.viewing, sub.presence.editing], [1, 0]);
    assert.equal(presenceEvents, 4);

    const counts = (viewing, editing) => ({
      type: "presence_counts",
      subscription: "all",
      data: { graphic_id: 7, viewing, editing, timestamp: "t" },
    });
    socket().receive(counts(2, 1));
    assert.deepEqual(list.presenceCounts.get(7), { viewing: 2, editing: 1 });
    socket().receive(counts(0, 0));
    assert.equal(list.presenceCounts.has(7), false);
  });

  test("a truncated list: an unlisted user who starts editing was one of the viewers", () => {
    const { client, socket } = makeClient();
    const sub = client.subscribe(7);
    client.start();
    socket().welcome();
    const presence = { graphic_id: 7, viewing: 60, editing: 0, truncated: true, users: [] };
    socket().ack("subscribe", snapshotAck(100, 4, { presence }));
    socket().receive({
      type: "user_activity",
      subscription: 7,
      data: { graphic_id: 7, user_id: 9, username: "u9", action: "editing", timestamp: "t" },
    });
    assert.deepEqual([sub.presence.viewing, sub.presence.editing], [59, 1]);
  });
});

describe("reconnecting", () => {
  test("after a drop, subscribe goes with last_seq; a recovered ack keeps state", async () => {
    const { client, clock, sockets, socket, sub, states } = liveOn7(100);
    socket().receive(titleUpdate(101, 5));
    const snapshots = [];
    sub.addEventListener("snapshot", () => snapshots.push(sub.seq));

    socket().drop(1001);
    assert.equal(client.state, "reconnecting");
    await clock.advance(249); // random 0.5 * 500 ms
    assert.equal(sockets.length, 1);
    await clock.advance(1);
    assert.equal(sockets.length, 2);
    socket().welcome();

    assert.deepEqual(socket().sentOf("subscribe").at(-1).data, { graphic_id: 7, last_seq: 101 });
    socket().ack("subscribe", { graphic_id: 7, recovered: true, replayed: 1, seq: 102 });
    assert.equal(sub.graphic.version, 5, "recovered: the state is kept");
    assert.equal(sub.seq, 101, "the replayed events are still to come");
    socket().receive(titleUpdate(102, 6));
    assert.equal(sub.graphic.version, 6);
    assert.deepEqual(snapshots, []);
    assert.deepEqual(states, ["connecting", "live", "reconnecting", "live"]);
  });

  test("a not-recovered ack after a reconnect replaces the state", async () => {
    const { clock, socket, sub } = liveOn7(100);
    socket().drop(1006);
    await clock.advance(250);
    socket().welcome();
    socket().ack("subscribe", snapshotAck(500, 9));
    assert.equal(sub.graphic.version, 9);
    assert.equal(sub.seq, 500);
  });

  test("backoff grows while connections fail and resets after stableAfter ms live", async () => {
    const { client, clock, sockets, socket } = makeClient({ random: () => 1 });
    client.start();
    socket().welcome();
    socket().drop(1011);
    await clock.advance(500); // attempt 0: up to 500 ms
    assert.equal(sockets.length, 2);
    socket().welcome();
    await clock.advance(9999); // live, but not yet stable
    socket().drop(1011);
    await clock.advance(999);
    assert.equal(sockets.length, 2, "attempt 1: up to 1000 ms");
    await clock.advance(1);
    assert.equal(sockets.length, 3);
    socket().welcome();
    await clock.advance(10000); // stable: the attempt counter resets
    socket().drop(1011);
    await clock.advance(500);
    assert.equal(sockets.length, 4, "attempt 0 again");
  });

  for (const code of [1001, 1006, 1011, 4000, 4008, 4009]) {
    test(`close ${code} reconnects`, async () => {
      const { client, clock, sockets, socket } = makeClient();
      client.start();
      socket().welcome();
      socket().drop(code);
      assert.equal(client.state, "reconnecting");
      await clock.advance(250);
      assert.equal(sockets.length, 2);
    });
  }

  test("a pending request is rejected with code offline when the socket drops", async () => {
    const { client, socket } = liveOn7(100);
    const lock = client.request("lock", { graphic_id: 7 });
    assert.equal(socket().sentOf("lock").length, 1);
    socket().drop(1006);
    await assert.rejects(lock, (error) => error instanceof LiveError && error.code === "offline");
  });

  test("request() while not live rejects with offline and sends nothing", async () => {
    const { client, socket } = makeClient();
    await assert.rejects(client.request("lock", { graphic_id: 7 }), { code: "offline" });
    client.start();
    await assert.rejects(client.request("lock", { graphic_id: 7 }), { code: "offline" });
    assert.deepEqual(socket().sent, []);
  });

  test("requests carry c1, c2, ... and replies are matched by request_id", async () => {
    const { client, socket } = makeClient();
    client.start();
    socket().welcome();
    const first = client.request("lock", { graphic_id: 7 });
    const second = client.request("unlock", { graphic_id: 8 });
    const [lock, unlock] = socket().sent;
    assert.deepEqual([lock.request_id, unlock.request_id], ["c1", "c2"]);
    socket().receive({
      type: "error",
      request_id: "c2",
      data: { code: "lock_conflict", message: "Held.", details: { locked_by: "editor2" } },
    });
    socket().receive({ type: "ack", request_id: "c1", data: { graphic_id: 7, lock: FREE } });
    assert.deepEqual(await first, { graphic_id: 7, lock: FREE });
    await assert.rejects(second, (error) => {
      assert.ok(error instanceof LiveError);
      assert.deepEqual([error.code, error.details], ["lock_conflict", { locked_by: "editor2" }]);
      return true;
    });
    assert.equal(client.state, "live", "a refused request is not a connection problem");
  });
});

describe("fatal closes", () => {
  test("an error about the connection is told to the page, then it reconnects (4002)", async () => {
    const { client, clock, sockets, socket } = liveOn7(100);
    const told = [];
    const fatal = [];
    client.addEventListener("connection_error", (event) => told.push(event.detail.code));
    client.addEventListener("fatal", (event) => fatal.push(event.detail));
    socket().receive({
      type: "error",
      data: { code: "disconnected_by_staff", message: "Disconnected by staff member lockadmin." },
    });
    socket().drop(4002);

    assert.deepEqual(told, ["disconnected_by_staff"]);
    assert.deepEqual(fatal, []);
    assert.equal(client.state, "reconnecting");
    await clock.advance(1000); // the first retry waits at most backoffBase (full jitter)
    assert.equal(sockets.length, 2);
  });

  test("4001 after an auth error: offline, fatal dispatched, no reconnect", async () => {
    const { client, clock, sockets, socket } = liveOn7(100);
    const fatal = [];
    client.addEventListener("fatal", (event) => fatal.push(event.detail));
    socket().receive({
      type: "error",
      data: { code: "token_expired", message: "Authentication failed; log in again." },
    });
    socket().drop(4001);

    assert.equal(client.state, "offline");
    assert.deepEqual(fatal, [
      { code: "token_expired", message: "Authentication failed; log in again.", closeCode: 4001 },
    ]);
    await clock.advance(10 * 60 * 1000);
    assert.equal(sockets.length, 1);
    assert.deepEqual(clock.pendingDelays(), []);
  });

  for (const [code, name] of [
    [4003, "permission_denied"],
    [4029, "too_many_connections"],
  ]) {
    test(`${code} is fatal too, even before welcome`, async () => {
      const { client, clock, sockets, socket } = makeClient();
      const fatal = [];
      client.addEventListener("fatal", (event) => fatal.push(event.detail));
      client.start();
      socket().drop(code);
      assert.equal(client.state, "offline");
      assert.deepEqual(fatal.map((detail) => [detail.code, detail.closeCode]), [[name, code]]);
      await clock.advance(60000);
      assert.equal(sockets.length, 1);
    });
  }

  test("an auth error frame makes the close fatal even if it arrives as 1006", async () => {
    const { client, clock, sockets, socket } = liveOn7(100);
    socket().receive({
      type: "error",
      data: { code: "token_revoked", message: "Logged out.", details: {} },
    });
    socket().drop(1006);
    assert.equal(client.state, "offline");
    await clock.advance(60000);
    assert.equal(sockets.length, 1);
  });

  test("start() after a fatal close connects again and resumes from the seq", () => {
    const { client, sockets, socket } = liveOn7(100);
    socket().drop(4001);
    client.start();
    assert.equal(sockets.length, 2);
    socket().welcome();
    assert.deepEqual(socket().sentOf("subscribe").at(-1).data, { graphic_id: 7, last_seq: 100 });
  });
});

describe("heartbeats and dead connections", () => {
  test("every heartbeat is answered with a ping", () => {
    const { client, socket } = makeClient();
    client.start();
    socket().welcome();
    socket().receive({
      type: "heartbeat",
      data: { server_time: "2026-11-26T10:00:20.000000Z", interval: 20, idle_timeout: 60 },
    });
    socket().receive({ type: "heartbeat", data: { interval: 20, idle_timeout: 60 } });
    assert.deepEqual(socket().sentOf("ping"), [{ type: "ping" }, { type: "ping" }]);
    assert.equal(client.serverOffsetMs, 20000);
  });

  test("no frame for two heartbeat intervals: close and reconnect", async () => {
    const { client, clock, sockets, socket } = liveOn7(100);
    const first = socket();
    await clock.advance(30000);
    first.receive({ type: "heartbeat", data: { interval: 20 } }); // alive: the wait restarts
    await clock.advance(39999);
    assert.equal(client.state, "live");
    assert.equal(first.closedByClient, false);

    await clock.advance(1);
    assert.equal(first.closedByClient, true);
    assert.equal(client.state, "reconnecting");
    await clock.advance(250);
    assert.equal(sockets.length, 2);
    socket().welcome();
    assert.deepEqual(socket().sentOf("subscribe").at(-1).data, { graphic_id: 7, last_seq: 100 });
  });

  test("frames from a socket given up on are ignored", async () => {
    const { clock, sub, sockets } = liveOn7(100);
    const dead = sockets[0];
    await clock.advance(40000);
    dead.receive(titleUpdate(101, 5));
    assert.equal(sub.graphic.version, 4);
  });
});

describe("polling fallback", () => {
  /** Fail `count` opens in a row, waiting out the backoff between them. */
  async function failOpens(setup, count) {
    for (let attempt = 1; attempt <= count; attempt += 1) {
      setup.socket().drop(1006);
      if (attempt < count) await setup.clock.advance(1000);
    }
    await settle();
  }

  test("a server that comes back after a restart gets a WebSocket attempt at once", async () => {
    const setup = makeClient();
    const { client, clock, sockets, socket, http } = setup;
    client.subscribe(7);
    client.start();
    http.responses.push({ networkError: true }, { networkError: true });
    await failOpens(setup, 3); // the server is down: the WebSocket fails, then the polls
    assert.equal(client.state, "polling");
    await clock.advance(2000);
    assert.equal(http.calls.length, 2);
    const before = sockets.length;

    http.responses.push({
      status: 200,
      body: {
        graphic: 7, recovered: false, more: false, next_since: 100, events: [],
        snapshot: { graphic_id: 7, graphic: graphic(4), lock: FREE, seq: 100 },
      },
    });
    await clock.advance(2000); // the next poll is answered: the server is back
    await clock.advance(0);
    assert.equal(sockets.length, before + 1, "tried long before upgradeInterval (15 s)");
    socket().welcome();
    assert.equal(client.state, "live");
  });

  test("three failed opens switch to polling; events apply; upgrade goes back live", async () => {
    const setup = makeClient({ viewKey: "k1" });
    const { client, clock, sockets, socket, http } = setup;
    const sub = client.subscribe(7);
    http.responses.push({
      status: 200,
      body: {
        graphic: 7,
        recovered: false,
        more: false,
        next_since: 100,
        events: [],
        snapshot: { graphic_id: 7, graphic: graphic(4), lock: FREE, seq: 100 },
      },
    });
    client.start();
    socket().drop(1006);
    await clock.advance(250);
    socket().drop(1006);
    await clock.advance(500);
    assert.equal(client.state, "reconnecting");
    socket().drop(1006); // the third failed open
    await settle();

    assert.equal(client.state, "polling");
    assert.equal(http.calls.length, 1);
    assert.equal(http.calls[0].url, "/api/events/?graphic=7&key=k1");
    assert.equal(http.calls[0].init.credentials, "same-origin");
    assert.equal(sub.graphic.version, 4);
    assert.equal(sub.seq, 100);

    http.responses.push({
      status: 200,
      body: {
        graphic: 7,
        recovered: true,
        more: false,
        next_since: 130,
        events: [titleUpdate(100, 4), titleUpdate(101, 5), titleUpdate(120, 6)],
      },
    });
    await clock.advance(1999);
    assert.equal(http.calls.length, 1);
    await clock.advance(1);
    assert.equal(http.calls[1].url, "/api/events/?graphic=7&since=100&key=k1");
    assert.equal(sub.graphic.version, 6, "seq 100 was a duplicate; 101 and 120 applied");
    assert.equal(sub.seq, 130, "next_since moves a quiet graphic's poller on");

    // Every upgradeInterval (15 s from entering polling) the WebSocket is tried again.
    const before = sockets.length;
    await clock.advance(15000 - 2000);
    assert.equal(sockets.length, before + 1);
    assert.equal(client.state, "polling", "polling goes on until the welcome");
    socket().welcome();
    assert.equal(client.state, "live");
    assert.deepEqual(socket().sentOf("subscribe").at(-1).data, { graphic_id: 7, last_seq: 130 });
    const polls = http.calls.length;
    await clock.advance(60000);
    assert.equal(http.calls.length, polls, "no more polls once live");
  });

  test("a failed upgrade keeps polling and tries again after upgradeInterval", async () => {
    const setup = makeClient();
    const { client, clock, sockets, socket } = setup;
    client.subscribe(7);
    client.start();
    await failOpens(setup, 3);
    assert.equal(client.state, "polling");
    const before = sockets.length;
    await clock.advance(15000);
    assert.equal(sockets.length, before + 1);
    socket().drop(1006);
    assert.equal(client.state, "polling");
    await clock.advance(14999);
    assert.equal(sockets.length, before + 1);
    await clock.advance(1);
    assert.equal(sockets.length, before + 2);
  });

  test("more: true polls again at once; a version gap polls again without since", async () => {
    const setup = makeClient({ WebSocketImpl: undefined });
    const { client, clock, http } = setup;
    const sub = client.subscribe(7);
    const page = (events, extra = {}) => ({
      status: 200,
      body: { graphic: 7, recovered: true, more: false, next_since: 0, events, ...extra },
    });
    http.responses.push({
      status: 200,
      body: {
        graphic: 7,
        recovered: false,
        more: true,
        next_since: 100,
        events: [],
        snapshot: { graphic_id: 7, graphic: graphic(4), lock: FREE, seq: 100 },
      },
    });
    http.responses.push(page([titleUpdate(101, 9)], { next_since: 101 })); // a gap: copy at 4
    http.responses.push({
      status: 200,
      body: {
        graphic: 7,
        recovered: false,
        more: false,
        next_since: 140,
        events: [],
        snapshot: { graphic_id: 7, graphic: graphic(9), lock: FREE, seq: 140 },
      },
    });
    client.start();
    assert.equal(client.state, "polling");
    await clock.advance(0);
    assert.deepEqual(
      http.calls.map((call) => call.url),
      ["/api/events/?graphic=7", "/api/events/?graphic=7&since=100", "/api/events/?graphic=7"],
    );
    assert.equal(sub.graphic.version, 9);
    assert.equal(sub.seq, 140);
  });

  test("HTTP 401 while polling is fatal", async () => {
    const { client, clock, http } = makeClient({ WebSocketImpl: undefined });
    const fatal = [];
    client.addEventListener("fatal", (event) => fatal.push(event.detail));
    client.subscribe("all");
    http.responses.push({
      status: 401,
      body: { error: { code: "not_authenticated", message: "Log in.", details: {} } },
    });
    client.start();
    await settle();
    assert.equal(client.state, "offline");
    assert.deepEqual(fatal, [
      { code: "not_authenticated", message: "Log in.", closeCode: null, status: 401 },
    ]);
    await clock.advance(60000);
    assert.equal(http.calls.length, 1);
  });

  test("a server error while polling is retried after pollInterval", async () => {
    const { client, clock, http } = makeClient({ WebSocketImpl: undefined });
    client.subscribe("all");
    client.start();
    await settle();
    assert.equal(http.calls.length, 1); // answered 503 by the fake
    await clock.advance(2000);
    assert.equal(http.calls.length, 2);
    assert.equal(client.state, "polling");
  });
});

describe("more of the API", () => {
  test("a handshake that never ends counts as a failed open after openTimeout", async () => {
    const { client, clock, sockets, socket } = makeClient({ openTimeout: 5000 });
    client.start();
    const hung = socket();
    await clock.advance(4999);
    assert.equal(client.state, "connecting");
    await clock.advance(1);
    assert.equal(hung.closedByClient, true);
    assert.equal(client.state, "reconnecting");
    await clock.advance(250);
    assert.equal(sockets.length, 2);
  });

  test("unsubscribe() tells the server and the subscription hears no more", () => {
    const { client, socket, sub } = liveOn7(100);
    client.unsubscribe(7);
    assert.deepEqual(socket().sentOf("unsubscribe").at(-1).data, { graphic_id: 7 });
    socket().receive(titleUpdate(101, 5));
    assert.equal(sub.graphic.version, 4);
    assert.notEqual(client.subscribe(7), sub, "subscribing again starts afresh");
    assert.deepEqual(socket().sentOf("subscribe").at(-1).data, { graphic_id: 7 });
  });

  test("lock_expiring, lock_lost and notice are dispatched on the client", () => {
    const { client, socket } = liveOn7(100);
    const heard = [];
    for (const type of ["lock_expiring", "lock_lost", "notice"]) {
      client.addEventListener(type, (event) => heard.push([type, event.detail]));
    }
    socket().receive({ type: "lock_expiring", data: { graphic_id: 7, seconds_left: 59 } });
    socket().receive({ type: "lock_lost", data: { graphic_id: 7, reason: "expired" } });
    socket().receive({ type: "notice", data: { code: "broadcast_degraded" } });
    assert.deepEqual(heard, [
      ["lock_expiring", { graphic_id: 7, seconds_left: 59 }],
      ["lock_lost", { graphic_id: 7, reason: "expired" }],
      ["notice", { code: "broadcast_degraded" }],
    ]);
  });

  test("a refused subscribe is an error event; unavailable is retried", async () => {
    const { client, clock, socket } = makeClient();
    client.start();
    socket().welcome();
    const sub = client.subscribe(7);
    const errors = [];
    sub.addEventListener("error", (event) => errors.push(event.detail.code));
    const refuse = (code, details = {}) => {
      const request = socket().sentOf("subscribe").at(-1);
      socket().receive({ type: "error", request_id: request.request_id, data: { code, details } });
    };
    refuse("unavailable");
    assert.equal(socket().sentOf("subscribe").length, 1);
    await clock.advance(250);
    assert.equal(socket().sentOf("subscribe").length, 2, "retried after a backoff delay");
    refuse("too_many_subscriptions", { limit: 100 });
    assert.deepEqual(errors, ["too_many_subscriptions"]);
    await clock.advance(30000); // (less than two heartbeats: the same connection)
    assert.equal(socket().sentOf("subscribe").length, 2, "not retried");
  });

  test("a subscription added while polling is polled at once", async () => {
    const { client, http } = makeClient({ WebSocketImpl: undefined });
    client.start();
    await settle();
    assert.equal(http.calls.length, 0, "nothing to poll yet");
    client.subscribe("all");
    await settle();
    assert.deepEqual(http.calls.map((call) => call.url), ["/api/events/?graphic=all"]);
  });
});

describe("stop", () => {
  test("stop() closes, goes offline and schedules nothing", async () => {
    const { client, clock, sockets, socket } = liveOn7(100);
    client.stop();
    assert.equal(client.state, "offline");
    assert.equal(socket().closedByClient, true);
    assert.deepEqual(clock.pendingDelays(), []);
    await clock.advance(60000);
    assert.equal(sockets.length, 1);
  });
});

describe("standings", () => {
  /** The standings document of docs/protocol.md, Standings: one `total` table. */
  function standings(revision, names = ["Mira", "Tomo"]) {
    return {
      event_name: "GAL Season 3 Week 2",
      tournament_id: 4,
      revision,
      tables: {
        total: names.map((name, index) => ({
          rank: index + 1,
          player_id: 10 + index,
          name,
          points: 16 - index,
          placement: index + 1,
          played: 2,
        })),
      },
    };
  }

  function standingsUpdate(seq, revision, names, subscription = 7) {
    const data = { graphic_id: 7, action: "results_saved", user: "keeper", user_id: 9, seq };
    return {
      type: "standings_update",
      subscription,
      data: { ...data, standings: standings(revision, names) },
    };
  }

  function liveWithStandings(seq = 100) {
    const setup = makeClient();
    const sub = setup.client.subscribe(7);
    setup.client.start();
    setup.socket().welcome();
    setup.socket().ack("subscribe", snapshotAck(seq, 4, { standings: standings(1) }));
    return { ...setup, sub };
  }

  test("the snapshot's standings are kept; without the key (no lists) they are null", () => {
    const { sub } = liveWithStandings(100);
    assert.deepEqual(sub.standings, standings(1));
    const { sub: plain } = liveOn7(100);
    assert.equal(plain.standings, null);
  });

  test("a standings_update replaces the standings and is dispatched as change, once", () => {
    const { socket, sub } = liveWithStandings(100);
    const changes = [];
    sub.addEventListener("change", (event) => changes.push(event.detail.type));
    socket().receive(standingsUpdate(101, 2, ["Tomo", "Mira"]));
    assert.deepEqual(sub.standings, standings(2, ["Tomo", "Mira"]));
    assert.equal(sub.seq, 101);
    socket().receive(standingsUpdate(101, 3, ["Mira", "Tomo"])); // a duplicate seq
    assert.equal(sub.standings.revision, 2);
    assert.deepEqual(changes, ["standings_update"]);
    assert.equal(sub.graphic.version, 4, "the graphic is untouched");
  });

  test("an update without a document (no lists any more) clears them; delete clears them", () => {
    const { socket, sub } = liveWithStandings(100);
    socket().receive({
      type: "standings_update",
      subscription: 7,
      data: { graphic_id: 7, action: "graphic_bound", standings: null, seq: 101 },
    });
    assert.equal(sub.standings, null);
    socket().receive(standingsUpdate(102, 2));
    socket().receive({
      type: "graphic_update",
      subscription: 7,
      data: { id: 7, action: "deleted", payload: { id: 7 }, version: 4, seq: 103 },
    });
    assert.equal(sub.standings, null);
  });

  test("resume: a recovered ack keeps the standings; the replay brings new ones", async () => {
    const { clock, socket, sub } = liveWithStandings(100);
    socket().drop(1006);
    await clock.advance(250);
    socket().welcome();
    assert.deepEqual(socket().sentOf("subscribe").at(-1).data, { graphic_id: 7, last_seq: 100 });
    socket().ack("subscribe", { graphic_id: 7, recovered: true, replayed: 1, seq: 105 });
    assert.equal(sub.standings.revision, 1);
    socket().receive(standingsUpdate(105, 4, ["Tomo", "Mira"]));
    assert.equal(sub.standings.revision, 4);
    assert.equal(sub.standings.tables.total[0].name, "Tomo");
  });

  test("polling: the snapshot's standings, then the polled standings_update", async () => {
    const { client, clock, http } = makeClient({ WebSocketImpl: undefined });
    const sub = client.subscribe(7);
    http.responses.push({
      status: 200,
      body: {
        graphic: 7, recovered: false, more: false, next_since: 100, events: [],
        snapshot: {
          graphic_id: 7, graphic: graphic(4), lock: FREE, seq: 100, standings: standings(1),
        },
      },
    });
    http.responses.push({
      status: 200,
      body: {
        graphic: 7, recovered: true, more: false, next_since: 120,
        events: [standingsUpdate(120, 2, ["Tomo", "Mira"])],
      },
    });
    client.start();
    await clock.advance(0);
    assert.equal(sub.standings.revision, 1);
    await clock.advance(2000);
    assert.equal(sub.standings.revision, 2);
    assert.equal(sub.standings.tables.total[0].name, "Tomo");
  });

  test('"all" takes standings_update (no tables) as a change, keeping every summary', () => {
    const { client, socket } = makeClient();
    const list = client.subscribe("all");
    client.start();
    socket().welcome();
    socket().ack("subscribe", {
      graphic_id: "all",
      graphics: [{ id: 7, title: "A", version: 4, lock: FREE }],
      seq: 200,
      recovered: false,
      presence_counts: {},
    });
    const changes = [];
    list.addEventListener("change", (event) => changes.push(event.detail.type));
    const summary = standings(2);
    delete summary.tables; // the list's copy
    socket().receive({
      type: "standings_update",
      subscription: "all",
      data: { graphic_id: 7, action: "results_saved", standings: summary, seq: 201 },
    });
    assert.deepEqual([...list.graphics.keys()], [7]);
    assert.deepEqual(list.graphics.get(7), { id: 7, title: "A", version: 4, lock: FREE });
    assert.equal(list.seq, 201);
    assert.deepEqual(changes, ["standings_update"]);
  });
});

describe("batches (issue 17)", () => {
  /** The `batch` frame the server sends for frames that waited: their texts, concatenated. */
  function batchOf(...frames) {
    return { type: "batch", frames };
  }

  test("batch: true opts in with ?batch=1, after a view key", () => {
    const plain = makeClient({ batch: true });
    plain.client.start();
    assert.equal(plain.socket().url, `${URL}?batch=1`);
    const keyed = makeClient({ viewKey: "k 1", batch: true });
    keyed.client.start();
    assert.equal(keyed.socket().url, `${URL}?key=k%201&batch=1`);
  });

  test("a batch's events are applied in order, exactly as the same frames sent one by one", () => {
    const frames = [titleUpdate(101, 5), titleUpdate(102, 6), titleUpdate(103, 7, "Last")];
    const one = liveOn7(100, { batch: true });
    const alone = liveOn7(100);
    const heard = { batched: [], alone: [] };
    one.sub.addEventListener("change", (event) => heard.batched.push(event.detail.data.seq));
    alone.sub.addEventListener("change", (event) => heard.alone.push(event.detail.data.seq));

    one.socket().receive(batchOf(...frames));
    for (const frame of frames) alone.socket().receive(frame);

    assert.deepEqual(heard.batched, [101, 102, 103]);
    assert.deepEqual(heard.batched, heard.alone);
    assert.deepEqual(one.sub.graphic, alone.sub.graphic);
    assert.equal(one.sub.graphic.title, "Last");
    assert.equal(one.sub.seq, 103);
  });

  test("duplicates inside and across batches are dropped; replies and notices are unpacked", async () => {
    const { client, socket, sub } = liveOn7(100, { batch: true });
    const seqs = [];
    const notices = [];
    sub.addEventListener("change", (event) => seqs.push(event.detail.data.seq));
    client.addEventListener("lock_lost", (event) => notices.push(event.detail));
    const reply = client.request("lock", { graphic_id: 7 });
    const request = socket().sentOf("lock").at(-1);

    socket().receive(
      batchOf(
        { type: "lock_lost", data: { graphic_id: 7, reason: "overridden" } },
        titleUpdate(101, 5),
        titleUpdate(101, 5),
        { type: "ack", request_id: request.request_id, data: { graphic_id: 7, lock: FREE } },
      ),
    );
    socket().receive(batchOf(titleUpdate(101, 5), titleUpdate(102, 6)));

    assert.deepEqual(await reply, { graphic_id: 7, lock: FREE });
    assert.deepEqual(notices, [{ graphic_id: 7, reason: "overridden" }]);
    assert.deepEqual(seqs, [101, 102]);
    assert.equal(socket().sentOf("subscribe").length, 1, "no gap was seen");
  });

  test("an auth error inside a batch makes the close fatal, as alone", async () => {
    const { client, socket, sub } = liveOn7(100, { batch: true });
    const seqs = [];
    sub.addEventListener("change", (event) => seqs.push(event.detail.data.seq));
    const fatal = [];
    client.addEventListener("fatal", (event) => fatal.push(event.detail.code));
    socket().receive(
      batchOf(titleUpdate(101, 5), {
        type: "error",
        data: { code: "token_revoked", message: "Log in again.", details: {} },
      }),
    );
    socket().drop(4001);
    await settle();
    assert.deepEqual(seqs, [101]);
    assert.deepEqual(fatal, ["token_revoked"]);
    assert.equal(client.state, "offline");
  });
});

// Test doubles for the browser client (realtime/static/realtime/live-client.js): a clock whose
// timers run only when a test advances it, a WebSocket class whose "server side" the test
// drives frame by frame, and a fetch that answers from a queue. Injected through LiveClient's
// options, they make every reconnect, timeout and poll happen exactly when a test says.

/** The moment tests start at, so server_time strings are easy to read. */
export const T0 = Date.parse("2026-11-26T10:00:00.000Z");

/** Let pending promise callbacks (the client's fetch handling) run. */
export function settle() {
  return new Promise((resolve) => setImmediate(resolve));
}

export class FakeClock {
  constructor(now = T0) {
    this.now = now;
    this._timers = new Map();
    this._ids = 0;
    this.setTimeout = (callback, delay = 0) => {
      this._ids += 1;
      this._timers.set(this._ids, { at: this.now + Math.max(0, delay), callback });
      return this._ids;
    };
    this.clearTimeout = (id) => {
      this._timers.delete(id);
    };
    this.nowImpl = () => this.now;
  }

  /** Move time forward by `ms`, running every timer that falls due, in order. */
  async advance(ms) {
    const until = this.now + ms;
    await settle();
    for (;;) {
      let next = null;
      for (const [id, timer] of this._timers) {
        if (timer.at <= until && (next === null || timer.at < next[1].at)) next = [id, timer];
      }
      if (next === null) break;
      this._timers.delete(next[0]);
      this.now = next[1].at;
      next[1].callback();
      await settle();
    }
    this.now = until;
  }

  /** The delays, from now, of the timers still set. */
  pendingDelays() {
    return [...this._timers.values()].map((timer) => timer.at - this.now).sort((a, b) => a - b);
  }
}

/** A new WebSocket class; every socket the client opens is in `.sockets`, newest last. */
export function fakeWebSocketClass() {
  class FakeWebSocket {
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.sent = [];
      this.closedByClient = false;
      FakeWebSocket.sockets.push(this);
    }

    send(text) {
      if (this.readyState !== 1) throw new Error("InvalidStateError: not open");
      this.sent.push(JSON.parse(text));
    }

    close() {
      this.closedByClient = true;
      this.readyState = 3;
    }

    // -- the server's side -----------------------------------------------------------------

    /** Accept the connection and send `welcome`. */
    welcome(data = {}) {
      this.readyState = 1;
      this.receive({
        type: "welcome",
        data: {
          connection_id: "c0ffee",
          user: { id: 3, username: "editor" },
          server_time: "2026-11-26T10:00:05.000000Z",
          protocol_version: 1,
          auth_method: "session",
          token_expires_at: null,
          broadcast_degraded: false,
          heartbeat_interval: 20,
          ...data,
        },
      });
    }

    receive(frame) {
      this.onmessage?.({ data: JSON.stringify(frame) });
    }

    /** Close from the server's side (or the network's: 1006). */
    drop(code = 1006) {
      this.readyState = 3;
      this.onclose?.({ code, reason: "" });
    }

    /** The frames of `type` the client sent. */
    sentOf(type) {
      return this.sent.filter((frame) => frame.type === type);
    }

    /** Answer the last request of `type` with an ack carrying `data`. */
    ack(type, data) {
      const request = this.sentOf(type).at(-1);
      this.receive({ type: "ack", request_id: request.request_id, data });
    }
  }
  FakeWebSocket.sockets = [];
  return FakeWebSocket;
}

/** A fetch answering from `responses` (status + body, or networkError), recording each call's URL. */
export function fakeFetch() {
  const calls = [];
  const responses = [];
  const fetch = (url, init) => {
    calls.push({ url, init });
    const next = responses.shift() ?? { status: 503, body: { error: { code: "unavailable" } } };
    // { networkError: true }: the server cannot be reached at all (fetch rejects).
    if (next.networkError) return Promise.reject(new TypeError("Failed to fetch"));
    return Promise.resolve({
      status: next.status,
      ok: next.status >= 200 && next.status < 300,
      json: () => Promise.resolve(next.body),
    });
  };
  return { fetch, calls, responses };
}

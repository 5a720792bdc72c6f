/**
 * LiveClient: follow graphics live over /ws/graphics (docs/protocol.md), never losing an update.
 *
 * Every page (the dashboard list, the editor, the on-air overlay) uses one LiveClient. It keeps
 * one WebSocket open, reconnects with backoff, subscribes again after each reconnect from the
 * last seq it applied (so the server replays what was missed, or sends a fresh snapshot), drops
 * duplicate and old events, takes a fresh snapshot when a patch does not fit its copy, and falls
 * back to polling GET /api/events/ when WebSockets do not get through. What it holds per
 * subscription is on the Subscription; the pages render it on `snapshot`, `change` and
 * `presence` events. The guide is docs/protocol.md, "The browser client".
 *
 *   import { LiveClient } from "/static/realtime/live-client.js";
 *   const client = new LiveClient();
 *   const sub = client.subscribe(7);
 *   sub.addEventListener("change", () => render(sub.graphic));
 *   client.start();
 */

import { backoffDelay } from "./backoff.js";
import { SeqTracker } from "./seq.js";
import { ALL, RESYNC, Subscription } from "./subscription.js";

export { Subscription };

// Closes after which retrying cannot help: the user must log in again (4001), ask for a role
// (4003) or close another tab (4029). A page says so instead of the client retrying in a loop.
const FATAL_CLOSE_CODES = new Map([
  [4001, "not_authenticated"],
  [4003, "permission_denied"],
  [4029, "too_many_connections"],
]);

// The `error` codes the server sends right before one of those closes, with or without a
// request_id (a request can be what finds the token revoked). Seeing one is enough even if the
// close arrives as 1006 (a proxy that drops close frames). `permission_denied` is also an
// ordinary refusal of one request, so it counts only as a connection-level error (no request_id).
const FATAL_ERROR_CODES = new Set([
  "not_authenticated",
  "token_invalid",
  "token_expired",
  "token_revoked",
  "account_disabled",
  "view_key_invalid",
  "view_key_revoked",
  "network_not_allowed",
  "too_many_connections",
]);

/** A refused request: `code`, `message` and `details` as in the server's `error` frame. */
export class LiveError extends Error {
  /**
   * @param {string} code an error code of docs/protocol.md, or "offline" (not sent: not live)
   * @param {string} message for people
   * @param {object} [details] machine-readable
   */
  constructor(code, message, details = {}) {
    super(message);
    this.name = "LiveError";
    this.code = code;
    this.details = details;
  }
}

function offlineError() {
  return new LiveError("offline", "Not connected to the live server; nothing was sent.");
}

function subscriptionKey(key) {
  if (key === ALL) return ALL;
  const id = typeof key === "string" && /^[0-9]+$/.test(key) ? Number(key) : key;
  if (!Number.isSafeInteger(id) || id < 1) {
    throw new TypeError(`subscribe: a graphic id (positive integer) or "all", not ${key}`);
  }
  return id;
}

/**
 * The connection: WebSocket with reconnects, or polling, and the subscriptions it feeds.
 * States: "connecting" (first open), "live" (welcome received), "reconnecting" (dropped,
 * retrying), "polling" (HTTP fallback), "offline" (before start(), after stop() or a fatal
 * close). Events: `state` ({state, previous}), `welcome`, `notice`, `lock_expiring`,
 * `lock_lost` (the frame's data), `fatal` ({code, message, closeCode, status?}).
 *
 * With `batch: true` it opens the socket with `?batch=1`: frames that wait for it on the server
 * arrive together as one `batch` frame, which it unpacks here, each frame in order through the
 * same path as a frame sent alone (docs/protocol.md, "Batches").
 */
export class LiveClient extends EventTarget {
  /**
   * @param {object} [options] every one optional; docs/protocol.md lists them with defaults
   */
  constructor({
    url,
    viewKey,
    pollUrl = "/api/events/",
    backoffBase = 500,
    backoffCap = 20000,
    stableAfter = 10000,
    wsFailuresBeforePolling = 3,
    openTimeout = 10000,
    pollInterval = 2000,
    upgradeInterval = 15000,
    deadAfterHeartbeats = 2,
    WebSocketImpl = globalThis.WebSocket,
    fetchImpl = globalThis.fetch?.bind(globalThis),
    setTimeoutImpl = globalThis.setTimeout.bind(globalThis),
    clearTimeoutImpl = globalThis.clearTimeout.bind(globalThis),
    nowImpl = Date.now,
    random = Math.random,
    debug = false,
    batch = false,
  } = {}) {
    super();
    const base = url ?? `${globalThis.location.origin.replace(/^http/, "ws")}/ws/graphics`;
    const query = [];
    if (viewKey) query.push(`key=${encodeURIComponent(viewKey)}`);
    if (batch) query.push("batch=1");
    this._url = query.length ? `${base}?${query.join("&")}` : base;
    this._viewKey = viewKey;
    this._pollUrl = pollUrl;
    this._backoff = { base: backoffBase, cap: backoffCap, random };
    this._stableAfter = stableAfter;
    this._wsFailuresBeforePolling = wsFailuresBeforePolling;
    this._openTimeout = openTimeout;
    this._pollInterval = pollInterval;
    this._upgradeInterval = upgradeInterval;
    this._deadAfterHeartbeats = deadAfterHeartbeats;
    this._WebSocket = WebSocketImpl;
    this._fetch = fetchImpl;
    this._setTimeout = setTimeoutImpl;
    this._clearTimeout = clearTimeoutImpl;
    this._now = nowImpl;
    this._debugOn = debug;

    /** @type {"connecting"|"live"|"reconnecting"|"polling"|"offline"} */
    this.state = "offline";
    /** the last `welcome` frame's data, or null */
    this.welcome = null;
    /** server clock minus local clock, in ms (from welcome, heartbeat and pong) */
    this.serverOffsetMs = 0;

    this._subs = new Map();
    this._seqs = new SeqTracker();
    this._started = false;
    this._socket = null;
    this._socketLive = false; // the current socket has had its welcome
    this._fatalError = null; // an error frame that makes the coming close fatal
    this._heartbeatMs = 0;
    this._pending = new Map(); // request_id -> {onAck, onError}
    this._requests = 0;
    this._attempt = 0; // reconnects since the last stable connection
    this._failedOpens = 0; // consecutive opens that never reached welcome
    this._timers = new Map();
    this._pollRound = null; // the poll round in flight (a token), or null
    this._pollSoon = false;
  }

  // -- the public API ---------------------------------------------------------------------------

  /** Connect (or poll) and keep following until stop() or a fatal close. */
  start() {
    if (this._started) return;
    this._started = true;
    this._attempt = 0;
    this._failedOpens = 0;
    if (!this._WebSocket) {
      this._enterPolling();
      return;
    }
    this._setState("connecting");
    this._open();
  }

  /** Close everything and stay offline. Subscriptions are kept for the next start(). */
  stop() {
    this._started = false;
    this._halt();
    this._setState("offline");
  }

  /** @returns {number} the server's clock now, in ms since the epoch (for countdowns) */
  serverNow() {
    return this._now() + this.serverOffsetMs;
  }

  /**
   * Follow a graphic (its id) or the list ("all"). Idempotent: the same key gives the same
   * Subscription.
   * @param {number|string} key
   * @returns {Subscription}
   */
  subscribe(key) {
    const normalised = subscriptionKey(key);
    let sub = this._subs.get(normalised);
    if (sub) return sub;
    sub = new Subscription(normalised, this._seqs);
    this._subs.set(normalised, sub);
    if (this._socketLive) this._sendSubscribe(sub);
    else if (this.state === "polling") this._pollNow();
    return sub;
  }

  /** Stop following `key`; its Subscription gets no more events. */
  unsubscribe(key) {
    const normalised = subscriptionKey(key);
    if (!this._subs.delete(normalised)) return;
    this._seqs.reset(normalised, null);
    this._cancel(`resubscribe ${normalised}`);
    if (this._socketLive) this._send("unsubscribe", { graphic_id: normalised }, {});
  }

  /**
   * Send one request and wait for its reply.
   * @param {string} type a client message type (docs/protocol.md), e.g. "lock"
   * @param {object} [data]
   * @returns {Promise<object>} the ack's data; rejects with a LiveError (code "offline" when
   *   not live: requests are never queued, so nothing is sent late)
   */
  request(type, data = {}) {
    if (this.state !== "live" || !this._socketLive) return Promise.reject(offlineError());
    return new Promise((resolve, reject) => {
      this._send(type, data, { onAck: resolve, onError: reject });
    });
  }

  // -- the WebSocket ----------------------------------------------------------------------------

  _open() {
    let socket;
    try {
      socket = new this._WebSocket(this._url);
    } catch (error) {
      this._debug("cannot open a WebSocket", error);
      this._afterClose(false);
      return;
    }
    this._socket = socket;
    this._socketLive = false;
    this._fatalError = null;
    socket.onmessage = (event) => this._onFrame(socket, event.data);
    socket.onclose = (event) => this._onClose(socket, event.code);
    socket.onerror = () => {}; // a close follows, with the code that matters
    // A handshake lost in the network may never end on its own; count it as a failed open.
    this._schedule("open", this._openTimeout, () => this._onClose(socket, 1006));
  }

  _onFrame(socket, text) {
    if (socket !== this._socket) return;
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      this._debug("not JSON", text);
      return;
    }
    if (frame?.type === "batch" && Array.isArray(frame.frames)) {
      // Frames that waited on the server, in the order they would have come one by one. A
      // frame may close this socket's turn (a fatal error): the rest are then not for us.
      for (const inner of frame.frames) {
        if (socket !== this._socket) return;
        this._onFrameObject(inner);
      }
      return;
    }
    this._onFrameObject(frame);
  }

  _onFrameObject(frame) {
    if (frame === null || typeof frame !== "object" || typeof frame.type !== "string") return;
    this._debug("<-", frame);
    this._armDeadTimer(); // any frame is a sign of life
    const data = frame.data ?? {};
    switch (frame.type) {
      case "welcome":
        return this._welcomed(data);
      case "heartbeat":
        this._syncClock(data.server_time);
        if (typeof data.interval === "number") this._heartbeatMs = data.interval * 1000;
        this._sendFrame({ type: "ping" });
        return undefined;
      case "pong":
        this._syncClock(data.server_time);
        return this._reply(frame.request_id, (handlers) => handlers.onAck?.(data));
      case "ack":
        return this._reply(frame.request_id, (handlers) => handlers.onAck?.(data));
      case "error":
        return this._error(frame, data);
      case "graphic_update":
      case "graphic_take":
      case "graphic_clear":
      case "graphic_live":
      case "lock_status":
      case "standings_update":
        return this._event(frame);
      case "user_activity":
      case "presence_counts":
        return this._subs.get(frame.subscription)?._applyPresence(frame);
      case "notice":
      case "lock_expiring":
      case "lock_lost":
        return this.dispatchEvent(new CustomEvent(frame.type, { detail: data }));
      default:
        return undefined;
    }
  }

  _welcomed(data) {
    this._cancel("open");
    this.welcome = data;
    this._syncClock(data.server_time);
    this._heartbeatMs = (data.heartbeat_interval ?? 0) * 1000;
    this._socketLive = true;
    this._failedOpens = 0;
    this._armDeadTimer();
    this._schedule("stable", this._stableAfter, () => {
      this._attempt = 0;
    });
    this._stopPolling();
    // Subscriptions first, so that a page reacting to "live" by subscribing is not sent twice.
    for (const sub of this._subs.values()) if (!sub.deleted) this._sendSubscribe(sub);
    this._setState("live");
    this.dispatchEvent(new CustomEvent("welcome", { detail: data }));
  }

  _error(frame, data) {
    const code = data.code;
    if (FATAL_ERROR_CODES.has(code) || (code === "permission_denied" && !frame.request_id)) {
      this._fatalError = data;
    }
    if (frame.request_id === undefined || frame.request_id === null) {
      // About the connection, not a request (idle_timeout, disconnected_by_staff, ...): the
      // page may want to tell its user why the connection is about to close.
      this.dispatchEvent(new CustomEvent("connection_error", { detail: data }));
    }
    this._reply(frame.request_id, (handlers) =>
      handlers.onError?.(new LiveError(code, data.message, data.details ?? {})),
    );
  }

  _reply(requestId, answer) {
    if (requestId === undefined || requestId === null) return;
    const handlers = this._pending.get(requestId);
    if (!handlers) return;
    this._pending.delete(requestId);
    answer(handlers);
  }

  _event(frame) {
    const sub = this._subs.get(frame.subscription);
    if (sub && sub._applyEvent(frame) === RESYNC) this._resync(sub);
  }

  _onClose(socket, code) {
    if (socket !== this._socket) return;
    const live = this._socketLive;
    const error = this._fatalError;
    this._dropSocket();
    if (error || FATAL_CLOSE_CODES.has(code)) {
      this._fatal({
        code: error?.code ?? FATAL_CLOSE_CODES.get(code),
        message: error?.message ?? `The server closed the connection (${code}).`,
        closeCode: code,
      });
      return;
    }
    this._debug("closed", code);
    this._afterClose(live);
  }

  _afterClose(wasLive) {
    if (!wasLive) this._failedOpens += 1;
    if (this.state === "polling") {
      // A failed attempt to go back to the WebSocket: keep polling, try again later.
      this._schedule("upgrade", this._upgradeInterval, () => this._open());
    } else if (this._failedOpens >= this._wsFailuresBeforePolling) {
      this._enterPolling();
    } else {
      const delay = backoffDelay(this._attempt, this._backoff);
      this._attempt += 1;
      this._setState("reconnecting");
      this._schedule("reconnect", delay, () => this._open());
    }
  }

  /** Forget the current socket: no more of its frames, its requests fail "offline". */
  _dropSocket() {
    const socket = this._socket;
    this._socket = null;
    this._socketLive = false;
    for (const name of ["open", "dead", "stable"]) this._cancel(name);
    if (socket) {
      socket.onmessage = socket.onclose = socket.onerror = null;
      // Closing a connection found dead does not wait for the server's close frame, which
      // may never come: the client moves on at once.
      if (socket.readyState === 0 || socket.readyState === 1) {
        try {
          socket.close();
        } catch {
          // already closing
        }
      }
    }
    const pending = [...this._pending.values()];
    this._pending.clear();
    for (const handlers of pending) handlers.onError?.(offlineError());
  }

  _armDeadTimer() {
    if (!this._socketLive || !this._heartbeatMs) return;
    const socket = this._socket;
    this._schedule("dead", this._deadAfterHeartbeats * this._heartbeatMs, () => {
      this._debug("no frame for", this._deadAfterHeartbeats, "heartbeats: reconnecting");
      this._onClose(socket, 1006);
    });
  }

  /** Send a request; its reply (or the socket's drop) calls one of `handlers`. */
  _send(type, data, handlers) {
    this._requests += 1;
    const requestId = `c${this._requests}`;
    this._pending.set(requestId, handlers);
    this._sendFrame({ type, data, request_id: requestId });
    return requestId;
  }

  _sendFrame(frame) {
    this._debug("->", frame);
    try {
      this._socket.send(JSON.stringify(frame));
    } catch (error) {
      // Only a socket that is not open throws; its close (or the dead-connection timer)
      // follows and fails the request "offline".
      this._debug("send failed", error);
    }
  }

  _sendSubscribe(sub) {
    const data = { graphic_id: sub.key };
    const lastSeq = sub._resumeSeq;
    if (lastSeq !== null) data.last_seq = lastSeq;
    // Only the answer to the latest subscribe counts (a version gap may have sent another).
    const current = () => this._subs.get(sub.key) === sub && sub._requestId === requestId;
    let requestId = null;
    requestId = this._send("subscribe", data, {
      onAck: (ack) => current() && sub._acknowledged(ack),
      onError: (error) => current() && this._subscribeRefused(sub, error),
    });
    sub._requestId = requestId;
  }

  _subscribeRefused(sub, error) {
    if (error.code === "offline") return; // subscribed again on the next welcome
    if (error.code === "not_found") {
      sub._gone();
    } else if (error.code === "unavailable" || error.code === "rate_limited") {
      // Both pass: the database was failing over, or this connection sent too much at once.
      const retryAfter = Number(error.details?.retry_after) * 1000;
      const delay = retryAfter > 0 ? retryAfter : backoffDelay(sub._retries, this._backoff);
      sub._retries += 1;
      this._schedule(`resubscribe ${sub.key}`, delay, () => {
        if (this._socketLive && this._subs.get(sub.key) === sub) this._sendSubscribe(sub);
      });
    } else {
      sub._dispatch("error", error);
    }
  }

  /** The copy missed a version: ask for a fresh snapshot, by the way we are connected. */
  _resync(sub) {
    sub._resync = true;
    if (this._socketLive) this._sendSubscribe(sub);
    else if (this.state === "polling") this._pollNow();
  }

  _fatal(detail) {
    this._debug("fatal", detail);
    this._started = false;
    this._halt();
    this._setState("offline");
    this.dispatchEvent(new CustomEvent("fatal", { detail }));
  }

  _halt() {
    this._dropSocket();
    this._stopPolling();
    for (const name of [...this._timers.keys()]) this._cancel(name);
  }

  // -- polling ----------------------------------------------------------------------------------

  _enterPolling() {
    this._setState("polling");
    for (const sub of this._subs.values()) sub._forgetPresence();
    this._pollNow();
    if (this._WebSocket) this._schedule("upgrade", this._upgradeInterval, () => this._open());
  }

  _stopPolling() {
    this._pollRound = null;
    this._pollSoon = false;
    this._cancel("poll");
    this._cancel("upgrade");
  }

  /** Poll every subscription now, or right after the round in flight. */
  _pollNow() {
    if (this._pollRound) {
      this._pollSoon = true;
      return;
    }
    this._cancel("poll");
    const round = {};
    this._pollRound = round;
    this._pollSoon = false;
    this._pollAll(round).then(
      (more) => this._pollDone(round, more),
      (error) => {
        this._debug("poll failed", error);
        this._pollDone(round, false);
      },
    );
  }

  _pollDone(round, more) {
    if (this._pollRound !== round) return; // polling stopped meanwhile
    this._pollRound = null;
    const delay = more || this._pollSoon ? 0 : this._pollInterval;
    this._schedule("poll", delay, () => this._pollNow());
  }

  async _pollAll(round) {
    let more = false;
    for (const sub of [...this._subs.values()]) {
      if (this._pollRound !== round) return false;
      if (sub.deleted || this._subs.get(sub.key) !== sub) continue;
      if (await this._pollOne(sub, round)) more = true;
    }
    return more;
  }

  /** One GET /api/events/ for one subscription; true when there is more to fetch at once. */
  async _pollOne(sub, round) {
    const since = sub._resumeSeq;
    let url = `${this._pollUrl}${this._pollUrl.includes("?") ? "&" : "?"}graphic=${sub.key}`;
    if (since !== null) url += `&since=${since}`;
    if (this._viewKey) url += `&key=${encodeURIComponent(this._viewKey)}`;
    let response;
    let body = null;
    try {
      response = await this._fetch(url, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      body = await response.json().catch(() => null);
    } catch (error) {
      this._debug("poll: network error", error);
      this._serverUnreachable = true;
      return false; // the next round tries again
    }
    if (this._serverUnreachable) {
      // The server was down and answers again (a restart): its WebSocket most likely works
      // too, so try it now rather than at the next upgradeInterval.
      this._serverUnreachable = false;
      if (this._WebSocket && !this._socket) this._schedule("upgrade", 0, () => this._open());
    }
    if (this._pollRound !== round || this._subs.get(sub.key) !== sub) return false;
    if (response.status === 401 || response.status === 403) {
      const refusal = response.status === 401 ? "not_authenticated" : "permission_denied";
      this._fatal({
        code: body?.error?.code ?? refusal,
        message: body?.error?.message ?? `The server refused to answer (HTTP ${response.status}).`,
        closeCode: null,
        status: response.status,
      });
      return false;
    }
    if (response.status === 404) {
      sub._gone();
      return false;
    }
    if (!response.ok || body === null) {
      this._debug("poll: HTTP", response.status, body);
      return false;
    }
    if (body.snapshot) sub._replace(body.snapshot);
    for (const frame of body.events ?? []) {
      // A version gap: poll again at once, without since, for a snapshot.
      if (sub._applyEvent(frame) === RESYNC) return true;
    }
    // A quiet graphic's poller moves on with the log: next_since may pass its last event.
    const nextSince = body.next_since;
    if (typeof nextSince === "number" && sub._resumeSeq !== null && nextSince > sub.seq) {
      this._seqs.reset(sub.key, nextSince);
    }
    return body.more === true;
  }

  // -- small things -----------------------------------------------------------------------------

  _setState(state) {
    if (state === this.state) return;
    const previous = this.state;
    this.state = state;
    this._debug("state", previous, "->", state);
    this.dispatchEvent(new CustomEvent("state", { detail: { state, previous } }));
  }

  _syncClock(serverTime) {
    if (typeof serverTime !== "string") return;
    // The server sends microseconds; Date.parse is only required to read milliseconds.
    const at = Date.parse(serverTime.replace(/(\.\d{3})\d+/, "$1"));
    if (!Number.isNaN(at)) this.serverOffsetMs = at - this._now();
  }

  _schedule(name, delay, callback) {
    this._cancel(name);
    const handle = this._setTimeout(() => {
      this._timers.delete(name);
      callback();
    }, delay);
    this._timers.set(name, handle);
  }

  _cancel(name) {
    if (!this._timers.has(name)) return;
    this._clearTimeout(this._timers.get(name));
    this._timers.delete(name);
  }

  _debug(...args) {
    if (this._debugOn) console.debug("[LiveClient]", ...args);
  }
}

/**
 * What one subscription holds: a graphic (with its lock and presence) or the list ("all"), kept
 * up to date from snapshots and events, whichever way they arrive (WebSocket or polling). The
 * transport, and when to ask for a snapshot, are live-client.js's; this module only applies.
 */

import { afterUpdate, graphicAfterAirEvent } from "./air.js";
import { graphicApplyEvent } from "./patch.js";

/** The list's subscription key. */
export const ALL = "all";

/** The state of a graphic nobody has locked (docs/protocol.md, `<lock state>`). */
export const FREE_LOCK = Object.freeze({
  locked: false,
  locked_by: null,
  locked_by_id: null,
  lock_time: null,
  expires_at: null,
  fencing_token: null,
});

/** What `_applyEvent` returns when the copy cannot take an event: take a fresh snapshot. */
export const RESYNC = "resync";

/** The events that change what is on air (docs/protocol.md, On air). */
export const AIR_EVENTS = Object.freeze(["graphic_take", "graphic_clear", "graphic_live"]);

function lockOf(lockStatus) {
  // The lock state, with the event's reason, actor, previous_holder and note kept beside it,
  // so a list can say "available: editor's lock expired".
  const { seq, graphic_id, ...lock } = lockStatus;
  return lock;
}

// Ids that JavaScript treats as array indices ("0", "2", "10"): JSON.parse lists such keys of an
// object first, in numeric order, whatever order the server wrote them in.
const ARRAY_INDEX = /^(0|[1-9][0-9]{0,9})$/;

/**
 * Whether the drawing order of the elements a patch adds is lost in parsing: the server puts
 * them on top in the order its JSON names them, unless `element_order` says otherwise, and that
 * order does not survive JSON.parse when one of several added ids looks like an array index.
 * The client then takes a snapshot rather than draw them in the wrong order.
 */
function addedOrderLost(graphic, eventData) {
  const canvasPatch = eventData.patch?.data;
  if (typeof canvasPatch !== "object" || canvasPatch === null) return false;
  const elements = canvasPatch.element_order == null ? canvasPatch.elements : null;
  if (typeof elements !== "object" || elements === null) return false;
  const current = new Set((graphic?.data?.elements ?? []).map((element) => element.id));
  const added = Object.keys(elements).filter((id) => elements[id] !== null && !current.has(id));
  return added.length > 1 && added.some((id) => ARRAY_INDEX.test(id) && Number(id) < 2 ** 32 - 1);
}

function byEditorsFirst(a, b) {
  return (a.action !== "editing") - (b.action !== "editing");
}

/**
 * What a graphic's subscriber knows of its presence after one `user_activity` frame. Frames are
 * states, not increments: the same frame twice changes nothing. A user the list does not name is
 * new, or (when the ack's list was cut short at PRESENCE_LIST_MAX, editors first) one of the
 * viewers it left out.
 */
function presenceAfter(presence, activity) {
  const listed = presence.users.find((user) => user.user_id === activity.user_id);
  const unlistedViewer = presence.truncated && activity.action !== "viewing";
  const before = listed?.action ?? (unlistedViewer ? "viewing" : null);
  const counts = { viewing: presence.viewing, editing: presence.editing };
  if (before !== null) counts[before] = Math.max(0, counts[before] - 1);
  if (activity.action !== "left") counts[activity.action] += 1;
  const users = presence.users.filter((user) => user.user_id !== activity.user_id);
  if (activity.action !== "left") {
    users.push({
      user_id: activity.user_id,
      username: activity.username,
      action: activity.action,
      since: listed?.action === activity.action ? listed.since : activity.timestamp,
    });
  }
  users.sort(byEditorsFirst);
  return { ...counts, truncated: presence.truncated, users };
}

/**
 * One subscription's state: a graphic (`sub.graphic`, `sub.lock`, `sub.standings`,
 * `sub.presence`, `sub.deleted`) or the list (`sub.graphics`, `sub.presenceCounts`), with the
 * seq it reflects.
 * Events: `snapshot` (state replaced wholesale), `change` (an event applied; detail: the frame),
 * `presence` (presence changed), `error` (the subscription was refused; detail: a LiveError).
 */
export class Subscription extends EventTarget {
  constructor(key, seqs) {
    super();
    /** @type {number|"all"} */
    this.key = key;
    /** true once the first snapshot is in */
    this.ready = false;
    /** true when the graphic was deleted (or did not exist) */
    this.deleted = false;
    if (key === ALL) {
      /** @type {Map<number, object>} graphic id -> summary, with its `lock` */
      this.graphics = new Map();
      /** @type {Map<number, {viewing: number, editing: number}>} graphics with someone there */
      this.presenceCounts = new Map();
    } else {
      /** @type {object|null} the full graphic */
      this.graphic = null;
      /** @type {object|null} its lock state */
      this.lock = null;
      /**
       * @type {object|null} the standings its list elements draw (docs/protocol.md,
       *   Standings); null for a graphic without list elements
       */
      this.standings = null;
      /** @type {{viewing: number, editing: number, truncated: boolean, users: object[]}|null} */
      this.presence = null;
    }
    this._seqs = seqs;
    // Waiting for a fresh snapshot (a version gap): events are dropped until it comes.
    this._resync = false;
    // The subscribe request whose ack counts; acks of earlier ones are stale.
    this._requestId = null;
    this._retries = 0;
  }

  /** @returns {number|null} the seq of the last event applied (or of the snapshot) */
  get seq() {
    return this._seqs.last(this.key);
  }

  /** The seq to resume from: null before the first snapshot or when a new one is needed. */
  get _resumeSeq() {
    return this.ready && !this._resync ? this.seq : null;
  }

  _dispatch(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /** A subscribe ack: a snapshot to start from, or `recovered: true` (the replay follows). */
  _acknowledged(ack) {
    this._retries = 0;
    const snapshot = this.key === ALL ? Array.isArray(ack.graphics) : "graphic" in ack;
    if (ack.recovered !== true && snapshot) this._replace(ack);
    this._presenceFromAck(ack);
  }

  /** Replace the state with a snapshot (a subscribe ack or a poll's `snapshot`). */
  _replace(snapshot) {
    if (this.key === ALL) {
      this.graphics = new Map(snapshot.graphics.map((summary) => [summary.id, summary]));
    } else {
      this.graphic = snapshot.graphic;
      this.lock = snapshot.lock ?? null;
      // Absent from the snapshot of a graphic without list elements.
      this.standings = snapshot.standings ?? null;
      this.deleted = false;
    }
    this._seqs.reset(this.key, snapshot.seq);
    this.ready = true;
    this._resync = false;
    this._dispatch("snapshot", snapshot);
  }

  /** The graphic is gone (`not_found`): nothing to show, nothing to follow. */
  _gone() {
    this.deleted = true;
    this.graphic = null;
    this.standings = null;
    this.ready = true;
    this._resync = false;
    this._dispatch("snapshot", { graphic_id: this.key, graphic: null, deleted: true });
  }

  _presenceFromAck(ack) {
    if (this.key === ALL && ack.presence_counts) {
      this.presenceCounts = new Map(
        Object.entries(ack.presence_counts).map(([id, counts]) => [
          Number(id),
          { viewing: counts.viewing, editing: counts.editing },
        ]),
      );
    } else if (this.key !== ALL && ack.presence) {
      const { viewing, editing, truncated = false, users = [] } = ack.presence;
      this.presence = { viewing, editing, truncated, users: [...users] };
    } else {
      return;
    }
    this._dispatch("presence", ack);
  }

  /** Polling carries no presence: forget it rather than show a stale one. */
  _forgetPresence() {
    if (this.key === ALL) this.presenceCounts = new Map();
    else this.presence = null;
    this._dispatch("presence", null);
  }

  /**
   * Apply one event frame (`graphic_update`, `lock_status`, `standings_update`, or an on-air
   * event: `graphic_take`, `graphic_clear`, `graphic_live`) unless its seq was seen. A view key
   * is not sent the drafts of a graphic that is not live, so its seqs have gaps: only a seq
   * that is not newer than the last one is dropped, and a gap is never a reason to resync.
   * @returns {undefined|"resync"} "resync" when the copy cannot take it (take a snapshot)
   */
  _applyEvent(frame) {
    const data = frame.data ?? {};
    if (!this.ready || this._resync || typeof data.seq !== "number") return undefined;
    if (!this._seqs.accept(this.key, data.seq)) return undefined; // a duplicate or an old one
    if (this.key === ALL) this._applyToList(frame.type, data);
    else if (this._applyToGraphic(frame.type, data) === RESYNC) return RESYNC;
    this._dispatch("change", frame);
    return undefined;
  }

  _applyToList(type, data) {
    if (AIR_EVENTS.includes(type)) {
      const summary = this.graphics.get(data.graphic_id);
      if (summary) {
        this.graphics.set(
          data.graphic_id,
          graphicAfterAirEvent(summary, type, data, { summary: true }),
        );
      }
      return;
    }
    if (type === "standings_update") {
      // The list draws no canvas: its copy (standings without tables) only says that a
      // graphic's lists redrew, which the `change` event tells the page.
      return;
    }
    if (type === "lock_status") {
      const summary = this.graphics.get(data.graphic_id);
      if (summary) this.graphics.set(data.graphic_id, { ...summary, lock: lockOf(data) });
    } else if (data.action === "deleted") {
      this.graphics.delete(data.id);
      this.presenceCounts.delete(data.id);
    } else {
      const lock = this.graphics.get(data.id)?.lock ?? FREE_LOCK;
      this.graphics.set(data.id, afterUpdate({ ...data.payload, lock }, data));
    }
  }

  _applyToGraphic(type, data) {
    if (AIR_EVENTS.includes(type)) {
      this.graphic = graphicAfterAirEvent(this.graphic, type, data);
    } else if (type === "lock_status") {
      this.lock = lockOf(data);
    } else if (type === "standings_update") {
      // Each event carries the whole document: it replaces the copy (a state, not a delta).
      this.standings = data.standings ?? null;
    } else if (data.action === "deleted") {
      this.deleted = true;
      this.graphic = null;
      this.standings = null;
    } else {
      // A view key's copy while its graphic is off air has no canvas: nothing on air to patch
      // (the next take brings the whole graphic), so a patch is no reason for a snapshot.
      if (this.graphic && !("data" in this.graphic) && !("payload" in data)) return undefined;
      try {
        if (this.graphic === null && !("payload" in data)) throw new Error("no copy to patch");
        if (addedOrderLost(this.graphic, data)) throw new Error("the added elements' order");
        this.graphic = afterUpdate(graphicApplyEvent(this.graphic, data), data);
      } catch {
        // A version gap (or a patch this copy cannot take): keep showing the last whole
        // state and ask for a fresh one, never a half-applied graphic.
        this._resync = true;
        return RESYNC;
      }
    }
    return undefined;
  }

  /** A `user_activity` (graphic) or `presence_counts` ("all") frame. */
  _applyPresence(frame) {
    const data = frame.data ?? {};
    if (frame.type === "presence_counts" && this.key === ALL) {
      if (data.viewing || data.editing) {
        this.presenceCounts.set(data.graphic_id, { viewing: data.viewing, editing: data.editing });
      } else {
        this.presenceCounts.delete(data.graphic_id);
      }
    } else if (frame.type === "user_activity" && this.key !== ALL) {
      const empty = { viewing: 0, editing: 0, truncated: false, users: [] };
      this.presence = presenceAfter(this.presence ?? empty, data);
    } else {
      return;
    }
    this._dispatch("presence", frame);
  }
}


/**
 * De-duplication by `seq`, per subscription.
 *
 * Events of one subscription arrive in seq order with no duplicate on one connection, but a
 * client sees some twice across a reconnect or a switch between the WebSocket and polling (a
 * replay starting at the last seq it had, a poll answering what the socket already delivered).
 * The protocol says to de-duplicate by (subscription, seq); this is that bookkeeping.
 */

/** The last seq applied for each subscription key ("all" or a graphic id). */
export class SeqTracker {
  constructor() {
    /** @type {Map<string|number, number>} */
    this._last = new Map();
  }

  /**
   * Record `seq` for `key` if it is newer than the last one.
   * @param {string|number} key
   * @param {number} seq
   * @returns {boolean} true the first time a seq greater than the last is seen (apply the
   *   event); false for a duplicate or an older seq (drop it)
   */
  accept(key, seq) {
    const last = this._last.get(key);
    if (last !== undefined && seq <= last) return false;
    this._last.set(key, seq);
    return true;
  }

  /**
   * @param {string|number} key
   * @returns {number|null} the last seq applied for `key`, or null before any
   */
  last(key) {
    return this._last.get(key) ?? null;
  }

  /**
   * Start `key` again from `seq` (a snapshot's seq), whatever came before; null forgets it.
   * @param {string|number} key
   * @param {number|null} seq
   */
  reset(key, seq) {
    if (seq === null || seq === undefined) this._last.delete(key);
    else this._last.set(key, seq);
  }
}

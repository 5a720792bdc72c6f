/**
 * Reconnect delays: exponential backoff with full jitter.
 *
 * Every browser of a broadcast desk reconnects when a server restarts. Waiting a random time
 * between 0 and the exponential bound ("full jitter") spreads those reconnects over the whole
 * window instead of sending them back in synchronised waves, and the cap keeps a client that
 * has been away for long from waiting minutes once the server is back.
 */

/**
 * The delay, in milliseconds, before retry number `attempt` (0 = the first retry):
 * `random() * min(cap, base * 2 ** attempt)`.
 *
 * @param {number} attempt consecutive failed attempts so far (0 for the first retry)
 * @param {{base?: number, cap?: number, random?: () => number}} [options]
 *   `base` (ms, default 500), `cap` (ms, default 20000), `random` (default Math.random)
 * @returns {number} a delay in [0, min(cap, base * 2 ** attempt))
 */
export function backoffDelay(attempt, { base = 500, cap = 20000, random = Math.random } = {}) {
  // 2 ** 1100 is Infinity, which min() turns into cap: no overflow to worry about.
  const bound = Math.min(cap, base * 2 ** Math.max(0, attempt));
  return random() * bound;
}

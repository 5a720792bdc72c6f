// Reconnect delays (realtime/static/realtime/backoff.js): full jitter under an exponential,
// capped bound.
import assert from "node:assert/strict";
import { test } from "node:test";

import { backoffDelay } from "../../realtime/static/realtime/backoff.js";

const highest = () => 0.999999;

test("the first retry waits between 0 and base", () => {
  assert.equal(backoffDelay(0, { random: () => 0 }), 0);
  const delay = backoffDelay(0, { random: highest });
  assert.ok(delay > 499 && delay < 500, `${delay}`);
});

test("full jitter: the delay is random() times the bound, anywhere in [0, bound)", () => {
  assert.equal(backoffDelay(3, { base: 100, random: () => 0.25 }), 200); // 0.25 * 800
  for (let sample = 0; sample < 200; sample += 1) {
    const delay = backoffDelay(4); // Math.random, 500 ms base: bound 8000 ms
    assert.ok(delay >= 0 && delay < 8000, `${delay}`);
  }
});

test("the bound doubles with each attempt", () => {
  const bounds = [0, 1, 2, 3].map((attempt) => backoffDelay(attempt, { random: () => 1 }));
  assert.deepEqual(bounds, [500, 1000, 2000, 4000]);
});

test("the bound stops at cap, however many attempts failed", () => {
  assert.equal(backoffDelay(6, { random: () => 1 }), 20000); // 500 * 64 = 32000 > 20000
  assert.equal(backoffDelay(5000, { random: () => 1 }), 20000); // 2 ** 5000 is Infinity
  assert.equal(backoffDelay(3, { base: 1000, cap: 5000, random: () => 1 }), 5000);
});

test("defaults are base 500 ms and cap 20 s", () => {
  assert.equal(backoffDelay(1, { random: () => 1 }), 1000);
  assert.equal(backoffDelay(10, { random: () => 1 }), 20000);
});

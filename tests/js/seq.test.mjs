// De-duplication by seq (realtime/static/realtime/seq.js).
import assert from "node:assert/strict";
import { test } from "node:test";

import { SeqTracker } from "../../realtime/static/realtime/seq.js";

test("a newer seq is accepted once; a duplicate or an older one is not", () => {
  const seqs = new SeqTracker();
  assert.equal(seqs.last(7), null);
  assert.equal(seqs.accept(7, 100), true);
  assert.equal(seqs.accept(7, 100), false);
  assert.equal(seqs.accept(7, 99), false);
  assert.equal(seqs.accept(7, 105), true); // seqs may have gaps (rolled-back transactions)
  assert.equal(seqs.last(7), 105);
});

test("each subscription key counts on its own", () => {
  const seqs = new SeqTracker();
  assert.equal(seqs.accept(7, 100), true);
  assert.equal(seqs.accept("all", 100), true); // the same event, once per subscription
  assert.equal(seqs.accept(8, 50), true);
  assert.deepEqual([seqs.last(7), seqs.last("all"), seqs.last(8)], [100, 100, 50]);
});

test("reset starts a key again from a snapshot's seq, lower or higher", () => {
  const seqs = new SeqTracker();
  seqs.accept(7, 100);
  seqs.reset(7, 90);
  assert.equal(seqs.last(7), 90);
  assert.equal(seqs.accept(7, 95), true);
  seqs.reset(7, 200);
  assert.equal(seqs.accept(7, 150), false);
  seqs.reset(7, null);
  assert.equal(seqs.last(7), null);
  assert.equal(seqs.accept(7, 1), true);
});

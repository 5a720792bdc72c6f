// The editor page's state machine (dashboard/static/dashboard/editor-state.js): every event in
// every state, the refused ones included, since a refused event is how the page ignores a
// click or an answer that no longer applies.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  AIR, EDITS, INITIAL, LOCK, airBusy, canTake, hasUnsavedChanges, heldToken, isSaving,
  programToFetch, transition,
} from "../../dashboard/static/dashboard/editor-state.js";

const state = (
  lock,
  { token = null, edits = EDITS.CLEAN, triedOnOpen = false, air = AIR.IDLE, program = null } = {},
) => ({
  lock, token, edits, triedOnOpen, air, program,
});
// A token for each lock state as the page reaches it: held in editing, set aside in releasing.
const TOKENS = { viewing: null, acquiring: null, editing: 7, releasing: 7, lock_lost: null };
const inLock = (lock, options = {}) => state(lock, { token: TOKENS[lock], ...options });
const ALL_LOCKS = Object.values(LOCK);
const ALL_EDITS = Object.values(EDITS);

/** Check `event` in every lock state: `expected[lock]` is [lock, token] after it, or null. */
function checkLockEvent(event, expected) {
  for (const lock of ALL_LOCKS) {
    assert.ok(lock in expected, `the table misses ${lock} for ${event.type}`);
    for (const edits of ALL_EDITS) {
      const before = inLock(lock, { edits });
      const after = transition(before, event);
      const want = expected[lock];
      if (want === null) {
        assert.equal(after, null, `${event.type} must be refused in ${lock}/${edits}`);
      } else {
        assert.deepEqual(
          after, { ...before, lock: want[0], token: want[1] }, `${event.type} in ${lock}/${edits}`,
        );
      }
    }
  }
}

test("the page opens viewing, with nothing to save and its one lock attempt not made", () => {
  assert.deepEqual(INITIAL, state(LOCK.VIEWING));
  assert.ok(Object.isFrozen(INITIAL));
  assert.equal(heldToken(INITIAL), null);
  assert.equal(hasUnsavedChanges(INITIAL), false);
  assert.equal(isSaving(INITIAL), false);
});

test("open_free counts once, whatever the lock or the edits", () => {
  for (const lock of ALL_LOCKS) {
    for (const edits of ALL_EDITS) {
      const before = inLock(lock, { edits });
      assert.deepEqual(transition(before, { type: "open_free" }), { ...before, triedOnOpen: true });
      assert.equal(transition({ ...before, triedOnOpen: true }, { type: "open_free" }), null);
    }
  }
});

test("acquire starts from viewing or lock_lost only, one request at a time", () => {
  checkLockEvent({ type: "acquire" }, {
    viewing: [LOCK.ACQUIRING, null],
    lock_lost: [LOCK.ACQUIRING, null],
    acquiring: null,
    editing: null,
    releasing: null,
  });
});

test("acquired makes the page the holder of its token; only an acquire on its way hears it", () => {
  checkLockEvent({ type: "acquired", token: 9 }, {
    acquiring: [LOCK.EDITING, 9],
    viewing: null,
    editing: null, // a force unlock with take-over answered first: its token stands
    releasing: null,
    lock_lost: null,
  });
});

test("acquire_failed goes back to viewing", () => {
  checkLockEvent({ type: "acquire_failed" }, {
    acquiring: [LOCK.VIEWING, null],
    viewing: null,
    editing: null,
    releasing: null,
    lock_lost: null,
  });
});

test("taken_over (force unlock, take the lock myself) edits under the override's token", () => {
  checkLockEvent({ type: "taken_over", token: 12 }, {
    viewing: [LOCK.EDITING, 12],
    acquiring: [LOCK.EDITING, 12],
    lock_lost: [LOCK.EDITING, 12],
    editing: null,
    releasing: null,
  });
});

test("release sets the token aside; released forgets it, release_failed restores it", () => {
  checkLockEvent({ type: "release" }, {
    editing: [LOCK.RELEASING, 7],
    viewing: null,
    acquiring: null,
    releasing: null,
    lock_lost: null,
  });
  checkLockEvent({ type: "released" }, {
    releasing: [LOCK.VIEWING, null],
    viewing: null,
    acquiring: null,
    editing: null,
    lock_lost: null,
  });
  checkLockEvent({ type: "release_failed" }, {
    releasing: [LOCK.EDITING, 7],
    viewing: null,
    acquiring: null,
    editing: null,
    lock_lost: null,
  });
});

test("lock_lost ends the term of this page's token, not another tab's nor one given back", () => {
  checkLockEvent({ type: "lock_lost", token: 7 }, {
    editing: [LOCK.LOCK_LOST, null],
    viewing: null,
    acquiring: null,
    releasing: null,
    lock_lost: null,
  });
  assert.equal(transition(inLock(LOCK.EDITING), { type: "lock_lost", token: 8 }), null);
});

test("losing the lock keeps the unsaved changes, and a save on its way", () => {
  for (const edits of ALL_EDITS) {
    const after = transition(inLock(LOCK.EDITING, { edits }), { type: "lock_lost", token: 7 });
    assert.equal(after.edits, edits);
  }
});

test("heldToken is the token only while editing: releasing has set it aside", () => {
  for (const lock of ALL_LOCKS) {
    assert.equal(heldToken(inLock(lock)), lock === LOCK.EDITING ? 7 : null, lock);
  }
});

/** `expected[edits]` is the edits state after `event` while editing, or null when refused. */
function checkEditsEvent(event, expected, { needsLock }) {
  for (const lock of ALL_LOCKS) {
    for (const edits of ALL_EDITS) {
      const before = inLock(lock, { edits });
      const after = transition(before, event);
      const want = needsLock && lock !== LOCK.EDITING ? null : expected[edits];
      if (want === null) assert.equal(after, null, `${event.type} must be refused in ${lock}/${edits}`);
      else assert.deepEqual(after, { ...before, edits: want }, `${event.type} in ${lock}/${edits}`);
    }
  }
}

test("edit makes the copy dirty while the page holds the lock; a save on its way stays saving", () => {
  checkEditsEvent({ type: "edit" }, {
    clean: EDITS.DIRTY, dirty: EDITS.DIRTY, saving: EDITS.SAVING,
  }, { needsLock: true });
});

test("save sends dirty changes under the lock, one save at a time", () => {
  checkEditsEvent({ type: "save" }, { clean: null, dirty: EDITS.SAVING, saving: null }, { needsLock: true });
});

test("nothing_to_save: changes that cancel out leave the copy clean without a request", () => {
  checkEditsEvent({ type: "nothing_to_save" }, { clean: null, dirty: EDITS.CLEAN, saving: null }, {
    needsLock: true,
  });
});

test("a save's answer is heard whatever happened to the lock meanwhile", () => {
  checkEditsEvent({ type: "saved" }, { clean: null, dirty: null, saving: EDITS.CLEAN }, { needsLock: false });
  checkEditsEvent({ type: "save_failed" }, { clean: null, dirty: null, saving: EDITS.DIRTY }, {
    needsLock: false,
  });
});

test("unsaved and saving, as the panel shows them", () => {
  assert.equal(hasUnsavedChanges(inLock(LOCK.EDITING, { edits: EDITS.DIRTY })), true);
  assert.equal(hasUnsavedChanges(inLock(LOCK.EDITING, { edits: EDITS.SAVING })), true);
  assert.equal(isSaving(inLock(LOCK.EDITING, { edits: EDITS.SAVING })), true);
  assert.equal(isSaving(inLock(LOCK.EDITING, { edits: EDITS.DIRTY })), false);
});

test("unknown events are refused, and states are never changed in place", () => {
  assert.equal(transition(INITIAL, { type: "teleport" }), null);
  const before = inLock(LOCK.EDITING, { edits: EDITS.DIRTY });
  const copy = { ...before };
  const after = transition(before, { type: "save" });
  assert.deepEqual(before, copy);
  assert.ok(Object.isFrozen(after));
});

test("a whole session: open, edit, save, lose the lock to an override, take it back, stop", () => {
  const steps = [
    [{ type: "open_free" }, LOCK.VIEWING, EDITS.CLEAN],
    [{ type: "acquire" }, LOCK.ACQUIRING, EDITS.CLEAN],
    [{ type: "acquired", token: 3 }, LOCK.EDITING, EDITS.CLEAN],
    [{ type: "edit" }, LOCK.EDITING, EDITS.DIRTY],
    [{ type: "save" }, LOCK.EDITING, EDITS.SAVING],
    [{ type: "saved" }, LOCK.EDITING, EDITS.CLEAN],
    [{ type: "edit" }, LOCK.EDITING, EDITS.DIRTY],
    [{ type: "lock_lost", token: 3 }, LOCK.LOCK_LOST, EDITS.DIRTY],
    [{ type: "acquire" }, LOCK.ACQUIRING, EDITS.DIRTY],
    [{ type: "acquired", token: 4 }, LOCK.EDITING, EDITS.DIRTY],
    [{ type: "save" }, LOCK.EDITING, EDITS.SAVING],
    [{ type: "save_failed" }, LOCK.EDITING, EDITS.DIRTY],
    [{ type: "release" }, LOCK.RELEASING, EDITS.DIRTY],
    [{ type: "released" }, LOCK.VIEWING, EDITS.DIRTY],
  ];
  let current = INITIAL;
  for (const [event, lock, edits] of steps) {
    current = transition(current, event);
    assert.ok(current, `${event.type} refused`);
    assert.equal(current.lock, lock, event.type);
    assert.equal(current.edits, edits, event.type);
  }
  assert.equal(heldToken(current), null);
  assert.equal(current.triedOnOpen, true);
});

// -- on air: one request at a time; Take (and live on) only with nothing unsaved ----------------

const ALL_AIR = Object.values(AIR);

/** Check `event` in every air state and edits state: `expected(air, edits)` is the air after
 * it, or null when refused. The lock region never changes: the server judges the lock. */
function checkAirEvent(event, expected) {
  for (const lock of ALL_LOCKS) {
    for (const air of ALL_AIR) {
      for (const edits of ALL_EDITS) {
        const before = inLock(lock, { edits, air });
        const after = transition(before, event);
        const want = expected(air, edits);
        if (want === null) {
          assert.equal(after, null, `${JSON.stringify(event)} must be refused in ${air}/${edits}`);
        } else {
          assert.deepEqual(after, { ...before, air: want }, `${JSON.stringify(event)} in ${air}/${edits}`);
        }
      }
    }
  }
}

test("the page opens with no on-air request and no program wanted", () => {
  assert.equal(INITIAL.air, AIR.IDLE);
  assert.equal(INITIAL.program, null);
  assert.equal(airBusy(INITIAL), false);
  assert.equal(canTake(INITIAL), true);
  assert.equal(programToFetch(INITIAL), null);
});

test("take: only when idle and nothing is unsaved (Take puts the saved version on air)", () => {
  checkAirEvent({ type: "take" }, (air, edits) => (air === AIR.IDLE && edits === EDITS.CLEAN ? AIR.TAKING : null));
});

test("clear: whenever idle, unsaved changes or not", () => {
  checkAirEvent({ type: "clear" }, (air) => (air === AIR.IDLE ? AIR.CLEARING : null));
});

test("set_live: on needs nothing unsaved, like a take; off only needs idle", () => {
  checkAirEvent({ type: "set_live", live: true }, (air, edits) => (
    air === AIR.IDLE && edits === EDITS.CLEAN ? AIR.SWITCHING : null
  ));
  checkAirEvent({ type: "set_live", live: false }, (air) => (air === AIR.IDLE ? AIR.SWITCHING : null));
});

test("air_done and air_failed end whichever request was on its way; idle refuses them", () => {
  for (const type of ["air_done", "air_failed"]) {
    checkAirEvent({ type }, (air) => (air === AIR.IDLE ? null : AIR.IDLE));
  }
});

test("a take on its way does not stop editing, and a save does not stop a clear", () => {
  let current = transition(inLock(LOCK.EDITING), { type: "take" });
  current = transition(current, { type: "edit" });
  assert.deepEqual([current.air, current.edits], [AIR.TAKING, EDITS.DIRTY]);
  assert.equal(transition(current, { type: "take" }), null, "one take at a time");
  current = transition(current, { type: "air_done" });
  assert.equal(transition(current, { type: "take" }), null, "now there are unsaved changes");
  current = transition(current, { type: "clear" });
  current = transition(current, { type: "save" });
  assert.deepEqual([current.air, current.edits], [AIR.CLEARING, EDITS.SAVING]);
});

test("program: wanted, fetched once, a late answer for another version dropped", () => {
  let current = transition(INITIAL, { type: "program_wanted", version: 3 });
  assert.deepEqual(current.program, { version: 3, loaded: false });
  assert.equal(programToFetch(current), 3);
  assert.equal(transition(current, { type: "program_wanted", version: 3 }), null, "already wanted");

  current = transition(current, { type: "program_wanted", version: 4 }); // a take meanwhile
  assert.equal(transition(current, { type: "program_loaded", version: 3 }), null, "too late");
  current = transition(current, { type: "program_loaded", version: 4 });
  assert.deepEqual(current.program, { version: 4, loaded: true });
  assert.equal(programToFetch(current), null);
  assert.equal(transition(current, { type: "program_loaded", version: 4 }), null, "once");
  assert.equal(transition(current, { type: "program_wanted", version: 4 }), null, "held");

  const failed = transition(transition(current, { type: "program_wanted", version: 5 }), {
    type: "program_failed", version: 5,
  });
  assert.equal(failed.program, null, "forgotten, so that the next want fetches again");
  assert.equal(transition(current, { type: "program_failed", version: 9 }), null);

  const none = transition(current, { type: "program_wanted", version: null });
  assert.equal(none.program, null, "nothing on air and never taken: nothing to show");
  assert.equal(transition(none, { type: "program_wanted", version: null }), null);
});

/**
 * The editor page's state machine (dashboard/static/dashboard/editor.js), pure so that node can
 * test every transition.
 *
 * The page's state has two regions, because a save may still be in flight when the lock goes
 * (a lock admin's override, an expiry, "Stop editing" clicked during a save):
 *
 * - `lock`, this page's term on the graphic's lock:
 *   viewing → acquiring → editing → releasing → viewing, and editing → lock_lost when the
 *   server ends the term. `token` is the fencing token of the lock this page took. Another tab
 *   of the same user holds a different token, so it never counts as this page's lock.
 * - `edits`, the working copy: clean → dirty → saving → clean (or back to dirty when the save
 *   fails).
 * - `air`, this page's on-air request: idle → taking | clearing | switching (the live switch)
 *   → idle. One at a time: a second press of Take while the first is on its way sends
 *   nothing. Take, and turning live on, put the *saved* current version on air, so they are
 *   refused while there are unsaved changes (the page says "save first"); Clear is always
 *   allowed, since an operator must always be able to pull a graphic off air.
 * - `program`, the program version the page shows beside the draft: `{version, loaded}` while
 *   its content is fetched (GET history/<version>/) and once it is in, so a late answer for a
 *   version no longer on air is dropped; null when nothing is wanted.
 *
 * Whether the page may edit right now also depends on live data this module does not see (the
 * lock in the subscription must be live and carry `token`, the graphic must not be archived):
 * editor.js checks that before it sends `edit` or `save`, and `heldToken()` gives it the token
 * to compare. `transition()` returns null for an event the state refuses; the caller then does
 * nothing, which is what the page did before these states had names.
 */

export const LOCK = Object.freeze({
  VIEWING: "viewing", // no lock of this page's, no request on its way
  ACQUIRING: "acquiring", // POST lock/ on its way
  EDITING: "editing", // this page holds the lock whose fencing token is `token`
  RELEASING: "releasing", // DELETE lock/ on its way; `token` is kept to restore if it fails
  LOCK_LOST: "lock_lost", // the server ended this page's term (expired or overridden)
});

export const AIR = Object.freeze({
  IDLE: "idle", // no on-air request on its way
  TAKING: "taking", // POST take/ on its way
  CLEARING: "clearing", // POST clear/ on its way
  SWITCHING: "switching", // POST live/ on its way
});

export const EDITS = Object.freeze({
  CLEAN: "clean", // the working copy is the graphic as the server has it
  DIRTY: "dirty", // unsaved changes, kept until saved, whatever happens to the lock
  SAVING: "saving", // PATCH on its way; still unsaved until it answers
});

/** The page as it opens: looking, nothing changed, the one lock attempt on opening not made. */
export const INITIAL = Object.freeze({
  lock: LOCK.VIEWING, token: null, edits: EDITS.CLEAN, triedOnOpen: false,
  air: AIR.IDLE, program: null,
});

/**
 * The fencing token this page holds, or null: in `releasing` the token is set aside, so
 * notices about it (lock_expiring, lock_lost) are no longer this page's.
 * @param {typeof INITIAL} state
 * @returns {number|null}
 */
export function heldToken(state) {
  return state.lock === LOCK.EDITING ? state.token : null;
}

/** True while the working copy differs from the server's (a save in flight included). */
export function hasUnsavedChanges(state) {
  return state.edits !== EDITS.CLEAN;
}

export function isSaving(state) {
  return state.edits === EDITS.SAVING;
}

/** True while an on-air request (take, clear, live) is on its way. */
export function airBusy(state) {
  return state.air !== AIR.IDLE;
}

/** True when Take (or turning live on) may be sent now: nothing unsaved, no request on its way. */
export function canTake(state) {
  return state.air === AIR.IDLE && state.edits === EDITS.CLEAN;
}

/** The program version whose content the page should fetch now, or null. */
export function programToFetch(state) {
  return state.program && !state.program.loaded ? state.program.version : null;
}

const withLock = (state, lock, token) => Object.freeze({ ...state, lock, token });
const withEdits = (state, edits) => Object.freeze({ ...state, edits });
const withAir = (state, air) => Object.freeze({ ...state, air });
const withProgram = (state, program) => Object.freeze({ ...state, program });

/**
 * The state after `event`, or null when `state` refuses it.
 *
 * Events:
 * - `open_free`: a snapshot found the graphic free and editable by this user. Only the first
 *   counts: the page takes the lock once when it opens; later the user decides.
 * - `acquire`: take the lock (the button, the banner's "Take the lock", `open_free`).
 * - `acquired` {token} / `acquire_failed`: the answer to `acquire`.
 * - `taken_over` {token}: this user's force unlock with "take the lock myself" succeeded.
 * - `release`: "Stop editing". `released` / `release_failed`: its answer.
 * - `lock_lost` {token}: the server ended the term of the lock with `token`.
 * - `edit`: the user changed the working copy.
 * - `save`: send the changes. `saved` / `save_failed`: its answer. `nothing_to_save`: the
 *   changes cancel out (no patch), so the copy is clean without a request.
 * - `take`, `clear`, `set_live` {live}: send an on-air request. `air_done` / `air_failed`:
 *   its answer, whichever it was.
 * - `program_wanted` {version}: the program on air is `version` (null: none); its content is
 *   to be fetched unless it is the one held. `program_loaded` / `program_failed` {version}:
 *   the fetch's answer, taken only for the version still wanted.
 *
 * @param {typeof INITIAL} state
 * @param {{type: string, token?: number}} event
 * @returns {typeof INITIAL|null}
 */
export function transition(state, event) {
  const { lock, edits } = state;
  switch (event.type) {
    case "open_free":
      return state.triedOnOpen ? null : Object.freeze({ ...state, triedOnOpen: true });
    case "acquire":
      // One request at a time: while one is on its way its answer decides; a page that holds
      // the lock, or is giving it back, has nothing to take.
      return lock === LOCK.VIEWING || lock === LOCK.LOCK_LOST ? withLock(state, LOCK.ACQUIRING, null) : null;
    case "acquired":
      return lock === LOCK.ACQUIRING ? withLock(state, LOCK.EDITING, event.token) : null;
    case "acquire_failed":
      return lock === LOCK.ACQUIRING ? withLock(state, LOCK.VIEWING, null) : null;
    case "taken_over":
      // Force unlock is offered while someone else holds the lock, so this page holds none;
      // an acquire still on its way then loses to the override's token (it answers a conflict).
      return lock === LOCK.EDITING || lock === LOCK.RELEASING ? null : withLock(state, LOCK.EDITING, event.token);
    case "release":
      return lock === LOCK.EDITING ? withLock(state, LOCK.RELEASING, state.token) : null;
    case "released":
      return lock === LOCK.RELEASING ? withLock(state, LOCK.VIEWING, null) : null;
    case "release_failed":
      return lock === LOCK.RELEASING ? withLock(state, LOCK.EDITING, state.token) : null;
    case "lock_lost":
      // Only the term this page holds: another tab's token, or one already given back, is not
      // this page's to lose.
      return lock === LOCK.EDITING && event.token === state.token ? withLock(state, LOCK.LOCK_LOST, null) : null;
    case "edit":
      // Editing during a save leaves it saving: the save's answer decides what is clean.
      return lock === LOCK.EDITING ? withEdits(state, edits === EDITS.SAVING ? EDITS.SAVING : EDITS.DIRTY) : null;
    case "save":
      return lock === LOCK.EDITING && edits === EDITS.DIRTY ? withEdits(state, EDITS.SAVING) : null;
    case "nothing_to_save":
      return lock === LOCK.EDITING && edits === EDITS.DIRTY ? withEdits(state, EDITS.CLEAN) : null;
    case "saved":
      return edits === EDITS.SAVING ? withEdits(state, EDITS.CLEAN) : null;
    case "save_failed":
      return edits === EDITS.SAVING ? withEdits(state, EDITS.DIRTY) : null;
    case "take":
      return canTake(state) ? withAir(state, AIR.TAKING) : null;
    case "clear":
      return state.air === AIR.IDLE ? withAir(state, AIR.CLEARING) : null;
    case "set_live":
      // Live on puts the saved version on air at once, like a take; live off changes no picture.
      return (event.live ? canTake(state) : state.air === AIR.IDLE) ? withAir(state, AIR.SWITCHING) : null;
    case "air_done":
    case "air_failed":
      return state.air !== AIR.IDLE ? withAir(state, AIR.IDLE) : null;
    case "program_wanted": {
      const version = event.version ?? null;
      if (version === null) return state.program === null ? null : withProgram(state, null);
      if (state.program && state.program.version === version) return null;
      return withProgram(state, Object.freeze({ version, loaded: false }));
    }
    case "program_loaded":
      return state.program && !state.program.loaded && state.program.version === event.version
        ? withProgram(state, Object.freeze({ version: event.version, loaded: true }))
        : null;
    case "program_failed":
      // Forget it, so the next program_wanted for it fetches again.
      return state.program && state.program.version === event.version ? withProgram(state, null) : null;
    default:
      return null;
  }
}

/**
 * The commit point, as the command sees it. A run that writes plans everything first, then
 * commits its journal; from that moment its changes are made, by this run or, if it dies, by
 * the next (docs/JOURNAL.md). The library never handles a signal and never exits, so it offers
 * the command two small hooks for Ctrl-C and SIGTERM:
 *
 * - a run is a generator of steps (`Steps`) that yields once, at its commit point, with
 *   nothing changed yet: the command may go on (`next()`), or stop it (`throw()`), which
 *   unwinds the run as any failure before the commit point does (the uncommitted journal
 *   removed, the lock let go). `finish` runs the steps straight through, for the synchronous
 *   API;
 * - `commitsMade()` counts the journals this process committed, so that the command can tell
 *   "nothing changed" from "finished" when a signal arrives after the run.
 */

/** What a run yields at its commit point. */
export const COMMIT_POINT = 'commit-point';

/** A run that yields at its commit point, and returns its result. */
export type Steps<T> = Generator<typeof COMMIT_POINT, T, void>;

/** Run `steps` to the end, through its commit point. */
export function finish<T>(steps: Steps<T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
  }
}

let committed = 0;

/** Called when a journal is committed: from here on, its changes are made. */
export function markCommitted(): void {
  committed++;
}

/** How many journals this process has committed. */
export function commitsMade(): number {
  return committed;
}

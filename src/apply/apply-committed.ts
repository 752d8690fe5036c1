/** Applying a committed journal in chunks, on one thread or two (see relocate/plan-tree.ts). */
import { openJournalFile } from './recover-journal.js';
import { applyJournal } from './apply-journal.js';
import { VenvToolsError, errnoOf } from '../core/errors.js';
import { JOURNAL_NAME } from './journal-format.js';
import { type ByteString, bytesToUtf8, toBytes } from '../core/path-boundary.js';
import { frames } from './journal-reader.js';

/** Another thread that applies part of a committed journal (see relocate/plan-tree.ts). */
export interface ApplyHelper {
  /** Start applying chunks [bounds[i], bounds[i + 1]) of the committed journal, as claimed. */
  start(bounds: readonly number[]): void;
  /** Claim the next chunk (the counter both threads share). */
  claim(): number;
  /** Records it has applied so far. */
  applied(): number;
  /** Wait until it is done; throws what it failed with. */
  wait(): void;
  /** Tell it to stop after the record it is at, and wait for it. */
  stop(): void;
}

/**
 * Apply chunks of this venv's committed journal, [bounds[i], bounds[i + 1]) for each i that
 * `claim` gives (until one past the last), read back through a 1 MiB window. The journal was
 * written by this process a moment ago and its checksums were just made, so they are not checked
 * again (a recovery checks them all first). `stop` is asked between records.
 */
export function applyCommitted(
  rootAbs: ByteString,
  bounds: readonly number[],
  claim: () => number,
  onProgress: (done: number) => void,
  stop: () => boolean = () => false,
): void {
  const pathBuf = toBytes(`${rootAbs}/${JOURNAL_NAME}`);
  const shown = bytesToUtf8(`${rootAbs}/${JOURNAL_NAME}`);
  const opened = openJournalFile(pathBuf, shown);
  if (opened === undefined) {
    throw new VenvToolsError(
      'JOURNAL',
      `the journal ${shown} vanished before it was applied; nothing was changed. Run venv-tools again.`,
      shown,
    );
  }
  let before = 0;
  let stopped = false;
  const stopNow = () => (stopped ||= stop());
  try {
    for (let i = claim(); i + 1 < bounds.length && !stopped; i = claim()) {
      const where = {
        version: 2 as const,
        bodyStart: bounds[i] as number,
        bodyEnd: bounds[i + 1] as number,
      };
      let done = 0;
      applyJournal(rootAbs, frames(opened, where), (n) => onProgress(before + (done = n)), stopNow);
      before += done;
    }
  } catch (err) {
    if (err instanceof VenvToolsError) throw err;
    throw new VenvToolsError(
      'JOURNAL',
      `cannot read back the journal ${shown}: ${errnoOf(err) ?? (err as Error).message}. The journal is kept: fix the cause, then run venv-tools on this venv again and it finishes the relocation.`,
      shown,
    );
  } finally {
    opened.close();
  }
}

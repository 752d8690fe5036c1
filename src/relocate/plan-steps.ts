/** The steps both planning threads take, each on its own files (plan-tree.ts, plan-worker.ts). */
import { trace } from '../core/trace.js';
import { Planner } from '../plan/planner.js';
import { PathList } from '../scan/path-list.js';
import { FileSearcher } from '../scan/search-files.js';
import { type ByteString } from '../core/path-boundary.js';

/**
 * Claim files from a shared counter one at a time and hand each to `step`; returns how many this
 * thread examined. `stop` is for the worker only: ABORT in the shared array is the main thread's
 * word to the worker, never a reason for the main thread to leave files unclaimed (a run that
 * dropped its worker once skipped every pyc that way, and still said "Updated").
 */
export function claimEach(
  list: PathList,
  ctrl: Int32Array,
  slot: number,
  step: (rel: ByteString) => void,
  between?: () => void,
  stop?: () => boolean,
): number {
  let n = 0;
  for (;;) {
    if (stop !== undefined && stop()) return n;
    const i = Atomics.add(ctrl, slot, 1);
    if (i >= list.length) return n;
    step(list.get(i));
    n++;
    if (between !== undefined && (n & 3) === 0) between();
  }
}

/**
 * Read each RECORD and note which pycs it lists with a hash (only a pyc's hash is made on
 * demand, so this comes before any pyc is planned). `early`: the RECORDs that list none, which
 * can be rewritten as soon as every other file is planned; `late`: those that wait for the pycs.
 */
export function noteRecords(
  records: readonly ByteString[],
  searcher: FileSearcher,
  planner: Planner,
  clock: PhaseClock,
): { early: ByteString[]; late: ByteString[] } {
  const early: ByteString[] = [];
  const late: ByteString[] = [];
  for (const rel of records) {
    const r = clock.read(() => searcher.read(rel, true));
    const waits = r === undefined || clock.plan(() => planner.noteRecord(rel, r.bytes));
    (waits ? late : early).push(rel);
  }
  trace('records noted');
  return { early, late };
}

/** Times reads and planning steps, for the phase report. */
export class PhaseClock {
  tRead = 0;
  tPlan = 0;
  read<T>(f: () => T): T {
    return this.timed('tRead', f);
  }
  plan<T>(f: () => T): T {
    return this.timed('tPlan', f);
  }
  private timed<T>(into: 'tRead' | 'tPlan', f: () => T): T {
    const t = performance.now();
    try {
      return f();
    } finally {
      this[into] += performance.now() - t;
    }
  }
}

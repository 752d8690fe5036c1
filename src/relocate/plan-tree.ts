import { performance } from 'node:perf_hooks';
import { fs } from '../core/fs.js';
import { VenvToolsError } from '../core/errors.js';
import { bytesToUtf8, fromBytes, type ByteString, type Mapping } from '../core/path-boundary.js';
import type { Layout } from '../scan/detect-layout.js';
import { FileSearcher, type LargeBinary } from '../scan/search-files.js';
import { absPath, walkEach } from '../scan/walk-tree.js';
import { trace } from '../core/trace.js';
import { holdUntil, threadMinFiles } from './forced-interleaving.js';
import type { ApplyHelper } from '../apply/apply-committed.js';
import { PathList, PathListBuilder } from '../scan/path-list.js';
import {
  Planner,
  type BinaryHit,
  type DroppedPyc,
  type EditSink,
  type PycPolicy,
} from '../plan/planner.js';
import { probeVenvPython } from '../apply/regenerate-pycs.js';
import { type Warning } from '../core/warning.js';
import { type SpareWorker } from './spawn-worker.js';
import { PhaseClock, claimEach, noteRecords } from './plan-steps.js';
import { FORCED } from './forced-interleaving.js';
import { CTRL, DROPPED, type WorkerInit } from './worker-protocol.js';
import { type WorkerHandle, beginWork } from './spawn-worker.js';
import { CTRL_SLOTS } from './worker-protocol.js';
import { isRegularFile } from '../core/real-path.js';

/** Below this many files a second thread costs more to start than it saves. */
export const THREAD_MIN_FILES = threadMinFiles(process.env, 4000);

/**
 * For the tests: VENV_TOOLS_MAIN_PYCS=0 keeps the main thread out of the pyc pass when a worker
 * plans too, so that every pyc is planned before the .py files are known (see planTree).
 */
const mainPlansPycs = process.env['VENV_TOOLS_MAIN_PYCS'] !== '0';

export interface PlanTreeInput {
  readonly root: ByteString;
  readonly layout: Layout;
  /** Venv-wide mappings (the venv's own first), conditions included. */
  readonly mappings: readonly Mapping[];
  /** The moved-along mapping among them, for a worker thread to rebuild its condition. */
  readonly along: WorkerInit['along'];
  /** Where the moved-along condition keeps its answers (a worker's are merged in). */
  readonly counterparts: Map<ByteString, boolean>;
  readonly needles: readonly Buffer[];
  readonly sink: EditSink;
  /** Takes the frames a worker thread encoded; without it, everything is planned here. */
  readonly frames?: (bytes: Buffer, crcs: number[], changes: Uint8Array) => void;
  /** Threads to plan on: 1, 2, or 'auto' (2 for a venv of THREAD_MIN_FILES files or more). */
  readonly threads: number | 'auto';
  /** A sourceless pyc that cannot be rewritten and names the old path (PycPolicy). */
  readonly sourceless: PycPolicy['sourceless'];
  /**
   * A worker spawned ahead (spawnPlanWorker), booting while the caller checked the venv and
   * this walks it. Without it (or without `frames`), everything is planned on this thread.
   */
  readonly spare?: SpareWorker;
}

export interface PlanTreeResult {
  readonly binaries: BinaryHit[];
  /** Pycs the run removes, or removes and compiles again (every thread's). */
  readonly dropped: DroppedPyc[];
  readonly warnings: Warning[];
  readonly largeBinaries: LargeBinary[];
  readonly stats: { files: number; bytes: number; symlinks: number; dirs: number };
  /** Time spent walking; reading and searching, and planning, summed over the threads. */
  readonly tWalk: number;
  readonly tRead: number;
  readonly tPlan: number;
  readonly threads: number;
  /**
   * The worker, kept to help apply the journal on its thread; the caller lets it go (closes the
   * SpareWorker it passed in) after applying, or when there is nothing to apply.
   */
  readonly helper: ApplyHelper | undefined;
}

function incomplete(what: string): VenvToolsError {
  return new VenvToolsError(
    'INCOMPLETE',
    `planning did not account for every file: ${what}. This is a bug in venv-tools. Nothing was changed; run again (VENV_TOOLS_THREADS=1 plans on one thread) and please report it.`,
  );
}

/**
 * Before the commit point: every file the walk listed was examined by one thread or the other,
 * and every RECORD was noted. Counts suffice: each index of a list is handed out once, by one
 * atomic counter, so the examined counts add up to the list's length exactly when none was
 * skipped.
 */
function checkComplete(lists: Record<string, [examined: number, listed: number]>): void {
  for (const [name, [examined, listed]] of Object.entries(lists)) {
    if (examined !== listed) throw incomplete(`${name}: ${examined} of ${listed} examined`);
  }
}

/** The pycs whose source .py the planner has new content for. */
function pycsOfNewSources(pycs: PathList, planner: Planner, between: () => void): ByteString[] {
  const out: ByteString[] = [];
  if (planner.sources().length === 0) return out;
  for (let i = 0; i < pycs.length; i++) {
    const rel = pycs.get(i);
    if (planner.followsSource(rel)) out.push(rel);
    if ((i & 255) === 255) between();
  }
  return out;
}

/** The walk's lists: packed as they are listed, so that no array of every entry is ever held. */
interface TreeLists {
  readonly records: ByteString[];
  readonly symlinks: ByteString[];
  readonly others: PathList;
  readonly pycs: PathList;
  readonly dirs: number;
  readonly files: number;
}

/** Walk the venv into the lists the planning passes take. */
function listTree(root: ByteString): TreeLists {
  const records: ByteString[] = [];
  const symlinks: ByteString[] = [];
  const pycRels = new PathListBuilder();
  const otherRels = new PathListBuilder();
  let dirs = 0;
  let files = 0;
  walkEach(root, (rel, type) => {
    if (type === 'file') {
      files++;
      if (rel.endsWith('.dist-info/RECORD')) records.push(rel);
      else if (rel.endsWith('.pyc') || rel.endsWith('.pyo')) pycRels.add(rel);
      else otherRels.add(rel);
    } else if (type === 'dir') dirs++;
    else if (type === 'symlink') symlinks.push(rel);
  });
  return { records, symlinks, others: otherRels.finish(), pycs: pycRels.finish(), dirs, files };
}

/** The symlinks, last: a target that starts with a mapped path moves. */
function planSymlinks(
  root: ByteString,
  symlinks: readonly ByteString[],
  planner: Planner,
  clock: PhaseClock,
): void {
  clock.plan(() => {
    for (const rel of symlinks) {
      let before: ByteString;
      try {
        before = fromBytes(
          fs.readlinkSync(absPath(root, rel), { encoding: 'buffer' }) as unknown as Buffer,
        );
      } catch {
        continue; // vanished since the walk
      }
      planner.symlink(rel, before);
    }
  });
}

/**
 * Hand the spare worker its work when the run takes two threads (asked for, or `auto` on a venv
 * of THREAD_MIN_FILES files or more); otherwise let it go.
 */
function startWorker(
  input: PlanTreeInput,
  lists: Pick<TreeLists, 'records' | 'others' | 'pycs' | 'files'>,
): WorkerHandle | undefined {
  const two = input.threads === 'auto' ? lists.files >= THREAD_MIN_FILES : input.threads > 1;
  if (input.spare === undefined || input.frames === undefined || !two) {
    input.spare?.close();
    return undefined;
  }
  const { others, pycs } = lists;
  const init: WorkerInit = {
    root: input.root,
    layout: input.layout,
    mappings: input.mappings.map((m) => ({ from: m.from, to: m.to })),
    along: input.along,
    needles: input.needles.map(fromBytes),
    sourceless: input.sourceless,
    records: lists.records,
    others: { bytes: others.bytes, ends: others.ends, length: others.length },
    pycs: { bytes: pycs.bytes, ends: pycs.ends, length: pycs.length },
  };
  return beginWork(input.spare, init, input.frames);
}

/**
 * Plan again the pycs the worker planned before their source .py was known to change. Returns
 * how many it planned, and how many of those must be applied in journal order.
 */
function planAgain(
  pycs: readonly ByteString[],
  planner: Planner,
  searcher: FileSearcher,
  clock: PhaseClock,
): { fixed: number; inOrder: number } {
  let fixed = 0;
  let inOrder = 0;
  for (const rel of pycs) {
    if (!planner.needsAgain(rel)) continue; // this thread planned it with its new source
    const r = clock.read(() => searcher.readAgain(rel));
    if (r === undefined) continue;
    const planned = clock.plan(() => planner.pycAgain(rel, r.bytes, r.stat));
    if (planned === undefined) continue;
    fixed++;
    if (planned === 'remove' || r.stat.nlink > 1) inOrder++;
  }
  return { fixed, inOrder };
}

/** Files that hold the old path and got no edit: a rewriter missed them. */
function missedFiles(missed: readonly ByteString[]): VenvToolsError {
  const shown = missed.slice(0, 5).map(bytesToUtf8);
  const one = missed.length === 1;
  return new VenvToolsError(
    'INCOMPLETE',
    `${shown.join(', ')}${missed.length > 5 ? ` and ${missed.length - 5} more` : ''}: ${one ? 'holds' : 'hold'} the old path, but no rewrite was planned for ${one ? 'it' : 'them'}. This is a bug in venv-tools. Nothing was changed; please report it, with the file.`,
    shown[0],
  );
}

/**
 * Read every file once and plan it (the scan -> plan step of docs/ARCHITECTURE.md), in the orders
 * the Planner needs: RECORDs noted first, then the other files, then the pycs, then the RECORDs
 * rewritten and the symlinks. With two threads, a worker notes the RECORDs and plans the pycs while
 * this thread plans the other files; each then helps with the other's list, claiming files from the
 * same shared counters. The worker encodes its edits as journal frames and hands them over in
 * batches. Its pycs are planned before the .py files are known, so those of a .py this run rewrites
 * are planned again at the end (Planner.pycAgain).
 */
export function planTree(input: PlanTreeInput): PlanTreeResult {
  const { root } = input;
  trace('walk');
  const t0 = performance.now();
  const { records, symlinks, others, pycs, dirs, files } = listTree(root);
  const tWalk = performance.now() - t0;
  trace('walked');
  const planner = new Planner(
    input.layout,
    input.mappings,
    (rel) => isRegularFile(root, rel),
    input.sink,
    { compiler: () => probeVenvPython(root), sourceless: input.sourceless },
  );
  const searcher = new FileSearcher(root, input.needles);
  const clock = new PhaseClock();

  let worker = startWorker(input, { records, others, pycs, files });
  const ctrl = worker?.ctrl ?? new Int32Array(new SharedArrayBuffer(4 * CTRL_SLOTS));
  // What each thread examined, and what the worker journaled, to prove before the commit point
  // that no file went unplanned (checkComplete).
  let mainOthers = 0;
  let mainPycs = 0;
  let workerOthers = 0;
  let workerPycs = 0;
  let recordsNoted = 0;
  let tRead = 0;
  let tPlan = 0;
  let filesRead = 0;
  let bytesRead = 0;
  const largeBinaries: LargeBinary[] = [];
  let earlyRecords: ByteString[] = [];
  let lateRecords: ByteString[] = [];
  // While the worker still plans, its batches are written between two RECORDs, lest it wait.
  const planRecords = (list: readonly ByteString[], between = () => {}) => {
    for (const rel of list) {
      const r = clock.read(() => searcher.readAgain(rel));
      if (r !== undefined) clock.plan(() => planner.record(rel, r.bytes, r.stat));
      between();
    }
  };
  const noteHere = () => {
    ({ early: earlyRecords, late: lateRecords } = noteRecords(records, searcher, planner, clock));
    recordsNoted = earlyRecords.length + lateRecords.length;
  };
  let fixed = 0;
  // Pycs planned again whose two records must be applied in journal order (see below).
  let inOrder = 0;
  try {
    const drain = worker?.drain ?? (() => undefined);
    // With a worker, it notes the RECORDs and then plans the pycs while this thread plans the
    // other files: each thread's isolate then compiles and warms up the code of one pass only.
    if (worker === undefined) noteHere();
    if (worker !== undefined && (FORCED === 'early' || FORCED === 'stall')) {
      holdUntil(() => Atomics.load(ctrl, CTRL.started) !== 0, drain);
      trace('held: the worker began before the first pass');
    }
    let held = FORCED !== 'late-records' || worker === undefined;
    mainOthers = claimEach(
      others,
      ctrl,
      CTRL.claimOthers,
      (rel) => {
        const r = clock.read(() => searcher.read(rel));
        if (r !== undefined) clock.plan(() => planner.file(rel, r.bytes, r.stat));
        if (!held) {
          held = true;
          holdUntil(
            () =>
              Atomics.load(ctrl, CTRL.othersJoined) === 1 || Atomics.load(ctrl, CTRL.exited) === 1,
            drain,
          );
          trace('held: the worker joined the first pass');
        }
      },
      drain,
    );
    trace(`others planned: ${mainOthers} here`, true);
    searcher.shrink();
    // A worker that has not begun by now (slow to boot, or it failed to) is let go: it has
    // claimed nothing, and this thread does all. It finds that out if it begins later. Two
    // threads asked for by name are waited for (a while: a worker that cannot load never
    // begins), so that they are used even on a small venv.
    if (worker !== undefined && input.threads !== 'auto') {
      Atomics.wait(ctrl, CTRL.started, 0, 30_000);
    }
    if (worker !== undefined && Atomics.compareExchange(ctrl, CTRL.started, 0, DROPPED) === 0) {
      Atomics.notify(ctrl, CTRL.started);
      trace('worker dropped: it had not begun');
      // Its ABORT (close) is for it alone: this thread's claims below never look at it.
      worker.close();
      worker = undefined;
      noteHere();
    } else if (worker !== undefined) {
      trace('worker kept');
    }
    // Every new .py is known here unless the worker planned other files too (it joins them once
    // the pycs are all claimed): then the RECORDs wait for its findings.
    let sourcesKnown = true;
    if (worker !== undefined) {
      const noted = worker.waitFor('noted');
      planner.wantHashes(noted.hashWanted);
      earlyRecords = noted.early;
      lateRecords = noted.late;
      recordsNoted = earlyRecords.length + lateRecords.length;
      sourcesKnown = Atomics.load(ctrl, CTRL.othersJoined) === 0;
      trace(sourcesKnown ? 'records: early ones now' : 'records: all wait for the worker');
    }
    if (sourcesKnown) {
      // Rewritten now, while the worker plans pycs (small: read again rather than kept).
      planRecords(earlyRecords, drain);
    } else {
      lateRecords = [...earlyRecords, ...lateRecords];
    }
    // The worker plans its pycs before the .py files are read: those of a .py this run rewrites
    // (rare: a .py seldom holds the venv's path) are planned again at the end. Found now, while
    // the worker is still busy, for the .py files this thread rewrote.
    const again = worker === undefined ? [] : pycsOfNewSources(pycs, planner, drain);
    trace('pycs start');
    if (worker === undefined || mainPlansPycs) {
      mainPycs = claimEach(
        pycs,
        ctrl,
        CTRL.claimPycs,
        (rel) => {
          const r = clock.read(() => searcher.read(rel, planner.followsSource(rel)));
          if (r !== undefined) clock.plan(() => planner.pyc(rel, r.bytes, r.stat));
        },
        drain,
      );
    }
    trace(`pycs planned: ${mainPycs} here`);
    if (worker !== undefined) {
      const done = worker.waitFor('done');
      trace(`worker planned: others ${done.examinedOthers}, pycs ${done.examinedPycs}`);
      workerOthers = done.examinedOthers;
      workerPycs = done.examinedPycs;
      if (done.records !== worker.recordsTaken()) {
        throw incomplete(
          `the planning thread made ${done.records} journal records and ${worker.recordsTaken()} reached the journal`,
        );
      }
      planner.absorb(done.findings);
      planner.addSources(done.sources);
      planner.addStamped(done.stamped);
      for (const [rest, ok] of done.counterparts) input.counterparts.set(rest, ok);
      largeBinaries.push(...done.largeBinaries);
      filesRead += done.filesRead;
      bytesRead += done.bytesRead;
      tRead += done.tRead;
      tPlan += done.tPlan;
      // The worker's new .py files (from the other files it planned last), rarely any.
      const all =
        done.sources.length > 0
          ? [...new Set([...again, ...pycsOfNewSources(pycs, planner, () => {})])]
          : again;
      ({ fixed, inOrder } = planAgain(all, planner, searcher, clock));
      if (all.length > 0) trace(`pycs planned again: ${fixed}`);
    }
  } catch (err) {
    worker?.close();
    throw err;
  }
  const threads = worker === undefined ? 1 : 2;
  // Two in-place writes of one pyc can be applied in either order, or at once: they write the
  // same bytes from the end of its header on (Planner.pycAgain). A hard-linked pyc is replaced
  // instead (a new file renamed over it): the last rename wins, and a write applied after a
  // removal would make the file again, so such pairs of records must be applied in journal
  // order, by this thread alone.
  if (inOrder > 0) {
    worker?.close();
    worker = undefined;
  }

  planRecords(lateRecords);
  checkComplete({
    others: [mainOthers + workerOthers, others.length],
    pycs: [mainPycs + workerPycs, pycs.length],
    records: [recordsNoted, records.length],
  });
  planSymlinks(root, symlinks, planner, clock);
  trace('records planned');
  const missed = planner.unaccounted();
  if (missed.length > 0) throw missedFiles(missed);
  const { binaries, warnings, dropped } = planner.finish();
  largeBinaries.push(...searcher.largeBinaries);
  return {
    binaries,
    dropped,
    warnings,
    largeBinaries,
    stats: {
      files: searcher.filesRead + filesRead,
      bytes: searcher.bytesRead + bytesRead,
      symlinks: symlinks.length,
      dirs,
    },
    tWalk,
    tRead: clock.tRead + tRead,
    tPlan: clock.tPlan + tPlan,
    threads,
    helper: worker,
  };
}

import { performance } from 'node:perf_hooks';
import {
  MessageChannel,
  receiveMessageOnPort,
  Worker,
  type MessagePort,
} from 'node:worker_threads';
import { fs } from '../core/fs.js';
import { VenvToolsError } from '../core/errors.js';
import {
  bytesToUtf8,
  fromBytes,
  toBytes,
  type ByteString,
  type Mapping,
} from '../core/path-boundary.js';
import type { Layout } from '../scan/detect-layout.js';
import { FileSearcher, type LargeBinary } from '../scan/search-files.js';
import { absPath, walkEach } from '../scan/walk-tree.js';
import { trace } from '../core/trace.js';
import { forcedInterleaving, holdUntil, threadMinFiles } from './forced-interleaving.js';
import { BATCH_SIZE } from '../apply/journal.js';
import type { ApplyHelper } from '../apply/journal-sink.js';
import { PathList, PathListBuilder, type PathListData } from '../scan/path-list.js';
import { Planner, type BinaryHit, type EditSink, type Warning } from '../plan/planner.js';
import { planWorkerSource } from './plan-worker-source.js';

/** Below this many files a second thread costs more to start than it saves. */
export const THREAD_MIN_FILES = threadMinFiles(process.env, 4000);

/** Off in every real run; a test's way to drive one interleaving (forced-interleaving.ts). */
export const FORCED = forcedInterleaving(process.env);

/**
 * For the tests: VENV_TOOLS_MAIN_PYCS=0 keeps the main thread out of the pyc pass when a worker
 * plans too, so that every pyc is planned before the .py files are known (see planFiles).
 */
const mainPlansPycs = process.env['VENV_TOOLS_MAIN_PYCS'] !== '0';

/** Slots of the Int32Array both threads share. */
export const CTRL = {
  /** The next file of the other-files pass to claim. */
  claimOthers: 0,
  /** The next pyc to claim. */
  claimPycs: 1,
  /** Bumped by the worker after each message it posts (the main thread waits on it). */
  posted: 2,
  /** Set by the main thread: GO_APPLY to start applying, ABORT to stop. */
  go: 3,
  /** Set by the worker when it stops, for whatever reason. */
  exited: 4,
  /** Records the worker has applied. */
  applied: 5,
  /** Frame batches the worker has posted that the main thread has not written yet. */
  inFlight: 6,
  /** 1 once the worker began; DROPPED when the main thread gave up on it first. */
  started: 7,
  /** Set by the main thread once it has posted the worker's work (the file lists). */
  init: 8,
  /** The next chunk of the committed journal to apply (both threads claim). */
  claimApply: 9,
  /** Set by the worker before it claims any other file (once the pycs are all claimed). */
  othersJoined: 10,
} as const;
const CTRL_SLOTS = 11;
export const DROPPED = 2;
/**
 * The worker waits while this many of its batches (1 MiB each) wait to be written. With the one
 * it fills and the one it just took, it never has more than MAX_IN_FLIGHT + 2 batch buffers.
 */
export const MAX_IN_FLIGHT = 4;
export const ABORT = 2;
export const GO_APPLY = 3;

/** What the worker thread is started with, before the venv is walked. */
export interface WorkerBoot {
  readonly ctrl: SharedArrayBuffer;
  readonly port: MessagePort;
  /**
   * Where the main thread hands back each batch buffer (BATCH_SIZE bytes) once it has written it,
   * for the worker to fill again. Batches travel as transferred ArrayBuffers, not in shared
   * memory: V8 copies into a SharedArrayBuffer about 15 times slower than into an ArrayBuffer.
   */
  readonly returns: MessagePort;
}

/** The worker's work, posted once the walk has listed the files (structured-cloneable). */
export interface WorkerInit {
  readonly root: ByteString;
  readonly layout: Layout;
  /** The mappings without their conditions; `along` rebuilds the moved-along one. */
  readonly mappings: ReadonlyArray<{ from: ByteString; to: ByteString }>;
  readonly along: { index: number; root2: Mapping; old: ByteString } | undefined;
  readonly needles: readonly ByteString[];
  /** The RECORDs, for the worker to note before its pycs. */
  readonly records: readonly ByteString[];
  readonly others: PathListData;
  readonly pycs: PathListData;
}

/** Messages from the worker thread. */
export type WorkerMessage =
  /** `changes`: the edits the frames hold, packed by an EditLog. */
  | { t: 'frames'; bytes: Uint8Array; crcs: number[]; changes: Uint8Array }
  | {
      t: 'noted';
      /** The pycs the RECORDs list with a hash. */
      hashWanted: ByteString[];
      /** The RECORDs that list no pyc with a hash, and those that do. */
      early: ByteString[];
      late: ByteString[];
    }
  | { t: 'applied' }
  | {
      t: 'done';
      findings: ReturnType<Planner['findings']>;
      /** New .py contents (from the other files it planned last) and pycs planned with one. */
      sources: Array<[ByteString, Uint8Array]>;
      stamped: ByteString[];
      counterparts: Array<[ByteString, boolean]>;
      largeBinaries: LargeBinary[];
      filesRead: number;
      bytesRead: number;
      tRead: number;
      tPlan: number;
      /** How many of each list it examined, and the journal records it made (completeness). */
      examinedOthers: number;
      examinedPycs: number;
      records: number;
    }
  | { t: 'error'; code?: VenvToolsError['code']; message: string; path?: string; stack?: string };

export interface PlanFilesInput {
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
  /**
   * A worker spawned ahead (spawnPlanWorker), booting while the caller checked the venv and
   * this walks it. Without it (or without `frames`), everything is planned on this thread.
   */
  readonly spare?: SpareWorker;
}

export interface PlanFilesResult {
  readonly binaries: BinaryHit[];
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

/** True when a regular file is at `rel` (asked only of a pyc's source when the pyc is unusable). */
export function isRegularFile(root: ByteString, rel: ByteString): boolean {
  try {
    return fs.lstatSync(toBytes(`${root}/${rel}`)).isFile();
  } catch {
    return false;
  }
}

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

/**
 * Read every file once and plan it (DESIGN.md "scan -> plan"), in the orders the Planner needs:
 * RECORDs noted first, then the other files, then the pycs, then the RECORDs rewritten and the
 * symlinks. With two threads, a worker notes the RECORDs and plans the pycs while this thread
 * plans the other files; each then helps with the other's list, claiming files from the same
 * shared counters. The worker encodes its edits as journal frames and hands them over in
 * batches. Its pycs are planned before the .py files are known, so those of a .py this run
 * rewrites are planned again at the end (Planner.pycAgain).
 */
export function planFiles(input: PlanFilesInput): PlanFilesResult {
  const { root } = input;
  trace('walk');
  const t0 = performance.now();
  const records: ByteString[] = [];
  const symlinks: ByteString[] = [];
  let others: PathList;
  let pycs: PathList;
  let dirs = 0;
  let files = 0;
  {
    // Packed as they are listed: no array of every entry is ever held.
    const pycRels = new PathListBuilder();
    const otherRels = new PathListBuilder();
    walkEach(root, (rel, type) => {
      if (type === 'file') {
        files++;
        if (rel.endsWith('.dist-info/RECORD')) records.push(rel);
        else if (rel.endsWith('.pyc') || rel.endsWith('.pyo')) pycRels.add(rel);
        else otherRels.add(rel);
      } else if (type === 'dir') dirs++;
      else if (type === 'symlink') symlinks.push(rel);
    });
    others = otherRels.finish();
    pycs = pycRels.finish();
  }
  const tWalk = performance.now() - t0;
  trace('walked');
  const planner = new Planner(
    input.layout,
    input.mappings,
    (rel) => isRegularFile(root, rel),
    input.sink,
  );
  const searcher = new FileSearcher(root, input.needles);
  const clock = new PhaseClock();

  let worker: WorkerHandle | undefined;
  if (
    input.spare !== undefined &&
    input.frames !== undefined &&
    (input.threads === 'auto' ? files >= THREAD_MIN_FILES : input.threads > 1)
  ) {
    worker = beginWork(input.spare, input, { others, pycs, records });
  } else {
    input.spare?.close();
  }
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
      for (const rel of all) {
        if (!planner.needsAgain(rel)) continue; // this thread planned it with its new source
        const r = clock.read(() => searcher.readAgain(rel));
        const planned =
          r === undefined ? undefined : clock.plan(() => planner.pycAgain(rel, r.bytes, r.stat));
        if (r !== undefined && planned !== undefined) {
          fixed++;
          if (planned === 'remove' || r.stat.nlink > 1) inOrder++;
        }
      }
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
  trace('records planned');
  const missed = planner.unaccounted();
  if (missed.length > 0) {
    const shown = missed.slice(0, 5).map(bytesToUtf8);
    throw new VenvToolsError(
      'INCOMPLETE',
      `${shown.join(', ')}${missed.length > 5 ? ` and ${missed.length - 5} more` : ''}: ${missed.length === 1 ? 'holds' : 'hold'} the old path, but no rewrite was planned for ${missed.length === 1 ? 'it' : 'them'}. This is a bug in venv-tools. Nothing was changed; please report it, with the file.`,
      shown[0],
    );
  }
  const { binaries, warnings } = planner.finish();
  largeBinaries.push(...searcher.largeBinaries);
  return {
    binaries,
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

interface WorkerHandle extends ApplyHelper {
  readonly ctrl: Int32Array;
  /** Journal records of the worker's batches written so far. */
  recordsTaken(): number;
  /** Handle every message the worker has posted so far. */
  drain(): void;
  /** Wait for the worker's message of type `t`, handling the others meanwhile. */
  waitFor<T extends 'noted' | 'done' | 'applied'>(t: T): Extract<WorkerMessage, { t: T }>;
  /** Stop the worker wherever it is, and let it go. */
  close(): void;
}

/** A planning worker started before the walk, waiting for its work (see beginWork). */
export interface SpareWorker {
  readonly ctrl: Int32Array;
  readonly port: MessagePort;
  readonly returns: MessagePort;
  /** Stop it (wherever it is) and let it go; again is harmless. */
  close(): void;
}

/**
 * Start a planning worker now, so that it boots (about 0.1 s: a fresh isolate loads its
 * modules) while this thread checks and walks the venv. Undefined where threads cannot start.
 */
export function spawnPlanWorker(): SpareWorker | undefined {
  const { port1, port2 } = new MessageChannel();
  const back = new MessageChannel();
  const ctrl = new Int32Array(new SharedArrayBuffer(4 * CTRL_SLOTS));
  const boot: WorkerBoot = {
    ctrl: ctrl.buffer as SharedArrayBuffer,
    port: port2,
    returns: back.port2,
  };
  // Outside the try: a single executable without its worker's code is a broken build, not a
  // machine without threads.
  const { source, options } = planWorkerSource();
  let worker: Worker;
  try {
    worker = new Worker(source, {
      ...options,
      workerData: boot,
      transferList: [port2, back.port2],
      // Its garbage is short-lived (each file's content and rewrite): a small young generation
      // keeps the process's peak memory down, at no measurable cost in time.
      resourceLimits: { maxYoungGenerationSizeMb: 4 },
    });
  } catch {
    return undefined; // no threads here (a limit, an embedder): one thread does it all
  }
  // A worker that fails to load never begins, and is dropped (planFiles); its error event is
  // seen only after this run, so it must not crash the process then.
  worker.on('error', () => undefined);
  worker.unref();
  let closed = false;
  return {
    ctrl,
    port: port1,
    returns: back.port1,
    close() {
      if (closed) return;
      closed = true;
      if (Atomics.load(ctrl, CTRL.exited) !== 1) {
        Atomics.store(ctrl, CTRL.go, ABORT);
        Atomics.notify(ctrl, CTRL.go);
        Atomics.notify(ctrl, CTRL.init);
      }
      port1.close();
      back.port1.close();
    },
  };
}

/** Hand a spare worker its work: the lists the walk made. */
function beginWork(
  spare: SpareWorker,
  input: PlanFilesInput,
  lists: { others: PathList; pycs: PathList; records: ByteString[] },
): WorkerHandle {
  const { ctrl, port: port1 } = spare;
  const init: WorkerInit = {
    root: input.root,
    layout: input.layout,
    mappings: input.mappings.map((m) => ({ from: m.from, to: m.to })),
    along: input.along,
    needles: input.needles.map(fromBytes),
    records: lists.records,
    others: { bytes: lists.others.bytes, ends: lists.others.ends, length: lists.others.length },
    pycs: { bytes: lists.pycs.bytes, ends: lists.pycs.ends, length: lists.pycs.length },
  };
  port1.postMessage(init);
  Atomics.store(ctrl, CTRL.init, 1);
  Atomics.notify(ctrl, CTRL.init);
  const got = new Map<string, WorkerMessage>();
  let taken = 0;
  const onMessage = (m: WorkerMessage) => {
    if (m.t === 'frames') {
      const b = Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength);
      (input.frames as NonNullable<PlanFilesInput['frames']>)(b, m.crcs, m.changes);
      taken += m.crcs.length;
      // Written: back to the worker (before it may go on, so that it need not make another).
      const ab = m.bytes.buffer as ArrayBuffer;
      if (ab.byteLength === BATCH_SIZE) spare.returns.postMessage(ab, [ab]);
      Atomics.sub(ctrl, CTRL.inFlight, 1);
      Atomics.notify(ctrl, CTRL.inFlight);
    } else if (m.t === 'error') {
      throw m.code === undefined
        ? Object.assign(new Error(`in the planning thread: ${m.message}`), { stack: m.stack })
        : new VenvToolsError(m.code, m.message, m.path);
    } else {
      got.set(m.t, m);
    }
  };
  const drain = () => {
    for (let r = receiveMessageOnPort(port1); r !== undefined; r = receiveMessageOnPort(port1)) {
      onMessage(r.message as WorkerMessage);
    }
  };
  const handle: WorkerHandle = {
    ctrl,
    recordsTaken: () => taken,
    drain,
    waitFor(t) {
      for (;;) {
        const seq = Atomics.load(ctrl, CTRL.posted);
        drain();
        const m = got.get(t);
        if (m !== undefined) return m as never;
        if (Atomics.load(ctrl, CTRL.exited) === 1) {
          drain();
          if (got.has(t)) continue;
          throw new Error('the planning thread stopped without finishing');
        }
        Atomics.wait(ctrl, CTRL.posted, seq, 1000);
      }
    },
    start(bounds) {
      port1.postMessage(bounds);
      Atomics.store(ctrl, CTRL.go, GO_APPLY);
      Atomics.notify(ctrl, CTRL.go);
    },
    claim: () => Atomics.add(ctrl, CTRL.claimApply, 1),
    applied: () => Atomics.load(ctrl, CTRL.applied),
    wait() {
      handle.waitFor('applied');
    },
    stop() {
      Atomics.store(ctrl, CTRL.go, ABORT);
      Atomics.notify(ctrl, CTRL.go);
      // It stops between two records; a write it is in the middle of finishes first.
      while (Atomics.load(ctrl, CTRL.exited) !== 1) {
        Atomics.wait(ctrl, CTRL.exited, 0, 1000);
      }
    },
    close: () => spare.close(),
  };
  return handle;
}

/**
 * The second planning thread (see plan-tree.ts): notes the RECORDs, then plans the pycs while
 * the main thread plans the other files, then helps with those. It claims files from the
 * counters it shares with the main thread and hands its edits over as journal frames. Only the
 * main thread writes the journal; once it is committed, both threads apply chunks of it.
 */
import { receiveMessageOnPort, workerData } from 'node:worker_threads';
import { VenvToolsError } from '../core/errors.js';
import { installFaultsFromEnv } from '../core/fs-faults.js';
import type { FileKind } from '../kinds/file-kind.js';
import { toBytes, type ByteString, type Mapping } from '../core/path-boundary.js';
import { FileSearcher } from '../scan/search-files.js';
import { trace } from '../core/trace.js';
import { BATCH_SIZE, type JournalRecord } from '../apply/journal-format.js';
import { FrameBatch } from '../apply/journal-writer.js';
import { EditLog, type EditSummary } from '../plan/edit-log.js';
import { holdUntil } from './forced-interleaving.js';
import { writeRecord } from '../apply/journal-sink.js';
import { applyCommitted } from '../apply/apply-committed.js';
import { probeVenvPython } from '../apply/regenerate-pycs.js';
import { movedAlong } from '../plan/moved-root.js';
import { isRegularFile, pathExists } from '../core/real-path.js';
import { PathList } from '../scan/path-list.js';
import { FORCED } from './forced-interleaving.js';
import { claimEach, noteRecords, PhaseClock } from './plan-steps.js';
import {
  ABORT,
  CTRL,
  GO_APPLY,
  MAX_IN_FLIGHT,
  type WorkerBoot,
  type WorkerInit,
  type WorkerMessage,
} from './worker-protocol.js';
import { Planner, type EditSink } from '../plan/planner.js';

trace('worker loaded');
const boot = workerData as WorkerBoot;
const ctrl = new Int32Array(boot.ctrl);
const port = boot.port;

function post(m: WorkerMessage, transfer: ArrayBuffer[] = []): void {
  port.postMessage(m, transfer);
  Atomics.add(ctrl, CTRL.posted, 1);
  Atomics.notify(ctrl, CTRL.posted);
}

function run(): void {
  // Started before the walk: wait for the lists it makes (or to be let go).
  while (Atomics.load(ctrl, CTRL.init) === 0 && Atomics.load(ctrl, CTRL.go) !== ABORT) {
    Atomics.wait(ctrl, CTRL.init, 0, 1000);
  }
  if (Atomics.load(ctrl, CTRL.go) === ABORT) return;
  const init = receiveMessageOnPort(port)?.message as WorkerInit;
  const aborted = () => Atomics.load(ctrl, CTRL.go) === ABORT;
  if (FORCED === 'never') {
    trace('worker held back for good');
    holdUntil(aborted, () => undefined);
    return;
  }
  if (FORCED === 'late') {
    holdUntil(
      () => Atomics.load(ctrl, CTRL.started) !== 0 || aborted(),
      () => undefined,
    );
  }
  trace('worker starts');
  // Too late: the main thread went on without this worker.
  if (Atomics.compareExchange(ctrl, CTRL.started, 0, 1) !== 0) {
    trace('worker too late: the main thread went on without it');
    return;
  }
  Atomics.notify(ctrl, CTRL.started);
  installFaultsFromEnv(process.env);
  const counterparts = new Map<ByteString, boolean>();
  const mappings: Mapping[] = init.mappings.map((m, i) =>
    init.along !== undefined && i === init.along.index
      ? movedAlong(init.along.root2, init.along.old, counterparts, pathExists)
      : m,
  );
  // Each batch buffer goes to the main thread and comes back once written: a few are made.
  const free: ArrayBuffer[] = [];
  const batch = new FrameBatch(() => {
    for (let r = receiveMessageOnPort(boot.returns); r !== undefined;) {
      free.push(r.message as ArrayBuffer);
      r = receiveMessageOnPort(boot.returns);
    }
    const ab = free.pop();
    return ab === undefined ? Buffer.allocUnsafeSlow(BATCH_SIZE) : Buffer.from(ab);
  });
  const changes = new EditLog();
  const hand = (full: { bytes: Buffer; crcs: number[] }) => {
    // Bounded memory: wait while the main thread has MAX_IN_FLIGHT batches still to write.
    for (;;) {
      const n = Atomics.load(ctrl, CTRL.inFlight);
      if (n < MAX_IN_FLIGHT || Atomics.load(ctrl, CTRL.go) === ABORT) break;
      Atomics.wait(ctrl, CTRL.inFlight, n, 1000);
    }
    Atomics.add(ctrl, CTRL.inFlight, 1);
    const packed = changes.take();
    post({ t: 'frames', bytes: full.bytes, crcs: full.crcs, changes: packed }, [
      full.bytes.buffer as ArrayBuffer,
      packed.buffer as ArrayBuffer,
    ]);
  };
  let records = 0;
  const add = (r: JournalRecord, kind: FileKind, op: EditSummary['op']) => {
    records++;
    const full = batch.add(r);
    if (full !== undefined) hand(full);
    changes.add(r.rel, kind, op);
  };
  const sink: EditSink = {
    write: (rel, kind, bytes, before, st) =>
      add(writeRecord(rel, kind, bytes, before, st), kind, 'write'),
    symlink: (rel, target) => add({ op: 'symlink', rel, target }, 'symlink', 'symlink'),
    remove: (rel, _reason, job) =>
      add(
        job === undefined ? { op: 'remove', rel } : { op: 'regenerate', rel, job },
        'pyc-removed',
        'remove',
      ),
  };
  const flush = () => {
    if (!changes.empty) hand(batch.take());
  };
  // Whether a pyc's source exists is asked only of a pyc that cannot be rewritten: rare enough
  // to ask the disk rather than hold every file's name on this thread too.
  const planner = new Planner(init.layout, mappings, (rel) => isRegularFile(init.root, rel), sink, {
    compiler: () => probeVenvPython(init.root),
    sourceless: init.sourceless,
  });
  const searcher = new FileSearcher(init.root, init.needles.map(toBytes));
  const clock = new PhaseClock();

  // Which pycs the RECORDs list with a hash, before any pyc is planned (here and there).
  const { early, late } = noteRecords(init.records, searcher, planner, clock);
  post({ t: 'noted', hashWanted: planner.wantedHashes(), early, late });
  // The pycs, before the .py files are known (plan-tree.ts plans again those of a .py the run
  // rewrites), then whatever other files the main thread has not claimed yet.
  const pycs = PathList.of(init.pycs);
  let stall = FORCED === 'stall';
  const examinedPycs = claimEach(
    pycs,
    ctrl,
    CTRL.claimPycs,
    (rel) => {
      const r = clock.read(() => searcher.read(rel, planner.followsSource(rel)));
      if (r !== undefined) clock.plan(() => planner.pyc(rel, r.bytes, r.stat));
      if (stall) {
        stall = false;
        holdUntil(
          () => Atomics.load(ctrl, CTRL.claimPycs) >= pycs.length || aborted(),
          () => {},
        );
        trace('worker stalled until the main thread claimed the other pycs');
      }
    },
    undefined,
    aborted,
  );
  trace(`pycs planned: ${examinedPycs} here`, true);
  searcher.shrink();
  Atomics.store(ctrl, CTRL.othersJoined, 1);
  const examinedOthers = claimEach(
    PathList.of(init.others),
    ctrl,
    CTRL.claimOthers,
    (rel) => {
      const r = clock.read(() => searcher.read(rel));
      if (r !== undefined) clock.plan(() => planner.file(rel, r.bytes, r.stat));
    },
    undefined,
    aborted,
  );
  flush();
  trace(`others planned: ${examinedOthers} here`, true);
  searcher.shrink();
  post({
    t: 'done',
    findings: planner.findings(),
    sources: planner.sources(),
    stamped: planner.stampedPycs(),
    counterparts: [...counterparts],
    largeBinaries: searcher.largeBinaries,
    filesRead: searcher.filesRead,
    bytesRead: searcher.bytesRead,
    tRead: clock.tRead,
    tPlan: clock.tPlan,
    examinedOthers,
    examinedPycs,
    records,
  });

  // Then, once the journal is committed, help apply it: claim chunks until none is left.
  while (Atomics.load(ctrl, CTRL.go) === 0) Atomics.wait(ctrl, CTRL.go, 0, 1000);
  if (Atomics.load(ctrl, CTRL.go) !== GO_APPLY) return;
  trace('plan totals', true);
  const bounds = receiveMessageOnPort(port)?.message as number[];
  applyCommitted(
    init.root,
    bounds,
    () => Atomics.add(ctrl, CTRL.claimApply, 1),
    (done) => Atomics.store(ctrl, CTRL.applied, done),
    () => Atomics.load(ctrl, CTRL.go) === ABORT,
  );
  trace('apply totals', true);
  post({ t: 'applied' });
}

try {
  run();
} catch (err) {
  if (Atomics.load(ctrl, CTRL.go) !== ABORT) {
    post(
      err instanceof VenvToolsError
        ? {
            t: 'error',
            code: err.code,
            message: err.message,
            ...(err.path === undefined ? {} : { path: err.path }),
          }
        : {
            t: 'error',
            message: (err as Error).message ?? String(err),
            ...((err as Error).stack === undefined ? {} : { stack: (err as Error).stack }),
          },
    );
  }
} finally {
  Atomics.store(ctrl, CTRL.exited, 1);
  Atomics.notify(ctrl, CTRL.posted);
  port.close();
  boot.returns.close();
}

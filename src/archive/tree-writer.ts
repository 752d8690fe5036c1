/**
 * Writing an extracted tree. Folders and regular files are encoded (write-ops.ts) into batches
 * and handed to writing threads (write-worker.ts), which make them while this thread reads,
 * checks and relocates the next members. Files are independent of each other, and a folder is
 * made by whichever operation needs it first, so the batches may be written in any order by any
 * writer, except where a file spans batches: those go to one writer, in order. Links are made
 * here, once every operation before them is done: a symlink made earlier could otherwise lead a
 * writer's name out of the tree.
 *
 * At most MAX_BATCHES buffers exist: when all are out, this thread waits for a writer. Where no
 * thread can start, or a writer is slow to start, this thread writes its batches itself.
 */
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import {
  MessageChannel,
  receiveMessageOnPort,
  Worker,
  type MessagePort,
} from 'node:worker_threads';
import { fs } from '../core/fs.js';
import { fsPath, type ByteString } from '../core/path-boundary.js';
import { trace } from '../core/trace.js';
import { workerSource } from '../core/worker-source.js';
import {
  applyOps,
  closeOpenFile,
  freshOpState,
  makeFolder,
  OpEncoder,
  WriteOpError,
} from './write-ops.js';
import {
  ctrlSlots,
  DROPPED,
  LANE,
  laneSlot,
  WCTRL,
  type WriterBatch,
  type WriterBoot,
  type WriterReply,
} from './write-protocol.js';

/** Bytes of one batch. */
const BATCH_BYTES = 2 << 20;
/** Batch buffers in all: the one being filled and those the writers hold. */
const MAX_BATCHES = 6;
/** How long to wait for a writer that has not begun before going on without it. */
const START_WAIT_MS = 5000;

export interface TreeWriter {
  /** Where folders and regular files are encoded. */
  readonly ops: OpEncoder;
  /** A symlink, once every operation before it is done. */
  symlink(rel: ByteString, target: ByteString): void;
  /** A hard link at `rel` to the earlier member `target`, once every operation before it is done. */
  link(rel: ByteString, target: ByteString): void;
  /** Wait until every file encoded so far is written; throws the first failure (WriteOpError). */
  sync(): void;
  /**
   * Stop the writers between two calls and wait for them to be gone: after sync(), or after a
   * failure (nothing is written below `into` once it returns). Again is harmless.
   */
  close(): void;
}

/** One writing thread, and what this thread knows of it. */
interface Lane {
  readonly index: number;
  readonly worker: Worker | undefined;
  readonly port: MessagePort;
  /** Batches given to it before it began, in order. */
  readonly pending: WriterBatch[];
  posted: number;
  /** This thread writes its batches (it never began). */
  inline: boolean;
}

/**
 * The writing threads for this machine: one per core beside the main thread's, one at least,
 * four at most. On two cores, a second writer only competed with the main thread (1x venv: 1.36
 * against 1.31 s, median of 7; docs/PERFORMANCE.md).
 */
function writerCount(): number {
  return Math.min(4, Math.max(1, availableParallelism() - 1));
}

/**
 * Write below `into` (absolute, byte string) with `threads` writing threads (0: on this thread).
 */
export function openTreeWriter(into: ByteString, threads = writerCount()): TreeWriter {
  const ctrl = new Int32Array(new SharedArrayBuffer(4 * ctrlSlots(Math.max(1, threads))));
  const lanes: Lane[] = [];
  for (let i = 0; i < threads; i++) {
    const lane = startLane(i, ctrl, into);
    if (lane === undefined) break;
    lanes.push(lane);
  }
  const free: Buffer[] = [];
  let made = 0;
  const inlineState = freshOpState();
  /** The lane the batch in hand goes to when the one before ended inside a file. */
  let stick: Lane | undefined;
  let next = 0;
  /** ms this thread waited for the writers (VENV_TOOLS_TRACE shows it). */
  let waited = 0;
  let closed = false;

  const started = (l: Lane) => Atomics.load(ctrl, laneSlot(l.index, LANE.started));
  const begun = (l: Lane) => !l.inline && started(l) === 1;
  const inFlight = (l: Lane) =>
    l.posted + l.pending.length - Atomics.load(ctrl, laneSlot(l.index, LANE.done));
  const drain = () => {
    for (const l of lanes) {
      for (
        let r = receiveMessageOnPort(l.port);
        r !== undefined;
        r = receiveMessageOnPort(l.port)
      ) {
        const m = r.message as WriterReply;
        if (m.t === 'back') free.push(Buffer.from(m.buf));
        else throw new WriteOpError(m.code, m.message, m.rel);
      }
    }
  };
  const check = () => {
    drain();
    for (const l of lanes) {
      if (
        !l.inline &&
        Atomics.load(ctrl, laneSlot(l.index, LANE.exited)) === 1 &&
        inFlight(l) > 0
      ) {
        throw new Error(`writing thread ${l.index} stopped before its work was done`);
      }
    }
  };
  const post = (l: Lane, b: WriterBatch) => {
    l.port.postMessage(b, [b.buf]);
    l.posted++;
    Atomics.add(ctrl, laneSlot(l.index, LANE.posted), 1);
    Atomics.notify(ctrl, laneSlot(l.index, LANE.posted));
  };
  const applyHere = (b: WriterBatch) => {
    const buf = Buffer.from(b.buf);
    applyOps(into, buf, b.used, inlineState);
    free.push(buf);
  };
  const flushPending = (l: Lane) => {
    if (l.pending.length > 0 && begun(l)) for (const b of l.pending.splice(0)) post(l, b);
  };
  /** Hand each writer that began since the batches it was given before. */
  const flushBegun = () => {
    for (const l of lanes) flushPending(l);
  };
  /**
   * The writers are needed (every buffer is out, or all must be written): wait a while for those
   * not begun yet, all at once, then write their batches here.
   */
  const awaitStarts = () => {
    const until = Date.now() + START_WAIT_MS;
    for (const l of lanes) {
      const s = laneSlot(l.index, LANE.started);
      if (l.inline) continue;
      while (Atomics.load(ctrl, s) === 0 && Date.now() < until) Atomics.wait(ctrl, s, 0, 50);
      if (Atomics.compareExchange(ctrl, s, 0, DROPPED) === 0) {
        trace(`writer ${l.index} too slow to start: this thread writes its files`);
        l.inline = true;
        for (const b of l.pending.splice(0)) applyHere(b);
      }
    }
    flushBegun();
  };
  /** Wait for any writer to finish a batch (or fail, or leave). */
  const waitAny = () => {
    const seen = Atomics.load(ctrl, WCTRL.wake);
    check();
    if (free.length > 0) return;
    const t = performance.now();
    Atomics.wait(ctrl, WCTRL.wake, seen, 1000);
    waited += performance.now() - t;
  };
  const take = (): Buffer => {
    drain();
    const b = free.pop();
    if (b !== undefined) return b;
    if (made < MAX_BATCHES) {
      made++;
      return Buffer.from(new ArrayBuffer(BATCH_BYTES));
    }
    // All out: the lanes not begun yet are waited for (or dropped), then any lane's batch.
    awaitStarts();
    while (free.length === 0) waitAny();
    return free.pop() as Buffer;
  };
  const full = (buf: Buffer, used: number, continued: boolean) => {
    const b: WriterBatch = { buf: buf.buffer as ArrayBuffer, used };
    drain();
    // A batch that ends inside a file, and the ones after it up to its end, go to one lane.
    let lane = stick;
    if (lane === undefined) {
      // The lane with the least work in hand; the next in turn on a tie.
      for (let i = 0; i < lanes.length; i++) {
        const l = lanes[(next + i) % lanes.length] as Lane;
        if (lane === undefined || inFlight(l) < inFlight(lane)) lane = l;
      }
      next = (next + 1) % Math.max(1, lanes.length);
    }
    stick = continued ? lane : undefined;
    if (lane === undefined || lane.inline) {
      applyHere(b);
      return;
    }
    flushBegun();
    if (!begun(lane)) {
      lane.pending.push(b);
      return;
    }
    post(lane, b);
  };
  const ops = new OpEncoder(take, full);
  const path = (rel: ByteString) => fsPath(`${into}/${rel}`);
  /** A link's folder, when no member made it (a plain tar may list no folders at all). */
  const inFolder = (rel: ByteString) => {
    const slash = rel.lastIndexOf('/');
    if (slash !== -1) makeFolder(into, rel.slice(0, slash));
  };

  const sync = () => {
    ops.flush();
    awaitStarts();
    const t = performance.now();
    for (;;) {
      const seen = Atomics.load(ctrl, WCTRL.wake);
      check();
      if (lanes.every((l) => l.inline || inFlight(l) === 0)) break;
      if (Atomics.load(ctrl, WCTRL.failed) === 1) {
        // Its message is posted before the flag is set.
        check();
      }
      Atomics.wait(ctrl, WCTRL.wake, seen, 1000);
    }
    waited += performance.now() - t;
  };

  return {
    ops,
    symlink(rel, target) {
      sync();
      inFolder(rel);
      fs.symlinkSync(fsPath(target), path(rel));
    },
    link(rel, target) {
      sync();
      inFolder(rel);
      fs.linkSync(path(target), path(rel));
    },
    sync() {
      sync();
      trace(`writers caught up: waited for them ${waited.toFixed(0)} ms in all`);
    },
    close() {
      if (closed) return;
      closed = true;
      closeOpenFile(inlineState);
      Atomics.store(ctrl, WCTRL.stop, 1);
      for (const l of lanes) {
        const s = laneSlot(l.index, LANE.posted);
        Atomics.add(ctrl, s, 1);
        Atomics.notify(ctrl, s);
      }
      for (const l of lanes) {
        if (Atomics.compareExchange(ctrl, laneSlot(l.index, LANE.started), 0, DROPPED) !== 0) {
          // It began: it stops between two calls; the one it is making finishes first.
          const s = laneSlot(l.index, LANE.exited);
          while (Atomics.load(ctrl, s) !== 1) Atomics.wait(ctrl, s, 0, 1000);
        }
        l.port.close();
      }
    },
  };
}

/** Start writing thread `index`; undefined where no thread can start. */
function startLane(index: number, ctrl: Int32Array, into: ByteString): Lane | undefined {
  const { port1, port2 } = new MessageChannel();
  const boot: WriterBoot = {
    ctrl: ctrl.buffer as SharedArrayBuffer,
    lane: index,
    port: port2,
    into,
  };
  // Outside the try: a single executable without its worker's code is a broken build.
  const { source, options } = workerSource(
    'write-worker.js',
    () => new URL('./write-worker.js', import.meta.url),
  );
  let worker: Worker;
  try {
    worker = new Worker(source, {
      ...options,
      workerData: boot,
      transferList: [port2],
      // It allocates next to nothing (views of the batches it is handed): a small young
      // generation keeps each writer's share of the process's memory small.
      resourceLimits: { maxYoungGenerationSizeMb: 2 },
    });
  } catch {
    port1.close();
    return undefined; // no threads here: this thread writes
  }
  // A writer that fails to load never begins, and is dropped (awaitStarts); its error event
  // comes later and must not crash the process.
  worker.on('error', () => undefined);
  worker.unref();
  trace(`writer ${index} started`);
  return { index, worker, port: port1, pending: [], posted: 0, inline: false };
}

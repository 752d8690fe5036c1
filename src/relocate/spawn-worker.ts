/**
 * Starting the second planning thread, and the main thread's side of talking to it
 * (worker-protocol.ts). It is started before the walk, so that it boots while the venv is
 * walked, and given its work once the walk has listed the files.
 */
import {
  MessageChannel,
  receiveMessageOnPort,
  Worker,
  type MessagePort,
} from 'node:worker_threads';
import type { ApplyHelper } from '../apply/apply-committed.js';
import { VenvToolsError } from '../core/errors.js';
import { BATCH_SIZE } from '../apply/journal-format.js';
import {
  ABORT,
  CTRL,
  GO_APPLY,
  type WorkerBoot,
  type WorkerInit,
  type WorkerMessage,
} from './worker-protocol.js';
import { CTRL_SLOTS } from './worker-protocol.js';
import { workerSource } from '../core/worker-source.js';

export interface WorkerHandle extends ApplyHelper {
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
  const { source, options } = workerSource(
    'plan-worker.js',
    () => new URL('./plan-worker.js', import.meta.url),
  );
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
  // A worker that fails to load never begins, and is dropped (planTree); its error event is
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

/** Journal frames the worker encoded, with the edits they hold; the main thread writes them. */
export type FramesTaker = (bytes: Buffer, crcs: number[], changes: Uint8Array) => void;

/** Hand a spare worker its work (the lists the walk made); `frames` takes what it plans. */
export function beginWork(spare: SpareWorker, init: WorkerInit, frames: FramesTaker): WorkerHandle {
  const { ctrl, port: port1 } = spare;
  port1.postMessage(init);
  Atomics.store(ctrl, CTRL.init, 1);
  Atomics.notify(ctrl, CTRL.init);
  const got = new Map<string, WorkerMessage>();
  let taken = 0;
  const onMessage = (m: WorkerMessage) => {
    if (m.t === 'frames') {
      const b = Buffer.from(m.bytes.buffer, m.bytes.byteOffset, m.bytes.byteLength);
      frames(b, m.crcs, m.changes);
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

/**
 * A writing thread of an extraction (tree-writer.ts): it writes the files the main thread
 * encodes (write-ops.ts), batch after batch, in the order it is given them, and hands each batch
 * buffer back. The main thread meanwhile reads, checks and relocates the next members: on two
 * cores, the kernel's work of creating the files no longer waits behind the reading and planning.
 */
import { performance } from 'node:perf_hooks';
import { receiveMessageOnPort, workerData } from 'node:worker_threads';
import { installFaultsFromEnv } from '../core/fs-faults.js';
import { trace } from '../core/trace.js';
import { applyOps, closeOpenFile, freshOpState, WriteOpError } from './write-ops.js';
import {
  LANE,
  laneSlot,
  WCTRL,
  type WriterBatch,
  type WriterBoot,
  type WriterReply,
} from './write-protocol.js';

const boot = workerData as WriterBoot;
const ctrl = new Int32Array(boot.ctrl);
const { port } = boot;
const slot = (s: number) => laneSlot(boot.lane, s);
const stopped = () => Atomics.load(ctrl, WCTRL.stop) === 1;

function reply(m: WriterReply, transfer: ArrayBuffer[] = []): void {
  port.postMessage(m, transfer);
}

function run(): void {
  // The main thread may have gone on without this writer, if it was slow to start.
  if (Atomics.compareExchange(ctrl, slot(LANE.started), 0, 1) !== 0) return;
  Atomics.notify(ctrl, slot(LANE.started));
  installFaultsFromEnv(process.env);
  const st = freshOpState();
  trace(`writer ${boot.lane} begins`);
  /** ms spent waiting for work (VENV_TOOLS_TRACE shows it). */
  let idle = 0;
  try {
    for (;;) {
      const seen = Atomics.load(ctrl, slot(LANE.posted));
      const r = receiveMessageOnPort(port);
      if (r === undefined) {
        if (stopped()) return;
        const t = performance.now();
        Atomics.wait(ctrl, slot(LANE.posted), seen, 1000);
        idle += performance.now() - t;
        continue;
      }
      const batch = r.message as WriterBatch;
      applyOps(boot.into, Buffer.from(batch.buf), batch.used, st, stopped);
      if (stopped()) return;
      reply({ t: 'back', buf: batch.buf }, [batch.buf]);
      Atomics.add(ctrl, slot(LANE.done), 1);
      Atomics.add(ctrl, WCTRL.wake, 1);
      Atomics.notify(ctrl, WCTRL.wake);
    }
  } catch (err) {
    const e =
      err instanceof WriteOpError
        ? { code: err.code, message: err.message, rel: err.rel }
        : { code: undefined, message: String((err as Error)?.stack ?? err), rel: '' };
    reply({ t: 'error', ...e });
    Atomics.store(ctrl, WCTRL.failed, 1);
  } finally {
    closeOpenFile(st);
    trace(`writer ${boot.lane} ends: waited for work ${idle.toFixed(0)} ms in all`);
  }
}

try {
  run();
} finally {
  Atomics.store(ctrl, slot(LANE.exited), 1);
  Atomics.notify(ctrl, slot(LANE.exited));
  Atomics.add(ctrl, WCTRL.wake, 1);
  Atomics.notify(ctrl, WCTRL.wake);
  port.close();
}

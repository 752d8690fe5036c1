/**
 * What the main thread of an extraction and its writing threads share (tree-writer.ts,
 * write-worker.ts): the control array's slots, and the messages each posts.
 */
import type { MessagePort } from 'node:worker_threads';
import type { ByteString } from '../core/path-boundary.js';

/** Slots of the Int32Array all threads share: three for all, then LANE_SLOTS per writer. */
export const WCTRL = {
  /** Set by the main thread: stop between two calls, and leave. */
  stop: 0,
  /** Set by a writer when a call failed (its error message is posted first). */
  failed: 1,
  /** Bumped by a writer after each batch, and as it leaves: the main thread waits on it. */
  wake: 2,
} as const;

/** A writer's own slots, at laneSlot(lane, …). */
export const LANE = {
  /** 1 once the writer began; DROPPED when the main thread went on without it first. */
  started: 0,
  /** Bumped by the main thread after each batch it posts to this writer (which waits on it). */
  posted: 1,
  /** Batches this writer has applied. */
  done: 2,
  /** Set by the writer as it leaves, for whatever reason. */
  exited: 3,
} as const;
const LANE_SLOTS = 4;
const SHARED_SLOTS = 3;

export function ctrlSlots(lanes: number): number {
  return SHARED_SLOTS + LANE_SLOTS * lanes;
}

export function laneSlot(lane: number, slot: number): number {
  return SHARED_SLOTS + LANE_SLOTS * lane + slot;
}

export const DROPPED = 2;

/** What a writer is started with. */
export interface WriterBoot {
  readonly ctrl: SharedArrayBuffer;
  readonly lane: number;
  readonly port: MessagePort;
  /** The folder every name is below (absolute, byte string). */
  readonly into: ByteString;
}

/** A batch of operations (write-ops.ts), transferred: buf[0, used). */
export interface WriterBatch {
  readonly buf: ArrayBuffer;
  readonly used: number;
}

/** A writer's messages: a batch buffer back, once applied; or the call that failed. */
export type WriterReply =
  | { readonly t: 'back'; readonly buf: ArrayBuffer }
  | {
      readonly t: 'error';
      readonly code: string | undefined;
      readonly message: string;
      readonly rel: ByteString;
    };

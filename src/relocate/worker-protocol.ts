/**
 * What the two planning threads share: the control array's slots and values, and the messages
 * the worker posts. Both threads import it; it imports neither.
 */
import type { MessagePort } from 'node:worker_threads';
import type { VenvToolsError } from '../core/errors.js';
import type { Planner, PycPolicy } from '../plan/planner.js';
import { type PathListData } from '../scan/path-list.js';
import { type Layout } from '../scan/detect-layout.js';
import { type LargeBinary } from '../scan/search-files.js';
import { type ByteString, type Mapping } from '../core/path-boundary.js';

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
export const CTRL_SLOTS = 11;
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
  /** What to do with a sourceless pyc that cannot be rewritten (PycPolicy). */
  readonly sourceless: PycPolicy['sourceless'];
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

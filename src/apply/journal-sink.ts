import { performance } from 'node:perf_hooks';
import { VenvToolsError } from '../core/errors.js';
import type { FileKind } from '../kinds/file-kind.js';
import { type ByteString } from '../core/path-boundary.js';
import { trace } from '../core/trace.js';
import { markCommitted } from '../core/commit-point.js';
import { EditLog } from '../plan/edit-log.js';
import { PYC_HEADER_MAX } from '../kinds/pyc/pyc-header.js';
import { type JournalHeader, type JournalRecord } from './journal-format.js';
import { JournalWriter } from './journal-writer.js';
import type { EditSink, FileStat, Regeneration } from '../plan/planner.js';
import { removeJournal } from './recover-journal.js';
import { regeneratePycs, type RegenerateJob } from './regenerate-pycs.js';
import { type ApplyHelper, applyCommitted } from './apply-committed.js';

/** Below this, a common head is journaled and written again rather than kept (but see below). */
const KEEP_HEAD = 4096;

/** How many leading bytes `a` and `b` share. */
export function commonHead(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  // Whole blocks first (compare runs natively), then byte by byte in the block that differs.
  for (const block of [65536, 4096, 256]) {
    while (i + block <= n && a.compare(b, i, i + block, i, i + block) === 0) i += block;
  }
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/**
 * The journal record that writes a file's new content, keeping its times, mode and links. A
 * file whose head does not change (a pyc before the first path it holds) is written from the
 * first byte that does, when that is far enough in.
 */
export function writeRecord(
  rel: ByteString,
  kind: FileKind,
  bytes: Buffer,
  before: Buffer,
  st: FileStat,
): JournalRecord {
  const times = { atimeMs: st.atimeMs, mtimeMs: st.mtimeMs };
  // A file with other hard links is replaced, so the other names keep the old content.
  if (st.nlink > 1) {
    return { op: 'replace', rel, data: bytes, mode: st.mode, uid: st.uid, gid: st.gid, ...times };
  }
  let head = commonHead(bytes, before);
  // A pyc's header is not written when it stays: a pyc planned a second time (plan-tree.ts)
  // differs from its first plan in the header only, so that the two records can be applied in
  // either order, or at once.
  if (head < KEEP_HEAD) head = kind === 'pyc' ? Math.min(head, PYC_HEADER_MAX) : 0;
  if (head === 0) return { op: 'write', rel, data: bytes, mode: st.mode, ...times };
  return { op: 'write', rel, data: bytes.subarray(head), offset: head, mode: st.mode, ...times };
}

/**
 * A real run's sink: each edit goes into the journal as the planner makes it, and only its path
 * and kind stay in memory. The journal is opened at the first edit (a run with nothing to change
 * writes none). After `commitAndApply` the records are read back from the committed journal one
 * by one, so applying takes bounded memory too.
 */
export class JournalSink implements EditSink {
  /** The edits made, for the report. */
  readonly changes = new EditLog();
  /** Time spent appending this thread's own edits (inside planning, unlike other threads' frames). */
  appendMs = 0;
  private writer: JournalWriter | undefined;
  private committed = false;

  constructor(
    private readonly rootAbs: ByteString,
    private readonly header: JournalHeader,
    private readonly timings: { journal: number; apply: number },
  ) {}

  write(rel: ByteString, kind: FileKind, bytes: Buffer, before: Buffer, st: FileStat): void {
    this.append(writeRecord(rel, kind, bytes, before, st));
    this.changes.add(rel, kind, 'write');
  }

  /** Frames another thread encoded, with the edits they hold (packed by its EditLog). */
  appendFrames(frames: Buffer, crcs: ArrayLike<number>, changes: Uint8Array): void {
    const t = performance.now();
    this.writer ??= new JournalWriter(this.rootAbs, this.header);
    this.writer.appendFrames(frames, crcs);
    this.changes.addPacked(changes);
    this.timings.journal += performance.now() - t;
  }

  symlink(rel: ByteString, target: ByteString): void {
    this.append({ op: 'symlink', rel, target });
    this.changes.add(rel, 'symlink', 'symlink');
  }

  remove(rel: ByteString, _reason: string, regenerate?: Regeneration): void {
    this.append(
      regenerate === undefined ? { op: 'remove', rel } : { op: 'regenerate', rel, job: regenerate },
    );
    this.changes.add(rel, 'pyc-removed', 'remove');
  }

  private append(r: JournalRecord): void {
    const t = performance.now();
    this.writer ??= new JournalWriter(this.rootAbs, this.header);
    this.writer.append(r);
    const ms = performance.now() - t;
    this.timings.journal += ms;
    this.appendMs += ms;
  }

  /**
   * Commit the journal, apply it record by record, compile again the pycs `regenerate` lists
   * (the journal's `regenerate` records, made on either thread), and remove it. With a helper
   * (the planning worker, still running), both threads claim chunks of it from a shared counter
   * until none is left. Returns why each pyc was not compiled again (undefined when it was).
   */
  commitAndApply(
    onProgress?: (phase: string, done: number, total: number) => void,
    helper?: ApplyHelper,
    regenerate: readonly RegenerateJob[] = [],
  ): Array<string | undefined> {
    const w = this.writer;
    if (w === undefined) return [];
    let t = performance.now();
    trace('plan totals', true);
    w.commit();
    trace('committed');
    this.committed = true;
    markCommitted();
    this.timings.journal += performance.now() - t;
    t = performance.now();
    const bounds = w.chunks();
    let next = 0;
    const claim = helper === undefined ? () => next++ : () => helper.claim();
    if (helper !== undefined) helper.start(bounds);
    let mine = 0;
    try {
      applyCommitted(this.rootAbs, bounds, claim, (done) => {
        mine = done;
        onProgress?.('apply', done + (helper?.applied() ?? 0), w.count);
      });
    } catch (err) {
      helper?.stop();
      throw err;
    }
    trace('apply totals', true);
    helper?.wait();
    // Every record applied by one thread or the other, or the journal stays for the next run
    // to finish: a relocation is never declared done on a part of its records.
    const applied = mine + (helper?.applied() ?? 0);
    if (applied !== w.count) {
      throw new VenvToolsError(
        'JOURNAL',
        `applied ${applied} of the journal's ${w.count} records. The journal ${w.shown} is kept: run venv-tools on this venv again and it finishes the relocation. This is a bug in venv-tools; please report it.`,
        w.shown,
      );
    }
    // Before the journal goes: a run killed while compiling leaves it, and the next run applies
    // it again and compiles them again.
    const failed = regeneratePycs(this.rootAbs, regenerate);
    if (regenerate.length > 0) trace('pycs compiled again');
    removeJournal(w.pathBuf, w.shown, 'every file is already written');
    trace('journal removed');
    this.timings.apply += performance.now() - t;
    return failed;
  }

  /** Planning failed: remove the uncommitted journal. A committed one stays for the next run. */
  abort(): void {
    if (!this.committed) this.writer?.abort();
  }
}

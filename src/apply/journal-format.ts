import { crc32 } from 'node:zlib';
import { toBytes, type ByteString } from '../core/path-boundary.js';
import type { Regeneration } from '../plan/planner.js';

/**
 * The write-ahead (redo) journal (docs/JOURNAL.md). One file in the venv root:
 *
 *   MAGIC | u32 header-length | header JSON | frame* | FOOTER_MAGIC | u32 count | f64 body-length | u32 crc
 *
 * A frame is `u32 length | record | u32 crc32 of the record`, and a record is
 * `u8 op | u32 path-length | path bytes | op fields`. The footer's crc is the crc32 of the bytes
 * before the first frame followed by every frame's crc (as u32 LE): with each frame checked
 * against its own crc, that vouches for the whole body in one pass over the data, both when
 * writing and when checking. Only a journal whose footer checks out is committed; anything else
 * is discarded, since nothing is applied before the footer is written.
 *
 * Format 1 (magic `VENV-TOOLS JOURNAL 1`, one crc over the whole body and a crc per record
 * without a length) is still read, so a run interrupted under an older venv-tools can be finished.
 */

export const JOURNAL_NAME = '.venv-tools.journal';
export const MAGIC = Buffer.from('VENV-TOOLS JOURNAL 2\n', 'latin1');
export const MAGIC_V1 = Buffer.from('VENV-TOOLS JOURNAL 1\n', 'latin1');
export const FOOTER_MAGIC = Buffer.from('\nCOMMITTED\n', 'latin1');
export const FOOTER_SIZE = FOOTER_MAGIC.length + 4 + 8 + 4;
/** Writes are gathered into one buffer of this size; data this large or larger goes straight out. */
export const WRITE_BATCH = 1 << 20;
/** The size of a FrameBatch's buffer. */
export const BATCH_SIZE = WRITE_BATCH;
/** About how much of a committed journal one thread applies before it claims more. */
export const CHUNK_BYTES = 1 << 20;
export const CHUNK_RECORDS = 256;
export const DIRECT = WRITE_BATCH >> 2;

/** One redo record. Paths are relative to the venv root. */
export type JournalRecord =
  | {
      /** Overwrite in place, truncate, restore times: keeps inode, mode, owner, xattrs. */
      readonly op: 'write';
      readonly rel: ByteString;
      readonly data: Buffer;
      readonly atimeMs: number;
      readonly mtimeMs: number;
      /**
       * The file's mode before the run. Applying a read-only file lends it u+w for the write;
       * with the mode in the journal, a recovery after a crash in between puts it back.
       */
      readonly mode?: number;
      /**
       * Where `data` goes: the file's first `offset` bytes stay as they are, and it ends after
       * `data`. A rewritten pyc keeps its head up to the first path it holds (about a quarter of
       * it), which then is neither journaled nor written again. 0 when absent.
       */
      readonly offset?: number;
    }
  | {
      /** A file with other hard links: a new file renamed over it, so the other links keep theirs. */
      readonly op: 'replace';
      readonly rel: ByteString;
      readonly data: Buffer;
      readonly mode: number;
      readonly uid: number;
      readonly gid: number;
      readonly atimeMs: number;
      readonly mtimeMs: number;
    }
  | { readonly op: 'symlink'; readonly rel: ByteString; readonly target: ByteString }
  | { readonly op: 'remove'; readonly rel: ByteString }
  | {
      /**
       * A pyc that could not be kept: removed when applied, like `remove`, and compiled again
       * from its source by the venv's own interpreter once every record is applied, before the
       * journal goes (regenerate-pycs.ts). A recovery applies and compiles it again.
       */
      readonly op: 'regenerate';
      readonly rel: ByteString;
      readonly job: Regeneration;
    };

export interface JournalHeader {
  readonly old: string;
  readonly new: string;
  readonly pid: number;
  readonly created: string;
  readonly command: string;
}

// 5 is a write record that carries the file's mode; 1 (without) stays for records whose file
// could not be stat'ed when the journal was written. 6 is a write from an offset, with the mode.
// 7 removes a pyc that the venv's interpreter compiles again once every record is applied.
export const OPS = { write: 1, replace: 2, symlink: 3, remove: 4, regenerate: 7 } as const;
export const WRITE_WITH_MODE = 5;
export const WRITE_TAIL = 6;

export function writeOp(r: Extract<JournalRecord, { op: 'write' }>): number {
  if (r.offset !== undefined && r.offset > 0) return WRITE_TAIL;
  return r.mode === undefined ? OPS.write : WRITE_WITH_MODE;
}

/** The size of a record's fields before its data (or all of it, for records without data). */
export function fieldsSize(r: JournalRecord, path: Buffer): number {
  const base = 1 + 4 + path.length;
  switch (r.op) {
    case 'write': {
      const op = writeOp(r);
      return base + (op === OPS.write ? 0 : 4) + 8 + 8 + (op === WRITE_TAIL ? 8 : 0) + 8;
    }
    case 'replace':
      return base + 4 * 3 + 8 * 3;
    case 'symlink':
      return base + 4 + Buffer.byteLength(r.target, 'latin1');
    case 'remove':
      return base;
    case 'regenerate':
      return (
        base +
        2 +
        12 +
        [r.job.source, r.job.dfile, r.job.tag].reduce(
          (n, f) => n + Buffer.byteLength(f, 'latin1'),
          0,
        )
      );
  }
}

/** Write a record's fields (everything but its data) into `b` at `at`; returns the end. */
export function putFields(b: Buffer, at: number, r: JournalRecord, path: Buffer): number {
  let o = at;
  const op = r.op === 'write' ? writeOp(r) : OPS[r.op];
  b[o++] = op;
  o = b.writeUInt32LE(path.length, o);
  o += path.copy(b, o);
  switch (r.op) {
    case 'write':
      if (op !== OPS.write) o = b.writeUInt32LE((r.mode ?? 0) >>> 0, o);
      o = b.writeDoubleLE(r.atimeMs, o);
      o = b.writeDoubleLE(r.mtimeMs, o);
      if (op === WRITE_TAIL) o = b.writeDoubleLE(r.offset as number, o);
      o = b.writeDoubleLE(r.data.length, o);
      break;
    case 'replace':
      o = b.writeUInt32LE(r.mode >>> 0, o);
      o = b.writeUInt32LE(r.uid >>> 0, o);
      o = b.writeUInt32LE(r.gid >>> 0, o);
      o = b.writeDoubleLE(r.atimeMs, o);
      o = b.writeDoubleLE(r.mtimeMs, o);
      o = b.writeDoubleLE(r.data.length, o);
      break;
    case 'symlink':
      o = b.writeUInt32LE(Buffer.byteLength(r.target, 'latin1'), o);
      o += b.write(r.target, o, 'latin1');
      break;
    case 'remove':
      break;
    case 'regenerate':
      b[o++] = r.job.invalidation;
      b[o++] = r.job.optimize;
      for (const f of [r.job.source, r.job.dfile, r.job.tag]) {
        o = b.writeUInt32LE(Buffer.byteLength(f, 'latin1'), o);
        o += b.write(f, o, 'latin1');
      }
      break;
  }
  return o;
}

/** The bytes a record takes in the journal: length, record, crc. */
export function frameSize(r: JournalRecord): number {
  const data = r.op === 'write' || r.op === 'replace' ? r.data.length : 0;
  return 4 + fieldsSize(r, toBytes(r.rel)) + data + 4;
}

/** Write a frame's length and the record's fields (not its data) at `at`; returns their end. */
export function encodeFrameHead(b: Buffer, at: number, r: JournalRecord): number {
  const path = toBytes(r.rel);
  const data = r.op === 'write' || r.op === 'replace' ? r.data.length : 0;
  b.writeUInt32LE(fieldsSize(r, path) + data, at);
  return putFields(b, at + 4, r, path);
}

/** Write a whole frame at `at` (the caller made room for frameSize(r)); its end and crc. */
export function encodeFrame(b: Buffer, at: number, r: JournalRecord): { end: number; crc: number } {
  let end = encodeFrameHead(b, at, r);
  if (r.op === 'write' || r.op === 'replace') end += r.data.copy(b, end);
  const crc = crc32(b.subarray(at + 4, end));
  return { end: b.writeUInt32LE(crc, end), crc };
}

/** Reading a journal back: checking that it committed, and its records one by one (journal-format.ts). */
import { crc32 } from 'node:zlib';
import { fs } from '../core/fs.js';
import {
  FOOTER_MAGIC,
  FOOTER_SIZE,
  type JournalHeader,
  type JournalRecord,
  MAGIC,
  MAGIC_V1,
  OPS,
  WRITE_BATCH,
  WRITE_TAIL,
  WRITE_WITH_MODE,
} from './journal-format.js';
import { type ByteString } from '../core/path-boundary.js';

/**
 * A committed journal's bytes, as a buffer in memory or read from an open file through a window
 * that slides (so reading a large journal back takes bounded memory).
 */
export class JournalBytes {
  private window: Buffer;
  private winStart = 0;
  private winEnd = 0;

  constructor(
    readonly size: number,
    private readonly source: Buffer | number,
  ) {
    this.window = Buffer.isBuffer(source) ? source : Buffer.allocUnsafe(WRITE_BATCH);
    if (Buffer.isBuffer(source)) this.winEnd = source.length;
  }

  /** Close the file it reads (nothing for bytes in memory). */
  close(): void {
    if (!Buffer.isBuffer(this.source)) fs.closeSync(this.source);
  }

  /** `n` bytes at `pos`; the view is valid until the next call. */
  at(pos: number, n: number): Buffer {
    const o = this.reach(pos, n);
    return this.window.subarray(o, o + n);
  }

  /** The unsigned 32-bit integer at `pos` (little-endian), read without making a view. */
  u32(pos: number): number {
    return this.window.readUInt32LE(this.reach(pos, 4));
  }

  /** The double at `pos` (little-endian). */
  f64(pos: number): number {
    return this.window.readDoubleLE(this.reach(pos, 8));
  }

  /** The byte at `pos`. */
  u8(pos: number): number {
    return this.window[this.reach(pos, 1)] as number;
  }

  /** `n` bytes at `pos` as a byte string. */
  latin1(pos: number, n: number): ByteString {
    const o = this.reach(pos, n);
    return this.window.toString('latin1', o, o + n);
  }

  /** Bring [pos, pos + n) into the window; where `pos` lies in it. */
  private reach(pos: number, n: number): number {
    if (!Number.isInteger(n) || n < 0 || pos + n > this.size) throw new Error('truncated record');
    if (pos >= this.winStart && pos + n <= this.winEnd) return pos - this.winStart;
    const fd = this.source as number;
    if (n > this.window.length) this.window = Buffer.allocUnsafe(n);
    const want = Math.min(this.window.length, this.size - pos);
    let got = 0;
    while (got < want) {
      const m = fs.readSync(fd, this.window, got, want - got, pos + got);
      if (m === 0) throw new Error('truncated record');
      got += m;
    }
    this.winStart = pos;
    this.winEnd = pos + got;
    return 0;
  }
}

/** A committed journal read back, or undefined when there is none or it never committed. */
export interface ReadJournal {
  readonly header: JournalHeader;
  readonly records: JournalRecord[];
}

/**
 * A journal whose footer and checksums hold (so it is committed, and files may be half-written)
 * but whose records this version cannot read: most likely written by a newer venv-tools. It must
 * be neither applied nor discarded.
 */
export class UnreadableJournalError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'UnreadableJournalError';
  }
}

/** A committed journal: its header, and where its frames lie. */
export interface CommittedJournal {
  readonly header: JournalHeader;
  /** The number of records, counted while checking (the footer's count is not checksummed). */
  readonly count: number;
  readonly version: 1 | 2;
  readonly bodyStart: number;
  readonly bodyEnd: number;
}

/** Refuse a field that would run past its record's end. */
function within(p: number, n: number, end: number): number {
  if (p + n > end) throw new Error('truncated record');
  return p;
}

/**
 * Decode one record (op and fields, then its data), as format 2 frames and format 1 hold it;
 * `decoded.end` is where it ends. Fields are read straight from the window (this runs once per
 * file a relocation writes, twice per file after a crash).
 */
function decodeRecord(
  src: JournalBytes,
  pos: number,
  end: number,
  decoded: { end: number },
): JournalRecord {
  const op = src.u8(within(pos, 1, end));
  const relLen = src.u32(within(pos + 1, 4, end));
  const rel = src.latin1(within(pos + 5, relLen, end), relLen);
  let p = pos + 5 + relLen;
  let rec: JournalRecord;
  if (op === OPS.write || op === WRITE_WITH_MODE || op === WRITE_TAIL) {
    let mode: number | undefined;
    if (op !== OPS.write) {
      mode = src.u32(within(p, 4, end));
      p += 4;
    }
    const atimeMs = src.f64(within(p, 8, end));
    const mtimeMs = src.f64(within(p + 8, 8, end));
    p += 16;
    let offset = 0;
    if (op === WRITE_TAIL) {
      offset = src.f64(within(p, 8, end));
      p += 8;
      if (!Number.isSafeInteger(offset) || offset < 0) throw new Error('bad offset');
    }
    const n = src.f64(within(p, 8, end));
    const data = src.at(within(p + 8, n, end), n);
    p += 8 + n;
    // One object per record, of one of four shapes (no copies to add a field).
    if (mode === undefined) {
      rec =
        offset > 0
          ? { op: 'write', rel, atimeMs, mtimeMs, data, offset }
          : { op: 'write', rel, atimeMs, mtimeMs, data };
    } else {
      rec =
        offset > 0
          ? { op: 'write', rel, atimeMs, mtimeMs, data, mode, offset }
          : { op: 'write', rel, atimeMs, mtimeMs, data, mode };
    }
  } else if (op === OPS.replace) {
    const mode = src.u32(within(p, 4, end));
    const uid = src.u32(within(p + 4, 4, end));
    const gid = src.u32(within(p + 8, 4, end));
    const atimeMs = src.f64(within(p + 12, 8, end));
    const mtimeMs = src.f64(within(p + 20, 8, end));
    const n = src.f64(within(p + 28, 8, end));
    const data = src.at(within(p + 36, n, end), n);
    p += 36 + n;
    rec = { op: 'replace', rel, mode, uid, gid, atimeMs, mtimeMs, data };
  } else if (op === OPS.symlink) {
    const n = src.u32(within(p, 4, end));
    rec = { op: 'symlink', rel, target: src.latin1(within(p + 4, n, end), n) };
    p += 4 + n;
  } else if (op === OPS.remove) {
    rec = { op: 'remove', rel };
  } else if (op === OPS.regenerate) {
    const invalidation = src.u8(within(p, 1, end));
    const optimize = src.u8(within(p + 1, 1, end));
    p += 2;
    const fields: ByteString[] = [];
    for (let i = 0; i < 3; i++) {
      const n = src.u32(within(p, 4, end));
      fields.push(src.latin1(within(p + 4, n, end), n));
      p += 4 + n;
    }
    if (invalidation !== 0 && invalidation !== 1 && invalidation !== 3) {
      throw new Error('bad invalidation mode');
    }
    const [source, dfile, tag] = fields as [ByteString, ByteString, ByteString];
    rec = { op: 'regenerate', rel, job: { source, dfile, invalidation, optimize, tag } };
  } else {
    throw new UnreadableJournalError(`a record has an unknown type ${op}`);
  }
  decoded.end = p;
  return rec;
}

/**
 * Check a journal: undefined when it never committed (footer missing, a length or checksum that
 * fails); throws UnreadableJournalError for a committed journal whose records this version
 * cannot read. Reads it once, through `src`'s window.
 */
export function checkJournal(src: JournalBytes): CommittedJournal | undefined {
  const size = src.size;
  if (size < MAGIC.length + 4 + FOOTER_SIZE) return undefined;
  const fstart = size - FOOTER_SIZE;
  const footer = Buffer.from(src.at(fstart, FOOTER_SIZE));
  if (!footer.subarray(0, FOOTER_MAGIC.length).equals(FOOTER_MAGIC)) return undefined;
  const bodyLen = footer.readDoubleLE(FOOTER_MAGIC.length + 4);
  const want = footer.readUInt32LE(FOOTER_MAGIC.length + 12);
  if (bodyLen !== fstart) return undefined;
  const magic = Buffer.from(src.at(0, MAGIC.length));
  const version = magic.equals(MAGIC) ? 2 : magic.equals(MAGIC_V1) ? 1 : undefined;
  if (version === undefined) {
    // Another format of ours with a committing footer: a newer venv-tools wrote it.
    const name = magic.toString('latin1');
    if (/^VENV-TOOLS JOURNAL \d+[\n\d]$/.test(name)) {
      throw new UnreadableJournalError(`its format is ${JSON.stringify(name.trim())}`);
    }
    return undefined;
  }
  const hlen = src.u32(MAGIC.length);
  const bodyStart = MAGIC.length + 4 + hlen;
  if (bodyStart > fstart || checksum(src, version, bodyStart, fstart) !== want) return undefined;
  try {
    const header = JSON.parse(src.at(MAGIC.length + 4, hlen).toString('utf8')) as JournalHeader;
    // Committed. From here on, a record this version cannot read is refused, never discarded.
    let count = 0;
    const all = frames(src, { version, bodyStart, bodyEnd: fstart });
    while (all.next().done !== true) count++;
    return { header, count, version, bodyStart, bodyEnd: fstart };
  } catch (err) {
    if (err instanceof UnreadableJournalError) throw err;
    if (err instanceof SyntaxError) throw new UnreadableJournalError(`its header: ${err.message}`);
    throw new UnreadableJournalError((err as Error).message);
  }
}

/**
 * The checksum the footer must hold, or undefined when the frames do not tile the body or one
 * fails its own checksum (format 2). Format 1: the crc of the whole body.
 */
function checksum(
  src: JournalBytes,
  version: 1 | 2,
  bodyStart: number,
  bodyEnd: number,
): number | undefined {
  const crcOf = (from: number, to: number, seed = 0) => {
    let c = seed;
    for (let q = from; q < to; q += WRITE_BATCH) {
      c = crc32(src.at(q, Math.min(WRITE_BATCH, to - q)), c);
    }
    return c;
  };
  if (version === 1) return crcOf(0, bodyEnd);
  let crc = crcOf(0, bodyStart);
  const crcBytes = Buffer.allocUnsafe(4);
  for (let p = bodyStart; p < bodyEnd;) {
    if (p + 8 > bodyEnd) return undefined;
    const len = src.u32(p);
    if (p + 8 + len > bodyEnd) return undefined;
    const c = crcOf(p + 4, p + 4 + len);
    if (src.u32(p + 4 + len) !== c) return undefined;
    crcBytes.writeUInt32LE(c, 0);
    crc = crc32(crcBytes, crc);
    p += 8 + len;
  }
  return crc;
}

/**
 * The records of a committed journal, in order. Each record's data is a view that is valid only
 * until the next one is read.
 */
export function* frames(
  src: JournalBytes,
  where: Pick<CommittedJournal, 'version' | 'bodyStart' | 'bodyEnd'>,
): Generator<JournalRecord> {
  const decoded = { end: 0 };
  let i = 0;
  for (let p = where.bodyStart; p < where.bodyEnd; i++) {
    let rec: JournalRecord;
    try {
      if (where.version === 2) {
        const len = src.u32(p);
        rec = decodeRecord(src, p + 4, p + 4 + len, decoded);
        if (decoded.end !== p + 4 + len) throw new Error('a record longer than its fields');
      } else {
        rec = decodeRecord(src, p, where.bodyEnd, decoded);
      }
    } catch (err) {
      if (err instanceof UnreadableJournalError) {
        throw new UnreadableJournalError(`record ${i}: ${err.message}`);
      }
      throw err;
    }
    p = decoded.end + 4;
    yield rec;
  }
}

/**
 * Parse a journal file's bytes; undefined when it never committed. Throws UnreadableJournalError
 * for a committed journal whose records cannot be read. Each record's data is its own copy.
 */
export function parseJournal(buf: Buffer): ReadJournal | undefined {
  const src = new JournalBytes(buf.length, buf);
  const j = checkJournal(src);
  if (j === undefined) return undefined;
  const records: JournalRecord[] = [];
  for (const r of frames(src, j)) {
    records.push(r.op === 'write' || r.op === 'replace' ? { ...r, data: Buffer.from(r.data) } : r);
  }
  return { header: j.header, records };
}

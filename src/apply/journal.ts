import { crc32 } from 'node:zlib';
import { fs } from '../core/fs.js';
import { errnoOf, VenvToolsError } from '../core/errors.js';
import { bytesToUtf8, toBytes, type ByteString } from '../core/path-boundary.js';

/**
 * The write-ahead (redo) journal (DESIGN.md "Applying"). One file in the venv root:
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
const MAGIC = Buffer.from('VENV-TOOLS JOURNAL 2\n', 'latin1');
const MAGIC_V1 = Buffer.from('VENV-TOOLS JOURNAL 1\n', 'latin1');
const FOOTER_MAGIC = Buffer.from('\nCOMMITTED\n', 'latin1');
const FOOTER_SIZE = FOOTER_MAGIC.length + 4 + 8 + 4;
/** Writes are gathered into one buffer of this size; data this large or larger goes straight out. */
const WRITE_BATCH = 1 << 20;
/** The size of a FrameBatch's buffer. */
export const BATCH_SIZE = WRITE_BATCH;
/** About how much of a committed journal one thread applies before it claims more. */
const CHUNK_BYTES = 1 << 20;
const CHUNK_RECORDS = 256;
const DIRECT = WRITE_BATCH >> 2;

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
  | { readonly op: 'remove'; readonly rel: ByteString };

export interface JournalHeader {
  readonly old: string;
  readonly new: string;
  readonly pid: number;
  readonly created: string;
  readonly command: string;
}

// 5 is a write record that carries the file's mode; 1 (without) stays for records whose file
// could not be stat'ed when the journal was written. 6 is a write from an offset, with the mode.
const OPS = { write: 1, replace: 2, symlink: 3, remove: 4 } as const;
const WRITE_WITH_MODE = 5;
const WRITE_TAIL = 6;

function writeOp(r: Extract<JournalRecord, { op: 'write' }>): number {
  if (r.offset !== undefined && r.offset > 0) return WRITE_TAIL;
  return r.mode === undefined ? OPS.write : WRITE_WITH_MODE;
}

/** The size of a record's fields before its data (or all of it, for records without data). */
function fieldsSize(r: JournalRecord, path: Buffer): number {
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
  }
}

/** Write a record's fields (everything but its data) into `b` at `at`; returns the end. */
function putFields(b: Buffer, at: number, r: JournalRecord, path: Buffer): number {
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
  }
  return o;
}

/** The bytes a record takes in the journal: length, record, crc. */
export function frameSize(r: JournalRecord): number {
  const data = r.op === 'write' || r.op === 'replace' ? r.data.length : 0;
  return 4 + fieldsSize(r, toBytes(r.rel)) + data + 4;
}

/** Write a frame's length and the record's fields (not its data) at `at`; returns their end. */
function encodeFrameHead(b: Buffer, at: number, r: JournalRecord): number {
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

/**
 * Frames encoded away from the journal (on a worker thread), to be handed over in batches of
 * about 1 MiB and written by JournalWriter.appendFrames.
 */
export class FrameBatch {
  private buf: Buffer;
  private used = 0;
  private crcs: number[] = [];

  /**
   * `nextBuffer` gives the buffer of each batch (BATCH_SIZE bytes): a slot of a ring shared with
   * the thread that writes them, say, so that no batch allocates. A frame too large for one gets
   * a buffer of its own.
   */
  constructor(private readonly nextBuffer: () => Buffer = () => Buffer.allocUnsafe(BATCH_SIZE)) {
    this.buf = nextBuffer();
  }

  /** Add a record (with its mode: a batch cannot stat); returns a full batch to hand over. */
  add(r: JournalRecord): { bytes: Buffer; crcs: number[] } | undefined {
    const size = frameSize(r);
    let full: { bytes: Buffer; crcs: number[] } | undefined;
    if (this.used + size > this.buf.length && this.used > 0) full = this.take();
    if (size > this.buf.length) this.buf = Buffer.allocUnsafe(size);
    const { end, crc } = encodeFrame(this.buf, this.used, r);
    this.used = end;
    this.crcs.push(crc);
    return full;
  }

  /** The frames gathered so far (the buffer is handed over: a new one takes its place). */
  take(): { bytes: Buffer; crcs: number[] } {
    const out = { bytes: this.buf.subarray(0, this.used), crcs: this.crcs };
    this.buf = this.nextBuffer();
    this.used = 0;
    this.crcs = [];
    return out;
  }
}

function journalError(path: string, action: string, err: unknown, next: string): VenvToolsError {
  return new VenvToolsError(
    'JOURNAL',
    `cannot ${action} the journal ${path}: ${errnoOf(err) ?? (err as Error).message}; ${next}`,
    path,
  );
}

/** A write record with its file's current mode, when the caller gave none and the file is there. */
function withMode(rootAbs: ByteString, r: JournalRecord): JournalRecord {
  if (r.op !== 'write' || r.mode !== undefined) return r;
  let mode: number;
  try {
    mode = fs.lstatSync(toBytes(`${rootAbs}/${r.rel}`)).mode;
  } catch {
    return r;
  }
  return { ...r, mode };
}

/**
 * A journal written record by record, so that no run holds every new content at once: records
 * are gathered in one 1 MiB buffer, large data goes straight to the file. Nothing in the venv is
 * touched while it is written; `commit` writes the footer, `abort` removes the partial journal.
 * Any failure removes it too and throws a VenvToolsError that names it.
 */
export class JournalWriter {
  private fd: number | undefined;
  private readonly buf = Buffer.allocUnsafe(WRITE_BATCH);
  private used = 0;
  private body = 0;
  private bodyStart = 0;
  /** Where each append began: offset, records before it (pairs). */
  private readonly cuts: number[] = [];
  private footCrc = 0;
  private readonly crcBytes = Buffer.allocUnsafe(4);
  /** Records appended so far. */
  count = 0;
  readonly pathBuf: Buffer;
  readonly shown: string;

  constructor(
    readonly rootAbs: ByteString,
    header: JournalHeader,
  ) {
    this.pathBuf = toBytes(`${rootAbs}/${JOURNAL_NAME}`);
    this.shown = bytesToUtf8(`${rootAbs}/${JOURNAL_NAME}`);
    this.guard(() => {
      this.fd = fs.openSync(
        this.pathBuf,
        fs.constants.O_WRONLY |
          fs.constants.O_CREAT |
          fs.constants.O_TRUNC |
          fs.constants.O_NOFOLLOW,
        0o600,
      );
      const json = Buffer.from(JSON.stringify(header), 'utf8');
      const head = Buffer.allocUnsafe(MAGIC.length + 4 + json.length);
      MAGIC.copy(head, 0);
      head.writeUInt32LE(json.length, MAGIC.length);
      json.copy(head, MAGIC.length + 4);
      this.footCrc = crc32(head);
      this.body = head.length;
      this.bodyStart = head.length;
      this.put(head);
    });
  }

  /** Append one record. */
  append(record: JournalRecord): void {
    this.guard(() => {
      this.cuts.push(this.body, this.count);
      const r = withMode(this.rootAbs, record);
      const size = frameSize(r);
      const data = r.op === 'write' || r.op === 'replace' ? r.data : undefined;
      let crc: number;
      if (data === undefined || data.length < DIRECT) {
        if (this.used + size > WRITE_BATCH) this.flush();
        ({ end: this.used, crc } = encodeFrame(this.buf, this.used, r));
      } else {
        // Large data goes straight to the file, without a copy: the frame's head, then it.
        if (this.used + (size - data.length) > WRITE_BATCH) this.flush();
        const start = this.used;
        const fieldsEnd = encodeFrameHead(this.buf, start, r);
        crc = crc32(data, crc32(this.buf.subarray(start + 4, fieldsEnd)));
        this.used = fieldsEnd;
        this.flush();
        this.writeOut(data);
        this.crcBytes.writeUInt32LE(crc, 0);
        this.writeOut(this.crcBytes);
      }
      this.body += size;
      this.addCrc(crc);
    });
  }

  /** Append frames another thread encoded (a FrameBatch's bytes and each frame's crc). */
  appendFrames(frames: Buffer, crcs: ArrayLike<number>): void {
    this.guard(() => {
      this.cuts.push(this.body, this.count);
      this.flush();
      this.writeOut(frames);
      this.body += frames.length;
      for (let i = 0; i < crcs.length; i++) this.addCrc(crcs[i] as number);
    });
  }

  /**
   * Frame boundaries that cut the records into runs of about CHUNK_BYTES (or CHUNK_RECORDS
   * records), first to last offset: for two threads to apply, each claiming the next run, so
   * that both finish together.
   */
  chunks(): number[] {
    const out = [this.bodyStart];
    let lastCount = 0;
    for (let i = 0; i < this.cuts.length; i += 2) {
      const at = this.cuts[i] as number;
      const n = this.cuts[i + 1] as number;
      if (at - (out[out.length - 1] as number) >= CHUNK_BYTES || n - lastCount >= CHUNK_RECORDS) {
        out.push(at);
        lastCount = n;
      }
    }
    if (this.body > (out[out.length - 1] as number)) out.push(this.body);
    return out;
  }

  private addCrc(crc: number): void {
    this.crcBytes.writeUInt32LE(crc, 0);
    this.footCrc = crc32(this.crcBytes, this.footCrc);
    this.count++;
  }

  /**
   * Write the footer: from here on the journal is committed and the next run redoes it. Returns
   * where its frames lie, to read them back.
   */
  commit(): Pick<CommittedJournal, 'version' | 'bodyStart' | 'bodyEnd'> {
    this.guard(() => {
      this.flush();
      // The footer goes in a write of its own, after everything it vouches for.
      const f = Buffer.allocUnsafe(FOOTER_SIZE);
      FOOTER_MAGIC.copy(f, 0);
      let o = f.writeUInt32LE(this.count >>> 0, FOOTER_MAGIC.length);
      o = f.writeDoubleLE(this.body, o);
      f.writeUInt32LE(this.footCrc, o);
      this.writeOut(f);
      fs.closeSync(this.fd as number);
      this.fd = undefined;
    });
    return { version: 2, bodyStart: this.bodyStart, bodyEnd: this.body };
  }

  /** Remove the uncommitted journal (planning failed); nothing in the venv was touched. */
  abort(): void {
    this.closeAndRemove();
  }

  private put(b: Buffer): void {
    if (this.used + b.length > WRITE_BATCH) this.flush();
    if (b.length >= WRITE_BATCH) {
      this.writeOut(b);
    } else {
      b.copy(this.buf, this.used);
      this.used += b.length;
    }
  }

  private flush(): void {
    if (this.used === 0) return;
    this.writeOut(this.buf.subarray(0, this.used));
    this.used = 0;
  }

  private writeOut(b: Buffer): void {
    let off = 0;
    while (off < b.length) off += fs.writeSync(this.fd as number, b, off, b.length - off);
  }

  private closeAndRemove(): void {
    if (this.fd !== undefined) {
      try {
        fs.closeSync(this.fd);
      } catch {
        // already failing; the unlink below matters more
      }
      this.fd = undefined;
    }
    try {
      fs.unlinkSync(this.pathBuf);
    } catch {
      // nothing to remove
    }
  }

  private guard(step: () => void): void {
    try {
      step();
    } catch (err) {
      this.closeAndRemove();
      throw journalError(
        this.shown,
        'write',
        err,
        'nothing was changed; free space or fix permissions in the venv and run again',
      );
    }
  }
}

/**
 * Write the journal and its committing footer. On any failure the partial journal is removed
 * and a VenvToolsError names it; nothing in the venv has been touched at that point.
 */
export function writeJournal(
  rootAbs: ByteString,
  header: JournalHeader,
  records: readonly JournalRecord[],
): void {
  const w = new JournalWriter(rootAbs, header);
  for (const r of records) w.append(r);
  w.commit();
}

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

import { crc32 } from 'node:zlib';
import { fs } from '../fs.js';
import { errnoOf, VenvToolsError } from '../errors.js';
import { bytesToUtf8, toBytes, fromBytes, type ByteString } from '../path-boundary.js';

/**
 * The write-ahead (redo) journal (DESIGN.md "Applying"). One file in the venv root:
 *
 *   MAGIC | u32 header-length | header JSON | record* | FOOTER_MAGIC | u32 count | f64 body-length | u32 crc
 *
 * A record is: u8 op | u32 path-length | path bytes | op fields | u32 crc32 of the record so far.
 * Only a journal whose footer checks out is committed; anything else is discarded unread, since
 * nothing is applied before the footer is written.
 */

export const JOURNAL_NAME = '.venv-tools.journal';
const MAGIC = Buffer.from('VENV-TOOLS JOURNAL 1\n', 'latin1');
const FOOTER_MAGIC = Buffer.from('\nCOMMITTED\n', 'latin1');
const FOOTER_SIZE = FOOTER_MAGIC.length + 4 + 8 + 4;
const WRITE_BATCH = 1 << 20;

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
// could not be stat'ed when the journal was written.
const OPS = { write: 1, replace: 2, symlink: 3, remove: 4 } as const;
const WRITE_WITH_MODE = 5;

function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

function f64(n: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeDoubleLE(n);
  return b;
}

function encodeRecord(r: JournalRecord): Buffer[] {
  const path = toBytes(r.rel);
  const op = r.op === 'write' && r.mode !== undefined ? WRITE_WITH_MODE : OPS[r.op];
  const parts: Buffer[] = [Buffer.from([op]), u32(path.length), path];
  switch (r.op) {
    case 'write':
      if (r.mode !== undefined) parts.push(u32(r.mode));
      parts.push(f64(r.atimeMs), f64(r.mtimeMs), f64(r.data.length), r.data);
      break;
    case 'replace':
      parts.push(
        u32(r.mode),
        u32(r.uid),
        u32(r.gid),
        f64(r.atimeMs),
        f64(r.mtimeMs),
        f64(r.data.length),
        r.data,
      );
      break;
    case 'symlink': {
      const t = toBytes(r.target);
      parts.push(u32(t.length), t);
      break;
    }
    case 'remove':
      break;
  }
  let crc = 0;
  for (const p of parts) crc = crc32(p, crc);
  parts.push(u32(crc));
  return parts;
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
 * Write the journal and its committing footer. On any failure the partial journal is removed
 * and a VenvToolsError names it; nothing in the venv has been touched at that point.
 */
export function writeJournal(
  rootAbs: ByteString,
  header: JournalHeader,
  records: readonly JournalRecord[],
): void {
  const pathBuf = toBytes(`${rootAbs}/${JOURNAL_NAME}`);
  const shown = bytesToUtf8(`${rootAbs}/${JOURNAL_NAME}`);
  let fd: number | undefined;
  try {
    fd = fs.openSync(
      pathBuf,
      fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_NOFOLLOW,
      0o600,
    );
    const headerJson = Buffer.from(JSON.stringify(header), 'utf8');
    let body = 0;
    let crc = 0;
    // Records are small and many: gather them into writes of about WRITE_BATCH bytes.
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = () => {
      const b = pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending);
      pending = [];
      pendingBytes = 0;
      let off = 0;
      while (off < b.length) off += fs.writeSync(fd as number, b, off, b.length - off);
    };
    const put = (b: Buffer) => {
      body += b.length;
      crc = crc32(b, crc);
      pending.push(b);
      pendingBytes += b.length;
      if (pendingBytes >= WRITE_BATCH) flush();
    };
    put(MAGIC);
    put(u32(headerJson.length));
    put(headerJson);
    for (const r of records) for (const p of encodeRecord(withMode(rootAbs, r))) put(p);
    flush();
    // The footer goes in a write of its own, after everything it vouches for.
    pending.push(Buffer.concat([FOOTER_MAGIC, u32(records.length), f64(body), u32(crc)]));
    flush();
    fs.closeSync(fd);
    fd = undefined;
  } catch (err) {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {
        // already failing; the unlink below matters more
      }
    }
    try {
      fs.unlinkSync(pathBuf);
    } catch {
      // nothing to remove
    }
    throw journalError(
      shown,
      'write',
      err,
      'nothing was changed; free space or fix permissions in the venv and run again',
    );
  }
}

/** A committed journal read back, or undefined when there is none or it never committed. */
export interface ReadJournal {
  readonly header: JournalHeader;
  readonly records: JournalRecord[];
}

class Reader {
  pos = 0;
  constructor(
    readonly buf: Buffer,
    readonly end: number,
  ) {}
  need(n: number): void {
    if (n < 0 || this.pos + n > this.end) throw new Error('truncated record');
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++] as number;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  f64(): number {
    this.need(8);
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }
  bytes(n: number): Buffer {
    if (!Number.isInteger(n)) throw new Error('bad length');
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
}

/**
 * A journal whose footer and whole-body checksum hold (so it is committed, and files may be
 * half-written) but whose records this version cannot read: most likely written by a newer
 * venv-tools. It must be neither applied nor discarded.
 */
export class UnreadableJournalError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'UnreadableJournalError';
  }
}

/**
 * Parse a journal file's bytes; undefined when it never committed (footer missing or the
 * whole-body checksum fails). Throws UnreadableJournalError for a committed journal whose records
 * cannot be read.
 */
export function parseJournal(buf: Buffer): ReadJournal | undefined {
  if (buf.length < MAGIC.length + 4 + FOOTER_SIZE) return undefined;
  const fstart = buf.length - FOOTER_SIZE;
  if (!buf.subarray(fstart, fstart + FOOTER_MAGIC.length).equals(FOOTER_MAGIC)) return undefined;
  const bodyLen = buf.readDoubleLE(fstart + FOOTER_MAGIC.length + 4);
  const crc = buf.readUInt32LE(fstart + FOOTER_MAGIC.length + 12);
  if (bodyLen !== fstart || crc32(buf.subarray(0, fstart)) !== crc) return undefined;
  if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  try {
    const r = new Reader(buf, fstart);
    r.pos = MAGIC.length;
    const header = JSON.parse(r.bytes(r.u32()).toString('utf8')) as JournalHeader;
    const records: JournalRecord[] = [];
    // Records run up to the footer; the body's checksum vouches for them. The footer's record
    // count is not under that checksum, so a damaged count must not decide anything.
    for (let i = 0; r.pos < fstart; i++) {
      const start = r.pos;
      const op = r.u8();
      const rel = fromBytes(r.bytes(r.u32()));
      let rec: JournalRecord;
      if (op === OPS.write) {
        const atimeMs = r.f64();
        const mtimeMs = r.f64();
        rec = { op: 'write', rel, atimeMs, mtimeMs, data: r.bytes(r.f64()) };
      } else if (op === WRITE_WITH_MODE) {
        const mode = r.u32();
        const atimeMs = r.f64();
        const mtimeMs = r.f64();
        rec = { op: 'write', rel, atimeMs, mtimeMs, data: r.bytes(r.f64()), mode };
      } else if (op === OPS.replace) {
        const mode = r.u32();
        const uid = r.u32();
        const gid = r.u32();
        const atimeMs = r.f64();
        const mtimeMs = r.f64();
        rec = { op: 'replace', rel, mode, uid, gid, atimeMs, mtimeMs, data: r.bytes(r.f64()) };
      } else if (op === OPS.symlink) {
        rec = { op: 'symlink', rel, target: fromBytes(r.bytes(r.u32())) };
      } else if (op === OPS.remove) {
        rec = { op: 'remove', rel };
      } else {
        throw new UnreadableJournalError(`record ${i} has an unknown type ${op}`);
      }
      const sum = crc32(buf.subarray(start, r.pos));
      if (r.u32() !== sum) throw new UnreadableJournalError(`record ${i} fails its checksum`);
      records.push(rec);
    }
    return { header, records };
  } catch (err) {
    if (err instanceof UnreadableJournalError) throw err;
    throw new UnreadableJournalError((err as Error).message);
  }
}

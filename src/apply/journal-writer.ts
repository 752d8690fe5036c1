/** Writing a journal: record by record, or frames another thread encoded, then the committing footer. */
import { crc32 } from 'node:zlib';
import { fs } from '../core/fs.js';
import { VenvToolsError, errnoOf } from '../core/errors.js';
import { type CommittedJournal } from './journal-reader.js';
import { type ByteString, bytesToUtf8, toBytes } from '../core/path-boundary.js';
import {
  BATCH_SIZE,
  CHUNK_BYTES,
  CHUNK_RECORDS,
  DIRECT,
  FOOTER_MAGIC,
  FOOTER_SIZE,
  JOURNAL_NAME,
  type JournalHeader,
  type JournalRecord,
  MAGIC,
  WRITE_BATCH,
  encodeFrame,
  encodeFrameHead,
  frameSize,
} from './journal-format.js';

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

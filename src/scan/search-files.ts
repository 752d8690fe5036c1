import type { Stats } from 'node:fs';
import { fs } from '../core/fs.js';
import { errnoOf, unreadableError, VenvToolsError } from '../core/errors.js';
import { bytesToUtf8, fsPath, type ByteString } from '../core/path-boundary.js';
import { looksBinary } from './classify-file.js';

/** A file read whole: its bytes (a view of a reused buffer: valid until the next read) and stat. */
export interface FileRead {
  readonly bytes: Buffer;
  readonly stat: Stats;
}

/** A binary file over MAX_WHOLE that holds a needle: never read whole, never edited. */
export interface LargeBinary {
  readonly rel: ByteString;
  readonly size: number;
}

const CHUNK = 1 << 20;

/**
 * Files larger than this are never read whole. Node cannot (readFileSync stops at 2 GiB), and
 * holding one in memory for a rewrite that binaries never get would be a waste anyway.
 */
const REMOVE_OR_FIX = 'fix its permissions (e.g. chmod u+r) or remove it, then run again';

export const MAX_WHOLE = 256 << 20;

/**
 * Reads files one at a time into one reused buffer and looks for the needles, so that a venv is
 * read once at about the speed of the disk cache, without an allocation per file. Only a file that
 * holds a needle (or that the caller wants whole) is handed back, whole, with its stat.
 * Symlinks, FIFOs, sockets and devices are never read: O_NOFOLLOW refuses a file swapped for a
 * symlink after the walk, O_NONBLOCK keeps a swapped-in FIFO from blocking (it reads as empty),
 * and a file handed back is fstat'ed and must be regular.
 */
export class FileSearcher {
  private buf = Buffer.allocUnsafe(CHUNK);
  private readonly overlap: number;
  private readonly flags =
    fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;
  /** Binaries too large to hold in memory that hold a needle; binaries are never edited anyway. */
  readonly largeBinaries: LargeBinary[] = [];
  filesRead = 0;
  bytesRead = 0;

  constructor(
    private readonly rootAbs: ByteString,
    private readonly needles: readonly Buffer[],
  ) {
    this.overlap = Math.max(0, ...needles.map((n) => n.length)) - 1;
  }

  /** True when any needle occurs in buf[0, len). */
  private holds(len: number): boolean {
    const view = this.buf.subarray(0, len);
    for (const n of this.needles) if (view.indexOf(n) !== -1) return true;
    return false;
  }

  /**
   * Read `rel` once. Returns it whole when it holds a needle or `whole` is set; undefined when it
   * holds none, or vanished (or was swapped for a symlink) since the walk.
   */
  read(rel: ByteString, whole = false): FileRead | undefined {
    let fd: number;
    try {
      fd = fs.openSync(fsPath(`${this.rootAbs}/${rel}`), this.flags);
    } catch (err) {
      const code = errnoOf(err);
      if (code === 'ENOENT' || code === 'ELOOP') return undefined;
      throw unreadableError(bytesToUtf8(`${this.rootAbs}/${rel}`), err, REMOVE_OR_FIX);
    }
    try {
      return this.readOpen(fd, rel, whole);
    } catch (err) {
      if (err instanceof VenvToolsError) throw err;
      throw unreadableError(bytesToUtf8(`${this.rootAbs}/${rel}`), err, REMOVE_OR_FIX);
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Read `rel` whole once more (a file read before), without counting it again. */
  readAgain(rel: ByteString): FileRead | undefined {
    const files = this.filesRead;
    const bytes = this.bytesRead;
    try {
      return this.read(rel, true);
    } finally {
      this.filesRead = files;
      this.bytesRead = bytes;
    }
  }

  private readOpen(fd: number, rel: ByteString, whole: boolean): FileRead | undefined {
    // One read settles most files: a regular file's read comes back short only at its end.
    const n = fs.readSync(fd, this.buf, 0, CHUNK, 0);
    this.filesRead++;
    this.bytesRead += n;
    let stat: Stats | undefined;
    if (n < CHUNK) {
      if (!whole && !this.holds(n)) return undefined;
      stat = fs.fstatSync(fd);
      if (!stat.isFile()) return undefined;
      if (stat.size <= n) return { bytes: this.buf.subarray(0, n), stat };
      // It grew since: read on as for a large file.
    }
    stat ??= fs.fstatSync(fd);
    if (!stat.isFile()) return undefined;
    // Judged on the head, before the window below slides over it.
    const binaryHead = stat.size > MAX_WHOLE && looksBinary(this.buf.subarray(0, n));
    let found = whole || this.holds(n);
    let pos = n;
    while (!found && n === CHUNK) {
      // Large file: slide a window, keeping `overlap` bytes so a needle across chunks is seen.
      this.buf.copy(this.buf, 0, CHUNK - this.overlap, CHUNK);
      const m = this.fill(fd, this.overlap, pos);
      if (m === 0) break;
      pos += m;
      this.bytesRead += m;
      found = this.holds(this.overlap + m);
      if (this.overlap + m < CHUNK) break;
    }
    if (!found) return undefined;
    if (stat.size > MAX_WHOLE) {
      if (binaryHead) {
        this.largeBinaries.push({ rel, size: stat.size });
        return undefined;
      }
      const shown = bytesToUtf8(`${this.rootAbs}/${rel}`);
      throw new VenvToolsError(
        'UNSUPPORTED',
        `${shown} holds the old path but is ${stat.size} bytes of text, too large to rewrite in memory (the limit is ${MAX_WHOLE}). Nothing was changed. Move it out of the venv or edit it yourself, then run again.`,
        shown,
      );
    }
    return { bytes: this.readWhole(fd, stat.size), stat };
  }

  /** Fill the buffer from `at` with the file's bytes from `pos`, up to the buffer's end. */
  private fill(fd: number, at: number, pos: number): number {
    let got = 0;
    while (at + got < this.buf.length) {
      const m = fs.readSync(fd, this.buf, at + got, this.buf.length - at - got, pos + got);
      if (m === 0) break;
      got += m;
    }
    return got;
  }

  /** The whole file from offset 0 into the (grown) buffer, through the fd. */
  private readWhole(fd: number, size: number): Buffer {
    if (this.buf.length < size + 1) this.buf = Buffer.allocUnsafe(Math.max(size + 1, CHUNK));
    // One byte more than its size: a file that grew since the fstat is read to its end.
    let n = this.fill(fd, 0, 0);
    while (n === this.buf.length) {
      const bigger = Buffer.allocUnsafe(this.buf.length * 2);
      this.buf.copy(bigger, 0, 0, n);
      this.buf = bigger;
      n += this.fill(fd, n, n);
    }
    return this.buf.subarray(0, n);
  }

  /** Give back memory a large file made the buffer grow to. */
  shrink(): void {
    if (this.buf.length > CHUNK) this.buf = Buffer.allocUnsafe(CHUNK);
  }
}

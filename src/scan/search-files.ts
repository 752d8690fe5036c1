import { fs } from '../fs.js';
import { errnoOf, VenvToolsError } from '../errors.js';
import { bytesToUtf8, type ByteString } from '../path-boundary.js';
import { looksBinary } from './classify-file.js';
import { absPath, type TreeEntry } from './walk-tree.js';

/** A regular file that holds one of the needles; `bytes` is its whole content. */
export interface FileHit {
  readonly rel: ByteString;
  readonly bytes: Buffer;
}

/** A binary file over MAX_WHOLE that holds a needle: never read whole, never edited. */
export interface LargeBinary {
  readonly rel: ByteString;
  readonly size: number;
}

export interface SearchResult {
  readonly hits: FileHit[];
  /** Binaries too large to hold in memory that hold a needle; binaries are never edited anyway. */
  readonly largeBinaries: LargeBinary[];
  /** Files read whatever their content (RECORD files, pyvenv.cfg), by rel. */
  readonly kept: Map<ByteString, Buffer>;
  readonly filesRead: number;
  readonly bytesRead: number;
}

const CHUNK = 1 << 20;

/**
 * Files larger than this are never read whole. Node cannot (readFileSync stops at 2 GiB), and
 * holding one in memory for a rewrite that binaries never get would be a waste anyway.
 */
export const MAX_WHOLE = 256 << 20;

/** Read the rest of an open file from offset 0, through the fd (the path may have been swapped). */
function readWhole(fd: number, size: number): Buffer {
  const chunks: Buffer[] = [];
  let total = 0;
  let pos = 0;
  for (;;) {
    const want = Math.max(size - total, CHUNK);
    const b = Buffer.allocUnsafe(want);
    let got = 0;
    while (got < want) {
      const n = fs.readSync(fd, b, got, want - got, pos);
      if (n === 0) break;
      got += n;
      pos += n;
    }
    if (got > 0) chunks.push(b.subarray(0, got));
    total += got;
    if (got < want) break;
  }
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, total);
}

/** True when any needle occurs in buf[0, len). */
function holdsNeedle(buf: Buffer, len: number, needles: readonly Buffer[]): boolean {
  const view = len === buf.length ? buf : buf.subarray(0, len);
  for (const n of needles) if (view.indexOf(n) !== -1) return true;
  return false;
}

function unreadable(rootAbs: ByteString, rel: ByteString, err: unknown): VenvToolsError {
  const shown = bytesToUtf8(`${rootAbs}/${rel}`);
  return new VenvToolsError(
    'UNREADABLE',
    `cannot read ${shown}: ${errnoOf(err) ?? (err as Error).message}; fix its permissions (e.g. chmod u+r) or remove it, then run again`,
    shown,
  );
}

/**
 * Read every regular file once into one reused buffer and keep those that hold a needle.
 * Files for which `keep(rel)` is true are returned whole regardless. Symlinks, FIFOs, sockets and
 * devices are never opened (O_NOFOLLOW and O_NONBLOCK guard against a swap after the walk).
 */
export function searchFiles(
  rootAbs: ByteString,
  entries: readonly TreeEntry[],
  needles: readonly Buffer[],
  keep: (rel: ByteString) => boolean,
): SearchResult {
  const buf = Buffer.allocUnsafe(CHUNK);
  const overlap = Math.max(0, ...needles.map((n) => n.length)) - 1;
  const hits: FileHit[] = [];
  const largeBinaries: LargeBinary[] = [];
  const kept = new Map<ByteString, Buffer>();
  const flags = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;
  let filesRead = 0;
  let bytesRead = 0;
  for (const e of entries) {
    if (e.type !== 'file') continue;
    let fd: number;
    try {
      fd = fs.openSync(absPath(rootAbs, e.rel), flags);
    } catch (err) {
      const code = errnoOf(err);
      if (code === 'ENOENT' || code === 'ELOOP') continue; // vanished or swapped for a link
      throw unreadable(rootAbs, e.rel, err);
    }
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile()) continue;
      filesRead++;
      const mustKeep = keep(e.rel);
      let n: number;
      try {
        n = fs.readSync(fd, buf, 0, CHUNK, 0);
      } catch (err) {
        throw unreadable(rootAbs, e.rel, err);
      }
      bytesRead += n;
      // Judged on the head, before the window below slides over it.
      const binaryHead = st.size > MAX_WHOLE && looksBinary(buf.subarray(0, n));
      let found = mustKeep || holdsNeedle(buf, n, needles);
      let pos = n;
      if (!found && n === CHUNK) {
        // Large file: slide a window, keeping `overlap` bytes so a needle across chunks is seen.
        for (;;) {
          buf.copy(buf, 0, CHUNK - overlap, CHUNK);
          let m: number;
          try {
            m = fs.readSync(fd, buf, overlap, CHUNK - overlap, pos);
          } catch (err) {
            throw unreadable(rootAbs, e.rel, err);
          }
          if (m === 0) break;
          pos += m;
          bytesRead += m;
          if (holdsNeedle(buf, overlap + m, needles)) {
            found = true;
            break;
          }
          if (m < CHUNK - overlap) break;
        }
      }
      if (!found) continue;
      if (st.size > MAX_WHOLE) {
        if (binaryHead) {
          largeBinaries.push({ rel: e.rel, size: st.size });
          continue;
        }
        const shown = bytesToUtf8(`${rootAbs}/${e.rel}`);
        throw new VenvToolsError(
          'UNSUPPORTED',
          `${shown} holds the old path but is ${st.size} bytes of text, too large to rewrite in memory (the limit is ${MAX_WHOLE}). Nothing was changed. Move it out of the venv or edit it yourself, then run again.`,
          shown,
        );
      }
      let whole: Buffer;
      try {
        whole =
          n < CHUNK && st.size <= n ? Buffer.from(buf.subarray(0, n)) : readWhole(fd, st.size);
      } catch (err) {
        throw unreadable(rootAbs, e.rel, err);
      }
      if (mustKeep) kept.set(e.rel, whole);
      if (mustKeep ? holdsNeedle(whole, whole.length, needles) : true) {
        hits.push({ rel: e.rel, bytes: whole });
      }
    } finally {
      fs.closeSync(fd);
    }
  }
  return { hits, largeBinaries, kept, filesRead, bytesRead };
}

import { fs } from '../fs.js';
import { errnoOf, VenvToolsError } from '../errors.js';
import { bytesToUtf8, type ByteString } from '../path-boundary.js';
import { absPath, type TreeEntry } from './walk-tree.js';

/** A regular file that holds one of the needles; `bytes` is its whole content. */
export interface FileHit {
  readonly rel: ByteString;
  readonly bytes: Buffer;
}

export interface SearchResult {
  readonly hits: FileHit[];
  /** Files read whatever their content (RECORD files, pyvenv.cfg), by rel. */
  readonly kept: Map<ByteString, Buffer>;
  readonly filesRead: number;
  readonly bytesRead: number;
}

const CHUNK = 1 << 20;

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
      let found = mustKeep || holdsNeedle(buf, n, needles);
      let pos = n;
      if (!found && n === CHUNK) {
        // Large file: slide a window, keeping `overlap` bytes so a needle across chunks is seen.
        for (;;) {
          buf.copy(buf, 0, CHUNK - overlap, CHUNK);
          const m = fs.readSync(fd, buf, overlap, CHUNK - overlap, pos);
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
      let whole: Buffer;
      if (n < CHUNK && st.size <= n) {
        whole = Buffer.from(buf.subarray(0, n));
      } else {
        whole = fs.readFileSync(absPath(rootAbs, e.rel));
      }
      if (mustKeep) kept.set(e.rel, whole);
      if (mustKeep ? holdsNeedle(whole, whole.length, needles) : true) {
        hits.push({ rel: e.rel, bytes: whole });
      }
    } finally {
      fs.closeSync(fd);
    }
  }
  return { hits, kept, filesRead, bytesRead };
}

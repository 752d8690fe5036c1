import { posix } from 'node:path';
import { fs } from '../core/fs.js';
import { errnoOf, VenvToolsError } from '../core/errors.js';
import { bytesToUtf8, fsPath, toBytes, type ByteString } from '../core/path-boundary.js';
import { JOURNAL_NAME, type JournalRecord } from './journal-format.js';

function writeAll(fd: number, data: Buffer, at = 0): void {
  let off = 0;
  while (off < data.length) off += fs.writeSync(fd, data, off, data.length - off, at + off);
}

/**
 * A time in ms as the seconds futimes takes, so that the file gets exactly the microsecond it
 * had. libuv (Node 20) truncates the nanoseconds of the double it is given to whole
 * microseconds, and the double of 1.8e9 s is only good to 0.24 us: passed as is, a time
 * comes back up to 1 us early, and drifts earlier with every relocation. Half a microsecond
 * above the wanted one truncates to it.
 */
function timeArg(ms: number): number {
  return (Math.round(ms * 1000) + 0.5) / 1e6;
}

function removeQuietly(p: string | Buffer): void {
  try {
    fs.unlinkSync(p);
  } catch {
    // not there
  }
}

function tmpName(path: ByteString): ByteString {
  const dir = posix.dirname(path);
  return `${dir}/.${posix.basename(path)}.venv-tools-tmp`;
}

/**
 * Open for in-place writing without following a symlink. A read-only file (EACCES for a user
 * that owns it but lacks u+w) gets u+w for the write; `restoreMode` is what to put back.
 */
function openForWrite(p: string | Buffer): { fd: number; restoreMode: number | undefined } {
  const flags = fs.constants.O_WRONLY | fs.constants.O_NOFOLLOW;
  try {
    return { fd: fs.openSync(p, flags), restoreMode: undefined };
  } catch (err) {
    const code = errnoOf(err);
    if (code === 'ENOENT') {
      return { fd: fs.openSync(p, flags | fs.constants.O_CREAT, 0o644), restoreMode: undefined };
    }
    if (code !== 'EACCES') throw err;
    const st = fs.lstatSync(p);
    if (!st.isFile()) throw err;
    const mode = st.mode & 0o7777;
    fs.chmodSync(p, mode | 0o200);
    try {
      return { fd: fs.openSync(p, flags), restoreMode: mode };
    } catch (again) {
      // Still refused (not our file, a read-only mount...): leave its mode as it was.
      fs.chmodSync(p, mode);
      throw again;
    }
  }
}

function applyOne(rootAbs: ByteString, r: JournalRecord): void {
  const path = `${rootAbs}/${r.rel}`;
  const p = fsPath(path);
  switch (r.op) {
    case 'write': {
      const { fd, restoreMode } = openForWrite(p);
      // The journal's mode wins over the one found now: a run killed between lending u+w and
      // taking it back left the file writable, and this recovery must not keep that.
      const mode = r.mode === undefined ? restoreMode : r.mode & 0o7777;
      let now: number | undefined;
      try {
        // Only the tail from `offset` on: the head is the file's own, and no run writes it, so
        // writing again after a crash anywhere in here gives the same file.
        const at = r.offset ?? 0;
        const end = at + r.data.length;
        writeAll(fd, r.data, at);
        // Cut only a file that is longer than its new content (truncating costs more than the
        // stat that tells).
        const st = fs.fstatSync(fd);
        now = st.mode & 0o7777;
        if (st.size > end) fs.ftruncateSync(fd, end);
        fs.futimesSync(fd, timeArg(r.atimeMs), timeArg(r.mtimeMs));
      } finally {
        // On failure too: the mode goes back even when the journal stays for the next run.
        try {
          if (mode !== undefined && (now ?? fs.fstatSync(fd).mode & 0o7777) !== mode) {
            fs.fchmodSync(fd, mode);
          }
        } finally {
          fs.closeSync(fd);
        }
      }
      return;
    }
    case 'replace': {
      const tmp = fsPath(tmpName(path));
      // A leftover of a killed run may be read-only (its mode is set before the rename): drop it.
      removeQuietly(tmp);
      const fd = fs.openSync(
        tmp,
        fs.constants.O_WRONLY |
          fs.constants.O_CREAT |
          fs.constants.O_EXCL |
          fs.constants.O_NOFOLLOW,
        0o600,
      );
      try {
        try {
          writeAll(fd, r.data);
          try {
            fs.fchownSync(fd, r.uid, r.gid);
          } catch (err) {
            if (errnoOf(err) !== 'EPERM') throw err; // not root: keeps our own ownership
          }
          fs.fchmodSync(fd, r.mode & 0o7777);
          fs.futimesSync(fd, timeArg(r.atimeMs), timeArg(r.mtimeMs));
        } finally {
          fs.closeSync(fd);
        }
        fs.renameSync(tmp, p);
      } catch (err) {
        // No half-written file left beside it; the journal stays and the next run redoes it.
        removeQuietly(tmp);
        throw err;
      }
      return;
    }
    case 'symlink': {
      const tmp = fsPath(tmpName(path));
      removeQuietly(tmp); // a leftover of a killed run
      fs.symlinkSync(toBytes(r.target), tmp);
      try {
        fs.renameSync(tmp, p);
      } catch (err) {
        removeQuietly(tmp);
        throw err;
      }
      return;
    }
    case 'remove':
    case 'regenerate': // compiled again once every record is applied (regenerate-pycs.ts)
      try {
        fs.unlinkSync(p);
      } catch (err) {
        if (errnoOf(err) !== 'ENOENT') throw err;
      }
      return;
  }
}

/** Refuse a record whose path could leave the venv (`..`, absolute, empty). */
function checkRel(rel: ByteString): void {
  const parts = rel.split('/');
  if (rel === '' || rel.startsWith('/') || parts.some((p) => p === '..' || p === '' || p === '.')) {
    throw new VenvToolsError(
      'JOURNAL',
      `refusing journal entry outside the venv: ${bytesToUtf8(rel)}`,
      bytesToUtf8(rel),
    );
  }
}

/**
 * Apply journal records in order (an array, or a committed journal read back record by record:
 * each record's data is used before the next is read), until `stop` says so (asked before each).
 * Idempotent: applying the same records again after a crash gives the same tree. A failure names
 * the file and says that the journal stays for the next run.
 */
export function applyJournal(
  rootAbs: ByteString,
  records: Iterable<JournalRecord>,
  onProgress?: (done: number) => void,
  stop?: () => boolean,
): void {
  let done = 0;
  for (const r of records) {
    if (stop?.() === true) break;
    checkRel(r.rel);
    try {
      applyOne(rootAbs, r);
    } catch (err) {
      const shown = bytesToUtf8(`${rootAbs}/${r.rel}`);
      throw new VenvToolsError(
        'WRITE_FAILED',
        `cannot write ${shown}: ${errnoOf(err) ?? (err as Error).message}. The journal ${bytesToUtf8(`${rootAbs}/${JOURNAL_NAME}`)} is kept: fix the cause, then run venv-tools on this venv again and it finishes the relocation.`,
        shown,
      );
    }
    done++;
    if (onProgress !== undefined && (done & 255) === 0) onProgress(done);
  }
  onProgress?.(done);
}

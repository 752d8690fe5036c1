import { posix } from 'node:path';
import { fs } from '../fs.js';
import { errnoOf, VenvToolsError } from '../errors.js';
import { bytesToUtf8, toBytes, type ByteString } from '../path-boundary.js';
import { JOURNAL_NAME, type JournalRecord } from './journal.js';

function writeAll(fd: number, data: Buffer): void {
  let off = 0;
  while (off < data.length) off += fs.writeSync(fd, data, off, data.length - off, off);
}

function tmpName(path: ByteString): ByteString {
  const dir = posix.dirname(path);
  return `${dir}/.${posix.basename(path)}.venv-tools-tmp`;
}

/** Open for in-place writing without following a symlink; a read-only file gets u+w for the write. */
function openForWrite(p: Buffer): { fd: number; restoreMode: number | undefined } {
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
    fs.chmodSync(p, (st.mode & 0o7777) | 0o200);
    return { fd: fs.openSync(p, flags), restoreMode: st.mode & 0o7777 };
  }
}

function applyOne(rootAbs: ByteString, r: JournalRecord): void {
  const path = `${rootAbs}/${r.rel}`;
  const p = toBytes(path);
  switch (r.op) {
    case 'write': {
      const { fd, restoreMode } = openForWrite(p);
      try {
        writeAll(fd, r.data);
        fs.ftruncateSync(fd, r.data.length);
        fs.futimesSync(fd, r.atimeMs / 1000, r.mtimeMs / 1000);
      } finally {
        fs.closeSync(fd);
        if (restoreMode !== undefined) fs.chmodSync(p, restoreMode);
      }
      return;
    }
    case 'replace': {
      const tmp = toBytes(tmpName(path));
      const fd = fs.openSync(
        tmp,
        fs.constants.O_WRONLY |
          fs.constants.O_CREAT |
          fs.constants.O_TRUNC |
          fs.constants.O_NOFOLLOW,
        0o600,
      );
      try {
        writeAll(fd, r.data);
        try {
          fs.chownSync(tmp, r.uid, r.gid);
        } catch (err) {
          if (errnoOf(err) !== 'EPERM') throw err; // not root: keeps our own ownership
        }
        fs.chmodSync(tmp, r.mode & 0o7777);
        fs.futimesSync(fd, r.atimeMs / 1000, r.mtimeMs / 1000);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, p);
      return;
    }
    case 'symlink': {
      const tmp = toBytes(tmpName(path));
      try {
        fs.unlinkSync(tmp);
      } catch {
        // no leftover from an earlier attempt
      }
      fs.symlinkSync(toBytes(r.target), tmp);
      fs.renameSync(tmp, p);
      return;
    }
    case 'remove':
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
 * Apply journal records in order. Idempotent: applying the same records again after a crash
 * gives the same tree. A failure names the file and says that the journal stays for the next run.
 */
export function applyJournal(
  rootAbs: ByteString,
  records: readonly JournalRecord[],
  onProgress?: (done: number) => void,
): void {
  let done = 0;
  for (const r of records) {
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

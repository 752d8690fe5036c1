import { fs } from '../fs.js';
import { errnoOf, VenvToolsError } from '../errors.js';
import { bytesToUtf8, toBytes, type ByteString } from '../path-boundary.js';

export const LOCK_NAME = '.venv-tools.lock';

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoOf(err) === 'EPERM';
  }
}

function tryCreate(p: Buffer): boolean {
  try {
    const fd = fs.openSync(
      p,
      fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW,
      0o644,
    );
    try {
      fs.writeSync(fd, `${process.pid}\n`);
    } finally {
      fs.closeSync(fd);
    }
    return true;
  } catch (err) {
    if (errnoOf(err) === 'EEXIST') return false;
    throw err;
  }
}

/**
 * Take the venv's lock (a file holding our pid). A lock held by a live process is refused with
 * its pid; one whose pid is gone is stale and taken over. Returns the release function.
 */
export function acquireLock(rootAbs: ByteString): () => void {
  const path = `${rootAbs}/${LOCK_NAME}`;
  const p = toBytes(path);
  const shown = bytesToUtf8(path);
  for (let attempt = 0; attempt < 3; attempt++) {
    let created: boolean;
    try {
      created = tryCreate(p);
    } catch (err) {
      throw new VenvToolsError(
        'WRITE_FAILED',
        `cannot create the lock ${shown}: ${errnoOf(err) ?? (err as Error).message}; nothing was changed. Check that the venv is writable.`,
        shown,
      );
    }
    if (created) {
      return () => {
        try {
          fs.unlinkSync(p);
        } catch {
          // already gone
        }
      };
    }
    let pid = NaN;
    try {
      pid = Number.parseInt(fs.readFileSync(p, 'utf8').trim(), 10);
    } catch {
      // vanished or unreadable: treat as stale
    }
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid)) {
      throw new VenvToolsError(
        'LOCKED',
        `a relocation is in progress on this venv (pid ${pid} holds ${shown}). Wait for it to finish; if pid ${pid} is not venv-tools, remove ${shown}.`,
        shown,
      );
    }
    // Stale: its owner is gone. Remove it and race for it again.
    try {
      fs.unlinkSync(p);
    } catch {
      // someone else took it over first
    }
  }
  throw new VenvToolsError(
    'LOCKED',
    `could not take the lock ${shown}: another run keeps taking it. Try again.`,
    shown,
  );
}

import { fs } from '../core/fs.js';
import { errnoOf, VenvToolsError } from '../core/errors.js';
import { bytesToUtf8, fromBytes, toBytes, type ByteString } from '../core/path-boundary.js';

export const LOCK_NAME = '.venv-tools.lock';

/**
 * Every name the lock protocol creates in the venv root starts with this: the lock, the
 * temporary files a lock is written in before it is linked into place, the "break" link that
 * serialises stale-lock takeovers, and stale locks moved aside.
 */
export const LOCK_PREFIX = `${LOCK_NAME}.`;

const BREAK_NAME = `${LOCK_NAME}.break`;

/**
 * A break link older than this was left by a process that died in the middle of a takeover,
 * which lasts a few system calls. Any live breaker is done long before.
 */
const ABANDONED_BREAK_MS = 5000;

const MAX_ATTEMPTS = 200;

/** True while a process with this pid exists (EPERM: it does, and is another user's). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoOf(err) === 'EPERM';
  }
}

/**
 * Whether a lock naming `pid` is stale: its pid is unreadable or gone, or is our own (a
 * leftover of a previous container that had our pid).
 */
function staleHolder(pid: number): boolean {
  return !(Number.isInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid));
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/** Sleep without an event loop (the whole pipeline is synchronous). */
function pause(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

function unique(): string {
  return `${process.pid}.${Math.random().toString(36).slice(2, 10)}`;
}

function removeQuietly(p: Buffer): void {
  try {
    fs.unlinkSync(p);
  } catch {
    // already gone
  }
}

/** Who holds the lock: its pid (NaN when unreadable) and inode; undefined when it vanished. */
function readHolder(p: Buffer): { pid: number; ino: number } | undefined {
  let fd: number;
  try {
    fd = fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return undefined;
    // A symlink or something unreadable where the lock should be: no live venv-tools holds it.
    try {
      return { pid: NaN, ino: fs.lstatSync(p).ino };
    } catch {
      return undefined;
    }
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) return { pid: NaN, ino: st.ino };
    const buf = Buffer.alloc(32);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    const text = buf.subarray(0, n).toString('latin1').trim();
    return { pid: /^\d+$/.test(text) ? Number(text) : NaN, ino: st.ino };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Remove the stale lock whose inode is `ino`, unless someone else is doing it or already did.
 *
 * Unlinking by name is not enough: two processes that both saw the stale lock would both unlink
 * "the lock", and the second would remove the fresh lock the first had just taken. So a
 * takeover first hard-links the current lock to BREAK_NAME, which only one process can create.
 * Its holder checks that the link is the stale inode it judged and still names a pid that is
 * gone: then no one else can remove or replace the lock (a new lock is only ever linked where
 * there is none), and it removes it by renaming it aside and checking the inode once more
 * before deleting it. Exported for the tests.
 */
export function breakStale(root: ByteString, lockP: Buffer, ino: number): void {
  const brk = toBytes(`${root}/${BREAK_NAME}`);
  try {
    fs.linkSync(lockP, brk);
  } catch (err) {
    const code = errnoOf(err);
    if (code === 'ENOENT') return; // the lock went away: race for it again
    if (code !== 'EEXIST') throw err;
    // Another takeover is in progress, or its process died half-way.
    try {
      if (Date.now() - fs.lstatSync(brk).ctimeMs > ABANDONED_BREAK_MS) removeQuietly(brk);
    } catch {
      // it just finished
    }
    pause(2);
    return;
  }
  try {
    // Judge again what the link holds: while it exists its inode cannot be freed and reused,
    // so the pid it holds is the lock's. The inode alone is not enough: the stale lock may have
    // been taken over and deleted since we read it, and the next lock created in its place
    // (a live run's) may have been given the same inode number, which ext4 reuses at once.
    const now = readHolder(brk);
    if (now === undefined || now.ino !== ino || !staleHolder(now.pid)) return;
    const grave = toBytes(`${root}/${LOCK_PREFIX}stale.${unique()}`);
    try {
      fs.renameSync(lockP, grave);
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return;
      throw err;
    }
    if (fs.lstatSync(grave).ino !== ino) {
      // Only possible when an abandoned break link was removed by two processes at once: put
      // back the live lock we moved.
      try {
        fs.linkSync(grave, lockP);
      } catch {
        // a third process took the free name; the lock we moved was already superseded
      }
    }
    removeQuietly(grave);
  } finally {
    removeQuietly(brk);
  }
}

/** Write our pid to a new file of our own, to be linked into place complete. */
function writeCandidate(root: ByteString): Buffer {
  const p = toBytes(`${root}/${LOCK_PREFIX}${unique()}`);
  const fd = fs.openSync(
    p,
    fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW,
    0o644,
  );
  try {
    const data = Buffer.from(`${process.pid}\n`);
    let off = 0;
    while (off < data.length) off += fs.writeSync(fd, data, off, data.length - off);
  } catch (err) {
    fs.closeSync(fd);
    removeQuietly(p);
    throw err;
  }
  fs.closeSync(fd);
  return p;
}

/**
 * Remove what killed runs left of the protocol: candidates and stale locks moved aside whose
 * process is gone. Called by the lock's holder; a live contender's candidate stays.
 */
function sweepLeftovers(root: ByteString, keep: Buffer): void {
  let names: Buffer[];
  try {
    names = fs.readdirSync(toBytes(root), { encoding: 'buffer' }) as unknown as Buffer[];
  } catch {
    return;
  }
  for (const nameBuf of names) {
    const name = fromBytes(nameBuf);
    if (!name.startsWith(LOCK_PREFIX) || name === BREAK_NAME) continue;
    const m = /^(?:stale\.)?(\d+)\.[0-9a-z]+$/.exec(name.slice(LOCK_PREFIX.length));
    if (m === null) continue;
    const p = toBytes(`${root}/${name}`);
    if (p.equals(keep)) continue;
    const pid = Number(m[1]);
    if (pid !== process.pid && pidAlive(pid)) continue;
    removeQuietly(p);
  }
}

/**
 * Take the venv's lock (a file holding our pid). A lock held by a live process is refused with
 * its pid; one whose pid is gone is stale and taken over, by exactly one of any number of runs
 * that try at once. Returns the release function.
 */
export function acquireLock(rootAbs: ByteString): () => void {
  const path = `${rootAbs}/${LOCK_NAME}`;
  const lockP = toBytes(path);
  const shown = bytesToUtf8(path);
  let candidate: Buffer;
  try {
    candidate = writeCandidate(rootAbs);
  } catch (err) {
    throw new VenvToolsError(
      'WRITE_FAILED',
      `cannot create the lock ${shown}: ${errnoOf(err) ?? (err as Error).message}; nothing was changed. Check that the venv is writable and its disk is not full.`,
      shown,
    );
  }
  try {
    const ours = fs.lstatSync(candidate).ino;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      try {
        // link() fails with EEXIST atomically, and the lock appears with its pid already in it.
        fs.linkSync(candidate, lockP);
        sweepLeftovers(rootAbs, candidate);
        return () => {
          try {
            if (fs.lstatSync(lockP).ino === ours) fs.unlinkSync(lockP);
          } catch {
            // already gone
          }
        };
      } catch (err) {
        if (errnoOf(err) !== 'EEXIST') {
          throw new VenvToolsError(
            'WRITE_FAILED',
            `cannot create the lock ${shown}: ${errnoOf(err) ?? (err as Error).message}; nothing was changed. Check that the venv is writable.`,
            shown,
          );
        }
      }
      const holder = readHolder(lockP);
      if (holder === undefined) continue;
      const { pid } = holder;
      if (!staleHolder(pid)) {
        throw new VenvToolsError(
          'LOCKED',
          `a relocation is in progress on this venv (pid ${pid} holds ${shown}). Wait for it to finish; if pid ${pid} is not venv-tools, remove ${shown}.`,
          shown,
        );
      }
      // Stale: its owner is gone.
      try {
        breakStale(rootAbs, lockP, holder.ino);
      } catch (err) {
        throw new VenvToolsError(
          'WRITE_FAILED',
          `cannot take over the stale lock ${shown} (pid ${pid} is gone): ${errnoOf(err) ?? (err as Error).message}; nothing was changed. Remove ${shown} and run again.`,
          shown,
        );
      }
    }
  } finally {
    removeQuietly(candidate);
  }
  throw new VenvToolsError(
    'LOCKED',
    `could not take the lock ${shown}: other runs keep taking it. Try again.`,
    shown,
  );
}

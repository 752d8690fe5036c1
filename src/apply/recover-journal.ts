import { fs } from '../core/fs.js';
import { errnoOf, VenvToolsError } from '../core/errors.js';
import { bytesToUtf8, toBytes, type ByteString } from '../core/path-boundary.js';
import { applyJournal } from './apply-journal.js';
import { JOURNAL_NAME, type JournalRecord } from './journal-format.js';
import { regeneratePycs, type RegenerateJob } from './regenerate-pycs.js';
import {
  checkJournal,
  frames,
  JournalBytes,
  UnreadableJournalError,
  type CommittedJournal,
} from './journal-reader.js';

/** What recovery found. */
export interface Recovery {
  readonly state: 'none' | 'discarded' | 'completed';
  readonly files: number;
  readonly old?: string;
  readonly new?: string;
}

/**
 * Finish what an interrupted run started. A committed journal is applied again from the start
 * (applying is idempotent) and removed; one without a valid footer is discarded, since nothing
 * was applied before its footer was written. The caller holds the lock.
 */
export function recoverJournal(rootAbs: ByteString): Recovery {
  const p = toBytes(`${rootAbs}/${JOURNAL_NAME}`);
  const shown = bytesToUtf8(`${rootAbs}/${JOURNAL_NAME}`);
  const opened = openJournalFile(p, shown);
  if (opened === undefined) return { state: 'none', files: 0 };
  let journal: CommittedJournal | undefined;
  try {
    try {
      journal = checkJournal(opened);
    } catch (err) {
      if (err instanceof UnreadableJournalError) {
        throw new VenvToolsError(
          'JOURNAL',
          `${shown} is a committed journal this version of venv-tools cannot read (${err.message}); it was most likely written by a newer venv-tools. Finish the relocation with that version. Do not delete the journal: files it was writing may be half-written.`,
          shown,
        );
      }
      if (err instanceof VenvToolsError) throw err;
      throw notReadable(shown, errnoOf(err) ?? (err as Error).message);
    }
    // Read back record by record: a journal holds every new content, and need not fit in memory.
    if (journal !== undefined) {
      const regenerate: RegenerateJob[] = [];
      try {
        applyJournal(rootAbs, noting(frames(opened, journal), regenerate));
      } catch (err) {
        if (err instanceof VenvToolsError) throw err;
        throw notReadable(shown, errnoOf(err) ?? (err as Error).message);
      }
      // As the interrupted run would have, before the journal goes (best effort: a pyc that
      // cannot be compiled stays removed, and Python compiles it on import).
      regeneratePycs(rootAbs, regenerate);
    }
  } finally {
    opened.close();
  }
  if (journal === undefined) {
    removeJournal(p, shown, 'it never committed, so nothing was changed');
    return { state: 'discarded', files: 0 };
  }
  removeJournal(p, shown, 'every file it lists has been written');
  return {
    state: 'completed',
    files: journal.count,
    old: journal.header.old,
    new: journal.header.new,
  };
}

/** The records, as they go by; the pycs to compile again are noted in `regenerate`. */
function* noting(
  records: Iterable<JournalRecord>,
  regenerate: RegenerateJob[],
): Generator<JournalRecord> {
  for (const r of records) {
    if (r.op === 'regenerate') regenerate.push({ rel: r.rel, job: r.job });
    yield r;
  }
}

/**
 * The journal, opened, or undefined when there is none. Opened without following a symlink and
 * without blocking, so that whatever sits at the name is only read when it is a regular file (a
 * FIFO would block a plain read forever). The caller closes it.
 */
export function openJournalFile(p: Buffer, shown: string): JournalBytes | undefined {
  let fd: number;
  try {
    fd = fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (err) {
    const code = errnoOf(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw notReadable(
      shown,
      code === 'ELOOP' ? 'it is a symlink' : (code ?? (err as Error).message),
    );
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw notReadable(shown, 'it is not a regular file');
    return new JournalBytes(st.size, fd);
  } catch (err) {
    fs.closeSync(fd);
    if (err instanceof VenvToolsError) throw err;
    throw notReadable(shown, errnoOf(err) ?? (err as Error).message);
  }
}

function notReadable(shown: string, why: string): VenvToolsError {
  return new VenvToolsError(
    'JOURNAL',
    `cannot read the journal ${shown}: ${why}; fix its permissions (or move it away if venv-tools did not write it) and run again`,
    shown,
  );
}

/** Remove the journal after its records are applied; a failure says the next run finishes. */
export function removeJournal(p: Buffer, shown: string, done: string): void {
  try {
    fs.unlinkSync(p);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return;
    throw new VenvToolsError(
      'JOURNAL',
      `cannot remove the journal ${shown}: ${errnoOf(err) ?? (err as Error).message}; ${done}. Fix the cause and run again: the next run applies it again (no harm) and removes it.`,
      shown,
    );
  }
}

/** True when a journal file sits in the venv (committed or not). */
export function hasJournal(rootAbs: ByteString): boolean {
  try {
    fs.lstatSync(toBytes(`${rootAbs}/${JOURNAL_NAME}`));
    return true;
  } catch {
    return false;
  }
}

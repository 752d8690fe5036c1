import { fs } from '../fs.js';
import { errnoOf, VenvToolsError } from '../errors.js';
import { bytesToUtf8, toBytes, type ByteString } from '../path-boundary.js';
import { applyJournal } from './apply-journal.js';
import { JOURNAL_NAME, parseJournal } from './journal.js';

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
  let buf: Buffer;
  try {
    buf = fs.readFileSync(p);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT' || errnoOf(err) === 'ENOTDIR') return { state: 'none', files: 0 };
    const shown = bytesToUtf8(`${rootAbs}/${JOURNAL_NAME}`);
    throw new VenvToolsError(
      'JOURNAL',
      `cannot read the journal ${shown}: ${errnoOf(err) ?? (err as Error).message}; fix its permissions and run again`,
      shown,
    );
  }
  const journal = parseJournal(buf);
  if (journal === undefined) {
    fs.unlinkSync(p);
    return { state: 'discarded', files: 0 };
  }
  applyJournal(rootAbs, journal.records);
  fs.unlinkSync(p);
  return {
    state: 'completed',
    files: journal.records.length,
    old: journal.header.old,
    new: journal.header.new,
  };
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

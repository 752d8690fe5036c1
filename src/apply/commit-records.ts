import { markCommitted } from '../core/commit-point.js';
import { bytesToUtf8, toBytes, type ByteString } from '../core/path-boundary.js';
import { applyJournal } from './apply-journal.js';
import { JOURNAL_NAME, type JournalHeader, type JournalRecord } from './journal-format.js';
import { writeJournal } from './journal-writer.js';
import { removeJournal } from './recover-journal.js';

/**
 * Journal a short list of records, commit it, apply it and remove the journal: all or nothing
 * for a change small enough to hold in memory (a reinit's links and pyvenv.cfg). A kill at any
 * point leaves either nothing applied (no committed journal) or a committed journal that the
 * next run of any command finishes.
 */
export function commitRecords(
  rootAbs: ByteString,
  header: JournalHeader,
  records: readonly JournalRecord[],
): void {
  writeJournal(rootAbs, header, records);
  markCommitted();
  applyJournal(rootAbs, records);
  removeJournal(
    toBytes(`${rootAbs}/${JOURNAL_NAME}`),
    bytesToUtf8(`${rootAbs}/${JOURNAL_NAME}`),
    'every file is already written',
  );
}

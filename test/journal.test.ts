import test from 'ava';
import { mkdtempSync, readFileSync, writeFileSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  JOURNAL_NAME,
  parseJournal,
  writeJournal,
  type JournalRecord,
} from '../src/relocate/journal.js';

const header = {
  old: '/a',
  new: '/b',
  pid: 1,
  created: '2026-01-01T00:00:00Z',
  command: 'relocate',
};
const records: JournalRecord[] = [
  {
    op: 'write',
    rel: 'bin/x',
    data: Buffer.from('#!/b/bin/python\n'),
    atimeMs: 1000.5,
    mtimeMs: 2000.25,
  },
  {
    op: 'replace',
    rel: 'lib/\xff name',
    data: Buffer.alloc(3, 7),
    mode: 0o100644,
    uid: 0,
    gid: 0,
    atimeMs: 1,
    mtimeMs: 2,
  },
  { op: 'symlink', rel: 'lib64', target: '/b/lib' },
  { op: 'remove', rel: 'x/__pycache__/m.cpython-311.pyc' },
];

function written(): { dir: string; bytes: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'vt-journal-'));
  writeJournal(dir, header, records);
  return { dir, bytes: readFileSync(join(dir, JOURNAL_NAME)) };
}

test('a committed journal reads back record for record', (t) => {
  const { bytes } = written();
  const j = parseJournal(bytes);
  t.truthy(j);
  t.deepEqual(j?.header, header);
  t.deepEqual(j?.records, records);
});

test('a journal cut anywhere is not committed', (t) => {
  const { bytes } = written();
  for (let n = 0; n < bytes.length; n += 7) {
    t.is(parseJournal(bytes.subarray(0, n)), undefined, `cut at ${n}`);
  }
});

test('a flipped byte anywhere makes the journal invalid', (t) => {
  const { bytes } = written();
  for (let i = 0; i < bytes.length; i += 3) {
    const copy = Buffer.from(bytes);
    copy[i] = (copy[i] as number) ^ 0x41;
    t.is(parseJournal(copy), undefined, `flip at ${i}`);
  }
});

test('a journal truncated on disk reads as never committed', (t) => {
  const { dir } = written();
  const p = join(dir, JOURNAL_NAME);
  truncateSync(p, 40);
  t.is(parseJournal(readFileSync(p)), undefined);
  writeFileSync(p, '');
  t.is(parseJournal(readFileSync(p)), undefined);
});

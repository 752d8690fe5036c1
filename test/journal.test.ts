import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { VenvToolsError } from '../src/errors.js';
import {
  JOURNAL_NAME,
  parseJournal,
  UnreadableJournalError,
  writeJournal,
  type JournalRecord,
} from '../src/relocate/journal.js';
import { recoverJournal } from '../src/relocate/recover-journal.js';

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

test("a flipped byte anywhere makes the journal invalid, except in the footer's record count", (t) => {
  const { bytes } = written();
  // The footer is '\nCOMMITTED\n', u32 record count, f64 body length, u32 crc of the body. The
  // count is not under the checksum, so the reader never relies on it: the records, vouched for
  // by the body's checksum, read back the same.
  const countAt = bytes.length - 16;
  for (let i = 0; i < bytes.length; i += 1) {
    const copy = Buffer.from(bytes);
    copy[i] = (copy[i] as number) ^ 0x41;
    if (i >= countAt && i < countAt + 4)
      t.deepEqual(parseJournal(copy)?.records, records, `flip at ${i}`);
    else t.is(parseJournal(copy), undefined, `flip at ${i}`);
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

/** A committed journal (valid footer and body checksum) whose one record has type `op`. */
function committedWithOp(op: number): Buffer {
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    return b;
  };
  const headerJson = Buffer.from(JSON.stringify(header));
  const path = Buffer.from('bin/x');
  const rec = Buffer.concat([Buffer.from([op]), u32(path.length), path]);
  const body = Buffer.concat([
    Buffer.from('VENV-TOOLS JOURNAL 1\n', 'latin1'),
    u32(headerJson.length),
    headerJson,
    rec,
    u32(crc32(rec)),
  ]);
  const len = Buffer.alloc(8);
  len.writeDoubleLE(body.length);
  return Buffer.concat([
    body,
    Buffer.from('\nCOMMITTED\n', 'latin1'),
    u32(1),
    len,
    u32(crc32(body)),
  ]);
}

test('a committed journal with a record type this version does not know is refused, never discarded', (t) => {
  t.throws(() => parseJournal(committedWithOp(99)), { instanceOf: UnreadableJournalError });
  const dir = mkdtempSync(join(tmpdir(), 'vt-journal-'));
  writeFileSync(join(dir, JOURNAL_NAME), committedWithOp(99));
  const err = t.throws(() => recoverJournal(dir), { instanceOf: VenvToolsError });
  t.regex(err?.message ?? '', /newer venv-tools/);
  t.true(existsSync(join(dir, JOURNAL_NAME)), 'the journal stays for the version that can read it');
});

import test from 'ava';
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { VenvToolsError } from '../../src/core/errors.js';
import { JOURNAL_NAME, type JournalRecord } from '../../src/apply/journal-format.js';
import { writeJournal } from '../../src/apply/journal-writer.js';
import { parseJournal, UnreadableJournalError } from '../../src/apply/journal-reader.js';
import { commonHead, writeRecord } from '../../src/apply/journal-sink.js';
import { recoverJournal } from '../../src/apply/recover-journal.js';

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
  {
    op: 'write',
    rel: 'lib/__pycache__/m.cpython-311.pyc',
    data: Buffer.from('the tail'),
    offset: 5000,
    mode: 0o100444,
    atimeMs: 3,
    mtimeMs: 4,
  },
  {
    op: 'write',
    rel: 'bin/read-only',
    data: Buffer.from('#!/b/bin/python\n'),
    mode: 0o100555,
    atimeMs: 5,
    mtimeMs: 6,
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

/**
 * A committed journal of format 1 (an older venv-tools: one crc over the whole body, a crc per
 * record, no frame lengths) whose one record is `rec`.
 */
function committedV1(rec: Buffer, magic = 'VENV-TOOLS JOURNAL 1\n'): Buffer {
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    return b;
  };
  const headerJson = Buffer.from(JSON.stringify(header));
  const body = Buffer.concat([
    Buffer.from(magic, 'latin1'),
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

/** A committed journal of format 1 whose one record, for `bin/x`, has type `op`. */
function committedWithOp(op: number): Buffer {
  const path = Buffer.from('bin/x');
  const len = Buffer.alloc(4);
  len.writeUInt32LE(path.length);
  return committedV1(Buffer.concat([Buffer.from([op]), len, path]));
}

test('a committed journal with a record type this version does not know is refused, never discarded', (t) => {
  t.throws(() => parseJournal(committedWithOp(99)), { instanceOf: UnreadableJournalError });
  const dir = mkdtempSync(join(tmpdir(), 'vt-journal-'));
  writeFileSync(join(dir, JOURNAL_NAME), committedWithOp(99));
  const err = t.throws(() => recoverJournal(dir), { instanceOf: VenvToolsError });
  t.regex(err?.message ?? '', /newer venv-tools/);
  t.true(existsSync(join(dir, JOURNAL_NAME)), 'the journal stays for the version that can read it');
});

test('a committed journal whose record runs past its end is refused, never applied', (t) => {
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    return b;
  };
  const f64 = (n: number) => {
    const b = Buffer.alloc(8);
    b.writeDoubleLE(n);
    return b;
  };
  const path = Buffer.from('bin/x');
  const data = Buffer.from('abc');
  // op 1: write (path, times, data); op 6: write from an offset (mode, times, offset, data).
  const write = (len: number) =>
    Buffer.concat([Buffer.from([1]), u32(path.length), path, f64(1), f64(2), f64(len), data]);
  const tail = (offset: number) =>
    Buffer.concat([
      Buffer.from([6]),
      u32(path.length),
      path,
      u32(0o644),
      f64(1),
      f64(2),
      f64(offset),
      f64(data.length),
      data,
    ]);
  // The well-formed ones read back, so each bad one below fails for its one flaw.
  t.deepEqual(parseJournal(committedV1(write(3)))?.records, [
    { op: 'write', rel: 'bin/x', atimeMs: 1, mtimeMs: 2, data },
  ]);
  t.deepEqual(parseJournal(committedV1(tail(9)))?.records, [
    { op: 'write', rel: 'bin/x', atimeMs: 1, mtimeMs: 2, data, mode: 0o644, offset: 9 },
  ]);
  const bad: Record<string, Buffer> = {
    'a path longer than the journal': Buffer.concat([Buffer.from([1]), u32(1000), path]),
    'data longer than the journal': write(1e6),
    'a data length that is not a whole number': write(2.5),
    'a data length that is not a number': write(NaN),
    'a negative offset': tail(-1),
    'a symlink target longer than the journal': Buffer.concat([
      Buffer.from([3]),
      u32(path.length),
      path,
      u32(99),
      data,
    ]),
  };
  for (const [what, rec] of Object.entries(bad)) {
    t.throws(() => parseJournal(committedV1(rec)), { instanceOf: UnreadableJournalError }, what);
  }
});

test('a committed journal of a format this version does not know is refused, never discarded', (t) => {
  const future = committedV1(Buffer.from([4, 1, 0, 0, 0, 0x78]), 'VENV-TOOLS JOURNAL 3\n');
  t.throws(() => parseJournal(future), { instanceOf: UnreadableJournalError });
  const dir = mkdtempSync(join(tmpdir(), 'vt-journal-'));
  writeFileSync(join(dir, JOURNAL_NAME), future);
  t.throws(() => recoverJournal(dir), { instanceOf: VenvToolsError, message: /newer venv-tools/ });
  t.true(existsSync(join(dir, JOURNAL_NAME)));
});

test('a journal of format 1, left by an older venv-tools, is still finished', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vt-journal-'));
  writeFileSync(join(dir, 'f.txt'), 'old content, longer than the new one\n');
  const path = Buffer.from('f.txt');
  const data = Buffer.from('/b\n');
  const f64 = (n: number) => {
    const b = Buffer.alloc(8);
    b.writeDoubleLE(n);
    return b;
  };
  const len = Buffer.alloc(4);
  len.writeUInt32LE(path.length);
  // op 1: write without a mode; atime 1000 ms, mtime 2000 ms.
  const rec = Buffer.concat([Buffer.from([1]), len, path, f64(1000), f64(2000), f64(3), data]);
  writeFileSync(join(dir, JOURNAL_NAME), committedV1(rec));
  t.like(recoverJournal(dir), { state: 'completed', files: 1, old: '/a', new: '/b' });
  t.is(readFileSync(join(dir, 'f.txt'), 'utf8'), '/b\n');
  t.is(statSync(join(dir, 'f.txt')).mtimeMs, 2000);
  t.false(existsSync(join(dir, JOURNAL_NAME)));
});

test('a journal far larger than the read window is applied by a recovery, record for record', (t) => {
  // 300 files of 40 KB and one of 3 MB (written past the journal's write buffer, and read back
  // through a window it does not fit): together over 14 times the 1 MiB window.
  const dir = mkdtempSync(join(tmpdir(), 'vt-journal-'));
  const many: JournalRecord[] = [];
  for (let i = 0; i < 300; i++) {
    writeFileSync(join(dir, `f${i}`), 'x');
    many.push({
      op: 'write',
      rel: `f${i}`,
      data: Buffer.alloc(40_000, i % 251),
      atimeMs: 1000,
      mtimeMs: 2000 + i,
    });
  }
  writeFileSync(join(dir, 'big'), 'x');
  many.push({ op: 'write', rel: 'big', data: Buffer.alloc(3 << 20, 7), atimeMs: 1, mtimeMs: 2 });
  writeJournal(dir, header, many);
  t.true(statSync(join(dir, JOURNAL_NAME)).size > 14 << 20);
  t.like(recoverJournal(dir), { state: 'completed', files: 301 });
  for (let i = 0; i < 300; i++) {
    t.true(readFileSync(join(dir, `f${i}`)).equals(Buffer.alloc(40_000, i % 251)), `f${i}`);
    t.is(statSync(join(dir, `f${i}`)).mtimeMs, 2000 + i);
  }
  t.true(readFileSync(join(dir, 'big')).equals(Buffer.alloc(3 << 20, 7)));
});

test('a file whose head does not change is journaled and written from its first changed byte', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vt-journal-'));
  const head = Buffer.alloc(10_000, 0x61);
  const before = Buffer.concat([head, Buffer.from('/old/place/lib/m.py and more after it')]);
  const after = Buffer.concat([head, Buffer.from('/srv/new/lib/m.py and more after it')]);
  t.is(commonHead(after, before), 10_001);
  t.is(commonHead(before, before), before.length);
  t.is(commonHead(Buffer.from('x'), Buffer.from('y')), 0);
  const st = { mode: 0o100644, nlink: 1, uid: 0, gid: 0, atimeMs: 1000, mtimeMs: 2000 };
  const rec = writeRecord('m.pyc', 'pyc', after, before, st);
  t.like(rec, { op: 'write', offset: 10_001 });
  t.is(rec.op === 'write' ? rec.data.toString() : '', 'srv/new/lib/m.py and more after it');
  // A small file, or one that changes early, is written whole...
  t.is(
    (
      writeRecord('s', 'shebang', Buffer.from('/srv/x'), Buffer.from('/old/x'), st) as {
        offset?: number;
      }
    ).offset,
    undefined,
  );
  // ... but for the header of a pyc that stays (16 bytes, or as many as stay).
  const pyc = Buffer.concat([Buffer.alloc(16, 0x42), Buffer.from('\xe3 /old/x')]);
  const pycAfter = Buffer.concat([Buffer.alloc(16, 0x42), Buffer.from('\xe3 /srv/x')]);
  t.like(writeRecord('p.pyc', 'pyc', pycAfter, pyc, st), { op: 'write', offset: 16 });
  const stamped = Buffer.from(pycAfter);
  stamped[12] = 0x43; // the source size, after a new source
  t.like(writeRecord('p.pyc', 'pyc', stamped, pyc, st), { op: 'write', offset: 12 });
  // A hard-linked file is replaced whole, whatever its head.
  t.like(writeRecord('h', 'pyc', after, before, { ...st, nlink: 2 }), { op: 'replace' });

  // Applied on the old file, on a torn one (killed mid-write: a longer mix), and again on the
  // result: the same bytes every time.
  const p = join(dir, 'm.pyc');
  for (const start of [
    before,
    Buffer.concat([after.subarray(0, 10_010), before.subarray(10_005)]),
    after,
  ]) {
    writeFileSync(p, start);
    writeJournal(dir, header, [rec]);
    t.like(recoverJournal(dir), { state: 'completed', files: 1 });
    t.true(readFileSync(p).equals(after));
    t.is(statSync(p).mtimeMs, 2000);
  }
});

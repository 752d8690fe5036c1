import test from 'ava';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openTreeWriter } from '../../src/archive/tree-writer.js';
import { WriteOpError } from '../../src/archive/write-ops.js';
import { freshDir } from '../helpers/scratch.js';

// The writing threads of unpack (src/archive/tree-writer.ts): whatever order the batches are
// written in, and however many writers there are (none: the main thread), every folder and file
// is there with its content, mode and time; a link waits for what came before it; a failed call
// fails the run, naming the member; and a writer that begins late is never waited for forever.

const T = 1_700_000_000.25;

function fill(into: string, threads: number, files: number): void {
  const w = openTreeWriter(into, threads);
  try {
    for (let d = 0; d < files / 50; d++) {
      w.ops.mkdir(`d${d}`);
      for (let f = 0; f < 50; f++) {
        // Sizes around the 4 MiB batches, one file larger than a batch: it spans several.
        const size = d === 3 && f === 7 ? 9 << 20 : (f * 7919) % 70_000;
        w.ops.file(`d${d}/f${f}`, 0o640, T, false, Buffer.alloc(size, (d + f) & 0xff));
      }
    }
    // A folder only a file names, then a symlink and a hard link.
    w.ops.file('implied/deep/f', 0o600, T, false, Buffer.from('x'));
    w.symlink('implied/deep/s', 'f');
    w.link('implied/h', 'd0/f1');
    w.sync();
  } finally {
    w.close();
  }
}

function check(t: import('ava').ExecutionContext, into: string, files: number): void {
  for (let d = 0; d < files / 50; d++) {
    for (let f = 0; f < 50; f++) {
      const p = path.join(into, `d${d}`, `f${f}`);
      const size = d === 3 && f === 7 ? 9 << 20 : (f * 7919) % 70_000;
      const st = fs.statSync(p);
      t.is(st.size, size, p);
      t.is(st.mode & 0o777, 0o640 & ~process.umask(), p);
      t.is(st.mtimeMs, T * 1000, p);
      if (size > 0) {
        const b = fs.readFileSync(p);
        t.true(b[0] === ((d + f) & 0xff) && b[size - 1] === ((d + f) & 0xff), p);
      }
    }
  }
  t.is(fs.readlinkSync(path.join(into, 'implied/deep/s')), 'f');
  t.is(fs.statSync(path.join(into, 'implied/h')).ino, fs.statSync(path.join(into, 'd0/f1')).ino);
}

for (const threads of [0, 1, 2, 4]) {
  test(`${threads} writing thread(s): every file is written whole, with its mode and time`, (t) => {
    const into = freshDir(`tree-writer-${threads}`);
    fill(into, threads, 500);
    check(t, into, 500);
  });
}

test('a failed call fails the run with its errno and the member, and the writers stop', (t) => {
  const into = freshDir('tree-writer-fail');
  fs.mkdirSync(path.join(into, 'd'));
  fs.writeFileSync(path.join(into, 'd', 'taken'), 'there before');
  const w = openTreeWriter(into, 2);
  const err = t.throws(
    () => {
      for (let i = 0; i < 200; i++) w.ops.file(`d/f${i}`, 0o644, T, false, Buffer.alloc(60_000));
      w.ops.file('d/taken', 0o644, T, false, Buffer.from('over'));
      w.sync();
    },
    { instanceOf: WriteOpError },
  );
  t.is(err?.code, 'EEXIST');
  t.is(err?.rel, 'd/taken');
  w.close();
  t.is(fs.readFileSync(path.join(into, 'd', 'taken'), 'utf8'), 'there before');
});

// Each run in a process of its own, whose time is bounded: a wait that never ends must fail
// the test, not hang the suite (the main thread waits with Atomics.wait, which no timer breaks).
const writerModule = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'src',
  'archive',
  'tree-writer.js',
);
test('a few files synced at once, before the writers began, are written (no wait without end)', (t) => {
  const top = freshDir('tree-writer-early');
  const script = `
    const { openTreeWriter } = await import(${JSON.stringify(writerModule)});
    for (let run = 0; run < 30; run++) {
      const into = ${JSON.stringify(top)} + '/' + run;
      (await import('node:fs')).mkdirSync(into);
      const w = openTreeWriter(into, 2);
      // Enough for a few batches, handed over while the writers boot, at varied moments.
      for (let i = 0; i < run % 6; i++) w.ops.file('f' + i, 0o644, 0, false, Buffer.alloc(3 << 20));
      w.ops.file('last', 0o644, 0, false, Buffer.from('x'));
      w.sync();
      w.close();
    }`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  t.is(r.status, 0, `${r.signal ?? ''} ${r.stderr.slice(-3000)}`);
  for (let run = 0; run < 30; run++) {
    t.true(fs.existsSync(path.join(top, String(run), 'last')), `run ${run}`);
  }
});

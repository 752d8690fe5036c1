import test from 'ava';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { openArchiveInput } from '../../src/archive/archive-input.js';
import { openArchiveOutput } from '../../src/archive/archive-output.js';
import { formatFromMagic, formatFromName } from '../../src/archive/archive-format.js';
import {
  decodeHeader,
  encodeHeader,
  paxTime,
  type TarHeader,
} from '../../src/archive/tar-header.js';
import { TarReader } from '../../src/archive/tar-reader.js';
import { TarWriter } from '../../src/archive/tar-writer.js';
import { freshDir } from '../helpers/scratch.js';

// The tar reader and writer against GNU tar and bsdtar: what we write, both extract exactly
// (long and non-UTF-8 names, nanosecond times, modes, links); what they write in each of their
// formats, we read.

const bsdtar = spawnSync('bsdtar', ['--version']).status === 0;

function sh(file: string, args: string[], cwd?: string): string {
  const r = spawnSync(file, args, { encoding: 'latin1', cwd });
  if (r.status !== 0) throw new Error(`${file} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** Read an archive file through our reader into a list of members and their data. */
async function readAll(file: string): Promise<Array<TarHeader & { data: Buffer }>> {
  const input = await openArchiveInput(file, file);
  const out: Array<TarHeader & { data: Buffer }> = [];
  let cur: (TarHeader & { parts: Buffer[] }) | undefined;
  const reader = new TarReader({
    entry: (h) => {
      cur = { ...h, parts: [] };
    },
    data: (c) => cur?.parts.push(Buffer.from(c)),
    endEntry: () => {
      if (cur === undefined) return;
      const { parts, ...h } = cur;
      out.push({ ...h, data: Buffer.concat(parts) });
    },
  });
  for await (const c of input.chunks) reader.push(c);
  reader.end();
  return out;
}

/** A tar stream written by our writer into memory: what `add` puts in it, and its end. */
function tarInMemory(add: (writer: TarWriter) => void): Buffer {
  const w: Buffer[] = [];
  const writer = new TarWriter({
    write: (c) => w.push(Buffer.from(c)),
    ready: () => undefined,
    finish: async () => undefined,
    abort: () => undefined,
  });
  add(writer);
  void writer.finish();
  return Buffer.concat(w);
}

const longDir = `${'d'.repeat(120)}/${'e'.repeat(90)}`;
const members: Array<{ h: TarHeader; data?: Buffer }> = [
  {
    h: {
      name: 'bin',
      type: 'dir',
      mode: 0o755,
      size: 0,
      mtimeNs: 1_700_000_000_000_000_000n,
      linkname: '',
    },
  },
  {
    h: {
      name: 'bin/tool',
      type: 'file',
      mode: 0o755,
      size: 6,
      mtimeNs: 1_700_000_001_123_456_789n,
      linkname: '',
    },
    data: Buffer.from('hello\n'),
  },
  {
    h: {
      name: 'bin/ro',
      type: 'file',
      mode: 0o444,
      size: 3,
      mtimeNs: 1_700_000_002_000_000_000n,
      linkname: '',
    },
    data: Buffer.from('ro\n'),
  },
  {
    h: {
      name: 'bin/hard',
      type: 'hardlink',
      mode: 0o755,
      size: 0,
      mtimeNs: 1_700_000_001_000_000_000n,
      linkname: 'bin/tool',
    },
  },
  {
    h: {
      name: 'bin/python',
      type: 'symlink',
      mode: 0o777,
      size: 0,
      mtimeNs: 1_700_000_000_000_000_000n,
      linkname: '/usr/bin/python3',
    },
  },
  {
    h: {
      name: longDir,
      type: 'dir',
      mode: 0o700,
      size: 0,
      mtimeNs: 1_700_000_000_000_000_000n,
      linkname: '',
    },
  },
  {
    h: {
      name: `${longDir}/${'f'.repeat(100)}.py`,
      type: 'file',
      mode: 0o640,
      size: 2,
      mtimeNs: 1_700_000_003_000_000_001n,
      linkname: '',
    },
    data: Buffer.from('x\n'),
  },
  {
    h: {
      name: 'caf\xe9.py',
      type: 'file',
      mode: 0o644,
      size: 1,
      mtimeNs: 1_700_000_004_500_000_000n,
      linkname: '',
    },
    data: Buffer.from('y'),
  },
  {
    h: {
      name: 'long-link',
      type: 'symlink',
      mode: 0o777,
      size: 0,
      mtimeNs: 1_700_000_000_000_000_000n,
      linkname: `/${'t'.repeat(150)}`,
    },
  },
];

async function writeArchive(file: string, format: 'tar' | 'tar.gz' | 'tar.zst'): Promise<void> {
  const fd = fs.openSync(file, 'w');
  const out = await openArchiveOutput(fd, file, format);
  const w = new TarWriter(out);
  for (const m of members) w.add(m.h, m.data);
  await w.finish();
  fs.closeSync(fd);
}

for (const format of ['tar', 'tar.gz', 'tar.zst'] as const) {
  test(`GNU tar${bsdtar ? ' and bsdtar' : ''} extract a ${format} we wrote exactly: long and non-UTF-8 names, nanosecond times, modes, hard links and symlinks`, async (t) => {
    const dir = freshDir('tar-out');
    const file = path.join(dir, `a.${format}`);
    await writeArchive(file, format);
    for (const tool of bsdtar ? ['tar', 'bsdtar'] : ['tar']) {
      const into = path.join(dir, tool);
      fs.mkdirSync(into);
      sh(tool, ['-xpf', file, '-C', into]);
      const st = (rel: string) =>
        fs.lstatSync(Buffer.from(path.join(into, rel), 'latin1'), { bigint: true });
      t.is(fs.readFileSync(path.join(into, 'bin/tool'), 'utf8'), 'hello\n', tool);
      t.is(st('bin/tool').mtimeNs, 1_700_000_001_123_456_789n, `${tool}: nanoseconds`);
      t.is(Number(st('bin/ro').mode) & 0o7777, 0o444, tool);
      t.is(st('bin/hard').ino, st('bin/tool').ino, `${tool}: the hard link is one`);
      t.is(fs.readlinkSync(path.join(into, 'bin/python')), '/usr/bin/python3', tool);
      t.is(fs.readlinkSync(path.join(into, 'long-link')), `/${'t'.repeat(150)}`, tool);
      t.is(fs.readFileSync(path.join(into, longDir, `${'f'.repeat(100)}.py`), 'utf8'), 'x\n', tool);
      t.is(Number(st(longDir).mode) & 0o7777, 0o700, tool);
      t.is(
        fs.readFileSync(Buffer.from(path.join(into, 'caf\xe9.py'), 'latin1'), 'utf8'),
        'y',
        `${tool}: a Latin-1 name`,
      );
    }
    // And our reader reads back what we wrote.
    const back = await readAll(file);
    t.deepEqual(
      back.map((m) => [m.name, m.type, m.mode, m.mtimeNs, m.linkname, m.data.toString('latin1')]),
      members.map((m) => [
        m.h.name,
        m.h.type,
        m.h.mode,
        m.h.mtimeNs,
        m.h.linkname,
        m.data?.toString('latin1') ?? '',
      ]),
    );
  });
}

for (const fmt of ['gnu', 'posix', 'ustar', 'v7', 'oldgnu']) {
  test(`reads what GNU tar writes in its ${fmt} format`, async (t) => {
    const dir = freshDir(`tar-${fmt}`);
    const src = path.join(dir, 'src');
    const deep = fmt === 'v7' || fmt === 'ustar' ? 'a/b' : `${'a'.repeat(120)}/${'b'.repeat(120)}`;
    fs.mkdirSync(path.join(src, deep), { recursive: true });
    fs.writeFileSync(path.join(src, deep, 'f.txt'), 'data');
    fs.symlinkSync('f.txt', path.join(src, deep, 'l'));
    fs.linkSync(path.join(src, deep, 'f.txt'), path.join(src, deep, 'h'));
    fs.utimesSync(path.join(src, deep, 'f.txt'), 1_600_000_000.25, 1_600_000_000.25);
    const file = path.join(dir, 'a.tar');
    sh('tar', [`--format=${fmt}`, '-cf', file, '-C', src, '.']);
    const got = await readAll(file);
    const f = got.find((m) => m.name.endsWith('/f.txt') && m.type === 'file');
    const h = got.find((m) => m.name.endsWith('/h') || m.name.endsWith('/f.txt'));
    t.is(f?.data.toString(), 'data');
    t.is(f?.name, `./${deep}/f.txt`);
    t.truthy(
      got.find((m) => m.name === `./${deep}/l` && m.type === 'symlink' && m.linkname === 'f.txt'),
    );
    t.truthy(h);
    t.truthy(got.find((m) => m.type === 'hardlink'));
    if (fmt === 'posix') t.is(f?.mtimeNs, 1_600_000_000_250_000_000n);
    else t.is(f?.mtimeNs, 1_600_000_000_000_000_000n);
  });
}

test('reads what bsdtar writes', async (t) => {
  if (!bsdtar) return t.fail('bsdtar is missing: apt-get install libarchive-tools (.ci/run does)');
  const dir = freshDir('bsdtar');
  fs.mkdirSync(path.join(dir, 'src', 'x'.repeat(150)), { recursive: true });
  fs.writeFileSync(path.join(dir, 'src', 'x'.repeat(150), 'y'), 'z');
  const file = path.join(dir, 'a.tar.gz');
  sh('bsdtar', ['-czf', file, '-C', path.join(dir, 'src'), '.']);
  const got = await readAll(file);
  t.is(got.find((m) => m.name.endsWith('/y'))?.data.toString(), 'z');
});

test('a header round-trips through encode and decode, and sizes of 8 GiB and more go in a pax record', (t) => {
  const h: TarHeader = {
    name: 'a/b',
    type: 'file',
    mode: 0o644,
    size: 9 * 2 ** 30,
    mtimeNs: 5_000_000_000n,
    linkname: '',
  };
  const blocks = encodeHeader(h);
  t.is(blocks.length, 3 * 512, 'a pax header, its records, and the ustar block');
  t.true(
    blocks
      .subarray(512, 1024)
      .toString('latin1')
      .includes(`size=${9 * 2 ** 30}`),
  );
  const plain = encodeHeader({ ...h, size: 10 });
  t.is(plain.length, 512, 'whole seconds and a short name need no pax header');
  t.is(decodeHeader(plain).size, 10);
  t.is(paxTime(1_700_000_000_000_000_001n), '1700000000.000000001');
  t.is(paxTime(-1_500_000_000n), '-1.500000000');
});

test('formats are chosen by name for writing and by magic bytes for reading', (t) => {
  t.is(formatFromName('app.tar.zst'), 'tar.zst');
  t.is(formatFromName('app.TGZ'), 'tar.gz');
  t.is(formatFromName('app.tar'), 'tar');
  t.is(formatFromName('app.zip'), undefined);
  t.is(formatFromMagic(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0])), 'tar.zst');
  t.is(formatFromMagic(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3])), 'tar.gz');
  t.is(formatFromMagic(Buffer.from('PK\x03\x04aaaaaaaaaa', 'latin1')), 'zip');
});

test('the reader refuses truncation, a corrupt header, and data after the end', (t) => {
  const whole = tarInMemory((writer) =>
    writer.add(
      { name: 'f', type: 'file', mode: 0o644, size: 1000, mtimeNs: 0n, linkname: '' },
      Buffer.alloc(1000, 1),
    ),
  );
  const read = (b: Buffer) => {
    const r = new TarReader({
      entry: () => undefined,
      data: () => undefined,
      endEntry: () => undefined,
    });
    r.push(b);
    r.end();
  };
  t.notThrows(() => read(whole));
  t.throws(() => read(whole.subarray(0, 700)), { message: /ends inside a member/ });
  t.throws(() => read(whole.subarray(0, 1536)), { message: /end-of-archive/ });
  const bad = Buffer.from(whole);
  bad[10] = 0x41;
  t.throws(() => read(bad), { message: /checksum/ });
  t.throws(() => read(Buffer.concat([whole, Buffer.from('junk'.padEnd(512))])), {
    message: /after the end/,
  });
});

test('the CRC where each member began is the same, whatever the chunks the stream comes in', (t) => {
  // Plain members, one with a pax header (a long name, a time in ns), and sizes around a block.
  const sizes = [0, 1, 511, 512, 513, 3000, 70_000];
  const whole = tarInMemory((writer) =>
    sizes.forEach((size, i) => {
      const name = i === 3 ? `${'n'.repeat(150)}/f${i}` : `f${i}`;
      writer.add(
        {
          name,
          type: 'file',
          mode: 0o644,
          size,
          mtimeNs: 1_700_000_000_123_456_789n,
          linkname: '',
        },
        Buffer.alloc(size, i + 1),
      );
    }),
  );
  const seen = (chunk: number): string[] => {
    const out: string[] = [];
    const r: TarReader = new TarReader({
      entry: () => undefined,
      data: () => undefined,
      // Asked as unpack asks it: once the member's data is read.
      endEntry: () => out.push(`${r.entryOffset}:${r.entryCrc}`),
    });
    for (let at = 0; at < whole.length; at += chunk) r.push(whole.subarray(at, at + chunk));
    r.end();
    return out;
  };
  const expected = seen(whole.length);
  t.is(expected.length, sizes.length);
  for (const e of expected) {
    const offset = Number(e.split(':')[0]);
    t.is(e, `${offset}:${crc32(whole.subarray(0, offset))}`);
  }
  for (const chunk of [1, 3, 100, 511, 512, 513, 1000, 4096, 65_536]) {
    t.deepEqual(seen(chunk), expected, `chunks of ${chunk} bytes`);
  }
});

import test from 'ava';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cli } from '../helpers/cli.js';
import { reliabilityPython, smallVenv } from '../helpers/reliability-venv.js';
import { treeDiff, treeState } from '../helpers/reliability-tree.js';
import { freshDir } from '../helpers/scratch.js';

// Hostile and broken archives (issue "pack and unpack": every member is checked before
// anything is written). Each archive is made by Python's tarfile (or GNU tar), not by our own
// writer, and unpacked by the built CLI into DEST beside a folder OUTSIDE that the tricks aim at.
// Each must be refused with a message naming the member, leave no DEST and nothing beside it,
// and change nothing in OUTSIDE.

const python = reliabilityPython();

/** Writes a tar from a JSON list of members; types: file, dir, symlink, hardlink, chr, blk, fifo. */
const MAKE_TAR = `
import io, json, sys, tarfile
spec = json.load(open(sys.argv[1]))
fmt = {'gnu': tarfile.GNU_FORMAT, 'pax': tarfile.PAX_FORMAT}[spec.get('format', 'pax')]
types = {'file': tarfile.REGTYPE, 'dir': tarfile.DIRTYPE, 'symlink': tarfile.SYMTYPE,
         'hardlink': tarfile.LNKTYPE, 'chr': tarfile.CHRTYPE, 'blk': tarfile.BLKTYPE,
         'fifo': tarfile.FIFOTYPE}
with tarfile.open(sys.argv[2], 'w', format=fmt) as tar:
    for m in spec['members']:
        ti = tarfile.TarInfo(m['name'])
        ti.type = types[m['type']]
        ti.mode = 0o755 if m['type'] == 'dir' else 0o644
        ti.linkname = m.get('link', '')
        data = m.get('data', '').encode()
        ti.size = len(data) if m['type'] == 'file' else 0
        tar.addfile(ti, io.BytesIO(data) if m['type'] == 'file' else None)
`;

interface Member {
  name: string;
  type: 'file' | 'dir' | 'symlink' | 'hardlink' | 'chr' | 'blk' | 'fifo';
  link?: string;
  data?: string;
}

function makeTar(file: string, members: Member[], format: 'pax' | 'gnu' = 'pax'): void {
  const spec = `${file}.json`;
  fs.writeFileSync(spec, JSON.stringify({ members, format }));
  const r = spawnSync(python.exe, ['-c', MAKE_TAR, spec, file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tarfile: ${r.stderr}`);
}

const top = freshDir('hostile-archives');
const outside = path.join(top, 'outside');
fs.mkdirSync(outside);
fs.writeFileSync(path.join(outside, 'target'), 'must not change\n');
const before = treeState(top);

/** The ten classic tar-slip and link tricks, and more. OUTSIDE is an absolute path here. */
const cases: Array<{ what: string; members: Member[]; refused: RegExp; format?: 'gnu' }> = [
  {
    what: 'an absolute name',
    members: [{ name: `${outside}/evil`, type: 'file', data: 'x' }],
    refused: /absolute name/,
  },
  {
    what: 'a name that climbs with ..',
    members: [{ name: '../outside/evil', type: 'file', data: 'x' }],
    refused: /`\.\.`/,
  },
  {
    what: 'a name that climbs with .. after going down',
    members: [{ name: 'a/b/../../../outside/evil', type: 'file', data: 'x' }],
    refused: /`\.\.`/,
  },
  {
    what: 'a file written through an earlier symlink to an absolute folder',
    members: [
      { name: 'link', type: 'symlink', link: outside },
      { name: 'link/evil', type: 'file', data: 'x' },
    ],
    refused: /goes through the earlier symlink link/,
  },
  {
    what: 'a file written through an earlier symlink to ..',
    members: [
      { name: 'up', type: 'symlink', link: '..' },
      { name: 'up/outside/evil', type: 'file', data: 'x' },
    ],
    refused: /goes through the earlier symlink up/,
  },
  {
    what: 'a file with the name of an earlier symlink (a write through the link)',
    members: [
      { name: 'x', type: 'symlink', link: `${outside}/target` },
      { name: 'x', type: 'file', data: 'overwritten' },
    ],
    refused: /a second member named x/,
  },
  {
    what: 'a hard link to an absolute path',
    members: [{ name: 'h', type: 'hardlink', link: `${outside}/target` }],
    refused: /absolute name/,
  },
  {
    what: 'a hard link that climbs with ..',
    members: [{ name: 'h', type: 'hardlink', link: '../outside/target' }],
    refused: /`\.\.`/,
  },
  {
    what: 'a hard link to an earlier symlink that leads outside',
    members: [
      { name: 's', type: 'symlink', link: `${outside}/target` },
      { name: 'h', type: 'hardlink', link: 's' },
    ],
    refused: /hard link to s, which is not an earlier file/,
  },
  {
    what: 'a hard link to a file that is not in the archive',
    members: [{ name: 'h', type: 'hardlink', link: 'etc/passwd' }],
    refused: /not an earlier file/,
  },
  {
    what: 'a character device',
    members: [{ name: 'null', type: 'chr' }],
    refused: /character device: null/,
  },
  { what: 'a block device', members: [{ name: 'sda', type: 'blk' }], refused: /block device: sda/ },
  { what: 'a FIFO', members: [{ name: 'pipe', type: 'fifo' }], refused: /FIFO: pipe/ },
  {
    what: 'a folder made through a symlink to itself',
    members: [
      { name: 'a', type: 'symlink', link: '.' },
      { name: 'a/a/evil', type: 'dir' },
    ],
    refused: /goes through the earlier symlink a/,
  },
  {
    what: 'a symlink swapped in for an earlier folder',
    members: [
      { name: 'd', type: 'dir' },
      { name: 'd', type: 'symlink', link: outside },
      { name: 'd/evil', type: 'file', data: 'x' },
    ],
    refused: /a second member named d/,
  },
  {
    // Files are written by other threads, later: the symlink must not be made before the
    // folder that the file before it implies, or the file would be written through it.
    what: 'a symlink in place of a folder that only an earlier file names',
    members: [
      { name: 'imp/evil', type: 'file', data: 'x' },
      { name: 'imp', type: 'symlink', link: outside },
      { name: 'imp/evil2', type: 'file', data: 'x' },
    ],
    refused: /EEXIST|goes through the earlier symlink imp/,
  },
  {
    what: 'a pax path that climbs with ..',
    members: [{ name: `../${'p'.repeat(200)}`, type: 'file', data: 'x' }],
    refused: /`\.\.`/,
  },
  {
    what: 'a GNU long name that climbs with ..',
    members: [{ name: `../${'g'.repeat(200)}`, type: 'file', data: 'x' }],
    refused: /`\.\.`/,
    format: 'gnu',
  },
  {
    what: 'a name longer than PATH_MAX',
    members: [{ name: `${'n/'.repeat(2100)}f`, type: 'file', data: 'x' }],
    refused: /a name of \d+ bytes/,
  },
  {
    what: 'a name component longer than NAME_MAX',
    members: [{ name: `${'c'.repeat(300)}`, type: 'file', data: 'x' }],
    refused: /component of 300 bytes/,
  },
];

function refusedCleanly(
  t: import('ava').ExecutionContext,
  archive: string,
  refused: RegExp,
  label: string,
): void {
  const parent = path.join(top, 'dest', label.replace(/\W+/g, '-'));
  const dest = path.join(parent, 'venv');
  const r = cli(['unpack', archive, dest]);
  t.is(r.status, 1, `${label}: ${r.stdout}${r.stderr}`);
  t.regex(r.stderr, refused, label);
  t.regex(r.stderr, /Nothing was written at the destination/, label);
  t.false(fs.existsSync(dest), `${label}: DEST must not appear`);
  t.deepEqual(
    fs.existsSync(parent) ? fs.readdirSync(parent) : [],
    [],
    `${label}: nothing beside DEST`,
  );
  t.deepEqual(
    treeDiff(
      before,
      treeState(top, (rel) => rel.startsWith('dest') || rel.startsWith('archives')),
    ),
    [],
    label,
  );
}

fs.mkdirSync(path.join(top, 'archives'));
for (const c of cases) {
  test(`refuses ${c.what}, writing nothing`, (t) => {
    const archive = path.join(top, 'archives', `${c.what.replace(/\W+/g, '-')}.tar`);
    makeTar(archive, c.members, c.format ?? 'pax');
    refusedCleanly(t, archive, c.refused, c.what);
  });
}

test('refuses a GNU sparse file, writing nothing', (t) => {
  const dir = path.join(top, 'archives', 'sparse-src');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'holes'), '');
  fs.truncateSync(path.join(dir, 'holes'), 10 << 20);
  const archive = path.join(top, 'archives', 'sparse.tar');
  const r = spawnSync('tar', ['--format=gnu', '--sparse', '-cf', archive, '-C', dir, 'holes']);
  t.is(r.status, 0);
  refusedCleanly(t, archive, /sparse file/, 'sparse');
});

test('refuses a zstd bomb that expands far beyond its size, writing nothing', (t) => {
  // 300 MB of zeros: a few kilobytes of zstd.
  const archive = path.join(top, 'archives', 'bomb.tar.zst');
  const r = spawnSync(
    'sh',
    [
      '-c',
      `${JSON.stringify(python.exe)} -c "import tarfile,io,sys
t=tarfile.open(fileobj=sys.stdout.buffer,mode='w|')
ti=tarfile.TarInfo('zeros'); ti.size=300<<20
class Z(io.RawIOBase):
  left=300<<20
  def readable(self): return True
  def readinto(self,b):
    n=min(len(b),self.left); b[:n]=bytes(n); self.left-=n; return n
t.addfile(ti,io.BufferedReader(Z())); t.close()" | zstd -q -c > ${JSON.stringify(archive)}`,
    ],
    { encoding: 'utf8' },
  );
  t.is(r.status, 0, r.stderr);
  t.true(fs.statSync(archive).size < 1 << 20);
  refusedCleanly(t, archive, /compression bomb/, 'bomb');
});

test('refuses a truncated or corrupt archive with a message that says so, and leaves nothing at DEST', (t) => {
  const v = smallVenv('hostile-trunc');
  const venv = path.join(top, 'archives', 'venv');
  fs.cpSync(v.template, venv, { recursive: true, verbatimSymlinks: true });
  const ours = path.join(top, 'archives', 'ours.tar');
  const p = cli(['pack', venv, '-o', ours]);
  t.is(p.status, 0, p.stderr);
  const bytes = fs.readFileSync(ours);
  const write = (name: string, b: Buffer) => {
    const f = path.join(top, 'archives', name);
    fs.writeFileSync(f, b);
    return f;
  };
  // Cut in the middle of a member.
  refusedCleanly(
    t,
    write('cut.tar', bytes.subarray(0, Math.floor(bytes.length / 2) + 100)),
    /truncated/,
    'cut',
  );
  // Cut at a member's end, before the trailer: a tar without its end blocks.
  const trailerAt = bytes.indexOf('.venv-tools.archive-end.json', 1024);
  refusedCleanly(
    t,
    write('no-trailer.tar', bytes.subarray(0, trailerAt)),
    /truncated/,
    'no trailer',
  );
  // One byte of a file's data flipped: only the trailer's checksum sees it.
  const flipped = Buffer.from(bytes);
  const at = flipped.indexOf('print("tool ok")');
  t.true(at > 0);
  flipped[at] = 0x50;
  refusedCleanly(t, write('flipped.tar', flipped), /checksum does not match/, 'flipped');
  // gzip's own check, and zstd's.
  for (const [ext, args] of [
    ['tar.gz', ['gzip', '-c']],
    ['tar.zst', ['zstd', '-q', '-c']],
  ] as const) {
    const z = spawnSync(args[0], args.slice(1), { input: bytes });
    const damaged = Buffer.from(z.stdout);
    const mid = Math.floor(damaged.length / 2);
    damaged[mid] = (damaged[mid] as number) ^ 0xff;
    refusedCleanly(
      t,
      write(`damaged.${ext}`, damaged),
      /corrupt|checksum|not a whole tar/,
      `damaged ${ext}`,
    );
    refusedCleanly(
      t,
      write(`cut.${ext}`, z.stdout.subarray(0, z.stdout.length - 40)),
      /corrupt|truncated/,
      `cut ${ext}`,
    );
  }
  refusedCleanly(
    t,
    write('not-an-archive.tar', Buffer.from('hello, world\n'.repeat(100))),
    /not a whole tar|not a tar/,
    'text',
  );
});

test('limits the number of members', async (t) => {
  const { extractArchive } = await import('../../src/archive/extract-archive.js');
  const { openArchiveInput } = await import('../../src/archive/archive-input.js');
  const { DEFAULT_LIMITS } = await import('../../src/archive/member-checks.js');
  const archive = path.join(top, 'archives', 'many.tar');
  makeTar(
    archive,
    Array.from({ length: 50 }, (_, i) => ({ name: `f${i}`, type: 'file' as const, data: 'x' })),
  );
  const into = freshDir('many');
  await t.throwsAsync(
    extractArchive({
      input: await openArchiveInput(archive, archive),
      shown: archive,
      into,
      limits: { ...DEFAULT_LIMITS, maxMembers: 20 },
    }),
    { message: /more than 20 members/ },
  );
});

import test, { type ExecutionContext } from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cliArgv } from '../helpers/cli.js';
import {
  leftovers,
  printable,
  treeDiff,
  treeState,
  type TreeState,
} from '../helpers/reliability-tree.js';
import { placeCopy, smallVenv, type SmallVenv } from '../helpers/reliability-venv.js';
import { needing } from '../helpers/require-tool.js';
import { freshDir } from '../helpers/scratch.js';

// Hostile trees: none of these may crash a run or change anything outside the venv. Each case
// is the small real venv (python -m venv, see helpers/reliability-venv.ts) plus the hostile
// entries, relocated once by the built CLI.

let template: SmallVenv | undefined;
function tpl(): SmallVenv {
  template ??= smallVenv('hostile');
  return template;
}

interface Ran {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

// Runs its arguments and prints the peak RSS of that child (getrusage) as the last stderr line.
const PEAK_RSS = `import resource, subprocess, sys
r = subprocess.run(sys.argv[1:])
sys.stderr.write('\\npeak-rss-kb %d\\n' % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(r.returncode)`;

/**
 * The CLI, with a guard against hangs (a FIFO or device opened by mistake would block).
 * `rss`: run it under a Python that reports its peak memory.
 */
function run(
  args: readonly string[],
  opts: { cwd?: string; uid?: number; gid?: number; rss?: boolean } = {},
): Ran & { peakRssKb?: number } {
  const { rss, ...spawnOpts } = opts;
  const argv = cliArgv(args);
  const r = rss
    ? spawnSync(tpl().python.exe, ['-c', PEAK_RSS, ...argv], {
        encoding: 'utf8',
        env: { ...process.env, NO_COLOR: '1' },
        timeout: 120_000,
        maxBuffer: 64 << 20,
        ...spawnOpts,
      })
    : spawnSync(argv[0], argv.slice(1), {
        encoding: 'utf8',
        env: { ...process.env, NO_COLOR: '1' },
        timeout: 120_000,
        maxBuffer: 64 << 20,
        ...spawnOpts,
      });
  if (r.error !== undefined && (r.error as NodeJS.ErrnoException).code !== 'ETIMEDOUT')
    throw r.error;
  let stderr = r.stderr;
  let peakRssKb: number | undefined;
  const m = /\npeak-rss-kb (\d+)\n$/.exec(stderr);
  if (rss && m !== null) {
    peakRssKb = Number(m[1]);
    stderr = stderr.slice(0, m.index);
  }
  return {
    status: r.status,
    signal: r.signal,
    stdout: r.stdout,
    stderr,
    ...(peakRssKb === undefined ? {} : { peakRssKb }),
  };
}

interface Case {
  /** The scratch folder; the venv is at srv/app/venv below it. */
  readonly top: string;
  readonly venv: string;
  readonly old: string;
  /** The path the relocated files must name (the venv's, unless the case says otherwise). */
  readonly target: string;
}

/**
 * Place a copy, let `prepare` make it hostile, relocate it, and check what every case must
 * hold: exit 0 without an internal error, nothing outside the venv changed (contents, modes,
 * link targets, file times), nothing of ours left, and the plain files relocated. Returns the
 * run for the case's own checks.
 */
function hostile(
  t: ExecutionContext,
  label: string,
  prepare: (c: Case) => void,
  opts: {
    top?: string;
    target?: string;
    cwd?: string;
    uid?: number;
    gid?: number;
    rss?: boolean;
  } = {},
): { c: Case; r: Ran & { peakRssKb?: number }; after: TreeState } {
  const top = opts.top ?? freshDir(label);
  const venv = path.join(top, 'srv', 'app', 'venv');
  placeCopy(tpl(), venv, path.join(top, 'outside', 'shared.txt'));
  const target = opts.target ?? venv;
  const c: Case = { top, venv, old: tpl().old, target };
  prepare(c);
  const isVenv = (rel: string) => rel === 'srv/app/venv';
  const outside = treeState(top, isVenv);
  const r = run(['--update-path', target, target], {
    ...(opts.uid === undefined ? {} : { uid: opts.uid, gid: opts.gid ?? opts.uid }),
    ...(opts.rss === true ? { rss: true } : {}),
  });
  t.is(r.signal, null, `${label}: killed by ${String(r.signal)} (a hang?)`);
  t.is(r.status, 0, `${label}: ${r.stdout}${r.stderr}`);
  t.notRegex(r.stderr, /internal error/, label);
  t.deepEqual(
    treeDiff(outside, treeState(top, isVenv), { mtimes: true }),
    [],
    `${label}: something outside the venv changed`,
  );
  const after = treeState(venv);
  t.deepEqual(leftovers(after), [], `${label}: venv-tools files left behind`);
  t.is(
    fs.readFileSync(path.join(venv, 'bin', 'tool'), 'utf8'),
    `#!${target}/bin/python -E\nprint("tool ok")\n`,
  );
  t.is(
    fs.readFileSync(path.join(venv, 'share', 'many', 'f7.txt'), 'utf8'),
    `7 ${target}/share/7\n`,
  );
  return { c, r, after };
}

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const u8 = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');

test('a symlink to a file or folder outside the venv that holds the old path: the outside stays untouched', (t) => {
  const { c, after } = hostile(t, 'symlink-out', ({ top, venv, old }) => {
    fs.mkdirSync(path.join(top, 'outside', 'dir'), { recursive: true });
    fs.writeFileSync(path.join(top, 'outside', 'holds-old.txt'), `${old}/share\n`);
    fs.writeFileSync(path.join(top, 'outside', 'dir', 'inner.pth'), `${old}/src\n`);
    fs.symlinkSync(
      path.join(top, 'outside', 'holds-old.txt'),
      path.join(venv, 'share', 'abs-out.txt'),
    );
    fs.symlinkSync('../../../../outside/holds-old.txt', path.join(venv, 'share', 'rel-out.txt'));
    fs.symlinkSync(
      path.join(top, 'outside', 'dir'),
      path.join(venv, 'lib', `python${tpl().python.version}`, 'site-packages', 'out-dir'),
    );
    fs.symlinkSync(
      path.join(top, 'outside', 'holds-old.txt'),
      path.join(venv, 'bin', 'out-script'),
    );
  });
  t.is(after.get('share/abs-out.txt')?.target, path.join(c.top, 'outside', 'holds-old.txt'));
  t.is(after.get('share/rel-out.txt')?.target, '../../../../outside/holds-old.txt');
});

test('symlink loops are neither followed nor a reason to fail', (t) => {
  const { c, after } = hostile(t, 'loops', ({ venv, old }) => {
    const s = (target: string, name: string) => fs.symlinkSync(target, path.join(venv, name));
    s('loop-b', 'share/loop-a');
    s('loop-a', 'share/loop-b');
    s('self', 'share/self');
    s('..', 'share/up');
    s('.', 'share/here');
    s('loop', 'bin/loop');
    s(`${old}/share/old-loop`, 'share/old-loop');
    s(venv, 'share/root-link');
  });
  t.is(after.get('share/loop-a')?.target, 'loop-b');
  t.is(after.get('share/self')?.target, 'self');
  t.is(after.get('share/up')?.target, '..');
  t.is(after.get('bin/loop')?.target, 'loop');
  // A link into the old venv is re-pointed, even when it points at itself.
  t.is(after.get('share/old-loop')?.target, `${c.venv}/share/old-loop`);
  t.is(after.get('share/root-link')?.target, c.venv);
});

test('a hard link shared with a file outside the venv: the venv side is rewritten, the outside content is not', (t) => {
  const { c } = hostile(t, 'hardlink', ({ top, venv }) => {
    // share/shared.txt is linked to outside/shared.txt by placeCopy; one more inode with two
    // names inside the venv and one outside.
    fs.linkSync(
      path.join(venv, 'share', 'many', 'f1.txt'),
      path.join(venv, 'share', 'f1-again.txt'),
    );
    fs.linkSync(
      path.join(venv, 'share', 'many', 'f1.txt'),
      path.join(top, 'outside', 'f1-outside.txt'),
    );
  });
  for (const rel of ['share/shared.txt', 'share/many/f1.txt', 'share/f1-again.txt']) {
    const text = fs.readFileSync(path.join(c.venv, rel), 'utf8');
    t.true(text.includes(`${c.venv}/share`) && !text.includes(c.old), rel);
  }
  t.is(
    fs.readFileSync(path.join(c.top, 'outside', 'f1-outside.txt'), 'utf8'),
    `1 ${c.old}/share/1\n`,
  );
  t.is(fs.statSync(path.join(c.venv, 'share', 'shared.txt')).mode & 0o777, 0o644);
});

function readOnlyTree({ venv }: Case): void {
  fs.chmodSync(path.join(venv, 'bin', 'tool'), 0o555);
  const dir = path.join(venv, 'share', 'ro-dir');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'inside.txt'), `${tpl().old}/share/ro\n`, { mode: 0o400 });
  fs.chmodSync(path.join(dir, 'inside.txt'), 0o400);
  fs.chmodSync(dir, 0o555);
}

function checkReadOnly(t: ExecutionContext, c: Case, after: TreeState): void {
  t.is(after.get('bin/tool')?.perm, 0o555);
  t.is(after.get('share/readonly.txt')?.perm, 0o444);
  t.is(after.get('share/ro-dir')?.perm, 0o555);
  t.is(after.get('share/ro-dir/inside.txt')?.perm, 0o400);
  t.is(
    fs.readFileSync(path.join(c.venv, 'share', 'readonly.txt'), 'utf8'),
    `data lives in ${c.venv}/share\n`,
  );
  t.is(
    fs.readFileSync(path.join(c.venv, 'share', 'ro-dir', 'inside.txt'), 'utf8'),
    `${c.venv}/share/ro\n`,
  );
}

test('read-only files and folders are rewritten and keep their modes', (t) => {
  const { c, after } = hostile(t, 'readonly', readOnlyTree);
  checkReadOnly(t, c, after);
});

// Root writes through any mode; an ordinary owner gets EACCES and must lend itself u+w. The
// test runs the CLI as `nobody`, which only root can: when the suite is not run as root the
// test is skipped, saying so; as root (CI is) the user `nobody` is required.
const asRoot = process.getuid?.() === 0;
const nobody = spawnSync('id', ['-u', 'nobody'], { encoding: 'utf8' });
const NOBODY_TITLE =
  'read-only files are rewritten and keep their modes for a user that is not root';
if (!asRoot) {
  test.skip(`${NOBODY_TITLE} (skipped: only root can run the CLI as nobody)`, () => undefined);
} else {
  needing([
    nobody.status === 0
      ? undefined
      : { what: 'the user nobody', install: 'useradd --system --no-create-home nobody' },
  ])(NOBODY_TITLE, readOnlyAsNobody);
}

function readOnlyAsNobody(t: ExecutionContext): void {
  const uid = Number(nobody.stdout.trim());
  const top = fs.mkdtempSync(path.join(os.tmpdir(), 'venv-tools-nobody-'));
  t.teardown(() => fs.rmSync(top, { recursive: true, force: true }));
  fs.chmodSync(top, 0o755);
  const { c, after } = hostile(
    t,
    'readonly as nobody',
    (cc) => {
      readOnlyTree(cc);
      spawnSync('chown', ['-R', '--no-dereference', `${uid}:${uid}`, cc.top]);
    },
    { top, uid, gid: uid },
  );
  checkReadOnly(t, c, after);
  t.is(fs.statSync(path.join(c.venv, 'share', 'readonly.txt')).uid, uid);
}

test('names that are not UTF-8, or hold newlines or spaces, are rewritten correctly', (t) => {
  const venvBuf = (venv: string, rel: string): Buffer =>
    Buffer.concat([Buffer.from(`${venv}/`), b(rel)]);
  const names = [
    'share/caf\xe9.txt',
    'share/new\nline.txt',
    'share/with space.txt',
    'share/\xff\xfe \n.cfg',
    'share/d\xff\n dir/f.txt',
    u8('share/日本.txt'),
  ];
  const { c } = hostile(t, 'names', ({ venv, old }) => {
    fs.mkdirSync(venvBuf(venv, 'share/d\xff\n dir'));
    for (const n of names) fs.writeFileSync(venvBuf(venv, n), `${old}/share/x ${old}\n`);
    fs.symlinkSync(b(`${old}/share/caf\xe9.txt`), venvBuf(venv, 'share/l\xe9nk'));
    fs.symlinkSync(b(`${old}/share/new\nline.txt`), venvBuf(venv, 'share/link\nnl'));
  });
  for (const n of names) {
    t.is(
      fs.readFileSync(venvBuf(c.venv, n), 'utf8'),
      `${c.venv}/share/x ${c.venv}\n`,
      printable(n),
    );
  }
  t.deepEqual(
    fs.readlinkSync(venvBuf(c.venv, 'share/l\xe9nk'), { encoding: 'buffer' }),
    Buffer.concat([Buffer.from(c.venv), b('/share/caf\xe9.txt')]),
  );
  t.is(fs.readlinkSync(venvBuf(c.venv, 'share/link\nnl'), 'utf8'), `${c.venv}/share/new\nline.txt`);
});

test('FIFOs, sockets and device nodes are skipped, never opened', async (t) => {
  let writer: ReturnType<typeof spawn> | undefined;
  let writerDone = false;
  const { after } = hostile(t, 'specials', ({ venv, old }) => {
    const site = path.join(venv, 'lib', `python${tpl().python.version}`, 'site-packages');
    for (const p of [
      path.join(venv, 'share', 'fifo'),
      path.join(venv, 'bin', 'fifo'),
      path.join(site, 'evil.pth'),
    ]) {
      spawnSync('mkfifo', [p]);
    }
    // A writer blocked until someone opens the FIFO for reading: it would then write the old
    // path into it and exit. It must still be waiting after the run.
    writer = spawn(
      'sh',
      ['-c', `printf '%s' "$1" > "$2"`, 'sh', `${old}/share`, path.join(venv, 'share', 'fifo')],
      { stdio: 'ignore' },
    );
    writer.on('exit', () => (writerDone = true));
    spawnSync(tpl().python.exe, [
      '-c',
      'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])',
      path.join(venv, 'share', 'sock'),
    ]);
    if (process.getuid?.() === 0) {
      // /dev/zero's numbers: read, it never ends; /dev/null's; a block device with no driver.
      spawnSync('mknod', [path.join(venv, 'share', 'zero'), 'c', '1', '5']);
      spawnSync('mknod', [path.join(venv, 'bin', 'null'), 'c', '1', '3']);
      spawnSync('mknod', [path.join(venv, 'share', 'blk'), 'b', '259', '9999']);
    }
  });
  // Let a writer that was unblocked reach its exit before judging.
  await new Promise((resolve) => setImmediate(resolve));
  t.false(writerDone, 'the FIFO was opened');
  writer?.kill('SIGKILL');
  for (const rel of [
    'share/fifo',
    'bin/fifo',
    'share/sock',
    ...(process.getuid?.() === 0 ? ['share/zero', 'bin/null', 'share/blk'] : []),
  ]) {
    t.is(after.get(rel)?.type, 'other', rel);
  }
  t.log(
    process.getuid?.() === 0
      ? 'FIFOs, a socket, two char devices and a block device'
      : 'FIFOs and a socket (not root: no device nodes)',
  );
});

test('a 2 GB sparse file is scanned in bounded memory, with or without the old path in it', (t) => {
  const GB2 = 2 * 1024 * 1024 * 1024;
  const tail = (old: string) => Buffer.from(`\n${old}/share/tail\n`);
  const { c, r } = hostile(
    t,
    'sparse',
    ({ venv, old }) => {
      const zero = fs.openSync(path.join(venv, 'share', 'sparse-zero.bin'), 'w');
      fs.ftruncateSync(zero, GB2);
      fs.closeSync(zero);
      const withPath = fs.openSync(path.join(venv, 'share', 'sparse-path.bin'), 'w');
      fs.ftruncateSync(withPath, GB2);
      fs.writeSync(withPath, tail(old), 0, tail(old).length, GB2 - 4096);
      fs.closeSync(withPath);
    },
    { rss: true },
  );
  for (const name of ['sparse-zero.bin', 'sparse-path.bin']) {
    t.is(fs.statSync(path.join(c.venv, 'share', name)).size, GB2, name);
  }
  const fd = fs.openSync(path.join(c.venv, 'share', 'sparse-path.bin'), 'r');
  const buf = Buffer.alloc(tail(c.old).length);
  fs.readSync(fd, buf, 0, buf.length, GB2 - 4096);
  fs.closeSync(fd);
  t.deepEqual(buf, tail(c.old), 'binaries are never edited');
  // Reading either file whole would take 2 GiB; the scan reads 1 MiB at a time.
  t.true(
    r.peakRssKb !== undefined && r.peakRssKb < 512 * 1024,
    `peak RSS ${String(r.peakRssKb)} kB`,
  );
  t.log(
    `peak RSS of the run over two 2 GiB sparse files: ${((r.peakRssKb ?? 0) / 1024).toFixed(0)} MB`,
  );
});

function crlfFiles({ venv, old }: Case): void {
  fs.writeFileSync(path.join(venv, 'share', 'crlf.txt'), `a ${old}/x\r\nb ${old}\r\n\r\nc\r\n`);
  fs.writeFileSync(path.join(venv, 'share', 'crlf.json'), `{\r\n  "p": "${old}/j"\r\n}\r\n`);
  const site = path.join(venv, 'lib', `python${tpl().python.version}`, 'site-packages');
  fs.writeFileSync(path.join(site, 'crlf.pth'), `${old}/src\r\n${old}/lib\r\n`);
}

function checkCrlf(t: ExecutionContext, c: Case, before: Map<string, string>): void {
  for (const [f, was] of before) {
    const now = fs.readFileSync(path.join(c.venv, f), 'latin1');
    t.is(now, was.split(c.old).join(c.target), f);
    t.is(now.split('\r\n').length, was.split('\r\n').length, `${f}: CRLF count`);
  }
}

test('CRLF scripts and files keep their line endings', (t) => {
  const site = `lib/python${tpl().python.version}/site-packages`;
  const files = ['bin/crlf-tool', 'share/crlf.txt', 'share/crlf.json', `${site}/crlf.pth`];
  const before = new Map<string, string>();
  const { c } = hostile(t, 'crlf', (cc) => {
    crlfFiles(cc);
    for (const f of files) before.set(f, fs.readFileSync(path.join(cc.venv, f), 'latin1'));
  });
  checkCrlf(t, c, before);
});

function crlfActivate({ venv }: Case): void {
  for (const name of ['activate', 'activate.csh', 'activate.fish']) {
    const act = path.join(venv, 'bin', name);
    fs.writeFileSync(act, fs.readFileSync(act, 'latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
  }
}

test('CRLF activate scripts keep their line endings (old location named with --from)', (t) => {
  const top = freshDir('crlf-activate');
  const venv = path.join(top, 'srv', 'app', 'venv');
  placeCopy(tpl(), venv, path.join(top, 'outside', 'shared.txt'));
  const c: Case = { top, venv, old: tpl().old, target: venv };
  crlfActivate(c);
  const before = new Map<string, string>();
  for (const f of ['bin/activate', 'bin/activate.csh', 'bin/activate.fish']) {
    before.set(f, fs.readFileSync(path.join(venv, f), 'latin1'));
  }
  const r = run(['relocate', venv, '--from', c.old, '--to', venv]);
  t.is(r.status, 0, r.stderr);
  checkCrlf(t, c, before);
});

test('CRLF activate scripts do not confuse the search for the old location', (t) => {
  hostile(t, 'crlf-evidence', crlfActivate);
});

test('a file holding only OLD2, OLD-x or OLD.bak is left byte for byte, inode and time', (t) => {
  let st: fs.BigIntStats | undefined;
  const { c } = hostile(t, 'lookalike', ({ venv, old }) => {
    fs.writeFileSync(
      path.join(venv, 'share', 'more-alike.cfg'),
      `${old}2\n${old}-x\n${old}.bak\n${old}_y\n${old}+z\nx${old}\n`,
    );
    st = fs.statSync(path.join(venv, 'share', 'look-alike.txt'), { bigint: true });
  });
  const now = fs.statSync(path.join(c.venv, 'share', 'look-alike.txt'), { bigint: true });
  t.is(
    fs.readFileSync(path.join(c.venv, 'share', 'look-alike.txt'), 'utf8'),
    `${c.old}2/x ${c.old}-x/y ${c.old}.bak\n`,
  );
  t.is(now.ino, st?.ino ?? -1n);
  t.is(now.mtimeNs, st?.mtimeNs ?? -1n);
  t.is(
    fs.readFileSync(path.join(c.venv, 'share', 'more-alike.cfg'), 'utf8'),
    `${c.old}2\n${c.old}-x\n${c.old}.bak\n${c.old}_y\n${c.old}+z\nx${c.old}\n`,
  );
});

test('the venv root itself being a symlink: the venv behind it is relocated, the link stays', (t) => {
  const top = freshDir('rootlink');
  const current = path.join(top, 'current');
  const real = path.join(top, 'srv', 'app', 'venv');
  const { c, r } = hostile(t, 'rootlink', ({ venv }) => fs.symlinkSync(venv, current), {
    top,
    target: current,
  });
  t.is(r.stdout, `Updated: ${current} (${c.old} -> ${current})\n`);
  t.is(fs.readlinkSync(current), real);
  t.is(
    fs.readFileSync(path.join(real, 'share', 'many', 'f2.txt'), 'utf8'),
    `2 ${current}/share/2\n`,
  );
  // `auto` keeps the symlink in the path, as virtualenv-tools does.
  const again = run(['--update-path', 'auto', 'current'], { cwd: top });
  t.is(again.status, 0, again.stderr);
  t.is(again.stdout, `Already up-to-date: current (${current})\n`);
});

test('a FIFO or a symlink where the journal goes is refused with a message, never read', (t) => {
  for (const kind of ['fifo', 'symlink'] as const) {
    const top = freshDir(`journal-${kind}`);
    const venv = path.join(top, 'srv', 'app', 'venv');
    placeCopy(tpl(), venv, path.join(top, 'outside', 'shared.txt'));
    const journal = path.join(venv, '.venv-tools.journal');
    if (kind === 'fifo') spawnSync('mkfifo', [journal]);
    else fs.symlinkSync(path.join(top, 'outside', 'shared.txt'), journal);
    const before = treeState(top);
    const r = run(['--update-path', venv, venv]);
    t.is(r.signal, null, `${kind}: a hang`);
    t.is(r.status, 1, r.stderr);
    t.true(r.stderr.includes(`cannot read the journal ${journal}: it is`), r.stderr);
    t.deepEqual(treeDiff(before, treeState(top), { mtimes: true }), [], kind);
  }
});

import test from 'ava';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JOURNAL_NAME } from '../../src/apply/journal-format.js';
import { parseRelocatableShebang } from '../../src/kinds/relocatable-shebang.js';
import { cli, diffSnapshots, snapshotTree } from '../helpers/cli.js';
import { findPythons } from '../helpers/pythons.js';
import { freshDir } from '../helpers/scratch.js';
import { moveApp, smallVenv, type SmallVenv } from '../helpers/small-venv.js';

// `venv-tools make-relocatable` on small real venvs (python -m venv --without-pip, with a
// pip-style script, a .pth and a RECORD): what it rewrites, what it lists, that a second run
// changes nothing, that it is all or nothing under SIGKILL, and how verify --relocatable and
// relocate see the result.

const python = findPythons().at(-1);
if (python === undefined) throw new Error('no CPython 3 found on this machine');

interface Doc {
  status: string;
  relocatable: boolean;
  changes: Array<{ path: string; kind: string; reason: string }>;
  left: Array<{ path: string; kind: string; why: string; names: string[] }>;
  recovered: { state: string };
}

function make(venv: string, ...args: string[]): Doc {
  const r = cli(['make-relocatable', venv, '--json', ...args]);
  if (r.status !== 0) throw new Error(`make-relocatable exited ${String(r.status)}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Doc;
}

/** A small venv without the .pth naming the source folder beside it (not a pin; see the .pth test). */
function venvOf(label: string): SmallVenv {
  const v = smallVenv(python as NonNullable<typeof python>, label);
  fs.rmSync(path.join(v.venv, v.site, 'app.pth'));
  return v;
}

test('a dry run lists the rewrites and changes no byte; the real run makes each one, and a second run changes nothing', (t) => {
  const v = venvOf('mr-dry');
  const before = snapshotTree(v.venv);
  const dry = make(v.venv, '--dry-run');
  t.deepEqual(diffSnapshots(before, snapshotTree(v.venv)), [], 'the dry run changed nothing');
  t.is(dry.status, 'dry-run');
  const planned = dry.changes.map((c) => `${c.path} ${c.reason}`);
  t.true(planned.includes('bin/tool script'), planned.join(', '));
  t.true(planned.includes('bin/activate activate'));
  t.true(planned.includes('pyvenv.cfg pyvenv-cfg'));
  t.true(planned.includes(`${v.site}/demo-1.0.dist-info/RECORD hashes`));
  const real = make(v.venv);
  t.is(real.status, 'updated');
  t.deepEqual(real.changes, dry.changes, 'the run made what the dry run planned');
  t.true(real.relocatable);
  t.deepEqual(real.left, []);
  t.truthy(parseRelocatableShebang(fs.readFileSync(path.join(v.venv, 'bin', 'tool'))));
  t.regex(fs.readFileSync(path.join(v.venv, 'pyvenv.cfg'), 'utf8'), /^relocatable = true$/m);
  t.false(fs.existsSync(path.join(v.venv, JOURNAL_NAME)));

  const after = snapshotTree(v.venv);
  const again = make(v.venv);
  t.is(again.status, 'already-relocatable');
  t.deepEqual(again.changes, []);
  t.deepEqual(diffSnapshots(after, snapshotTree(v.venv)), [], 'twice changes nothing');
  const text = cli(['make-relocatable', v.venv]);
  t.regex(text.stdout, /^Already relocatable: /m);

  // Moved, it runs, and verify (which checks a venv marked relocatable as one) passes.
  const moved = moveApp(v);
  const run = spawnSync(path.join(moved.venv, 'bin', 'tool'), { encoding: 'utf8' });
  t.is(run.stdout, `tool runs in ${moved.venv}\n`, run.stderr);
  const verify = cli(['verify', moved.venv]);
  t.is(verify.status, 0, verify.stdout);
  t.regex(verify.stdout, /^ {2}ok {4}relocatable /m);
  t.regex(verify.stdout, /works where it stands, and nothing pins it to its path$/m);
});

test('lists what it cannot make relative, and verify --relocatable fails naming each file until it is gone', (t) => {
  const v = venvOf('mr-left');
  const site = path.join(v.venv, v.site);
  const info = path.join(site, 'demo-1.0.dist-info');
  fs.writeFileSync(
    path.join(info, 'direct_url.json'),
    JSON.stringify({ url: `file://${v.venv}/wheels/demo-1.0-py3-none-any.whl`, archive_info: {} }),
  );
  fs.writeFileSync(
    path.join(site, '__editable___demo_1_0_finder.py'),
    `MAPPING = {'demo': '${v.venv}/src/demo'}\n`,
  );
  fs.writeFileSync(
    path.join(site, 'demo', '_ext.so'),
    Buffer.concat([Buffer.from('\x7fELF\x02\x01\x01\0\0\0'), Buffer.from(`RPATH=${v.venv}/lib\0`)]),
  );
  const doc = make(v.venv);
  t.false(doc.relocatable);
  t.deepEqual(
    doc.left.map((l) => [l.path, l.kind]),
    [
      [`${v.site}/__editable___demo_1_0_finder.py`, 'finder'],
      [`${v.site}/demo-1.0.dist-info/direct_url.json`, 'direct-url'],
      [`${v.site}/demo/_ext.so`, 'binary'],
    ],
  );
  t.regex(doc.left[1]?.why ?? '', /file: URL, which has no relative form/);
  const text = cli(['make-relocatable', v.venv]);
  t.regex(text.stdout, /3 files still name the venv and cannot be made relative:/);

  const verify = cli(['verify', v.venv, '--relocatable']);
  t.is(verify.status, 1, verify.stdout);
  for (const f of ['__editable___demo_1_0_finder.py', 'direct_url.json', '_ext.so'])
    t.regex(verify.stdout, new RegExp(`- \\S*${f.replace('.', '\\.')} names `), f);
  fs.rmSync(path.join(info, 'direct_url.json'));
  fs.rmSync(path.join(site, '__editable___demo_1_0_finder.py'));
  fs.rmSync(path.join(site, 'demo', '_ext.so'));
  const clean = cli(['verify', v.venv, '--relocatable']);
  t.is(clean.status, 0, clean.stdout);
});

test('a script installed later with an absolute header is named by verify --relocatable, and the next make-relocatable fixes it', (t) => {
  const v = venvOf('mr-later');
  make(v.venv);
  const moved = moveApp(v);
  // What pip writes for a new console script: its interpreter by absolute path.
  fs.writeFileSync(
    path.join(moved.venv, 'bin', 'later'),
    `#!${moved.venv}/bin/python\nimport sys\nprint("later", sys.prefix)\n`,
    { mode: 0o755 },
  );
  const r = cli(['verify', moved.venv, '--relocatable', '--json']);
  t.is(r.status, 1);
  const doc = JSON.parse(r.stdout) as {
    problems: Array<{ message: string; paths: string[] }>;
    fixes: Array<{ argv: string[] }>;
  };
  t.deepEqual(
    doc.problems.map((p) => p.paths),
    [['bin/later']],
  );
  t.regex(
    doc.problems[0]?.message ?? '',
    /^1 script \(bin\/later\) runs its interpreter by an absolute path; venv-tools make-relocatable rewrites it$/,
  );
  t.deepEqual(
    doc.fixes.map((f) => f.argv),
    [['venv-tools', 'make-relocatable', moved.venv]],
  );
  const fixed = make(moved.venv);
  t.deepEqual(
    fixed.changes.map((c) => c.path),
    ['bin/later'],
  );
  t.is(cli(['verify', moved.venv, '--relocatable']).status, 0);
  const again = moveApp(moved, 'r2');
  const run = spawnSync(path.join(again.venv, 'bin', 'later'), { encoding: 'utf8' });
  t.is(run.stdout, `later ${again.venv}\n`, run.stderr);
});

test("uv's relocatable script header is no pin; make-relocatable gives it the form BusyBox runs", (t) => {
  const v = venvOf('mr-uv');
  make(v.venv);
  const uv = path.join(v.venv, 'bin', 'uv-tool');
  fs.writeFileSync(
    uv,
    `#!/bin/sh\n'''exec' "$(dirname -- "$(realpath -- "$0")")"/'python' "$0" "$@"\n' '''\nimport sys\nprint("uv", sys.prefix)\n`,
    { mode: 0o755 },
  );
  t.is(cli(['verify', v.venv, '--relocatable']).status, 0, 'not a pin');
  const doc = make(v.venv);
  t.deepEqual(
    doc.changes.map((c) => [c.path, c.reason]),
    [['bin/uv-tool', 'uv-script']],
  );
  const r = spawnSync('busybox', ['sh', uv], { encoding: 'utf8' });
  t.is(r.stdout, `uv ${v.venv}\n`, r.stderr);
});

test('.pth lines and symlinks into the venv become relative; those outside stay', (t) => {
  const v = smallVenv(python, 'mr-pth');
  const site = path.join(v.venv, v.site);
  fs.mkdirSync(path.join(v.venv, 'src', 'inside'), { recursive: true });
  fs.writeFileSync(path.join(v.venv, 'src', 'inside', 'inmod.py'), 'X = 1\n');
  fs.writeFileSync(path.join(site, 'inside.pth'), `${v.venv}/src/inside\n`);
  fs.symlinkSync(`${v.venv}/src/inside`, path.join(v.venv, 'inside-link'));
  const outside = fs.readFileSync(path.join(site, 'app.pth'), 'utf8');
  make(v.venv);
  t.is(fs.readFileSync(path.join(site, 'inside.pth'), 'utf8'), '../../../src/inside\n');
  t.is(
    fs.readFileSync(path.join(site, 'app.pth'), 'utf8'),
    outside,
    'a line outside the venv stays',
  );
  t.is(fs.readlinkSync(path.join(v.venv, 'inside-link')), 'src/inside');
  const moved = moveApp(v);
  const r = spawnSync(
    path.join(moved.venv, 'bin', 'python'),
    ['-c', 'import inmod, sys; print(inmod.__file__)'],
    { encoding: 'utf8' },
  );
  t.is(r.stdout, `${moved.venv}/src/inside/inmod.py\n`, r.stderr);
});

test('relocate and --update-path leave a relocatable venv relocatable and say it is', (t) => {
  const v = venvOf('mr-relocate');
  make(v.venv);
  const moved = moveApp(v);
  const bin = path.join(moved.venv, 'bin');
  const kept = ['tool', 'activate', 'activate.csh', 'activate.fish'].map((n) =>
    fs.readFileSync(path.join(bin, n)),
  );
  // pyvenv.cfg's command still names where it was made: relocate has that to rewrite.
  const r = cli(['--update-path', moved.venv, moved.venv]);
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /^Updated: /);
  t.regex(r.stderr, /is already relocatable \(pyvenv\.cfg: relocatable = true\)/);
  ['tool', 'activate', 'activate.csh', 'activate.fish'].forEach((n, i) =>
    t.deepEqual(fs.readFileSync(path.join(bin, n)), kept[i], `${n} kept its relative form`),
  );
  const again = cli(['relocate', moved.venv, '--to', moved.venv]);
  t.is(again.status, 0, again.stderr);
  t.regex(again.stdout, /^Already up-to-date: /m);
  t.regex(again.stderr, /already relocatable/);
  t.is(cli(['verify', moved.venv, '--relocatable']).status, 0);
  // Nothing at all names a place (no command line, no pyc): up to date, not "cannot tell".
  const cfg = path.join(moved.venv, 'pyvenv.cfg');
  fs.writeFileSync(cfg, fs.readFileSync(cfg, 'utf8').replace(/^command.*\n/m, ''));
  const moved2 = moveApp(moved, 'r2');
  const none = cli(['--update-path', moved2.venv, moved2.venv]);
  t.is(none.status, 0, none.stderr);
  t.regex(none.stdout, /^Already up-to-date: /);
});

/** Every file's content in a tree, for comparing two runs' results. */
function hashes(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const name of fs.readdirSync(dir)) {
      const p = path.join(dir, name);
      const st = fs.lstatSync(p);
      const rel = path.relative(root, p);
      if (st.isSymbolicLink()) out.set(rel, `-> ${fs.readlinkSync(p)}`);
      else if (st.isDirectory()) walk(p);
      else out.set(rel, createHash('sha256').update(fs.readFileSync(p)).digest('hex'));
    }
  };
  walk(root);
  return out;
}

for (const [when, faults, recovery] of [
  [
    'before its journal is committed',
    (_v: string) => `writeSync:KILL:${JOURNAL_NAME}:0`,
    'discarded',
  ],
  [
    'half-way through writing the files',
    (v: string) => `writeSync:KILL-AFTER:${v}/bin/:1`,
    'completed',
  ],
] as const) {
  test(`killed ${when}, the next run leaves the venv exactly as an uninterrupted run does`, (t) => {
    const v = venvOf('mr-crash');
    const pristine = `${v.venv}.pristine`;
    spawnSync('cp', ['-a', '--', v.venv, pristine]);
    make(v.venv);
    const want = hashes(v.venv);
    fs.rmSync(v.venv, { recursive: true });
    fs.renameSync(pristine, v.venv);
    const before = hashes(v.venv);

    const killed = cli(['make-relocatable', v.venv], {
      env: { VENV_TOOLS_FAULTS: faults(v.venv) },
    });
    t.is(killed.status, null, `killed by SIGKILL: ${killed.stderr}`);
    t.true(fs.existsSync(path.join(v.venv, JOURNAL_NAME)), 'the journal is there for the next run');
    const now = hashes(v.venv);
    for (const k of [...now.keys()]) if (k.startsWith('.venv-tools.')) now.delete(k);
    if (recovery === 'discarded') t.deepEqual(now, before, 'nothing was written before the commit');
    else t.notDeepEqual(now, before, 'some files were written when it died');
    const next = make(v.venv);
    t.is(next.recovered.state, recovery);
    t.deepEqual(hashes(v.venv), want);
    t.is(cli(['verify', v.venv, '--relocatable']).status, 0);
  });
}

test('refuses a folder that is not a venv, with the message relocate gives', (t) => {
  const d = freshDir('mr-not');
  const r = cli(['make-relocatable', d]);
  t.is(r.status, 1);
  t.regex(r.stderr, /is not a virtualenv: not a directory: .*\/bin/);
});

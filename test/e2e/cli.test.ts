import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cli, diffSnapshots, snapshotTree } from '../helpers/cli.js';
import { findPythons } from '../helpers/pythons.js';
import { freshDir } from '../helpers/scratch.js';
import { repoPath } from '../helpers/repo-root.js';

// The compatible messages, exit codes and safety promises of the CLI, on small real venvs
// (python -m venv --without-pip, plus a hand-written script) so each case takes milliseconds.

const python = findPythons().find((p) => p.version === '3.11') ?? findPythons().at(-1);
if (python === undefined) throw new Error('no CPython 3 found on this machine');

function makeVenv(label: string): { top: string; venv: string } {
  const top = freshDir(label);
  const venv = path.join(top, 'build', 'app', 'venv');
  const r = spawnSync(python!.exe, ['-m', 'venv', '--without-pip', venv], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`venv failed: ${r.stderr}`);
  fs.writeFileSync(path.join(venv, 'bin', 'tool'), `#!${venv}/bin/python -E\nprint("tool ok")\n`, {
    mode: 0o755,
  });
  fs.writeFileSync(
    path.join(venv, 'lib', `python${python!.version}`, 'site-packages', 'app.pth'),
    `${top}/build/app/src\n`,
  );
  fs.mkdirSync(path.join(top, 'build', 'app', 'src'));
  return { top, venv };
}

/** Build a venv, then move its app folder as a deploy would; returns the new venv path. */
function movedVenv(label: string): { top: string; old: string; venv: string } {
  const { top, venv: old } = makeVenv(label);
  fs.mkdirSync(path.join(top, 'srv', 'app'), { recursive: true });
  fs.renameSync(path.join(top, 'build', 'app'), path.join(top, 'srv', 'app', 'r1'));
  return { top, old, venv: path.join(top, 'srv', 'app', 'r1', 'venv') };
}

test('--version prints the version in package.json and exits 0', (t) => {
  const pkg = JSON.parse(fs.readFileSync(repoPath('package.json'), 'utf8')) as { version: string };
  t.regex(pkg.version, /^\d+\.\d+\.\d+/);
  for (const argv of [['--version'], ['relocate', '--version']]) {
    const r = cli(argv);
    t.is(r.status, 0, r.stderr);
    t.is(r.stdout, `${pkg.version}\n`);
    t.is(r.stderr, '');
  }
});

test("--update-path prints virtualenv-tools' Updated line on stdout and nothing else", (t) => {
  t.log(`python ${python.full} (${python.exe})`);
  const { old, venv } = movedVenv('updated');
  const r = cli(['--update-path', venv, venv]);
  t.is(r.status, 0, r.stderr);
  t.is(r.stdout, `Updated: ${venv} (${old} -> ${venv})\n`);
  const run = spawnSync(path.join(venv, 'bin', 'tool'), { encoding: 'utf8' });
  t.is(run.stdout, 'tool ok\n');
  t.is(
    fs.readFileSync(
      path.join(venv, 'lib', `python${python.version}`, 'site-packages', 'app.pth'),
      'utf8',
    ),
    `${path.dirname(venv)}/src\n`,
  );
});

test('a second run prints Already up-to-date and changes no byte', (t) => {
  const { venv } = movedVenv('second');
  t.is(cli(['--update-path', venv, venv]).status, 0);
  const before = snapshotTree(venv);
  const r = cli([venv, `--update-path=${venv}`]);
  t.is(r.status, 0);
  t.is(r.stdout, `Already up-to-date: ${venv} (${venv})\n`);
  t.deepEqual(diffSnapshots(before, snapshotTree(venv)), []);
});

test('--update-path auto uses the absolute path of PATH, echoed as given', (t) => {
  const { top, old, venv } = movedVenv('auto');
  const r = cli(['--update-path', 'auto', 'srv/app/r1/venv'], { cwd: top });
  t.is(r.status, 0, r.stderr);
  t.is(r.stdout, `Updated: srv/app/r1/venv (${old} -> ${venv})\n`);
});

test("--verbose prints one line per changed file with virtualenv-tools' letters before Updated", (t) => {
  const { venv } = movedVenv('verbose');
  const r = cli(['--update-path', venv, '--verbose', venv]);
  t.is(r.status, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  t.regex(lines.at(-1) ?? '', /^Updated: /);
  const body = lines.slice(0, -1);
  t.true(body.includes(`S ${venv}/bin/tool`), r.stdout);
  t.true(body.includes(`A ${venv}/bin/activate`), r.stdout);
  t.true(body.includes(`C ${venv}/pyvenv.cfg`), r.stdout);
  t.true(body.includes(`P ${venv}/lib/python${python.version}/site-packages/app.pth`), r.stdout);
  for (const l of body) t.regex(l, /^[SBPFACREJLTX] \//);
});

test('--dry-run prints the plan and changes no byte', (t) => {
  const { venv } = movedVenv('dry');
  const before = snapshotTree(venv);
  const r = cli(['relocate', venv, '--to', venv, '--dry-run']);
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /^Would relocate /);
  t.regex(r.stdout, /S bin\/tool/);
  t.deepEqual(diffSnapshots(before, snapshotTree(venv)), []);
});

test('--json prints one JSON document with files by kind, warnings, old, new and timings', (t) => {
  const { old, venv } = movedVenv('json');
  const r = cli(['relocate', venv, '--to', venv, '--json']);
  t.is(r.status, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as Record<string, unknown>;
  t.is(doc.old, old);
  t.is(doc.new, venv);
  t.is(doc.status, 'updated');
  t.true(Array.isArray(doc.changes));
  t.is((doc.counts as Record<string, number>).shebang, 1);
  t.true(Array.isArray(doc.warnings));
  t.is(typeof (doc.timings as Record<string, number>).total, 'number');
});

test('a relative --update-path is refused on stdout with exit 1, before the venv is looked at', (t) => {
  const r = cli(['--update-path', 'srv/x', '/nonexistent']);
  t.is(r.status, 1);
  t.is(r.stdout, '--update-path must be absolute: srv/x\n');
});

test("a folder that is not a venv is named piece by piece, in virtualenv-tools' order", (t) => {
  const d = freshDir('notvenv');
  const msg = (p: string, what: string, x: string) =>
    `${p} is not a virtualenv: not a ${what}: ${x}\n`;
  const check = (expected: string) => {
    const before = snapshotTree(d);
    const r = cli(['--update-path', '/srv/x', d]);
    t.is(r.status, 1);
    t.is(r.stdout, expected);
    t.deepEqual(diffSnapshots(before, snapshotTree(d)), [], 'nothing changes');
  };
  check(msg(d, 'directory', `${d}/bin`));
  fs.mkdirSync(path.join(d, 'bin'));
  check(msg(d, 'directory', `${d}/lib`));
  fs.mkdirSync(path.join(d, 'lib'));
  check(msg(d, 'directory', `${d}/lib/python#.#`));
  fs.mkdirSync(path.join(d, 'lib', 'python3.11'));
  check(msg(d, 'directory', `${d}/lib/python3.11/site-packages`));
  fs.mkdirSync(path.join(d, 'lib', 'python3.11', 'site-packages'));
  check(msg(d, 'file', `${d}/bin/activate`));
  const missing = path.join(d, 'missing');
  const r = cli(['--update-path', '/srv/x', missing]);
  t.is(r.status, 1);
  t.is(r.stdout, msg(missing, 'directory', missing));
});

test('a venv without activate scripts is still a venv when it has pyvenv.cfg', (t) => {
  const { venv } = movedVenv('noactivate');
  for (const f of fs.readdirSync(path.join(venv, 'bin')))
    if (f.toLowerCase().startsWith('activate')) fs.rmSync(path.join(venv, 'bin', f));
  const r = cli(['--update-path', venv, venv]);
  t.is(r.status, 0, r.stdout + r.stderr);
  t.regex(r.stdout, /^Updated: /);
});

test('/ is refused', (t) => {
  const r = cli(['--update-path', '/srv/x', '/']);
  t.is(r.status, 1);
  t.regex(r.stderr, /refusing to work on \//);
});

test('an unreadable file inside the venv fails naming it, and nothing changes', (t) => {
  const { venv } = movedVenv('unreadable');
  const before = snapshotTree(venv);
  const r = cli(['--update-path', venv, venv], {
    env: { VENV_TOOLS_FAULTS: 'openSync:EACCES:site-packages/app.pth' },
  });
  t.is(r.status, 1);
  t.regex(r.stderr, /cannot read .*app\.pth: EACCES/);
  t.regex(r.stderr, /run again/);
  t.deepEqual(diffSnapshots(before, snapshotTree(venv)), []);
});

test('no evidence of the old location fails with a message suggesting --from; --from then works', (t) => {
  const { old, venv } = movedVenv('noevidence');
  for (const f of fs.readdirSync(path.join(venv, 'bin')))
    if (f.startsWith('activate') || f === 'tool') fs.rmSync(path.join(venv, 'bin', f));
  fs.writeFileSync(
    path.join(venv, 'pyvenv.cfg'),
    fs.readFileSync(path.join(venv, 'pyvenv.cfg'), 'utf8').replace(/^command.*\n/m, ''),
  );
  const r = cli(['--update-path', venv, venv]);
  t.is(r.status, 1);
  t.regex(r.stderr, /--from/);
  const ok = cli(['relocate', venv, '--from', old, '--to', venv]);
  t.is(ok.status, 0, ok.stderr);
  t.regex(ok.stdout, /^Relocated /);
});

test('two different old locations fail and list both', (t) => {
  const { venv } = movedVenv('ambiguous');
  fs.writeFileSync(path.join(venv, 'bin', 'other'), '#!/elsewhere/venv/bin/python\n', {
    mode: 0o755,
  });
  const r = cli(['--update-path', venv, venv]);
  t.is(r.status, 1);
  t.regex(r.stderr, /\/elsewhere\/venv/);
  t.regex(r.stderr, /build\/app\/venv/);
  t.regex(r.stderr, /--from/);
});

test('a half-relocated venv is finished: evidence that already names the target counts as done', (t) => {
  const { old, venv } = movedVenv('half');
  const act = path.join(venv, 'bin', 'activate');
  fs.writeFileSync(act, fs.readFileSync(act, 'utf8').split(old).join(venv));
  const r = cli(['--update-path', venv, venv]);
  t.is(r.status, 0, r.stderr);
  t.is(r.stdout, `Updated: ${venv} (${old} -> ${venv})\n`);
});

test('files keep inode, mode and mtime; a hard-linked file is replaced so the other link keeps its content', (t) => {
  const { top, venv } = movedVenv('inode');
  const tool = path.join(venv, 'bin', 'tool');
  fs.chmodSync(tool, 0o555);
  const outside = path.join(top, 'outside-link');
  const cfgPath = path.join(venv, 'lib', `python${python.version}`, 'site-packages', 'app.pth');
  fs.linkSync(cfgPath, outside);
  const outsideBefore = fs.readFileSync(outside);
  const st = fs.statSync(tool, { bigint: true });
  const r = cli(['--update-path', venv, venv]);
  t.is(r.status, 0, r.stderr);
  const after = fs.statSync(tool, { bigint: true });
  t.is(after.ino, st.ino);
  t.is(after.mode, st.mode);
  t.is(after.mtimeMs, st.mtimeMs);
  t.regex(fs.readFileSync(tool, 'utf8'), new RegExp(`^#!${venv}/bin/python -E\\n`));
  t.deepEqual(fs.readFileSync(outside), outsideBefore, 'the link outside the venv is untouched');
  t.not(fs.statSync(cfgPath).ino, fs.statSync(outside).ino);
});

test("a second run while one holds the lock is refused with the holder's pid; a stale lock is taken over", async (t) => {
  const { venv } = movedVenv('lock');
  const sleeper = spawn('sleep', ['30']);
  t.teardown(() => sleeper.kill());
  fs.writeFileSync(path.join(venv, '.venv-tools.lock'), `${sleeper.pid}\n`);
  const r = cli(['--update-path', venv, venv]);
  t.is(r.status, 1);
  t.regex(r.stderr, new RegExp(`relocation is in progress.*pid ${sleeper.pid}`));
  sleeper.kill();
  await new Promise((resolve) => sleeper.once('exit', resolve));
  const again = cli(['--update-path', venv, venv]);
  t.is(again.status, 0, again.stderr);
  t.false(fs.existsSync(path.join(venv, '.venv-tools.lock')));
});

test('an unknown command exits 2; so does a usage error', (t) => {
  const r = cli(['frobnicate']);
  t.is(r.status, 2);
  t.regex(r.stderr, /frobnicate/);
  t.is(cli(['relocate', '.']).status, 2);
  t.is(cli(['--update-path']).status, 2);
});

test('--help shows examples and exits 0', (t) => {
  const r = cli(['--help']);
  t.is(r.status, 0);
  t.regex(r.stdout, /Examples:/);
  const c = cli(['--update-path', '/x', '--help']);
  t.is(c.status, 0);
  t.regex(c.stdout, /--update-path/);
});

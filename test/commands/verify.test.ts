import test from 'ava';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BASIC } from '../fixtures/venvs/recipes.js';
import {
  copyVenv,
  movedTo,
  virtualenvCanSeed,
  type BuiltVenv,
  type Creator,
  type PythonExe,
  VIRTUALENV_SEEDS,
} from '../helpers/build-venv.js';
import { cli, cliScript, diffSnapshots, snapshotTree } from '../helpers/cli.js';
import { findPythons } from '../helpers/pythons.js';
import { runOk } from '../helpers/run.js';
import { testMissing } from '../helpers/require-tool.js';
import { freshDir } from '../helpers/scratch.js';
import { moveApp, smallVenv, type SmallVenv } from '../helpers/small-venv.js';

// `venv-tools verify`: exit 0 when the venv works where it stands, 1 with the problems. On a
// venv moved with plain `mv` it names the old path and prints the relocate command that fixes
// it; after that command, it passes.

const all = findPythons();
const pythons = all.filter((p) => Number(p.version.split('.')[1]) >= 8);
const found = pythons.at(-1) ?? all.at(-1);
if (found === undefined) throw new Error('no CPython 3 found on this machine');
const newest: PythonExe = found;
const seedable: PythonExe[] = [];
for (const p of pythons) if (await virtualenvCanSeed(p)) seedable.push(p);
const virtualenvPython = seedable.find((p) => p.exe.startsWith('/usr/bin/')) ?? seedable.at(-1);

interface Check {
  name: string;
  status: 'ok' | 'failed' | 'skipped';
  summary: string;
  problems: Array<{ message: string; paths: string[] }>;
  notes: string[];
}
interface VerifyDoc {
  ok: boolean;
  state: string;
  foreign: string[];
  checks: Check[];
  problems: Array<{ check: string; message: string; paths: string[] }>;
  stale: Array<{ path: string; kind: string }>;
  binaries: Array<{ path: string }>;
  python: { version: string | null; prefix: string | null };
  fixes: Array<{ argv: string[]; command: string }>;
}

function verifyJson(venv: string): { status: number | null; doc: VerifyDoc } {
  const r = cli(['verify', venv, '--json']);
  return { status: r.status, doc: JSON.parse(r.stdout) as VerifyDoc };
}

function check(doc: VerifyDoc, name: string): Check {
  const c = doc.checks.find((x) => x.name === name);
  if (c === undefined) throw new Error(`no check ${name}`);
  return c;
}

/** Run a printed fix exactly as a user pasting it would: through sh, with `venv-tools` on PATH. */
function runPrinted(command: string, cwd?: string): { status: number | null; out: string } {
  const bin = freshDir('bin');
  fs.writeFileSync(path.join(bin, 'venv-tools'), cliScript(), { mode: 0o755 });
  const r = spawnSync('/bin/sh', ['-c', command], {
    cwd: cwd ?? process.cwd(),
    env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}`, NO_COLOR: '1' },
    encoding: 'utf8',
  });
  return { status: r.status, out: r.stdout + r.stderr };
}

/** The line after "Fix it with:" in verify's human output. */
function printedFix(stdout: string): string {
  const m = /^Fix (?:it|them) with:\n {2}(.*)$/m.exec(stdout);
  if (m === null) throw new Error(`no fix printed in:\n${stdout}`);
  return m[1] as string;
}

const targets: Array<{ python: PythonExe; creator: Creator }> = [
  { python: newest, creator: 'venv' },
  ...(virtualenvPython === undefined
    ? []
    : [{ python: virtualenvPython, creator: 'virtualenv' as const }]),
];
if (virtualenvPython === undefined)
  testMissing(
    VIRTUALENV_SEEDS,
    'verify on a real virtualenv venv moved by mv fails naming the old path; the printed relocate command fixes it and verify passes',
  );

for (const { python, creator } of targets) {
  test(`verify on a real ${creator} venv (Python ${python.full}) moved by mv fails naming the old path; the printed relocate command fixes it and verify passes`, async (t) => {
    const v0 = await copyVenv(BASIC, python, { creator });
    t.log(`Python ${python.full} (${python.exe}), ${creator}`);
    // First make it work where the copy sits, then move it the way an operator would: mv.
    t.is(cli(['--update-path', v0.dir, v0.dir]).status, 0);
    const clean = cli(['verify', v0.dir]);
    t.is(clean.status, 0, clean.stdout);
    t.regex(clean.stdout, /^ok: .* works where it stands$/m);

    const top = freshDir('verify-mv');
    const app = path.join(top, `it's a "new" $place`, 'app');
    fs.mkdirSync(path.dirname(app), { recursive: true });
    await runOk('mv', ['--', path.dirname(v0.dir), app]);
    const v: BuiltVenv = movedTo(v0, app);

    const before = snapshotTree(v.dir);
    const r = cli(['verify', v.dir]);
    t.is(r.status, 1, r.stdout + r.stderr);
    t.deepEqual(diffSnapshots(before, snapshotTree(v.dir)), [], 'verify changes no byte');
    t.true(r.stdout.includes(v0.dir), 'the old path is named');
    t.regex(r.stdout, /^ {2}FAIL {2}foreign-paths +\d+ files name /m);
    t.regex(r.stdout, /^ {2}FAIL {2}interpreters /m);
    t.regex(r.stdout, /^ {2}ok {4}python +bin\/python runs Python /m);
    t.regex(r.stdout, /^ {2}FAIL {2}activate /m);
    t.regex(
      r.stdout,
      new RegExp(
        `bin/activate sets VIRTUAL_ENV to ${v0.dir.replace(/[.$]/g, '\\$&')}, not this venv`,
      ),
    );
    t.regex(r.stdout, /it was moved or copied without being relocated/);
    const { doc } = verifyJson(v.dir);
    for (const s of v.scripts)
      t.true(
        doc.stale.some((f) => f.path === `bin/${s}` && f.kind === 'shebang'),
        `bin/${s} is stale`,
      );
    t.false(doc.ok);
    t.is(doc.state, 'moved');
    t.deepEqual(doc.foreign, [v0.dir]);
    t.true(doc.stale.some((f) => f.kind === 'pyc'));
    t.true(doc.stale.some((f) => f.path === 'bin/activate'));
    t.deepEqual(
      doc.fixes.map((f) => f.argv),
      [['venv-tools', 'relocate', v.dir, '--to', v.dir]],
    );

    const fix = printedFix(r.stdout);
    t.is(fix, doc.fixes[0]!.command);
    const ran = runPrinted(fix);
    t.is(ran.status, 0, ran.out);
    const after = cli(['verify', v.dir]);
    t.is(after.status, 0, after.stdout);
    for (const name of [
      'foreign-paths',
      'interpreters',
      'python',
      'activate',
      'pth',
      'pycs',
      'record',
    ])
      t.regex(after.stdout, new RegExp(`^ {2}ok {4}${name} `, 'm'), name);
  });
}

test('verify on every CPython here: a small venv moved by mv fails naming the old path, and passes after relocation', (t) => {
  for (const py of all) {
    const v0 = smallVenv(py, `verify-${py.version}`);
    const v = moveApp(v0);
    const r = cli(['verify', v.venv]);
    t.is(r.status, 1, `${py.exe}: ${r.stdout}`);
    t.true(r.stdout.includes(v0.venv), `${py.exe} names the old path: ${r.stdout}${r.stderr}`);
    const fix = printedFix(r.stdout);
    t.is(fix, `venv-tools relocate ${v.venv} --to ${v.venv}`);
    t.is(runPrinted(fix).status, 0);
    const after = cli(['verify', v.venv]);
    t.is(after.status, 0, `${py.exe}: ${after.stdout}`);
    t.log(`Python ${py.full} (${py.exe}): fails after mv, passes after relocation`);
  }
});

function clean(label: string): SmallVenv {
  const v = smallVenv(newest, label);
  const r = cli(['verify', v.venv]);
  if (r.status !== 0) throw new Error(`a fresh small venv does not verify:\n${r.stdout}`);
  return v;
}

test('a clean venv passes every check and exits 0', (t) => {
  const v = clean('verify-clean');
  const { status, doc } = verifyJson(v.venv);
  t.is(status, 0);
  t.true(doc.ok);
  t.is(doc.state, 'in-place');
  t.deepEqual(doc.problems, []);
  t.deepEqual(doc.fixes, []);
  t.deepEqual(
    doc.checks.map((c) => [c.name, c.status]),
    [
      ['foreign-paths', 'ok'],
      ['interpreters', 'ok'],
      ['python', 'ok'],
      ['activate', 'ok'],
      ['pth', 'ok'],
      ['pycs', 'skipped'],
      ['record', 'ok'],
    ],
  );
  t.is(doc.python.prefix, v.venv);
});

test('a script whose interpreter is missing or not executable fails the interpreters check, naming both', (t) => {
  const v = clean('verify-interp');
  fs.writeFileSync(path.join(v.venv, 'bin', 'gone'), '#!/nonexistent/python3\n', { mode: 0o755 });
  const noexec = path.join(v.top, 'python-noexec');
  fs.writeFileSync(noexec, '');
  fs.writeFileSync(path.join(v.venv, 'bin', 'stuck'), `#!${noexec}\n`, { mode: 0o755 });
  const { status, doc } = verifyJson(v.venv);
  t.is(status, 1);
  const c = check(doc, 'interpreters');
  t.is(c.status, 'failed');
  t.deepEqual(
    c.problems.map((p) => p.message).sort(),
    [
      `bin/gone: its interpreter /nonexistent/python3 does not exist`,
      `bin/stuck: its interpreter ${noexec} is not executable`,
    ].sort(),
  );
  t.is(
    check(doc, 'foreign-paths').status,
    'ok',
    'an interpreter outside any venv is no venv location',
  );
});

test('a broken bin/python link fails the python and interpreters checks, and verify suggests reinit', (t) => {
  const v = clean('verify-broken-python');
  const bin = path.join(v.venv, 'bin');
  const real = fs.readdirSync(bin).find((n) => {
    const p = path.join(bin, n);
    return fs.lstatSync(p).isSymbolicLink() && path.isAbsolute(fs.readlinkSync(p));
  });
  if (real === undefined) return t.fail('no absolute interpreter link in bin/');
  fs.rmSync(path.join(bin, real));
  fs.symlinkSync('/nonexistent/bin/python3.99', path.join(bin, real));
  const r = cli(['verify', v.venv]);
  t.is(r.status, 1);
  t.regex(r.stdout, /^ {2}FAIL {2}python +bin\/python does not start$/m);
  t.regex(
    r.stdout,
    /bin\/python, .*: their interpreter \/nonexistent\/bin\/python3\.99 does not exist/,
  );
  t.regex(r.stdout, new RegExp(`^  venv-tools reinit ${v.venv}$`, 'm'));
});

test('a RECORD whose file changed or went missing fails the record check, naming the file and the RECORD', (t) => {
  const v = clean('verify-record');
  const mod = path.join(v.venv, v.site, 'demo', '__init__.py');
  fs.writeFileSync(mod, 'VALUE = 2\n');
  const { doc } = verifyJson(v.venv);
  const record = `${v.site}/demo-1.0.dist-info/RECORD`;
  const file = `${v.site}/demo/__init__.py`;
  const c = check(doc, 'record');
  t.is(c.status, 'failed');
  t.is(c.problems.length, 1);
  const want = createHash('sha256').update('VALUE = 1\n').digest('base64url');
  const got = createHash('sha256').update('VALUE = 2\n').digest('base64url');
  t.is(
    c.problems[0]!.message,
    `${record} lists ${file} with sha256=${want}, 10 bytes; the file has sha256=${got}, 10 bytes`,
  );
  t.deepEqual(c.problems[0]!.paths, [file, record]);
  fs.rmSync(mod);
  const gone = check(verifyJson(v.venv).doc, 'record');
  t.deepEqual(
    gone.problems.map((p) => p.message),
    [`${record} lists ${file}, which is missing`],
  );
});

test('an activate script naming another place fails activate and foreign-paths: the venv is half relocated', (t) => {
  const v = clean('verify-activate');
  const act = path.join(v.venv, 'bin', 'activate');
  fs.writeFileSync(act, fs.readFileSync(act, 'utf8').split(v.venv).join('/old/place/venv'));
  const { status, doc } = verifyJson(v.venv);
  t.is(status, 1);
  t.is(doc.state, 'half-relocated');
  t.deepEqual(doc.foreign, ['/old/place/venv']);
  t.deepEqual(
    check(doc, 'activate').problems.map((p) => p.message),
    ['bin/activate sets VIRTUAL_ENV to /old/place/venv, not this venv'],
  );
  t.deepEqual(
    doc.stale.map((f) => f.path),
    ['bin/activate'],
  );
  t.deepEqual(doc.fixes[0]!.argv, ['venv-tools', 'relocate', v.venv, '--to', v.venv]);
});

test('a symlink into the old location is stale; a binary naming it is reported but is not a problem', (t) => {
  const v0 = smallVenv(newest, 'verify-links');
  fs.symlinkSync(`${v0.venv}/${v0.site}/demo`, path.join(v0.venv, 'demo-link'));
  fs.writeFileSync(
    path.join(v0.venv, v0.site, 'native.so'),
    Buffer.concat([
      Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0]),
      Buffer.from(`${v0.venv}/lib\0`),
    ]),
  );
  const v = moveApp(v0);
  const { doc } = verifyJson(v.venv);
  t.true(doc.stale.some((f) => f.path === 'demo-link' && f.kind === 'symlink'));
  t.deepEqual(
    doc.binaries.map((b) => b.path),
    [`${v.site}/native.so`],
  );
  const fp = check(doc, 'foreign-paths');
  t.true(fp.problems.some((p) => /^1 symlink file still names /.test(p.message)));
  t.false(fp.problems.some((p) => p.paths.includes(`${v.site}/native.so`)));
  t.true(
    fp.notes.some((n) => n.startsWith(`${v.site}/native.so (ELF) names an old location 1 time`)),
  );
  // After relocation the link is re-pointed; the binary keeps the old path and verify passes.
  t.is(cli(['relocate', v.venv, '--to', v.venv]).status, 0);
  t.is(fs.readlinkSync(path.join(v.venv, 'demo-link')), `${v.venv}/${v.site}/demo`);
  const after = verifyJson(v.venv);
  t.is(after.status, 0, JSON.stringify(after.doc.problems));
});

test('a venv copied rather than moved fails too: its scripts still run the original', (t) => {
  const v = clean('verify-copy');
  const copy = path.join(v.top, 'copy', 'venv');
  fs.mkdirSync(path.dirname(copy));
  const r = spawnSync('cp', ['-a', v.venv, copy]);
  t.is(r.status, 0);
  const { status, doc } = verifyJson(copy);
  t.is(status, 1);
  t.is(doc.state, 'moved');
  t.deepEqual(doc.foreign, [v.venv]);
  t.is(check(doc, 'interpreters').status, 'ok', "the original's interpreter still exists");
  t.is(check(doc, 'foreign-paths').status, 'failed');
});

test('verify exits 1 on a folder that is not a venv, with an error document under --json, and 2 on a usage error', (t) => {
  const d = freshDir('verify-notvenv');
  const r = cli(['verify', d]);
  t.is(r.status, 1);
  t.regex(r.stderr, new RegExp(`${d} is not a virtualenv: not a directory: ${d}/bin`));
  const j = cli(['verify', d, '--json']);
  t.is(j.status, 1);
  t.like(JSON.parse(j.stdout), { command: 'verify', error: { code: 'NOT_A_VENV' } });
  t.is(cli(['verify', d, 'extra']).status, 2);
  t.is(cli(['verify', '--dry-run', d]).status, 2);
});

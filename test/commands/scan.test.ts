import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BASIC } from '../fixtures/venvs/recipes.js';
import { copyVenv, sitePackages } from '../helpers/build-venv.js';
import { cli, diffSnapshots, snapshotTree } from '../helpers/cli.js';
import { findPythons } from '../helpers/pythons.js';
import { moveApp, smallVenv } from '../helpers/small-venv.js';

// `venv-tools scan`: the layout, the old location and its evidence, every file that names it by
// kind (what relocate would rewrite, no more and no less), binaries listed but never edited.

const pythons = findPythons().filter((p) => Number(p.version.split('.')[1]) >= 8);
const newest = pythons.at(-1) ?? findPythons().at(-1);
if (newest === undefined) throw new Error('no CPython 3 found on this machine');

interface ScanDoc {
  state: string;
  old: string | null;
  layout: { pythonVersion: string; creator: string; binDir: string; sitePackages: string };
  locations: Array<{ location: string; here: boolean; evidence: Array<{ file: string }> }>;
  files: Array<{ path: string; kind: string; names: boolean }>;
  counts: Record<string, number>;
  binaries: Array<{ path: string; matches: number; format: string }>;
  warnings: Array<{ code: string; message: string }>;
  fixes: Array<{ argv: string[]; command: string }>;
}

function scanJson(venv: string): ScanDoc {
  const r = cli(['scan', venv, '--json']);
  if (r.status !== 0) throw new Error(`scan --json exited ${String(r.status)}: ${r.stderr}`);
  return JSON.parse(r.stdout) as ScanDoc;
}

test('scan of a real venv that was moved sums up its layout, where it thinks it is and stands, the files that name the old place by kind, and the relocation; --verbose lists every file', async (t) => {
  const v = await copyVenv(BASIC, newest);
  t.log(`Python ${v.full} (${v.python}), built at ${v.builtAt}, now at ${v.dir}`);
  const before = snapshotTree(path.dirname(v.dir));
  const r = cli(['scan', v.dir]);
  t.is(r.status, 0, r.stderr);
  t.deepEqual(diffSnapshots(before, snapshotTree(path.dirname(v.dir))), [], 'scan changes no byte');
  const out = r.stdout;
  t.regex(out, new RegExp(`^Venv ${v.dir} \\(${v.dir}\\)$`, 'm'));
  t.regex(out, new RegExp(`^  created by +venv, CPython ${v.full.replace(/\./g, '\\.')}$`, 'm'));
  t.regex(out, new RegExp(`^  python +${v.version} \\(lib/python${v.version}\\)$`, 'm'));
  t.regex(out, /^ {2}bin dir +bin$/m);
  t.regex(out, new RegExp(`^  site-packages +lib/python${v.version}/site-packages$`, 'm'));
  t.regex(out, new RegExp(`^  thinks it is +${v.builtAt}$`, 'm'));
  t.regex(out, new RegExp(`^  stands at +${v.dir}$`, 'm'));
  t.regex(out, /^ {2}location +moved: /m);
  t.regex(out, new RegExp(`^  evidence +${v.builtAt} \\(elsewhere\\): bin/activate, `, 'm'));
  // The files that follow the ones naming it are counted, and why they change is said.
  t.regex(
    out,
    new RegExp(
      `^Files that name ${v.builtAt}: \\d+, and \\d+ that change with them \\(.*RECORDs? listing their hashes`,
      'm',
    ),
  );
  // A summary by default: counts by kind, no file by file.
  t.notRegex(out, /^ {4}S bin\//m);
  t.regex(out, new RegExp(`^Every file, by kind: venv-tools scan ${v.dir} --verbose$`, 'm'));
  // --verbose: every kind the recipe holds, named as --json names it, with its count, and each
  // of the kit's scripts listed under it.
  const verbose = cli(['scan', v.dir, '--verbose']).stdout;
  for (const kind of ['shebang', 'activate', 'pyvenv-cfg', 'record', 'pyc', 'finder', 'pth'])
    t.regex(verbose, new RegExp(`^  ${kind} \\(\\d+\\)$`, 'm'), kind);
  for (const s of v.scripts) t.true(verbose.includes(`\n    S bin/${s}\n`), s);
  t.regex(out, new RegExp(`^  venv-tools relocate ${v.dir} --to ${v.dir}$`, 'm'));
  t.regex(out, /^ {2}by kind +\d+ shebang, \d+ activate, 1 pyvenv-cfg, /m);
  t.regex(
    out,
    /^ {2}rewrites these \d+ files \([\d.]+ MB\), in (about [\d.]+ s|well under a second)$/m,
  );
  t.regex(out, /^\d+ files scanned \([\d.]+ MB\), \d+ to rewrite; \d+ warnings?; [\d.]+ s$/m);
});

test('scan lists exactly the files relocate would rewrite, and its JSON says which name the old place', async (t) => {
  const v = await copyVenv(BASIC, newest);
  const doc = scanJson(v.dir);
  t.is(doc.state, 'moved');
  t.is(doc.old, v.builtAt);
  t.is(doc.layout.pythonVersion, v.version);
  t.is(doc.layout.sitePackages, path.relative(v.dir, sitePackages(v.dir)));
  t.deepEqual(
    doc.locations.map((l) => [l.location, l.here]),
    [[v.builtAt, false]],
  );
  const files = new Set(doc.locations[0]!.evidence.map((e) => e.file));
  for (const s of v.scripts) t.true(files.has(`bin/${s}`), `evidence from bin/${s}`);
  t.true(files.has('bin/activate'));

  const plan = cli(['relocate', v.dir, '--to', v.dir, '--dry-run', '--json']);
  t.is(plan.status, 0, plan.stderr);
  const changes = (JSON.parse(plan.stdout) as { changes: Array<{ path: string; kind: string }> })
    .changes;
  t.deepEqual(
    doc.files.map((f) => [f.path, f.kind]),
    changes.map((c) => [c.path, c.kind]),
  );
  const total = Object.values(doc.counts).reduce((a, b) => a + b, 0);
  t.is(total, doc.files.length);
  // Scripts and activate scripts name the old place; a RECORD may only follow rewritten files.
  for (const f of doc.files.filter((f) => f.kind === 'shebang' || f.kind === 'activate'))
    t.true(f.names, f.path);
  for (const f of doc.files) t.true(fs.existsSync(path.join(v.dir, f.path)), f.path);
  t.deepEqual(
    doc.fixes.map((f) => f.argv),
    [['venv-tools', 'relocate', v.dir, '--to', v.dir]],
  );
});

test('after relocation, scan shows the venv in place and lists the files that name where it stands', async (t) => {
  const v = await copyVenv(BASIC, newest);
  t.is(cli(['--update-path', v.dir, v.dir]).status, 0);
  const doc = scanJson(v.dir);
  t.is(doc.state, 'in-place');
  t.is(doc.old, v.dir);
  t.deepEqual(doc.fixes, []);
  t.true(doc.locations.every((l) => l.here));
  t.true(doc.counts.shebang! >= v.scripts.length);
  t.true(doc.counts.pyc! > 0);
  const r = cli(['scan', v.dir]);
  t.regex(r.stdout, /^ {2}location +in place: /m);
  t.regex(r.stdout, new RegExp(`^  evidence +${v.dir} \\(here\\): `, 'm'));
  t.notRegex(r.stdout, /venv-tools relocate/);
  // It says it is in place, and never that a relocation rewrites these files here.
  t.regex(r.stdout, /^It is in place: nothing to relocate\./m);
  t.notRegex(r.stdout, /rewrites them all|\d+ to rewrite/);
});

test('scan on every CPython here reads the layout and the moved location of a small venv', (t) => {
  for (const py of findPythons()) {
    const v = moveApp(smallVenv(py, `scan-${py.version}`));
    const doc = scanJson(v.venv);
    t.is(doc.layout.pythonVersion, py.version, py.exe);
    t.is(doc.state, 'moved', py.exe);
    t.is(doc.old, path.join(v.top, 'build', 'app', 'venv'), py.exe);
    t.is(doc.counts.shebang, 1, py.exe);
    t.is(doc.counts.pth, 1, py.exe);
    t.is(doc.counts.record, 1, py.exe);
    t.log(`Python ${py.full} (${py.exe}): ${doc.files.length} files`);
  }
});

test('a binary that names the old location is listed with its format and count, and never planned for rewriting', (t) => {
  const v0 = smallVenv(newest, 'scan-binary');
  const so = path.join(v0.venv, v0.site, 'native.so');
  fs.writeFileSync(
    so,
    Buffer.concat([
      Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]),
      Buffer.alloc(24),
      Buffer.from(`${v0.venv}/lib\0${v0.venv}/share\0`),
    ]),
  );
  const v = moveApp(v0);
  const doc = scanJson(v.venv);
  const rel = path.join(v.site, 'native.so');
  t.deepEqual(doc.binaries, [{ path: rel, matches: 2, format: 'ELF' }]);
  t.false(doc.files.some((f) => f.path === rel));
  t.true(doc.warnings.some((w) => w.code === 'BINARY_NOT_EDITED'));
  const r = cli(['scan', v.venv]);
  t.regex(r.stdout, /^Binaries that name it: 1; never edited$/m);
  t.regex(r.stdout, new RegExp(`^ {4}${rel.replace(/\./g, '\\.')} \\(ELF, 2 times\\)$`, 'm'));
});

test('scripts naming two other places make the scan ambiguous: both are listed and the fix names them', (t) => {
  const v = moveApp(smallVenv(newest, 'scan-ambiguous'));
  fs.writeFileSync(path.join(v.venv, 'bin', 'other'), '#!/elsewhere/venv/bin/python\n', {
    mode: 0o755,
  });
  const old = path.join(v.top, 'build', 'app', 'venv');
  const doc = scanJson(v.venv);
  t.is(doc.state, 'ambiguous');
  t.is(doc.old, null);
  t.deepEqual(doc.files, []);
  t.deepEqual(doc.locations.map((l) => l.location).sort(), ['/elsewhere/venv', old].sort());
  t.true(doc.warnings.some((w) => w.code === 'AMBIGUOUS_OLD_PREFIX'));
  t.is(doc.fixes.length, 1);
  const argv = doc.fixes[0]!.argv;
  t.deepEqual(argv.slice(0, 5), ['venv-tools', 'relocate', v.venv, '--to', v.venv]);
  t.true(argv.includes('--from') && argv.includes('--map'), argv.join(' '));
  const r = cli(['scan', v.venv]);
  t.is(r.status, 0);
  t.regex(r.stdout, /location +unclear: /);
  t.regex(r.stderr, /several|2 other locations/);
});

test('a venv no file locates is reported as unknown, with a warning that relocate needs --from', (t) => {
  const v = moveApp(smallVenv(newest, 'scan-unknown'));
  for (const f of fs.readdirSync(path.join(v.venv, 'bin')))
    if (f.startsWith('activate') || f === 'tool' || f === 'Activate.ps1')
      fs.rmSync(path.join(v.venv, 'bin', f));
  const cfg = path.join(v.venv, 'pyvenv.cfg');
  fs.writeFileSync(cfg, fs.readFileSync(cfg, 'utf8').replace(/^command.*\n/m, ''));
  const doc = scanJson(v.venv);
  t.is(doc.state, 'unknown');
  t.deepEqual(doc.locations, []);
  t.true(doc.warnings.some((w) => w.code === 'NO_OLD_PREFIX' && /--from/.test(w.message)));
});

test('scan of a folder that is not a venv exits 1 with the compatible message; with --json, an error document', (t) => {
  const v = smallVenv(newest, 'scan-notvenv');
  const lib = path.join(v.venv, 'lib');
  fs.renameSync(lib, `${lib}.away`);
  const r = cli(['scan', v.venv]);
  t.is(r.status, 1);
  t.is(r.stdout, '');
  t.regex(r.stderr, new RegExp(`${v.venv} is not a virtualenv: not a directory: ${v.venv}/lib`));
  const j = cli(['scan', v.venv, '--json']);
  t.is(j.status, 1);
  const doc = JSON.parse(j.stdout) as { command: string; error: { code: string; path: string } };
  t.is(doc.command, 'scan');
  t.is(doc.error.code, 'NOT_A_VENV');
  t.is(doc.error.path, `${v.venv}/lib`);
});

test('scan finishes an interrupted run first, as every command does, and says so', (t) => {
  // A committed journal is written by a relocation that is killed between commit and apply; a
  // journal without its footer is discarded. Here: one that is not committed, which is dropped.
  const v = moveApp(smallVenv(newest, 'scan-journal'));
  fs.writeFileSync(path.join(v.venv, '.venv-tools.journal'), 'VENV-TOOLS JOURNAL 1\ntorn');
  const doc = JSON.parse(cli(['scan', v.venv, '--json']).stdout) as {
    recovered: { state: string };
    state: string;
  };
  t.is(doc.recovered.state, 'discarded');
  t.is(doc.state, 'moved');
  t.false(fs.existsSync(path.join(v.venv, '.venv-tools.journal')));
  t.false(fs.existsSync(path.join(v.venv, '.venv-tools.lock')));
});

import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BASIC } from '../fixtures/venvs/recipes.js';
import { copyVenv, sitePackages, type BuiltVenv } from '../helpers/build-venv.js';
import { checkPycFilenames, pycBytes } from '../helpers/check-pycs.js';
import { cli } from '../helpers/cli.js';
import { findOldPaths } from '../helpers/find-old-paths.js';
import { validate, type Schema } from '../helpers/json-schema.js';
import { findPythons } from '../helpers/pythons.js';
import { repoPath } from '../helpers/repo-root.js';

// The old location is found wherever it is: in the prefix of every pyc's co_filename, and in
// .pth lines naming a venv-shaped place, not only in the scripts, activate and pyvenv.cfg. So
// a venv that a partial run left (everything names the target but the pycs) is finished by the
// next run instead of being declared up to date, and scan shows why.

const pythons = findPythons().filter((p) => Number(p.version.split('.')[1]) >= 8);
const newest = pythons.at(-1) ?? findPythons().at(-1);
if (newest === undefined) throw new Error('no CPython 3 found on this machine');

interface Evidence {
  file: string;
  source: string;
  count: number;
}
interface ScanDoc {
  state: string;
  old: string | null;
  locations: Array<{ location: string; here: boolean; evidence: Evidence[] }>;
  files: Array<{ path: string; kind: string; names: boolean }>;
}

const SCAN_SCHEMA = JSON.parse(
  fs.readFileSync(repoPath('docs', 'schema', 'scan.schema.json'), 'utf8'),
) as Schema;

/** `scan --json`, checked against its schema (docs/schema/scan.schema.json). */
function scanJson(venv: string): ScanDoc {
  const r = cli(['scan', venv, '--json']);
  if (r.status !== 0) throw new Error(`scan --json exited ${String(r.status)}: ${r.stderr}`);
  const doc = JSON.parse(r.stdout) as unknown;
  const errors = validate(SCAN_SCHEMA, doc);
  if (errors.length > 0) throw new Error(`scan --json breaks its schema: ${errors.join('; ')}`);
  return doc as ScanDoc;
}

/** Every pyc of the venv, by path relative to it, with its bytes. */
function pycsOf(dir: string): Map<string, Buffer> {
  return new Map([...pycBytes(dir)].map(([p, b]) => [path.relative(dir, p), b]));
}

/**
 * The pycs below `dir` whose bytes hold `old` anywhere (no boundary rule: in marshal data the
 * byte before a str is its length, which findOldPaths' whole-path rule would take for a name).
 */
function pycsNaming(dir: string, old: string): string[] {
  const needle = Buffer.from(old);
  return [...pycsOf(dir)].filter(([, b]) => b.includes(needle)).map(([rel]) => rel);
}

/** Put pycs back as they were (the state a run that stopped before the pycs leaves). */
function restore(dir: string, pycs: Map<string, Buffer>): void {
  for (const [rel, bytes] of pycs) fs.writeFileSync(path.join(dir, rel), bytes);
}

/**
 * A real venv relocated to where its copy stands, with every pyc then put back as it was built:
 * the pycs name the build place, everything else the venv's own.
 */
async function halfRelocated(): Promise<{ v: BuiltVenv; built: Map<string, Buffer> }> {
  const v = await copyVenv(BASIC, newest!);
  const built = pycsOf(v.dir);
  const first = cli(['--update-path', v.dir, v.dir]);
  if (first.status !== 0) throw new Error(`relocation failed: ${first.stdout}${first.stderr}`);
  restore(v.dir, built);
  return { v, built };
}

test('a rerun after a partial run that left every pyc naming the old place rewrites them, says Updated, and verify then passes', async (t) => {
  const { v, built } = await halfRelocated();
  t.log(`Python ${v.full}, ${built.size} pycs put back naming ${v.builtAt}`);
  t.true(built.size > 100, 'pip alone brings hundreds of pycs');
  t.deepEqual(findOldPaths(v.dir, [v.builtAt]).text, [], 'only the pycs name the old place');
  t.is(pycsNaming(v.dir, v.builtAt).length, built.size);
  const before = cli(['verify', v.dir]);
  t.is(before.status, 1, before.stdout);
  t.regex(before.stdout, /^ {2}FAIL {2}foreign-paths /m);

  const r = cli(['--update-path', v.dir, v.dir]);
  t.is(r.status, 0, r.stderr);
  t.is(r.stdout, `Updated: ${v.dir} (${v.builtAt} -> ${v.dir})\n`);

  t.deepEqual(pycsNaming(v.dir, v.builtAt), [], 'no pyc names the old place');
  const { problems, checked } = await checkPycFilenames(v.dir, v.dir);
  t.deepEqual(problems, []);
  t.true(checked >= built.size, `co_filename checked in ${checked} pycs`);
  const after = cli(['verify', v.dir]);
  t.is(after.status, 0, after.stdout);
  const again = cli(['--update-path', v.dir, v.dir]);
  t.is(again.stdout, `Already up-to-date: ${v.dir} (${v.dir})\n`);
});

test('scan --json of a venv a partial run left shows the pyc evidence, one summary per location, and lists the pycs to rewrite', async (t) => {
  const { v, built } = await halfRelocated();
  const doc = scanJson(v.dir);
  t.is(doc.state, 'half-relocated');
  t.is(doc.old, v.builtAt);
  const old = doc.locations.find((l) => l.location === v.builtAt);
  const here = doc.locations.find((l) => l.location === v.dir);
  if (old === undefined || here === undefined) return t.fail(JSON.stringify(doc.locations));
  t.false(old.here);
  t.true(here.here);
  // Every pyc that holds its source's path names the build place: one piece of evidence.
  t.deepEqual(
    old.evidence.map((e) => e.source),
    ['pyc'],
  );
  const pycEvidence = old.evidence[0]!;
  t.true(pycEvidence.count > 100 && pycEvidence.count <= built.size, String(pycEvidence.count));
  t.true(built.has(pycEvidence.file), pycEvidence.file);
  t.true(
    here.evidence.some((e) => e.source === 'activate') &&
      here.evidence.some((e) => e.source === 'shebang') &&
      here.evidence.some((e) => e.source === 'pyvenv.cfg'),
  );
  t.false(
    here.evidence.some((e) => e.source === 'pyc'),
    'no pyc names the venv where it stands',
  );
  const stalePycs = doc.files.filter((f) => f.kind === 'pyc' && f.names);
  t.deepEqual(stalePycs.map((f) => f.path).sort(), pycsNaming(v.dir, v.builtAt).sort());
  const text = cli(['scan', v.dir]).stdout;
  t.regex(
    text,
    new RegExp(
      `^  evidence +${v.builtAt} \\(elsewhere\\): ${pycEvidence.count} pycs, e\\.g\\. ${pycEvidence.file.replace(/[.]/g, '\\.')}$`,
      'm',
    ),
  );
  t.regex(text, new RegExp(`^  venv-tools relocate ${v.dir} --to ${v.dir}$`, 'm'));
});

test('relocate --json on the same venv reports the pyc evidence and rewrites every pyc that names the old place', async (t) => {
  const { v } = await halfRelocated();
  const stale = pycsNaming(v.dir, v.builtAt);
  const r = cli(['relocate', v.dir, '--to', v.dir, '--json']);
  t.is(r.status, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as {
    status: string;
    old: string;
    evidence: Array<Evidence & { location: string }>;
    changes: Array<{ path: string; kind: string }>;
  };
  t.is(doc.status, 'updated');
  t.is(doc.old, v.builtAt);
  t.true(doc.evidence.some((e) => e.source === 'pyc' && e.location === v.builtAt && e.count > 1));
  const changed = new Set(doc.changes.filter((c) => c.kind === 'pyc').map((c) => c.path));
  t.deepEqual(
    stale.filter((p) => !changed.has(p)),
    [],
  );
  t.deepEqual(pycsNaming(v.dir, v.builtAt), []);
});

test('a relocated venv whose .pth names its old site-packages is finished by a rerun, not called up to date', async (t) => {
  const v = await copyVenv(BASIC, newest);
  t.is(cli(['--update-path', v.dir, v.dir]).status, 0);
  const site = path.relative(v.dir, sitePackages(v.dir));
  const extra = path.join(v.dir, site, 'extra');
  fs.mkdirSync(extra);
  fs.writeFileSync(path.join(extra, 'extra_mod.py'), 'WHERE = "extra"\n');
  fs.writeFileSync(path.join(v.dir, site, 'extra.pth'), `${v.builtAt}/${site}/extra\n`);
  const doc = scanJson(v.dir);
  t.is(doc.state, 'half-relocated');
  t.deepEqual(doc.locations.find((l) => l.location === v.builtAt)?.evidence, [
    { file: `${site}/extra.pth`, source: 'pth', count: 1 },
  ]);
  const r = cli(['--update-path', v.dir, v.dir]);
  t.is(r.stdout, `Updated: ${v.dir} (${v.builtAt} -> ${v.dir})\n`, r.stderr);
  t.is(fs.readFileSync(path.join(v.dir, site, 'extra.pth'), 'utf8'), `${v.dir}/${site}/extra\n`);
  const py = cli(['verify', v.dir]);
  t.is(py.status, 0, py.stdout);
});

test('a venv whose scripts, activate and pyvenv.cfg name nothing is located by its pycs', async (t) => {
  const v = await copyVenv(BASIC, newest);
  const bin = path.join(v.dir, 'bin');
  for (const f of fs.readdirSync(bin)) {
    const p = path.join(bin, f);
    if (fs.lstatSync(p).isFile()) fs.rmSync(p);
  }
  const cfg = path.join(v.dir, 'pyvenv.cfg');
  fs.writeFileSync(cfg, fs.readFileSync(cfg, 'utf8').replace(/^command.*\n/m, ''));
  const doc = scanJson(v.dir);
  t.is(doc.state, 'moved');
  t.deepEqual(
    doc.locations.map((l) => [l.location, l.evidence.map((e) => e.source).sort()]),
    [[v.builtAt, ['pyc']]],
  );
  const r = cli(['--update-path', v.dir, v.dir]);
  t.is(r.stdout, `Updated: ${v.dir} (${v.builtAt} -> ${v.dir})\n`, r.stderr);
  t.deepEqual(pycsNaming(v.dir, v.builtAt), []);
});

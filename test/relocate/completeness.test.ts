import test from 'ava';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MINIMAL } from '../fixtures/venvs/recipes.js';
import { copyVenv, sitePackages, type BuiltVenv } from '../helpers/build-venv.js';
import { cli } from '../helpers/cli.js';
import { reliabilityPython } from '../helpers/reliability-venv.js';
import { freshDir } from '../helpers/scratch.js';

// Every file that holds the old path gets an edit, or is listed as left alone with its reason
// (src/relocate/plan-tree.ts, checkComplete and Planner.unaccounted). A pyc can hold the path
// where it is data, in a bytes constant, which is never rewritten: such a pyc is compiled again
// from its source when the run rewrites that (the constant came from there), and listed otherwise.

const python = reliabilityPython();

interface Report {
  binaries: Array<{ path: string; matches: number; format: string }>;
  warnings: Array<{ code: string; message: string; path?: string }>;
  changes: Array<{ path: string; kind: string }>;
  droppedPycs: Array<{ path: string; source: string | null; outcome: string; reason: string }>;
}

/** Compile `src` to `cfile` under a relative name, so that no str in it names the old location. */
function compile(src: string, cfile: string): void {
  const r = spawnSync(python.exe, [
    '-c',
    'import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], dfile="blob.py", doraise=True)',
    src,
    cfile,
  ]);
  if (r.status !== 0) throw new Error(`py_compile failed: ${r.stderr.toString()}`);
}

function py(venv: BuiltVenv, code: string): string {
  const r = spawnSync(path.join(venv.dir, 'bin', 'python'), ['-c', code], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return r.stdout.trim();
}

test('a pyc whose rewritten source put the old path in a bytes constant is compiled again from it', async (t) => {
  const top = freshDir('completeness-pyc-bytes');
  const venv = await copyVenv(MINIMAL, python, { appDir: path.join(top, 'app') });
  const site = sitePackages(venv.dir);
  const src = path.join(site, 'blob.py');
  fs.writeFileSync(src, `RAW = b"${venv.builtAt}/raw"\n`);
  const tag = `cpython-${python.version.replace('.', '')}`;
  const cfile = path.join(site, '__pycache__', `blob.${tag}.pyc`);
  compile(src, cfile);
  t.true(fs.readFileSync(cfile).includes(Buffer.from(`${venv.builtAt}/raw`)));
  const out = cli(['relocate', venv.dir, '--to', venv.dir, '--json']);
  t.is(out.status, 0, out.stderr);
  const report = JSON.parse(out.stdout) as Report;
  const rel = path.relative(venv.dir, cfile);
  // Removed through the journal, then compiled again by the venv's python from the new source.
  t.true(report.changes.some((c) => c.path === rel && c.kind === 'pyc-removed'));
  t.deepEqual(
    report.droppedPycs.map((d) => [d.path, d.source, d.outcome]),
    [[rel, path.relative(venv.dir, src), 'regenerated']],
  );
  t.true(report.warnings.some((w) => w.code === 'PYC_REGENERATED' && w.path === rel));
  t.deepEqual(report.binaries, []);
  const pyc = fs.readFileSync(cfile);
  t.true(pyc.includes(Buffer.from(`${venv.dir}/raw`)) && !pyc.includes(venv.builtAt), 'new bytes');
  t.is(py(venv, 'import blob; print(blob.RAW.decode())'), `${venv.dir}/raw`);
  t.deepEqual(fs.readFileSync(cfile), pyc, 'Python took it as it is');
});

test('a sourceless pyc that holds the old path only in bytes data is listed as left alone', async (t) => {
  const top = freshDir('completeness-pyc-bytes-sourceless');
  const venv = await copyVenv(MINIMAL, python, { appDir: path.join(top, 'app') });
  const site = sitePackages(venv.dir);
  const src = path.join(top, 'blob.py');
  fs.writeFileSync(src, `RAW = b"${venv.builtAt}/raw"\n`);
  const cfile = path.join(site, 'blob.pyc');
  compile(src, cfile);
  const before = fs.readFileSync(cfile);
  const out = cli(['relocate', venv.dir, '--to', venv.dir, '--json']);
  t.is(out.status, 0, out.stderr);
  const report = JSON.parse(out.stdout) as Report;
  t.deepEqual(report.binaries, [
    {
      path: path.relative(venv.dir, cfile),
      matches: 1,
      format: 'pyc bytes',
    },
  ]);
  t.true(
    report.warnings.some((w) => w.code === 'BINARY_NOT_EDITED' && w.message.includes('bytes data')),
  );
  t.deepEqual(fs.readFileSync(cfile), before, 'left as it is');
  t.is(py(venv, 'import blob; print(blob.RAW.decode())'), `${venv.builtAt}/raw`, 'data stays data');
});

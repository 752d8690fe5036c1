import * as fs from 'node:fs';
import * as path from 'node:path';
import { BASIC } from '../fixtures/venvs/recipes.js';
import { copyVenv, movedTo, sitePackages, type BuiltVenv } from '../helpers/build-venv.js';
import { checkRelocated, checksFor } from '../helpers/check-relocated.js';
import { checkPycFilenames, checkPycsStayValid } from '../helpers/check-pycs.js';
import { cli } from '../helpers/cli.js';
import { PYC_FORMATS } from '../../src/kinds/pyc/pyc-magic.js';
import { findPyPy } from '../helpers/pythons.js';
import { missingTool, needing } from '../helpers/require-tool.js';
import { runOk } from '../helpers/run.js';
import { freshDir } from '../helpers/scratch.js';

// Issue 20: a venv made by Debian's PyPy (`pypy3 -m venv`, with pip, the kit's wheels and an
// editable source) relocates like a CPython one, its pycs rewritten at the marshal level: after
// each move every pyc loads with PyPy's own marshal and names its source at the new place, and
// PyPy takes each as it is.

const pypy = findPyPy();
const withPyPy = needing([missingTool('pypy3')]);

/** Move the whole app folder (venv and its editable source) to `app`. */
async function moveApp(v: BuiltVenv, app: string): Promise<BuiltVenv> {
  fs.mkdirSync(path.dirname(app), { recursive: true });
  await runOk('mv', ['--', path.dirname(v.dir), app]);
  return movedTo(v, app);
}

withPyPy(
  'relocates a PyPy venv with pip, wheels and an editable source to a long spaced path and back, every pyc checked by PyPy',
  async (t) => {
    if (pypy === undefined) return t.fail('no pypy3');
    const v0 = await copyVenv(BASIC, pypy);
    t.log(`PyPy ${pypy.full} (${pypy.exe}), editable ${v0.editable?.mode ?? 'none'}`);
    t.true(fs.existsSync(path.join(v0.dir, 'lib', `pypy${pypy.version}`)), 'a lib/pypyX.Y venv');
    const built: BuiltVenv = {
      ...v0,
      dir: v0.builtAt,
      ...(v0.editable
        ? { editable: { ...v0.editable, srcDir: path.join(path.dirname(v0.builtAt), 'src') } }
        : {}),
    };
    const top = freshDir('e2e-pypy');
    const long = path.join(top, `deploy with space ${'x'.repeat(90)} é`, 'app');
    const moves: Array<[BuiltVenv, () => Promise<BuiltVenv>, string]> = [
      [built, () => Promise.resolve(v0), 'first relocation'],
      [v0, () => moveApp(v0, long), 'long path with a space'],
    ];
    let before = built;
    for (const [, move, what] of moves) {
      const after = await move();
      // Before: scan reads where each of PyPy's pycs was compiled (their source is m.py, not
      // m.pypy39.py), and finds no pyc it could not rewrite.
      const scan = JSON.parse(cli(['scan', after.dir, '--json']).stdout) as {
        locations: Array<{ location: string; evidence: Array<{ source: string; count: number }> }>;
        droppedPycs: unknown[];
      };
      const fromPycs = scan.locations
        .find((l) => l.location === before.dir)
        ?.evidence.find((e) => e.source === 'pyc');
      t.true((fromPycs?.count ?? 0) > 100, `${what}: ${fromPycs?.count} pycs name ${before.dir}`);
      t.deepEqual(scan.droppedPycs, [], `${what}: every pyc can be rewritten`);
      const r = cli(['--update-path', after.dir, after.dir]);
      t.is(r.status, 0, `${what}: ${r.stdout}${r.stderr}`);
      t.is(r.stdout, `Updated: ${after.dir} (${before.dir} -> ${after.dir})\n`, what);
      t.is(r.stderr, '', `${what}: no pyc was dropped, no warning`);
      const problems = await checkRelocated(after.dir, {
        ...checksFor(after),
        oldPath: before.dir,
        otherOldPaths: before.editable && after.editable ? [before.editable.srcDir] : [],
        log: (l) => t.log(`${what}: ${l}`),
      });
      t.deepEqual(problems, [], `${what}: ${problems.join('\n')}`);
      // Loaded with PyPy's marshal: every code object names its source at the new place...
      const pycs = await checkPycFilenames(after.dir, sitePackages(after.dir));
      t.true(pycs.checked > 100, `${what}: ${pycs.checked} pycs`);
      t.deepEqual(pycs.problems, [], `${what}: ${pycs.problems.join('\n')}`);
      // ...and PyPy recompiles none of them: their headers still match their sources.
      const stale = await checkPycsStayValid(after.dir, sitePackages(after.dir), [
        'vt_demo',
        'pip',
        ...(after.editable?.modules ?? []),
      ]);
      t.deepEqual(stale, [], `${what}: ${stale.join('\n')}`);
      t.log(`${what}: ${pycs.checked} pycs loaded with PyPy's marshal`);
      before = after;
    }

    // And back to a short path, checked by verify (whose pycs check now reads PyPy's pycs).
    const back = await moveApp(before, path.join(top, 's', 'app'));
    const r = cli(['--update-path', back.dir, back.dir]);
    t.is(r.status, 0, r.stderr);
    const problems = await checkRelocated(back.dir, { ...checksFor(back), oldPath: before.dir });
    t.deepEqual(problems, [], problems.join('\n'));
    const v = cli(['verify', back.dir, '--json']);
    t.is(v.status, 0, v.stdout);
    const doc = JSON.parse(v.stdout) as {
      checks: Array<{ name: string; status: string; summary: string }>;
    };
    const pycCheck = doc.checks.find((c) => c.name === 'pycs');
    t.is(pycCheck?.status, 'ok');
    t.regex(pycCheck?.summary ?? '', /^\d+ pycs that PyPy 3\.\d+ loads are valid for it$/);
    return undefined;
  },
);

withPyPy(
  "verify names a pyc that PyPy would refuse: CPython's magic, another PyPy release's, or a body its marshal cannot read",
  async (t) => {
    if (pypy === undefined) return t.fail('no pypy3');
    const v = await copyVenv(BASIC, pypy);
    t.is(cli(['--update-path', v.dir, v.dir]).status, 0);
    const cache = path.join(sitePackages(v.dir), 'vt_demo', '__pycache__');
    const [a] = fs
      .readdirSync(cache)
      .filter((n) => n.endsWith(`.pypy${pypy.version.replace('.', '')}.pyc`));
    if (a === undefined) return t.fail(`no pyc in ${cache}`);
    const pyc = path.join(cache, a);
    const rel = path.relative(v.dir, pyc);
    const bytes = fs.readFileSync(pyc);
    const cpython = Buffer.from(bytes);
    cpython.writeUInt16LE(3425, 0); // CPython 3.9's magic, where PyPy 3.9 wants its own
    fs.writeFileSync(pyc, cpython);
    let out = JSON.parse(cli(['verify', v.dir, '--json']).stdout) as {
      ok: boolean;
      checks: Array<{ name: string; problems: Array<{ message: string; paths: string[] }> }>;
    };
    let problems = out.checks.find((c) => c.name === 'pycs')?.problems ?? [];
    t.false(out.ok);
    t.deepEqual(
      problems.map((p) => p.paths),
      [[rel]],
    );
    const py = `PyPy ${pypy.version}`;
    t.true(
      problems[0]?.message.includes(
        `its magic is CPython 3.9's, not ${py}'s. ${py} compiles its source again at each import`,
      ),
      problems[0]?.message,
    );
    // Another PyPy release's magic for the same Python version: this PyPy refuses it too.
    const own = bytes.readUInt16LE(0);
    const other = PYC_FORMATS.find(
      (f) => f.implementation === 'pypy' && f.version === pypy.version && f.magic !== own,
    );
    if (other === undefined) {
      t.log(`PyPy ${pypy.version} has one released magic only: no other release's pyc to refuse`);
    } else {
      const older = Buffer.from(bytes);
      older.writeUInt16LE(other.magic, 0);
      fs.writeFileSync(pyc, older);
      out = JSON.parse(cli(['verify', v.dir, '--json']).stdout) as typeof out;
      problems = out.checks.find((c) => c.name === 'pycs')?.problems ?? [];
      t.deepEqual(
        problems.map((p) => p.paths),
        [[rel]],
      );
      t.regex(
        problems[0]?.message ?? '',
        new RegExp(
          `its magic ${older.subarray(0, 4).toString('hex')} is another release's of ${py}`,
        ),
      );
    }
    fs.writeFileSync(pyc, bytes.subarray(0, 40));
    out = JSON.parse(cli(['verify', v.dir, '--json']).stdout) as typeof out;
    problems = out.checks.find((c) => c.name === 'pycs')?.problems ?? [];
    t.deepEqual(
      problems.map((p) => p.paths),
      [[rel]],
    );
    t.regex(
      problems[0]?.message ?? '',
      new RegExp(`corrupt pyc: truncated.*${py} fails to import`),
    );
    return undefined;
  },
);

import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BASIC, EGG_LINK } from '../fixtures/venvs/recipes.js';
import {
  copyVenv,
  sitePackages,
  movedTo,
  virtualenvCanSeed,
  type BuiltVenv,
  type Creator,
  type PythonExe,
  type VenvRecipe,
  VIRTUALENV_SEEDS,
} from '../helpers/build-venv.js';
import { checkRelocated, checksFor } from '../helpers/check-relocated.js';
import { checkPycFilenames, checkPycsStayValid } from '../helpers/check-pycs.js';
import { cli, diffSnapshots, snapshotTree } from '../helpers/cli.js';
import { findPythons } from '../helpers/pythons.js';
import { runOk } from '../helpers/run.js';
import { testMissing } from '../helpers/require-tool.js';
import { freshDir } from '../helpers/scratch.js';

// Issue "Core relocation": real venvs (python -m venv for every CPython 3.8+ here, and Debian's
// virtualenv) with self-made wheels and an editable source beside the venv, moved through a
// series of awkward places and relocated by the built CLI after each move. After each, every
// check a user would make: old place gone, scripts run, sys.prefix, activate in every shell,
// pip list, editable import, and no byte anywhere (pycs included) naming the old place.

const pythons = findPythons().filter((p) => Number(p.version.split('.')[1]) >= 8);
const seedable: PythonExe[] = [];
for (const p of pythons) if (await virtualenvCanSeed(p)) seedable.push(p);
const virtualenvPython = seedable.find((p) => p.exe.startsWith('/usr/bin/')) ?? seedable.at(-1);

const targets: Array<{ python: PythonExe; creator: Creator; recipe: VenvRecipe }> = [
  ...pythons.map((python) => ({ python, creator: 'venv' as const, recipe: BASIC })),
  ...(virtualenvPython === undefined
    ? []
    : [{ python: virtualenvPython, creator: 'virtualenv' as const, recipe: BASIC }]),
  ...(pythons[0] === undefined
    ? []
    : [{ python: pythons[0], creator: 'venv' as const, recipe: EGG_LINK }]),
];
if (virtualenvPython === undefined)
  testMissing(
    VIRTUALENV_SEEDS,
    'relocates the basic venv made by virtualenv through long, quoted and look-alike paths',
  );

test('the machine has Pythons to build venvs with', (t) => {
  t.log(`CPython: ${pythons.map((p) => `${p.full} (${p.exe})`).join(', ')}`);
  t.log(
    virtualenvPython === undefined
      ? 'virtualenv: none can seed offline'
      : `virtualenv: with Python ${virtualenvPython.full}`,
  );
  t.true(pythons.length > 0);
});

/** Move the whole app folder (venv and its editable source) to `app`. */
async function moveApp(v: BuiltVenv, app: string): Promise<BuiltVenv> {
  fs.mkdirSync(path.dirname(app), { recursive: true });
  await runOk('mv', ['--', path.dirname(v.dir), app]);
  return movedTo(v, app);
}

/** Relocate with --update-path, then run every check against the previous place. */
async function relocateAndCheck(
  t: import('ava').ExecutionContext,
  before: BuiltVenv,
  after: BuiltVenv,
  what: string,
): Promise<void> {
  const r = cli(['--update-path', after.dir, after.dir]);
  t.is(r.status, 0, `${what}: ${r.stdout}${r.stderr}`);
  t.is(r.stdout, `Updated: ${after.dir} (${before.dir} -> ${after.dir})\n`, what);
  const problems = await checkRelocated(after.dir, {
    ...checksFor(after),
    oldPath: before.dir,
    otherOldPaths:
      before.editable && after.editable && before.editable.srcDir !== after.editable.srcDir
        ? [before.editable.srcDir]
        : [],
    log: (l) => t.log(`${what}: ${l}`),
  });
  t.deepEqual(problems, [], `${what}: ${problems.join('\n')}`);
}

for (const { python, creator, recipe } of targets) {
  const maker = creator === 'venv' ? 'python -m venv' : 'virtualenv';
  test(`relocates the ${recipe.name} venv made by ${maker} with Python ${python.full} through long, quoted and look-alike paths`, async (t) => {
    const v0 = await copyVenv(recipe, python, { creator });
    t.log(
      `Python ${python.full} (${python.exe}), ${maker}, editable ${v0.editable?.mode ?? 'none'}`,
    );

    // The copy sits at a new place, its files still naming the build place (which is gone).
    const built: BuiltVenv = {
      ...v0,
      dir: v0.builtAt,
      ...(v0.editable
        ? { editable: { ...v0.editable, srcDir: path.join(path.dirname(v0.builtAt), 'src') } }
        : {}),
    };
    await relocateAndCheck(t, built, v0, 'first relocation');
    // Issue "pyc rewriting": every pyc pip compiled loads with this Python's marshal and names its
    // source at the new place, and Python takes each as it is (none is recompiled), the
    // rewritten editable finder's pyc included.
    const pycs = await checkPycFilenames(v0.dir, sitePackages(v0.dir));
    t.log(`pycs: ${pycs.checked} loaded with Python ${python.full}'s marshal`);
    t.true(pycs.checked > 0);
    t.deepEqual(pycs.problems, [], pycs.problems.join('\n'));
    const stale = await checkPycsStayValid(v0.dir, sitePackages(v0.dir), [
      'vt_demo',
      ...(v0.editable?.modules ?? []),
    ]);
    t.deepEqual(stale, [], stale.join('\n'));

    const top = freshDir('e2e');
    const long = path.join(top, `deploy with space ${'x'.repeat(90)} é`, 'app');
    const v1 = await moveApp(v0, long);
    t.true(Buffer.byteLength(`#!${v1.dir}/bin/python`) > 127);
    await relocateAndCheck(t, v0, v1, 'long path with a space');

    const v2 = await moveApp(v1, path.join(top, 's', 'app'));
    await relocateAndCheck(t, v1, v2, 'back to a short path');

    const before = snapshotTree(v2.dir);
    const again = cli(['--update-path', v2.dir, v2.dir]);
    t.is(again.stdout, `Already up-to-date: ${v2.dir} (${v2.dir})\n`);
    t.deepEqual(diffSnapshots(before, snapshotTree(v2.dir)), [], 'a second run changes no byte');

    const v3 = await moveApp(v2, path.join(top, `it's "quoted" $HOME \`x\``, 'app'));
    await relocateAndCheck(t, v2, v3, 'quotes and $');

    // OLD + "-2": only the venv folder moves; its editable source stays beside it.
    const v4: BuiltVenv = { ...v3, dir: `${v3.dir}-2` };
    await runOk('mv', ['--', v3.dir, v4.dir]);
    await relocateAndCheck(t, v3, v4, 'OLD-2');

    // Finally, pip still manages the relocated venv.
    const problems = await checkRelocated(v4.dir, {
      ...checksFor(v4),
      oldPath: v3.dir,
      otherOldPaths: [],
      uninstall: 'vt-demo',
    });
    t.deepEqual(problems, [], problems.join('\n'));
  });
}

test("relocating ahead of the move maps the source beside the venv too (virtualenv-tools' own flow)", async (t) => {
  const py = pythons.at(-1);
  if (py === undefined) return t.fail('no Python');
  const v = await copyVenv(BASIC, py);
  const first = cli(['--update-path', v.dir, v.dir]);
  t.is(first.status, 0, first.stderr);
  const future = path.join(freshDir('ahead'), 'srv', 'app', '3f9c2e1');
  const target = movedTo(v, future);
  const r = cli(['relocate', v.dir, '--to', target.dir, '--json']);
  t.is(r.status, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as {
    warnings: Array<{ code: string }>;
    mappings: Array<{ why: string }>;
  };
  t.true(doc.warnings.some((w) => w.code === 'ASSUMED_MOVED_ALONG'));
  t.true(doc.mappings.some((m) => m.why === 'moved-along-assumed'));
  const moved = await moveApp(v, future);
  const problems = await checkRelocated(moved.dir, {
    ...checksFor(moved),
    oldPath: v.dir,
    otherOldPaths: [v.editable?.srcDir ?? '/nonexistent'],
    log: (l) => t.log(l),
  });
  t.deepEqual(problems, [], problems.join('\n'));
});

test('--dry-run on a real venv lists the plan and changes no byte', async (t) => {
  const py = pythons.at(-1);
  if (py === undefined) return t.fail('no Python');
  const v = await copyVenv(BASIC, py);
  const before = snapshotTree(path.dirname(v.dir));
  const r = cli(['relocate', v.dir, '--to', v.dir, '--dry-run']);
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /would rewrite \d+: .*shebang.*pyc/);
  t.deepEqual(diffSnapshots(before, snapshotTree(path.dirname(v.dir))), []);
});

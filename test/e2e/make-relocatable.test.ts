import test, { type ExecutionContext } from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BASIC, MINIMAL } from '../fixtures/venvs/recipes.js';
import { parseRelocatableShebang } from '../../src/kinds/relocatable-shebang.js';
import {
  copyVenv,
  VIRTUALENV_SEEDS,
  virtualenvCanSeed,
  type BuiltVenv,
  type Creator,
  type PythonExe,
  type VenvRecipe,
} from '../helpers/build-venv.js';
import { findTool, lacks, missingTool, testMissing } from '../helpers/require-tool.js';
import { checkPrefix, checkScripts } from '../helpers/check-relocated.js';
import { cli } from '../helpers/cli.js';
import { makeWheel, parseScriptReport, type WheelSpec } from '../helpers/make-wheel.js';
import { findPythons } from '../helpers/pythons.js';
import { cleanEnv, run, runOk } from '../helpers/run.js';
import { freshDir } from '../helpers/scratch.js';
import { smallVenv } from '../helpers/small-venv.js';
import { sourceActivateEverywhere } from '../helpers/source-activate.js';

// Issue 24: make a real venv relocatable where it was built, then move it with plain `mv` to a
// long path with spaces, quotes and `$`, `cp -a` it to a second place, and use both copies at
// once with no tool run: scripts (also through a symlink on PATH), sys.prefix, activate in every
// shell here, verify --relocatable, pip install and uninstall. Full checks for one venv of each
// creator (CPython's venv, virtualenv, venv --copies, PyPy where installed); lighter ones for
// every CPython 3.8+ here; and a venv packed with plain tar and unpacked elsewhere.

const cpythons = findPythons().filter((p) => Number(p.version.split('.')[1]) >= 8);
const newest = cpythons.at(-1);
if (newest === undefined) throw new Error('no CPython 3.8+ found on this machine');
const seedable: PythonExe[] = [];
for (const p of cpythons) if (await virtualenvCanSeed(p)) seedable.push(p);
const virtualenvPython = seedable.find((p) => p.exe.startsWith('/usr/bin/')) ?? seedable.at(-1);
const copiesPython = cpythons.at(-2) ?? newest;

/** PyPy with a working venv module, as a PythonExe; undefined when absent. */
async function pypy(): Promise<PythonExe | undefined> {
  const exe = findTool('pypy3');
  if (exe === undefined) return undefined;
  const r = await run(exe, [
    '-c',
    'import sys, venv, ensurepip; print("%d.%d.%d" % sys.version_info[:3])',
  ]);
  if (r.status !== 0) return undefined;
  const full = r.stdout.toString().trim();
  return { version: full.split('.').slice(0, 2).join('.'), full, exe };
}
const pypyPython = await pypy();

interface Target {
  readonly label: string;
  readonly python: PythonExe;
  readonly creator: Creator;
  readonly recipe: VenvRecipe;
}

const full: Target[] = [
  { label: `venv, CPython ${newest.full}`, python: newest, creator: 'venv', recipe: BASIC },
  ...(virtualenvPython === undefined
    ? []
    : [
        {
          label: `virtualenv, CPython ${virtualenvPython.full}`,
          python: virtualenvPython,
          creator: 'virtualenv' as const,
          recipe: BASIC,
        },
      ]),
  {
    label: `venv --copies, CPython ${copiesPython.full}`,
    python: copiesPython,
    creator: 'venv-copies',
    recipe: MINIMAL,
  },
  ...(pypyPython === undefined
    ? []
    : [
        {
          label: `venv, PyPy ${pypyPython.full}`,
          python: pypyPython,
          creator: 'venv' as const,
          recipe: MINIMAL,
        },
      ]),
];

const FULL_TITLE =
  ': made relocatable where built, moved by mv and copied by cp -a, both copies work at once with no tool run';
if (virtualenvPython === undefined) testMissing(VIRTUALENV_SEEDS, `virtualenv${FULL_TITLE}`);
if (pypyPython === undefined) {
  testMissing(
    missingTool('pypy3') ?? {
      what: 'PyPy with its venv module',
      install: 'apt-get install -y pypy3 pypy3-venv',
    },
    `PyPy${FULL_TITLE}`,
  );
}

test('the machine has the creators to test with', (t) => {
  t.log(`full checks: ${full.map((f) => f.label).join('; ')}`);
  t.log(`light checks: CPython ${cpythons.map((p) => p.full).join(', ')}`);
  t.true(full.length >= 2);
});

/** A later install: a wheel with a console script, installed with pip from a local folder. */
const VT_EXTRA: WheelSpec = {
  name: 'vt-extra',
  version: '0.3',
  package: 'vt_extra',
  consoleScripts: ['vt-extra-tool'],
};
let extraWheels: string | undefined;
function extraFolder(): string {
  if (extraWheels === undefined) {
    extraWheels = freshDir('extra-wheels');
    makeWheel(extraWheels, VT_EXTRA);
  }
  return extraWheels;
}

/** A place no naive quoting survives, longer than the 127 bytes a #! line may hold. */
function awkwardPlace(label: string): string {
  return path.join(
    freshDir(label),
    `it's a "long" $path with spaces and \`ticks\``,
    'deeper '.repeat(8).trim(),
    'venv',
  );
}

/** Run one kit script by name through a symlink in another folder on PATH. */
async function viaSymlinkOnPath(venvDir: string, script: string): Promise<string[]> {
  const links = freshDir('links on path');
  fs.symlinkSync(path.join(venvDir, 'bin', script), path.join(links, script));
  const r = await run(script, [], { env: cleanEnv({ PATH: `${links}:/usr/bin:/bin` }) });
  const report = parseScriptReport(r.stdout);
  if (report === undefined) return [`${script} through a symlink on PATH: ${r.stderr.toString()}`];
  return report.prefix.equals(Buffer.from(venvDir))
    ? []
    : [`${script} through a symlink on PATH reports prefix ${report.prefix.toString()}`];
}

/** A traceback of a module whose pyc was compiled at the build place names the new place. */
async function coFilenameHere(venvDir: string, module: string, fn: string): Promise<string[]> {
  const r = await run(
    path.join(venvDir, 'bin', 'python'),
    ['-c', `import ${module} as m; print(m.${fn}.__code__.co_filename)`],
    { env: cleanEnv({ PYTHONDONTWRITEBYTECODE: '1' }) },
  );
  const got = r.stdout.toString().trim();
  return got.startsWith(`${venvDir}/`)
    ? []
    : [`co_filename of ${module}.${fn} is ${JSON.stringify(got)}`];
}

/** Everything a user does with the venv at `dir`, without any tool run first. */
async function useHere(t: ExecutionContext, v: BuiltVenv, dir: string): Promise<string[]> {
  const problems = [
    ...(await checkPrefix(dir)),
    ...(await checkScripts(dir, v.scripts)),
    ...(await viaSymlinkOnPath(dir, v.scripts[0] as string)),
    ...(await coFilenameHere(dir, 'vt_lib.cli', 'report')),
  ];
  const act = await sourceActivateEverywhere(dir, [path.join(dir, 'bin'), path.dirname(dir)]);
  problems.push(...act.problems);
  t.log(`${dir}: activate sourced in ${act.ran.join(', ')}`);
  for (const m of act.missing) lacks(t, m, `sourcing activate in ${m.what}`);
  const verify = cli(['verify', dir, '--relocatable']);
  if (verify.status !== 0) problems.push(`verify --relocatable: ${verify.stdout}`);
  return problems;
}

/** pip installs a later wheel (absolute header again), make-relocatable fixes it, pip uninstalls. */
async function pipRoundTrip(t: ExecutionContext, dir: string): Promise<void> {
  const py = path.join(dir, 'bin', 'python');
  await runOk(py, [
    '-m',
    'pip',
    'install',
    '--no-index',
    '--no-cache-dir',
    '--find-links',
    extraFolder(),
    'vt-extra',
  ]);
  const tool = path.join(dir, 'bin', 'vt-extra-tool');
  t.is(parseRelocatableShebang(fs.readFileSync(tool)), undefined, 'pip wrote its own header');
  const named = cli(['verify', dir, '--relocatable']);
  t.is(named.status, 1, 'verify --relocatable names the new script');
  t.regex(named.stdout, /1 script \(bin\/vt-extra-tool\) runs its interpreter by an absolute path/);
  const again = cli(['make-relocatable', dir, '--json']);
  t.is(again.status, 0, again.stderr);
  t.deepEqual(
    (JSON.parse(again.stdout) as { changes: Array<{ path: string }> }).changes
      .map((c) => c.path)
      .filter((p) => p.startsWith('bin/')),
    ['bin/vt-extra-tool'],
  );
  t.is(cli(['verify', dir, '--relocatable']).status, 0);
  const ran = await run(tool, []);
  t.deepEqual(parseScriptReport(ran.stdout)?.prefix, Buffer.from(dir), ran.stderr.toString());
  await runOk(py, ['-m', 'pip', 'uninstall', '-y', 'vt-extra']);
  t.false(fs.existsSync(tool), 'pip uninstall removed the script it wrote');
  const list = await runOk(py, ['-m', 'pip', 'list', '--format=freeze']);
  t.notRegex(list.stdout.toString(), /^vt-extra==/m);
  t.regex(list.stdout.toString(), /^vt-lib==2\.0$/m);
}

for (const target of full) {
  test(`${target.label}${FULL_TITLE}`, async (t) => {
    const built = await copyVenv(target.recipe, target.python, {
      creator: target.creator,
      atBuildPlace: true,
    });
    const made = cli(['make-relocatable', built.dir]);
    t.is(made.status, 0, made.stderr);
    t.regex(made.stdout, /^Made relocatable /m);
    t.is(cli(['verify', built.dir, '--relocatable']).status, 0);

    const one = awkwardPlace('mr-mv');
    fs.mkdirSync(path.dirname(one), { recursive: true });
    await runOk('mv', ['--', built.dir, one]);
    const two = awkwardPlace('mr-cp');
    fs.mkdirSync(path.dirname(two), { recursive: true });
    await runOk('cp', ['-a', '--', one, two]);
    // Only the venv moved: the app folder (and the editable source in it) stays where it was built.
    const [p1, p2] = await Promise.all([useHere(t, built, one), useHere(t, built, two)]);
    t.deepEqual(p1, [], `${one}:\n${p1.join('\n')}`);
    t.deepEqual(p2, [], `${two}:\n${p2.join('\n')}`);
    if (target.python.exe === pypyPython?.exe) {
      // pip on PyPy 3.9 works out its install scheme with distutils, which expands `$name` in
      // the venv's own path (distutils.util.subst_vars: "invalid variable '$'path''"), so no pip
      // install works in a PyPy venv under a folder whose name holds `$`, relocatable or not.
      const tame = path.join(freshDir('mr-pypy pip'), 'a venv');
      await runOk('cp', ['-a', '--', one, tame]);
      await pipRoundTrip(t, tame);
    } else {
      await pipRoundTrip(t, two);
    }
    fs.rmSync(path.dirname(built.dir), { recursive: true, force: true });
  });
}

test('a venv made relocatable, packed with plain tar and unpacked elsewhere, works with no tool run', async (t) => {
  const built = await copyVenv(MINIMAL, newest, { creator: 'venv', atBuildPlace: true });
  t.is(cli(['make-relocatable', built.dir]).status, 0);
  const archive = path.join(freshDir('mr-tar'), 'venv.tar');
  await runOk('tar', ['-C', path.dirname(built.dir), '-cf', archive, path.basename(built.dir)]);
  fs.rmSync(path.dirname(built.dir), { recursive: true });
  const dest = awkwardPlace('mr-untar');
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  await runOk('tar', ['-C', path.dirname(dest), '-xf', archive]);
  const problems = [...(await checkPrefix(dest)), ...(await checkScripts(dest, built.scripts))];
  const act = await sourceActivateEverywhere(dest, [path.join(dest, 'bin')]);
  t.deepEqual([...problems, ...act.problems], []);
  for (const m of act.missing) lacks(t, m, `sourcing activate in ${m.what}`);
  t.is(cli(['verify', dest, '--relocatable']).status, 0);
});

// Lighter checks across every CPython: the version's own activate templates and pycs, with a
// pip-style script; no pip run.
for (const python of cpythons) {
  test(`CPython ${python.full} venv: relocatable, moved, its script, prefix, activate (bash, dash) and a traceback from a pyc name the new place`, async (t) => {
    const v = smallVenv(python, `mr-light-${python.version}`);
    fs.rmSync(path.join(v.venv, v.site, 'app.pth'));
    fs.writeFileSync(
      path.join(v.venv, v.site, 'demo', 'boom.py'),
      'def boom():\n    raise ValueError("boom")\n',
    );
    await runOk(path.join(v.venv, 'bin', 'python'), [
      '-m',
      'compileall',
      '-q',
      path.join(v.venv, v.site, 'demo'),
    ]);
    t.is(cli(['make-relocatable', v.venv]).status, 0);
    const to = awkwardPlace(`mr-light-${python.version}-to`);
    fs.mkdirSync(path.dirname(to), { recursive: true });
    await runOk('mv', ['--', v.venv, to]);
    const tool = await run(path.join(to, 'bin', 'tool'), []);
    t.is(tool.stdout.toString(), `tool runs in ${to}\n`, tool.stderr.toString());
    t.deepEqual(await checkPrefix(to), []);
    const boom = await run(
      path.join(to, 'bin', 'python'),
      ['-c', 'import demo.boom; demo.boom.boom()'],
      {
        env: cleanEnv({ PYTHONDONTWRITEBYTECODE: '1' }),
      },
    );
    t.true(
      boom.stderr.toString().includes(`File "${to}/${v.site}/demo/boom.py", line 2, in boom`),
      boom.stderr.toString(),
    );
    for (const sh of ['bash', 'dash'] as const) {
      if (lacks(t, missingTool(sh), `sourcing activate in ${sh}`)) continue;
      const exe = findTool(sh) as string;
      const r = await runOk(exe, [
        '-c',
        '. "$1" && printf %s "$VIRTUAL_ENV"',
        sh,
        path.join(to, 'bin', 'activate'),
      ]);
      t.is(r.stdout.toString(), to, sh);
    }
    const verify = cli(['verify', to, '--relocatable']);
    t.is(verify.status, 0, verify.stdout);
  });
}

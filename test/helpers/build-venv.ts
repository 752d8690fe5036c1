/**
 * Builds real venvs for the end-to-end suites, offline: `python -m venv` or Debian's
 * virtualenv (seeded from its embedded wheels), the kit's own wheels installed with
 * `pip --no-index`, and optionally an editable install of a source tree that sits beside the
 * venv (APP/src next to APP/venv), the layout that moves along with it in real deploys.
 *
 * Building takes seconds, so each recipe is built once per test process (`copyVenv`) and every
 * test gets its own `cp -a` copy to move around.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import pLimit from 'p-limit';
import { makeWheel, wheelScripts, type WheelSpec } from './make-wheel.js';
import type { Missing } from './require-tool.js';
import { run, runOk } from './run.js';
import { freshDir, scratchRoot } from './scratch.js';

/** `venv-copies` is `python -m venv --copies`: bin/python is a copy of the interpreter. */
export type Creator = 'venv' | 'venv-copies' | 'virtualenv';

/**
 * How the editable `mypkg` gets installed:
 * - `setuptools`: real setuptools >= 64 through `pip install -e` (its finder module and .pth);
 * - `backend`: the kit's in-tree PEP 660 backend, which writes the same kind of files;
 * - `egg-link`: legacy `setup.py develop` (mypkg.egg-link and easy-install.pth).
 */
export type EditableMode = 'setuptools' | 'backend' | 'egg-link';

/** A base interpreter, as test/helpers/pythons.ts's findPythons() describes it. */
export interface PythonExe {
  /** "3.11" */
  readonly version: string;
  /** "3.11.7" */
  readonly full: string;
  readonly exe: string;
}

/** What a suite's venv holds; the recipes live in test/fixtures/venvs/recipes.ts. */
export interface VenvRecipe {
  readonly name: string;
  readonly wheels: readonly WheelSpec[];
  /** Distributions named to pip; the other wheels come in as their dependencies. */
  readonly install: readonly string[];
  /** Install the editable `mypkg`; true picks the best mode the venv supports offline. */
  readonly editable: boolean | EditableMode;
}

/** Options of `buildVenv`. */
export interface BuildVenvOptions {
  readonly python: PythonExe;
  readonly creator: Creator;
  /** The venv to create, APP/venv (it must not exist); an editable source goes to APP/src. */
  readonly dir: string;
  readonly wheels: readonly WheelSpec[];
  /** Distributions named to pip; all of `wheels` when omitted. */
  readonly install?: readonly string[];
  readonly editable?: boolean | EditableMode;
}

/** The editable install of a built venv. */
export interface EditableInstall {
  readonly mode: EditableMode;
  /** The project folder (APP/src); every module below must import from under it. */
  readonly srcDir: string;
  readonly modules: readonly string[];
}

/** A venv the kit built, or a copy of one. */
export interface BuiltVenv {
  /** Where the venv is now. */
  readonly dir: string;
  /** The base interpreter it was made from. */
  readonly python: string;
  /** "3.11" */
  readonly version: string;
  /** "3.11.7" */
  readonly full: string;
  readonly creator: Creator;
  /** Names in bin/ written for the kit's wheels (entry points and data scripts). */
  readonly scripts: readonly string[];
  /** Distributions installed from the kit's wheels, plus `mypkg` when editable. */
  readonly packages: readonly string[];
  readonly editable?: EditableInstall;
  /** Where the venv was built: the path its files name until it is relocated. */
  readonly builtAt: string;
}

// At most two builds at a time per process: this machine has two cores, and pip and ensurepip
// are CPU-bound.
const buildLimit = pLimit(2);

/** Create a venv at `opts.dir` and install into it (uncached; see `copyVenv`). */
export function buildVenv(opts: BuildVenvOptions): Promise<BuiltVenv> {
  return buildLimit(() => build(opts));
}

async function build(opts: BuildVenvOptions): Promise<BuiltVenv> {
  const { python, dir } = opts;
  if (fs.existsSync(dir)) throw new Error(`buildVenv: ${dir} already exists`);
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  await createVenv(opts);
  const py = path.join(dir, 'bin', 'python');

  // The editable mode is settled first (setuptools may need `wheel` before it can build), so
  // that one pip run installs the kit's wheels and the editable project together.
  const wanted = opts.editable ?? false;
  const mode =
    wanted === false ? undefined : wanted === true ? await chooseEditableMode(py) : wanted;
  const srcDir = path.join(path.dirname(dir), 'src');
  if (mode !== undefined) writeEditableSource(srcDir, mode);

  const install = opts.install ?? opts.wheels.map((w) => w.name);
  const pipArgs = [
    ...install,
    ...(mode === 'setuptools' || mode === 'backend' ? ['-e', srcDir] : []),
  ];
  if (pipArgs.length > 0) {
    await runOk(py, [
      '-m',
      'pip',
      'install',
      '--no-index',
      '--no-cache-dir',
      '--no-build-isolation',
      '--find-links',
      wheelFolder(opts.wheels),
      ...pipArgs,
    ]);
  }
  if (mode === 'egg-link') {
    // What pip < 21.3 runs for `pip install -e`; newer pip may pick PEP 660 instead, so the
    // kit calls it directly to get the egg-link layout whatever pip the venv has.
    await runOk(py, ['setup.py', 'develop', '--no-deps'], { cwd: srcDir });
  }

  const installed = dependencyClosure(opts.wheels, install);
  const scripts = installed.flatMap(wheelScripts);
  for (const s of scripts) {
    if (!fs.existsSync(path.join(dir, 'bin', s)))
      throw new Error(`buildVenv: pip wrote no bin/${s} in ${dir}`);
  }
  const editable = mode === undefined ? undefined : checkEditableFiles(dir, mode, srcDir);
  return {
    dir,
    python: python.exe,
    version: python.version,
    full: python.full,
    creator: opts.creator,
    scripts,
    packages: [...installed.map((w) => w.name), ...(editable === undefined ? [] : ['mypkg'])],
    ...(editable === undefined ? {} : { editable }),
    builtAt: dir,
  };
}

async function createVenv(opts: BuildVenvOptions): Promise<void> {
  if (opts.creator === 'venv' || opts.creator === 'venv-copies') {
    const copies = opts.creator === 'venv-copies' ? ['--copies'] : [];
    await runOk(opts.python.exe, ['-m', 'venv', ...copies, opts.dir]);
    return;
  }
  const venvInfo = await virtualenvInfo();
  if (venvInfo === undefined) throw new Error(`buildVenv: ${VIRTUALENV} is not installed`);
  if (!venvInfo.versions.includes(opts.python.version)) {
    throw new Error(
      `buildVenv: virtualenv ${venvInfo.version} has no embedded wheels for Python ${opts.python.version} ` +
        `(it has them for ${venvInfo.versions.join(', ')}); check virtualenvCanSeed() first`,
    );
  }
  // --no-download: seed only from the embedded wheels (there is no index); the private
  // --app-data keeps the user's wheel image cache out of the build.
  await runOk(VIRTUALENV, [
    '--no-download',
    '--no-periodic-update',
    '--app-data',
    path.join(scratchRoot(), 'virtualenv-app-data'),
    '-p',
    opts.python.exe,
    opts.dir,
  ]);
  if (!fs.existsSync(path.join(opts.dir, 'bin', 'activate.xsh')))
    await writeActivateXsh(opts.dir, opts.python.exe);
}

/**
 * Write the activate.xsh virtualenv 21.3+ writes into the venv at `dir`, which Debian's
 * virtualenv (20.17) does not: the fixture's template with the venv's path, an empty prompt and
 * "bin" as Python literals, made by `python`'s repr() as virtualenv's xonsh activator makes them.
 */
export async function writeActivateXsh(dir: string, python: string): Promise<void> {
  const r = await runOk(python, [
    '-c',
    'import sys; sys.stdout.buffer.write("\\0".join(repr(a) for a in sys.argv[1:]).encode("utf-8", "surrogateescape"))',
    dir,
    '',
    'bin',
  ]);
  const [venv = '', prompt = '', bin = ''] = r.stdout.toString('utf8').split('\0');
  const template = fs.readFileSync(path.join(fixtureDir(), 'activate.xsh'), 'utf8');
  const text = template
    .replace('__VIRTUAL_ENV__', () => venv)
    .replace('__VIRTUAL_PROMPT__', () => prompt)
    .replace('__BIN_NAME__', () => bin);
  fs.writeFileSync(path.join(dir, 'bin', 'activate.xsh'), text);
}

const wheelFolders = new Map<string, string>();

/** A folder holding exactly these wheels, written once per process. */
function wheelFolder(specs: readonly WheelSpec[]): string {
  const key = JSON.stringify(specs);
  let dir = wheelFolders.get(key);
  if (dir === undefined) {
    dir = freshDir('wheels');
    for (const spec of specs) makeWheel(dir, spec);
    wheelFolders.set(key, dir);
  }
  return dir;
}

/** pip's name comparison (PEP 503 normalisation). */
export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

function dependencyClosure(specs: readonly WheelSpec[], names: readonly string[]): WheelSpec[] {
  const byName = new Map(specs.map((s) => [normalizeName(s.name), s]));
  const out: WheelSpec[] = [];
  const seen = new Set<string>();
  const visit = (name: string): void => {
    const key = normalizeName(name);
    if (seen.has(key)) return;
    seen.add(key);
    const spec = byName.get(key);
    if (spec === undefined) return;
    out.push(spec);
    for (const r of spec.requires ?? []) visit(r);
  };
  names.forEach(visit);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Editable install

/** What the venv's interpreter has: versions of pip, setuptools and wheel, and its ensurepip wheels. */
interface Probe {
  readonly pip: string | null;
  readonly setuptools: string | null;
  readonly wheel: string | null;
  readonly bundled: string | null;
}

const PROBE = `
import json, os
def version(name):
    try:
        return __import__(name).__version__
    except Exception:
        return None
try:
    import ensurepip
    bundled = os.path.join(os.path.dirname(ensurepip.__file__), '_bundled')
except Exception:
    bundled = None
# setuptools first: after "import pip", Debian's pip makes setuptools' distutils hack fail.
setuptools = version('setuptools')
print(json.dumps({'setuptools': setuptools, 'wheel': version('wheel'), 'pip': version('pip'),
                  'bundled': bundled}))
`;

async function probe(py: string): Promise<Probe> {
  const r = await runOk(py, ['-c', PROBE]);
  const last = r.stdout.toString('utf8').trim().split('\n').pop() ?? '';
  return JSON.parse(last) as Probe;
}

/** The editable install's description, once its files are known to be where `mode` puts them. */
function checkEditableFiles(venvDir: string, mode: EditableMode, srcDir: string): EditableInstall {
  const site = sitePackages(venvDir);
  const expected =
    mode === 'egg-link'
      ? ['mypkg.egg-link', 'easy-install.pth']
      : mode === 'backend'
        ? ['__editable___mypkg_0_1_finder.py', '__editable__.mypkg-0.1.pth', 'mypkg_extra.pth']
        : ['__editable___mypkg_0_1_finder.py', '__editable__.mypkg-0.1.pth'];
  for (const f of expected) {
    if (!fs.existsSync(path.join(site, f))) {
      throw new Error(`buildVenv: the ${mode} editable install wrote no ${f} in ${site}`);
    }
  }
  return { mode, srcDir, modules: mode === 'backend' ? ['mypkg', 'mypkg_extra'] : ['mypkg'] };
}

async function chooseEditableMode(py: string): Promise<EditableMode> {
  const found = await probe(py);
  if (await readySetuptoolsEditable(py, found)) return 'setuptools';
  // pip 21.3 brought PEP 660 (build_editable); older pip only knows `setup.py develop`.
  if (atLeast(found.pip, [21, 3])) return 'backend';
  if (found.setuptools !== null) return 'egg-link';
  throw new Error(
    `buildVenv: ${py} has neither pip >= 21.3 nor setuptools: no editable install is possible`,
  );
}

/**
 * Make setuptools >= 64 (the first with PEP 660 editable wheels) usable offline, or say it
 * cannot be. setuptools may come only from the venv or the Python's own ensurepip bundle
 * (<= 3.11 ship one). setuptools < 70.1 also needs the separate `wheel` package to write the
 * editable wheel; no ensurepip bundles it, so it may also come from virtualenv's embedded
 * wheels (Debian: /usr/share/python-wheels).
 */
async function readySetuptoolsEditable(py: string, found: Probe): Promise<boolean> {
  let setuptools = found.setuptools;
  const bundled =
    found.bundled !== null && fs.existsSync(found.bundled) ? found.bundled : undefined;
  if (!atLeast(setuptools, [64])) {
    const wheel = bundled === undefined ? undefined : newestWheel(bundled, 'setuptools');
    if (wheel === undefined || !atLeast(wheel.version, [64])) return false;
    const r = await run(py, ['-m', 'pip', 'install', '--no-index', '--no-cache-dir', wheel.file]);
    if (r.status !== 0) return false;
    setuptools = wheel.version;
  }
  if (atLeast(setuptools, [70, 1]) || found.wheel !== null) return true;
  const links = [bundled, (await virtualenvInfo())?.seedFolder].filter(
    (d): d is string => d !== undefined,
  );
  const r = await run(py, [
    '-m',
    'pip',
    'install',
    '--no-index',
    '--no-cache-dir',
    ...links.flatMap((d) => ['--find-links', d]),
    'wheel',
  ]);
  return r.status === 0;
}

function newestWheel(dir: string, dist: string): { file: string; version: string } | undefined {
  let best: { file: string; version: string } | undefined;
  for (const name of fs.readdirSync(dir)) {
    const m = new RegExp(`^${dist}-([^-]+)-.*\\.whl$`).exec(name);
    if (m?.[1] !== undefined && (best === undefined || compareVersions(m[1], best.version) > 0)) {
      best = { file: path.join(dir, name), version: m[1] };
    }
  }
  return best;
}

function versionParts(v: string): number[] {
  return v.split('.').map((p) => Number.parseInt(p, 10) || 0);
}

function compareVersions(a: string, b: string): number {
  const pa = versionParts(a);
  const pb = versionParts(b);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function atLeast(version: string | null, min: readonly number[]): boolean {
  return version !== null && compareVersions(version, min.join('.')) >= 0;
}

/** test/fixtures/venvs, found from this file's place in dist/ or test/. */
function fixtureDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('buildVenv: cannot find the repository root');
    dir = up;
  }
  return path.join(dir, 'test', 'fixtures', 'venvs');
}

/** The fixture tree test/fixtures/venvs/editable-src. */
function fixtureSource(): string {
  return path.join(fixtureDir(), 'editable-src');
}

const CONFIGS: Readonly<Record<EditableMode, readonly [string, string]>> = {
  setuptools: ['pyproject.setuptools.toml', 'pyproject.toml'],
  backend: ['pyproject.backend.toml', 'pyproject.toml'],
  'egg-link': ['setup.egg-link.py', 'setup.py'],
};

function writeEditableSource(srcDir: string, mode: EditableMode): void {
  const from = fixtureSource();
  const variants = new Set(Object.values(CONFIGS).map(([name]) => name));
  fs.cpSync(from, srcDir, {
    recursive: true,
    filter: (p) => !variants.has(path.basename(p)) && path.basename(p) !== '__pycache__',
  });
  const [config, as] = CONFIGS[mode];
  fs.copyFileSync(path.join(from, config), path.join(srcDir, as));
}

/** The venv's lib/pythonX.Y/site-packages (lib/pypyX.Y for PyPy). */
export function sitePackages(venvDir: string): string {
  const lib = path.join(venvDir, 'lib');
  const versions = fs.readdirSync(lib).filter((n) => /^(?:python|pypy)\d+\.\d+$/.test(n));
  if (versions.length !== 1 || versions[0] === undefined) {
    throw new Error(`${lib} holds ${versions.length} pythonX.Y folders, not one`);
  }
  return path.join(lib, versions[0], 'site-packages');
}

// ---------------------------------------------------------------------------------------------
// virtualenv

const VIRTUALENV = '/usr/bin/virtualenv';

/** Debian's virtualenv: its version, embedded-wheel folder and the Pythons it can seed. */
export interface VirtualenvInfo {
  readonly version: string;
  readonly seedFolder: string;
  readonly versions: readonly string[];
}

const VIRTUALENV_PROBE = `
import json, virtualenv
from virtualenv.seed.wheels.embed import BUNDLE_FOLDER, BUNDLE_SUPPORT
print(json.dumps({'version': virtualenv.__version__, 'seedFolder': str(BUNDLE_FOLDER),
                  'versions': sorted(v for v, w in BUNDLE_SUPPORT.items() if w.get('pip'))}))
`;

let virtualenvPromise: Promise<VirtualenvInfo | undefined> | undefined;

/** What /usr/bin/virtualenv offers, or undefined when it is not installed. */
export function virtualenvInfo(): Promise<VirtualenvInfo | undefined> {
  virtualenvPromise ??= (async () => {
    if (!fs.existsSync(VIRTUALENV)) return undefined;
    // Ask the interpreter of virtualenv's own script, which is the one that imports it.
    const first = fs.readFileSync(VIRTUALENV, 'latin1').split('\n', 1)[0] ?? '';
    const words = first
      .replace(/^#!\s*/, '')
      .trim()
      .split(/\s+/);
    const interp = words[0]?.endsWith('/env') === true ? words[1] : words[0];
    if (interp === undefined) return undefined;
    const r = await run(interp, ['-c', VIRTUALENV_PROBE]);
    if (r.status !== 0) return undefined;
    return JSON.parse(r.stdout.toString('utf8')) as VirtualenvInfo;
  })();
  return virtualenvPromise;
}

/** What a suite lacks when no CPython here can be seeded by virtualenv offline. */
export const VIRTUALENV_SEEDS: Missing = {
  what: "a virtualenv that seeds one of this machine's CPythons offline",
  install: 'apt-get install -y python3-virtualenv',
};

/**
 * True when virtualenv can seed a venv of this Python offline. Debian's 20.17 knows no
 * CPython after 3.11 and then tries to download pip, which fails after a long timeout.
 */
export async function virtualenvCanSeed(python: PythonExe): Promise<boolean> {
  return (await virtualenvInfo())?.versions.includes(python.version) ?? false;
}

// ---------------------------------------------------------------------------------------------
// Cached builds and copies

const built = new Map<string, Promise<BuiltVenv>>();
let buildCount = 0;

/**
 * The recipe's venv, built once per process at SCRATCH/built/…/app/venv. Once built, `app` is
 * renamed to `app.built`: no test may find a venv at its build place by accident, so a copy
 * whose files still name that place cannot quietly use the original's interpreter or sources.
 */
function cachedBuild(recipe: VenvRecipe, python: PythonExe, creator: Creator): Promise<BuiltVenv> {
  const key = JSON.stringify([recipe, python.exe, creator]);
  let p = built.get(key);
  if (p === undefined) {
    buildCount += 1;
    const app = path.join(
      scratchRoot(),
      'built',
      `${recipe.name}-${creator}-${python.full}-${buildCount}`,
      'app',
    );
    p = buildVenv({
      python,
      creator,
      dir: path.join(app, 'venv'),
      wheels: recipe.wheels,
      install: recipe.install,
      editable: recipe.editable,
    }).then((v) => {
      fs.renameSync(app, stashOf(v));
      return v;
    });
    built.set(key, p);
  }
  return p;
}

function stashOf(v: BuiltVenv): string {
  return `${path.dirname(v.builtAt)}.built`;
}

/** Options of `copyVenv`. */
export interface CopyVenvOptions {
  readonly creator?: Creator;
  /** Where the copy goes, as APP/venv and APP/src; a fresh scratch folder when omitted. */
  readonly appDir?: string;
  /**
   * Put the copy where the venv was built, so that it works as built (and nothing is stale).
   * Only one such copy of a recipe may exist at a time; move it away before asking again.
   */
  readonly atBuildPlace?: boolean;
}

/** A private `cp -a` copy of the recipe's venv (built once per process) and of its editable source. */
export async function copyVenv(
  recipe: VenvRecipe,
  python: PythonExe,
  opts: CopyVenvOptions = {},
): Promise<BuiltVenv> {
  const base = await cachedBuild(recipe, python, opts.creator ?? 'venv');
  const app =
    opts.atBuildPlace === true
      ? path.dirname(base.builtAt)
      : (opts.appDir ?? path.join(freshDir(recipe.name), 'app'));
  if (fs.existsSync(app)) throw new Error(`copyVenv: ${app} already exists`);
  fs.mkdirSync(path.dirname(app), { recursive: true });
  await runOk('cp', ['-a', '--', stashOf(base), app]);
  return movedTo(base, app);
}

/** The description of `v` after its whole APP folder (venv and source) moved to `app`. */
export function movedTo(v: BuiltVenv, app: string): BuiltVenv {
  const dir = path.join(app, path.basename(v.dir));
  return {
    ...v,
    dir,
    ...(v.editable === undefined
      ? {}
      : { editable: { ...v.editable, srcDir: path.join(app, 'src') } }),
  };
}

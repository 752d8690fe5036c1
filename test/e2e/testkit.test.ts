/**
 * Proves the real-venv test kit itself: its wheels are valid, its venvs work where they were
 * built, and its checks catch what a plain `mv` breaks, on every CPython 3.8+ here and with
 * Debian's virtualenv.
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkActivate } from '../helpers/check-activate.js';
import {
  checkNoOldPaths,
  checkOldLocationGone,
  checkRelocated,
  checksFor,
  checkUninstall,
} from '../helpers/check-relocated.js';
import {
  copyVenv,
  movedTo,
  sitePackages,
  virtualenvCanSeed,
  type Creator,
  type PythonExe,
  type VenvRecipe,
  VIRTUALENV_SEEDS,
} from '../helpers/build-venv.js';
import { makeWheel } from '../helpers/make-wheel.js';
import { findPythons, missingPythons } from '../helpers/pythons.js';
import { cleanEnv, describeFailure, run, runOk } from '../helpers/run.js';
import {
  findTool,
  missingTool,
  testMissing,
  needing,
  TOOLS,
  type Tool,
} from '../helpers/require-tool.js';
import { freshDir } from '../helpers/scratch.js';
import { BASIC, EGG_LINK, VT_DEMO } from '../fixtures/venvs/recipes.js';

const pythons = findPythons().filter((p) => Number(p.version.split('.')[1]) >= 8);
const newest = pythons[pythons.length - 1];

// One virtualenv venv: Debian's virtualenv with Debian's own python3 where it can seed it.
const seedable: PythonExe[] = [];
for (const p of pythons) if (await virtualenvCanSeed(p)) seedable.push(p);
const virtualenvPython =
  seedable.find((p) => p.exe.startsWith('/usr/bin/')) ?? seedable[seedable.length - 1];

const targets: { python: PythonExe; creator: Creator; recipe: VenvRecipe }[] = [
  ...pythons.map((python) => ({ python, creator: 'venv' as const, recipe: BASIC })),
  ...(virtualenvPython === undefined
    ? []
    : [{ python: virtualenvPython, creator: 'virtualenv' as const, recipe: BASIC }]),
  // The legacy editable layout (mypkg.egg-link, easy-install.pth), once, on the oldest Python.
  ...(pythons[0] === undefined
    ? []
    : [{ python: pythons[0], creator: 'venv' as const, recipe: EGG_LINK }]),
];
if (virtualenvPython === undefined)
  testMissing(
    VIRTUALENV_SEEDS,
    'the basic venv made by virtualenv passes every check where it was built and fails them after a plain mv',
  );

/** A destination over 127 bytes with a space, both quotes, `$` and non-ASCII letters. */
function awkwardPlace(): string {
  return path.join(freshDir('moved'), `moved app 'sq' "dq" $HOME ü€ ${'long-'.repeat(12)}end`);
}

test('the machine has a CPython 3.8+ to build venvs with', (t) => {
  t.log(`Pythons: ${pythons.map((p) => `${p.full} (${p.exe})`).join(', ')}`);
  t.log(
    virtualenvPython === undefined
      ? 'virtualenv: none can seed offline'
      : `virtualenv: with Python ${virtualenvPython.full}`,
  );
  t.true(pythons.length > 0);
});

// Every program the suite expects (CI's image has each) must start. A missing one is a skipped
// test here; under VENV_TOOLS_TEST_STRICT=1, a failing one that says how to install it.
const STARTS: Readonly<Record<Tool, readonly string[]>> = {
  bash: ['-c', 'exit 0'],
  dash: ['-c', 'exit 0'],
  busybox: ['sh', '-c', 'exit 0'],
  zsh: ['-f', '-c', 'exit 0'],
  fish: ['--no-config', '-c', 'exit 0'],
  tcsh: ['-f', '-c', 'exit 0'],
  xonsh: ['--no-rc', '-c', 'pass'],
  virtualenv: ['--version'],
  pypy3: ['-c', 'import venv'],
};
for (const tool of TOOLS) {
  needing([missingTool(tool)])(`the machine has ${tool}, and it starts`, async (t) => {
    const env = cleanEnv({ XONSH_DATA_DIR: freshDir('xonsh-data') });
    const r = await run(findTool(tool) ?? tool, STARTS[tool], { env, timeoutMs: 60_000 });
    t.is(r.status, 0, `${tool} ${describeFailure(r)}`);
  });
}
// findPythons() fails the whole file under VENV_TOOLS_TEST_STRICT=1 when one of these is missing.
for (const missing of missingPythons(findPythons()))
  testMissing(missing, `the machine has ${missing.what}`);

test('makeWheel writes a zip whose RECORD lists every member with its sha256 and size', async (t) => {
  if (newest === undefined) return t.fail('no Python found');
  const wheel = makeWheel(freshDir('wheel'), VT_DEMO);
  t.is(path.basename(wheel), 'vt_demo-1.0-py3-none-any.whl');
  const verify = `
import base64, csv, hashlib, io, json, sys, zipfile
zf = zipfile.ZipFile(sys.argv[1])
problems = [] if zf.testzip() is None else ['bad CRC']
names = set(zf.namelist())
record = [n for n in names if n.endswith('.dist-info/RECORD')][0]
listed = set()
for path, digest, size in csv.reader(io.TextIOWrapper(zf.open(record), 'utf-8')):
    listed.add(path)
    if path == record:
        continue
    data = zf.read(path)
    want = 'sha256=' + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()
    if digest != want or int(size) != len(data):
        problems.append(path)
if listed != names:
    problems.append('not listed: %r' % sorted(names ^ listed))
script = zf.read('vt_demo-1.0.data/scripts/vt-demo-data')
print(json.dumps({'problems': problems, 'names': sorted(names),
                  'scriptMode': zf.getinfo('vt_demo-1.0.data/scripts/vt-demo-data').external_attr >> 16,
                  'firstLine': script.split(b'\\n')[0].decode()}))
`;
  const r = await runOk(newest.exe, ['-c', verify, wheel]);
  const got = JSON.parse(r.stdout.toString('utf8')) as {
    problems: string[];
    names: string[];
    scriptMode: number;
    firstLine: string;
  };
  t.deepEqual(got.problems, []);
  for (const member of [
    'vt_demo/cli.py',
    'vt_demo/sub/deep.py',
    'vt_demo/data/settings.json',
    'vt_demo/data/notes.txt',
    'vt_demo-1.0.dist-info/METADATA',
    'vt_demo-1.0.dist-info/WHEEL',
    'vt_demo-1.0.dist-info/entry_points.txt',
  ]) {
    t.true(got.names.includes(member), member);
  }
  t.is(got.firstLine, '#!python');
  t.is(got.scriptMode & 0o111, 0o111);
});

for (const { python, creator, recipe } of targets) {
  const maker = creator === 'venv' ? 'python -m venv' : 'virtualenv';
  test(`the ${recipe.name} venv made by ${maker} with Python ${python.full} passes every check where it was built and fails them after a plain mv`, async (t) => {
    const v = await copyVenv(recipe, python, { creator, atBuildPlace: true });
    t.log(
      `Python ${python.full} (${python.exe}), made by ${creator}, editable mode ${v.editable?.mode ?? 'none'}`,
    );
    const log = (line: string): void => t.log(line);

    const asBuilt = await checkRelocated(v.dir, {
      ...checksFor(v),
      oldPath: '/nonexistent/old',
      otherOldPaths: [],
      log,
    });
    t.deepEqual(asBuilt, [], 'the venv works where it was built');

    const place = awkwardPlace();
    await runOk('mv', ['--', path.dirname(v.dir), place]);
    const moved = movedTo(v, place);
    const problems = await checkRelocated(moved.dir, { ...checksFor(moved), log });
    const q = JSON.stringify;
    const expected = [
      `activate (bash, bin/activate): VIRTUAL_ENV is ${q(v.dir)} instead of ${q(moved.dir)}`,
      `activate (bash, bin/activate): PATH starts with ${q(path.join(v.dir, 'bin'))}`,
      'scripts: bin/vt-demo cannot start: its interpreter is missing',
      'scripts: bin/vt-demo-data cannot start: its interpreter is missing',
      `old path: bin/vt-demo still names ${q(v.dir)}`,
      'editable: import mypkg ',
    ];
    t.deepEqual(
      expected.filter((e) => !problems.some((p) => p.startsWith(e))),
      [],
      `problems after mv:\n${problems.join('\n')}`,
    );
    // Python finds its venv from where bin/python is, so sys.prefix follows a plain mv; and the
    // old place is gone.
    t.deepEqual(
      problems.filter((p) => p.startsWith('sys.prefix') || p.startsWith('old location')),
      [],
    );
  });
}

test('the old-path search lists text, pycs, binaries and symlinks apart and honours the whole-path rule', (t) => {
  const dir = freshDir('planted');
  const old = '/old/place/venv';
  fs.mkdirSync(path.join(dir, 'lib', '__pycache__'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'lib', 'note.txt'), `see file://${old}/lib\n`);
  fs.writeFileSync(path.join(dir, 'lib', 'near.txt'), `${old}2 ${old}-x /x${old}\n`);
  fs.writeFileSync(
    path.join(dir, 'lib', '__pycache__', 'm.cpython-312.pyc'),
    Buffer.concat([Buffer.from([0xcb, 0x0d, 0x0d, 0x0a, 0]), Buffer.from(`${old}/m.py`)]),
  );
  fs.writeFileSync(
    path.join(dir, 'lib', 'ext.so'),
    Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0]), Buffer.from(`${old}/lib`)]),
  );
  fs.symlinkSync(`${old}/lib`, path.join(dir, 'lib', 'stale-link'));
  fs.symlinkSync('/usr/bin/env', path.join(dir, 'lib', 'outside-link'));

  const lines: string[] = [];
  const all = checkNoOldPaths(dir, { oldPath: old }, (l) => lines.push(l));
  t.deepEqual(all, [
    `old path: lib/note.txt still names "${old}"`,
    `old path: symlink lib/stale-link -> ${old}/lib still names "${old}"`,
    `old path: 1 pyc files still name "${old}", e.g. lib/__pycache__/m.cpython-312.pyc`,
    `old path: binary lib/ext.so still names "${old}"`,
  ]);
  t.deepEqual(lines, []);

  const tolerant = checkNoOldPaths(
    dir,
    { oldPath: old, ignorePycs: true, expectBinaries: ['lib/ext.so'] },
    (l) => lines.push(l),
  );
  t.deepEqual(tolerant, [
    `old path: lib/note.txt still names "${old}"`,
    `old path: symlink lib/stale-link -> ${old}/lib still names "${old}"`,
  ]);
  t.is(lines.length, 2, lines.join('\n'));
});

test('an old location that still exists is a problem', (t) => {
  const dir = freshDir('still-there');
  t.is(checkOldLocationGone({ oldPath: dir }).length, 1);
  t.deepEqual(checkOldLocationGone({ oldPath: path.join(dir, 'gone') }), []);
});

// Quoting for each shell's own syntax, so these hand-written activate scripts are correct
// for any path: a check of the kit, not of the product.
const sq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
const fishq = (s: string): string => `'${s.replace(/[\\']/g, (c) => `\\${c}`)}'`;
const cshq = (s: string): string => `'${s.replace(/'/g, `'"'"'`)}'`;

test('the activate check reads VIRTUAL_ENV and PATH byte for byte at an awkward path, in every shell here, and what activate_this.py sets', async (t) => {
  if (newest === undefined) return t.fail('no Python found');
  const venv = awkwardPlace();
  const bin = path.join(venv, 'bin');
  fs.mkdirSync(bin, { recursive: true });
  fs.mkdirSync(path.join(venv, 'lib', 'python3', 'site-packages'), { recursive: true });
  fs.symlinkSync(newest.exe, path.join(bin, 'python'));
  const write = (want: string): void => {
    fs.writeFileSync(
      path.join(bin, 'activate'),
      `VIRTUAL_ENV=${sq(want)}\nexport VIRTUAL_ENV\nPATH="$VIRTUAL_ENV/bin:$PATH"\nexport PATH\n`,
    );
    fs.writeFileSync(
      path.join(bin, 'activate.fish'),
      `set -gx VIRTUAL_ENV ${fishq(want)}\nset -gx PATH "$VIRTUAL_ENV/bin" $PATH\n`,
    );
    fs.writeFileSync(
      path.join(bin, 'activate.csh'),
      `setenv VIRTUAL_ENV ${cshq(want)}\nsetenv PATH "\${VIRTUAL_ENV}/bin:\${PATH}"\n`,
    );
    // A JSON string is a Python literal too, for these characters.
    fs.writeFileSync(
      path.join(bin, 'activate.xsh'),
      `$VIRTUAL_ENV = ${JSON.stringify(want)}\n$PATH.insert(0, $VIRTUAL_ENV + '/bin')\n`,
    );
    fs.writeFileSync(
      path.join(bin, 'activate_this.py'),
      [
        'import os, site, sys',
        `base = ${JSON.stringify(want)}`,
        "os.environ['VIRTUAL_ENV'] = base",
        'sys.prefix = base',
        "site.addsitedir(os.path.join(base, 'lib', 'python3', 'site-packages'))",
        '',
      ].join('\n'),
    );
  };

  write(venv);
  const good = await checkActivate(venv);
  t.log(`shells: ran ${good.ran.join(', ')}; skipped ${good.skipped.join(', ') || 'none'}`);
  t.true(good.ran.includes('bash'));
  t.deepEqual(good.problems, []);

  // A path that differs only in bytes (ü written decomposed) must be caught by every shell.
  const near = venv.replace('ü', 'u\u0308');
  write(near);
  const bad = await checkActivate(venv);
  // Two problems (VIRTUAL_ENV and PATH) in each shell, but xonsh's PATH is not compared at a
  // path with a `$` (its EnvPath expands it); three for activate_this.py (VIRTUAL_ENV,
  // sys.prefix and the site-packages on sys.path).
  t.true(bad.ran.includes('activate_this.py'));
  const shells = bad.ran.filter((r) => r !== 'activate_this.py');
  const xonsh = shells.includes('xonsh') ? 1 : 0;
  t.is(bad.problems.length, 2 * shells.length - xonsh + 3, bad.problems.join('\n'));
});

test('the uninstall check passes a clean pip uninstall and finds files a stale RECORD leaves behind', async (t) => {
  if (newest === undefined) return t.fail('no Python found');
  const v = await copyVenv(BASIC, newest);
  t.log(`Python ${newest.full}`);
  t.deepEqual(await checkUninstall(v.dir, 'vt-demo', v.builtAt), []);

  // A RECORD entry that still names the old location: pip looks for the file there, finds
  // nothing to remove, and the file at the new place stays.
  const site = sitePackages(v.dir);
  const record = path.join(site, 'vt_lib-2.0.dist-info', 'RECORD');
  fs.appendFileSync(record, `${v.builtAt}/bin/vt-extra,,\n`);
  fs.writeFileSync(path.join(v.dir, 'bin', 'vt-extra'), 'extra\n');
  t.deepEqual(await checkUninstall(v.dir, 'vt-lib', v.builtAt), [
    'pip: pip uninstall -y vt-lib left bin/vt-extra behind',
  ]);
});

import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { VenvToolsError } from '../../src/core/errors.js';
import { normalizeLocation } from '../../src/core/normalize-location.js';
import { refusedLocation, SYSTEM_FOLDERS } from '../../src/core/refused-location.js';
import { checkFrom, checkLocations } from '../../src/scan/check-locations.js';
import { findOldPrefix } from '../../src/scan/find-old-prefix.js';
import { type Evidence } from '../../src/scan/evidence.js';
import { suggestOldPrefix } from '../../src/scan/suggest-old-prefix.js';
import { MINIMAL } from '../fixtures/venvs/recipes.js';
import { copyVenv, type BuiltVenv } from '../helpers/build-venv.js';
import { cli, type CliResult } from '../helpers/cli.js';
import { validate, type Schema } from '../helpers/json-schema.js';
import { findPythons } from '../helpers/pythons.js';
import { leftovers, treeDiff, treeState } from '../helpers/reliability-tree.js';
import { freshDir } from '../helpers/scratch.js';
import { moveApp, smallVenv, type SmallVenv } from '../helpers/small-venv.js';
import { repoPath } from '../helpers/repo-root.js';

// Locations that can never be a venv's (/, system folders, a --from its own files contradict)
// are refused before anything is locked or written; locations are normalised first; and a venv
// whose interpreter is missing here is named, with the fix. The destructive inputs run on a real
// venv with pip in it, whose files hold plenty of "/" and "/tmp" for a wrong rewrite to hit.

const python = findPythons().find((p) => p.version === '3.11') ?? findPythons().at(-1);
if (python === undefined) throw new Error('no CPython 3 found on this machine');

const SCHEMAS = repoPath('docs', 'schema');
const schema = (name: string): Schema =>
  JSON.parse(fs.readFileSync(path.join(SCHEMAS, `${name}.schema.json`), 'utf8')) as Schema;

interface JsonWarning {
  code: string;
  message: string;
  path: string | null;
}

/** Run the CLI and check that the venv's app folder is byte for byte, time for time, as before. */
function runChangingNothing(t: ExecutionContext, app: string, args: string[]): CliResult {
  const before = treeState(app);
  const r = cli(args);
  const after = treeState(app);
  t.deepEqual(treeDiff(before, after, { mtimes: true }), [], 'nothing changed');
  t.deepEqual(leftovers(after), [], 'no lock or journal left');
  return r;
}

/** A private copy of a real venv (pip, vt-lib) whose files name where it was built. */
async function realVenv(): Promise<BuiltVenv> {
  return copyVenv(MINIMAL, python!);
}

// --- The destructive inputs: refused, exit 1, nothing changed.

interface Refusal {
  readonly title: string;
  readonly args: (v: BuiltVenv) => string[];
  /** What the message must say: the location, the override flag or that there is none. */
  readonly says: (v: BuiltVenv) => RegExp[];
}

const noOverride = /There is no override/;

const refusals: Refusal[] = [
  ...['/', '//', '/.', '/usr/..'].map((given): Refusal => ({
    title: `refuses --update-path ${given} (it is /) and changes nothing`,
    args: (v) => ['--update-path', given, v.dir],
    says: () => [
      new RegExp(
        `refusing / as the new location \\(--update-path ${given.replace(/\./g, '\\.')}\\)`,
      ),
      noOverride,
      /Name the venv's own folder/,
    ],
  })),
  {
    title: 'refuses --update-path /opt, a system folder, and changes nothing',
    args: (v) => ['--update-path', '/opt', v.dir],
    says: () => [
      /refusing \/opt as the new location \(--update-path \/opt\): \/opt is a system folder/,
      noOverride,
      /e\.g\. --update-path \/opt\/app\/venv/,
    ],
  },
  {
    title: 'refuses relocate --from / and changes nothing',
    args: (v) => ['relocate', v.dir, '--from', '/', '--to', v.dir],
    says: () => [/refusing \/ as the old location \(--from \/\)/, noOverride],
  },
  {
    title: 'refuses relocate --from / on a dry run too',
    args: (v) => ['relocate', v.dir, '--from', '/', '--to', v.dir, '--dry-run'],
    says: () => [/refusing \/ as the old location \(--from \/\)/, noOverride],
  },
  {
    title:
      'refuses --from /tmp on a venv built elsewhere, naming --force-from and the real old location, and changes nothing',
    args: (v) => ['relocate', v.dir, '--from', '/tmp', '--to', v.dir],
    says: (v) => [
      /refusing \/tmp as the old location \(--from \/tmp\): \/tmp is a system folder/,
      new RegExp(`^  ${v.builtAt}  \\(bin/.*\\)$`, 'm'),
      new RegExp(`--from ${v.builtAt} --to ${v.dir}`),
      /add --force-from if the venv really was built at \/tmp/,
    ],
  },
  {
    title: 'refuses --map /=/opt and changes nothing',
    args: (v) => ['relocate', v.dir, '--to', v.dir, '--map', '/=/opt'],
    says: () => [/refusing \/ in --map \/=\/opt/, noOverride, /Map the specific folder/],
  },
  {
    title: 'refuses --map /opt/x=/usr and changes nothing',
    args: (v) => ['relocate', v.dir, '--to', v.dir, '--map', '/opt/x=/usr'],
    says: () => [
      /refusing \/usr in --map \/opt\/x=\/usr: \/usr is a system folder/,
      noOverride,
      /Map the specific folder/,
    ],
  },
  {
    title: 'refuses relocate --to /usr/local, a system folder, and changes nothing',
    args: (v) => ['relocate', v.dir, '--to', '/usr/local/'],
    says: () => [/refusing \/usr\/local as the new location \(--to \/usr\/local\/\)/, noOverride],
  },
];

for (const c of refusals) {
  test(c.title, async (t) => {
    const v = await realVenv();
    const r = runChangingNothing(t, path.dirname(v.dir), c.args(v));
    t.is(r.status, 1, r.stderr);
    t.is(r.stdout, '', 'nothing on stdout: the compatible messages are not these');
    t.false(r.stderr.includes('internal error'), r.stderr);
    for (const re of c.says(v)) t.regex(r.stderr, re);
  });
}

test('a refusal under --json is an error document with the code REFUSED_LOCATION', async (t) => {
  const v = await realVenv();
  const r = runChangingNothing(t, path.dirname(v.dir), [
    'relocate',
    v.dir,
    '--to',
    v.dir,
    '--from',
    '//',
    '--dry-run',
    '--json',
  ]);
  t.is(r.status, 1);
  const doc = JSON.parse(r.stdout) as { error: { code: string; message: string; path: string } };
  t.deepEqual(validate(schema('error'), doc), []);
  t.is(doc.error.code, 'REFUSED_LOCATION');
  t.is(doc.error.path, '/');
  t.regex(doc.error.message, /refusing \/ as the old location \(--from \/\/\)/);
});

// --- --from against the venv's own files.

test('a --from that the venv files name is accepted, and the venv works at its new place', async (t) => {
  const v = await realVenv();
  const r = cli(['relocate', v.dir, '--from', `${v.builtAt}/`, '--to', v.dir, '--json']);
  t.is(r.status, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { old: string; warnings: JsonWarning[] };
  t.is(doc.old, v.builtAt);
  t.deepEqual(
    doc.warnings.map((w) => w.code),
    ['NORMALIZED'],
  );
  const tool = spawnSync(path.join(v.dir, 'bin', 'vt-lib-tool'), { encoding: 'utf8' });
  t.is(tool.status, 0, tool.stderr);
  t.regex(fs.readFileSync(path.join(v.dir, 'bin', 'activate'), 'utf8'), new RegExp(v.dir));
});

test('a --from that the venv files contradict is refused with what they name, and changes nothing', async (t) => {
  const v = await realVenv();
  const elsewhere = path.join(path.dirname(v.dir), 'elsewhere', 'venv');
  const r = runChangingNothing(t, path.dirname(v.dir), [
    'relocate',
    v.dir,
    '--from',
    elsewhere,
    '--to',
    v.dir,
    '--json',
  ]);
  t.is(r.status, 1);
  const doc = JSON.parse(r.stdout) as { error: { code: string; message: string } };
  t.deepEqual(validate(schema('error'), doc), []);
  t.is(doc.error.code, 'FROM_CONTRADICTED');
  const m = doc.error.message;
  t.regex(m, new RegExp(`refusing --from ${elsewhere}: `));
  t.regex(m, new RegExp(`^  ${v.builtAt}  \\(bin/.*\\)$`, 'm'));
  t.regex(m, new RegExp(`venv-tools relocate ${v.dir} --from ${v.builtAt} --to ${v.dir}`));
  t.regex(m, /add --force-from/);
});

test('--force-from accepts a --from that the venv files contradict', (t) => {
  const v = moveApp(smallVenv(python, 'force-from'));
  // A location none of the venv's scripts, activate files or pyvenv.cfg name, which a config
  // file does: the odd case the user knows better.
  const odd = path.join(v.top, 'odd', 'venv');
  const conf = path.join(v.venv, 'share', 'app.conf');
  fs.mkdirSync(path.dirname(conf));
  fs.writeFileSync(conf, `data = ${odd}/data\n`);
  const refused = cli(['relocate', v.venv, '--from', odd, '--to', v.venv]);
  t.is(refused.status, 1);
  t.regex(refused.stderr, /--force-from/);
  t.is(fs.readFileSync(conf, 'utf8'), `data = ${odd}/data\n`);
  const r = cli(['relocate', v.venv, '--from', odd, '--force-from', '--to', v.venv]);
  t.is(r.status, 0, r.stderr);
  t.is(fs.readFileSync(conf, 'utf8'), `data = ${v.venv}/data\n`);
});

// --- The ambiguity message never suggests a refused location.

test('the ambiguity message suggests the location the venv files support, never /', async (t) => {
  const v = await realVenv();
  // What `--update-path /` left behind in one script: a shebang naming //bin/python.
  const script = path.join(v.dir, 'bin', 'vt-lib-tool');
  const body = fs.readFileSync(script, 'utf8').replace(/^#!.*\n/, '');
  fs.writeFileSync(script, `#!//bin/python\n${body}`);
  const r = runChangingNothing(t, path.dirname(v.dir), ['--update-path', v.dir, v.dir]);
  t.is(r.status, 1);
  t.is(r.stdout, '');
  t.regex(r.stderr, /names several old locations/);
  t.regex(r.stderr, /^ {2}\/\/? {2}\(bin\/vt-lib-tool\)$/m);
  t.regex(r.stderr, new RegExp(`--from ${v.builtAt} --to ${v.dir}`));
  t.notRegex(r.stderr, /--from \/\/? /);
  // The suggested command then works.
  const ok = cli(['relocate', v.dir, '--from', v.builtAt, '--to', v.dir]);
  t.is(ok.status, 0, ok.stderr);
});

test('when every location the files name would be refused, the message asks to look at the files', (t) => {
  const ev = (location: string, file: string, source: Evidence['source']): Evidence => ({
    file,
    source,
    location,
  });
  const evidence = [
    ev('//', 'bin/tool', 'shebang'),
    ev('/', 'bin/activate', 'activate'),
    ev('/opt', 'pyvenv.cfg', 'pyvenv.cfg'),
  ];
  const e = t.throws(() => findOldPrefix(evidence, '/srv/app/venv', 'v'), {
    instanceOf: VenvToolsError,
  });
  t.is(e?.code, 'AMBIGUOUS_OLD_PREFIX');
  t.regex(e?.message ?? '', /look at the files listed/);
  t.notRegex(e?.message ?? '', /--from \/(\/|opt)? /);
  t.is(suggestOldPrefix(evidence, '/srv/app/venv'), undefined);
});

test('the suggestion is the location pyvenv.cfg names, then activate, then most files', (t) => {
  const ev = (location: string, file: string, source: Evidence['source']): Evidence => ({
    file,
    source,
    location,
  });
  const scripts = ['bin/a', 'bin/b', 'bin/c'].map((f) => ev('/build/x/venv', f, 'shebang'));
  t.is(suggestOldPrefix(scripts, '/new'), '/build/x/venv');
  const activate = [...scripts, ev('/build/y/venv', 'bin/activate', 'activate')];
  t.is(suggestOldPrefix(activate, '/new'), '/build/y/venv');
  const cfg = [...activate, ev('/build/z/venv', 'pyvenv.cfg', 'pyvenv.cfg')];
  t.is(suggestOldPrefix(cfg, '/new'), '/build/z/venv');
  t.is(suggestOldPrefix([...cfg, ev('/', 'pyvenv.cfg', 'pyvenv.cfg')], '/new'), '/build/z/venv');
  t.is(suggestOldPrefix(cfg, '/build/z/venv'), '/build/y/venv', 'never the target');
});

test('an old location that only the venv files name is refused when it is /, naming no override', (t) => {
  const v = moveApp(smallVenv(python, 'old-is-root'));
  const old = path.join(v.top, 'build', 'app', 'venv');
  // What `--update-path /` left behind: activate scripts and pyvenv.cfg naming /.
  fs.rmSync(path.join(v.venv, 'bin', 'tool'));
  for (const rel of [
    ...fs.readdirSync(path.join(v.venv, 'bin')).map((f) => `bin/${f}`),
    'pyvenv.cfg',
  ]) {
    const p = path.join(v.venv, rel);
    if (fs.lstatSync(p).isFile())
      fs.writeFileSync(p, fs.readFileSync(p, 'latin1').split(old).join('/'), 'latin1');
  }
  const r = runChangingNothing(t, v.top, ['--update-path', v.venv, v.venv]);
  t.is(r.status, 1);
  t.is(r.stdout, '');
  t.regex(r.stderr, /refusing \/ as the old location: .* own files name it/);
  t.regex(r.stderr, /^ {2}\/ {2}\(bin\/activate.*\)$/m);
  t.regex(r.stderr, /There is no override/);
  t.regex(r.stderr, /--from OLD/);
});

// --- Normalising.

test('a --to holding .., // and a trailing / relocates to the normalised path and says so', async (t) => {
  const top = freshDir('normalised');
  const v = await copyVenv(MINIMAL, python, { appDir: path.join(top, 'srv', 'y') });
  const given = `${top}/srv/x/../y//venv/`;
  t.is(v.dir, path.join(top, 'srv', 'y', 'venv'));
  const r = cli(['relocate', v.dir, '--to', given, '--json']);
  t.is(r.status, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { new: string; warnings: JsonWarning[] };
  t.deepEqual(validate(schema('relocate'), doc), []);
  t.is(doc.new, v.dir);
  t.deepEqual(doc.warnings, [
    {
      code: 'NORMALIZED',
      message: `--to ${given} was read as ${v.dir} (".", ".." and repeated or trailing "/" removed)`,
      path: v.dir,
    },
  ]);
  t.regex(
    fs.readFileSync(path.join(v.dir, 'bin', 'activate'), 'utf8'),
    new RegExp(`^ *(export )?VIRTUAL_ENV=["']?${v.dir}["']?$`, 'm'),
  );
  const tool = spawnSync(path.join(v.dir, 'bin', 'vt-lib-tool'), { encoding: 'utf8' });
  t.is(tool.status, 0, tool.stderr);
});

test('--update-path is normalised too: the Updated line names the normalised path, the warning goes to stderr', (t) => {
  const v = moveApp(smallVenv(python, 'normalised-compat'));
  const given = `${path.dirname(v.venv)}/./venv//`;
  const r = cli(['--update-path', given, v.venv]);
  t.is(r.status, 0, r.stderr);
  t.is(r.stdout, `Updated: ${v.venv} (${path.join(v.top, 'build', 'app', 'venv')} -> ${v.venv})\n`);
  t.is(
    r.stderr,
    `warning: --update-path ${given} was read as ${v.venv} (".", ".." and repeated or trailing "/" removed)\n`,
  );
});

test('normalising reads .., // and a trailing / lexically, and keeps a relative path as it is', (t) => {
  const table: Array<[string, string]> = [
    ['/', '/'],
    ['//', '/'],
    ['/.', '/'],
    ['/..', '/'],
    ['/usr/..', '/'],
    ['/srv/x/../y//venv/', '/srv/y/venv'],
    ['/opt/app/venv', '/opt/app/venv'],
    ['/opt/./app/', '/opt/app'],
    ['rel/../x', 'rel/../x'],
  ];
  for (const [given, want] of table) t.is(normalizeLocation(given), want, given);
});

test('/ and the system folders themselves are refused, their subfolders are not', (t) => {
  t.is(refusedLocation('/'), 'root');
  for (const f of [
    '/usr',
    '/tmp',
    '/home',
    '/opt',
    '/srv',
    '/var',
    '/etc',
    '/usr/local',
    '/var/lib',
  ])
    t.is(refusedLocation(f), 'system-folder', f);
  for (const f of ['/opt/app/venv', '/tmp/x', '/srv/app/r1/venv', '/usr/local/app', '/home/u/venv'])
    t.is(refusedLocation(f), undefined, f);
  for (const f of SYSTEM_FOLDERS) t.is(normalizeLocation(f), f, `${f} is listed normalised`);
});

test('--force-from is for the old location only: a system folder as --from passes with it, never / or a new location', (t) => {
  const evidence: Evidence[] = [
    { file: 'bin/activate', source: 'activate', location: '/build/venv' },
  ];
  const e = t.throws(() => checkFrom('/opt', '/opt', evidence, '/srv/app/venv', 'v'), {
    instanceOf: VenvToolsError,
  });
  t.is(e?.code, 'REFUSED_LOCATION');
  t.notThrows(() => checkFrom('/build/venv', '/build/venv/', evidence, '/srv/app/venv', 'v'));
  t.notThrows(
    () => checkFrom('/elsewhere', '/elsewhere', [], '/srv/app/venv', 'v'),
    'no evidence accepts any --from',
  );
  const base = { path: 'v', toFlag: '--to', maps: [] };
  t.throws(() => checkLocations({ ...base, to: '/srv/app/venv', from: '/usr/..' }), {
    message: /refusing \/ as the old location .*There is no override/,
  });
  t.throws(() => checkLocations({ ...base, to: '/var/' }), {
    message: /refusing \/var as the new location .*There is no override/,
  });
  const ok = checkLocations({ ...base, to: '/srv/app/venv', from: '/opt' });
  t.is(ok.from, '/opt', 'a system folder as --from is left to checkFrom, which --force-from skips');
});

// --- A missing interpreter.

/** A small venv moved away from its build place, whose base interpreter is gone from this machine. */
function venvWithoutInterpreter(label: string): SmallVenv & { gone: string } {
  const v = moveApp(smallVenv(python!, label));
  const gone = path.join(v.top, 'gone', 'bin');
  const bin = path.join(v.venv, 'bin');
  const minor = `python${python!.version}`;
  for (const n of ['python', 'python3', minor]) fs.rmSync(path.join(bin, n), { force: true });
  // The chain python3.X -> python3 -> python -> the gone interpreter, as venv links them.
  fs.symlinkSync(path.join(gone, minor), path.join(bin, 'python'));
  fs.symlinkSync('python', path.join(bin, 'python3'));
  fs.symlinkSync('python3', path.join(bin, minor));
  const cfg = path.join(v.venv, 'pyvenv.cfg');
  fs.writeFileSync(cfg, fs.readFileSync(cfg, 'utf8').replace(/^home = .*$/m, `home = ${gone}`));
  return { ...v, gone };
}

test('--update-path on a venv whose interpreter is gone warns with the fix and exits 0; with --strict, 1', (t) => {
  const v = venvWithoutInterpreter('no-interpreter-compat');
  const app = path.dirname(v.venv);
  const old = path.join(v.top, 'build', 'app', 'venv');
  // PATH as the user gave it (relative, options after it, argparse style) is the one the fix names.
  const r = cli(['venv', `--update-path=${v.venv}`], { cwd: app });
  t.is(r.status, 0, r.stderr);
  t.is(r.stdout, `Updated: venv (${old} -> ${v.venv})\n`);
  t.regex(r.stderr, /^warning: the venv's interpreter is not on this machine: /m);
  t.regex(
    r.stderr,
    new RegExp(`bin/python leads to ${v.gone}/python${python.version}, which does not exist`),
  );
  t.regex(r.stderr, new RegExp(`pyvenv\\.cfg home is ${v.gone}, which does not exist`));
  t.regex(r.stderr, /venv-tools --reinitialize venv$/m);

  const w = venvWithoutInterpreter('no-interpreter-strict');
  const s = cli(['--update-path', w.venv, '--strict', w.venv]);
  t.is(s.status, 1, 'exit 1 with --strict');
  t.is(
    s.stdout,
    `Updated: ${w.venv} (${path.join(w.top, 'build', 'app', 'venv')} -> ${w.venv})\n`,
    'and the relocation is done',
  );
  t.regex(s.stderr, new RegExp(`venv-tools --reinitialize ${w.venv}$`, 'm'));
  const again = cli(['--update-path', w.venv, w.venv, '--strict']);
  t.is(again.status, 1, 'an up-to-date venv still cannot work here');
  t.is(again.stdout, `Already up-to-date: ${w.venv} (${w.venv})\n`);
});

test('relocate --json reports INTERPRETER_MISSING with exit 0, and exit 1 with --strict; a healthy venv has no such warning', (t) => {
  const v = venvWithoutInterpreter('no-interpreter-json');
  const r = cli(['relocate', v.venv, '--to', v.venv, '--dry-run', '--json']);
  t.is(r.status, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { warnings: JsonWarning[] };
  t.deepEqual(validate(schema('relocate'), doc), []);
  const missing = doc.warnings.filter((w) => w.code === 'INTERPRETER_MISSING');
  t.is(missing.length, 1);
  t.is(missing[0]?.path, 'bin/python');
  t.regex(missing[0]?.message ?? '', new RegExp(`venv-tools --reinitialize ${v.venv}$`));

  const s = cli(['relocate', v.venv, '--to', v.venv, '--json', '--strict']);
  t.is(s.status, 1);
  const strict = JSON.parse(s.stdout) as { status: string; warnings: JsonWarning[] };
  t.deepEqual(validate(schema('relocate'), strict), []);
  t.is(strict.status, 'updated', 'the relocation itself is done');
  t.true(strict.warnings.some((w) => w.code === 'INTERPRETER_MISSING'));

  const healthy = moveApp(smallVenv(python, 'interpreter-here'));
  const h = cli(['relocate', healthy.venv, '--to', healthy.venv, '--json', '--strict']);
  t.is(h.status, 0, h.stderr);
  t.deepEqual((JSON.parse(h.stdout) as { warnings: JsonWarning[] }).warnings, []);
});

test('a link into the venv by its old absolute path is read where the venv stands, so it is not reported', (t) => {
  const v = moveApp(smallVenv(python, 'interpreter-inside'));
  const old = path.join(v.top, 'build', 'app', 'venv');
  const bin = path.join(v.venv, 'bin');
  // bin/python names the venv's own bin/python.real by the old absolute path (gone since the
  // move); the relocation re-points it to a place that does not exist yet either.
  fs.rmSync(path.join(bin, 'python'));
  fs.symlinkSync(python.exe, path.join(bin, 'python.real'));
  fs.symlinkSync(path.join(old, 'bin', 'python.real'), path.join(bin, 'python'));
  const dry = cli(['relocate', v.venv, '--to', v.venv, '--dry-run', '--json']);
  t.is(dry.status, 0, dry.stderr);
  const future = path.join(v.top, 'later', 'venv');
  const r = cli(['relocate', v.venv, '--to', future, '--json', '--strict']);
  t.is(r.status, 0, r.stderr);
  t.is(fs.readlinkSync(path.join(bin, 'python')), path.join(future, 'bin', 'python.real'));
  for (const out of [dry.stdout, r.stdout]) {
    const codes = (JSON.parse(out) as { warnings: JsonWarning[] }).warnings.map((w) => w.code);
    t.false(codes.includes('INTERPRETER_MISSING'), codes.join(', '));
  }
});

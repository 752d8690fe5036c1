import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JOURNAL_NAME } from '../../src/apply/journal-format.js';
import { cli } from '../helpers/cli.js';
import { validate, type Schema } from '../helpers/json-schema.js';
import {
  isVenvToolsName,
  treeDiff,
  treeState,
  type TreeState,
} from '../helpers/reliability-tree.js';
import { reliabilityPython, startCli } from '../helpers/reliability-venv.js';
import { repoPath } from '../helpers/repo-root.js';
import { cleanEnv } from '../helpers/run.js';
import { freshDir } from '../helpers/scratch.js';

// Issue 20: a pyc the tool cannot read never blocks the venv. With its source beside it, it is
// removed through the journal and compiled again by the venv's own python once the journal is
// applied (or left removed when that python cannot write it); a sourceless one that names the
// old place is refused, naming --drop-unreadable-pycs, which removes it. scan lists them all
// first, and a SIGKILL anywhere in such a run leaves a state that the next run finishes into
// the same tree.

const python = reliabilityPython();
const TAG = `cpython-${python.version.replace('.', '')}`;
/** A magic no Python has (yet): what a pyc of a CPython newer than this tool looks like. */
const FUTURE = 3999;

/** The pycs planted in the venv, relative to it, by what is odd about each. */
interface Planted {
  /** A future magic, source beside it: compiled again. */
  readonly future: string;
  /** The same, hash-based (checked): compiled again as a checked-hash pyc. */
  readonly hashed: string;
  /** The same, `.opt-1`: compiled again at -O. */
  readonly optimized: string;
  /** A future magic under another interpreter's tag: removed (bin/python writes other pycs). */
  readonly foreignTag: string;
  /** This Python's magic, but cut short inside its co_filename: compiled again. */
  readonly corrupt: string;
  /** A legacy pyc beside its source, future magic: compiled again in place. */
  readonly legacy: string;
  /** A future magic, and a source that no longer compiles: planned for compiling, left removed. */
  readonly failing: string;
  /** A future magic, no source: refused, or removed with --drop-unreadable-pycs. */
  readonly sourceless: string;
}

interface Template {
  readonly old: string;
  readonly dir: string;
  readonly pycs: Planted;
  readonly site: string;
}

// Compiles each module as the case needs, at the build place (so each pyc names it).
const PLANT = String.raw`
import importlib.util as u, os, py_compile, sys
pkg = sys.argv[1]
M = py_compile.PycInvalidationMode
def c(name, cfile=None, **kw):
    src = os.path.join(pkg, name + '.py')
    return py_compile.compile(src, cfile=cfile, doraise=True, **kw)
c('__init__')
c('fut'); c('hashed', invalidation_mode=M.CHECKED_HASH); c('opt', optimize=1)
c('other'); c('broken'); c('syn')
c('leg', cfile=os.path.join(pkg, 'leg.pyc')); c('lone', cfile=os.path.join(pkg, 'lone.pyc'))
`;

function makeTemplate(label: string): Template {
  const top = freshDir(label);
  const old = path.join(top, 'build', 'app', 'venv');
  const r = spawnSync(python.exe, ['-m', 'venv', '--without-pip', old], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python -m venv failed: ${r.stderr}`);
  const site = path.join('lib', `python${python.version}`, 'site-packages');
  const pkg = path.join(old, site, 'odd');
  fs.mkdirSync(pkg);
  const sources: Record<string, string> = {
    __init__: '',
    fut: 'WHERE = __file__\ndef f():\n    return lambda: WHERE\n',
    hashed: 'HASHED = True\n',
    opt: 'assert False, "compiled without -O"\n',
    other: 'OTHER = 1\n',
    broken: 'BROKEN = "fixed"\n',
    leg: 'LEG = 1\n',
    syn: 'SYN = 1\n',
    lone: 'LONE = 1\n',
  };
  for (const [name, text] of Object.entries(sources))
    fs.writeFileSync(path.join(pkg, `${name}.py`), text);
  const c = spawnSync(python.exe, ['-c', PLANT, pkg], { encoding: 'utf8', env: cleanEnv() });
  if (c.status !== 0) throw new Error(`compiling failed: ${c.stderr}`);
  fs.rmSync(path.join(pkg, 'lone.py'));
  fs.writeFileSync(path.join(pkg, 'syn.py'), 'def broken(:\n');
  const cache = path.join(site, 'odd', '__pycache__');
  const pycs: Planted = {
    future: path.join(cache, `fut.${TAG}.pyc`),
    hashed: path.join(cache, `hashed.${TAG}.pyc`),
    optimized: path.join(cache, `opt.${TAG}.opt-1.pyc`),
    foreignTag: path.join(cache, 'other.cpython-399.pyc'),
    corrupt: path.join(cache, `broken.${TAG}.pyc`),
    legacy: path.join(site, 'odd', 'leg.pyc'),
    failing: path.join(cache, `syn.${TAG}.pyc`),
    sourceless: path.join(site, 'odd', 'lone.pyc'),
  };
  fs.renameSync(path.join(old, cache, `other.${TAG}.pyc`), path.join(old, pycs.foreignTag));
  const at = (rel: string) => path.join(old, rel);
  for (const rel of [
    pycs.future,
    pycs.hashed,
    pycs.optimized,
    pycs.foreignTag,
    pycs.legacy,
    pycs.failing,
    pycs.sourceless,
  ]) {
    const b = fs.readFileSync(at(rel));
    if (!b.includes(Buffer.from(old))) throw new Error(`${rel} does not name ${old}`);
    b.writeUInt16LE(FUTURE, 0);
    fs.writeFileSync(at(rel), b);
  }
  const whole = fs.readFileSync(at(pycs.corrupt));
  const name = Buffer.from(path.join(old, site, 'odd', 'broken.py'));
  const cut = whole.indexOf(name) + name.length - 3;
  fs.writeFileSync(at(pycs.corrupt), whole.subarray(0, cut));
  const dir = path.join(top, 'template', 'venv');
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  fs.renameSync(old, dir);
  fs.rmSync(path.join(top, 'build'), { recursive: true, force: true });
  return { old, dir, pycs, site };
}

/** A fresh `cp -a` of the template at `venv`. */
function place(tpl: Template, venv: string): void {
  fs.rmSync(venv, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(venv), { recursive: true });
  const r = spawnSync('cp', ['-a', '--', tpl.dir, venv]);
  if (r.status !== 0) throw new Error(`cp failed: ${r.stderr.toString()}`);
}

interface Dropped {
  path: string;
  source: string | null;
  outcome: string;
  reason: string;
}

const schema = (name: string): Schema =>
  JSON.parse(fs.readFileSync(repoPath('docs', 'schema', `${name}.schema.json`), 'utf8')) as Schema;

function outcomes(dropped: readonly Dropped[]): Record<string, string> {
  return Object.fromEntries(dropped.map((d) => [d.path, d.outcome]));
}

/** Load a pyc with the venv's own marshal: its magic word, flags and every co_filename. */
function loadPyc(venv: string, rel: string): { magic: string; flags: number; names: string[] } {
  const script = String.raw`
import importlib.util as u, json, marshal, sys, types
data = open(sys.argv[1], 'rb').read()
names, todo = set(), [marshal.loads(data[16:])]
while todo:
    c = todo.pop(); names.add(c.co_filename)
    todo.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
print(json.dumps({'magic': data[:4] == u.MAGIC_NUMBER, 'flags': int.from_bytes(data[4:8], 'little'), 'names': sorted(names)}))
`;
  const r = spawnSync(path.join(venv, 'bin', 'python'), ['-c', script, path.join(venv, rel)], {
    encoding: 'utf8',
    env: cleanEnv(),
  });
  if (r.status !== 0) throw new Error(`loading ${rel} failed: ${r.stderr}`);
  const j = JSON.parse(r.stdout) as { magic: boolean; flags: number; names: string[] };
  return { magic: j.magic ? 'own' : 'other', flags: j.flags, names: j.names };
}

const tpl = makeTemplate('unreadable-pycs');
const P = tpl.pycs;
const REGENERATED = [P.future, P.hashed, P.optimized, P.corrupt, P.legacy];
/** What a plan says it compiles again: all of those, and the one whose source fails to compile. */
const TO_REGENERATE = [...REGENERATED, P.failing];
const sourceOf = (rel: string) =>
  rel.endsWith('.pyc') && !rel.includes('__pycache__')
    ? rel.slice(0, -1)
    : path.join(path.dirname(path.dirname(rel)), `${path.basename(rel).split('.')[0]}.py`);

test('a sourceless pyc that names the old place is refused, naming --drop-unreadable-pycs and the source it looked for; nothing changes', (t) => {
  const venv = path.join(freshDir('unreadable-refused'), 'venv');
  place(tpl, venv);
  const before = treeState(venv);
  const r = cli(['relocate', venv, '--to', venv, '--json']);
  t.is(r.status, 1, r.stderr);
  const doc = JSON.parse(r.stdout) as { error: { code: string; message: string; path: string } };
  t.is(doc.error.code, 'BAD_PYC');
  t.is(doc.error.path, P.sourceless);
  t.true(
    doc.error.message.startsWith(
      `cannot rewrite ${P.sourceless}: pyc magic 9f0f0d0a is not that of CPython 3.6-3.14 or PyPy 3.9-3.11, and it has no source beside it to compile it again from (there is no ${sourceOf(P.sourceless)})`,
    ),
    doc.error.message,
  );
  t.regex(
    doc.error.message,
    /Nothing was changed\. Run again with --drop-unreadable-pycs to remove it/,
  );
  t.deepEqual(treeDiff(before, treeState(venv)), [], 'nothing changed');
  // The compatible command line says the same, and takes the flag too.
  const compat = cli(['--update-path', venv, venv]);
  t.is(compat.status, 1);
  t.regex(compat.stderr, /--drop-unreadable-pycs/);
  t.deepEqual(treeDiff(before, treeState(venv)), [], 'still nothing changed');
});

test('scan lists every pyc a relocation cannot rewrite under its own heading, with what it would do', (t) => {
  const venv = path.join(freshDir('unreadable-scan'), 'venv');
  place(tpl, venv);
  const r = cli(['scan', venv, '--json']);
  t.is(r.status, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as {
    droppedPycs: Dropped[];
    warnings: Array<{ code: string; path: string | null; message: string }>;
  };
  t.deepEqual(validate(schema('scan'), doc), []);
  t.deepEqual(outcomes(doc.droppedPycs), {
    ...Object.fromEntries(TO_REGENERATE.map((p) => [p, 'regenerated'])),
    [P.foreignTag]: 'removed',
    [P.sourceless]: 'refused',
  });
  const foreign = doc.droppedPycs.find((d) => d.path === P.foreignTag)!;
  t.is(foreign.source, sourceOf(P.foreignTag));
  t.regex(foreign.reason, new RegExp(`writes ${TAG} pycs, not cpython-399$`));
  t.is(doc.droppedPycs.find((d) => d.path === P.sourceless)?.source, null);
  t.true(
    doc.warnings.some(
      (w) =>
        w.code === 'WOULD_FAIL' &&
        w.path === P.sourceless &&
        w.message.includes('--drop-unreadable-pycs'),
    ),
  );
  const text = cli(['scan', venv]);
  t.regex(text.stdout, /^Pycs a relocation cannot rewrite: 8$/m);
  t.true(text.stdout.includes(`    ${P.future}: compiled again from ${sourceOf(P.future)}\n`));
  t.true(
    text.stdout.includes(
      `    ${P.sourceless}: refused: no source beside it (--drop-unreadable-pycs removes it)\n`,
    ),
  );
});

test('with --drop-unreadable-pycs every odd pyc gets its documented outcome, and Python takes the new ones as they are', (t) => {
  const venv = path.join(freshDir('unreadable-drop'), 'venv');
  place(tpl, venv);
  const before = treeState(venv);
  const dry = cli([
    'relocate',
    venv,
    '--to',
    venv,
    '--drop-unreadable-pycs',
    '--dry-run',
    '--json',
  ]);
  t.is(dry.status, 0, dry.stderr);
  t.deepEqual(treeDiff(before, treeState(venv)), [], 'a dry run changes nothing');
  const want = {
    ...Object.fromEntries(REGENERATED.map((p) => [p, 'regenerated'])),
    [P.foreignTag]: 'removed',
    [P.sourceless]: 'removed',
  };
  // The plan compiles the failing one again too; the real run finds that it cannot.
  t.deepEqual(outcomes((JSON.parse(dry.stdout) as { droppedPycs: Dropped[] }).droppedPycs), {
    ...want,
    [P.failing]: 'regenerated',
  });

  const r = cli(['relocate', venv, '--to', venv, '--drop-unreadable-pycs', '--json']);
  t.is(r.status, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as {
    droppedPycs: Dropped[];
    changes: Array<{ path: string; kind: string; op: string }>;
    warnings: Array<{ code: string; path: string | null }>;
  };
  t.deepEqual(validate(schema('relocate'), doc), []);
  t.deepEqual(outcomes(doc.droppedPycs), { ...want, [P.failing]: 'removed' });
  t.regex(
    doc.droppedPycs.find((d) => d.path === P.failing)!.reason,
    /; compiling it again failed: PyCompileError: .*SyntaxError/,
  );
  t.false(fs.existsSync(path.join(venv, P.failing)), 'it stays removed');
  for (const d of doc.droppedPycs) {
    t.true(
      doc.changes.some((c) => c.path === d.path && c.kind === 'pyc-removed'),
      d.path,
    );
    const code = d.outcome === 'regenerated' ? 'PYC_REGENERATED' : 'PYC_REMOVED';
    t.true(
      doc.warnings.some((w) => w.code === code && w.path === d.path),
      `${d.path}: ${code}`,
    );
  }
  // Compiled again by bin/python: its magic, the header's mode, the new place in co_filename.
  for (const rel of REGENERATED) {
    const pyc = loadPyc(venv, rel);
    t.is(pyc.magic, 'own', rel);
    t.deepEqual(pyc.names, [path.join(venv, sourceOf(rel))], rel);
    t.is(pyc.flags, rel === P.hashed ? 3 : 0, `${rel}: invalidation mode`);
  }
  t.false(fs.existsSync(path.join(venv, P.foreignTag)), 'another tag: removed');
  t.false(fs.existsSync(path.join(venv, P.sourceless)), 'sourceless: removed');
  // Python imports each module from its new pyc, and writes none again.
  const pycs = REGENERATED.map((rel) => [rel, fs.readFileSync(path.join(venv, rel))] as const);
  const imp = spawnSync(
    path.join(venv, 'bin', 'python'),
    ['-c', 'import odd.fut, odd.hashed, odd.broken, odd.leg; print(odd.fut.f()())'],
    { encoding: 'utf8', env: cleanEnv() },
  );
  t.is(imp.status, 0, imp.stderr);
  t.is(imp.stdout.trim(), path.join(venv, tpl.site, 'odd', 'fut.py'));
  const opt = spawnSync(path.join(venv, 'bin', 'python'), ['-O', '-c', 'import odd.opt'], {
    encoding: 'utf8',
    env: cleanEnv(),
  });
  t.is(opt.status, 0, `the .opt-1 pyc was compiled at -O: ${opt.stderr}`);
  for (const [rel, bytes] of pycs) t.deepEqual(fs.readFileSync(path.join(venv, rel)), bytes, rel);
  // Nothing left to do.
  const again = cli(['--update-path', venv, venv]);
  t.is(again.stdout, `Already up-to-date: ${venv} (${venv})\n`);
});

test("when the venv's python cannot run here, a pyc with its source is removed, saying why", (t) => {
  const venv = path.join(freshDir('unreadable-nopython'), 'venv');
  place(tpl, venv);
  fs.rmSync(path.join(venv, 'bin', 'python'));
  const r = cli(['relocate', venv, '--to', venv, '--drop-unreadable-pycs', '--json']);
  t.is(r.status, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { droppedPycs: Dropped[] };
  t.deepEqual(
    doc.droppedPycs.map((d) => d.outcome),
    doc.droppedPycs.map(() => 'removed'),
  );
  const future = doc.droppedPycs.find((d) => d.path === P.future)!;
  t.regex(
    future.reason,
    /^pyc magic 9f0f0d0a is not that of .*; bin\/python leads to no interpreter$/,
  );
  for (const d of doc.droppedPycs) t.false(fs.existsSync(path.join(venv, d.path)), d.path);
});

// --- A SIGKILL at each point of such a run, and the next run.

/** The tree, without the times of the pycs compiled again (they are written when compiled). */
function state(venv: string): TreeState {
  const s = treeState(venv);
  for (const rel of REGENERATED) {
    const e = s.get(rel);
    if (e !== undefined) s.set(rel, { ...e, mtimeMs: 0 });
  }
  return s;
}

async function killedThenFinished(
  t: ExecutionContext,
  venv: string,
  ref: TreeState,
  kills: ReadonlyArray<{ faults: string; threads?: string }>,
  what: string,
): Promise<void> {
  place(tpl, venv);
  const args = ['--update-path', venv, venv, '--drop-unreadable-pycs'];
  for (const k of kills) {
    const env = { VENV_TOOLS_FAULTS: k.faults, VENV_TOOLS_THREADS: k.threads ?? '1' };
    const e = await startCli(args, env).ended;
    t.is(e.signal, 'SIGKILL', `${what}: killed at ${k.faults} (${e.stdout}${e.stderr})`);
  }
  const done = await startCli(args).ended;
  t.is(done.status, 0, `${what}: ${done.stderr}`);
  t.deepEqual(treeDiff(ref, state(venv), { ignore: isVenvToolsName }), [], what);
  t.false(fs.existsSync(path.join(venv, JOURNAL_NAME)), `${what}: the journal is gone`);
}

test.serial(
  'a SIGKILL anywhere in a run that drops and compiles pycs again converges, on the next run, to the tree of an uninterrupted run',
  async (t) => {
    const venv = path.join(freshDir('unreadable-crash'), 'venv');
    place(tpl, venv);
    const ref = await startCli(['--update-path', venv, venv, '--drop-unreadable-pycs']).ended;
    t.is(ref.status, 0, ref.stderr);
    const want = state(venv);
    const pyc = (rel: string) => `${venv}/${rel}`;
    const source = `${venv}/${sourceOf(P.future)}`;
    const journal = `${venv}/${JOURNAL_NAME}`;
    const cases: Array<[string, Array<{ faults: string; threads?: string }>]> = [
      ['while the journal is written', [{ faults: `writeSync:KILL:${journal}` }]],
      [
        'applying, at the removal of a pyc to compile again',
        [{ faults: `unlinkSync:KILL:${pyc(P.future)}` }],
      ],
      [
        'applying on two threads, at the removal of a pyc the worker planned',
        [{ faults: `unlinkSync:KILL:${pyc(P.legacy)}`, threads: '2' }],
      ],
      [
        'applying, at the removal of a sourceless pyc',
        [{ faults: `unlinkSync:KILL:${pyc(P.sourceless)}` }],
      ],
      ['every record applied, before compiling', [{ faults: `accessSync:KILL:${source}` }]],
      ['compiled, before the journal is removed', [{ faults: `unlinkSync:KILL:${journal}` }]],
      [
        'applying, then again in the recovery before it compiles',
        [{ faults: `unlinkSync:KILL:${pyc(P.corrupt)}` }, { faults: `accessSync:KILL:${source}` }],
      ],
    ];
    for (const [what, kills] of cases) await killedThenFinished(t, venv, want, kills, what);
    t.log(`${cases.length} kill points, each finished by the next run`);
  },
);

test('pack --to and unpack refuse a sourceless pyc that names the old place, naming --drop-unreadable-pycs; with it, every odd pyc is left out and Python compiles it again', (t) => {
  const top = freshDir('unreadable-archive');
  const venv = path.join(top, 'venv');
  place(tpl, venv);
  const archive = path.join(top, 'app.tar');
  t.is(cli(['pack', venv, '-o', archive]).status, 0, 'pack without --to rewrites nothing');
  const odd = [...TO_REGENERATE, P.foreignTag, P.sourceless];

  // unpack: refused, and nothing appears at DEST or beside it.
  const dest = path.join(top, 'srv', 'app', 'venv');
  const refused = cli(['unpack', archive, dest, '--json']);
  t.is(refused.status, 1, refused.stderr);
  const err = (JSON.parse(refused.stdout) as { error: { code: string; message: string } }).error;
  t.is(err.code, 'BAD_PYC');
  t.regex(err.message, /Run again with --drop-unreadable-pycs/);
  t.false(fs.existsSync(dest), 'DEST does not appear');
  t.deepEqual(fs.readdirSync(path.dirname(dest)), [], 'no temporary folder is left beside DEST');

  // With the flag: every pyc it cannot rewrite is left out, the others name DEST.
  const r = cli(['unpack', archive, dest, '--drop-unreadable-pycs', '--json']);
  t.is(r.status, 0, r.stderr);
  for (const rel of odd) t.false(fs.existsSync(path.join(dest, rel)), `${rel} is left out`);
  for (const rel of REGENERATED) t.true(fs.existsSync(path.join(dest, sourceOf(rel))));
  const imported = spawnSync(
    path.join(dest, 'bin', 'python'),
    ['-c', 'import odd.fut as m; print(m.f()())'],
    {
      encoding: 'utf8',
      env: cleanEnv(),
    },
  );
  t.is(imported.stdout.trim(), path.join(dest, path.dirname(sourceOf(P.future)), 'fut.py'));

  // pack --to: the same refusal, and the same outcome with the flag.
  const final = path.join(top, 'final', 'venv');
  const packed = path.join(top, 'final.tar');
  const noFlag = cli(['pack', venv, '-o', packed, '--to', final]);
  t.is(noFlag.status, 1);
  t.regex(noFlag.stderr + noFlag.stdout, /--drop-unreadable-pycs/);
  t.false(fs.existsSync(packed), 'no archive is left behind');
  t.is(cli(['pack', venv, '-o', packed, '--to', final, '--drop-unreadable-pycs']).status, 0);
  const list = spawnSync('tar', ['-tf', packed], { encoding: 'utf8' }).stdout.split('\n');
  t.true(list.includes(sourceOf(P.future)), 'members are named as the venv names them');
  for (const rel of odd) t.false(list.includes(rel), `${rel} is not in the archive`);
});

import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { claimEach } from '../../src/relocate/plan-steps.js';
import { ABORT, CTRL } from '../../src/relocate/worker-protocol.js';
import { PathListBuilder } from '../../src/scan/path-list.js';
import { BASIC } from '../fixtures/venvs/recipes.js';
import { copyVenv, type BuiltVenv } from '../helpers/build-venv.js';
import { cli } from '../helpers/cli.js';
import { findOldPaths } from '../helpers/find-old-paths.js';
import { leftovers, treeDiff, treeState, type TreeState } from '../helpers/reliability-tree.js';
import { reliabilityPython } from '../helpers/reliability-venv.js';
import { freshDir } from '../helpers/scratch.js';

// The default run (threads left on `auto`) takes a second planning thread for a large venv
// (src/relocate/plan-tree.ts). Which branch it then takes depends on when that thread begins,
// which the scheduler decides: once, under load, the main thread gave up on a worker that had
// not begun, and skipped every pyc while saying "Updated". These tests force each interleaving
// through the test-only hooks of src/relocate/forced-interleaving.ts, on the default settings,
// with the size from which `auto` takes a second thread lowered to fit a test venv. After each
// run, the tree must be byte for byte what one thread makes, and no file may hold the old path.

const python = reliabilityPython();

/** Below every test venv's size: `auto` takes two threads. */
const AUTO_TWO = { VENV_TOOLS_TEST_THREAD_MIN_FILES: '100' };

interface Outcome {
  readonly venv: BuiltVenv;
  readonly state: TreeState;
  readonly stderr: string;
  readonly report: {
    changes: unknown[];
    binaries: Array<{ path: string }>;
    stats: { files: number };
  };
}

/** A fresh copy at `app`, relocated in place with `env`; the tree afterwards. */
async function relocateAt(app: string, env: Record<string, string>): Promise<Outcome> {
  const venv = await copyVenv(BASIC, python, { appDir: app });
  const r = cli(['relocate', venv.dir, '--to', venv.dir, '--json'], {
    env: { VENV_TOOLS_TRACE: '1', ...env },
  });
  if (r.status !== 0) throw new Error(`relocate exited ${r.status}: ${r.stderr}`);
  return { venv, state: treeState(app), stderr: r.stderr, report: JSON.parse(r.stdout) };
}

/** What one thread makes: the reference every interleaving must match. */
async function oneThread(top: string): Promise<Outcome> {
  const app = path.join(top, 'srv', 'app');
  const one = await relocateAt(app, { VENV_TOOLS_THREADS: '1' });
  fs.renameSync(app, `${app}-one-thread`);
  return one;
}

/** Problems with a run, against the one-thread run: an empty list when it is alike. */
function compare(one: Outcome, got: Outcome): string[] {
  const problems = treeDiff(one.state, got.state, { mtimes: true }).map((d) => `differs: ${d}`);
  problems.push(...leftovers(got.state).map((l) => `left behind: ${l}`));
  const hits = findOldPaths(got.venv.dir, [got.venv.builtAt]);
  const listed = new Set(got.report.binaries.map((b) => b.path));
  for (const h of [...hits.text, ...hits.pycs, ...hits.symlinks]) {
    problems.push(`${h.file} still names the old path`);
  }
  for (const h of hits.binaries) {
    if (!listed.has(h.file)) problems.push(`${h.file} names the old path and is not reported`);
  }
  if (JSON.stringify(got.report.changes) !== JSON.stringify(one.report.changes)) {
    problems.push('the report lists other changes than one thread does');
  }
  return problems;
}

/** The trace lines of one thread (`M` main, `W` worker) that mention `step`. */
function traced(stderr: string, thread: 'M' | 'W', step: string): string[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith(`trace ${thread} `) && l.includes(step))
    .map((l) => l.replace(/^trace [MW] [\d.]+ /, ''));
}

/** How many files of a pass a thread examined, from its trace (`pycs planned: 12 here`). */
function examined(stderr: string, thread: 'M' | 'W', pass: 'others' | 'pycs'): number {
  const line = traced(stderr, thread, `${pass} planned: `)[0];
  const m = line === undefined ? null : /planned: (\d+) here/.exec(line);
  return m === null ? -1 : Number(m[1]);
}

interface Case {
  readonly name: string;
  readonly hook: string;
  /** What the trace must show of the branch taken. */
  readonly check: (stderr: string, pycs: number) => string[];
}

const expect = (ok: boolean, what: string): string[] => (ok ? [] : [what]);

const CASES: readonly Case[] = [
  {
    name: 'a worker that begins only after the main thread gave up on it',
    hook: 'late',
    check: (e, pycs) => [
      ...expect(traced(e, 'M', 'worker dropped').length === 1, 'the main thread dropped it'),
      ...expect(examined(e, 'M', 'pycs') === pycs, `the main thread planned all ${pycs} pycs`),
      ...expect(traced(e, 'W', 'planned').length === 0, 'the worker planned nothing'),
    ],
  },
  {
    name: 'a worker that never begins',
    hook: 'never',
    check: (e, pycs) => [
      ...expect(traced(e, 'M', 'worker dropped').length === 1, 'the main thread dropped it'),
      ...expect(examined(e, 'M', 'pycs') === pycs, `the main thread planned all ${pycs} pycs`),
      ...expect(traced(e, 'W', 'worker starts').length === 0, 'the worker never started'),
    ],
  },
  {
    name: 'a worker that begins before the main thread plans anything',
    hook: 'early',
    check: (e, pycs) => [
      ...expect(traced(e, 'M', 'worker kept').length === 1, 'the main thread kept it'),
      ...expect(examined(e, 'W', 'pycs') > 0, 'the worker planned pycs'),
      ...expect(
        examined(e, 'W', 'pycs') + Math.max(0, examined(e, 'M', 'pycs')) === pycs,
        `the two threads planned ${pycs} pycs between them`,
      ),
    ],
  },
  {
    name: 'a worker that stalls after its first pyc',
    hook: 'stall',
    check: (e, pycs) => [
      ...expect(traced(e, 'W', 'worker stalled').length === 1, 'the worker stalled'),
      ...expect(examined(e, 'W', 'pycs') === 1, 'the worker planned one pyc'),
      ...expect(examined(e, 'M', 'pycs') === pycs - 1, `the main thread planned ${pycs - 1}`),
      ...expect(traced(e, 'W', 'apply totals').length === 1, 'the worker helped apply'),
    ],
  },
  {
    name: 'a worker that joins the first pass, so that the RECORDs wait for it',
    hook: 'late-records',
    check: (e, pycs) => [
      ...expect(traced(e, 'M', 'worker joined the first pass').length === 1, 'held'),
      ...expect(traced(e, 'M', 'records: all wait for the worker').length === 1, 'late RECORDs'),
      ...expect(examined(e, 'W', 'pycs') === pycs, `the worker planned all ${pycs} pycs`),
      ...expect(examined(e, 'W', 'others') >= 0, 'the worker planned other files'),
    ],
  },
];

/** The pycs in a venv (what the walk lists as such). */
function countPycs(dir: string): number {
  let n = 0;
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name));
      else if (e.isFile() && /\.py[co]$/.test(e.name)) n++;
    }
  };
  walk(dir);
  return n;
}

test('every forced interleaving of the two planning threads writes exactly what one thread writes', async (t) => {
  const top = freshDir('interleave');
  const one = await oneThread(top);
  const pycs = countPycs(`${path.join(top, 'srv', 'app')}-one-thread`);
  t.true(pycs > 100, `${pycs} pycs`);
  t.true(one.report.stats.files > Number(AUTO_TWO.VENV_TOOLS_TEST_THREAD_MIN_FILES));
  for (const c of CASES) {
    const app = path.join(top, 'srv', 'app');
    const got = await relocateAt(app, { ...AUTO_TWO, VENV_TOOLS_TEST_INTERLEAVE: c.hook });
    t.deepEqual(compare(one, got), [], c.name);
    t.deepEqual(c.check(got.stderr, pycs), [], `${c.name}: the branch it took`);
    t.log(`${c.hook}: ${traced(got.stderr, 'M', 'worker').join('; ')}`);
    fs.renameSync(app, `${app}-${c.hook}`);
  }
});

test('the main thread claims every file even after it told the worker to stop', (t) => {
  const list = new PathListBuilder();
  for (let i = 0; i < 10; i++) list.add(`f${i}`);
  const files = list.finish();
  const ctrl = new Int32Array(new SharedArrayBuffer(4 * 16));
  Atomics.store(ctrl, CTRL.go, ABORT); // as SpareWorker.close() leaves it
  const seen: string[] = [];
  t.is(
    claimEach(files, ctrl, CTRL.claimPycs, (rel) => seen.push(rel)),
    10,
  );
  t.is(seen.length, 10);
  // The worker passes `stop`, and does stop.
  Atomics.store(ctrl, CTRL.claimOthers, 0);
  const stop = () => Atomics.load(ctrl, CTRL.go) === ABORT;
  t.is(
    claimEach(files, ctrl, CTRL.claimOthers, () => undefined, undefined, stop),
    0,
  );
});

test('a hook name the code does not know fails the run instead of testing the default path', async (t) => {
  const top = freshDir('interleave-typo');
  const venv = await copyVenv(BASIC, python, { appDir: path.join(top, 'app') });
  const r = cli(['--update-path', venv.dir, venv.dir], {
    env: { ...AUTO_TWO, VENV_TOOLS_TEST_INTERLEAVE: 'sometimes' },
  });
  t.not(r.status, 0);
  t.regex(r.stderr, /VENV_TOOLS_TEST_INTERLEAVE=sometimes: expected one of late, never/);
});

/** Busy loops on every core, until stopped. */
function loadCpus(n: number): ChildProcess[] {
  return Array.from({ length: n }, () =>
    spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }),
  );
}

// A clean run under load proves little (the forced interleavings above do), but this is the
// scene where the lost pycs were seen: a deploy server with its cores busy.
test('relocations on the default settings with the CPU loaded all come out as one thread makes them', async (t) => {
  const top = freshDir('interleave-load');
  const one = await oneThread(top);
  const load = loadCpus(2);
  t.teardown(() => {
    for (const p of load) p.kill('SIGKILL');
  });
  const branches = new Map<string, number>();
  for (let i = 0; i < 8; i++) {
    const app = path.join(top, 'srv', 'app');
    const got = await relocateAt(app, AUTO_TWO);
    t.deepEqual(compare(one, got), [], `run ${i + 1}`);
    const branch =
      traced(got.stderr, 'M', 'worker dropped').length > 0
        ? 'dropped'
        : traced(got.stderr, 'M', 'worker kept').length > 0
          ? 'kept'
          : 'one thread';
    branches.set(branch, (branches.get(branch) ?? 0) + 1);
    fs.rmSync(app, { recursive: true, force: true });
  }
  t.log(`branches under load: ${[...branches].map(([b, n]) => `${b} ${n}`).join(', ')}`);
});

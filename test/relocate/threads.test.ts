import test from 'ava';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BASIC } from '../fixtures/venvs/recipes.js';
import { copyVenv, type BuiltVenv } from '../helpers/build-venv.js';
import { cli } from '../helpers/cli.js';
import { leftovers, treeDiff, treeState } from '../helpers/reliability-tree.js';
import { reliabilityPython } from '../helpers/reliability-venv.js';
import { freshDir } from '../helpers/scratch.js';

// Reading and planning run on two threads for large venvs (src/relocate/plan-tree.ts): a worker
// claims files from the same counters as the main thread and hands its edits over as journal
// frames. VENV_TOOLS_THREADS forces one or two threads whatever the venv's size, so these small
// venvs take both paths.

const python = reliabilityPython();

interface Run {
  readonly venv: BuiltVenv;
  readonly status: number | null;
  readonly stderr: string;
  readonly report: {
    changes: unknown[];
    counts: unknown;
    warnings: unknown[];
    stats: { files: number; bytes: number };
  };
}

async function relocateCopy(
  app: string,
  threads: 1 | 2,
  prepare: (venv: BuiltVenv) => void = () => undefined,
  env: Record<string, string> = {},
): Promise<Run> {
  const venv = await copyVenv(BASIC, python, { appDir: app });
  prepare(venv);
  const r = cli(['relocate', venv.dir, '--to', venv.dir, '--json'], {
    // The timeline shows which thread did what, with each thread's CPU time (src/trace.ts).
    env: { VENV_TOOLS_THREADS: String(threads), VENV_TOOLS_TRACE: '3', ...env },
  });
  return {
    venv,
    status: r.status,
    stderr: r.stderr,
    report: r.status === 0 ? JSON.parse(r.stdout) : undefined,
  };
}

test('two planning threads write exactly what one thread writes', async (t) => {
  const top = freshDir('threads');
  const app = path.join(top, 'srv', 'app');
  const one = await relocateCopy(app, 1);
  t.is(one.status, 0, one.stderr);
  const oneState = treeState(app);
  fs.renameSync(app, `${app}-one`);
  // Every pyc on the worker, before the .py files are known (src/relocate/plan-tree.ts).
  const two = await relocateCopy(app, 2, undefined, { VENV_TOOLS_MAIN_PYCS: '0' });
  t.is(two.status, 0, two.stderr);
  const twoState = treeState(app);
  t.true(one.report.changes.length > 500, `${one.report.changes.length} files rewritten`);
  // Contents, modes, link targets and mtimes: not one entry differs.
  t.deepEqual(treeDiff(oneState, twoState, { mtimes: true }), []);
  t.deepEqual(two.report.changes, one.report.changes);
  t.deepEqual(two.report.counts, one.report.counts);
  t.deepEqual(two.report.warnings, one.report.warnings);
  t.is(two.report.stats.files, one.report.stats.files);
  t.is(two.report.stats.bytes, one.report.stats.bytes);
  t.deepEqual(leftovers(twoState), []);
  // The command (bundled, scripts/bundle.mjs) found and started its planning thread, which
  // planned files of both passes and applied part of the journal; one thread never started one.
  for (const step of ['worker starts', 'others planned', 'pycs planned', 'apply totals']) {
    t.regex(two.stderr, new RegExp(`^trace W [\\d.]+ ${step}`, 'm'), `two threads: ${step}`);
  }
  t.notRegex(one.stderr, /^trace W /m, 'one thread');
  // So the pyc of the rewritten editable finder was planned again (and came out as on one
  // thread, above).
  t.regex(two.stderr, /^trace M [\d.]+ pycs planned again: [1-9]/m);
  t.notRegex(one.stderr, /pycs planned again/);
  // Level 3: each line ends with the thread's CPU time and the memory figures (the young
  // generation's share of the heap among them); the main thread's also give the whole process's
  // CPU time.
  t.regex(
    two.stderr,
    /^trace W [\d.]+ worker starts cpu \d+\+\d+ heap \d+\/\d+ young \d+ ab \d+ rss \d+$/m,
  );
  t.regex(
    two.stderr,
    /^trace M [\d.]+ committed cpu \d+\+\d+ proc \d+\+\d+ heap \d+\/\d+ young \d+ ab \d+ rss \d+$/m,
  );
  t.regex(one.stderr, /^trace M [\d.]+ apply totals/m);
  t.log(
    `Python ${python.full}: ${one.report.stats.files} files read, ${one.report.changes.length} rewritten, alike on 1 and 2 threads`,
  );
});

test('a file the planner cannot rewrite fails the run on either thread; nothing changes and no journal is left', async (t) => {
  const top = freshDir('threads-bad');
  const app = path.join(top, 'srv', 'app');
  const venv = await copyVenv(BASIC, python, { appDir: app });
  const site = path.join(venv.dir, 'lib', `python${python.version}`, 'site-packages');
  // A real pyc's header, then a code object cut short that names the old location: corrupt,
  // and without a source .py to rebuild it from. Spread over many files so that both threads
  // meet some of them.
  const real = fs
    .readdirSync(path.join(site, '__pycache__'), { withFileTypes: true })
    .find((d) => d.name.endsWith('.pyc'));
  t.truthy(real, 'site-packages holds a pyc');
  const header = fs.readFileSync(path.join(site, '__pycache__', real!.name)).subarray(0, 16);
  fs.mkdirSync(path.join(site, 'junk'));
  for (let i = 0; i < 200; i++) {
    const body = Buffer.concat([Buffer.from([0xe3, 1, 2]), Buffer.from(`${venv.builtAt}/x${i}`)]);
    fs.writeFileSync(path.join(site, 'junk', `m${i}.pyc`), Buffer.concat([header, body]));
  }
  const before = treeState(app);
  for (const threads of ['1', '2']) {
    const r = cli(['--update-path', venv.dir, venv.dir], { env: { VENV_TOOLS_THREADS: threads } });
    t.is(r.status, 1, `${threads} thread(s): ${r.stderr}`);
    t.regex(
      r.stderr,
      /cannot rewrite lib\/python[\d.]+\/site-packages\/junk\/m\d+\.pyc: .*no source beside it .*--drop-unreadable-pycs/,
      `${threads} thread(s)`,
    );
    t.deepEqual(treeDiff(before, treeState(app), { mtimes: true }), [], `${threads} thread(s)`);
    t.false(fs.existsSync(path.join(venv.dir, '.venv-tools.journal')), `${threads} thread(s)`);
  }
});

/** A RECORD row's hash and size of a file: `sha256=<urlsafe base64, unpadded>,<size>`. */
function recordHash(file: string): string {
  const bytes = fs.readFileSync(file);
  return `sha256=${createHash('sha256').update(bytes).digest('base64url')},${bytes.length}`;
}

// A wheel may ship its pycs and list them in RECORD with a hash (pip lists the ones it compiles
// without). Such a RECORD is rewritten after the pycs; every other RECORD is rewritten as soon as
// the other files are planned, while the pycs are. Both kinds, on one thread and on two.
test('a RECORD that lists pycs with a hash gets their new hashes, on one thread and on two', async (t) => {
  const top = freshDir('threads-hashed-pycs');
  const app = path.join(top, 'srv', 'app');
  let listed: string[] = [];
  let record = '';
  const prepare = (venv: BuiltVenv) => {
    const site = path.join(venv.dir, 'lib', `python${python.version}`, 'site-packages');
    const dist = fs.readdirSync(site).find((n) => n.startsWith('pip-') && n.endsWith('.dist-info'));
    t.truthy(dist, 'pip is installed');
    record = path.join(site, dist!, 'RECORD');
    const rows = fs.readFileSync(record, 'utf8').split(/\r?\n/);
    // Its pycs with their hash, as a wheel that ships pycs lists them (a few hundred rows).
    listed = [];
    const withHash = rows.map((row) => {
      const rel = row.split(',')[0] ?? '';
      if (!rel.endsWith('.pyc') || !row.endsWith(',,')) return row;
      listed.push(rel);
      return `${rel},${recordHash(path.join(site, rel))}`;
    });
    const { atime, mtime } = fs.statSync(record);
    fs.writeFileSync(record, withHash.join('\r\n'));
    fs.utimesSync(record, atime, mtime); // alike in both copies
  };
  const rows = (file: string) =>
    new Map(
      fs
        .readFileSync(file, 'utf8')
        .split(/\r?\n/)
        .map((row) => [row.split(',')[0] ?? '', row.slice(row.indexOf(',') + 1)]),
    );
  const one = await relocateCopy(app, 1, prepare);
  t.is(one.status, 0, one.stderr);
  t.true(listed.length > 50, `${listed.length} pycs listed with a hash`);
  const site = path.dirname(path.dirname(record));
  const after = rows(record);
  for (const rel of listed) {
    t.is(after.get(rel), recordHash(path.join(site, rel)), `${rel}: its new hash and size`);
  }
  const oneState = treeState(app);
  fs.renameSync(app, `${app}-one`);
  const two = await relocateCopy(app, 2, prepare);
  t.is(two.status, 0, two.stderr);
  t.deepEqual(treeDiff(oneState, treeState(app), { mtimes: true }), []);
  t.deepEqual(two.report.changes, one.report.changes);
  t.log(
    `Python ${python.full}: ${listed.length} pycs listed with a hash, alike on 1 and 2 threads`,
  );
});

// The worker plans its pycs before the .py files are read; the pyc of a .py the run rewrites (the
// editable finder's) is planned again once that is known, and has two records in the journal.
// A hard-linked pyc is replaced rather than written in place, and then the order of its two
// records matters: such a journal is applied on the main thread alone.
test('a hard-linked pyc whose source is rewritten comes out as on one thread; its other name keeps the old bytes', async (t) => {
  const top = freshDir('threads-linked-pyc');
  const app = path.join(top, 'srv', 'app');
  let pyc = '';
  let old: Buffer = Buffer.alloc(0);
  const prepare = (venv: BuiltVenv) => {
    const cache = path.join(
      venv.dir,
      'lib',
      `python${python.version}`,
      'site-packages',
      '__pycache__',
    );
    const name = fs
      .readdirSync(cache)
      .find((n) => n.startsWith('__editable__') && n.endsWith('.pyc'));
    t.truthy(name, 'the editable finder has a pyc');
    pyc = path.join(cache, name!);
    old = fs.readFileSync(pyc);
    fs.linkSync(pyc, path.join(app, 'finder-link.pyc'));
  };
  const one = await relocateCopy(app, 1, prepare);
  t.is(one.status, 0, one.stderr);
  const oneState = treeState(app);
  const onePyc = fs.readFileSync(pyc);
  t.notDeepEqual(onePyc.subarray(0, 16), old.subarray(0, 16), 'the header follows the new source');
  fs.renameSync(app, `${app}-one`);
  const two = await relocateCopy(app, 2, prepare, { VENV_TOOLS_MAIN_PYCS: '0' });
  t.is(two.status, 0, two.stderr);
  t.regex(two.stderr, /^trace M [\d.]+ pycs planned again: [1-9]/m);
  t.notRegex(two.stderr, /^trace W [\d.]+ apply totals/m, 'applied by the main thread alone');
  t.deepEqual(treeDiff(oneState, treeState(app), { mtimes: true }), []);
  t.deepEqual(fs.readFileSync(pyc), onePyc);
  t.deepEqual(fs.readFileSync(path.join(app, 'finder-link.pyc')), old, 'the other name');
  t.is(fs.statSync(pyc).nlink, 1);
  t.deepEqual(two.report.changes, one.report.changes);
});

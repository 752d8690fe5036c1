#!/usr/bin/env node
// npm run bench: time `venv-tools --update-path` on a realistic venv at 1x, 2x and 4x, against the
// read-only floor (ripgrep reading the same tree), and write bench/results.md.
//
//   node bench/run.mjs [--sizes 1,2,4] [--runs 3] [--phase-runs 3] [--no-build] [--no-profile]
//                      [--no-walk] [--no-binary] [--no-archive] [--regen] [--fresh-copies]
//
// Method (the issue's): the venv is generated once and cached (bench/generate-venv.mjs). For each
// size, the cached app folder (venv + src beside it) is copied to a new place (see `Target` for how
// that copy is kept pristine between runs), `sync`ed, and read once to warm the page cache. Then, on
// that same tree, the floor (`rg -c -uuu -F OLD`, or `grep -rcF OLD` without ripgrep) and
// venv-tools run as whole processes under `/usr/bin/time -v` (wall time from this process's clock,
// peak RSS from time). The headline is the median of `--runs` runs of `--update-path NEW NEW`.
// The phase times come from separate runs of `relocate NEW --to NEW --json` (same work, with the
// JSON report), median of `--phase-runs`. Then, on the 1x tree (skipped by --no-walk): the walk
// against fast-glob, and Node's own floors (bench/node-floor.mjs): reading and searching every file,
// and the design's floor, which adds the journal and the in-place writes the design needs, with no
// planning, timed as whole processes beside the floor. Also on the 1x tree (skipped by
// --no-binary): the single executable (scripts/build-binary.mjs) beside the JS bundle, in
// alternating runs of the same `--update-path`, and both programs' `--version` start-up.
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  constants,
  existsSync,
  fchmodSync,
  ftruncateSync,
  futimesSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CACHE, ensureBase, ensureScaled, findPython } from './generate-venv.mjs';
import { fingerprint, hasRg, seconds } from './tree.mjs';
import { archiveBench, archiveTables } from './archive.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..');
const cli = join(repo, 'dist', 'bin', 'venv-tools.js');
const binary = join(repo, 'dist', 'bin', `venv-tools-linux-${process.arch}`);
const runsDir = join(CACHE, 'runs');
const profileDir = join(CACHE, 'profile');

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i === -1 ? fallback : process.argv[i + 1];
}
const flag = (name) => process.argv.includes(name);
const sizes = option('--sizes', '1,2,4').split(',').map(Number);
const runs = Math.max(1, Number(option('--runs', '3')));
const phaseRuns = Math.max(1, Number(option('--phase-runs', '3')));
const freshCopies = flag('--fresh-copies');

const started = Date.now();
function say(msg) {
  process.stderr.write(
    `[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${msg}\n`,
  );
}

function sh(cmd, args, opts = {}) {
  return spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 << 20, ...opts });
}

function must(r, what) {
  if (r.error || r.status !== 0) {
    throw new Error(
      `${what} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stdout ?? ''}${r.stderr ?? ''}`,
    );
  }
  return r;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

// ---------------------------------------------------------------------------------------------
// Measuring a whole process: wall time here, peak RSS from GNU time (or, without it, from the
// child's rusage as Python's resource module reports it for waited-for children).

const gnuTime =
  sh('/usr/bin/time', ['-v', 'true']).stderr?.includes('Maximum resident set size') ?? false;
const rssFile = join(CACHE, 'rss.txt');

function timed(cmd, args, opts = {}) {
  let argv;
  if (gnuTime) {
    argv = ['/usr/bin/time', '-v', '-o', rssFile, cmd, ...args];
  } else {
    const wrapper =
      'import resource, subprocess, sys\n' +
      'code = subprocess.call(sys.argv[2:])\n' +
      'u = resource.getrusage(resource.RUSAGE_CHILDREN)\n' +
      'open(sys.argv[1], "w").write("User time (seconds): %.2f\\nSystem time (seconds): %.2f\\nMaximum resident set size (kbytes): %d\\n" % (u.ru_utime, u.ru_stime, u.ru_maxrss))\n' +
      'sys.exit(code)\n';
    argv = ['python3', '-c', wrapper, rssFile, cmd, ...args];
  }
  const t0 = process.hrtime.bigint();
  const r = sh(argv[0], argv.slice(1), opts);
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const report = readFileSync(rssFile, 'utf8');
  const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(report);
  // CPU time (user + system, all threads): on a busy machine it moves less than wall time.
  const cpu = ['User', 'System'].map((k) =>
    Number(new RegExp(`${k} time \\(seconds\\): ([\\d.]+)`).exec(report)?.[1]),
  );
  return { ...r, wallMs, rssMB: m ? Number(m[1]) / 1024 : NaN, cpuMs: (cpu[0] + cpu[1]) * 1000 };
}

const rg = hasRg;
const floorName = rg ? 'rg -c -uuu -F OLD' : 'grep -rcF OLD';
function floor(old, tree) {
  const r = rg
    ? timed('rg', ['-c', '-uuu', '-F', old, tree], { stdio: ['ignore', 'ignore', 'pipe'] })
    : timed('grep', ['-rcF', old, tree], { stdio: ['ignore', 'ignore', 'pipe'] });
  // Exit 1 means "no match": impossible here, the venv is full of OLD.
  if (r.status !== 0) throw new Error(`${floorName} exited ${r.status}: ${r.stderr}`);
  return r;
}

/**
 * The target tree for one size: `cp -a` of the cached app folder (venv + src beside it) to
 * bench/cache/runs/x<N>/srv/app/3f9c2e1, kept between runs and between bench invocations.
 * After each run, `restore` puts back every file the run changed, so each run starts from the
 * bytes, modes and times (to the microsecond) of a fresh copy, and `prepare` checks the floor's
 * per-file match counts against the template's before every run. Deleting a copy is what makes
 * fresh copies slow on this machine (ext4 mounted with `discard`: 20-60 s per 336 MB);
 * `--fresh-copies` pays that instead.
 */
class Target {
  constructor(factor, template, old) {
    this.factor = factor;
    this.template = template;
    this.old = old;
    this.root = join(runsDir, `x${factor}`);
    this.app = join(this.root, 'srv', 'app', '3f9c2e1');
    this.venv = join(this.app, 'venv');
    this.stateFile = join(this.root, 'state.json');
    this.expected = fingerprint(old, template.venv);
    this.changes = undefined;
  }

  state() {
    try {
      return JSON.parse(readFileSync(this.stateFile, 'utf8'));
    } catch {
      return undefined;
    }
  }

  setPristine(pristine) {
    writeFileSync(
      this.stateFile,
      JSON.stringify({ template: this.template.venv, pristine }) + '\n',
    );
  }

  copy() {
    say(`${this.factor}x: cp -a ${this.template.app} -> ${this.app}`);
    rmSync(this.root, { recursive: true, force: true });
    mkdirSync(dirname(this.app), { recursive: true });
    must(sh('cp', ['-a', this.template.app, this.app]), 'cp -a');
    this.setPristine(true);
  }

  /** Make the tree ready for a timed run: pristine, on disk (`sync`), in the page cache. */
  prepare() {
    const st = this.state();
    if (freshCopies || st?.pristine !== true || st.template !== this.template.venv) this.copy();
    must(sh('sync', []), 'sync');
    // Read the whole tree once (warm page cache) and check that it is the template's.
    if (fingerprint(this.old, this.venv) !== this.expected) {
      say(`${this.factor}x: the kept copy differs from the template; copying again`);
      this.copy();
      must(sh('sync', []), 'sync');
      if (fingerprint(this.old, this.venv) !== this.expected)
        throw new Error(`${this.venv}: a fresh copy does not match its template`);
    }
    this.setPristine(false);
    return this.venv;
  }

  /** Put back what a run changed (bytes, mode, times; symlinks; removed pycs) from the template. */
  restore() {
    if (freshCopies) return;
    if (this.changes === undefined) throw new Error('restore before any relocate --json run');
    for (const c of this.changes) {
      const src = join(this.template.venv, c.path);
      const dst = join(this.venv, c.path);
      const st = lstatSync(src, { bigint: true });
      if (st.isSymbolicLink()) {
        rmSync(dst, { force: true });
        symlinkSync(readlinkSync(src), dst);
        continue;
      }
      // Write in place and truncate, as venv-tools' apply does: on this ext4 (mounted with
      // `discard`) an O_TRUNC or a new file costs ~2 ms each, which made restoring take 10 s.
      const data = readFileSync(src);
      const fd = openSync(
        dst,
        constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW,
        Number(st.mode & 0o7777n),
      );
      try {
        let off = 0;
        while (off < data.length) off += writeSync(fd, data, off, data.length - off, off);
        ftruncateSync(fd, data.length);
        fchmodSync(fd, Number(st.mode & 0o7777n));
        futimesSync(fd, seconds(st.atimeNs), seconds(st.mtimeNs));
      } finally {
        closeSync(fd);
      }
      if (!readFileSync(dst).equals(data)) throw new Error(`restore failed for ${dst}`);
    }
    this.setPristine(true);
  }
}

// ---------------------------------------------------------------------------------------------

function build() {
  say('building: tsc -p .');
  const r = sh(process.execPath, [
    join(repo, 'node_modules', 'typescript', 'bin', 'tsc'),
    '-p',
    repo,
  ]);
  if (r.status !== 0) {
    const errors = (r.stdout.match(/error TS/g) ?? []).length;
    say(
      `tsc reported ${errors} type error(s) (emitted anyway); first lines:\n${r.stdout.split('\n').slice(0, 5).join('\n')}`,
    );
  }
  if (!existsSync(cli)) throw new Error(`${cli} was not built`);
  // tsc wrote the command unbundled over the bundle: bundle it again (scripts/bundle.mjs).
  say('building: the bundle (scripts/bundle.mjs)');
  must(sh(process.execPath, [join(repo, 'scripts', 'bundle.mjs')]), 'scripts/bundle.mjs');
  if (!flag('--no-binary')) {
    say('building: the single executable (scripts/build-binary.mjs --no-xz)');
    must(
      sh(process.execPath, [join(repo, 'scripts', 'build-binary.mjs'), '--no-xz']),
      'scripts/build-binary.mjs',
    );
  }
}

function environment(py) {
  const firstLine = (r) => (r.stdout ?? '').split('\n')[0].trim();
  const git = sh('git', ['-C', repo, 'rev-parse', '--short', 'HEAD']);
  const dirty =
    sh('git', ['-C', repo, 'status', '--porcelain', '--', 'src', 'bin']).stdout?.trim() !== '';
  return {
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memGB: totalmem() / 2 ** 30,
    kernel: release(),
    // findmnt names ext4 as such (stat -f says ext2/ext3) and shows options such as `discard`.
    fs:
      firstLine(sh('findmnt', ['-no', 'FSTYPE,OPTIONS', '-T', CACHE])) ||
      firstLine(sh('stat', ['-f', '-c', '%T', CACHE])),
    node: process.version,
    python: `${py.version} (${py.exe})`,
    floor: rg ? firstLine(sh('rg', ['--version'])) : firstLine(sh('grep', ['--version'])),
    rss: gnuTime ? 'GNU time -v' : 'getrusage(RUSAGE_CHILDREN) in a Python wrapper',
    commit: `${firstLine(git)}${dirty ? ' + uncommitted changes in src/ or bin/' : ''}`,
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    load: loadavg()
      .map((x) => x.toFixed(1))
      .join(' '),
  };
}

function measureSize(target) {
  const { factor, old } = target;
  const phases = [];
  let check;
  for (let i = 0; i < phaseRuns; i++) {
    const venv = target.prepare();
    const r = timed(process.execPath, [cli, 'relocate', venv, '--to', venv, '--json']);
    if (r.status !== 0)
      throw new Error(`venv-tools relocate --json failed (exit ${r.status}):\n${r.stderr}`);
    const report = JSON.parse(r.stdout);
    target.changes = report.changes;
    phases.push({ ...report.timings, wallMs: r.wallMs, rssMB: r.rssMB, report });
    if (i === 0) {
      // What still holds OLD afterwards should be exactly the binaries the report names.
      const list = rg ? sh('rg', ['-l', '-uuu', '-F', old, venv]) : sh('grep', ['-rlF', old, venv]);
      const left = list.stdout.split('\n').filter(Boolean);
      const binaries = new Set(report.binaries.map((b) => join(venv, b.path)));
      check = { left: left.length, unexplained: left.filter((p) => !binaries.has(p)) };
    }
    target.restore();
    say(
      `${factor}x phases ${i + 1}/${phaseRuns}: ${JSON.stringify(report.timings, (k, v) => (typeof v === 'number' ? Math.round(v) : v))}`,
    );
  }
  const tool = [];
  const floors = [];
  for (let i = 0; i < runs; i++) {
    const venv = target.prepare();
    floors.push(floor(old, venv));
    const r = timed(process.execPath, [cli, '--update-path', venv, venv]);
    const expected = `Updated: ${venv} (${old} -> ${venv})`;
    if (r.status !== 0 || r.stdout.trim() !== expected) {
      throw new Error(
        `venv-tools --update-path failed (exit ${r.status}):\n${r.stdout}${r.stderr}`,
      );
    }
    tool.push(r);
    target.restore();
    say(
      `${factor}x run ${i + 1}/${runs}: venv-tools ${(r.wallMs / 1000).toFixed(2)} s, ${r.rssMB.toFixed(0)} MB; floor ${(floors.at(-1).wallMs / 1000).toFixed(2)} s`,
    );
  }
  const rep = phases[0].report;
  const pick = (k) => median(phases.map((p) => p[k]));
  return {
    factor,
    // The venv's own size; the report's stats.bytes counts what was read, and a file found to
    // hold the path in its first MiB is not read to the end in the search.
    files: target.template.counts.files,
    bytes: target.template.counts.bytes,
    toolStats: rep.stats,
    rewritten: rep.changes.length,
    counts: rep.counts,
    wallMs: median(tool.map((r) => r.wallMs)),
    wallAll: tool.map((r) => r.wallMs),
    rssMB: Math.max(...tool.map((r) => r.rssMB)),
    floorMs: median(floors.map((r) => r.wallMs)),
    floorAll: floors.map((r) => r.wallMs),
    floorRssMB: Math.max(...floors.map((r) => r.rssMB)),
    phases: Object.fromEntries(
      ['walk', 'search', 'plan', 'journal', 'apply', 'total', 'wallMs', 'rssMB'].map((k) => [
        k,
        pick(k),
      ]),
    ),
    check,
  };
}

/** Whole-process wall time of an empty node and of `venv-tools --help`: the fixed cost. */
function startup() {
  const best = (args) => {
    const times = [];
    for (let i = 0; i < 7; i++) times.push(timed(process.execPath, args).wallMs);
    return Math.min(...times);
  };
  return { node: best(['-e', '0']), help: best([cli, '--help']) };
}

/**
 * The single executable beside the JS bundle on the same tree: `runs` rounds, each one
 * `--update-path` run of the bundle then one of the binary, on a pristine copy (put back after
 * each). Then their `--version` start-up, alternating, 15 runs each.
 */
function binaryVsBundle(target) {
  const programs = [
    { name: 'node dist/bin/venv-tools.js', cmd: process.execPath, pre: [cli] },
    { name: `dist/bin/venv-tools-linux-${process.arch}`, cmd: binary, pre: [] },
  ].map((p) => ({ ...p, runs: [], version: [] }));
  for (let i = 0; i < runs; i++) {
    for (const p of programs) {
      const venv = target.prepare();
      const r = timed(p.cmd, [...p.pre, '--update-path', venv, venv]);
      const expected = `Updated: ${venv} (${target.old} -> ${venv})`;
      if (r.status !== 0 || r.stdout.trim() !== expected) {
        throw new Error(
          `${p.name} --update-path failed (exit ${r.status}):\n${r.stdout}${r.stderr}`,
        );
      }
      p.runs.push(r);
      target.restore();
    }
    say(
      `1x binary round ${i + 1}/${runs}: ${programs.map((p) => `${p.name} ${s(p.runs.at(-1).wallMs)} s`).join(', ')}`,
    );
  }
  for (let i = 0; i < 15; i++) {
    for (const p of programs) p.version.push(must(timed(p.cmd, [...p.pre, '--version']), p.name));
  }
  return programs.map((p) => ({
    name: p.name,
    wallMs: median(p.runs.map((r) => r.wallMs)),
    wallAll: p.runs.map((r) => r.wallMs),
    rssMB: Math.max(...p.runs.map((r) => r.rssMB)),
    cpuMs: median(p.runs.map((r) => r.cpuMs)),
    versionMs: median(p.version.map((r) => r.wallMs)),
    versionBestMs: Math.min(...p.version.map((r) => r.wallMs)),
  }));
}

/** The binary's table and its verdict: not slower than the bundle (median wall time). */
function binaryTable(rows) {
  const [js, bin] = rows;
  const size = (statSync(binary).size / 1e6).toFixed(1);
  return [
    `| program | wall (s), median of ${js.wallAll.length} | every run (s) | CPU (s), median | peak RSS (MB) | \`--version\` (ms), median of 15 / best |`,
    '|---|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| \`${r.name}\` | ${s(r.wallMs)} | ${r.wallAll.map(s).join(', ')} | ${s(r.cpuMs)} | ${r.rssMB.toFixed(0)} | ${r.versionMs.toFixed(0)} / ${r.versionBestMs.toFixed(0)} |`,
    ),
    '',
    `- The binary (${size} MB) is not slower than the bundle: ${bin.wallMs <= js.wallMs ? 'met' : '**not met**'} (${(bin.wallMs / js.wallMs).toFixed(2)}x its wall time, ${(bin.cpuMs / js.cpuMs).toFixed(2)}x its CPU time; start-up ${(bin.versionMs / js.versionMs).toFixed(2)}x).`,
  ];
}

function nodeFloor(target) {
  const venv = target.prepare();
  const args = [join(here, 'node-floor.mjs'), venv, target.old, String(availableParallelism())];
  const out = JSON.parse(must(sh(process.execPath, args), 'node-floor').stdout);
  // The design floor again as whole processes, timed like venv-tools (Node's start included),
  // each right after the floor on the same tree.
  const design = [];
  const floors = [];
  for (let i = 0; i < runs; i++) {
    must(sh('sync', []), 'sync');
    floors.push(floor(target.old, venv).wallMs);
    must(sh('sync', []), 'sync');
    design.push(must(timed(process.execPath, [...args, '--design-once']), 'node-floor').wallMs);
  }
  out.process = { designMs: median(design), floorMs: median(floors), design, floors };
  // It writes back only the bytes it read, with their times to the microsecond, and removes its
  // journals: the tree is as it was (a run that failed leaves it to be checked and copied again).
  target.setPristine(true);
  return out;
}

function walkCompare(target) {
  const venv = target.prepare();
  const r = must(sh(process.execPath, [join(here, 'walk-compare.mjs'), venv, '5']), 'walk-compare');
  target.setPristine(true); // read only
  return JSON.parse(r.stdout);
}

/**
 * From a V8 .cpuprofile: self time per function (top `n`), self time per file, and the inclusive
 * time of the product's own functions (dist/src, dist/bin), which shows where each phase goes.
 */
function summariseProfile(file, n = 15) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((nd) => [nd.id, nd]));
  const parent = new Map();
  for (const nd of prof.nodes) for (const c of nd.children ?? []) parent.set(c, nd.id);
  const self = new Map();
  // timeDeltas[i] is the time since the previous sample; it is spent in samples[i - 1]'s frame.
  for (let i = 0; i < prof.samples.length; i++) {
    const dt = (prof.timeDeltas[i + 1] ?? 0) / 1000;
    self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + dt);
  }
  const where = (id) => {
    const { functionName, url, lineNumber } = byId.get(id).callFrame;
    const short = url.replace(/^file:\/\//, '').replace(`${repo}/`, '');
    return {
      name: functionName || '(anonymous)',
      short,
      key: `${functionName || '(anonymous)'} ${short ? `${short}:${lineNumber + 1}` : ''}`.trim(),
    };
  };
  const fn = new Map();
  const byFile = new Map();
  const inclusive = new Map();
  let total = 0;
  for (const [id, ms] of self) {
    const { name, short, key } = where(id);
    fn.set(key, (fn.get(key) ?? 0) + ms);
    const f = short === '' ? name : short.startsWith('node:') ? 'node: built-ins' : short;
    byFile.set(f, (byFile.get(f) ?? 0) + ms);
    total += ms;
    const seen = new Set();
    for (let a = id; a !== undefined; a = parent.get(a)) {
      const w = where(a);
      if (!w.short.startsWith('dist/src/') || seen.has(w.key)) continue;
      seen.add(w.key);
      inclusive.set(w.key, (inclusive.get(w.key) ?? 0) + ms);
    }
  }
  const top = (m, k) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, k)
      .map(([name, ms]) => ({ name, ms, share: ms / total }));
  return {
    totalMs: total,
    functions: top(fn, n),
    files: top(byFile, 10),
    inclusive: top(inclusive, 20),
  };
}

function profileRun(target) {
  const venv = target.prepare();
  rmSync(profileDir, { recursive: true, force: true });
  mkdirSync(profileDir, { recursive: true });
  const r = sh(process.execPath, [
    '--cpu-prof',
    '--cpu-prof-dir',
    profileDir,
    cli,
    '--update-path',
    venv,
    venv,
  ]);
  must(r, 'venv-tools under --cpu-prof');
  target.restore();
  const file = join(
    profileDir,
    readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile')),
  );
  return { file, ...summariseProfile(file) };
}

// ---------------------------------------------------------------------------------------------
// Output

const s = (ms) => (ms / 1000).toFixed(2);
const mb = (b) => (b / 1e6).toFixed(0);

function tables(env, rows) {
  const out = [];
  out.push(
    `CPUs: ${env.cpus} (${env.cpuModel}), ${env.memGB.toFixed(0)} GiB RAM, Linux ${env.kernel}, ${env.fs}`,
  );
  out.push(`node ${env.node}, Python ${env.python}, floor: ${env.floor}; peak RSS by ${env.rss}`);
  out.push(
    `venv-tools at ${env.commit}, ${env.date}; median of ${runs} run(s) per size, each on a pristine copy, warm page cache; load average ${env.load}`,
  );
  out.push('');
  out.push(
    `| size | files | MB | rewritten | venv-tools wall (s) | MB/s | peak RSS (MB) | floor \`${floorName}\` (s) | ratio |`,
  );
  out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    out.push(
      `| ${r.factor}x | ${r.files} | ${mb(r.bytes)} | ${r.rewritten} | ${s(r.wallMs)} | ${(r.bytes / 1e6 / (r.wallMs / 1000)).toFixed(0)} | ${r.rssMB.toFixed(0)} | ${s(r.floorMs)} | ${(r.wallMs / r.floorMs).toFixed(1)} |`,
    );
  }
  out.push('');
  for (const r of rows) {
    out.push(
      `- ${r.factor}x, every run: venv-tools ${r.wallAll.map(s).join(', ')} s; floor ${r.floorAll.map(s).join(', ')} s; floor peak RSS ${r.floorRssMB.toFixed(0)} MB`,
    );
  }
  if (Number(env.load.split(' ')[0]) > env.cpus / 2) {
    out.push(
      '',
      `**The machine was busy** (load average ${env.load} on ${env.cpus} CPUs at the start): every figure is inflated and noisy.`,
    );
  }
  out.push('');
  out.push(
    `Phases (ms) reported by \`relocate --json\` (median of ${phaseRuns} separate run(s) per size):`,
  );
  out.push('');
  out.push(
    '| size | walk | read and search | plan (incl. pycs) | journal | apply | total in-process | process wall | peak RSS (MB) |',
  );
  out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const p = r.phases;
    out.push(
      `| ${r.factor}x | ${p.walk.toFixed(0)} | ${p.search.toFixed(0)} | ${p.plan.toFixed(0)} | ${p.journal.toFixed(0)} | ${p.apply.toFixed(0)} | ${p.total.toFixed(0)} | ${p.wallMs.toFixed(0)} | ${p.rssMB.toFixed(0)} |`,
    );
  }
  return out;
}

/** The design floor's paragraph for the results (bench/node-floor.mjs). */
function designFloor(nfloor) {
  const d = nfloor.design;
  const pr = nfloor.process;
  return (
    "**The design's floor**: the same reads on " +
    `${d.threads} thread(s), plus the file calls venv-tools' design adds, with no planning: ` +
    `each of the ${d.records} files holding OLD (binaries aside) journaled from its first changed byte ` +
    `(${mb(d.journaledBytes)} MB, with a crc32, one journal per thread), the journals read back, and each ` +
    'frame written in place again with fstat and futimes (the same bytes: the tree is left as it was). ' +
    `In-process, median of 3: walk ${d.walkMs.toFixed(0)} ms, read and journal ${d.journalMs.toFixed(0)} ms, ` +
    `apply ${d.applyMs.toFixed(0)} ms. As a whole process (\`--design-once\`), median of ${pr.design.length}: ` +
    `${s(pr.designMs)} s against ${s(pr.floorMs)} s for ${floorName} run just before each ` +
    `(${(pr.designMs / pr.floorMs).toFixed(2)}x the floor): venv-tools' planning has to fit in what is left of 3x.`
  );
}

function verdicts(rows) {
  const one = rows.find((r) => r.factor === 1);
  const four = rows.find((r) => r.factor === 4);
  const out = [];
  const yes = (ok) => (ok ? 'met' : '**not met**');
  if (one) {
    const ratio = one.wallMs / one.floorMs;
    out.push(
      `- Time (1x): wall ${s(one.wallMs)} s is ${ratio.toFixed(1)}x the floor ${s(one.floorMs)} s; target at most 3x: ${yes(ratio <= 3)}.`,
    );
  }
  const maxRss = Math.max(...rows.map((r) => r.rssMB));
  out.push(
    `- Memory: peak RSS ${rows.map((r) => `${r.rssMB.toFixed(0)} MB at ${r.factor}x`).join(', ')}; target at most 200 MB: ${yes(maxRss <= 200)}.`,
  );
  if (one && four) {
    const grow = four.rssMB / one.rssMB;
    out.push(
      `- Memory growth: 4x/1x peak RSS = ${grow.toFixed(2)}; target flat (we count at most 1.25 as flat): ${yes(grow <= 1.25)}.`,
    );
    const t = four.wallMs / one.wallMs;
    out.push(
      `- Growth: 4x the venv (${(four.bytes / one.bytes).toFixed(2)}x the bytes, ${(four.files / one.files).toFixed(2)}x the files) takes ${t.toFixed(2)}x the time; target at most 4.5x: ${yes(t <= 4.5)}.`,
    );
  }
  return out;
}

function correctness(rows) {
  return rows.map((r) =>
    r.check.unexplained.length === 0
      ? `- ${r.factor}x: after the run, ${r.check.left} file(s) still hold OLD, all of them binaries the report lists (never edited by design).`
      : `- ${r.factor}x: **${r.check.unexplained.length} file(s) still hold OLD that the report does not list**: ${r.check.unexplained.slice(0, 5).join(', ')}`,
  );
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const t0 = Date.now();
  if (!flag('--no-build')) build();
  const py = findPython();
  const base = await ensureBase(py, { force: flag('--regen') });
  const templates = new Map(sizes.map((f) => [f, ensureScaled(py, base, f)]));
  const env = environment(py);
  const old = base.old;
  say(`OLD = ${old}`);

  const targets = new Map(sizes.map((f) => [f, new Target(f, templates.get(f), old)]));
  const rows = [];
  for (const f of sizes) rows.push(measureSize(targets.get(f)));
  const one = targets.get(1);
  const walk = flag('--no-walk') || one === undefined ? undefined : walkCompare(one);
  const nfloor = flag('--no-walk') || one === undefined ? undefined : nodeFloor(one);
  const boot = startup();
  const bin = flag('--no-binary') || one === undefined ? undefined : binaryVsBundle(one);
  const prof = flag('--no-profile') || one === undefined ? undefined : profileRun(one);
  // pack and unpack against GNU tar (bench/archive.mjs), at 1x and the largest size asked for.
  const archiveSizes = [...new Set([Math.min(...sizes), Math.max(...sizes)])];
  const archive = flag('--no-archive')
    ? undefined
    : await archiveBench({ sizes: archiveSizes, runs });
  if (freshCopies) rmSync(runsDir, { recursive: true, force: true });

  const lines = [
    '# venv-tools benchmark results',
    '',
    'Written by `npm run bench` (bench/run.mjs); see docs/PERFORMANCE.md.',
    '',
  ];
  lines.push(
    ...tables(env, rows),
    '',
    '## Targets',
    '',
    ...verdicts(rows),
    '',
    '## Correctness check',
    '',
    ...correctness(rows),
    '',
  );
  lines.push('## Venv', '');
  lines.push(
    `Generated by bench/generate-venv.mjs with Python ${base.python.version}: ${base.counts.files} files, ${mb(base.counts.bytes)} MB, ${base.counts.pycs} pycs compiled by pip, ${base.counts.consoleScripts} scripts written by pip, ${base.packages.length} packages, OLD = \`${old}\`.`,
  );
  lines.push(
    `Files rewritten at ${rows[0].factor}x by kind: ${Object.entries(rows[0].counts)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}.`,
    '',
  );
  if (walk) {
    lines.push('## Walk: readdir (the product) vs fast-glob, 1x tree', '');
    lines.push(`| walker | median (ms) of ${walk.rounds} | entries |`, '|---|---:|---:|');
    lines.push(
      `| readdirSync withFileTypes, Buffer names (walkTree) | ${walk.readdir.medianMs.toFixed(0)} | ${walk.readdir.entries} |`,
    );
    lines.push(
      `| fast-glob sync \`**\`, dot, onlyFiles false | ${walk.fastGlob.medianMs.toFixed(0)} | ${walk.fastGlob.entries} |`,
    );
    lines.push('');
    lines.push(
      `A file named \`caf\\xe9.py\` (Latin-1): fast-glob returns ${walk.nonUtf8.fastGlobName}, and lstat of that name gives ${walk.nonUtf8.fastGlobLstat}; walkTree returns the bytes ${walk.nonUtf8.readdirName} and lstat gives ${walk.nonUtf8.readdirLstat}.`,
      '',
    );
  }
  if (bin) {
    lines.push('## The single executable beside the JS bundle, 1x tree', '');
    lines.push(
      'Alternating `--update-path NEW NEW` runs of each on the same tree, put back after each (see `Target`):',
      '',
      ...binaryTable(bin),
      '',
    );
  }
  lines.push('## Fixed cost of a process', '');
  lines.push(
    `Best of 7 whole-process runs: \`node -e 0\` ${boot.node.toFixed(0)} ms; \`venv-tools --help\` ${boot.help.toFixed(0)} ms (node's own start plus loading the CLI's modules).`,
    '',
  );
  if (nfloor) {
    const cpus = availableParallelism();
    const t1 = nfloor.threads1;
    const tn = nfloor[`threads${cpus}`];
    lines.push("## Node's own floor, 1x tree", '');
    lines.push(
      'bench/node-floor.mjs: walkTree, then openSync/readSync of every file into one reused 1 MiB buffer and `indexOf(OLD)`, in-process (no startup), median of 3:',
      '',
    );
    lines.push(
      '| threads | walk (ms) | read and search (ms) | files holding OLD |',
      '|---:|---:|---:|---:|',
    );
    lines.push(`| 1 | ${t1.walkMs.toFixed(0)} | ${t1.searchMs.toFixed(0)} | ${t1.hits} |`);
    if (tn && cpus > 1)
      lines.push(
        `| ${cpus} (worker_threads) | ${tn.walkMs.toFixed(0)} | ${tn.searchMs.toFixed(0)} | ${tn.hits} |`,
      );
    lines.push('');
    lines.push(designFloor(nfloor), '');
  }
  if (prof) {
    lines.push(
      `## CPU profile of one 1x \`--update-path\` run (\`node --cpu-prof\`, ${s(prof.totalMs)} s sampled)`,
      '',
    );
    lines.push('| self time (ms) | share | function |', '|---:|---:|---|');
    for (const f of prof.functions)
      lines.push(`| ${f.ms.toFixed(0)} | ${(f.share * 100).toFixed(1)}% | \`${f.name}\` |`);
    lines.push('', 'By file:', '', '| self time (ms) | share | file |', '|---:|---:|---|');
    for (const f of prof.files)
      lines.push(`| ${f.ms.toFixed(0)} | ${(f.share * 100).toFixed(1)}% | \`${f.name}\` |`);
    lines.push(
      '',
      "The product's functions by inclusive time (callees included):",
      '',
      '| inclusive (ms) | share | function |',
      '|---:|---:|---|',
    );
    for (const f of prof.inclusive)
      lines.push(`| ${f.ms.toFixed(0)} | ${(f.share * 100).toFixed(1)}% | \`${f.name}\` |`);
    lines.push(
      '',
      `Profile kept at \`${prof.file.replace(`${repo}/`, '')}\` (open it in Chrome DevTools > Performance).`,
      '',
    );
  }
  if (archive) lines.push(...archiveTables(archive));
  lines.push(`Bench run time: ${((Date.now() - t0) / 1000).toFixed(0)} s.`, '');
  writeFileSync(join(here, 'results.md'), lines.join('\n'));
  process.stdout.write(
    `${[...tables(env, rows), '', ...verdicts(rows), ...(nfloor ? ['', designFloor(nfloor)] : []), ...(bin ? ['', ...binaryTable(bin)] : []), ...(archive ? ['', ...archiveTables(archive)] : [])].join('\n')}\n\nWritten to bench/results.md\n`,
  );
}

main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exitCode = 1;
});

#!/usr/bin/env node
// pack and unpack against GNU tar, on the benchmark's venv (bench/generate-venv.mjs) at each size:
//
//   node bench/archive.mjs [--sizes 1,4] [--runs 3]      (npm run bench runs it too)
//
// For each size, as whole processes timed here (peak RSS from GNU time, as bench/run.mjs does),
// the median of --runs runs each:
// - pack: `tar -cf` and `tar --zstd -cf` of the venv, against `venv-tools pack` to .tar and
//   .tar.zst, and `pack --to` (relocated in the stream) to both;
// - unpack: `tar -xf` and `tar --zstd -xf` of venv-tools' archive into a new folder, followed by
//   nothing, against `venv-tools unpack` of the same archive to a new DEST (relocated in the
//   stream);
// - today's flow: `tar -xf` of a plain `tar -cf` archive, then `venv-tools --update-path`; and
//   `venv-tools unpack` of that plain archive (extract, then relocate).
// The trees are written under bench/cache/archive/ and moved to bench/cache/trash/ once measured:
// removing 1.3 GB trees took minutes on this disk (ext4 mounted with `discard`); `rm -rf
// bench/cache/trash` when convenient.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CACHE, ensureBase, ensureScaled, findPython } from './generate-venv.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const cli = join(here, '..', 'dist', 'bin', 'venv-tools.js');
const work = join(CACHE, 'archive');
const rssFile = join(CACHE, 'archive-rss.txt');

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const say = (m) => process.stderr.write(`[archive] ${m}\n`);

function timed(cmd, args) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-v', '-o', rssFile, cmd, ...args], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stdout}${r.stderr}`);
  const text = readFileSync(rssFile, 'utf8');
  const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(text);
  // CPU time (the process and the children it waited for: zstd): on a machine shared with other
  // work, wall time stretches with the load, CPU time much less.
  const user = Number(/User time \(seconds\): ([\d.]+)/.exec(text)?.[1] ?? NaN);
  const sys = Number(/System time \(seconds\): ([\d.]+)/.exec(text)?.[1] ?? NaN);
  return { ms, cpuMs: (user + sys) * 1000, rssMB: m ? Number(m[1]) / 1024 : NaN, stdout: r.stdout };
}

/** Move a folder out of the way, to bench/cache/trash/ (a rename: instant). */
function toTrash(dir) {
  if (!existsSync(dir)) return;
  const trash = join(CACHE, 'trash');
  mkdirSync(trash, { recursive: true });
  renameSync(dir, join(trash, `${Date.now()}-${dir.split('/').pop()}`));
}

function sync() {
  spawnSync('sync');
}

/** Measure one size; returns rows of { what, ms, rssMB, against }. */
function measure(factor, template, runs) {
  const dir = join(work, `x${factor}`);
  toTrash(dir);
  mkdirSync(dir, { recursive: true });
  const venv = template.venv;
  const final = join(dir, 'srv', 'app', '3f9c2e1', 'venv');
  const out = (name) => join(dir, name);
  const rows = [];
  const row = (what, fn, against) => {
    const all = [];
    for (let i = 0; i < runs; i++) {
      sync();
      all.push(fn(i));
    }
    const r = {
      what,
      ms: median(all.map((x) => x.ms)),
      cpuMs: median(all.map((x) => x.cpuMs)),
      all: all.map((x) => Math.round(x.ms)),
      rssMB: Math.max(...all.map((x) => x.rssMB)),
      against,
    };
    rows.push(r);
    say(
      `${factor}x ${what}: ${(r.ms / 1000).toFixed(2)} s (${r.all.join(', ')} ms), ${r.rssMB.toFixed(0)} MB`,
    );
    return r;
  };
  // Read the venv once: every run starts from a warm page cache.
  spawnSync('tar', ['-cf', '/dev/null', '-C', venv, '.']);

  row('tar -cf', () => timed('tar', ['-cf', out('gnu.tar'), '-C', venv, '.']));
  row(
    'venv-tools pack (.tar)',
    () => timed(process.execPath, [cli, 'pack', venv, '-o', out('vt.tar')]),
    'tar -cf',
  );
  row(
    'venv-tools pack --to (.tar)',
    () => timed(process.execPath, [cli, 'pack', venv, '-o', out('vt-to.tar'), '--to', final]),
    'tar -cf',
  );
  row('tar --zstd -cf', () => timed('tar', ['--zstd', '-cf', out('gnu.tar.zst'), '-C', venv, '.']));
  row(
    'venv-tools pack (.tar.zst)',
    () => timed(process.execPath, [cli, 'pack', venv, '-o', out('vt.tar.zst')]),
    'tar --zstd -cf',
  );
  row(
    'venv-tools pack --to (.tar.zst)',
    () => timed(process.execPath, [cli, 'pack', venv, '-o', out('vt-to.tar.zst'), '--to', final]),
    'tar --zstd -cf',
  );

  // Extraction: each run into a folder of its own (removed after the size is measured).
  let n = 0;
  const fresh = () => {
    const d = join(dir, 'x', String(n++), 'srv', 'app', '3f9c2e1', 'venv');
    mkdirSync(dirname(d), { recursive: true });
    return d;
  };
  const made = () => {
    const d = fresh();
    mkdirSync(d);
    return d;
  };
  row('tar -xf (of venv-tools .tar)', () => timed('tar', ['-xf', out('vt.tar'), '-C', made()]));
  row(
    'venv-tools unpack (.tar)',
    () => timed(process.execPath, [cli, 'unpack', out('vt.tar'), fresh()]),
    'tar -xf (of venv-tools .tar)',
  );
  row('tar --zstd -xf (of venv-tools .tar.zst)', () =>
    timed('tar', ['--zstd', '-xf', out('vt.tar.zst'), '-C', made()]),
  );
  row(
    'venv-tools unpack (.tar.zst)',
    () => timed(process.execPath, [cli, 'unpack', out('vt.tar.zst'), fresh()]),
    'tar --zstd -xf (of venv-tools .tar.zst)',
  );
  row(
    'today: tar -xf, then venv-tools --update-path',
    () => {
      const d = made();
      const a = timed('tar', ['-xf', out('gnu.tar'), '-C', d]);
      const b = timed(process.execPath, [cli, '--update-path', d, d]);
      return { ms: a.ms + b.ms, cpuMs: a.cpuMs + b.cpuMs, rssMB: Math.max(a.rssMB, b.rssMB) };
    },
    'tar -xf (of venv-tools .tar)',
  );
  row(
    'venv-tools unpack of a plain tar -cf archive',
    () => timed(process.execPath, [cli, 'unpack', out('gnu.tar'), fresh()]),
    'tar -xf (of venv-tools .tar)',
  );
  const sizes = Object.fromEntries(
    ['gnu.tar', 'vt.tar', 'gnu.tar.zst', 'vt.tar.zst'].map((f) => [f, statSync(out(f)).size]),
  );
  const result = {
    factor,
    files: template.counts.files,
    bytes: template.counts.bytes,
    rows,
    sizes,
  };
  process.stderr.write(`${archiveTables([result]).join('\n')}\n`);
  toTrash(dir);
  return result;
}

/** The results as markdown lines. */
export function archiveTables(results) {
  const lines = [
    '## pack and unpack against GNU tar',
    '',
    `Load average when done: ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')} (${availableParallelism()} CPUs).`,
    '',
  ];
  for (const r of results) {
    lines.push(
      `### ${r.factor}x: ${r.files.toLocaleString('en')} files, ${(r.bytes / 1e6).toFixed(0)} MB`,
      '',
      '| run | wall (s) | runs (ms) | CPU (s) | peak RSS (MB) | wall ratio | CPU ratio |',
      '|---|---:|---|---:|---:|---:|---:|',
    );
    const byName = new Map(r.rows.map((x) => [x.what, x]));
    for (const x of r.rows) {
      const base = x.against === undefined ? undefined : byName.get(x.against);
      lines.push(
        `| ${x.what} | ${(x.ms / 1000).toFixed(2)} | ${x.all.join(', ')} | ${(x.cpuMs / 1000).toFixed(2)} | ${x.rssMB.toFixed(0)} | ${base ? `${(x.ms / base.ms).toFixed(2)}x ${x.against}` : ''} | ${base ? `${(x.cpuMs / base.cpuMs).toFixed(2)}x` : ''} |`,
      );
    }
    lines.push(
      '',
      `Archive sizes: ${Object.entries(r.sizes)
        .map(([k, v]) => `${k} ${(v / 1e6).toFixed(0)} MB`)
        .join(', ')}.`,
      '',
    );
  }
  return lines;
}

/** Run the archive benchmark for these sizes (the templates are generated if missing). */
export async function archiveBench({ sizes, runs }) {
  if (!existsSync(cli)) throw new Error(`${cli} is not built (npm run build)`);
  const py = findPython();
  const base = await ensureBase(py);
  const results = [];
  for (const f of sizes) results.push(measure(f, ensureScaled(py, base, f), runs));
  return results;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const opt = (name, fallback) => {
    const i = process.argv.indexOf(name);
    return i === -1 ? fallback : process.argv[i + 1];
  };
  const results = await archiveBench({
    sizes: opt('--sizes', '1,4').split(',').map(Number),
    runs: Math.max(1, Number(opt('--runs', '3'))),
  });
  process.stdout.write(`${archiveTables(results).join('\n')}\n`);
}

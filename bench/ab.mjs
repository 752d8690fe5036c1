#!/usr/bin/env node
// Alternating rounds: time builds or settings of venv-tools against each other (and the floor) on
// the bench's kept copy of a venv, one after the other in every round, so that the machine's
// changing load falls on all of them alike. On a noisy VM a difference of a few percent shows
// only as a median over many rounds, and a CPU figure helps where wall times overlap.
//
//   node bench/ab.mjs [--rounds 10] [--size 1] VARIANT...
//
// A VARIANT is a path to a venv-tools.js (a build's dist/bin/venv-tools.js), optionally preceded
// by environment variables and node flags, or `rg` for the floor:
//
//   node bench/ab.mjs dist/bin/venv-tools.js /tmp/old/dist/bin/venv-tools.js
//   node bench/ab.mjs rg dist/bin/venv-tools.js 'VENV_TOOLS_THREADS=1 dist/bin/venv-tools.js'
//   node bench/ab.mjs dist/bin/venv-tools.js '--max-semi-space-size=4 dist/bin/venv-tools.js'
//
// Each venv-tools run is `--update-path NEW NEW` on bench/cache/runs/x<size>/srv/app/3f9c2e1/venv
// (made by `npm run bench`), after `sync`; this build's CLI then relocates the tree back to OLD.
// CPU is read from /proc every 3 ms while it runs, in 10 ms ticks of user + system time: the
// main thread's, the busiest other thread's (the planning worker, when there is one: every thread
// is named "node", and each of V8's compiler threads takes far less) and the rest (V8's compiler
// and GC threads, libuv's). Before the first round and after the last, the tree's per-file counts
// of OLD must equal those of the cached venv it was copied from; the copy is marked as not
// pristine while the rounds run, so that a bench run after an interrupted one makes it again.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { setInterval, clearInterval } from 'node:timers';
import { fileURLToPath } from 'node:url';
import { fingerprint } from './tree.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..');
const cli = join(repo, 'dist', 'bin', 'venv-tools.js');

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i === -1 ? fallback : process.argv[i + 1];
}
const rounds = Math.max(1, Number(option('--rounds', '10')));
const size = Number(option('--size', '1'));
const variants = [];
for (let i = 2; i < process.argv.length; i++) {
  if (['--rounds', '--size'].includes(process.argv[i])) i++;
  else variants.push(process.argv[i]);
}
if (variants.length === 0) {
  process.stderr.write('usage: node bench/ab.mjs [--rounds N] [--size N] VARIANT...\n');
  process.exit(2);
}

const root = join(here, 'cache', 'runs', `x${size}`);
const venv = join(root, 'srv', 'app', '3f9c2e1', 'venv');
let state;
try {
  state = JSON.parse(readFileSync(join(root, 'state.json'), 'utf8'));
} catch {
  process.stderr.write(
    `no kept copy at ${root}: run \`node bench/run.mjs --sizes ${size} --runs 1\` first\n`,
  );
  process.exit(2);
}
// The cached venv this copy was made from, and OLD: the path the generator built the 1x venv at,
// which every size's files hold (2x and 4x replicate the 1x venv's files as they are).
const template = state.template;
const old = template.replace(/\/x\d+\/app\/venv$/, '/x1/app/venv');
if (!existsSync(old)) {
  process.stderr.write(`${old} (the 1x venv, OLD) is missing: run \`npm run bench\` first\n`);
  process.exit(2);
}
const commands = variants.map(command);

const expected = fingerprint(old, template);
if (fingerprint(old, venv) !== expected) {
  process.stderr.write(
    `${venv} is not a pristine copy of ${template}: run \`node bench/run.mjs --sizes ${size} --runs 1\` first\n`,
  );
  process.exit(2);
}
// Relocations in between: if this is stopped, the next bench run checks the copy and makes it again.
writeFileSync(join(root, 'state.json'), JSON.stringify({ ...state, pristine: false }) + '\n');

/** Parse a VARIANT into the command to run. */
function command(v) {
  if (v === 'rg') return { cmd: 'rg', args: ['-c', '-uuu', '-F', old, venv], env: {}, tool: false };
  const words = v.split(/\s+/).filter(Boolean);
  const env = {};
  const flags = [];
  let js;
  for (const w of words) {
    if (/^[A-Z_][A-Z0-9_]*=/.test(w)) env[w.slice(0, w.indexOf('='))] = w.slice(w.indexOf('=') + 1);
    else if (w.startsWith('-')) flags.push(w);
    else js = resolve(w);
  }
  if (js === undefined || !existsSync(js))
    throw new Error(`${v}: no venv-tools.js in this variant`);
  return {
    cmd: process.execPath,
    args: [...flags, js, '--update-path', venv, venv],
    env,
    tool: true,
  };
}

/** CPU ticks (user + system) of each thread of a process, by thread id. */
function ticks(pid) {
  const out = new Map();
  let tids;
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const t of tids) {
    try {
      const s = readFileSync(`/proc/${pid}/task/${t}/stat`, 'latin1');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      out.set(Number(t), Number(f[11]) + Number(f[12]));
    } catch {
      // the thread ended
    }
  }
  return out;
}

async function runOnce({ cmd, args, env }) {
  spawnSync('sync');
  const t0 = process.hrtime.bigint();
  const p = spawn(cmd, args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stderr = '';
  p.stderr.on('data', (d) => (stderr += d));
  const last = new Map();
  let hwm = 0;
  const sample = () => {
    for (const [k, v] of ticks(p.pid)) last.set(k, v);
    try {
      const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${p.pid}/status`, 'latin1'));
      if (m) hwm = Math.max(hwm, Number(m[1]));
    } catch {
      // gone
    }
  };
  const iv = setInterval(sample, 3);
  const code = await new Promise((res) => p.on('exit', res));
  const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
  clearInterval(iv);
  if (code !== 0 && cmd !== 'rg')
    throw new Error(`${cmd} ${args.join(' ')} exited ${code}:\n${stderr}`);
  const main = last.get(p.pid) ?? 0;
  const worker = [...last].reduce((m, [t, v]) => (t === p.pid ? m : Math.max(m, v)), 0);
  const total = [...last.values()].reduce((m, v) => m + v, 0);
  return { wallMs, main, worker, rest: total - main - worker, hwmMB: hwm / 1024 };
}

const results = commands.map(() => []);
for (let r = 0; r < rounds; r++) {
  for (let i = 0; i < commands.length; i++) {
    results[i].push(await runOnce(commands[i]));
    if (commands[i].tool) {
      const back = spawnSync(process.execPath, [cli, 'relocate', venv, '--to', old], {
        encoding: 'utf8',
      });
      if (back.status !== 0) throw new Error(`relocating back failed:\n${back.stderr}`);
    }
  }
  process.stderr.write(`round ${r + 1}/${rounds}\n`);
}
if (fingerprint(old, venv) !== expected) throw new Error(`${venv} no longer matches ${template}`);
writeFileSync(join(root, 'state.json'), JSON.stringify({ ...state, pristine: true }) + '\n');

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const base = median(results[0].map((x) => x.wallMs));
process.stdout.write(`${rounds} alternating rounds on ${venv} (${size}x); medians:\n\n`);
process.stdout.write(
  '| variant | wall (ms) | x first | CPU main / busiest other / rest (10 ms ticks) | peak RSS (MB) | walls (ms) |\n|---|---:|---:|---|---:|---|\n',
);
variants.forEach((v, i) => {
  const rs = results[i];
  const wall = median(rs.map((x) => x.wallMs));
  const cpu = ['main', 'worker', 'rest'].map((k) => median(rs.map((x) => x[k]))).join(' / ');
  process.stdout.write(
    `| \`${v}\` | ${wall.toFixed(0)} | ${(wall / base).toFixed(2)} | ${cpu} | ${median(rs.map((x) => x.hwmMB)).toFixed(0)} | ${rs.map((x) => x.wallMs.toFixed(0)).join(' ')} |\n`,
  );
});

/**
 * A timeline for performance work: with VENV_TOOLS_TRACE=1 each thread prints, to stderr, a line
 * per step it reaches (`trace M 212.4 walk end`: thread, ms since the process started, step).
 * VENV_TOOLS_TRACE=2 also times every call through the `fs` object, and the steps asked to (a
 * pass's end) print each thread's sums since the last one (`readSync:227/13724`: ms / calls).
 * Written with a blocking write so that a worker's lines are not lost when the process exits.
 * Off, it costs one comparison per step. VENV_TOOLS_TRACE=3 adds, to each line, the CPU time
 * this thread has used (`cpu 310+120`: user + system ms, from /proc, in steps of 10 ms) and, on
 * the main thread, the whole process's (`proc 900+300`: V8's compiler and GC threads count there
 * too), then this isolate's heap used/total, the part of it its young generation takes, its
 * ArrayBuffers and the process's resident set, in MB. docs/PERFORMANCE.md shows how it was used.
 */
import { readFileSync, writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
import { isMainThread } from 'node:worker_threads';
import { fs } from './fs.js';

const level = process.env['VENV_TOOLS_TRACE'];
const on = level === '1' || level === '2' || level === '3';
const sums = new Map<string, { ms: number; calls: number }>();

if (level === '2') {
  const table = fs as unknown as Record<string, unknown>;
  for (const [name, f] of Object.entries(table)) {
    if (typeof f !== 'function') continue;
    const call = f as (...args: unknown[]) => unknown;
    table[name] = (...args: unknown[]) => {
      const t = performance.now();
      try {
        return call(...args);
      } finally {
        const s = sums.get(name) ?? { ms: 0, calls: 0 };
        s.ms += performance.now() - t;
        s.calls++;
        sums.set(name, s);
      }
    };
  }
}

/** Mark a step; with `totals`, also print (and reset) this thread's fs call sums. */
export function trace(step: string, totals = false): void {
  if (!on) return;
  let line = `trace ${isMainThread ? 'M' : 'W'} ${(process.uptime() * 1000).toFixed(1)} ${step}`;
  if (totals) {
    for (const [name, s] of sums) line += ` ${name}:${s.ms.toFixed(0)}/${s.calls}`;
    sums.clear();
  }
  if (level === '3') line += cpuNow();
  writeSync(2, `${line}\n`);
}

/** ` cpu user+sys` of this thread (Linux), and ` proc user+sys` of the process on the main one. */
function cpuNow(): string {
  let out = '';
  try {
    // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
    const stat = readFileSync('/proc/thread-self/stat', 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out += ` cpu ${Number(f[11]) * 10}+${Number(f[12]) * 10}`;
  } catch {
    // not Linux
  }
  if (isMainThread) {
    const u = process.cpuUsage();
    out += ` proc ${(u.user / 1000).toFixed(0)}+${(u.system / 1000).toFixed(0)}`;
  }
  // This isolate's heap, and the process's resident set, in MB.
  const m = process.memoryUsage();
  const mb = (n: number) => (n / 1048576).toFixed(0);
  const young = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  out += ` heap ${mb(m.heapUsed)}/${mb(m.heapTotal)} young ${mb(young?.space_size ?? 0)}`;
  out += ` ab ${mb(m.arrayBuffers)} rss ${mb(m.rss)}`;
  return out;
}

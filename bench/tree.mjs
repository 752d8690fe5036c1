// What bench/run.mjs and bench/ab.mjs both need of a kept venv copy: its fingerprint, and file
// times put back exactly.
import { spawnSync } from 'node:child_process';

/** True when ripgrep is installed (the floor and the fingerprint use it; grep otherwise). */
export const hasRg = spawnSync('rg', ['--version']).status === 0;

/**
 * A tree's fingerprint: the per-file counts of OLD below `dir`, keyed by path below it (what the
 * floor counts). Two copies of one venv have the same fingerprint.
 */
export function fingerprint(old, dir) {
  const [cmd, args] = hasRg ? ['rg', ['-c', '-uuu', '-F', old, dir]] : ['grep', ['-rcF', old, dir]];
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 256 << 20 });
  if (r.error || r.status !== 0) {
    throw new Error(
      `${cmd} on ${dir} failed (${r.error?.message ?? `exit ${r.status}`}): ${r.stderr}`,
    );
  }
  return r.stdout
    .split('\n')
    .filter((l) => l !== '' && !l.endsWith(':0'))
    .map((l) => l.slice(dir.length + 1))
    .sort()
    .join('\n');
}

/**
 * A file time for futimes, exact to the microsecond: libuv truncates the double it is given, and
 * a double of ~1.8e9 s holds only ~0.24 us, so aim half a microsecond above.
 */
export function seconds(ns) {
  return (Number(ns / 1000n) + 0.5) / 1e6;
}

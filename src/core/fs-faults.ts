/**
 * Fault injection for tests of a spawned CLI: `VENV_TOOLS_FAULTS` makes chosen fs calls fail
 * with a chosen errno, so the reliability tests can check what ENOSPC, EIO or EACCES do without
 * a full disk. Unset (always, outside tests), it does nothing.
 *
 * Format: rules separated by `;`, each `CALL:ERRNO:TEXT[:SKIP[:TIMES]]`. A call to `fs.CALL`
 * whose path (for fd calls: the path the fd was opened with) contains TEXT fails with ERRNO,
 * after SKIP matching calls have gone through; TIMES calls fail, then the rule is spent
 * (every later call fails when TIMES is absent).
 *
 * Pseudo-errnos stand for a crash or a pause at that exact point, for the crash and
 * concurrency tests: `KILL` sends the process SIGKILL instead of making the call, `KILL-AFTER`
 * makes the call and then does (so a write lands, and the truncate and times after it do not:
 * a torn file), and `STOP` sends it SIGSTOP, then makes the call once it is continued (a run
 * frozen while it holds the lock). `SIGINT` and `SIGTERM` send the process that signal, then
 * make the call: a Ctrl-C or a `kill` that arrives at that exact point of a run.
 */
import { fs, type Fs } from './fs.js';

interface Rule {
  readonly call: string;
  readonly errno: string;
  readonly text: string;
  skip: number;
  times: number;
}

function parseRules(spec: string): Rule[] {
  return spec
    .split(';')
    .filter((s) => s.trim() !== '')
    .map((s) => {
      const [call = '', errno = 'EIO', text = '', skip = '0', times = ''] = s.split(':');
      return {
        call,
        errno,
        text,
        skip: Number.parseInt(skip, 10) || 0,
        times: times === '' ? Infinity : Number.parseInt(times, 10) || 0,
      };
    });
}

function pathText(p: unknown): string {
  if (typeof p === 'string') return p;
  if (Buffer.isBuffer(p)) return p.toString('utf8');
  return '';
}

/** Install the faults described by `spec` on the shared fs object. */
export function installFaults(spec: string): void {
  const rules = parseRules(spec);
  if (rules.length === 0) return;
  const fdPaths = new Map<number, string>();
  const target = fs as unknown as Record<string, (...args: unknown[]) => unknown>;
  const originals = { ...target };
  /** Throws the injected fault; true when the process must die right after the call. */
  const check = (call: string, where: string): boolean => {
    for (const r of rules) {
      if (r.call !== call || !where.includes(r.text)) continue;
      if (r.skip > 0) {
        r.skip--;
        continue;
      }
      if (r.times <= 0) continue;
      r.times--;
      if (r.errno === 'KILL') process.kill(process.pid, 'SIGKILL');
      if (r.errno === 'KILL-AFTER') return true;
      if (r.errno === 'SIGINT' || r.errno === 'SIGTERM') {
        process.kill(process.pid, r.errno);
        return false;
      }
      if (r.errno === 'STOP') {
        r.times = 0; // once: the continued run goes on undisturbed
        process.kill(process.pid, 'SIGSTOP');
        return false;
      }
      const err = new Error(
        `${r.errno}: injected fault, ${call} '${where}'`,
      ) as NodeJS.ErrnoException;
      err.code = r.errno;
      throw err;
    }
    return false;
  };
  for (const call of new Set(rules.map((r) => r.call))) {
    const orig = originals[call];
    if (typeof orig !== 'function') continue;
    target[call] = (...args: unknown[]) => {
      const first = args[0];
      const where = typeof first === 'number' ? (fdPaths.get(first) ?? '') : pathText(first);
      const killAfter = check(call, where);
      const result = orig(...args);
      if (killAfter) process.kill(process.pid, 'SIGKILL');
      return result;
    };
  }
  const open = target.openSync as Fs['openSync'];
  target.openSync = ((...args: Parameters<Fs['openSync']>) => {
    const fd = open(...args);
    fdPaths.set(fd, pathText(args[0]));
    return fd;
  }) as unknown as (...args: unknown[]) => unknown;
}

/** Install faults from `VENV_TOOLS_FAULTS`, if set. */
export function installFaultsFromEnv(env: NodeJS.ProcessEnv = process.env): void {
  const spec = env.VENV_TOOLS_FAULTS;
  if (spec !== undefined && spec !== '') installFaults(spec);
}

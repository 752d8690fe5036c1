/**
 * Spawning for the test kit: always an argv array, never a shell string, so that paths with
 * spaces, quotes, `$` or non-ASCII bytes reach the program exactly as they are.
 */
import { spawn } from 'node:child_process';
import * as os from 'node:os';

/** What a finished process left behind. `error` is set when it could not be started at all. */
export interface RunResult {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: Buffer;
  readonly stderr: Buffer;
  readonly error?: Error;
}

/** Options of `run`. */
export interface RunOptions {
  /** "/" by default, so that the current folder never lends a module to `python -c`. */
  readonly cwd?: string;
  /** `cleanEnv()` by default. */
  readonly env?: NodeJS.ProcessEnv;
  /** Kill the child after this long (5 minutes by default): a guard against hangs, not a check. */
  readonly timeoutMs?: number;
}

/** Run `file` with `args` (no shell) and collect its output. Never rejects. */
export function run(
  file: string,
  args: readonly string[],
  opts: RunOptions = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let spawnError: Error | undefined;
    const child = spawn(file, args, {
      cwd: opts.cwd ?? '/',
      env: opts.env ?? cleanEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // Our own timer, not spawn's `timeout`: Node 20 clears that one on 'exit' only, which a
    // child that failed to start (ENOENT from a missing #! interpreter) never emits, so the
    // timer would keep the test process alive for its whole length.
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 300_000);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      spawnError = e;
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      const result = {
        status,
        signal,
        stdout: Buffer.concat(out),
        stderr: Buffer.concat(err),
      };
      resolve(spawnError === undefined ? result : { ...result, error: spawnError });
    });
  });
}

/** Like `run`, but throws with the command and its stderr when it does not exit 0. */
export async function runOk(
  file: string,
  args: readonly string[],
  opts: RunOptions = {},
): Promise<RunResult> {
  const r = await run(file, args, opts);
  if (r.error !== undefined || r.status !== 0) {
    throw new Error(`${describeCommand(file, args)} failed: ${describeFailure(r)}`);
  }
  return r;
}

/** `file arg arg`, each word JSON-quoted when it holds anything unusual; for messages only. */
export function describeCommand(file: string, args: readonly string[]): string {
  return [file, ...args].map((w) => (/^[\w./=:@%+,-]+$/.test(w) ? w : JSON.stringify(w))).join(' ');
}

/** One line saying how a run went wrong, with the end of its stderr. */
export function describeFailure(r: RunResult): string {
  if (r.error !== undefined) return `could not start (${r.error.message})`;
  const how = r.signal !== null ? `was killed by ${r.signal}` : `exited ${String(r.status)}`;
  const tail = tailOf(r.stderr.length > 0 ? r.stderr : r.stdout);
  return tail === '' ? how : `${how}: ${tail}`;
}

function tailOf(b: Buffer): string {
  const lines = b.toString('utf8').trim().split('\n');
  return lines.slice(-6).join(' | ');
}

// pip reads PIP_* variables and /etc/pip.conf (this machine points them at a local wheel
// mirror and index); virtualenv reads VIRTUALENV_*; an inherited VIRTUAL_ENV, PYTHONPATH or
// PYTHONHOME would change what the interpreter under test sees. None of them may leak in.
const DROPPED =
  /^(PIP_|VIRTUALENV_|PYTHON|CONDA_|VIRTUAL_ENV$|PYENV_VERSION$|__PYVENV_LAUNCHER__$)/;

/**
 * The environment every kit process gets: the caller's, minus anything that configures pip,
 * virtualenv or Python, plus `PIP_CONFIG_FILE=/dev/null` (pip then loads no config file at all,
 * global ones included) and `extra`.
 */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !DROPPED.test(k)) env[k] = v;
  }
  env['PIP_CONFIG_FILE'] = os.devNull;
  env['PIP_DISABLE_PIP_VERSION_CHECK'] = '1';
  env['PIP_NO_INPUT'] = '1';
  env['PYTHONNOUSERSITE'] = '1';
  return { ...env, ...extra };
}

/** Parse `env -0` output into raw values. */
export function parseEnv0(out: Buffer): Map<string, Buffer> {
  const vars = new Map<string, Buffer>();
  let start = 0;
  while (start < out.length) {
    let end = out.indexOf(0, start);
    if (end === -1) end = out.length;
    const entry = out.subarray(start, end);
    const eq = entry.indexOf(0x3d);
    if (eq > 0) vars.set(entry.subarray(0, eq).toString('latin1'), entry.subarray(eq + 1));
    start = end + 1;
  }
  return vars;
}

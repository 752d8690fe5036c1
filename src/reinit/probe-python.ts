import { spawnSync } from 'node:child_process';
import { VenvToolsError } from '../core/errors.js';
import { bytesToUtf8, fromBytes, type ByteString } from '../core/path-boundary.js';

/** What one run of an interpreter says about itself. Paths are byte strings. */
export interface PythonInfo {
  /** `3.11.2` */
  readonly version: string;
  /** `3.11.2.final.0`, virtualenv's `version_info` form. */
  readonly versionInfo: string;
  /** `3.11` */
  readonly majorMinor: string;
  /** `sys.implementation.name`: `cpython`, `pypy`. */
  readonly implementation: string;
  /** `sys.executable`, as the interpreter computed it. */
  readonly executable: ByteString;
  /** `os.path.realpath(sys.executable)`. */
  readonly realExecutable: ByteString;
  readonly prefix: ByteString;
  readonly execPrefix: ByteString;
  /** `sys.base_prefix`; differs from `prefix` only inside a virtual environment. */
  readonly basePrefix: ByteString;
  readonly baseExecPrefix: ByteString;
  /** `sys._base_executable` (3.7+; `sys.executable` before). */
  readonly baseExecutable: ByteString;
  /** The first four bytes of the pycs it writes (`importlib.util.MAGIC_NUMBER`), as an integer. */
  readonly magic?: number;
}

const MARK = 'venv-tools-probe=1';

/**
 * The probe, run with `-E -s -c` so PYTHONHOME, PYTHONPATH and the user site cannot change the
 * answer. It must run on Python 2.7 too (no f-strings), so that pointing `--python` at a
 * python2 gives the version-mismatch message rather than a syntax error. Paths are printed as
 * hex of their bytes (`os.fsencode` form): a non-UTF-8 prefix survives, and no path can break
 * the line format.
 */
export const PROBE_SCRIPT = `import sys, os, binascii
def h(s):
    if not isinstance(s, bytes):
        s = s.encode(sys.getfilesystemencoding(), 'surrogateescape')
    return binascii.hexlify(s).decode('ascii')
i = sys.version_info
exe = sys.executable or ''
impl = getattr(getattr(sys, 'implementation', None), 'name', None)
if impl is None:
    import platform
    impl = platform.python_implementation().lower()
base_prefix = getattr(sys, 'base_prefix', getattr(sys, 'real_prefix', sys.prefix))
base_exec_prefix = getattr(sys, 'base_exec_prefix', base_prefix)
try:
    from importlib.util import MAGIC_NUMBER as magic
except ImportError:
    import imp
    magic = imp.get_magic()
lines = [
    '${MARK}',
    'version=%d.%d.%d' % tuple(i[:3]),
    'version_info=' + '.'.join([str(x) for x in i]),
    'implementation=' + impl,
    'executable=' + h(exe),
    'real_executable=' + (h(os.path.realpath(exe)) if exe else ''),
    'prefix=' + h(sys.prefix),
    'exec_prefix=' + h(sys.exec_prefix),
    'base_prefix=' + h(base_prefix),
    'base_exec_prefix=' + h(base_exec_prefix),
    'base_executable=' + h(getattr(sys, '_base_executable', None) or exe),
    'magic=' + binascii.hexlify(magic).decode('ascii'),
]
sys.stdout.write('\\n'.join(lines) + '\\n')
`;

/** The arguments that run the probe. */
export const PROBE_ARGS: readonly string[] = ['-E', '-s', '-c', PROBE_SCRIPT];

/** Parse the probe's stdout; undefined when it is not the probe's answer. */
export function parseProbeOutput(stdout: Buffer): PythonInfo | undefined {
  const fields = new Map<string, string>();
  let marked = false;
  for (const line of stdout.toString('latin1').split(/\r?\n/)) {
    if (line === MARK) marked = true;
    const eq = line.indexOf('=');
    if (eq > 0) fields.set(line.slice(0, eq), line.slice(eq + 1));
  }
  if (!marked) return undefined;
  const text = (k: string) => fields.get(k);
  const path = (k: string): ByteString | undefined => {
    const v = fields.get(k);
    if (v === undefined || !/^(?:[0-9a-f]{2})*$/.test(v)) return undefined;
    return fromBytes(Buffer.from(v, 'hex'));
  };
  const version = text('version');
  const versionInfo = text('version_info');
  const implementation = text('implementation');
  const executable = path('executable');
  const realExecutable = path('real_executable');
  const prefix = path('prefix');
  const execPrefix = path('exec_prefix');
  const basePrefix = path('base_prefix');
  const baseExecPrefix = path('base_exec_prefix');
  const baseExecutable = path('base_executable');
  const magic = path('magic');
  const m = version === undefined ? null : /^(\d+)\.(\d+)\.\d+$/.exec(version);
  if (
    m === null ||
    version === undefined ||
    versionInfo === undefined ||
    implementation === undefined ||
    executable === undefined ||
    realExecutable === undefined ||
    prefix === undefined ||
    execPrefix === undefined ||
    basePrefix === undefined ||
    baseExecPrefix === undefined ||
    baseExecutable === undefined
  ) {
    return undefined;
  }
  return {
    version,
    versionInfo,
    majorMinor: `${m[1]}.${m[2]}`,
    implementation,
    executable,
    realExecutable,
    prefix,
    execPrefix,
    basePrefix,
    baseExecPrefix,
    baseExecutable,
    ...(magic?.length === 4 ? { magic: Buffer.from(magic, 'latin1').readUInt32LE(0) } : {}),
  };
}

/** How long one interpreter may take to answer; a hung EXE is refused, never waited on forever. */
const PROBE_TIMEOUT_MS = 60_000;

/** The last few lines of a child's output, for a message. */
function tail(b: Buffer | undefined): string {
  if (b === undefined) return '';
  const lines = b
    .toString('utf8')
    .trim()
    .split('\n')
    .filter((l) => l.trim() !== '');
  return lines.slice(-4).join(' | ');
}

/** Why a run failed, in words: `no such file`, `exited with status 3: …`. Undefined when it ran. */
export function describeRunFailure(r: {
  readonly error?: Error | undefined;
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr?: Buffer | undefined;
}): string | undefined {
  if (r.error !== undefined) {
    const code = (r.error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'no such file';
    if (code === 'EACCES') return 'permission denied (is it executable?)';
    if (code === 'ETIMEDOUT') return `it did not answer within ${PROBE_TIMEOUT_MS / 1000} s`;
    if (code === 'ENOEXEC') return 'not an executable format';
    return code ?? r.error.message;
  }
  if (r.signal !== null) return `it was killed by ${r.signal}`;
  if (r.status !== 0) {
    const t = tail(r.stderr);
    return `it exited with status ${String(r.status)}${t === '' ? '' : `: ${t}`}`;
  }
  return undefined;
}

/** Run `exe` with the probe and collect its answer; the raw form, for the after-check too. */
export function runProbe(
  exe: ByteString,
  env: NodeJS.ProcessEnv,
): { info: PythonInfo | undefined; failure: string | undefined } {
  const r = spawnSync(bytesToUtf8(exe), PROBE_ARGS, {
    cwd: '/',
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: PROBE_TIMEOUT_MS,
    killSignal: 'SIGKILL',
    maxBuffer: 1 << 20,
  });
  const failure = describeRunFailure(r);
  if (failure !== undefined) return { info: undefined, failure };
  const info = parseProbeOutput(r.stdout);
  if (info === undefined) {
    const t = tail(r.stdout) || tail(r.stderr);
    return {
      info: undefined,
      failure: `it did not answer like a Python interpreter${t === '' ? '' : ` (it printed: ${t})`}`,
    };
  }
  return { info, failure: undefined };
}

/**
 * Run the chosen interpreter once and learn its version, prefixes and real executable.
 * An EXE that does not run, or does not answer like Python, is refused with its error;
 * `shown` says which EXE it was and how it was found, for the message.
 */
export function probePython(exe: ByteString, env: NodeJS.ProcessEnv, shown: string): PythonInfo {
  const { info, failure } = runProbe(exe, env);
  if (info === undefined) {
    throw new VenvToolsError(
      'REINIT',
      `cannot use ${shown}: ${failure ?? 'no answer'}. Nothing was changed; name a working python with --python EXE.`,
      bytesToUtf8(exe),
    );
  }
  return info;
}

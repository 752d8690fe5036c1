/**
 * Compiling pycs again with the venv's own interpreter (`bin/python`), for the pycs a run could
 * not keep (the planner's `drop`, journal record `regenerate`). Python would rebuild them itself
 * on the next import, but only where it may write, and only at the cost of that import: a
 * relocation that can leave them built leaves them built.
 *
 * The interpreter runs with `-I -S`: no environment variables, no user site, no site-packages,
 * so that nothing of the venv (a .pth, a sitecustomize) runs while it is being relocated.
 */
import { spawnSync } from 'node:child_process';
import { errnoOf } from '../core/errors.js';
import { fs } from '../core/fs.js';
import { bytesToUtf8, toBytes, type ByteString } from '../core/path-boundary.js';
import type { PycCompiler, Regeneration } from '../plan/planner.js';

/** The venv's interpreter, relative to its root (POSIX layouts). */
export const VENV_PYTHON = 'bin/python';

/** Whether the venv's interpreter runs here, and the cache tag of the pycs it writes. */
export type VenvPython =
  { readonly ok: true; readonly tag: string } | { readonly ok: false; readonly why: string };

/** How long compiling may take: a hung interpreter leaves the pycs removed, never waits forever. */
const TIMEOUT_MS = 10 * 60_000;

// Paths travel as hex of their bytes, so that a name that is not UTF-8 survives (os.fsdecode
// gives back the same bytes). Runs on CPython 3.6+ and PyPy 3 (invalidation_mode is 3.7+).
const PROBE = 'import sys; print(sys.implementation.cache_tag or "")';
const COMPILE = String.raw`
import json, os, py_compile, sys
def path(h): return os.fsdecode(bytes.fromhex(h))
tag = sys.implementation.cache_tag
out = []
for j in json.load(sys.stdin):
    if j["tag"] and j["tag"] != tag:
        out.append("%s writes pycs tagged %s, not %s" % (sys.executable, tag, j["tag"])); continue
    kw = {}
    if j["invalidation"]:
        m = py_compile.PycInvalidationMode
        kw["invalidation_mode"] = m.CHECKED_HASH if j["invalidation"] == 3 else m.UNCHECKED_HASH
    try:
        py_compile.compile(path(j["source"]), cfile=path(j["cfile"]), dfile=path(j["dfile"]),
                           doraise=True, optimize=j["optimize"], **kw)
        out.append("")
    except Exception as e:
        out.append(" ".join(("%s: %s" % (type(e).__name__, e)).split()))
sys.stdout.write(json.dumps(out))
`;

function runPython(
  rootAbs: ByteString,
  args: readonly string[],
  input: string | undefined,
): { out: string } | { why: string } {
  const r = spawnSync(bytesToUtf8(`${rootAbs}/${VENV_PYTHON}`), ['-I', '-S', ...args], {
    cwd: '/',
    input,
    stdio: ['pipe', 'pipe', 'pipe'],
    timeout: TIMEOUT_MS,
    killSignal: 'SIGKILL',
    maxBuffer: 64 << 20,
  });
  if (r.error !== undefined) {
    const code = (r.error as NodeJS.ErrnoException).code;
    return {
      why: code === 'ENOENT' ? `${VENV_PYTHON} leads to no interpreter` : (code ?? r.error.message),
    };
  }
  if (r.signal !== null) return { why: `${VENV_PYTHON} was killed by ${r.signal}` };
  if (r.status !== 0) {
    const last = r.stderr.toString('utf8').trim().split('\n').pop() ?? '';
    return {
      why: `${VENV_PYTHON} exited with status ${String(r.status)}${last === '' ? '' : `: ${last}`}`,
    };
  }
  return { out: r.stdout.toString('utf8') };
}

/** Run the venv's interpreter once: does it start here, and which cache tag does it write? */
export function probeVenvPython(rootAbs: ByteString): PycCompiler {
  const r = runPython(rootAbs, ['-c', PROBE], undefined);
  if ('why' in r) return { ok: false, why: r.why };
  const tag = r.out.trim();
  if (!/^[\w.-]+$/.test(tag)) return { ok: false, why: `${VENV_PYTHON} writes no pycs` };
  return { ok: true, tag };
}

/** One pyc to compile again, and its own path. */
export interface RegenerateJob {
  readonly rel: ByteString;
  readonly job: Regeneration;
}

/**
 * Compile each pyc again from its source, in one run of the venv's interpreter. Returns, for
 * each job in order, undefined when it was written, else why not (the pyc then stays removed).
 */
export function regeneratePycs(
  rootAbs: ByteString,
  jobs: readonly RegenerateJob[],
): Array<string | undefined> {
  const results: Array<string | undefined> = jobs.map(() => undefined);
  // A source that cannot be read (gone, or no permission) is not handed to the interpreter.
  const todo: number[] = [];
  jobs.forEach(({ job }, i) => {
    try {
      fs.accessSync(toBytes(`${rootAbs}/${job.source}`), fs.constants.R_OK);
      todo.push(i);
    } catch (err) {
      results[i] =
        `cannot read ${bytesToUtf8(job.source)}: ${errnoOf(err) ?? (err as Error).message}`;
    }
  });
  if (todo.length === 0) return results;
  const hex = (rel: ByteString) => toBytes(rel).toString('hex');
  const input = JSON.stringify(
    todo.map((i) => {
      const { rel, job } = jobs[i]!;
      return {
        source: hex(`${rootAbs}/${job.source}`),
        cfile: hex(`${rootAbs}/${rel}`),
        dfile: hex(job.dfile),
        invalidation: job.invalidation,
        optimize: job.optimize,
        tag: job.tag,
      };
    }),
  );
  const r = runPython(rootAbs, ['-c', COMPILE], input);
  let answers: unknown;
  if ('out' in r) {
    try {
      answers = JSON.parse(r.out);
    } catch {
      answers = undefined;
    }
  }
  const ok = Array.isArray(answers) && answers.length === todo.length;
  const failed = 'why' in r ? r.why : `${VENV_PYTHON} did not answer`;
  todo.forEach((j, k) => {
    const a: unknown = ok ? (answers as unknown[])[k] : failed;
    results[j] = a === '' ? undefined : String(a);
  });
  return results;
}

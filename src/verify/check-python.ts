import { fs } from '../core/fs.js';
import { bytesToUtf8, toBytes, type ByteString } from '../core/path-boundary.js';
import { runProbe } from '../reinit/probe-python.js';
import { result, type CheckResult } from './check-result.js';
import { realOrSelf } from '../core/real-path.js';

/** What bin/python said about itself, for the report. */
export interface PythonSeen {
  readonly version: string | null;
  readonly prefix: string | null;
  readonly basePrefix: string | null;
}

/**
 * `bin/python` starts and reports this venv as `sys.prefix`. Python finds its venv through
 * pyvenv.cfg beside or above the executable it was started as (site.py, PEP 405), so a venv
 * moved with `mv` still passes this one: its scripts and activate fail, not its python.
 * Prefixes are compared after realpath, so a venv reached through a symlink passes.
 */
export function checkPython(
  root: ByteString,
  binDir: string,
  env: NodeJS.ProcessEnv = process.env,
): { result: CheckResult; seen: PythonSeen; magic?: number } {
  const python = `${root}/${binDir}/python`;
  const shown = `${binDir}/python`;
  const none: PythonSeen = { version: null, prefix: null, basePrefix: null };
  try {
    fs.lstatSync(toBytes(python));
  } catch {
    return {
      result: result('python', `${shown} is missing`, [
        { message: `${shown} is missing`, paths: [shown] },
      ]),
      seen: none,
    };
  }
  const { info, failure } = runProbe(python, env);
  if (info === undefined) {
    return {
      result: result('python', `${shown} does not start`, [
        { message: `${shown} does not start: ${failure ?? 'no answer'}`, paths: [shown] },
      ]),
      seen: none,
    };
  }
  const seen = {
    version: info.version,
    prefix: bytesToUtf8(info.prefix),
    basePrefix: bytesToUtf8(info.basePrefix),
  };
  const summary = `${shown} runs Python ${info.version} with sys.prefix ${seen.prefix}`;
  // The pycs it writes start with this: the pycs check holds every pyc to it.
  const magic = info.magic === undefined ? {} : { magic: info.magic };
  if (realOrSelf(info.prefix) !== realOrSelf(root)) {
    return {
      result: result('python', summary, [
        {
          message: `${shown} reports sys.prefix ${seen.prefix}, not this venv ${bytesToUtf8(root)}`,
          paths: [shown],
        },
      ]),
      seen,
      ...magic,
    };
  }
  return { result: result('python', summary, []), seen, ...magic };
}

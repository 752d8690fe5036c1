import { bytesToUtf8, type ByteString } from '../core/path-boundary.js';
import { runProbe, type PythonInfo } from './probe-python.js';

/** What running the venv's `bin/python` showed after reinit. */
export interface AfterCheck {
  readonly ok: boolean;
  /** The venv's `bin/python`, absolute. */
  readonly python: string;
  /** null when it did not start. */
  readonly version: string | null;
  readonly prefix: string | null;
  readonly basePrefix: string | null;
  /** One sentence per failed expectation; empty when ok. */
  readonly problems: readonly string[];
}

/**
 * Compare what the venv's python reports with what it should: it starts, `sys.prefix` is the
 * venv, `sys.base_prefix` is the new interpreter's prefix, and the version is the new one.
 * Pure; `realpath` makes the prefix comparison immune to symlinked parents (/tmp -> /private/tmp).
 */
export function judgeAfterCheck(
  python: ByteString,
  seen: { info: PythonInfo | undefined; failure: string | undefined },
  expect: { readonly root: ByteString; readonly base: PythonInfo },
  realpath: (p: ByteString) => ByteString,
): AfterCheck {
  const { info, failure } = seen;
  const shown = bytesToUtf8(python);
  if (info === undefined) {
    return {
      ok: false,
      python: shown,
      version: null,
      prefix: null,
      basePrefix: null,
      problems: [`${shown} does not start: ${failure ?? 'no answer'}`],
    };
  }
  const problems: string[] = [];
  if (realpath(info.prefix) !== realpath(expect.root)) {
    problems.push(
      `sys.prefix is ${bytesToUtf8(info.prefix)}, not the venv ${bytesToUtf8(expect.root)}`,
    );
  }
  if (realpath(info.basePrefix) !== realpath(expect.base.basePrefix)) {
    problems.push(
      `sys.base_prefix is ${bytesToUtf8(info.basePrefix)}, not the new interpreter's prefix ${bytesToUtf8(expect.base.basePrefix)}`,
    );
  }
  if (info.version !== expect.base.version) {
    problems.push(`it runs Python ${info.version}, not ${expect.base.version}`);
  }
  return {
    ok: problems.length === 0,
    python: shown,
    version: info.version,
    prefix: bytesToUtf8(info.prefix),
    basePrefix: bytesToUtf8(info.basePrefix),
    problems,
  };
}

/** Run the venv's `bin/python` once and judge it (see judgeAfterCheck). */
export function checkVenvPython(
  root: ByteString,
  binDir: string,
  base: PythonInfo,
  env: NodeJS.ProcessEnv,
  realpath: (p: ByteString) => ByteString,
): AfterCheck {
  const python = `${root}/${binDir}/python`;
  return judgeAfterCheck(python, runProbe(python, env), { root, base }, realpath);
}

import { posix } from 'node:path';
import { RewriteError } from '../core/errors.js';
import { fromBytes, toBytes, type ByteString } from '../core/path-boundary.js';
import { INTERPRETER_KEYS } from '../kinds/pyvenv-cfg.js';
import type { PythonInfo } from './probe-python.js';

/** The new base-interpreter values, as the creators write them. Paths are byte strings. */
export interface BaseCfgValues {
  /** `home`: the folder of the interpreter as found (venv: dirname of sys._base_executable). */
  readonly home: ByteString;
  /** `executable` (venv 3.11+): os.path.realpath(sys.executable). */
  readonly executable: ByteString;
  /** `base-executable` (virtualenv): the interpreter as found, not resolved. */
  readonly baseExecutable: ByteString;
  readonly basePrefix: ByteString;
  readonly baseExecPrefix: ByteString;
  /** `3.11.2` */
  readonly version: string;
  /** `3.11.2.final.0` */
  readonly versionInfo: string;
  /** The interpreter named first in `command` (venv 3.11+ writes sys.executable there). */
  readonly interpreter: ByteString;
}

/** pyvenv.cfg keys reinit owns, in the order reports list them: the interpreter's, and `command`. */
export const BASE_CFG_KEYS = [...INTERPRETER_KEYS, 'command'] as const;

export type BaseCfgKey = (typeof BASE_CFG_KEYS)[number];

/** The values for an interpreter `info` that `bin/python` will link to at `linkTarget`. */
export function baseCfgValues(info: PythonInfo, linkTarget: ByteString): BaseCfgValues {
  return {
    home: posix.dirname(linkTarget),
    executable: info.realExecutable,
    baseExecutable: linkTarget,
    basePrefix: info.basePrefix,
    baseExecPrefix: info.baseExecPrefix,
    version: info.version,
    versionInfo: info.versionInfo,
    interpreter: linkTarget,
  };
}

/**
 * A version in the shape the old value had: virtualenv writes all of sys.version_info
 * (`3.11.2.final.0`), venv and uv three parts (`3.11.2`).
 */
function versionLike(old: string, v: BaseCfgValues): string {
  const parts = old.split('.').length;
  if (parts >= 5) return v.versionInfo;
  if (parts === 2) return v.version.split('.').slice(0, 2).join('.');
  return v.version;
}

/**
 * venv 3.11+ writes `command = {sys.executable} -m venv [options] DIR`, unquoted, so the
 * interpreter is everything before ` -m `, spaces and all. Only an absolute interpreter is
 * replaced; anything else is not what a creator wrote and is left alone.
 */
function commandWith(old: ByteString, interpreter: ByteString): ByteString | undefined {
  if (!old.startsWith('/')) return undefined;
  const m = / -m /.exec(old);
  const space = old.search(/\s/);
  const end = m !== null ? m.index : space === -1 ? old.length : space;
  return interpreter + old.slice(end);
}

/** The new value for one key, or undefined to leave the line as it is. */
function newValue(key: string, old: ByteString, v: BaseCfgValues): ByteString | undefined {
  switch (key) {
    case 'home':
      return v.home;
    case 'executable':
      return v.executable;
    case 'base-executable':
      return v.baseExecutable;
    case 'base-prefix':
      return v.basePrefix;
    case 'base-exec-prefix':
      return v.baseExecPrefix;
    case 'version':
    case 'version_info':
      return versionLike(old, v);
    case 'command':
      return commandWith(old, v.interpreter);
    default:
      return undefined;
  }
}

/**
 * Point pyvenv.cfg's base-interpreter keys at a new interpreter: `home`, `executable`,
 * `base-executable`, `base-prefix`, `base-exec-prefix`, `version`/`version_info`, and the
 * interpreter of `command`. Only keys already present are changed (each creator version writes
 * its own set); spacing around `=`, comments, other lines and line endings stay byte for byte.
 */
export function rewritePyvenvCfgBase(
  bytes: Buffer,
  ctx: { readonly values: BaseCfgValues },
): Buffer | undefined {
  for (const p of [
    ctx.values.home,
    ctx.values.executable,
    ctx.values.baseExecutable,
    ctx.values.basePrefix,
    ctx.values.baseExecPrefix,
  ]) {
    // pyvenv.cfg is one `key = value` a line; a newline in a path cannot be written into it.
    if (/[\r\n]/.test(p))
      throw new RewriteError(
        'newline',
        `a path with a line break cannot go into pyvenv.cfg: ${JSON.stringify(p)}`,
      );
  }
  const text = fromBytes(bytes);
  let changed = false;
  const out = text.split(/(?<=\n)/).map((line) => {
    const eol = /\r?\n$/.exec(line)?.[0] ?? '';
    const body = line.slice(0, line.length - eol.length);
    const eq = body.indexOf('=');
    if (eq <= 0) return line;
    // site.py (and getpath since 3.11) splits at the first '=' and strips and lower-cases the key.
    const key = body.slice(0, eq).trim().toLowerCase();
    const rest = body.slice(eq + 1);
    const lead = /^[ \t]*/.exec(rest)?.[0] ?? '';
    const trail = /[ \t]*$/.exec(rest.slice(lead.length))?.[0] ?? '';
    const old = rest.slice(lead.length, rest.length - trail.length);
    const next = newValue(key, old, ctx.values);
    if (next === undefined || next === old) return line;
    changed = true;
    return `${body.slice(0, eq + 1)}${lead}${next}${trail}${eol}`;
  });
  return changed ? toBytes(out.join('')) : undefined;
}

import { fromBytes, replacePaths, toBytes, type Mapping } from '../core/path-boundary.js';
import { INTERPRETER_KEYS } from './pyvenv-cfg.js';

/** pyvenv.cfg keys that name the base interpreter: reinit's business, never relocation's. */
const BASE_KEYS: ReadonlySet<string> = new Set(INTERPRETER_KEYS);

/**
 * Rewrite the venv's own path in pyvenv.cfg (the directory in `command = … -m venv DIR`, and any
 * other non-base line holding it). Every other byte stays, comments and line endings included.
 */
export function rewritePyvenvCfg(
  bytes: Buffer,
  ctx: { readonly mappings: readonly Mapping[] },
): Buffer | undefined {
  const text = fromBytes(bytes);
  const lines = text.split(/(?<=\n)/);
  let changed = false;
  const out = lines.map((line) => {
    const eq = line.indexOf('=');
    const key = eq > 0 ? line.slice(0, eq).trim().toLowerCase() : '';
    if (BASE_KEYS.has(key)) return line;
    const next = replacePaths(line, ctx.mappings);
    if (next === undefined) return line;
    changed = true;
    return next;
  });
  return changed ? toBytes(out.join('')) : undefined;
}

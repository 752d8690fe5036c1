/** pyvenv.cfg: the file the venv module (and virtualenv 20+) writes, `key = value` per line. */
import { type ByteString, stripTrailingSlash } from '../core/path-boundary.js';

/** Parse pyvenv.cfg into key/value pairs (keys lower-cased; the file format is `key = value`). */
export function parsePyvenvCfg(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    out.set(line.slice(0, eq).trim().toLowerCase(), line.slice(eq + 1).trim());
  }
  return out;
}

/** The venv argument of pyvenv.cfg's `command = PY -m venv [OPTIONS] DIR` (CPython 3.11+). */
export function commandVenvDir(cfg: ByteString): ByteString | undefined {
  for (const line of cfg.split(/\r?\n/)) {
    const m = /^\s*command\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    const value = (m[1] ?? '').trimEnd();
    const at = value.indexOf(' -m venv ');
    if (at === -1) continue;
    // venv writes its options as single words before the directory, which it writes last and
    // unquoted (Lib/venv/__init__.py, 3.11+); `--prompt="..."` may hold spaces.
    let rest = value.slice(at + ' -m venv '.length);
    for (;;) {
      rest = rest.trimStart();
      if (!rest.startsWith('-')) break;
      const q = /^--prompt="[^"]*"|^\S+/.exec(rest);
      rest = rest.slice(q ? q[0].length : rest.length);
    }
    if (rest.startsWith('/')) return stripTrailingSlash(rest);
  }
  return undefined;
}

/**
 * The keys that name the base interpreter the venv was made from. They belong to reinit, which
 * re-points them; a relocation never touches them.
 */
export const INTERPRETER_KEYS = [
  'home',
  'executable',
  'base-executable',
  'base-prefix',
  'base-exec-prefix',
  'version',
  'version_info',
] as const;

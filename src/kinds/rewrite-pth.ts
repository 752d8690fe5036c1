/**
 * `.pth` files, `easy-install.pth` and `*.egg-link`: one entry per line.
 *
 * site.py (3.6 to 3.13, addpackage()) reads a .pth line by line: a line starting with
 * `import ` or `import\t` is exec()'d as Python, `#` lines are comments, any other line is
 * `rstrip()`ped and joined to the site dir, so an absolute line is used as it is. An egg-link
 * (setuptools `develop`) holds the project path on line 1 and, usually, `.` on line 2; pip
 * reads line 1 with `strip()`.
 */
import { RewriteError } from '../core/errors.js';
import {
  type Mapping,
  bytesToUtf8,
  findPathMatches,
  fromBytes,
  replacePaths,
  toBytes,
} from '../core/path-boundary.js';
import { rewritePythonSource } from './rewrite-python-source.js';

const LINE = /[^\r\n]*(?:\r\n|\r|\n|$)/g;

// What Python's str.strip() removes at the ends of a line (str.isspace), as UTF-8 bytes.
function endsInSpace(s: string): boolean {
  const text = bytesToUtf8(s);
  return /[\s\x1c-\x1f\x85]$/u.test(text);
}

function startsInSpace(s: string): boolean {
  return /^[\s\x1c-\x1f\x85]/u.test(bytesToUtf8(s));
}

function rewriteLine(line: string, mappings: readonly Mapping[]): string | undefined {
  if (line.startsWith('import ') || line.startsWith('import\t')) {
    // Python code: the Python-source rule, and it must stay on one line.
    const out = rewritePythonSource(toBytes(line), { mappings });
    if (out === undefined) return undefined;
    const text = fromBytes(out);
    if (/[\r\n]/.test(text)) {
      throw new RewriteError(
        'unquotable',
        'a new path would split an `import` line of a .pth file',
      );
    }
    return text;
  }
  const matches = findPathMatches(line, mappings);
  if (matches.length === 0) return undefined;
  for (const m of matches) {
    const to = m.mapping.to;
    // A path line cannot hold a line break, and site.py/pip strip blanks at its ends.
    if (/[\r\n]/.test(to)) {
      throw new RewriteError(
        'unquotable',
        `the path ${JSON.stringify(to)} holds a line break, which a .pth line cannot hold`,
      );
    }
    if ((m.end === line.length && endsInSpace(to)) || (m.start === 0 && startsInSpace(to))) {
      throw new RewriteError(
        'unquotable',
        `the path ${JSON.stringify(to)} ends in white space, which site.py strips from a .pth line`,
      );
    }
  }
  return replacePaths(line, mappings);
}

/** Move absolute paths in a .pth or egg-link file, line by line, keeping its line endings. */
export function rewritePth(
  bytes: Buffer,
  ctx: { mappings: readonly Mapping[] },
): Buffer | undefined {
  const s = fromBytes(bytes);
  let out = '';
  let changed = false;
  for (const m of s.matchAll(LINE)) {
    const whole = m[0];
    if (whole === '') continue;
    const eol = /(?:\r\n|\r|\n)$/.exec(whole)?.[0] ?? '';
    const line = whole.slice(0, whole.length - eol.length);
    const next = rewriteLine(line, ctx.mappings);
    if (next === undefined) out += whole;
    else {
      out += next + eol;
      changed = true;
    }
  }
  return changed ? toBytes(out) : undefined;
}

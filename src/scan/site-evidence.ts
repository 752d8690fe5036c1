/**
 * Evidence of a venv location in the files that list installed paths: `.pth` and `.egg-link`
 * lines and absolute RECORD rows. A path that holds `/lib/pythonX.Y/site-packages` (or
 * `/lib/pypyX.Y/site-packages`) was written inside a venv-shaped prefix, and what stands before
 * `/lib/` is that prefix. Whether it is a venv and not a Python's own prefix is for the caller,
 * which can look at the disk, to judge.
 */
import { fromBytes, stripTrailingSlash, type ByteString } from '../core/path-boundary.js';
import { parseRecord } from '../kinds/record.js';

const SITE = /\/lib\/(?:python|pypy)\d+\.\d+\/site-packages(?:\/|$)/;

/** The venv-shaped prefix an absolute path lies in (`/v/lib/python3.12/site-packages/x` -> `/v`). */
export function venvOfSitePath(path: ByteString): ByteString | undefined {
  if (!path.startsWith('/')) return undefined;
  const m = SITE.exec(path);
  if (m === null || m.index === 0) return undefined;
  return stripTrailingSlash(path.slice(0, m.index));
}

/**
 * The path lines of a `.pth` or `.egg-link`, as site.py and pip read them: blank lines, `#`
 * comments and `import` lines (which site.py runs as code) are not paths; a path line loses
 * the white space at its end (site.py rstrip()s it, pip strip()s an egg-link's).
 */
export function pthPathLines(bytes: Buffer): Array<{ line: number; path: ByteString }> {
  const out: Array<{ line: number; path: ByteString }> = [];
  fromBytes(bytes)
    .split(/\r\n|\r|\n/)
    .forEach((raw, i) => {
      if (raw.startsWith('#') || raw.startsWith('import ') || raw.startsWith('import\t')) return;
      const path = raw.replace(/[ \t\f\v]+$/, '');
      if (path.trim() === '') return;
      out.push({ line: i + 1, path });
    });
  return out;
}

/** The venv-shaped prefixes a `.pth` or `.egg-link` names. */
export function pthLocations(bytes: Buffer): ByteString[] {
  const out: ByteString[] = [];
  for (const { path } of pthPathLines(bytes)) {
    const loc = venvOfSitePath(path.trim());
    if (loc !== undefined) out.push(loc);
  }
  return out;
}

/** The venv-shaped prefixes the absolute rows of a RECORD name. */
export function recordLocations(bytes: Buffer): ByteString[] {
  const out: ByteString[] = [];
  for (const row of parseRecord(fromBytes(bytes)).rows) {
    const loc = venvOfSitePath(row.path);
    if (loc !== undefined) out.push(loc);
  }
  return out;
}

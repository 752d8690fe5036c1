/**
 * `.pth` and `.egg-link` files of site-packages, made relative: a path line that names a place
 * inside the venv is written relative to the file's folder. site.py (3.6 to 3.13, addpackage())
 * joins a line that is not absolute to the site-packages folder it sits in, and setuptools reads
 * an egg-link's lines relative to the egg-link's folder, so the line means the same folder
 * wherever the venv is. Lines outside the venv stay as they are: they do not move with it.
 *
 * One reader does not: pip's uninstall of a `setup.py develop` project resolves its egg-link's
 * first line from the current folder (req_uninstall.py, os.path.samefile on it; pip 23.2), so
 * for a project kept inside the venv it must run from site-packages once the line is relative.
 * With the absolute line it fails just the same once the venv has moved.
 */
import { fromBytes, toBytes, type ByteString } from '../core/path-boundary.js';
import { relativeFrom, underPlace } from './venv-relative.js';

const LINE = /[^\r\n]*(?:\r\n|\r|\n|$)/g;

/** What `makePthRelative` made: the new bytes, and the lines it could not make relative. */
export interface PthOutcome {
  readonly bytes?: Buffer;
  readonly left: readonly string[];
}

/**
 * Make the path lines of a `.pth` or `.egg-link` in the venv folder `dir` relative when they
 * name one of `places`. An `import` line that names one is Python code, which this does not
 * rewrite: it is listed in `left`.
 */
export function makePthRelative(
  bytes: Buffer,
  ctx: { readonly places: readonly ByteString[]; readonly dir: ByteString },
): PthOutcome {
  const s = fromBytes(bytes);
  let out = '';
  let changed = false;
  const left: string[] = [];
  let n = 0;
  for (const m of s.matchAll(LINE)) {
    const whole = m[0];
    if (whole === '') continue;
    n++;
    const eol = /(?:\r\n|\r|\n)$/.exec(whole)?.[0] ?? '';
    const line = whole.slice(0, whole.length - eol.length);
    if (line.startsWith('import ') || line.startsWith('import\t')) {
      if (ctx.places.some((p) => line.includes(p)))
        left.push(`line ${n} is code that names the venv`);
      out += whole;
      continue;
    }
    // site.py rstrip()s a path line (and takes one that starts with a blank as relative, as it
    // is not absolute); keep the blanks at its end.
    const trail = /[ \t\f\v]*$/.exec(line)?.[0] ?? '';
    const path = line.slice(0, line.length - trail.length);
    const rel = path.startsWith('/') ? underPlace(path, ctx.places) : undefined;
    if (rel === undefined) {
      out += whole;
      continue;
    }
    out += relativeFrom(ctx.dir, rel) + trail + eol;
    changed = true;
  }
  return changed ? { bytes: toBytes(out), left } : { left };
}

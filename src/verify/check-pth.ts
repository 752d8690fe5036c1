import { posix } from 'node:path';
import { fs } from '../core/fs.js';
import { bytesToUtf8, fromBytes, toBytes, type ByteString } from '../core/path-boundary.js';
import { isVenvFolder } from '../scan/is-venv-folder.js';
import { FileSearcher } from '../scan/search-files.js';
import { pthPathLines } from '../scan/site-evidence.js';
import { plural, result, type CheckResult } from './check-result.js';
import { realOrSelf } from '../core/real-path.js';

function exists(p: ByteString): boolean {
  try {
    fs.statSync(toBytes(p));
    return true;
  } catch {
    return false;
  }
}

/** The innermost venv folder that holds `abs` (or is it), if any. */
function venvHolding(abs: ByteString): ByteString | undefined {
  for (let p = abs; p !== '/'; p = posix.dirname(p)) if (isVenvFolder(p)) return p;
  return undefined;
}

function under(p: ByteString, dir: ByteString): boolean {
  return p === dir || p.startsWith(`${dir}/`);
}

/**
 * Every path a `.pth` or `.egg-link` of site-packages adds to `sys.path` exists, and is not
 * inside another venv. site.py skips a missing one without a word, so the package behind it
 * just fails to import; one inside another venv imports that venv's packages, which are built
 * for its Python and go away with it. `foreign` are the old locations the evidence names, whose
 * fix is a relocation.
 */
export function checkPth(
  root: ByteString,
  sitePackages: string,
  foreign: readonly ByteString[],
): CheckResult {
  const siteAbs = `${root}/${sitePackages}`;
  let names: ByteString[] = [];
  try {
    names = (fs.readdirSync(toBytes(siteAbs), { encoding: 'buffer' }) as unknown as Buffer[])
      .map(fromBytes)
      .filter((n) => n.endsWith('.pth') || n.endsWith('.egg-link'))
      .sort();
  } catch {
    // no site-packages to read: nothing to check
  }
  if (names.length === 0) {
    return result('pth', `no .pth or .egg-link in ${sitePackages}`, [], [], true);
  }
  const searcher = new FileSearcher(root, []);
  const here = realOrSelf(root);
  const problems: Array<{ message: string; paths: string[] }> = [];
  let paths = 0;
  for (const name of names) {
    const rel = `${sitePackages}/${name}`;
    const r = searcher.read(rel, true);
    if (r === undefined) continue;
    let lines = pthPathLines(r.bytes);
    // pip and setuptools read an egg-link's first line; the second is relative to it.
    if (name.endsWith('.egg-link'))
      lines = lines.slice(0, 1).map((l) => ({ ...l, path: l.path.trim() }));
    for (const { line, path } of lines) {
      paths++;
      // site.py: os.path.join(sitedir, line), made absolute.
      const abs = posix.normalize(path.startsWith('/') ? path : `${siteAbs}/${path}`);
      const shown = bytesToUtf8(rel);
      const what = `${shown} line ${line} names ${bytesToUtf8(abs)}`;
      const old = foreign.find((f) => under(abs, f));
      const relocateFix =
        old === undefined
          ? undefined
          : `it is under ${bytesToUtf8(old)}, where the venv was: the relocate command below rewrites it`;
      if (!exists(abs)) {
        problems.push({
          message: `${what}, which does not exist; ${relocateFix ?? 'remove the line, or reinstall the package that wrote the file'}`,
          paths: [shown],
        });
        continue;
      }
      const venv = venvHolding(abs);
      if (venv !== undefined && realOrSelf(venv) !== here) {
        problems.push({
          message: `${what}, inside another venv (${bytesToUtf8(venv)}); ${relocateFix ?? 'remove the line, or install that package into this venv'}`,
          paths: [shown],
        });
      }
    }
  }
  const summary =
    problems.length === 0
      ? `${plural(paths, 'path')} in ${plural(names.length, '.pth or .egg-link file', '.pth and .egg-link files')} ${paths === 1 ? 'exists' : 'exist'}, outside any other venv`
      : `${plural(problems.length, 'path')} of ${paths} in ${plural(names.length, '.pth or .egg-link file', '.pth and .egg-link files')} ${problems.length === 1 ? 'is' : 'are'} gone or in another venv`;
  return result('pth', summary, problems);
}

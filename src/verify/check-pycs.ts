import { posix } from 'node:path';
import { fs } from '../core/fs.js';
import { bytesToUtf8, toBytes, type ByteString } from '../core/path-boundary.js';
import { sourceOfPyc } from '../kinds/pyc/source-of-pyc.js';
import type { Layout } from '../scan/detect-layout.js';
import { FileSearcher } from '../scan/search-files.js';
import { plural, result, someOf, type CheckResult } from './check-result.js';
import { pycProblem } from './pyc-problem.js';

function isFile(p: ByteString): boolean {
  try {
    return fs.statSync(toBytes(p)).isFile();
  } catch {
    return false;
  }
}

/**
 * The pycs the venv's interpreter loads: `__pycache__/NAME.TAG[.opt-N].pyc` with its own cache
 * tag (`cpython-312`) whose source NAME.py exists, and a legacy `x.pyc` with no `x.py` beside it
 * (a sourceless module). importlib ignores the rest: another version's tag, a cached pyc whose
 * source is gone, a legacy pyc shadowed by its source, and every `.pyo`.
 */
function loadedBy(
  rel: ByteString,
  tag: string,
  source: (rel: ByteString) => boolean,
): { sourceless: boolean } | undefined {
  if (!rel.endsWith('.pyc')) return undefined;
  const dir = posix.dirname(rel);
  const name = posix.basename(rel);
  if (posix.basename(dir) === '__pycache__') {
    const m = /^[^.]+\.([^.]+)(?:\.opt-\d+)?\.pyc$/.exec(name);
    if (m?.[1] !== tag || !source(sourceOfPyc(rel))) return undefined;
    return { sourceless: false };
  }
  return source(sourceOfPyc(rel)) ? undefined : { sourceless: true };
}

/**
 * Every pyc the venv's interpreter loads is one it accepts: its own version's magic, and a body
 * marshal can read. A cached pyc it refuses is compiled again at each import it cannot write
 * back (a read-only install); a sourceless one it refuses cannot be imported at all.
 */
export function checkPycs(
  root: ByteString,
  layout: Layout,
  pycs: readonly ByteString[],
): CheckResult {
  if (pycs.length === 0) return result('pycs', 'no pyc in the venv', [], [], true);
  if (layout.implementation !== 'cpython') {
    return result(
      'pycs',
      `${plural(pycs.length, 'pyc')} not checked: only CPython's pyc formats are known`,
      [],
      [],
      true,
    );
  }
  const version = layout.pythonVersion;
  const tag = `cpython-${version.replace('.', '')}`;
  const searcher = new FileSearcher(root, []);
  // Problems grouped by reason and by whether the pyc has a source, so 1,000 pycs of another
  // Python make one line.
  const groups = new Map<string, { why: string; sourceless: boolean; files: string[] }>();
  let checked = 0;
  for (const rel of pycs) {
    const loaded = loadedBy(rel, tag, (src) => isFile(`${root}/${src}`));
    if (loaded === undefined) continue;
    const r = searcher.read(rel, true);
    if (r === undefined) continue;
    checked++;
    const why = pycProblem(r.bytes, version);
    if (why === undefined) continue;
    const key = `${loaded.sourceless}\0${why}`;
    const g = groups.get(key) ?? { why, sourceless: loaded.sourceless, files: [] };
    g.files.push(bytesToUtf8(rel));
    groups.set(key, g);
  }
  const problems = [...groups.values()].map((g) => {
    const one = g.files.length === 1;
    const fix = g.sourceless
      ? `Python ${version} cannot import ${one ? 'it' : 'them'}, and there is no source to compile again: reinstall the package that holds ${one ? 'it' : 'them'}`
      : `Python ${version} compiles ${one ? 'its' : 'their'} source again at each import; remove ${one ? 'it' : 'them'} and Python writes ${one ? 'it' : 'them'} anew`;
    return { message: `${someOf(g.files)}: ${g.why}. ${fix}`, paths: g.files };
  });
  const bad = problems.reduce((n, p) => n + p.paths.length, 0);
  const summary =
    bad === 0
      ? `${plural(checked, 'pyc')} that Python ${version} loads ${checked === 1 ? 'is' : 'are'} valid for it`
      : `${plural(bad, 'pyc')} of ${checked} that Python ${version} loads ${bad === 1 ? 'is' : 'are'} refused by it`;
  return result('pycs', summary, problems);
}

import { posix } from 'node:path';
import { fs } from '../core/fs.js';
import { bytesToUtf8, toBytes, type ByteString } from '../core/path-boundary.js';
import { sourceOfPyc } from '../kinds/pyc/source-of-pyc.js';
import type { Layout } from '../scan/detect-layout.js';
import { FileSearcher } from '../scan/search-files.js';
import { plural, result, someOf, type CheckResult } from './check-result.js';
import { pycProblem, type PycReader } from './pyc-problem.js';
import { PYC_FORMATS } from '../kinds/pyc/pyc-magic.js';

function isFile(p: ByteString): boolean {
  try {
    return fs.statSync(toBytes(p)).isFile();
  } catch {
    return false;
  }
}

/**
 * The pycs the venv's interpreter loads: `__pycache__/NAME.TAG[.opt-N].pyc` with its own cache
 * tag (`cpython-312`, `pypy39`) whose source NAME.py exists, and a legacy `x.pyc` with no `x.py` beside it
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
  /** The venv interpreter's magic word, when it ran (verify's python check asks it). */
  magic?: number,
): CheckResult {
  if (pycs.length === 0) return result('pycs', 'no pyc in the venv', [], [], true);
  const { implementation, pythonVersion: version } = layout;
  const known = PYC_FORMATS.some(
    (f) => f.implementation === implementation && f.version === version,
  );
  const who = `${implementation === 'pypy' ? 'PyPy' : 'CPython'} ${version}`;
  if (!known && magic === undefined) {
    return result(
      'pycs',
      `${plural(pycs.length, 'pyc')} not checked: the pyc format of ${who} is not known`,
      [],
      [],
      true,
    );
  }
  // importlib's cache tag: `cpython-312`, PyPy's `pypy39`.
  const digits = version.replace('.', '');
  const tag = implementation === 'pypy' ? `pypy${digits}` : `cpython-${digits}`;
  const reader: PycReader = { implementation, version, magic };
  const searcher = new FileSearcher(root, []);
  // Problems grouped by reason and by whether the pyc has a source, so 1,000 pycs of another
  // Python make one line.
  const groups = new Map<
    string,
    { why: string; sourceless: boolean; importFails: boolean; files: string[] }
  >();
  let checked = 0;
  for (const rel of pycs) {
    const loaded = loadedBy(rel, tag, (src) => isFile(`${root}/${src}`));
    if (loaded === undefined) continue;
    const r = searcher.read(rel, true);
    if (r === undefined) continue;
    checked++;
    const refused = pycProblem(r.bytes, reader);
    if (refused === undefined) continue;
    const key = `${loaded.sourceless}\0${refused.why}`;
    const g = groups.get(key) ?? { ...refused, sourceless: loaded.sourceless, files: [] };
    g.files.push(bytesToUtf8(rel));
    groups.set(key, g);
  }
  const problems = [...groups.values()].map((g) => {
    const one = g.files.length === 1;
    const it = one ? 'it' : 'them';
    const fix = g.sourceless
      ? `${who} cannot import ${it}, and there is no source to compile again: reinstall the package that holds ${it}`
      : g.importFails
        ? `${who} fails to import ${one ? 'its module' : 'their modules'} (marshal cannot read ${it}); remove ${it} and Python writes ${it} anew`
        : `${who} compiles ${one ? 'its' : 'their'} source again at each import; remove ${it} and Python writes ${it} anew`;
    return { message: `${someOf(g.files)}: ${g.why}. ${fix}`, paths: g.files };
  });
  const bad = problems.reduce((n, p) => n + p.paths.length, 0);
  const summary =
    bad === 0
      ? `${plural(checked, 'pyc')} that ${who} loads ${checked === 1 ? 'is' : 'are'} valid for it`
      : `${plural(bad, 'pyc')} of ${checked} that ${who} loads ${bad === 1 ? 'is' : 'are'} refused by it`;
  return result('pycs', summary, problems);
}

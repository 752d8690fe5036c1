import type { ByteString } from '../../core/path-boundary.js';

/** The tag in a cached pyc's name: `.cpython-311`, with `.opt-1` after it or not. */
const PYC_TAG = /\.[^./]+-\d+(?:\.opt-\d)?$/;
const PYCACHE = '__pycache__/';

/**
 * The source .py of a pyc: `d/__pycache__/m.cpython-311.pyc` or legacy `d/m.pyc` -> `d/m.py`
 * (`rel` itself for a name that is only `.pyc`). Asked once per pyc: string slicing, no regex
 * over the whole path.
 */
export function sourceOfPyc(rel: ByteString): ByteString {
  if (!rel.endsWith('.pyc') && !rel.endsWith('.pyo')) return rel;
  const cut = rel.lastIndexOf('/') + 1;
  let dir = rel.slice(0, cut);
  let stem = rel.slice(cut, -4);
  if (dir === PYCACHE || dir.endsWith(`/${PYCACHE}`)) dir = dir.slice(0, -PYCACHE.length);
  const tag = PYC_TAG.exec(stem);
  if (tag !== null && tag.index > 0) stem = stem.slice(0, tag.index);
  return stem === '' ? rel : `${dir}${stem}.py`;
}

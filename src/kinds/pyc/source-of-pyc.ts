import type { ByteString } from '../../core/path-boundary.js';

/**
 * The tag in a cached pyc's name (PEP 3147), with `.opt-1` after it or not: `.cpython-311`,
 * PyPy's `.pypy39`, any interpreter's `sys.implementation.cache_tag`, which ends in its version.
 */
const PYC_TAG = /\.[^./]*\d(?:\.opt-\d)?$/;
const PYCACHE = '__pycache__/';

/** The folder part of a pyc's path, `__pycache__/` dropped, and its name without `.pyc`. */
function split(rel: ByteString): { dir: ByteString; stem: ByteString; cached: boolean } {
  const cut = rel.lastIndexOf('/') + 1;
  const dir = rel.slice(0, cut);
  const stem = rel.slice(cut, -4);
  const cached = dir === PYCACHE || dir.endsWith(`/${PYCACHE}`);
  return { dir: cached ? dir.slice(0, -PYCACHE.length) : dir, stem, cached };
}

/**
 * The source .py of a pyc: `d/__pycache__/m.cpython-311.pyc` or `m.pypy39.pyc` -> `d/m.py`, and
 * legacy `d/m.pyc` -> `d/m.py` (`rel` itself for a name that is only `.pyc`). Only a cached pyc
 * has a tag (a legacy one is named after its source alone). Asked once per pyc: string slicing
 * and one short regex over the name.
 */
export function sourceOfPyc(rel: ByteString): ByteString {
  if (!rel.endsWith('.pyc') && !rel.endsWith('.pyo')) return rel;
  const { dir, stem, cached } = split(rel);
  const tag = cached ? PYC_TAG.exec(stem) : null;
  const name = tag !== null && tag.index > 0 ? stem.slice(0, tag.index) : stem;
  return name === '' ? rel : `${dir}${name}.py`;
}

/**
 * What a pyc's name says of the interpreter that writes it: the cache tag (`cpython-311`,
 * `pypy39`) and the optimization level (`.opt-1` -> 1) of a `__pycache__` pyc, or undefined
 * for a legacy one (`m.pyc` beside `m.py`), which names no interpreter.
 */
export function pycCacheTag(rel: ByteString): { tag: string; optimize: number } | undefined {
  const { stem, cached } = split(rel);
  const m = cached ? PYC_TAG.exec(stem) : null;
  if (m === null || m.index === 0) return undefined;
  const opt = /\.opt-(\d)$/.exec(m[0]);
  const tag = m[0].slice(1, opt === null ? undefined : -opt[0].length);
  return { tag, optimize: opt === null ? 0 : Number(opt[1]) };
}

/**
 * Where a pyc was compiled, read off its `co_filename`. py_compile (pip, compileall, import)
 * writes the source's path as it was then: the venv's location followed by the source's path
 * inside the venv (`/build/app/venv` + `/lib/python3.12/site-packages/pkg/mod.py`). So the
 * source's venv-relative path is searched for in the raw bytes, and what stands before it is
 * the location, once the marshal str header in front of it proves that the str starts there
 * and ends exactly where the source's path ends. No parse of the marshal stream is needed:
 * nested code objects name the same str by a back reference (TYPE_REF), so the path is
 * written out once, in the first code object that holds it.
 */
import type { ByteString } from '../core/path-boundary.js';
import { fileNameToPyStr, pyStrToFileName } from '../kinds/pyc/utf8.js';
import {
  FLAG_REF,
  TYPE_ASCII,
  TYPE_ASCII_INTERNED,
  TYPE_INTERNED,
  TYPE_SHORT_ASCII,
  TYPE_SHORT_ASCII_INTERNED,
  TYPE_UNICODE,
} from '../kinds/pyc/walk-marshal.js';
import { sourceOfPyc } from '../kinds/pyc/source-of-pyc.js';

// A path is at most PATH_MAX (4096) bytes: a location longer than that is not looked for.
const MAX_PREFIX = 4096;

/** Whether a str of `len` bytes has its marshal header right before `data` (see walk-marshal.ts). */
function strHeaderBefore(bytes: Buffer, data: number, len: number): boolean {
  if (data >= 2 && len < 256 && bytes[data - 1] === len) {
    const t = bytes[data - 2]! & ~FLAG_REF;
    if (t === TYPE_SHORT_ASCII || t === TYPE_SHORT_ASCII_INTERNED) return true;
  }
  if (data >= 5 && bytes.readUInt32LE(data - 4) === len) {
    const t = bytes[data - 5]! & ~FLAG_REF;
    if (t === TYPE_UNICODE || t === TYPE_INTERNED || t === TYPE_ASCII || t === TYPE_ASCII_INTERNED)
      return true;
  }
  return false;
}

/**
 * The location a pyc (venv-relative `rel`, its whole `bytes`) was compiled at: the absolute
 * path (a byte string, as the file system spells it) in front of its source's venv-relative
 * path in `co_filename`; undefined when no str of the pyc has that shape.
 */
export function pycCompiledAt(rel: ByteString, bytes: Buffer): ByteString | undefined {
  const source = sourceOfPyc(rel);
  if (source === rel) return undefined;
  // co_filename holds a file name the way Python decoded it (surrogateescape for non-UTF-8).
  const tail = Buffer.from(`/${fileNameToPyStr(source)}`, 'latin1');
  for (let i = bytes.indexOf(tail); i !== -1; i = bytes.indexOf(tail, i + 1)) {
    const end = i + tail.length;
    // The str starts at a `/` before i, with its header right before that. Walking back, a
    // control byte ends the search: no path holds one, while every header but the shortest
    // str's does (the length's high bytes are 0). The first `/` of the path is the earliest
    // start that has a header: a later `/` can look like one (`/srv/jazz/…`: `z`, then a
    // length byte that is `z`), the earliest cannot without a path holding a marshal header.
    let start = -1;
    for (let b = i - 1; b >= 0 && b >= i - MAX_PREFIX; b--) {
      const c = bytes[b]!;
      if (c < 0x20 || c === 0x7f) break;
      if (c === 0x2f && strHeaderBefore(bytes, b, end - b)) start = b;
    }
    if (start !== -1) return pyStrToFileName(bytes.toString('latin1', start, i));
  }
  return undefined;
}

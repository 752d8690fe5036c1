import { RewriteError } from '../core/errors.js';
import { readPycHeader } from '../kinds/pyc/pyc-header.js';
import { FLAG_REF, TYPE_CODE, walkMarshal } from '../kinds/pyc/walk-marshal.js';

/**
 * Why the CPython `version` ("3.12") would refuse a pyc, or undefined when it would load it:
 * its magic is another version's or none that is known (importlib: "bad magic number"), or its
 * body is not a code object that marshal reads (walk-marshal.ts checks what CPython's reader
 * does). Bytes after the code object are no problem: marshal.loads ignores them.
 */
export function pycProblem(bytes: Buffer, version: string): string | undefined {
  let header;
  try {
    header = readPycHeader(bytes);
  } catch (err) {
    if (err instanceof RewriteError) return err.message;
    throw err;
  }
  if (header.format.version !== version) {
    return `its magic is CPython ${header.format.version}'s, not ${version}'s`;
  }
  const start = header.format.headerSize;
  if (start >= bytes.length) return 'corrupt pyc: no code object';
  if ((bytes[start]! & ~FLAG_REF) !== TYPE_CODE) return 'corrupt pyc: top-level object is not code';
  try {
    walkMarshal(bytes, start, header.format, () => false);
  } catch (err) {
    if (err instanceof RewriteError) return err.message;
    throw err;
  }
  return undefined;
}

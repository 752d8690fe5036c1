import { RewriteError } from '../core/errors.js';
import { readPycHeader } from '../kinds/pyc/pyc-header.js';
import { pycFormatName, type PycFormat } from '../kinds/pyc/pyc-magic.js';
import { FLAG_REF, TYPE_CODE, walkMarshal } from '../kinds/pyc/walk-marshal.js';

/** The interpreter a pyc must suit: its implementation and version, and its magic if known. */
export interface PycReader {
  readonly implementation: PycFormat['implementation'];
  readonly version: string;
  /** The 32-bit word its pycs start with (`importlib.util.MAGIC_NUMBER`), when it was asked. */
  readonly magic?: number | undefined;
}

const hex = (word: number): string => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(word >>> 0);
  return b.toString('hex');
};

/** Why an interpreter refuses a pyc, and whether the import fails for it. */
export interface PycRefusal {
  readonly why: string;
  /**
   * True for a body marshal cannot read: importlib lets the error through (CPython: EOFError,
   * ValueError; PyPy alike), so the import fails. A header it refuses (a bad magic) only makes
   * it compile the source again.
   */
  readonly importFails: boolean;
}

/**
 * Why `reader` would refuse a pyc, or undefined when it would load it: its magic is another
 * interpreter's, another release's, or none that is known (importlib: "bad magic number"), or
 * its body is not a code object that marshal reads (walk-marshal.ts checks what CPython's reader
 * does; PyPy's reads the same types). Bytes after the code object are no problem: marshal.loads
 * ignores them. A pyc with the reader's own magic whose format is not known passes unread.
 */
export function pycProblem(bytes: Buffer, reader: PycReader): PycRefusal | undefined {
  const name = `${reader.implementation === 'pypy' ? 'PyPy' : 'CPython'} ${reader.version}`;
  const word = bytes.length >= 4 ? bytes.readUInt32LE(0) : undefined;
  let header;
  try {
    header = readPycHeader(bytes);
  } catch (err) {
    if (!(err instanceof RewriteError)) throw err;
    if (err.reason === 'unknown-magic' && word === reader.magic) return undefined;
    return { why: err.message, importFails: false };
  }
  const f = header.format;
  if (f.implementation !== reader.implementation || f.version !== reader.version) {
    return { why: `its magic is ${pycFormatName(f)}'s, not ${name}'s`, importFails: false };
  }
  if (reader.magic !== undefined && header.magicWord !== reader.magic) {
    return {
      why: `its magic ${hex(header.magicWord)} is another release's of ${name}, whose interpreter here writes ${hex(reader.magic)}`,
      importFails: false,
    };
  }
  const start = f.headerSize;
  if (start >= bytes.length) return { why: 'corrupt pyc: no code object', importFails: true };
  if ((bytes[start]! & ~FLAG_REF) !== TYPE_CODE) {
    return { why: 'corrupt pyc: top-level object is not code', importFails: true };
  }
  try {
    walkMarshal(bytes, start, f, () => false);
  } catch (err) {
    if (err instanceof RewriteError) return { why: err.message, importFails: true };
    throw err;
  }
  return undefined;
}

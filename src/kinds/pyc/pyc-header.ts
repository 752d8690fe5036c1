/**
 * The pyc header (PEP 552 from 3.7 on):
 *
 *   3.6:   magic(4) mtime(4) source-size(4)
 *   3.7+:  magic(4) flags(4) then, flags bit 0 clear: mtime(4) source-size(4)
 *                              flags bit 0 set:   source hash(8) (bit 1: check it)
 *
 * The rewriter keeps it byte for byte, so the pyc stays valid and Python does not recompile it,
 * except when the run also rewrites the source: then the size (or hash) must follow the new
 * source, while the mtime stays because the apply step restores the .py's mtime.
 */

import { RewriteError } from '../../core/errors.js';
import { pycFormat, pycFormatName, type PycFormat } from './pyc-magic.js';
import { sipHash } from './sip-hash.js';

/**
 * The bytes a header takes at most: 16, or 12 up to 3.6, whose next 4 (the code object's start)
 * no rewrite touches. A pyc whose first PYC_HEADER_MAX bytes stay the same kept its header.
 */
export const PYC_HEADER_MAX = 16;

/** What the header says. */
export interface PycHeader {
  readonly format: PycFormat;
  /** The 32-bit word of the first four bytes: importlib's `_RAW_MAGIC_NUMBER`. */
  readonly magicWord: number;
  /** Flags bit 0: the header holds a source hash instead of mtime and size. */
  readonly hashBased: boolean;
}

/** Parse the header; throws RewriteError 'unknown-magic' or 'corrupt'. */
export function readPycHeader(bytes: Uint8Array): PycHeader {
  if (bytes.length < 4) throw new RewriteError('corrupt', 'corrupt pyc: shorter than its magic');
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magicWord = view.readUInt32LE(0);
  const format = pycFormat(magicWord);
  if (format === undefined) {
    const hex = view.subarray(0, 4).toString('hex');
    throw new RewriteError(
      'unknown-magic',
      `pyc magic ${hex} is not that of CPython 3.6-3.14 or PyPy 3.9-3.11`,
    );
  }
  if (bytes.length < format.headerSize) {
    throw new RewriteError(
      'corrupt',
      `corrupt pyc: header shorter than ${format.headerSize} bytes`,
    );
  }
  let hashBased = false;
  if (format.headerSize === 16) {
    const flags = view.readUInt32LE(4);
    // importlib rejects any other flag bit ("invalid flags").
    if ((flags & ~0b11) !== 0) {
      throw new RewriteError('corrupt', `corrupt pyc: invalid header flags ${flags}`);
    }
    hashBased = (flags & 1) !== 0;
  }
  return { format, magicWord, hashBased };
}

/** `_imp.source_hash(_RAW_MAGIC_NUMBER, source)` for a hash-based pyc of this format. */
export function pycSourceHash(header: PycHeader, source: Uint8Array): Buffer {
  const rounds = header.format.keyedHash;
  if (rounds === undefined) {
    throw new RewriteError(
      'corrupt',
      `corrupt pyc: no hash-based pycs in ${pycFormatName(header.format)}`,
    );
  }
  return sipHash(rounds.c, rounds.d, [0, header.magicWord], [0, 0], source);
}

/**
 * The header with its source size or hash set for `source`, or undefined when it already
 * matches. Everything else (magic, flags, mtime) is kept.
 */
export function stampSource(
  bytes: Uint8Array,
  header: PycHeader,
  source: Uint8Array,
): Buffer | undefined {
  const size = header.format.headerSize;
  const old = Buffer.from(bytes.buffer, bytes.byteOffset, size);
  const out = Buffer.from(old);
  if (header.hashBased) {
    pycSourceHash(header, source).copy(out, 8);
  } else {
    // py_compile stores the size modulo 2**32 (_pack_uint32(source_size)).
    out.writeUInt32LE(source.length % 0x100000000, size - 4);
  }
  return out.equals(old) ? undefined : out;
}

/**
 * The invalidation mode a pyc's header asks for (the PEP 552 flags word: 0 timestamp, 1
 * unchecked hash, 3 checked hash), read even when its magic is unknown, so that a pyc compiled
 * again keeps it. A header that has no such word, or another value there, gives 0: py_compile's
 * default.
 */
export function pycInvalidation(bytes: Uint8Array): 0 | 1 | 3 {
  if (bytes.length < 16) return 0;
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (pycFormat(view.readUInt32LE(0))?.headerSize === 12) return 0; // 3.6: an mtime is there
  const flags = view.readUInt32LE(4);
  return flags === 1 || flags === 3 ? flags : 0;
}

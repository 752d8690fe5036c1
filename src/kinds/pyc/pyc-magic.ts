/**
 * The pyc formats we know, one per CPython minor version, keyed by magic number.
 *
 * Only the magic of each final release is listed (Include/internal/pycore_magic_number.h, or
 * Lib/importlib/_bootstrap_external.py before 3.13). Pre-release magics are left out on purpose:
 * alphas and betas changed the code object layout (3.11a1 alone changed it four times), so a
 * pyc with one of them is never guessed at.
 */

/** SipHash round counts (compression, finalisation) of CPython's `_Py_KeyedHash`. */
export interface SipRounds {
  readonly c: number;
  readonly d: number;
}

/** How one CPython version lays out a pyc. */
export interface PycFormat {
  /** The 16-bit magic number (the pyc starts with it, little-endian, then `\r\n`). */
  readonly magic: number;
  /** CPython minor version, e.g. "3.11". */
  readonly version: string;
  /** 12 bytes up to 3.6 (magic, mtime, size); 16 from 3.7 on (PEP 552 added a flags word). */
  readonly headerSize: 12 | 16;
  /**
   * The code object as r_object() reads it (Python/marshal.c, TYPE_CODE), one char per field:
   * `i` a raw little-endian int32, else a nested object of the type the code constructor
   * demands: `b` bytes, `s` str, `t` tuple, `n` tuple of str (names: 3.6-3.8 abort the
   * interpreter with "non-string found in code slot" otherwise, later versions raise).
   */
  readonly codeFields: string;
  /** TYPE_SLICE `:` exists (marshal version 5, CPython 3.14). */
  readonly slices: boolean;
  /**
   * `_imp.source_hash` = `_Py_KeyedHash(magic word, source)`, a SipHash with k0 = the magic word
   * and k1 = 0 (Python/pyhash.c). It was SipHash-2-4 through 3.10; 3.11, which made SipHash-1-3
   * the str hash, computes it with SipHash-1-3 too. The tests check this against every Python on
   * the machine; 3.14 is taken from its pyhash.c. Undefined for 3.6: no hash-based pycs (PEP 552).
   */
  readonly keyedHash: SipRounds | undefined;
}

// 3.6-3.7: argcount, kwonlyargcount, nlocals, stacksize, flags, code, consts, names, varnames,
// freevars, cellvars, filename, name, firstlineno, lnotab.
const CODE_36 = 'iiiii' + 'btnnnnss' + 'i' + 'b';
// 3.8 (PEP 570) adds posonlyargcount after argcount; 3.10 renames lnotab to linetable, same place.
const CODE_38 = 'iiiiii' + 'btnnnnss' + 'i' + 'b';
// 3.11 drops nlocals, replaces varnames/freevars/cellvars by localsplusnames + localspluskinds,
// adds qualname after name and exceptiontable at the end (_PyCode_Validate checks the types).
// Unchanged through 3.14.
const CODE_311 = 'iiiii' + 'btnnbsss' + 'i' + 'bb';

const SIP24: SipRounds = { c: 2, d: 4 };
const SIP13: SipRounds = { c: 1, d: 3 };

function format(
  magic: number,
  version: string,
  headerSize: 12 | 16,
  codeFields: string,
  keyedHash: SipRounds | undefined,
  slices = false,
): PycFormat {
  return { magic, version, headerSize, codeFields, slices, keyedHash };
}

const FORMATS: readonly PycFormat[] = [
  format(3379, '3.6', 12, CODE_36, undefined),
  format(3394, '3.7', 16, CODE_36, SIP24),
  format(3413, '3.8', 16, CODE_38, SIP24),
  format(3425, '3.9', 16, CODE_38, SIP24),
  format(3439, '3.10', 16, CODE_38, SIP24),
  format(3495, '3.11', 16, CODE_311, SIP13),
  format(3531, '3.12', 16, CODE_311, SIP13),
  format(3571, '3.13', 16, CODE_311, SIP13),
  // 3.14.0rc3 bumped the magic one last time (python/cpython#138363); 3.14.0 final kept 3627.
  // 3.14 is marshal version 5: TYPE_SLICE.
  format(3627, '3.14', 16, CODE_311, SIP13, true),
];

const BY_MAGIC = new Map<number, PycFormat>(FORMATS.map((f) => [f.magic, f]));

/**
 * Normalise a magic: the 16-bit number itself, or the whole 32-bit little-endian word of the
 * pyc's first four bytes (which must then end in `\r\n`, as importlib's MAGIC_NUMBER does).
 */
function magicNumber(magic: number): number | undefined {
  if (!Number.isInteger(magic) || magic < 0) return undefined;
  if (magic <= 0xffff) return magic;
  if (magic <= 0xffffffff && magic >>> 16 === 0x0a0d) return magic & 0xffff;
  return undefined;
}

/** The pyc format of a magic (16-bit number or 32-bit word), or undefined for an unknown one. */
export function pycFormat(magic: number): PycFormat | undefined {
  const m = magicNumber(magic);
  return m === undefined ? undefined : BY_MAGIC.get(m);
}

/** The CPython minor version ("3.11") a pyc magic belongs to, or undefined. */
export function pycVersion(magic: number): string | undefined {
  return pycFormat(magic)?.version;
}

/** Every known format, oldest first. */
export const PYC_FORMATS: readonly PycFormat[] = FORMATS;

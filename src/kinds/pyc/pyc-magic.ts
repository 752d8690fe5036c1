/**
 * The pyc formats we know, keyed by magic number: one per CPython minor version, and PyPy's.
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

/** How one CPython version, or one PyPy release series, lays out a pyc. */
export interface PycFormat {
  /** The 16-bit magic number (the pyc starts with it, little-endian, then `\r\n`). */
  readonly magic: number;
  /** The interpreter that writes it. */
  readonly implementation: 'cpython' | 'pypy';
  /** The Python minor version it implements, e.g. "3.11". */
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

// PyPy keeps the 3.8 layout after 3.10 (pypy/objspace/std/marshal_impl.py, marshal_pycode and
// unmarshal_pycode, read at each release tag): PyPy 3.11 has no localsplus fields. It added
// co_qualname after co_name in 7.3.19 (commit a7b5e0e797c, "gh-5203", magic 416), and
// co_exceptiontable after co_linetable in 7.3.23 (commit 3bcbb9dd556, magic 432).
const CODE_PYPY_311_QUALNAME = 'iiiiii' + 'btnnnnsss' + 'i' + 'b';
const CODE_PYPY_311_EXCEPTIONS = 'iiiiii' + 'btnnnnsss' + 'i' + 'bb';

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
  return { magic, implementation: 'cpython', version, headerSize, codeFields, slices, keyedHash };
}

/**
 * A PyPy 3 format. PyPy's magic is `pypy_incremental_magic` (pypy/interpreter/pycode.py, below
 * 3000 so that it is never a CPython one), bumped by 16 at each change. Its importlib is
 * CPython's: the 16-byte header of PEP 552. Its `_imp.source_hash` is SipHash-2-4 keyed by the
 * magic word in every version, 3.11 included (pypy/module/imp/interp_imp.py, siphash24_with_key).
 */
function pypy(magic: number, version: string, codeFields: string): PycFormat {
  return { ...format(magic, version, 16, codeFields, SIP24), implementation: 'pypy' };
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
  // PyPy's released magics, from pypy/interpreter/pycode.py at each release-pypy3.X-v7.3.Y tag.
  pypy(320, '3.9', CODE_38), // 7.3.8
  pypy(336, '3.9', CODE_38), // 7.3.9-7.3.16 (Debian 12's pypy3 7.3.11)
  pypy(384, '3.10', CODE_38), // 7.3.12-7.3.19
  pypy(400, '3.11', CODE_38), // 7.3.18
  pypy(416, '3.11', CODE_PYPY_311_QUALNAME), // 7.3.19-7.3.22
  pypy(432, '3.11', CODE_PYPY_311_EXCEPTIONS), // 7.3.23
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

/** The Python minor version ("3.11") a pyc magic belongs to, or undefined. */
export function pycVersion(magic: number): string | undefined {
  return pycFormat(magic)?.version;
}

/** "CPython 3.11", "PyPy 3.9": whose a format is, for messages. */
export function pycFormatName(f: PycFormat): string {
  return `${f.implementation === 'pypy' ? 'PyPy' : 'CPython'} ${f.version}`;
}

/** Every known format, oldest first. */
export const PYC_FORMATS: readonly PycFormat[] = FORMATS;

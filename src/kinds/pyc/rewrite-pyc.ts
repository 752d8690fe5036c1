/**
 * Rewrite the paths inside a compiled Python file (.pyc) at the marshal level.
 *
 * Every str object of the marshal stream (co_filename of each code object, nested ones too,
 * constants, names) that holds a mapped path on a path boundary gets the new path. Everything
 * else is copied byte for byte: the header (so the pyc stays valid and is not recompiled), the
 * bytecode, the line tables, and the FLAG_REF bits that number the reference table, so every
 * back reference still points at the same object. bytes objects (co_code, co_lnotab, ...) are
 * never touched: a path in them is not a path.
 */

import { RewriteError } from '../../core/errors.js';
import {
  isNameByte,
  replacePaths,
  type ByteString,
  type Mapping,
} from '../../core/path-boundary.js';
import { readPycHeader, stampSource, type PycHeader } from './pyc-header.js';
import { fileNameToPyStr } from './utf8.js';
import {
  FLAG_REF,
  TYPE_ASCII,
  TYPE_ASCII_INTERNED,
  TYPE_CODE,
  TYPE_INTERNED,
  TYPE_SHORT_ASCII,
  TYPE_SHORT_ASCII_INTERNED,
  TYPE_UNICODE,
  WALK_STOPPED,
  walkMarshal,
} from './walk-marshal.js';

export { pycVersion } from './pyc-magic.js';

/** What rewritePyc needs besides the bytes. */
export interface PycContext {
  readonly mappings: readonly Mapping[];
  /** Set when the same run rewrites this pyc's source .py: its new bytes. */
  readonly newSource?: Buffer;
  /**
   * Where the new bytes go: a buffer of the size asked (a view of one the caller reuses, say,
   * when it is done with each result before the next call). A new Buffer when absent.
   */
  readonly alloc?: (size: number) => Buffer;
  /**
   * Set to how many times the first mapping's `from` (the venv's own old path) stays, on a path
   * boundary, outside every str: in bytes data, which is never rewritten. The planner lists such
   * a pyc, or removes it when its source changes (the bytes came from that source).
   */
  readonly kept?: { count: number };
}

/** The mappings in the form marshal holds them, and their `from` bytes to search for. */
interface Prepared {
  readonly mappings: readonly Mapping[];
  readonly needles: readonly Buffer[];
}

// rewritePyc runs for thousands of pycs with the same mappings array: prepare it once.
const preparedCache = new WeakMap<readonly Mapping[], Prepared>();

function prepare(mappings: readonly Mapping[]): Prepared {
  let p = preparedCache.get(mappings);
  if (p === undefined) {
    // A file name that is not UTF-8 is held in co_filename as Python decoded it
    // (surrogateescape), and a new one must be written that way too.
    const py = mappings
      .filter((m) => m.from.length > 0)
      .map((m) => ({ ...m, from: fileNameToPyStr(m.from), to: fileNameToPyStr(m.to) }));
    p = { mappings: py, needles: py.map((m) => Buffer.from(m.from, 'latin1')) };
    preparedCache.set(mappings, p);
  }
  return p;
}

/**
 * The places where a `from` occurs: (start, end) pairs in `pairs[0, 2 * count)` once findHits is
 * done ((start, needle index) while it collects them).
 */
class Hits {
  pairs = new Int32Array(64);
  count = 0;

  add(start: number, second: number): void {
    const at = 2 * this.count;
    if (at === this.pairs.length) {
      const grown = new Int32Array(at * 2);
      grown.set(this.pairs);
      this.pairs = grown;
    }
    this.pairs[at] = start;
    this.pairs[at + 1] = second;
    this.count++;
  }
}

// rewritePyc runs for thousands of pycs in a row: one hit list serves them all. A call made
// while it is taken (a conditional mapping's `accept` could rewrite another pyc) gets its own.
let idleHits: Hits | undefined;

/**
 * Find where any `from` occurs in the bytes, boundaries ignored, sorted by start. A str can only
 * change if one of these lies inside it.
 */
function findHits(bytes: Buffer, needles: readonly Buffer[], hits: Hits): void {
  hits.count = 0;
  for (let k = 0; k < needles.length; k++) {
    const needle = needles[k]!;
    let i = bytes.indexOf(needle);
    while (i !== -1) {
      hits.add(i, k);
      i = bytes.indexOf(needle, i + 1);
    }
  }
  const pairs = hits.pairs;
  const n = hits.count;
  // Each needle's hits come in order; those of several needles (a venv inside a moved root gives
  // both at each place) are sorted by start, needle index as the tie-break, in one numeric sort.
  let sorted = true;
  for (let j = 1; j < n && sorted; j++) sorted = pairs[2 * j]! >= pairs[2 * j - 2]!;
  if (!sorted) {
    const m = needles.length;
    const keys = new Float64Array(n);
    for (let j = 0; j < n; j++) keys[j] = pairs[2 * j]! * m + pairs[2 * j + 1]!;
    keys.sort();
    for (let j = 0; j < n; j++) {
      const k = keys[j]! % m;
      pairs[2 * j] = (keys[j]! - k) / m;
      pairs[2 * j + 1] = k;
    }
  }
  for (let j = 0; j < n; j++) pairs[2 * j + 1] = pairs[2 * j]! + needles[pairs[2 * j + 1]!]!.length;
}

/**
 * 1 when bytes[start, end) is the venv's own old path on a path boundary, else 0.
 */
function keptAt(bytes: Buffer, start: number, end: number, venv: Buffer): number {
  if (end - start !== venv.length || bytes.compare(venv, 0, venv.length, start, end) !== 0)
    return 0;
  if (start > 0 && isNameByte(bytes[start - 1]!)) return 0;
  if (end < bytes.length && isNameByte(bytes[end]!)) return 0;
  return 1;
}

function isAscii(s: ByteString): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
  return true;
}

/**
 * The type byte CPython's w_object (marshal version >= 4) writes for a str: ASCII as
 * TYPE_SHORT_ASCII below 256 chars, else TYPE_ASCII; anything else as UTF-8 TYPE_UNICODE. The
 * interned variant and the FLAG_REF bit of the original are kept.
 */
function strType(utf8: ByteString, interned: boolean, flag: number): number {
  if (!isAscii(utf8)) return (interned ? TYPE_INTERNED : TYPE_UNICODE) | flag;
  if (utf8.length < 256) return (interned ? TYPE_SHORT_ASCII_INTERNED : TYPE_SHORT_ASCII) | flag;
  return (interned ? TYPE_ASCII_INTERNED : TYPE_ASCII) | flag;
}

/** Whether a str type byte has a one-byte length. */
function isShort(type: number): boolean {
  const t = type & ~FLAG_REF;
  return t === TYPE_SHORT_ASCII || t === TYPE_SHORT_ASCII_INTERNED;
}

/**
 * Walk the marshal stream after the header and splice in rewritten strs. `hits` limits the work
 * to strs that hold a `from`, and ends the walk after the last of them; without it the whole
 * stream is walked. `force` re-encodes every str (the round-trip check). Returns the new pyc, or
 * undefined when no str changed (and not forced).
 */
function rewriteBody(
  bytes: Buffer,
  header: PycHeader,
  prepared: Prepared,
  hits: Hits | undefined,
  force: boolean,
  headerOut: Buffer | undefined,
  alloc: (size: number) => Buffer,
  kept?: { count: number; venv: Buffer },
): Buffer | undefined {
  const start = header.format.headerSize;
  if (start >= bytes.length) throw new RewriteError('corrupt', 'corrupt pyc: no code object');
  // importlib refuses a pyc whose object is not a code object ("Non-code object").
  if ((bytes[start]! & ~FLAG_REF) !== TYPE_CODE) {
    throw new RewriteError('corrupt', `corrupt pyc: top-level object is not code`);
  }
  // The strs to replace: the span of each old str object, and its new type byte and UTF-8.
  // They are written once the walk is done, into a buffer of exactly the size needed.
  const cuts: number[] = [];
  const types: number[] = [];
  const values: ByteString[] = [];
  let size = bytes.length;
  const pairs = hits?.pairs;
  const nHits = hits === undefined ? 0 : 2 * hits.count;
  let h = 0;
  // Hits that lie in no str: in bytes data (co_code, a bytes constant), never rewritten.
  const stranded = (from: number, to: number) => {
    if (kept !== undefined && pairs !== undefined) {
      for (let j = from; j < to; j += 2)
        kept.count += keptAt(bytes, pairs[j]!, pairs[j + 1]!, kept.venv);
    }
  };

  const visit = (at: number, code: number, dataStart: number, dataEnd: number): boolean => {
    if (pairs !== undefined) {
      // Strs come in stream order: skip hits before this one, then look for one inside it.
      const first = h;
      while (h < nHits && pairs[h]! < dataStart) h += 2;
      stranded(first, h);
      // Every hit lies behind: stop the walk and copy the rest as it is (see below).
      if (h === nHits) return true;
      // The hits that start in this str are settled here: inside it, or running past its end
      // (then not in any str).
      let inside = false;
      let j = h;
      for (; j < nHits && pairs[j]! < dataEnd; j += 2) {
        if (pairs[j + 1]! <= dataEnd) inside = true;
        else stranded(j, j + 2);
      }
      h = j;
      if (!inside) return false;
    }
    const type = code & ~FLAG_REF;
    let value: ByteString = bytes.toString('latin1', dataStart, dataEnd);
    const asciiKind =
      type === TYPE_ASCII ||
      type === TYPE_ASCII_INTERNED ||
      type === TYPE_SHORT_ASCII ||
      type === TYPE_SHORT_ASCII_INTERNED;
    // marshal reads the ASCII kinds as Latin-1; CPython only writes them for ASCII, but if one
    // holds a byte >= 0x80 its value is that Latin-1 char, which is two bytes in UTF-8. (Such a
    // str is only looked at when a `from` occurs in its raw bytes: a non-ASCII `from` that only
    // its Latin-1 value would hold is not found. No compiler writes one.)
    if (asciiKind && !isAscii(value)) value = Buffer.from(value, 'utf8').toString('latin1');
    let replaced = replacePaths(value, prepared.mappings);
    if (replaced === value) replaced = undefined; // a mapping onto itself changes nothing
    if (replaced === undefined && !force) return false;
    const interned =
      type === TYPE_ASCII_INTERNED || type === TYPE_SHORT_ASCII_INTERNED || type === TYPE_INTERNED;
    const next = replaced ?? value;
    const newType = strType(next, interned, code & FLAG_REF);
    cuts.push(at, dataEnd);
    types.push(newType);
    values.push(next);
    size += (isShort(newType) ? 2 : 5) + next.length - (dataEnd - at);
    return false;
  };

  // Stopping at the first str that starts after the last hit is sound:
  // - No str from there on can change: a str changes only when a hit lies inside it, and the
  //   byte search found every occurrence of every `from`.
  // - The bytes after it mean the same after the splice. marshal has no offsets: containers
  //   count items, not bytes, and a TYPE_REF names a slot numbered by the FLAG_REF bits before
  //   it, which every rewritten str keeps.
  // - The tail is not validated, exactly as a pyc that holds no path is not parsed at all: a
  //   corrupt tail stays as corrupt as it was, and CPython reads it the same way in both. All
  //   before it (every changed str included) was checked, so corruption there still throws.
  //   Bytes after the code object pass too, as marshal.loads ignores them.
  const end = walkMarshal(bytes, start, header.format, visit);
  if (end !== WALK_STOPPED && end !== bytes.length) {
    throw new RewriteError('corrupt', `corrupt pyc: ${bytes.length - end} bytes after the code`);
  }
  // The walk reached the end with hits after the last str: they are in bytes data too.
  if (end !== WALK_STOPPED) stranded(h, nHits);
  if (types.length === 0 && !force) return undefined;

  const out = alloc(size);
  (headerOut ?? bytes).copy(out, 0, 0, start);
  let o: number = start;
  let copied: number = start;
  for (let k = 0; k < types.length; k++) {
    const type = types[k]!;
    const value = values[k]!;
    o += bytes.copy(out, o, copied, cuts[2 * k]!);
    out[o++] = type;
    if (isShort(type)) {
      out[o++] = value.length;
    } else {
      out.writeUInt32LE(value.length, o);
      o += 4;
    }
    o += out.write(value, o, 'latin1');
    copied = cuts[2 * k + 1]!;
  }
  bytes.copy(out, o, copied, bytes.length);
  return out;
}

/** Rewrite every marshalled string holding a mapped path; undefined when nothing changed. */
export function rewritePyc(bytes: Buffer, ctx: PycContext): Buffer | undefined {
  const prepared = prepare(ctx.mappings);
  const alloc = ctx.alloc ?? Buffer.allocUnsafe;
  const hits = idleHits ?? new Hits();
  idleHits = undefined;
  try {
    // Byte search first: most files of a venv are settled here without parsing. A path is held
    // in a str as its UTF-8 bytes, which are the bytes searched for.
    findHits(bytes, prepared.needles, hits);
    if (hits.count === 0 && ctx.newSource === undefined) return undefined;
    const header = readPycHeader(bytes);
    const newHeader =
      ctx.newSource === undefined ? undefined : stampSource(bytes, header, ctx.newSource);
    if (hits.count > 0) {
      const kept =
        ctx.kept === undefined || prepared.needles.length === 0
          ? undefined
          : { count: 0, venv: prepared.needles[0]! };
      const body = rewriteBody(bytes, header, prepared, hits, false, newHeader, alloc, kept);
      if (ctx.kept !== undefined) ctx.kept.count = kept?.count ?? 0;
      if (body !== undefined) return body;
    }
    if (newHeader === undefined) return undefined;
    const out = alloc(bytes.length);
    bytes.copy(out, 0);
    newHeader.copy(out, 0);
    return out;
  } finally {
    // A list a hostile pyc grew to millions of hits is not kept.
    if (hits.pairs.length > 1 << 16) hits.pairs = new Int32Array(64);
    idleHits = hits;
  }
}

/**
 * Parse a pyc and write it again with every str re-encoded the way CPython writes it, changing
 * nothing. For a pyc CPython wrote, the result is byte-identical: the tests check that on whole
 * standard libraries, which exercises the walk and the string writer on real data.
 */
export function roundTripPyc(bytes: Buffer): Buffer {
  const header = readPycHeader(bytes);
  return rewriteBody(bytes, header, prepare([]), undefined, true, undefined, Buffer.allocUnsafe)!;
}

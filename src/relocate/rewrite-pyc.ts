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

import { RewriteError } from '../errors.js';
import { replacePaths, type ByteString, type Mapping } from '../path-boundary.js';
import { ByteWriter } from './pyc/byte-writer.js';
import { readPycHeader, stampSource, type PycHeader } from './pyc/pyc-header.js';
import { fileNameToPyStr } from './pyc/utf8.js';
import {
  FLAG_REF,
  TYPE_ASCII,
  TYPE_ASCII_INTERNED,
  TYPE_CODE,
  TYPE_INTERNED,
  TYPE_SHORT_ASCII,
  TYPE_SHORT_ASCII_INTERNED,
  TYPE_UNICODE,
  walkMarshal,
} from './pyc/walk-marshal.js';

export { pycVersion } from './pyc-magic.js';

/** What rewritePyc needs besides the bytes. */
export interface PycContext {
  readonly mappings: readonly Mapping[];
  /** Set when the same run rewrites this pyc's source .py: its new bytes. */
  readonly newSource?: Buffer;
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
 * Where any `from` occurs in the bytes, boundaries ignored, sorted by start; undefined when
 * nowhere. A str can only change if one of these lies inside it.
 */
function findHits(bytes: Buffer, needles: readonly Buffer[]): Int32Array | undefined {
  const found: number[] = [];
  for (const needle of needles) {
    let i = bytes.indexOf(needle);
    while (i !== -1) {
      found.push(i, i + needle.length);
      i = bytes.indexOf(needle, i + 1);
    }
  }
  if (found.length === 0) return undefined;
  const pairs = new Int32Array(found);
  if (needles.length > 1) {
    const order = Array.from({ length: pairs.length / 2 }, (_, k) => k);
    order.sort((a, b) => pairs[2 * a]! - pairs[2 * b]!);
    return new Int32Array(order.flatMap((k) => [pairs[2 * k]!, pairs[2 * k + 1]!]));
  }
  return pairs;
}

function isAscii(s: ByteString): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
  return true;
}

/**
 * Write a str the way CPython's w_object does (marshal version >= 4): ASCII as TYPE_SHORT_ASCII
 * below 256 chars, else TYPE_ASCII; anything else as UTF-8 TYPE_UNICODE. The interned variant
 * and the FLAG_REF bit of the original are kept.
 */
function writeStr(out: ByteWriter, utf8: ByteString, interned: boolean, flag: number): void {
  if (isAscii(utf8)) {
    if (utf8.length < 256) {
      out.byte((interned ? TYPE_SHORT_ASCII_INTERNED : TYPE_SHORT_ASCII) | flag);
      out.byte(utf8.length);
    } else {
      out.byte((interned ? TYPE_ASCII_INTERNED : TYPE_ASCII) | flag);
      out.int32(utf8.length);
    }
  } else {
    out.byte((interned ? TYPE_INTERNED : TYPE_UNICODE) | flag);
    out.int32(utf8.length);
  }
  out.byteString(utf8);
}

/**
 * Walk the marshal stream after the header and splice in rewritten strs. `hits` limits the work
 * to strs that hold a `from`; `force` re-encodes every str (the round-trip check). Returns the
 * new body, or undefined when no str changed (and not forced).
 */
function rewriteBody(
  bytes: Buffer,
  header: PycHeader,
  prepared: Prepared,
  hits: Int32Array | undefined,
  force: boolean,
  headerOut: Buffer | undefined,
): Buffer | undefined {
  const start = header.format.headerSize;
  if (start >= bytes.length) throw new RewriteError('corrupt', 'corrupt pyc: no code object');
  // importlib refuses a pyc whose object is not a code object ("Non-code object").
  if ((bytes[start]! & ~FLAG_REF) !== TYPE_CODE) {
    throw new RewriteError('corrupt', `corrupt pyc: top-level object is not code`);
  }
  const out = new ByteWriter(bytes.length + 256);
  if (headerOut !== undefined) out.span(headerOut, 0, headerOut.length);
  else out.span(bytes, 0, start);
  let copied: number = start;
  let changed = false;
  let h = 0;
  const nHits = hits === undefined ? 0 : hits.length;

  const visit = (at: number, code: number, dataStart: number, dataEnd: number): void => {
    if (!force) {
      // Strs come in stream order: skip hits before this one, then look for one inside it.
      while (h < nHits && hits![h]! < dataStart) h += 2;
      let inside = false;
      for (let j = h; j < nHits && hits![j]! < dataEnd; j += 2) {
        if (hits![j + 1]! <= dataEnd) {
          inside = true;
          break;
        }
      }
      if (!inside) return;
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
    if (replaced === undefined && !force) return;
    const interned =
      type === TYPE_ASCII_INTERNED || type === TYPE_SHORT_ASCII_INTERNED || type === TYPE_INTERNED;
    out.span(bytes, copied, at);
    writeStr(out, replaced ?? value, interned, code & FLAG_REF);
    copied = dataEnd;
    if (replaced !== undefined) changed = true;
  };

  const end = walkMarshal(bytes, start, header.format, visit);
  if (end !== bytes.length) {
    throw new RewriteError('corrupt', `corrupt pyc: ${bytes.length - end} bytes after the code`);
  }
  if (!changed && !force) return undefined;
  out.span(bytes, copied, bytes.length);
  return out.finish();
}

/** Rewrite every marshalled string holding a mapped path; undefined when nothing changed. */
export function rewritePyc(bytes: Buffer, ctx: PycContext): Buffer | undefined {
  const prepared = prepare(ctx.mappings);
  // Byte search first: most files of a venv are settled here without parsing. A path is held in
  // a str as its UTF-8 bytes, which are the bytes searched for.
  const hits = findHits(bytes, prepared.needles);
  if (hits === undefined && ctx.newSource === undefined) return undefined;
  const header = readPycHeader(bytes);
  const newHeader =
    ctx.newSource === undefined ? undefined : stampSource(bytes, header, ctx.newSource);
  if (hits !== undefined) {
    const body = rewriteBody(bytes, header, prepared, hits, false, newHeader);
    if (body !== undefined) return body;
  }
  if (newHeader === undefined) return undefined;
  const out = Buffer.from(bytes);
  newHeader.copy(out, 0);
  return out;
}

/**
 * Parse a pyc and write it again with every str re-encoded the way CPython writes it, changing
 * nothing. For a pyc CPython wrote, the result is byte-identical: the tests check that on whole
 * standard libraries, which exercises the walk and the string writer on real data.
 */
export function roundTripPyc(bytes: Buffer): Buffer {
  const header = readPycHeader(bytes);
  return rewriteBody(bytes, header, prepare([]), undefined, true, undefined)!;
}

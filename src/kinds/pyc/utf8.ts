/**
 * UTF-8 as CPython reads and writes it for marshalled `str` objects and for file names.
 *
 * - marshal writes a non-ASCII str as UTF-8 with the "surrogatepass" error handler, and reads it
 *   back the same way (Python/marshal.c, TYPE_UNICODE): lone surrogates are allowed, encoded as
 *   the three bytes ED A0..BF 80..BF; everything else must be strict UTF-8.
 * - A file name that is not valid UTF-8 becomes a str through "surrogateescape" (PEP 383): each
 *   undecodable byte 0x80..0xFF becomes U+DC80..U+DCFF. That is what `co_filename` then holds.
 */

import { isUtf8 } from 'node:buffer';
import type { ByteString } from '../../core/path-boundary.js';

/**
 * Length of the UTF-8 sequence starting at `buf[i]` (1 to 4), or 0 when it is not valid there.
 * `surrogates` allows the ED A0..BF xx forms of U+D800..U+DFFF (surrogatepass).
 */
function utf8SequenceLength(buf: Uint8Array, i: number, end: number, surrogates: boolean): number {
  const b = buf[i]!;
  if (b < 0x80) return 1;
  if (b < 0xc2) return 0; // a continuation byte, or an overlong lead (C0, C1)
  if (b < 0xe0) return i + 1 < end && (buf[i + 1]! & 0xc0) === 0x80 ? 2 : 0;
  if (b < 0xf0) {
    if (i + 2 >= end) return 0;
    const b1 = buf[i + 1]!;
    if ((b1 & 0xc0) !== 0x80 || (buf[i + 2]! & 0xc0) !== 0x80) return 0;
    if (b === 0xe0 && b1 < 0xa0) return 0; // overlong
    if (b === 0xed && b1 >= 0xa0 && !surrogates) return 0; // U+D800..U+DFFF
    return 3;
  }
  if (b < 0xf5) {
    if (i + 3 >= end) return 0;
    const b1 = buf[i + 1]!;
    if ((b1 & 0xc0) !== 0x80 || (buf[i + 2]! & 0xc0) !== 0x80 || (buf[i + 3]! & 0xc0) !== 0x80) {
      return 0;
    }
    if (b === 0xf0 && b1 < 0x90) return 0; // overlong
    if (b === 0xf4 && b1 >= 0x90) return 0; // above U+10FFFF
    return 4;
  }
  return 0;
}

// From this length on, a str is first checked by Node's native (SIMD) validator.
const NATIVE_FROM = 32;

/** True when `buf[start, end)` is what marshal accepts for TYPE_UNICODE (surrogatepass UTF-8). */
export function isMarshalUtf8(buf: Uint8Array, start: number, end: number): boolean {
  // Strict UTF-8 is surrogatepass UTF-8 without the lone surrogates, so what the native check
  // accepts is accepted; only what it refuses needs the byte loop. Long non-ASCII strs
  // (docstrings) are most of what a walk over a pyc reads byte by byte.
  if (end - start >= NATIVE_FROM && isUtf8(buf.subarray(start, end))) return true;
  let i = start;
  while (i < end) {
    if (buf[i]! < 0x80) {
      i++;
      continue;
    }
    const n = utf8SequenceLength(buf, i, end, true);
    if (n === 0) return false;
    i += n;
  }
  return true;
}

/**
 * The UTF-8 (surrogatepass) bytes of the str Python makes of a file name given as raw bytes:
 * valid UTF-8 stays as it is, each other byte >= 0x80 becomes the surrogate U+DC00+byte
 * (surrogateescape). For a UTF-8 path this is the identity.
 */
export function fileNameToPyStr(path: ByteString): ByteString {
  const buf = Buffer.from(path, 'latin1');
  let out: string[] | undefined;
  let copied = 0;
  let i = 0;
  while (i < buf.length) {
    if (buf[i]! < 0x80) {
      i++;
      continue;
    }
    const n = utf8SequenceLength(buf, i, buf.length, false);
    if (n > 0) {
      i += n;
      continue;
    }
    out ??= [];
    out.push(path.slice(copied, i), escapeByte(buf[i]!));
    i++;
    copied = i;
  }
  return out === undefined ? path : out.join('') + path.slice(copied);
}

/** U+DC00 + b (b >= 0x80) as UTF-8, in byte-string form. */
function escapeByte(b: number): string {
  const cp = 0xdc00 + b;
  return String.fromCharCode(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
}

/**
 * The file name (raw bytes) a marshalled str (its UTF-8 bytes, in byte-string form) stands for:
 * the inverse of fileNameToPyStr. Each surrogate U+DC80..U+DCFF (ED B2..B3 xx) is the byte it
 * escaped; every other char stays as its UTF-8 bytes.
 */
export function pyStrToFileName(s: ByteString): ByteString {
  if (!s.includes('\xed')) return s;
  return s.replace(/\xed([\xb2\xb3])([\x80-\xbf])/g, (_, b1: string, b2: string) =>
    String.fromCharCode((((b1.charCodeAt(0) & 0x3f) << 6) | (b2.charCodeAt(0) & 0x3f)) & 0xff),
  );
}

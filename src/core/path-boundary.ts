/**
 * Whole-path matching.
 *
 * Convention used by every rewriter: file contents and paths are handled as "byte strings",
 * JS strings in which each char is one byte (Buffer#toString('latin1')). That keeps every
 * byte of a non-UTF-8 file or path intact, and makes "any byte >= 0x80 is a name character"
 * a simple char-code test. Use `toBytes`/`fromBytes` to cross between Buffer and byte string,
 * and `utf8ToBytes`/`bytesToUtf8` for text that really is UTF-8.
 */

/** A byte string: one char per byte (latin1 decoding of the bytes). */
export type ByteString = string;

/** One mapping of an absolute path prefix to another, both as byte strings, no trailing slash. */
export interface Mapping {
  readonly from: ByteString;
  readonly to: ByteString;
  /**
   * A conditional mapping ("sources that moved along"): given the rest of the referenced path
   * after `from` (as the rewriter decoded it: unescaped, percent-decoded), says whether this
   * occurrence maps. Absent: every occurrence maps.
   */
  readonly accept?: (rest: ByteString) => boolean;
}

/** A match of a mapping's `from` in a byte string. */
export interface PathMatch {
  readonly start: number;
  readonly end: number;
  readonly mapping: Mapping;
}

/** True for bytes that may be part of a file name: letters, digits, `._-+@~` and >= 0x80. */
export function isNameByte(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x2e ||
    c === 0x5f ||
    c === 0x2d ||
    c === 0x2b ||
    c === 0x40 ||
    c === 0x7e ||
    c >= 0x80
  );
}

/** Buffer -> byte string. */
export function fromBytes(buf: Uint8Array): ByteString {
  return Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString('latin1');
}

/** Byte string -> Buffer. */
export function toBytes(s: ByteString): Buffer {
  return Buffer.from(s, 'latin1');
}

/** Any char outside ASCII, which is the same string as bytes and as UTF-8 text. */
const NON_ASCII = /[^\x00-\x7f]/;

/**
 * A byte string as a path for `fs`: an ASCII one as it is (its UTF-8 is the same bytes, and no
 * Buffer is made: a string path opens measurably faster than a Buffer), any other as its bytes.
 */
export function fsPath(s: ByteString): string | Buffer {
  return NON_ASCII.test(s) ? Buffer.from(s, 'latin1') : s;
}

/** A real (UTF-16) JS string -> byte string of its UTF-8 encoding. */
export function utf8ToBytes(s: string): ByteString {
  return NON_ASCII.test(s) ? Buffer.from(s, 'utf8').toString('latin1') : s;
}

/** Byte string holding UTF-8 -> real JS string (invalid sequences become U+FFFD). */
export function bytesToUtf8(s: ByteString): string {
  return NON_ASCII.test(s) ? Buffer.from(s, 'latin1').toString('utf8') : s;
}

/** True when `s[start, end)` is a whole path by the boundary rule (docs/REWRITING.md). */
export function isWholePathAt(s: string, start: number, end: number): boolean {
  if (start > 0 && isNameByte(s.charCodeAt(start - 1))) return false;
  if (end < s.length && isNameByte(s.charCodeAt(end))) return false;
  return true;
}

/**
 * The rest of the path that continues at `end` (name bytes and `/`), without trailing `/` or `.`
 * (prose: "see /build/app/src."). This is what a conditional mapping's `accept` judges.
 */
export function pathRestAt(s: string, end: number): ByteString {
  let j = end;
  while (j < s.length && (isNameByte(s.charCodeAt(j)) || s.charCodeAt(j) === 0x2f)) j++;
  while (j > end && (s[j - 1] === '/' || s[j - 1] === '.')) j--;
  return s.slice(end, j);
}

function accepted(s: string, end: number, mapping: Mapping): boolean {
  return mapping.accept === undefined || mapping.accept(pathRestAt(s, end));
}

/**
 * Every whole-path match of any mapping's `from` in `s`, left to right, not overlapping.
 * Where two mappings match at one place the longer `from` wins (so a venv inside a moved root
 * maps by the venv's own mapping).
 */
export function findPathMatches(s: string, mappings: readonly Mapping[]): PathMatch[] {
  const found: PathMatch[] = [];
  for (const mapping of mappings) {
    const from = mapping.from;
    if (from.length === 0) continue;
    let i = s.indexOf(from);
    while (i !== -1) {
      if (isWholePathAt(s, i, i + from.length) && accepted(s, i + from.length, mapping)) {
        found.push({ start: i, end: i + from.length, mapping });
      }
      i = s.indexOf(from, i + 1);
    }
  }
  if (found.length <= 1) return found;
  found.sort((a, b) => a.start - b.start || b.end - a.end);
  const out: PathMatch[] = [];
  let last = -1;
  for (const m of found) {
    if (m.start >= last) {
      out.push(m);
      last = m.end;
    }
  }
  return out;
}

/** True when `s` holds a whole-path match of any mapping. Cheap pre-check for rewriters. */
export function holdsAnyPath(s: string, mappings: readonly Mapping[]): boolean {
  for (const mapping of mappings) {
    const { from } = mapping;
    let i = s.indexOf(from);
    while (i !== -1) {
      if (isWholePathAt(s, i, i + from.length) && accepted(s, i + from.length, mapping))
        return true;
      i = s.indexOf(from, i + 1);
    }
  }
  return false;
}

/**
 * Replace every whole-path match in `s`. `escape` turns the replacement path (a byte string)
 * into what must be written at that place (for JSON, a shell quote, …); it defaults to the
 * path itself. Returns undefined when nothing matched.
 */
export function replacePaths(
  s: string,
  mappings: readonly Mapping[],
  escape: (to: ByteString, match: PathMatch) => string = (to) => to,
): string | undefined {
  const matches = findPathMatches(s, mappings);
  if (matches.length === 0) return undefined;
  let out = '';
  let pos = 0;
  for (const m of matches) {
    out += s.slice(pos, m.start) + escape(m.mapping.to, m);
    pos = m.end;
  }
  return out + s.slice(pos);
}

/** Normalise an absolute path for use as a mapping end: no trailing slash (except "/"). */
export function stripTrailingSlash(p: string): string {
  let q = p;
  while (q.length > 1 && q.endsWith('/')) q = q.slice(0, -1);
  return q;
}

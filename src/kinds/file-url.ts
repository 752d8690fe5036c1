/**
 * `file:` URLs inside text, the way pip writes them.
 *
 * pip records a local install's origin with `path_to_url(path)`, which is
 * `urljoin('file:', urllib.request.pathname2url(path))`; on POSIX `pathname2url` is
 * `urllib.parse.quote(path)` with its default `safe='/'` (checked in pip 18.1 to 24.2 and
 * CPython 3.6 to 3.13). So a path inside such a URL is percent-encoded: everything but
 * `A-Z a-z 0-9 _ . - ~ /` becomes `%XX` of its UTF-8 byte, upper-case hex.
 */
import { type ByteString, type Mapping, findPathMatches } from '../core/path-boundary.js';
import { type Span, type Splice } from './splice.js';

/** A percent-decoded string: its bytes, and for each byte the source range it came from. */
export interface Decoded {
  readonly bytes: ByteString;
  readonly starts: readonly number[];
  readonly ends: readonly number[];
}

const HEX = '0123456789ABCDEF';

// urllib.parse's _ALWAYS_SAFE plus the default safe '/'. `~` joined _ALWAYS_SAFE in Python 3.7
// (3.6 wrote %7E); decoding reads both, and we write what current pips write.
function isUrlSafe(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x5f ||
    c === 0x2e ||
    c === 0x2d ||
    c === 0x7e ||
    c === 0x2f
  );
}

/** Percent-encode a path (byte string) as `urllib.parse.quote(path)` does, `safe='/'`. */
export function percentEncodePath(path: ByteString): string {
  let out = '';
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    out += isUrlSafe(c) ? path[i] : '%' + HEX[c >> 4] + HEX[c & 15];
  }
  return out;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** Decode `%XX` escapes of `s[start, end)`; a `%` not followed by two hex digits stays literal. */
export function percentDecode(s: string, start = 0, end = s.length): Decoded {
  let bytes = '';
  const starts: number[] = [];
  const ends: number[] = [];
  let i = start;
  while (i < end) {
    if (s.charCodeAt(i) === 0x25 && i + 2 < end) {
      const hi = hexValue(s.charCodeAt(i + 1));
      const lo = hexValue(s.charCodeAt(i + 2));
      if (hi >= 0 && lo >= 0) {
        bytes += String.fromCharCode(hi * 16 + lo);
        starts.push(i);
        ends.push(i + 3);
        i += 3;
        continue;
      }
    }
    bytes += s[i];
    starts.push(i);
    ends.push(i + 1);
    i += 1;
  }
  return { bytes, starts, ends };
}

// `file://` (optionally `localhost`), maybe behind a VCS scheme such as `git+`, followed by an
// absolute path. Python's urlsplit lower-cases the scheme, so match case-insensitively.
const FILE_URL = /(?<![A-Za-z0-9+.-])(?:[A-Za-z][A-Za-z0-9.-]*\+)?file:\/\/(?:localhost)?(?=\/)/gi;

// Where the path part of a URL stops: its query or fragment, or anything that cannot be part
// of a URL written inside a text (white space, quotes, angle brackets, control bytes).
function endsUrlPath(c: number): boolean {
  return (
    c <= 0x20 ||
    c === 0x7f ||
    c === 0x3f ||
    c === 0x23 ||
    c === 0x22 ||
    c === 0x27 ||
    c === 0x3c ||
    c === 0x3e
  );
}

/** The ranges of `s` holding the (still percent-encoded) path part of a `file:` URL. */
export function findFileUrlPaths(s: ByteString): Span[] {
  const found: Span[] = [];
  FILE_URL.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = FILE_URL.exec(s)) !== null) {
    const start = m.index + m[0].length;
    let end = start;
    while (end < s.length && !endsUrlPath(s.charCodeAt(end))) end++;
    found.push({ start, end });
    FILE_URL.lastIndex = end;
  }
  return found;
}

/**
 * Edits that move every mapped path found inside `file:` URLs of `s`, written percent-encoded
 * as pip writes them. Parts of a URL that do not change keep their own encoding byte for byte.
 * `covered` lists the URL path ranges, so a caller can keep its plain matcher out of them.
 */
export function fileUrlEdits(
  s: ByteString,
  mappings: readonly Mapping[],
): { edits: Splice[]; covered: Span[] } {
  const edits: Splice[] = [];
  const covered = findFileUrlPaths(s);
  for (const span of covered) {
    const dec = percentDecode(s, span.start, span.end);
    for (const m of findPathMatches(dec.bytes, mappings)) {
      const start = dec.starts[m.start];
      const end = dec.ends[m.end - 1];
      if (start === undefined || end === undefined) continue;
      edits.push({ start, end, text: percentEncodePath(m.mapping.to) });
    }
  }
  return { edits, covered };
}

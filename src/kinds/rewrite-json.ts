/**
 * JSON files (`*.dist-info/direct_url.json`, Jupyter `kernel.json`, any JSON): paths are
 * replaced inside string tokens only, written in JSON's escaping, and every byte outside the
 * replaced paths stays as it was (no re-serialisation, so key order, spacing and the writer's
 * escaping survive).
 *
 * pip writes direct_url.json with `json.dumps(..., sort_keys=True)` (pip 20.1 to 24.2), whose
 * default `ensure_ascii=True` writes non-ASCII as `\uXXXX` (lower-case hex); its `url` is
 * `file://` + the percent-encoded path (see file-url.ts).
 */
import { RewriteError } from '../core/errors.js';
import {
  type ByteString,
  type Mapping,
  findPathMatches,
  fromBytes,
  toBytes,
} from '../core/path-boundary.js';
import { applySplices, type Span, type Splice } from './splice.js';
import { fileUrlEdits } from './file-url.js';

/** How the file writes characters JSON lets a writer choose for. */
interface JsonStyle {
  /** Non-ASCII as `\uXXXX` (Python's default) rather than raw UTF-8. */
  readonly asciiOnly: boolean;
  /** `/` as `\/` (some writers, e.g. PHP, do that). */
  readonly escapeSlash: boolean;
}

/** One decoded piece of a string token: source `[s, e)` and the bytes it stands for. */
interface Unit {
  readonly s: number;
  readonly e: number;
  readonly bytes: string;
}

// Stands for what cannot be a path byte (a lone surrogate outside U+DC80..U+DCFF).
const OPAQUE = '\uffff';

const SIMPLE: Readonly<Record<string, string>> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

function utf8(cp: number): string {
  return Buffer.from(String.fromCodePoint(cp), 'utf8').toString('latin1');
}

// Decode the string token whose body is s[start, end) (between the quotes). `\udc80`..`\udcff`
// are the bytes Python's surrogateescape gives undecodable path bytes, as os.fsencode() does.
function decodeString(s: string, start: number, end: number): Unit[] {
  const units: Unit[] = [];
  let i = start;
  while (i < end) {
    if (s[i] !== '\\') {
      units.push({ s: i, e: i + 1, bytes: s[i] ?? '' });
      i++;
      continue;
    }
    const n = s[i + 1] ?? '';
    const simple = SIMPLE[n];
    if (simple !== undefined) {
      units.push({ s: i, e: i + 2, bytes: simple });
      i += 2;
      continue;
    }
    const h = /^u([0-9a-fA-F]{4})/.exec(s.slice(i + 1, i + 6));
    if (h === null) throw new RewriteError('not-json', `invalid escape \\${n} in a JSON string`);
    const cp = parseInt(h[1] ?? '', 16);
    const low = /^\\u([dD][c-fC-F][0-9a-fA-F]{2})/.exec(s.slice(i + 6, i + 12));
    if (cp >= 0xd800 && cp <= 0xdbff && low !== null) {
      const lo = parseInt(low[1] ?? '', 16);
      units.push({ s: i, e: i + 12, bytes: utf8(0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00)) });
      i += 12;
    } else if (cp >= 0xdc80 && cp <= 0xdcff) {
      units.push({ s: i, e: i + 6, bytes: String.fromCharCode(cp - 0xdc00) });
      i += 6;
    } else if (cp >= 0xd800 && cp <= 0xdfff) {
      units.push({ s: i, e: i + 6, bytes: OPAQUE });
      i += 6;
    } else {
      units.push({ s: i, e: i + 6, bytes: utf8(cp) });
      i += 6;
    }
  }
  return units;
}

function hex4(n: number): string {
  return '\\u' + n.toString(16).padStart(4, '0');
}

// Length of the valid UTF-8 sequence at b[i], or 0.
function utf8Length(b: string, i: number): number {
  const c = b.charCodeAt(i);
  const len =
    c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
  if (len === 0 || i + len > b.length) return 0;
  const decoded = Buffer.from(b.slice(i, i + len), 'latin1').toString('utf8');
  return decoded.length > 0 &&
    !decoded.includes('\ufffd') &&
    utf8(decoded.codePointAt(0) ?? 0).length === len
    ? len
    : 0;
}

/** Write a path (bytes) as the inside of a JSON string, the way Python's json module does. */
export function jsonEscapePath(path: ByteString, style: JsonStyle): string {
  let out = '';
  let i = 0;
  while (i < path.length) {
    const c = path.charCodeAt(i);
    if (c < 0x80) {
      if (c === 0x22) out += '\\"';
      else if (c === 0x5c) out += '\\\\';
      else if (c === 0x2f && style.escapeSlash) out += '\\/';
      else if (c === 0x0a) out += '\\n';
      else if (c === 0x0d) out += '\\r';
      else if (c === 0x09) out += '\\t';
      else if (c === 0x08) out += '\\b';
      else if (c === 0x0c) out += '\\f';
      else if (c < 0x20) out += hex4(c);
      else out += path[i];
      i++;
      continue;
    }
    const len = utf8Length(path, i);
    if (len === 0) {
      // Not UTF-8: the surrogate Python's json writes for an os.fsdecode()d byte.
      out += hex4(0xdc00 + c);
      i++;
      continue;
    }
    const seq = path.slice(i, i + len);
    if (!style.asciiOnly) out += seq;
    else {
      const str = Buffer.from(seq, 'latin1').toString('utf8');
      for (let k = 0; k < str.length; k++) out += hex4(str.charCodeAt(k));
    }
    i += len;
  }
  return out;
}

// Outside strings JSON only has punctuation, white space, numbers and true/false/null (plus
// the NaN and Infinity Python's json writes by default).
const NON_STRING =
  /^[\s{}[\]:,0-9+\-.eE]*(?:(?:true|false|null|NaN|Infinity)[\s{}[\]:,0-9+\-.eE]*)*$/;

/** Move paths inside the string tokens of a JSON file; `file:` URLs stay percent-encoded. */
export function rewriteJson(
  bytes: Buffer,
  ctx: { mappings: readonly Mapping[] },
): Buffer | undefined {
  const { mappings } = ctx;
  let s = fromBytes(bytes);
  const bom = s.startsWith('\xef\xbb\xbf') ? 3 : 0;
  s = s.slice(bom);
  // No raw non-ASCII byte anywhere means the writer escapes it (or never had any): write
  // `\uXXXX`, as Python's json.dumps does by default. Raw UTF-8 elsewhere: write raw UTF-8.
  const asciiOnly = !/[\x80-\xff]/.test(s);
  const edits: Splice[] = [];
  let i = 0;
  let outside = 0;
  while (i < s.length) {
    if (s[i] !== '"') {
      i++;
      continue;
    }
    if (!NON_STRING.test(s.slice(outside, i)))
      throw new RewriteError('not-json', 'not JSON: text outside strings');
    const start = i + 1;
    let end = start;
    while (end < s.length && s[end] !== '"') end += s[end] === '\\' ? 2 : 1;
    if (end >= s.length) throw new RewriteError('not-json', 'not JSON: a string is not closed');
    edits.push(...rewriteStringToken(s, start, end, mappings, asciiOnly));
    i = end + 1;
    outside = i;
  }
  if (!NON_STRING.test(s.slice(outside)))
    throw new RewriteError('not-json', 'not JSON: text outside strings');
  if (edits.length === 0) return undefined;
  return toBytes(fromBytes(bytes.subarray(0, bom)) + applySplices(s, edits));
}

function rewriteStringToken(
  s: string,
  start: number,
  end: number,
  mappings: readonly Mapping[],
  asciiOnly: boolean,
): Splice[] {
  const units = decodeString(s, start, end);
  const value = units.map((u) => u.bytes).join('');
  const style: JsonStyle = { asciiOnly, escapeSlash: s.slice(start, end).includes('\\/') };
  // Value-level edits: paths inside file: URLs percent-encoded, the rest as plain paths.
  const { edits: urlEdits, covered } = fileUrlEdits(value, mappings);
  const valueEdits: Splice[] = [...urlEdits];
  for (const m of findPathMatches(value, mappings)) {
    if (!covered.some((c: Span) => m.start < c.end && m.end > c.start)) {
      valueEdits.push({ start: m.start, end: m.end, text: m.mapping.to });
    }
  }
  if (valueEdits.length === 0) return [];
  // Map value offsets to source offsets through the units.
  const startAt = new Map<number, number>();
  const endAt = new Map<number, number>();
  let pos = 0;
  for (const u of units) {
    if (!startAt.has(pos)) startAt.set(pos, u.s);
    pos += u.bytes.length;
    endAt.set(pos, u.e);
  }
  const out: Splice[] = [];
  for (const e of valueEdits) {
    const ss = startAt.get(e.start);
    const se = endAt.get(e.end);
    // A path edge inside one escape (it cannot happen for real paths): leave that one alone.
    if (ss === undefined || se === undefined) continue;
    out.push({ start: ss, end: se, text: jsonEscapePath(e.text, style) });
  }
  return out;
}

/**
 * Python source (.py: setuptools' editable finders, activate_this.py, any module): paths inside
 * string literals are rewritten in the literal's own escaping, paths in comments and code
 * verbatim.
 *
 * setuptools (>= 64) writes its PEP 660 finder with repr(): `MAPPING: dict[str, str] =
 * {'pkg': '/src/pkg'}`. repr() switches to "…" when the value holds a ' but no ", doubles
 * backslashes, writes non-printable characters as \x.. \u.. \U.. and the surrogates of
 * undecodable path bytes (PEP 383) as \udcXX. So a literal is decoded to its value, the paths
 * are replaced in the value, and the new value is written back in the same literal: inline
 * escapes where they fit, else the whole literal re-encoded as repr() would write it.
 *
 * Values are handled as byte strings the way os.fsencode() sees them: UTF-8, with \udc80 to
 * \udcff standing for the bytes 0x80 to 0xff, so mappings (which are bytes) match them.
 */
import { isUtf8 } from 'node:buffer';
import { RewriteError } from '../core/errors.js';
import {
  type ByteString,
  type Mapping,
  findPathMatches,
  fromBytes,
  replacePaths,
  toBytes,
} from '../core/path-boundary.js';
import { applySplices, type Span, type Splice } from './splice.js';

// ---------------------------------------------------------------------------------------------
// Tokenising: just enough to know where literals, comments and code are.

interface TextPart {
  readonly kind: 'text';
  readonly start: number;
  readonly end: number;
}
interface ExprPart {
  readonly kind: 'expr';
  readonly start: number;
  readonly end: number;
  readonly regions: readonly Region[];
}
type Part = TextPart | ExprPart;

/** A string literal: `prefix` + quote + body + quote, body split into text and f-string fields. */
interface PyString {
  readonly kind: 'string';
  readonly start: number;
  readonly end: number;
  readonly prefix: string;
  readonly prefixEnd: number;
  readonly quote: string;
  readonly triple: boolean;
  readonly raw: boolean;
  readonly bytes: boolean;
  readonly fmt: boolean;
  readonly parts: readonly Part[];
}
interface Plain {
  readonly kind: 'code' | 'comment';
  readonly start: number;
  readonly end: number;
}
type Region = PyString | Plain;

// Every string prefix of Python 3.6 to 3.14 (t-strings are PEP 750, 3.14), any letter case.
const PREFIXES = new Set(['r', 'u', 'b', 'br', 'rb', 'f', 'fr', 'rf', 't', 'tr', 'rt']);

class Unterminated extends Error {}

function isWordChar(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x5f ||
    c >= 0x80
  );
}

// Scan code from `pos`. Inside an f-string field (`inField`) stop at the `}` that closes it.
function scanCode(s: string, pos: number, inField: boolean): { regions: Region[]; end: number } {
  const regions: Region[] = [];
  let codeStart = pos;
  let depth = 0;
  let i = pos;
  const flush = (to: number): void => {
    if (to > codeStart) regions.push({ kind: 'code', start: codeStart, end: to });
  };
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (inField) {
      if (c === 0x7b || c === 0x5b || c === 0x28) depth++;
      else if (c === 0x5d || c === 0x29) depth--;
      else if (c === 0x7d) {
        if (depth === 0) break;
        depth--;
      }
    }
    if (c === 0x23) {
      flush(i);
      let e = i;
      while (e < s.length && s[e] !== '\n' && s[e] !== '\r') e++;
      regions.push({ kind: 'comment', start: i, end: e });
      i = e;
      codeStart = i;
      continue;
    }
    if (c === 0x5c) {
      i += 2;
      continue;
    }
    if (c === 0x27 || c === 0x22) {
      const str = scanString(s, i, i);
      flush(i);
      regions.push(str);
      i = str.end;
      codeStart = i;
      continue;
    }
    if (isWordChar(c)) {
      let j = i;
      while (j < s.length && isWordChar(s.charCodeAt(j))) j++;
      const q = s[j];
      if ((q === "'" || q === '"') && PREFIXES.has(s.slice(i, j).toLowerCase())) {
        const str = scanString(s, j, i);
        flush(i);
        regions.push(str);
        i = str.end;
        codeStart = i;
        continue;
      }
      i = j;
      continue;
    }
    i++;
  }
  if (inField && i >= s.length) throw new Unterminated();
  flush(Math.min(i, s.length));
  return { regions, end: i };
}

function scanString(s: string, qpos: number, start: number): PyString {
  const quote = s[qpos] ?? "'";
  const triple = s.startsWith(quote + quote + quote, qpos);
  const qlen = triple ? 3 : 1;
  const prefix = s.slice(start, qpos);
  const p = prefix.toLowerCase();
  const raw = p.includes('r');
  const fmt = p.includes('f') || p.includes('t');
  const parts: Part[] = [];
  let i = qpos + qlen;
  let textStart = i;
  for (;;) {
    if (i >= s.length) throw new Unterminated();
    const c = s[i];
    if (c === '\\') {
      // In f-strings a backslash never hides a field's brace.
      if (fmt && (s[i + 1] === '{' || s[i + 1] === '}')) {
        i++;
        continue;
      }
      i += s[i + 1] === '\r' && s[i + 2] === '\n' ? 3 : 2;
      continue;
    }
    if (!triple && (c === '\n' || c === '\r')) throw new Unterminated();
    if (c === quote && (!triple || s.startsWith(quote + quote + quote, i))) break;
    if (fmt && c === '{') {
      if (s[i + 1] === '{') {
        i += 2;
        continue;
      }
      parts.push({ kind: 'text', start: textStart, end: i });
      const inner = scanCode(s, i + 1, true);
      parts.push({ kind: 'expr', start: i, end: inner.end + 1, regions: inner.regions });
      i = inner.end + 1;
      textStart = i;
      continue;
    }
    if (fmt && c === '}') {
      i += s[i + 1] === '}' ? 2 : 1;
      continue;
    }
    i++;
  }
  parts.push({ kind: 'text', start: textStart, end: i });
  return {
    kind: 'string',
    start,
    end: i + qlen,
    prefix,
    prefixEnd: qpos,
    quote,
    triple,
    raw,
    bytes: p.includes('b'),
    fmt,
    parts,
  };
}

function scanPython(s: string): Region[] | undefined {
  try {
    return scanCode(s, 0, false).regions;
  } catch (err) {
    if (err instanceof Unterminated) return undefined;
    throw err;
  }
}

/** A top-level string literal of Python source, as make-relocatable's forms look at them. */
export interface PythonLiteral {
  /** The literal, prefix and quotes included: `[start, end)`. */
  readonly start: number;
  readonly end: number;
  /** Its body, between the quotes. */
  readonly bodyStart: number;
  readonly bodyEnd: number;
  /** The prefix as written (`r`, `u`, `b`, `f`, …) and the quote (`'`, `"`, `\'\'\'`, `"""`). */
  readonly prefix: string;
  readonly quote: string;
}

/** The top-level string literals of `s` (f-string fields are not looked into); undefined when one is left open. */
export function pythonLiterals(s: string): PythonLiteral[] | undefined {
  const regions = scanPython(s);
  if (regions === undefined) return undefined;
  const out: PythonLiteral[] = [];
  for (const r of regions) {
    if (r.kind !== 'string') continue;
    const quote = r.triple ? r.quote.repeat(3) : r.quote;
    out.push({
      start: r.start,
      end: r.end,
      bodyStart: r.prefixEnd + quote.length,
      bodyEnd: r.end - quote.length,
      prefix: r.prefix,
      quote,
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Source encoding (PEP 263): UTF-8 unless a coding cookie on line 1 or 2 says otherwise.

type SourceEncoding = 'utf8' | 'latin1' | 'other';

const COOKIE = /^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)/;
const LATIN1_NAMES = new Set([
  'latin-1',
  'iso-8859-1',
  'iso-latin-1',
  'latin1',
  'l1',
  'iso8859-1',
  'latin',
  'cp819',
  '8859',
]);

function sourceEncoding(s: string): SourceEncoding {
  if (s.startsWith('\xef\xbb\xbf')) return 'utf8';
  const lines = s.slice(0, 2048).split(/\r\n|\r|\n/, 2);
  let m = COOKIE.exec(lines[0] ?? '');
  if (m === null && /^[ \t\f]*(?:#.*)?$/.test(lines[0] ?? '')) m = COOKIE.exec(lines[1] ?? '');
  if (m === null) return 'utf8';
  const name = (m[1] ?? '').toLowerCase().replace(/_/g, '-');
  // CPython's get_normal_name(): "utf-8" and "utf-8-*"; codecs also knows "utf8".
  if (name === 'utf-8' || name.startsWith('utf-8-') || name === 'utf8') return 'utf8';
  if (LATIN1_NAMES.has(name) || /^(?:latin-1|iso-8859-1|iso-latin-1)-/.test(name)) return 'latin1';
  return 'other';
}

// ---------------------------------------------------------------------------------------------
// Decoding literal text into its value.

/**
 * One piece of a literal's text: source `[s, e)`, the bytes it stands for (fsencode view) and
 * its code points (`null` for what we cannot decode, like `\N{…}`; its bytes are then U+FFFF,
 * which no mapping can match, and it is written back as its source text).
 */
interface Unit {
  readonly s: number;
  readonly e: number;
  readonly bytes: string;
  readonly cps: readonly number[] | null;
}

const OPAQUE = '\uffff';

/** A code point as os.fsencode() writes it; null for a surrogate that is not a PEP 383 byte. */
function cpToBytes(cp: number): string | null {
  if (cp < 0x80) return String.fromCharCode(cp);
  if (cp >= 0xdc80 && cp <= 0xdcff) return String.fromCharCode(cp - 0xdc00);
  if (cp >= 0xd800 && cp <= 0xdfff) return null;
  return Buffer.from(String.fromCodePoint(cp), 'utf8').toString('latin1');
}

/** Decode UTF-8 bytes to code points, undecodable bytes as U+DC80..U+DCFF (surrogateescape). */
function bytesToCps(b: ByteString): number[] {
  const out: number[] = [];
  let i = 0;
  while (i < b.length) {
    const len = utf8SeqLength(b, i);
    if (len === 0) {
      const c = b.charCodeAt(i);
      out.push(c < 0x80 ? c : 0xdc00 + c);
      i++;
    } else {
      out.push(
        Buffer.from(b.slice(i, i + len), 'latin1')
          .toString('utf8')
          .codePointAt(0) ?? 0,
      );
      i += len;
    }
  }
  return out;
}

// Length of the valid UTF-8 sequence at b[i] (1 for ASCII), or 0 if it is not valid.
function utf8SeqLength(b: string, i: number): number {
  const c = b.charCodeAt(i);
  if (c < 0x80) return 1;
  let len: number;
  let min: number;
  if (c >= 0xc2 && c <= 0xdf) [len, min] = [2, 0x80];
  else if (c >= 0xe0 && c <= 0xef) [len, min] = [3, 0x800];
  else if (c >= 0xf0 && c <= 0xf4) [len, min] = [4, 0x10000];
  else return 0;
  if (i + len > b.length) return 0;
  let cp = c & (0xff >> (len + 1));
  for (let k = 1; k < len; k++) {
    const d = b.charCodeAt(i + k);
    if ((d & 0xc0) !== 0x80) return 0;
    cp = (cp << 6) | (d & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

const SIMPLE_ESCAPES: Readonly<Record<string, number>> = {
  '\\': 0x5c,
  "'": 0x27,
  '"': 0x22,
  a: 7,
  b: 8,
  f: 12,
  n: 10,
  r: 13,
  t: 9,
  v: 11,
};

interface LiteralKind {
  readonly raw: boolean;
  readonly bytes: boolean;
  readonly fmt: boolean;
}

function unitOfCp(s: number, e: number, cp: number, isBytes: boolean): Unit {
  if (isBytes) return { s, e, bytes: String.fromCharCode(cp & 0xff), cps: [cp & 0xff] };
  const bytes = cpToBytes(cp);
  return bytes === null ? { s, e, bytes: OPAQUE, cps: null } : { s, e, bytes, cps: [cp] };
}

function decodeText(
  src: string,
  start: number,
  end: number,
  lit: LiteralKind,
  enc: SourceEncoding,
): Unit[] {
  const units: Unit[] = [];
  let i = start;
  while (i < end) {
    const c = src.charCodeAt(i);
    if (lit.fmt && (c === 0x7b || c === 0x7d) && src.charCodeAt(i + 1) === c) {
      units.push({ s: i, e: i + 2, bytes: src[i] ?? '', cps: [c] });
      i += 2;
      continue;
    }
    if (c === 0x5c && !lit.raw && i + 1 < end) {
      const n = src[i + 1] ?? '';
      if (n === '\n' || n === '\r') {
        // A backslash at the end of a line continues the literal and adds nothing.
        const e = n === '\r' && src[i + 2] === '\n' ? i + 3 : i + 2;
        units.push({ s: i, e, bytes: '', cps: [] });
        i = e;
        continue;
      }
      const simple = SIMPLE_ESCAPES[n];
      if (simple !== undefined) {
        units.push(unitOfCp(i, i + 2, simple, lit.bytes));
        i += 2;
        continue;
      }
      const oct = /^[0-7]{1,3}/.exec(src.slice(i + 1, Math.min(i + 4, end)));
      if (oct !== null) {
        units.push(unitOfCp(i, i + 1 + oct[0].length, parseInt(oct[0], 8), lit.bytes));
        i += 1 + oct[0].length;
        continue;
      }
      const hexLen = n === 'x' ? 2 : lit.bytes ? 0 : n === 'u' ? 4 : n === 'U' ? 8 : 0;
      if (hexLen > 0) {
        const h = src.slice(i + 2, i + 2 + hexLen);
        if (h.length === hexLen && /^[0-9a-fA-F]+$/.test(h) && parseInt(h, 16) <= 0x10ffff) {
          units.push(unitOfCp(i, i + 2 + hexLen, parseInt(h, 16), lit.bytes));
          i += 2 + hexLen;
          continue;
        }
      }
      if (n === 'N' && !lit.bytes && src[i + 2] === '{') {
        const close = src.indexOf('}', i + 3);
        if (close !== -1 && close < end) {
          units.push({ s: i, e: close + 1, bytes: OPAQUE, cps: null });
          i = close + 1;
          continue;
        }
      }
      // An unknown escape keeps its backslash; the next character is read on its own.
      units.push({ s: i, e: i + 1, bytes: '\\', cps: [0x5c] });
      i += 1;
      continue;
    }
    if (c === 0x0d) {
      // The tokenizer reads source with universal newlines: CRLF and CR are "\n" in a value.
      const e = src.charCodeAt(i + 1) === 0x0a && i + 1 < end ? i + 2 : i + 1;
      units.push({ s: i, e, bytes: '\n', cps: [0x0a] });
      i = e;
      continue;
    }
    if (c >= 0x80 && !lit.bytes) {
      if (enc === 'utf8') {
        const len = utf8SeqLength(src, i);
        if (len > 0 && i + len <= end) {
          const bytes = src.slice(i, i + len);
          units.push({ s: i, e: i + len, bytes, cps: bytesToCps(bytes) });
          i += len;
          continue;
        }
      } else if (enc === 'latin1') {
        units.push(unitOfCp(i, i + 1, c, false));
        i += 1;
        continue;
      }
      units.push({ s: i, e: i + 1, bytes: OPAQUE, cps: null });
      i += 1;
      continue;
    }
    units.push({ s: i, e: i + 1, bytes: src[i] ?? '', cps: [c] });
    i += 1;
  }
  return units;
}

// ---------------------------------------------------------------------------------------------
// Encoding values back into literal text.

/** A character to write: a code point (a byte in a bytes literal), or source text kept as is. */
type Char = number | { readonly src: string };

interface EncodeOptions {
  readonly quote: string;
  readonly bytes: boolean;
  readonly fmt: boolean;
  readonly enc: SourceEncoding;
}

// str.isprintable(): not in Unicode categories C* or Z*, except the space.
const NON_PRINTABLE = /[\p{C}\p{Z}]/u;

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

/** Write characters for a non-raw literal quoted with `quote`, escaping as repr() does. */
function encodeChars(chars: readonly Char[], o: EncodeOptions): string {
  let out = '';
  for (const ch of chars) {
    if (typeof ch !== 'number') {
      out += ch.src;
      continue;
    }
    if (ch === 0x5c) out += '\\\\';
    else if (ch === o.quote.charCodeAt(0)) out += '\\' + o.quote;
    else if (ch === 0x09) out += '\\t';
    else if (ch === 0x0a) out += '\\n';
    else if (ch === 0x0d) out += '\\r';
    else if (o.fmt && (ch === 0x7b || ch === 0x7d)) out += String.fromCharCode(ch, ch);
    else if (ch < 0x20 || ch === 0x7f) out += '\\x' + hex(ch, 2);
    else if (ch < 0x80) out += String.fromCharCode(ch);
    else if (o.bytes) out += '\\x' + hex(ch & 0xff, 2);
    else if (o.enc === 'utf8' && !NON_PRINTABLE.test(String.fromCodePoint(ch)))
      out += cpToBytes(ch) ?? '';
    else if (ch <= 0xff) out += '\\x' + hex(ch, 2);
    else if (ch <= 0xffff) out += '\\u' + hex(ch, 4);
    else out += '\\U' + hex(ch, 8);
  }
  return out;
}

/** The text to put in a raw literal for `chars`, or undefined when a raw literal cannot hold it. */
function rawChars(chars: readonly Char[], o: EncodeOptions): string | undefined {
  let out = '';
  for (const ch of chars) {
    if (typeof ch !== 'number') return undefined;
    if (ch === 0x5c || ch === o.quote.charCodeAt(0)) return undefined;
    if (o.fmt && (ch === 0x7b || ch === 0x7d)) out += String.fromCharCode(ch, ch);
    else if (ch === 0x09 || (ch >= 0x20 && ch < 0x7f)) out += String.fromCharCode(ch);
    else if (ch >= 0x80 && !o.bytes && o.enc === 'utf8' && !(ch >= 0xd800 && ch <= 0xdfff))
      out += cpToBytes(ch) ?? '';
    else return undefined;
  }
  return out;
}

function charsOfBytes(b: ByteString, isBytes: boolean): number[] {
  if (isBytes) return Array.from(b, (c) => c.charCodeAt(0));
  return bytesToCps(b);
}

function charsOfUnits(units: readonly Unit[], src: string): Char[] {
  const out: Char[] = [];
  for (const u of units) {
    if (u.cps === null) out.push({ src: src.slice(u.s, u.e) });
    else out.push(...u.cps);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Rewriting one literal.

/** A text part's value after the mappings: value-level replacements. */
interface PartPlan {
  readonly part: TextPart;
  readonly units: Unit[];
  readonly value: string;
  readonly repl: { vs: number; ve: number; to: ByteString }[];
}

function signatureOf(
  src: string,
  str: PyString,
  enc: SourceEncoding,
  newValues?: ReadonlyMap<TextPart, string>,
): string {
  const sig: string[] = [str.bytes ? 'b' : 's', str.fmt ? 'f' : ''];
  for (const part of str.parts) {
    if (part.kind === 'expr') sig.push('E' + src.slice(part.start, part.end));
    else
      sig.push(
        'T' +
          (newValues?.get(part) ??
            decodeText(src, part.start, part.end, str, enc)
              .map((u) => u.bytes)
              .join('')),
      );
  }
  return JSON.stringify(sig);
}

// The literal must read back as exactly one literal with the expected value.
function verify(candidate: string, expected: string, enc: SourceEncoding): boolean {
  let regions: Region[];
  try {
    regions = scanCode(candidate, 0, false).regions;
  } catch {
    return false;
  }
  const only = regions[0];
  if (
    regions.length !== 1 ||
    only === undefined ||
    only.kind !== 'string' ||
    only.end !== candidate.length
  )
    return false;
  return signatureOf(candidate, only, enc) === expected;
}

// Source span of value range [vs, ve): from the first non-empty unit starting at vs to the
// last non-empty unit ending at ve; undefined when a unit straddles an end.
function sourceSpan(units: readonly Unit[], vs: number, ve: number): Span | undefined {
  let pos = 0;
  let start: number | undefined;
  let end: number | undefined;
  for (const u of units) {
    const next = pos + u.bytes.length;
    if (u.bytes.length > 0) {
      if (start === undefined && pos === vs) start = u.s;
      if (start === undefined && pos < vs && next > vs) return undefined;
      if (next === ve && start !== undefined) {
        end = u.e;
        break;
      }
      if (pos < ve && next > ve) return undefined;
    }
    pos = next;
  }
  return start === undefined || end === undefined ? undefined : { start, end };
}

// The new value's characters: original units outside replacements, new paths inside. A unit
// only partly covered by a replacement keeps the characters of its other part.
function newChars(plan: PartPlan, src: string, isBytes: boolean): Char[] {
  const out: Char[] = [];
  let pos = 0;
  let r = 0;
  let skipUntil = 0;
  for (const u of plan.units) {
    const uStart = pos;
    const uEnd = pos + u.bytes.length;
    let cur = Math.max(uStart, skipUntil);
    for (let rp = plan.repl[r]; rp !== undefined && rp.vs < uEnd; rp = plan.repl[r]) {
      if (rp.vs > cur)
        out.push(...charsOfBytes(u.bytes.slice(cur - uStart, rp.vs - uStart), isBytes));
      out.push(...charsOfBytes(rp.to, isBytes));
      cur = rp.ve;
      skipUntil = rp.ve;
      r++;
    }
    if (cur === uStart && uEnd > uStart) out.push(...charsOfUnits([u], src));
    else if (cur < uEnd) out.push(...charsOfBytes(u.bytes.slice(cur - uStart), isBytes));
    pos = uEnd;
  }
  return out;
}

function rewriteString(
  src: string,
  str: PyString,
  mappings: readonly Mapping[],
  enc: SourceEncoding,
  outerQuotes: string,
): Splice[] {
  // Every mapped path starts with "/", which a literal writes as itself or as an escape.
  const source = src.slice(str.start, str.end);
  if (!source.includes('/') && !source.includes('\\')) return [];
  const plans: PartPlan[] = [];
  for (const part of str.parts) {
    if (part.kind !== 'text') continue;
    const units = decodeText(src, part.start, part.end, str, enc);
    const value = units.map((u) => u.bytes).join('');
    const repl = findPathMatches(value, mappings).map((m) => ({
      vs: m.start,
      ve: m.end,
      to: m.mapping.to,
    }));
    if (repl.length > 0) plans.push({ part, units, value, repl });
  }
  if (plans.length === 0) return [];

  const newValues = new Map<TextPart, string>();
  for (const p of plans) {
    let v = '';
    let pos = 0;
    for (const r of p.repl) {
      v += p.value.slice(pos, r.vs) + r.to;
      pos = r.ve;
    }
    newValues.set(p.part, v + p.value.slice(pos));
  }
  const expected = signatureOf(src, str, enc, newValues);
  const o: EncodeOptions = { quote: str.quote, bytes: str.bytes, fmt: str.fmt, enc };
  const literal = source;
  const local = (edits: Splice[]): string =>
    applySplices(
      literal,
      edits.map((e) => ({ ...e, start: e.start - str.start, end: e.end - str.start })),
    );

  // 1. Inline: only the paths change, written in this literal's own escaping.
  const inline: Splice[] = [];
  let inlineOk = true;
  for (const p of plans) {
    for (const r of p.repl) {
      const span = sourceSpan(p.units, r.vs, r.ve);
      const chars = charsOfBytes(r.to, str.bytes);
      // Inside an f-string field Python < 3.12 allows no backslash and no quote of the
      // enclosing literals, so there the path must go in as it is.
      const bare = str.raw || outerQuotes !== '';
      let text = bare ? rawChars(chars, o) : encodeChars(chars, o);
      if (text !== undefined && [...outerQuotes].some((q) => text?.includes(q))) text = undefined;
      if (span === undefined || text === undefined) inlineOk = false;
      else inline.push({ start: span.start, end: span.end, text });
    }
  }
  if (inlineOk && verify(local(inline), expected, enc)) return inline;
  if (outerQuotes !== '') {
    throw new RewriteError(
      'unquotable',
      `the new path would need a backslash or a quote inside an f-string field, which Python < 3.12 forbids: ${literal.slice(0, 200)}`,
    );
  }

  // 2. Re-encode without the raw prefix. A plain literal becomes what repr() writes (its
  // choice of quote, one line); an f-string keeps its quotes and fields, its text parts are
  // escaped.
  const prefix = str.prefix.replace(/[rR]/g, '');
  let edits: Splice[];
  if (!str.fmt) {
    const plan = plans[0];
    if (plan === undefined) return [];
    const chars = newChars(plan, src, str.bytes);
    const quote = chars.includes(0x27) && !chars.includes(0x22) ? '"' : "'";
    const text = prefix + quote + encodeChars(chars, { ...o, quote }) + quote;
    edits = [{ start: str.start, end: str.end, text }];
  } else {
    edits = [{ start: str.start, end: str.prefixEnd, text: prefix }];
    for (const part of str.parts) {
      if (part.kind !== 'text') continue;
      const plan = plans.find((p) => p.part === part);
      const chars = plan
        ? newChars(plan, src, false)
        : charsOfUnits(decodeText(src, part.start, part.end, str, enc), src);
      edits.push({ start: part.start, end: part.end, text: encodeChars(chars, o) });
    }
  }
  if (verify(local(edits), expected, enc)) return edits;
  throw new RewriteError(
    'unquotable',
    `cannot write the new path in the Python literal ${literal.slice(0, 200)}`,
  );
}

// ---------------------------------------------------------------------------------------------

/** Move paths in Python source: inside literals in their own escaping, elsewhere verbatim. */
export function rewritePythonSource(
  bytes: Buffer,
  ctx: { mappings: readonly Mapping[] },
): Buffer | undefined {
  const { mappings } = ctx;
  const s = fromBytes(bytes);
  const regions = scanPython(s);
  if (regions === undefined) {
    // Not Python we can tokenise (an unterminated literal): the general text rule.
    const out = replacePaths(s, mappings);
    return out === undefined ? undefined : toBytes(out);
  }
  const enc = sourceEncoding(s);
  const edits: Splice[] = [];
  const verbatim: Span[] = [];
  const walk = (rs: readonly Region[], outerQuotes: string): void => {
    for (const r of rs) {
      if (r.kind !== 'string') verbatim.push(r);
      else {
        edits.push(...rewriteString(s, r, mappings, enc, outerQuotes));
        for (const part of r.parts)
          if (part.kind === 'expr') walk(part.regions, outerQuotes + r.quote);
      }
    }
  };
  walk(regions, '');
  verbatim.sort((a, b) => a.start - b.start);
  let k = 0;
  for (const m of findPathMatches(s, mappings)) {
    while (k < verbatim.length && (verbatim[k]?.end ?? 0) <= m.start) k++;
    const span = verbatim[k];
    if (span === undefined || span.start > m.start || span.end < m.end) continue;
    // A line break would end a comment early or split a line of code.
    if (/[\r\n]/.test(m.mapping.to)) {
      throw new RewriteError(
        'unquotable',
        `the path ${JSON.stringify(m.mapping.to)} holds a line break and cannot be written outside a Python literal`,
      );
    }
    // Outside literals there is no escape: a byte that is not UTF-8 would make the whole
    // module a SyntaxError ("Non-UTF-8 code starting with ...", PEP 263).
    if (enc === 'utf8' && !isUtf8(toBytes(m.mapping.to))) {
      throw new RewriteError(
        'unquotable',
        `the path ${JSON.stringify(m.mapping.to)} is not UTF-8 and cannot be written outside a literal of a UTF-8 Python file`,
      );
    }
    edits.push({ start: m.start, end: m.end, text: m.mapping.to });
  }
  if (edits.length === 0) return undefined;
  return toBytes(applySplices(s, edits));
}

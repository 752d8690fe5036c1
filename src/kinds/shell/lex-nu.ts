/**
 * Nushell tokens, as nu reads `bin/activate.nu`: '…', "…" with C-style escapes, `` `…` ``,
 * raw `r#'…'#`, interpolations `$'…(expr)…'` / `$"…(expr)…"`, bare words, variables and
 * comments. Nu has no concatenation of adjacent quoted parts, so a string that holds a path is
 * re-quoted as a whole (`requoteNu`). Escapes are those of nu-parser's `unescape_string`.
 */
import type { ByteString } from '../../core/path-boundary.js';
import { isPlainByte } from './words.js';

/** How a nu string token was written. */
export type NuStyle = "'" | '"' | '`' | 'raw' | "$'" | '$"' | 'bare';

/** A piece of a string token: decoded literal text, or an interpolated `(…)` expression. */
export type NuSegment =
  | { readonly lit: ByteString }
  | {
      readonly expr: {
        readonly start: number;
        readonly end: number;
        readonly tokens: readonly NuToken[];
      };
    };

/** One nu token. Strings carry their decoded segments; `var` is `$name…`; `other` is anything else. */
export interface NuToken {
  readonly kind: 'string' | 'comment' | 'var' | 'punct' | 'other';
  readonly style?: NuStyle;
  readonly start: number;
  readonly end: number;
  readonly segments: readonly NuSegment[];
}

const NU_ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  "'": "'",
  '\\': '\\',
  '/': '/',
  '(': '(',
  ')': ')',
  '{': '{',
  '}': '}',
  $: '$',
  '^': '^',
  '#': '#',
  '|': '|',
  '~': '~',
  a: '\x07',
  b: '\b',
  e: '\x1b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  '0': '\0',
};

const PUNCT = '()[]{}|;,';

function isSpace(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r';
}

class NuLexer {
  constructor(private readonly s: string) {}

  /** Tokens from `i0` up to the end, or (inParen) up to the `)` that closes an interpolation. */
  tokens(i0: number, inParen: boolean): { tokens: NuToken[]; end: number } {
    const s = this.s;
    const n = s.length;
    const out: NuToken[] = [];
    let depth = 0;
    let i = i0;
    while (i < n) {
      const c = s[i] as string;
      if (isSpace(c)) {
        i++;
        continue;
      }
      if (c === '#') {
        let j = s.indexOf('\n', i);
        if (j === -1) j = n;
        out.push({ kind: 'comment', start: i, end: j, segments: [{ lit: s.slice(i, j) }] });
        i = j;
        continue;
      }
      if (c === ')' && inParen && depth === 0) return { tokens: out, end: i };
      if (PUNCT.includes(c)) {
        if (c === '(') depth++;
        if (c === ')') depth = Math.max(0, depth - 1);
        out.push({ kind: 'punct', start: i, end: i + 1, segments: [] });
        i++;
        continue;
      }
      const tok = this.token(i);
      out.push(tok);
      i = tok.end;
    }
    return { tokens: out, end: n };
  }

  private token(i: number): NuToken {
    const s = this.s;
    const c = s[i] as string;
    if (c === "'" || c === '`') {
      const close = s.indexOf(c, i + 1);
      const end = close === -1 ? s.length : close + 1;
      return {
        kind: 'string',
        style: c,
        start: i,
        end,
        segments: [{ lit: s.slice(i + 1, end - 1) }],
      };
    }
    if (c === '"') {
      const r = this.escaped(i + 1, false);
      return { kind: 'string', style: '"', start: i, end: r.end, segments: [{ lit: r.text }] };
    }
    if (c === 'r' && s[i + 1] === '#') {
      let j = i + 1;
      while (s[j] === '#') j++;
      if (s[j] === "'") {
        const hashes = '#'.repeat(j - i - 1);
        const close = s.indexOf("'" + hashes, j + 1);
        const end = close === -1 ? s.length : close + 1 + hashes.length;
        const body = s.slice(j + 1, close === -1 ? s.length : close);
        return { kind: 'string', style: 'raw', start: i, end, segments: [{ lit: body }] };
      }
    }
    if (c === '$' && (s[i + 1] === "'" || s[i + 1] === '"')) return this.interpolation(i);
    // a bare word or a variable, up to a blank or a bracket
    let j = i;
    let quoted = false;
    while (j < s.length && !isSpace(s[j] as string) && !PUNCT.includes(s[j] as string)) {
      const q = s[j] as string;
      if (q === '"' || q === "'" || q === '`') {
        quoted = true;
        const close = s.indexOf(q, j + 1);
        j = close === -1 ? s.length : close + 1;
      } else {
        j++;
      }
    }
    if (c === '$') return { kind: 'var', start: i, end: j, segments: [] };
    if (quoted) return { kind: 'other', start: i, end: j, segments: [] };
    return { kind: 'string', style: 'bare', start: i, end: j, segments: [{ lit: s.slice(i, j) }] };
  }

  /** A "…" body from `i0`: decoded text and the index past the closing quote. */
  private escaped(i0: number, stopAtParen: boolean): { text: string; end: number; paren: boolean } {
    const s = this.s;
    const n = s.length;
    let text = '';
    let j = i0;
    while (j < n) {
      const c = s[j] as string;
      if (c === '"') return { text, end: j + 1, paren: false };
      if (stopAtParen && c === '(') return { text, end: j, paren: true };
      if (c === '\\' && j + 1 < n) {
        const e = s[j + 1] as string;
        const simple = NU_ESCAPES[e];
        const u = /^u\{([0-9A-Fa-f]{1,6})\}/.exec(s.slice(j + 1, j + 11));
        const x = /^x([0-9A-Fa-f]{2})/.exec(s.slice(j + 1, j + 4));
        if (simple !== undefined) {
          text += simple;
          j += 2;
        } else if (u !== null) {
          const cp = parseInt(u[1] as string, 16);
          if (cp <= 0x10ffff)
            text += Buffer.from(String.fromCodePoint(cp), 'utf8').toString('latin1');
          j += 1 + u[0].length;
        } else if (x !== null) {
          text += String.fromCharCode(parseInt(x[1] as string, 16));
          j += 3;
        } else {
          text += c;
          j++;
        }
        continue;
      }
      text += c;
      j++;
    }
    return { text, end: n, paren: false };
  }

  private interpolation(i: number): NuToken {
    const s = this.s;
    const n = s.length;
    const dq = s[i + 1] === '"';
    const segments: NuSegment[] = [];
    let j = i + 2;
    for (;;) {
      let lit: string;
      let atParen: boolean;
      if (dq) {
        const r = this.escaped(j, true);
        lit = r.text;
        atParen = r.paren;
        j = r.end;
      } else {
        let k = j;
        while (k < n && s[k] !== "'" && s[k] !== '(') k++;
        lit = s.slice(j, k);
        atParen = s[k] === '(';
        j = atParen ? k : Math.min(k + 1, n);
      }
      if (lit !== '') segments.push({ lit });
      if (!atParen) break;
      const r = this.tokens(j + 1, true);
      segments.push({ expr: { start: j + 1, end: r.end, tokens: r.tokens } });
      j = Math.min(r.end + 1, n);
      if (j >= n) break;
    }
    return { kind: 'string', style: dq ? '$"' : "$'", start: i, end: j, segments };
  }
}

/** Splits a nu script (bin/activate.nu) into tokens. */
export function lexNu(s: ByteString): NuToken[] {
  return new NuLexer(s).tokens(0, false).tokens;
}

/** The decoded value of a string token without interpolation; undefined for anything else. */
export function nuLiteral(tok: NuToken | undefined): ByteString | undefined {
  if (tok === undefined || tok.kind !== 'string') return undefined;
  let out = '';
  for (const seg of tok.segments) {
    if (!('lit' in seg)) return undefined;
    out += seg.lit;
  }
  return out;
}

/** The body of a "…" (or `$"…"` when `interp`) holding `v`. */
export function escapeNuDouble(v: ByteString, interp: boolean): string {
  let out = '';
  for (const ch of v) {
    const k = ch.charCodeAt(0);
    if (ch === '\\' || ch === '"') out += '\\' + ch;
    else if (interp && (ch === '(' || ch === ')')) out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (k < 0x20 || k === 0x7f) out += '\\u{' + k.toString(16) + '}';
    else out += ch;
  }
  return out;
}

/** `r#'…'#` with enough `#`s that the body cannot end it early (nu needs at least one). */
export function nuRaw(v: ByteString): string {
  let most = 0;
  const re = /'(#*)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(v)) !== null) most = Math.max(most, (m[1] as string).length);
  const hashes = '#'.repeat(most + 1);
  return 'r' + hashes + "'" + v + "'" + hashes;
}

/** A string token holding `v`, written in its old style where that style can hold `v`. */
export function requoteNu(v: ByteString, style: NuStyle): string {
  switch (style) {
    case "'":
      if (!v.includes("'")) return "'" + v + "'";
      break;
    case '`':
      if (!v.includes('`')) return '`' + v + '`';
      break;
    case 'raw':
      return nuRaw(v);
    case 'bare': {
      // `^/path/bin/python` runs an external: keep the caret outside the quotes
      const caret = v.startsWith('^') ? '^' : '';
      const rest = caret === '' ? v : v.slice(1);
      if (rest !== '' && [...rest].every((ch) => isPlainByte(ch))) return v;
      return caret + '"' + escapeNuDouble(rest, false) + '"';
    }
    default:
      break;
  }
  return '"' + escapeNuDouble(v, false) + '"';
}

/**
 * PowerShell tokens, as pwsh reads `bin/Activate.ps1`: '…' (a doubled quote is a quote),
 * "…" with backtick escapes and `$var`/`$(…)`, here-strings `@'…'@`/`@"…"@`, bare command
 * arguments, `#` and `<#…#>` comments. PowerShell also takes the typographic quotes
 * U+2018–U+201B as `'` and U+201C–U+201E as `"` (its tokenizer's IsSingleQuote/IsDoubleQuote),
 * so a path holding one of them is escaped like the ASCII quote. Nothing needs closing and
 * reopening: every quoting here can hold any path except a here-string line starting `'@`.
 */
import type { ByteString } from '../../core/path-boundary.js';
import { RewriteError } from '../../core/errors.js';
import { runsOfItems, type Lexed, type LitChar, type Sub, type Word, commentRun } from './words.js';

/** S '…', D "…", HS @'…'@, HD @"…"@, B a bare argument, C a comment. */
export type Ps1Ctx = 'S' | 'D' | 'HS' | 'HD' | 'B' | 'C';

type Item = LitChar<Ps1Ctx> | Sub<Ps1Ctx>;

/** A PowerShell token, for reading values: `$env:X` variables, `=`, strings, bare words. */
export interface Ps1Token {
  readonly kind: 'var' | 'string' | 'bare' | 'punct';
  readonly text: string;
  readonly word?: Word<Ps1Ctx>;
}

const BACKTICK_ESCAPES: Readonly<Record<string, string>> = {
  '0': '\0',
  a: '\x07',
  b: '\b',
  e: '\x1b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
};

/** Length of a single-quote char at `i` (1 for `'`, 3 for U+2018–U+201B in UTF-8), else 0. */
function singleQuoteAt(s: string, i: number): number {
  if (s[i] === "'") return 1;
  if (s.charCodeAt(i) === 0xe2 && s.charCodeAt(i + 1) === 0x80) {
    const k = s.charCodeAt(i + 2);
    if (k >= 0x98 && k <= 0x9b) return 3;
  }
  return 0;
}

/** Length of a double-quote char at `i` (`"` or U+201C–U+201E), else 0. */
function doubleQuoteAt(s: string, i: number): number {
  if (s[i] === '"') return 1;
  if (s.charCodeAt(i) === 0xe2 && s.charCodeAt(i + 1) === 0x80) {
    const k = s.charCodeAt(i + 2);
    if (k >= 0x9c && k <= 0x9e) return 3;
  }
  return 0;
}

const PUNCT = '(){}[];,|&=';

function isSpace(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r';
}

class Ps1Lexer {
  readonly runs: LitChar<Ps1Ctx>[][] = [];

  constructor(private readonly s: string) {}

  private lit(items: Item[], c: string, start: number, end: number, ctx: Ps1Ctx): void {
    items.push({ c, start, end, ctx });
  }

  private addChars(items: Item[], from: number, to: number, ctx: Ps1Ctx): void {
    for (let k = from; k < to; k++) this.lit(items, this.s[k] as string, k, k + 1, ctx);
  }

  /** Tokens from `i0` to the end, or (inParen) to the `)` closing a `$(`. */
  tokens(i0: number, inParen: boolean): { tokens: Ps1Token[]; end: number } {
    const s = this.s;
    const n = s.length;
    const out: Ps1Token[] = [];
    let depth = 0;
    let i = i0;
    while (i < n) {
      const c = s[i] as string;
      if (isSpace(c)) {
        i++;
      } else if (c === '<' && s[i + 1] === '#') {
        const close = s.indexOf('#>', i + 2);
        const end = close === -1 ? n : close + 2;
        this.comment(i, end);
        i = end;
      } else if (c === '#') {
        let end = s.indexOf('\n', i);
        if (end === -1) end = n;
        this.comment(i, end);
        i = end;
      } else if (c === ')' && inParen && depth === 0) {
        return { tokens: out, end: i + 1 };
      } else if (
        c === '@' &&
        (s[i + 1] === "'" || s[i + 1] === '"') &&
        /^[ \t]*\r?\n/.test(s.slice(i + 2, i + 40))
      ) {
        const w = this.hereString(i);
        out.push({ kind: 'string', text: s.slice(w.start, w.end), word: w });
        i = w.end;
      } else if (singleQuoteAt(s, i) > 0 || doubleQuoteAt(s, i) > 0) {
        const items: Item[] = [];
        const end = singleQuoteAt(s, i) > 0 ? this.single(i, items) : this.double(i, items);
        const w: Word<Ps1Ctx> = { items, start: i, end };
        this.runs.push(...runsOfItems(items));
        out.push({ kind: 'string', text: s.slice(i, end), word: w });
        i = end;
      } else if (c === '$') {
        const items: Item[] = [];
        const end = this.dollar(i, items);
        out.push({ kind: 'var', text: s.slice(i, end) });
        i = end;
      } else if (PUNCT.includes(c)) {
        if (c === '(') depth++;
        if (c === ')') depth = Math.max(0, depth - 1);
        out.push({ kind: 'punct', text: c });
        i++;
      } else {
        const w = this.bare(i);
        out.push({ kind: 'bare', text: s.slice(w.start, w.end), word: w });
        i = w.end;
      }
    }
    return { tokens: out, end: n };
  }

  private comment(from: number, to: number): void {
    this.runs.push(commentRun(this.s, from, to, 'C' as Ps1Ctx));
  }

  private single(i0: number, items: Item[]): number {
    const s = this.s;
    const n = s.length;
    let j = i0 + singleQuoteAt(s, i0);
    while (j < n) {
      const q = singleQuoteAt(s, j);
      if (q > 0) {
        const q2 = singleQuoteAt(s, j + q);
        if (q2 === 0) return j + q;
        // a doubled quote stands for its second char
        for (let k = j + q; k < j + q + q2; k++)
          this.lit(items, s[k] as string, j, j + q + q2, 'S');
        j += q + q2;
      } else {
        this.lit(items, s[j] as string, j, j + 1, 'S');
        j++;
      }
    }
    return n;
  }

  private double(i0: number, items: Item[]): number {
    const s = this.s;
    const n = s.length;
    let j = i0 + doubleQuoteAt(s, i0);
    while (j < n) {
      const q = doubleQuoteAt(s, j);
      if (q > 0) {
        const q2 = doubleQuoteAt(s, j + q);
        if (q2 === 0) return j + q;
        for (let k = j + q; k < j + q + q2; k++)
          this.lit(items, s[k] as string, j, j + q + q2, 'D');
        j += q + q2;
      } else if (s[j] === '`' && j + 1 < n) {
        j = this.backtickEscape(j, items, 'D');
      } else if (s[j] === '$') {
        j = this.dollar(j, items, 'D');
      } else {
        this.lit(items, s[j] as string, j, j + 1, 'D');
        j++;
      }
    }
    return n;
  }

  private backtickEscape(j: number, items: Item[], ctx: Ps1Ctx): number {
    const s = this.s;
    const e = s[j + 1] as string;
    const simple = BACKTICK_ESCAPES[e];
    const u = /^u\{([0-9A-Fa-f]{1,6})\}/.exec(s.slice(j + 1, j + 11));
    if (simple !== undefined) {
      this.lit(items, simple, j, j + 2, ctx);
      return j + 2;
    }
    if (u !== null) {
      const end = j + 1 + u[0].length;
      const cp = parseInt(u[1] as string, 16);
      if (cp <= 0x10ffff) {
        for (const b of Buffer.from(String.fromCodePoint(cp), 'utf8').toString('latin1'))
          this.lit(items, b, j, end, ctx);
      }
      return end;
    }
    this.lit(items, e, j, j + 2, ctx);
    return j + 2;
  }

  /** `$name`, `$scope:name`, `${…}`, `$(…)`; a lone `$` is literal (only inside strings). */
  private dollar(i0: number, items: Item[], ctx?: Ps1Ctx): number {
    const s = this.s;
    const n = s.length;
    if (s[i0 + 1] === '(') {
      const r = this.tokens(i0 + 2, true);
      items.push({ sub: 'cmd' });
      return r.end;
    }
    if (s[i0 + 1] === '{') {
      const close = s.indexOf('}', i0 + 2);
      items.push({ sub: 'var' });
      return close === -1 ? n : close + 1;
    }
    const m = /^\$(?:[A-Za-z_][A-Za-z0-9_]*:)?[A-Za-z0-9_?^$]+/.exec(s.slice(i0, i0 + 300));
    if (m === null) {
      if (ctx !== undefined) this.lit(items, '$', i0, i0 + 1, ctx);
      return i0 + 1;
    }
    items.push({ sub: 'var' });
    return i0 + m[0].length;
  }

  private hereString(i0: number): Word<Ps1Ctx> {
    const s = this.s;
    const n = s.length;
    const dq = s[i0 + 1] === '"';
    const ctx: Ps1Ctx = dq ? 'HD' : 'HS';
    const bodyStart = s.indexOf('\n', i0) + 1;
    // the body ends before the newline that precedes a line starting with '@ or "@
    const re = dq ? /\r?\n"@/g : /\r?\n'@/g;
    re.lastIndex = bodyStart - 1;
    const m = re.exec(s);
    const bodyEnd = m === null ? n : m.index;
    const end = m === null ? n : m.index + m[0].length;
    const items: Item[] = [];
    if (!dq) {
      this.addChars(items, bodyStart, bodyEnd, ctx);
    } else {
      let j = bodyStart;
      while (j < bodyEnd) {
        if (s[j] === '`' && j + 1 < bodyEnd) j = this.backtickEscape(j, items, ctx);
        else if (s[j] === '$') j = this.dollar(j, items, ctx);
        else {
          this.lit(items, s[j] as string, j, j + 1, ctx);
          j++;
        }
      }
    }
    this.runs.push(...runsOfItems(items));
    return { items, start: i0, end };
  }

  /** A bare command argument, up to a blank or a bracket; a backtick escapes the next char. */
  private bare(i0: number): Word<Ps1Ctx> {
    const s = this.s;
    const n = s.length;
    const items: Item[] = [];
    let j = i0;
    while (j < n && !isSpace(s[j] as string) && !PUNCT.includes(s[j] as string)) {
      if (singleQuoteAt(s, j) > 0 || doubleQuoteAt(s, j) > 0) break;
      if (s[j] === '`' && j + 1 < n) {
        if (s[j + 1] === '\n') break;
        j = this.backtickEscape(j, items, 'B');
      } else if (s[j] === '$') {
        j = this.dollar(j, items, 'B');
      } else {
        this.lit(items, s[j] as string, j, j + 1, 'B');
        j++;
      }
    }
    if (j === i0) {
      // a char no rule takes (a stray quote-like byte): step over it
      j = i0 + 1;
    }
    this.runs.push(...runsOfItems(items));
    return { items, start: i0, end: j };
  }
}

/** Splits a PowerShell script (bin/Activate.ps1) into tokens and literal runs. */
export function lexPs1(s: ByteString): Lexed<Ps1Ctx> & { readonly tokens: readonly Ps1Token[] } {
  const lexer = new Ps1Lexer(s);
  const { tokens } = lexer.tokens(0, false);
  return { commands: [], runs: lexer.runs, tokens };
}

/** Writes `to` for PowerShell inside quoting `first` (a run never spans two quotings there). */
export function quotePs1(to: ByteString, first: Ps1Ctx, last: Ps1Ctx): string {
  if (first !== last) throw new RewriteError('unquotable', 'a PowerShell path spans two quotings');
  let out = '';
  for (let i = 0; i < to.length;) {
    const sq = singleQuoteAt(to, i);
    const dq = doubleQuoteAt(to, i);
    const len = Math.max(sq, dq, 1);
    const ch = to.slice(i, i + len);
    i += len;
    switch (first) {
      case 'S':
        out += sq > 0 ? ch + ch : ch;
        break;
      case 'D':
      case 'HD':
        out += dq > 0 || ch === '`' || ch === '$' ? '`' + ch : ch;
        break;
      case 'B':
        if (ch === '\n') out += '`n';
        else if (ch === '\r') out += '`r';
        else if (ch === '\t') out += '`t';
        else if (sq > 0 || dq > 0 || ' `$;,(){}|&<>@#\'"'.includes(ch)) out += '`' + ch;
        else out += ch;
        break;
      case 'HS':
      case 'C':
        out += ch;
        break;
    }
  }
  if (first === 'HS' && /\n(?:'|\xe2\x80[\x98-\x9b])@/.test(to)) {
    throw new RewriteError(
      'unquotable',
      "a PowerShell @'…'@ here-string cannot hold a line starting '@",
    );
  }
  return out;
}

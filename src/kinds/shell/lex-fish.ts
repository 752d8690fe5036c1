/**
 * fish words, as fish 3 reads `bin/activate.fish`: quotes, backslash escapes, `$var`,
 * `(…)`/`$(…)` command substitutions, brace expansion and comments. Facts checked against
 * fish 3.6:
 * - '…' knows only `\'` and `\\`; "…" knows `\"`, `\$`, `\\` and backslash-newline;
 * - unquoted, a backslash before punctuation or a space yields that char, before some letters
 *   it is a C-style escape (`\n`, `\x41`); `#` starts a comment only at the start of a word;
 * - `%self` at the start of a word is process expansion and `~` is home, so both get escaped.
 */
import type { ByteString } from '../../core/path-boundary.js';
import { readCommands, readWord } from './command-loop.js';
import {
  isPlainByte,
  type Command,
  type Lexed,
  type LitChar,
  type Sub,
  type Word,
} from './words.js';

/** U unquoted, S '…', D "…", C comment. */
export type FishCtx = 'U' | 'S' | 'D' | 'C';

type Item = LitChar<FishCtx> | Sub<FishCtx>;

const LETTER_ESCAPES: Readonly<Record<string, string>> = {
  a: '\x07',
  b: '\b',
  e: '\x1b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
};

function isMeta(c: string): boolean {
  return ' \t\n;&|<>)'.includes(c);
}

class FishLexer {
  readonly runs: LitChar<FishCtx>[][] = [];

  constructor(private readonly s: string) {}

  private lit(items: Item[], c: string, start: number, end: number, ctx: FishCtx): void {
    items.push({ c, start, end, ctx });
  }

  /** Commands from `i0` to the end, or (inParen) to the `)` closing a substitution. */
  script(i0: number, inParen: boolean): { commands: Command<FishCtx>[]; end: number } {
    return readCommands<FishCtx>(
      {
        s: this.s,
        runs: this.runs,
        commentCtx: 'C',
        word: (i) => this.word(i),
        between: (c, i, at) => {
          if (c === ')') {
            at.flush();
            return inParen ? { end: i + 1 } : i + 1;
          }
          if (c === '\n' || c === ';' || c === '&' || c === '|') {
            at.flush();
            return i + 1;
          }
          return c === '<' || c === '>' ? i + 1 : undefined;
        },
      },
      i0,
    );
  }

  private word(i0: number): Word<FishCtx> {
    return readWord<FishCtx>(this.s, i0, this.runs, (c, i, items) => {
      if (isMeta(c)) return undefined;
      if (c === '\\') return this.escape(i, items);
      if (c === "'") return this.single(i, items);
      if (c === '"') return this.double(i, items);
      if (c === '$') return this.dollar(i, items, 'U');
      if (c === '(') {
        const r = this.script(i + 1, true);
        items.push({ sub: 'cmd', commands: r.commands });
        return r.end;
      }
      if (c === '{' || c === '}') {
        // brace expansion makes several words; its parts are literal runs of their own
        items.push({ sub: 'other' });
        return i + 1;
      }
      this.lit(items, c, i, i + 1, 'U');
      return i + 1;
    });
  }

  /** An unquoted backslash escape. */
  private escape(i0: number, items: Item[]): number {
    const s = this.s;
    const n = s.length;
    if (i0 + 1 >= n) {
      this.lit(items, '\\', i0, i0 + 1, 'U');
      return n;
    }
    const e = s[i0 + 1] as string;
    if (e === '\n') return i0 + 2;
    const rest = s.slice(i0 + 1, i0 + 11);
    const letter = LETTER_ESCAPES[e];
    let m: RegExpExecArray | null;
    if (letter !== undefined) {
      this.lit(items, letter, i0, i0 + 2, 'U');
      return i0 + 2;
    }
    if ((m = /^[xX]([0-9A-Fa-f]{1,2})/.exec(rest)) !== null) {
      this.lit(
        items,
        String.fromCharCode(parseInt(m[1] as string, 16)),
        i0,
        i0 + 1 + m[0].length,
        'U',
      );
      return i0 + 1 + m[0].length;
    }
    if ((m = /^[0-7]{1,3}/.exec(rest)) !== null) {
      this.lit(items, String.fromCharCode(parseInt(m[0], 8) & 0xff), i0, i0 + 1 + m[0].length, 'U');
      return i0 + 1 + m[0].length;
    }
    if ((m = /^(?:u([0-9A-Fa-f]{1,4})|U([0-9A-Fa-f]{1,8}))/.exec(rest)) !== null) {
      const cp = parseInt((m[1] ?? m[2]) as string, 16);
      const end = i0 + 1 + m[0].length;
      if (cp <= 0x10ffff) {
        for (const b of Buffer.from(String.fromCodePoint(cp), 'utf8').toString('latin1')) {
          this.lit(items, b, i0, end, 'U');
        }
      }
      return end;
    }
    if (e === 'c' && i0 + 2 < n) {
      this.lit(items, String.fromCharCode(s.charCodeAt(i0 + 2) & 0x1f), i0, i0 + 3, 'U');
      return i0 + 3;
    }
    this.lit(items, e, i0, i0 + 2, 'U');
    return i0 + 2;
  }

  private single(i0: number, items: Item[]): number {
    const s = this.s;
    const n = s.length;
    let j = i0 + 1;
    while (j < n && s[j] !== "'") {
      if (s[j] === '\\' && (s[j + 1] === "'" || s[j + 1] === '\\')) {
        this.lit(items, s[j + 1] as string, j, j + 2, 'S');
        j += 2;
      } else {
        this.lit(items, s[j] as string, j, j + 1, 'S');
        j++;
      }
    }
    return Math.min(j + 1, n);
  }

  private double(i0: number, items: Item[]): number {
    const s = this.s;
    const n = s.length;
    let j = i0 + 1;
    while (j < n && s[j] !== '"') {
      const c = s[j] as string;
      const nx = s[j + 1];
      if (c === '\\' && nx === '\n') {
        j += 2;
      } else if (c === '\\' && (nx === '"' || nx === '$' || nx === '\\')) {
        this.lit(items, nx, j, j + 2, 'D');
        j += 2;
      } else if (c === '$') {
        j = this.dollar(j, items, 'D');
      } else {
        this.lit(items, c, j, j + 1, 'D');
        j++;
      }
    }
    return Math.min(j + 1, n);
  }

  /** `$name`, `$name[…]`, `$$name`, `$(…)` (fish 3.4+), or a literal `$`. */
  private dollar(i0: number, items: Item[], ctx: FishCtx): number {
    const s = this.s;
    let j = i0;
    while (s[j] === '$') j++;
    if (j === i0 + 1 && s[j] === '(') {
      const r = this.script(j + 1, true);
      items.push({ sub: 'cmd', commands: r.commands });
      return r.end;
    }
    if (!/^[A-Za-z0-9_]$/.test(s[j] ?? '')) {
      this.lit(items, '$', i0, i0 + 1, ctx);
      return i0 + 1;
    }
    while (/^[A-Za-z0-9_]$/.test(s[j] ?? '')) j++;
    if (s[j] === '[') {
      const close = s.indexOf(']', j);
      if (close !== -1) j = close + 1;
    }
    items.push({ sub: 'var' });
    return j;
  }
}

/** Splits a fish script (bin/activate.fish) into commands, words and literal runs. */
export function lexFish(s: ByteString): Lexed<FishCtx> {
  const lexer = new FishLexer(s);
  const { commands } = lexer.script(0, false);
  return { commands, runs: lexer.runs };
}

function fishChar(ch: string, q: FishCtx): string {
  switch (q) {
    case 'U': {
      if (isPlainByte(ch)) return ch;
      const k = ch.charCodeAt(0);
      // a backslash before a letter or digit is an escape sequence; control chars go in quotes
      return k < 0x20 || k === 0x7f ? "'" + ch + "'" : '\\' + ch;
    }
    case 'S':
      return ch === "'" || ch === '\\' ? '\\' + ch : ch;
    case 'D':
      return ch === '"' || ch === '$' || ch === '\\' ? '\\' + ch : ch;
    case 'C':
      return ch;
  }
}

function closeFish(q: FishCtx): string {
  return q === 'S' ? "'" : q === 'D' ? '"' : '';
}

/** Writes `to` for fish where a match starts in quoting `first` and ends in quoting `last`. */
export function quoteFish(to: ByteString, first: FishCtx, last: FishCtx): string {
  let out = '';
  for (const ch of to) out += fishChar(ch, first);
  if (first !== last) out += closeFish(first) + closeFish(last);
  return out;
}

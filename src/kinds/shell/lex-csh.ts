/**
 * csh/tcsh words, as tcsh reads `bin/activate.csh`: quotes, backslashes, `$var` with its
 * `:q`-style modifiers, backticks and comments. Facts checked against tcsh 6.24:
 * - `#` starts a comment anywhere outside quotes in a script, even inside a word (`a#b` is `a`);
 * - `!` history substitution happens in sourced files too, inside '…' and "…", so a literal `!`
 *   is always written `\!` (the one backslash right before `!` is dropped, also in quotes);
 * - inside quotes `\` + newline is a newline; no other backslash escapes inside quotes, so a
 *   `$`, `"` or backtick cannot be written inside "…" and a `'` not inside '…'.
 */
import type { ByteString } from '../../core/path-boundary.js';
import { readCommands, readWord } from './command-loop.js';
import {
  isPlainByte,
  mapRuns,
  type Command,
  type Lexed,
  type LitChar,
  type Sub,
  type Word,
} from './words.js';
import { RewriteError } from '../../core/errors.js';

/** U unquoted, S '…', D "…", C comment. */
export type CshQuote = 'U' | 'S' | 'D' | 'C';
/** The quoting of a decoded char: its quote and how many backtick levels surround it. */
export interface CshCtx {
  readonly q: CshQuote;
  readonly backticks: number;
}

const PLAIN: Readonly<Record<CshQuote, CshCtx>> = {
  U: { q: 'U', backticks: 0 },
  S: { q: 'S', backticks: 0 },
  D: { q: 'D', backticks: 0 },
  C: { q: 'C', backticks: 0 },
};

type Item = LitChar<CshCtx> | Sub<CshCtx>;

function isMeta(c: string): boolean {
  return ' \t\n;&|<>()'.includes(c);
}

class CshLexer {
  readonly runs: LitChar<CshCtx>[][] = [];

  constructor(private readonly s: string) {}

  private lit(items: Item[], c: string, start: number, end: number, q: CshQuote): void {
    items.push({ c, start, end, ctx: PLAIN[q] });
  }

  script(): Command<CshCtx>[] {
    return readCommands<CshCtx>(
      {
        s: this.s,
        runs: this.runs,
        commentCtx: PLAIN.C,
        word: (i) => this.word(i),
        between: (c, i, at) => {
          if (c === '\n' || c === ';' || c === '&' || c === '|' || c === '(' || c === ')') {
            at.flush();
            return i + 1;
          }
          return c === '<' || c === '>' ? i + 1 : undefined;
        },
      },
      0,
    ).commands;
  }

  private word(i0: number): Word<CshCtx> {
    const s = this.s;
    const n = s.length;
    return readWord<CshCtx>(s, i0, this.runs, (c, i, items) => {
      if (isMeta(c) || c === '#') return undefined;
      if (c === '\\') {
        if (s[i + 1] === '\n') return undefined;
        if (i + 1 >= n) {
          this.lit(items, '\\', i, i + 1, 'U');
          return i + 1;
        }
        this.lit(items, s[i + 1] as string, i, i + 2, 'U');
        return i + 2;
      }
      if (c === "'" || c === '"') return this.quoted(i, items);
      if (c === '$') return this.dollar(i, items, 'U');
      if (c === '`') return this.backtick(i, items);
      this.lit(items, c, i, i + 1, 'U');
      return i + 1;
    });
  }

  private quoted(i0: number, items: Item[]): number {
    const s = this.s;
    const n = s.length;
    const quote = s[i0] as string;
    const q: CshQuote = quote === "'" ? 'S' : 'D';
    let j = i0 + 1;
    while (j < n && s[j] !== quote) {
      const c = s[j] as string;
      if (c === '\\' && (s[j + 1] === '!' || s[j + 1] === '\n')) {
        this.lit(items, s[j + 1] as string, j, j + 2, q);
        j += 2;
      } else if (q === 'D' && c === '$') {
        j = this.dollar(j, items, 'D');
      } else if (q === 'D' && c === '`') {
        j = this.backtick(j, items);
      } else {
        this.lit(items, c, j, j + 1, q);
        j++;
      }
    }
    return Math.min(j + 1, n);
  }

  private dollar(i0: number, items: Item[], q: CshQuote): number {
    const s = this.s;
    const n = s.length;
    let j = i0 + 1;
    const nx = s[j];
    if (nx === '{') {
      const close = s.indexOf('}', j);
      items.push({ sub: 'var' });
      return close === -1 ? n : close + 1;
    }
    if (nx === '?' || nx === '#') j++;
    if (/^[A-Za-z_]$/.test(s[j] ?? '')) {
      while (/^[A-Za-z0-9_]$/.test(s[j] ?? '')) j++;
    } else if (/^[0-9$<!*]$/.test(s[j] ?? '') && j === i0 + 1) {
      j++;
    } else if (j === i0 + 1) {
      this.lit(items, '$', i0, i0 + 1, q);
      return i0 + 1;
    }
    if (s[j] === '[') {
      const close = s.indexOf(']', j);
      if (close !== -1) j = close + 1;
    }
    // modifiers: $VIRTUAL_ENV:q, :t, :h, :r, :e, :x, :u, :l, with a g or a in front
    for (;;) {
      const m = /^:[ag]*[htreqxul]/.exec(s.slice(j, j + 6));
      if (m === null) break;
      j += m[0].length;
    }
    items.push({ sub: 'var' });
    return j;
  }

  /** `` `…` ``: a command of its own, with `` \` `` for a backtick inside (csh templates nest them). */
  private backtick(i0: number, items: Item[]): number {
    const s = this.s;
    const n = s.length;
    let j = i0 + 1;
    let text = '';
    const srcOf: number[] = [];
    while (j < n && s[j] !== '`') {
      srcOf.push(j);
      if (s[j] === '\\' && s[j + 1] === '`') {
        text += '`';
        j += 2;
      } else {
        text += s[j] as string;
        j++;
      }
    }
    srcOf.push(j);
    const inner = new CshLexer(text);
    const commands = inner.script();
    this.runs.push(
      ...mapRuns(inner.runs, { text, srcOf }, (ctx) => ({
        q: ctx.q,
        backticks: ctx.backticks + 1,
      })),
    );
    items.push({ sub: 'cmd', commands });
    return Math.min(j + 1, n);
  }
}

/** Splits a csh script (bin/activate.csh) into commands, words and literal runs. */
export function lexCsh(s: ByteString): Lexed<CshCtx> {
  const lexer = new CshLexer(s);
  const commands = lexer.script();
  return { commands, runs: lexer.runs };
}

function cshChar(ch: string, q: CshQuote): string {
  if (q === 'C') return ch;
  if (ch === '!') return '\\!';
  if (ch === '\n') return q === 'U' ? "'\\\n'" : '\\\n';
  switch (q) {
    case 'U':
      return isPlainByte(ch) ? ch : '\\' + ch;
    case 'S':
      return ch === "'" ? "'\\''" : ch;
    case 'D':
      // csh has no escape for these inside "…": step out of the quotes for one char
      return ch === '"' || ch === '$' || ch === '`' ? '"\\' + ch + '"' : ch;
  }
}

function closeCsh(q: CshQuote): string {
  return q === 'S' ? "'" : q === 'D' ? '"' : '';
}

/** Writes `to` for csh where a match starts in quoting `first` and ends in quoting `last`. */
export function quoteCsh(to: ByteString, first: CshCtx, last: CshCtx): string {
  let out = '';
  for (const ch of to) out += cshChar(ch, first.q);
  if (first.q !== last.q) out += closeCsh(first.q) + closeCsh(last.q);
  for (let k = 0; k < first.backticks; k++) {
    if (first.q !== 'C' && to.includes('`')) {
      throw new RewriteError(
        'unquotable',
        'csh cannot write a backtick inside a backtick substitution',
      );
    }
    out = out.replace(/`/g, '\\`');
  }
  return out;
}

/**
 * POSIX sh words, as bash, zsh and dash read `bin/activate`: quotes, backslashes, `$VAR`,
 * `${…}`, `$(…)`, backticks, `$'…'`, here-documents and comments. Only what is needed to find
 * literal text and its quoting; it never fails, and input it does not understand is read as
 * literal text.
 */
import type { ByteString } from '../../core/path-boundary.js';
import { RewriteError } from '../../core/errors.js';
import { readCommands, readWord } from './command-loop.js';
import {
  isPlainByte,
  mapRuns,
  runsOfItems,
  wordText,
  type Command,
  type Lexed,
  type LitChar,
  type Sub,
  type Word,
} from './words.js';

/**
 * Where a char sits: U unquoted, S '…', D "…", A $'…', UB/DB the word of a `${x:-word}`
 * unquoted/inside "…", H/HD a here-document body with a quoted/unquoted delimiter, C comment.
 */
export type ShQuote = 'U' | 'S' | 'D' | 'A' | 'UB' | 'DB' | 'H' | 'HD' | 'C';
/** One level of backtick substitution around the char (bqd: the backticks sit inside "…"). */
export type ShLayer = 'bq' | 'bqd';
/** The quoting of a decoded char: its quote and the backtick levels around it, innermost first. */
export interface ShCtx {
  readonly q: ShQuote;
  readonly layers: readonly ShLayer[];
  /** In a here-document body (H, HD): the line that ends it, and whether tabs before it count. */
  readonly hereDoc?: { readonly delim: string; readonly strip: boolean };
}

const PLAIN: Readonly<Record<ShQuote, ShCtx>> = {
  U: { q: 'U', layers: [] },
  S: { q: 'S', layers: [] },
  D: { q: 'D', layers: [] },
  A: { q: 'A', layers: [] },
  UB: { q: 'UB', layers: [] },
  DB: { q: 'DB', layers: [] },
  H: { q: 'H', layers: [] },
  HD: { q: 'HD', layers: [] },
  C: { q: 'C', layers: [] },
};

type Item = LitChar<ShCtx> | Sub<ShCtx>;

function isMeta(c: string): boolean {
  return (
    c === ' ' ||
    c === '\t' ||
    c === '\n' ||
    c === ';' ||
    c === '&' ||
    c === '|' ||
    c === '<' ||
    c === '>' ||
    c === '(' ||
    c === ')'
  );
}

function isNameStart(c: string | undefined): boolean {
  return c !== undefined && /^[A-Za-z_]$/.test(c);
}

function isNameChar(c: string | undefined): boolean {
  return c !== undefined && /^[A-Za-z0-9_]$/.test(c);
}

/** bash's `$'…'` single-char escapes. */
const ANSI_ESCAPES: Readonly<Record<string, string>> = {
  a: '\x07',
  b: '\b',
  e: '\x1b',
  E: '\x1b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
  "'": "'",
  '"': '"',
  '?': '?',
};

interface HereDoc {
  readonly delim: string;
  readonly strip: boolean;
  readonly quoted: boolean;
}

type CaseState = 'word' | 'pat' | 'body';

class ShLexer {
  readonly runs: LitChar<ShCtx>[][] = [];
  private pending: HereDoc[] = [];

  constructor(private readonly s: string) {}

  private lit(items: Item[], c: string, start: number, end: number, q: ShQuote): void {
    items.push({ c, start, end, ctx: PLAIN[q] });
  }

  /** Commands from `i0` to the end, or (inParen) to the `)` that closes a `$(`. */
  script(i0: number, inParen: boolean): { commands: Command<ShCtx>[]; end: number } {
    const s = this.s;
    const n = s.length;
    // `case` patterns end with an unmatched `)`, which must not close a `$(`.
    const cases: CaseState[] = [];
    let depth = 0;
    return readCommands<ShCtx>(
      {
        s,
        runs: this.runs,
        commentCtx: PLAIN.C,
        word: (i) => this.word(i),
        between: (c, i, at) => {
          const top = cases[cases.length - 1];
          if (c === '\n') {
            at.flush();
            return this.hereDocBodies(i + 1);
          }
          if (c === ')') {
            at.flush();
            if (top === 'pat') cases[cases.length - 1] = 'body';
            else if (depth > 0) depth--;
            else if (inParen) return { end: i + 1 };
            return i + 1;
          }
          if (c === '(' && s[i + 1] === '(' && at.cur.length === 0 && top !== 'pat') {
            // bash's `(( … ))` arithmetic: its `<<` is a shift, not a here-document
            let d = 2;
            let j = i + 2;
            while (j < n && d > 0) {
              if (s[j] === '(') d++;
              else if (s[j] === ')') d--;
              j++;
            }
            return j;
          }
          if (c === '(') {
            at.flush();
            if (top !== 'pat') depth++;
            return i + 1;
          }
          if (c === ';') {
            at.flush();
            if (s[i + 1] === ';' || s[i + 1] === '&') {
              // `;;`, `;&`, `;;&` end a case branch
              if (top === 'body') cases[cases.length - 1] = 'pat';
              return i + (s[i + 2] === '&' ? 3 : 2);
            }
            return i + 1;
          }
          if (c === '&' || c === '|') {
            at.flush();
            return i + (s[i + 1] === c || (c === '|' && s[i + 1] === '&') ? 2 : 1);
          }
          if (c === '<' && s[i + 1] === '<' && s[i + 2] !== '<') return this.hereDocHead(i + 2);
          if (c === '<' || c === '>') {
            let j = i + 1;
            while (s[j] === '<' || s[j] === '>' || s[j] === '&' || s[j] === '|') j++;
            return j;
          }
          return undefined;
        },
        onWord: (w, cur) => {
          const top = cases[cases.length - 1];
          const text = wordText(w);
          if (cur.length === 0 && top !== 'pat' && text === 'case') cases.push('word');
          else if (top === 'word' && text === 'in') cases[cases.length - 1] = 'pat';
          else if (cur.length === 0 && (top === 'pat' || top === 'body') && text === 'esac')
            cases.pop();
        },
      },
      i0,
    );
  }

  /** After `<<`: the delimiter word; the body is read at the next newline. */
  private hereDocHead(i0: number): number {
    const s = this.s;
    let i = i0;
    const strip = s[i] === '-';
    if (strip) i++;
    while (s[i] === ' ' || s[i] === '\t') i++;
    const w = this.word(i);
    const raw = s.slice(w.start, w.end);
    this.pending.push({
      delim: wordText(w),
      strip,
      quoted: /['"\\]/.test(raw),
    });
    return w.end;
  }

  private hereDocBodies(i0: number): number {
    const s = this.s;
    const n = s.length;
    let i = i0;
    const docs = this.pending;
    this.pending = [];
    for (const doc of docs) {
      const items: Item[] = [];
      const hereDoc = { delim: doc.delim, strip: doc.strip };
      const H: ShCtx = { q: 'H', layers: [], hereDoc };
      const HD: ShCtx = { q: 'HD', layers: [], hereDoc };
      const lit = (c: string, start: number, end: number, ctx: ShCtx): void => {
        items.push({ c, start, end, ctx });
      };
      while (i < n) {
        let lineEnd = s.indexOf('\n', i);
        if (lineEnd === -1) lineEnd = n;
        const line = s.slice(i, lineEnd);
        if ((doc.strip ? line.replace(/^\t+/, '') : line) === doc.delim) {
          i = Math.min(lineEnd + 1, n);
          break;
        }
        if (doc.quoted) {
          for (let k = i; k < Math.min(lineEnd + 1, n); k++) lit(s[k] as string, k, k + 1, H);
          i = lineEnd + 1;
          continue;
        }
        let k = i;
        while (k < lineEnd) {
          const c = s[k] as string;
          if (c === '\\' && k + 1 < n && '$`\\'.includes(s[k + 1] as string)) {
            lit(s[k + 1] as string, k, k + 2, HD);
            k += 2;
          } else if (c === '$') {
            k = this.dollar(k, items, 'HD');
          } else if (c === '`') {
            k = this.backtick(k, items, false);
          } else {
            lit(c, k, k + 1, HD);
            k++;
          }
        }
        if (k > lineEnd) {
          // an expansion ran over the line end; go on from where it stopped
          i = k;
        } else {
          if (lineEnd < n) lit('\n', lineEnd, lineEnd + 1, HD);
          i = lineEnd + 1;
        }
      }
      this.runs.push(...runsOfItems(items));
    }
    return Math.min(i, n);
  }

  word(i0: number): Word<ShCtx> {
    const s = this.s;
    const n = s.length;
    return readWord<ShCtx>(s, i0, this.runs, (c, i, items) => {
      if (isMeta(c)) return undefined;
      if (c === '\\') {
        if (i + 1 >= n) {
          this.lit(items, '\\', i, i + 1, 'U');
          return i + 1;
        }
        if (s[i + 1] !== '\n') this.lit(items, s[i + 1] as string, i, i + 2, 'U');
        return i + 2;
      }
      if (c === "'") return this.single(i, items);
      if (c === '"') return this.double(i, items);
      if (c === '$') return this.dollar(i, items, 'U');
      if (c === '`') return this.backtick(i, items, false);
      this.lit(items, c, i, i + 1, 'U');
      return i + 1;
    });
  }

  private single(i0: number, items: Item[]): number {
    const s = this.s;
    let j = i0 + 1;
    while (j < s.length && s[j] !== "'") {
      this.lit(items, s[j] as string, j, j + 1, 'S');
      j++;
    }
    return Math.min(j + 1, s.length);
  }

  private double(i0: number, items: Item[]): number {
    const s = this.s;
    const n = s.length;
    let j = i0 + 1;
    while (j < n) {
      const c = s[j] as string;
      if (c === '"') return j + 1;
      if (c === '\\') {
        const nx = s[j + 1];
        if (nx === '\n') {
          j += 2;
        } else if (nx !== undefined && '$`"\\'.includes(nx)) {
          this.lit(items, nx, j, j + 2, 'D');
          j += 2;
        } else {
          this.lit(items, '\\', j, j + 1, 'D');
          j++;
        }
      } else if (c === '$') {
        j = this.dollar(j, items, 'D');
      } else if (c === '`') {
        j = this.backtick(j, items, true);
      } else {
        this.lit(items, c, j, j + 1, 'D');
        j++;
      }
    }
    return n;
  }

  /** bash/zsh `$'…'`: C-style escapes. */
  private ansi(i0: number, items: Item[]): number {
    const s = this.s;
    const n = s.length;
    let j = i0 + 2;
    while (j < n && s[j] !== "'") {
      const c = s[j] as string;
      if (c !== '\\' || j + 1 >= n) {
        this.lit(items, c, j, j + 1, 'A');
        j++;
        continue;
      }
      const e = s[j + 1] as string;
      const simple = ANSI_ESCAPES[e];
      let m: RegExpExecArray | null;
      const rest = s.slice(j + 1, j + 10);
      if (simple !== undefined) {
        this.lit(items, simple, j, j + 2, 'A');
        j += 2;
      } else if ((m = /^[0-7]{1,3}/.exec(rest)) !== null) {
        this.lit(items, String.fromCharCode(parseInt(m[0], 8) & 0xff), j, j + 1 + m[0].length, 'A');
        j += 1 + m[0].length;
      } else if ((m = /^x([0-9A-Fa-f]{1,2})/.exec(rest)) !== null) {
        this.lit(
          items,
          String.fromCharCode(parseInt(m[1] as string, 16)),
          j,
          j + 1 + m[0].length,
          'A',
        );
        j += 1 + m[0].length;
      } else if ((m = /^(?:u([0-9A-Fa-f]{1,4})|U([0-9A-Fa-f]{1,8}))/.exec(rest)) !== null) {
        const cp = parseInt((m[1] ?? m[2]) as string, 16);
        const bytes =
          cp <= 0x10ffff ? Buffer.from(String.fromCodePoint(cp), 'utf8').toString('latin1') : '';
        const len = 1 + m[0].length;
        // several bytes from one escape: each gets the escape's whole span, so a match that
        // starts or ends inside it still replaces whole source bytes
        for (const b of bytes) this.lit(items, b, j, j + len, 'A');
        j += len;
      } else if (e === 'c' && j + 2 < n) {
        this.lit(items, String.fromCharCode((s.charCodeAt(j + 2) & 0x1f) >>> 0), j, j + 3, 'A');
        j += 3;
      } else {
        this.lit(items, '\\', j, j + 1, 'A');
        j++;
      }
    }
    return Math.min(j + 1, n);
  }

  /** At a `$`: an expansion, a `$'…'`/`$"…"` string, or a literal `$`. */
  dollar(i0: number, items: Item[], q: ShQuote): number {
    const s = this.s;
    const n = s.length;
    const nx = s[i0 + 1];
    if (nx === '(') {
      if (s[i0 + 2] === '(') {
        let depth = 2;
        let j = i0 + 3;
        while (j < n && depth > 0) {
          if (s[j] === '(') depth++;
          else if (s[j] === ')') depth--;
          j++;
        }
        items.push({ sub: 'arith' });
        return j;
      }
      const r = this.script(i0 + 2, true);
      items.push({ sub: 'cmd', commands: r.commands });
      return r.end;
    }
    if (nx === '{') return this.param(i0, items, q);
    if (q === 'U' || q === 'UB') {
      if (nx === "'") return this.ansi(i0, items);
      if (nx === '"') return this.double(i0 + 1, items); // $"…": a translated "…"
    }
    if (isNameStart(nx)) {
      let j = i0 + 1;
      while (isNameChar(s[j])) j++;
      items.push({ sub: 'var' });
      return j;
    }
    if (nx !== undefined && /^[0-9@*#?$!-]$/.test(nx)) {
      items.push({ sub: 'var' });
      return i0 + 2;
    }
    this.lit(items, '$', i0, i0 + 1, q);
    return i0 + 1;
  }

  /** `${…}`; the word after an operator (`${X:-word}`) is literal text of its own. */
  private param(i0: number, items: Item[], q: ShQuote): number {
    const s = this.s;
    const n = s.length;
    let j = i0 + 2;
    if ((s[j] === '#' || s[j] === '!') && s[j + 1] !== '}') j++;
    if (isNameStart(s[j])) {
      while (isNameChar(s[j])) j++;
    } else if (/^[0-9]$/.test(s[j] ?? '')) {
      while (/^[0-9]$/.test(s[j] ?? '')) j++;
    } else if (s[j] !== undefined && /^[@*#?$!-]$/.test(s[j] as string)) {
      j++;
    }
    if (s[j] === '[') {
      const close = s.indexOf(']', j);
      j = close === -1 ? n : close + 1;
    }
    let k = 0;
    while (k < 2 && s[j] !== undefined && ':-=?+#%/^,@'.includes(s[j] as string)) {
      j++;
      k++;
    }
    // Inside "…", bash, zsh and dash keep single quotes literal in the word and drop the
    // backslash of `\}`; unquoted, quotes work as usual.
    const inner: ShQuote = q === 'U' || q === 'UB' ? 'UB' : 'DB';
    const wItems: Item[] = [];
    while (j < n && s[j] !== '}') {
      const c = s[j] as string;
      if (c === '\\' && j + 1 < n) {
        const nx = s[j + 1] as string;
        if (nx === '\n') {
          j += 2;
        } else if (inner === 'UB' || '$`"\\}'.includes(nx)) {
          this.lit(wItems, nx, j, j + 2, inner);
          j += 2;
        } else {
          this.lit(wItems, '\\', j, j + 1, inner);
          j++;
        }
      } else if (c === "'" && inner === 'UB') {
        j = this.single(j, wItems);
      } else if (c === '"') {
        j = this.double(j, wItems);
      } else if (c === '$') {
        j = this.dollar(j, wItems, inner);
      } else if (c === '`') {
        j = this.backtick(j, wItems, inner === 'DB');
      } else {
        this.lit(wItems, c, j, j + 1, inner);
        j++;
      }
    }
    this.runs.push(...runsOfItems(wItems));
    items.push({ sub: 'param' });
    return Math.min(j + 1, n);
  }

  /**
   * A backtick substitution. Its body loses one level of backslashes before the inner shell
   * parses it (`\$`, `` \` ``, `\\`, and `\"` when the backticks sit inside "…"), so it is
   * lexed as a script of its own and mapped back.
   */
  private backtick(i0: number, items: Item[], inDouble: boolean): number {
    const s = this.s;
    const n = s.length;
    let j = i0 + 1;
    let text = '';
    const srcOf: number[] = [];
    while (j < n && s[j] !== '`') {
      const nx = s[j + 1];
      if (s[j] === '\\' && nx !== undefined && ('$`\\'.includes(nx) || (inDouble && nx === '"'))) {
        srcOf.push(j);
        text += nx;
        j += 2;
      } else {
        srcOf.push(j);
        text += s[j] as string;
        j++;
      }
    }
    srcOf.push(j);
    const inner = new ShLexer(text);
    const r = inner.script(0, false);
    const layer: ShLayer = inDouble ? 'bqd' : 'bq';
    this.runs.push(
      ...mapRuns(inner.runs, { text, srcOf }, (ctx) => ({
        ...ctx,
        layers: [...ctx.layers, layer],
      })),
    );
    items.push({ sub: 'cmd', commands: r.commands });
    return Math.min(j + 1, n);
  }
}

/** Splits an sh script (bin/activate) into commands, words and literal runs. */
export function lexSh(s: ByteString): Lexed<ShCtx> {
  const lexer = new ShLexer(s);
  const { commands } = lexer.script(0, false);
  return { commands, runs: lexer.runs };
}

function closeSh(q: ShQuote): string {
  return q === 'S' || q === 'A' ? "'" : q === 'D' ? '"' : '';
}

function openSh(q: ShQuote): string {
  return q === 'S' ? "'" : q === 'A' ? "$'" : q === 'D' ? '"' : '';
}

/** One char of a path, written for the sh quoting `q` without leaving it. */
function shChar(ch: string, q: ShQuote): string {
  switch (q) {
    case 'U':
    case 'UB':
      if (isPlainByte(ch)) return ch;
      // backslash-newline is a line continuation, so a newline needs quotes
      return ch === '\n' ? "'\n'" : '\\' + ch;
    case 'S':
      // nothing escapes inside '…': close, write an escaped quote, reopen
      return ch === "'" ? "'\\''" : ch;
    case 'D':
      return '$`"\\'.includes(ch) ? '\\' + ch : ch;
    case 'DB':
      return '$`"\\}'.includes(ch) ? '\\' + ch : ch;
    case 'A':
      return ch === '\\' || ch === "'" ? '\\' + ch : ch;
    case 'HD':
      return '$`\\'.includes(ch) ? '\\' + ch : ch;
    case 'H':
    case 'C':
      return ch;
  }
}

/** Writes `to` for sh where a match starts in quoting `first` and ends in quoting `last`. */
export function quoteSh(to: ByteString, first: ShCtx, last: ShCtx): string {
  const doc = first.hereDoc;
  if (doc !== undefined) {
    // no quoting inside a here-document: a line equal to its delimiter would end it
    const ends = to
      .split('\n')
      .slice(1)
      .some((line) => (doc.strip ? line.replace(/^\t+/, '') : line) === doc.delim);
    if (ends)
      throw new RewriteError(
        'unquotable',
        `a line of the path would end the here-document <<${doc.delim}`,
      );
  }
  let out = '';
  for (const ch of to) out += shChar(ch, first.q);
  if (first.q !== last.q) out += closeSh(first.q) + openSh(last.q);
  for (const layer of first.layers) {
    const special = layer === 'bqd' ? '\\`$"' : '\\`$';
    let wrapped = '';
    for (const ch of out) wrapped += special.includes(ch) ? '\\' + ch : ch;
    out = wrapped;
  }
  return out;
}

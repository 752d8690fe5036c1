/**
 * The loop the sh, csh and fish lexers share between words: blanks, line continuations and
 * comments are skipped (a comment's text is kept as a run, so a path in it is rewritten too),
 * and words are gathered into commands. Each shell says what else its operators do through
 * `between`: end the command, close a `$(…)`, read a here-document.
 */
import {
  commentRun,
  runsOfItems,
  type Command,
  type LitChar,
  type Sub,
  type Word,
} from './words.js';

/** What `between` may do to the command being read. */
export interface Between<C> {
  /** The words of the command read so far. */
  readonly cur: readonly Word<C>[];
  /** End the command being read (an operator or a newline). */
  flush(): void;
}

export interface CommandLoop<C> {
  readonly s: string;
  /** Where comment runs go. */
  readonly runs: LitChar<C>[][];
  /** The quoting a comment's chars get: verbatim. */
  readonly commentCtx: C;
  /** One word from `i` (it takes at least one byte). */
  word(i: number): Word<C>;
  /**
   * A char other than a blank or `#` met between words: where lexing goes on, `{ end }` to stop
   * there (the `)` that closes a substitution), or undefined when it starts a word.
   */
  between(c: string, i: number, at: Between<C>): number | { end: number } | undefined;
  /** Told of each word before it joins the command (sh follows `case … in … esac` this way). */
  onWord?(w: Word<C>, cur: readonly Word<C>[]): void;
}

/** The commands from `i0` to the end of `loop.s`, or to where `between` stops. */
export function readCommands<C>(
  loop: CommandLoop<C>,
  i0: number,
): { commands: Command<C>[]; end: number } {
  const s = loop.s;
  const n = s.length;
  const commands: Command<C>[] = [];
  let cur: Word<C>[] = [];
  const at: Between<C> = {
    get cur() {
      return cur;
    },
    flush() {
      if (cur.length > 0) commands.push(cur);
      cur = [];
    },
  };
  let i = i0;
  while (i < n) {
    const c = s[i] as string;
    if (c === ' ' || c === '\t') {
      i++;
    } else if (c === '\\' && s[i + 1] === '\n') {
      i += 2; // a blank between words
    } else if (c === '#') {
      let j = s.indexOf('\n', i);
      if (j === -1) j = n;
      loop.runs.push(commentRun(s, i, j, loop.commentCtx));
      i = j;
    } else {
      const next = loop.between(c, i, at);
      if (typeof next === 'object') return { commands, end: next.end };
      if (next !== undefined) {
        i = next;
        continue;
      }
      const w = loop.word(i);
      loop.onWord?.(w, cur);
      cur.push(w);
      // every word takes at least one byte, so no input can stall the loop
      i = Math.max(w.end, i + 1);
    }
  }
  at.flush();
  return { commands, end: n };
}

/**
 * One word from `i0`, the skeleton every lexer's word shares: `step` reads what starts at `i`
 * (an escape, a quote, an expansion, a literal char) into `items` and returns where it ends, or
 * undefined where the word ends (a metacharacter). The word's literal runs go to `runs`.
 */
export function readWord<C>(
  s: string,
  i0: number,
  runs: LitChar<C>[][],
  step: (c: string, i: number, items: (LitChar<C> | Sub<C>)[]) => number | undefined,
): Word<C> {
  const items: (LitChar<C> | Sub<C>)[] = [];
  let i = i0;
  while (i < s.length) {
    const next = step(s[i] as string, i, items);
    if (next === undefined) break;
    i = next;
  }
  runs.push(...runsOfItems(items));
  return { items, start: i0, end: i };
}

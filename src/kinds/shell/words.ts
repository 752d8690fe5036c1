/**
 * The shared model of the shell lexers: a script is split into commands of words, and every
 * word into decoded literal characters (each knowing the source bytes it came from and the
 * quoting it sat in) and expansions (`$VAR`, `$(…)`, backticks, `%VAR%`, …).
 *
 * Rewriting works on "runs": maximal sequences of literal characters that nothing expands
 * between. A run is the decoded value of (part of) a word, with its quotes and escapes
 * removed, so an old path spread over `"/opt/a"'pp'` is one run `/opt/app`. A match found in a
 * run is replaced in the source from its first character's start to its last character's end,
 * with text that begins in the first character's quoting and ends in the last one's (see
 * `rewriteRuns`). Comments are runs too, whose quoting writes the path verbatim.
 *
 * All strings here are byte strings (path-boundary.ts).
 */
import { findPathMatches, type ByteString, type Mapping } from '../../core/path-boundary.js';
import { type Splice } from '../splice.js';

/** One decoded character: `c` came from the source bytes `[start, end)`, quoted as `ctx` says. */
export interface LitChar<C> {
  readonly c: string;
  readonly start: number;
  readonly end: number;
  readonly ctx: C;
}

/** An expansion inside a word; `commands` are those of a command substitution, if it is one. */
export interface Sub<C> {
  readonly sub: 'var' | 'cmd' | 'arith' | 'param' | 'other';
  readonly commands?: readonly Command<C>[];
}

/** A word: literal characters and expansions, in source order. */
export interface Word<C> {
  readonly items: readonly (LitChar<C> | Sub<C>)[];
  /** Where the word sits in the source it was lexed from (for a backtick body: the body). */
  readonly start: number;
  readonly end: number;
}

/** A simple command: its words, up to an operator or a newline. */
export type Command<C> = readonly Word<C>[];

/** What a lexer returns: the commands (to read values) and every literal run (to rewrite). */
export interface Lexed<C> {
  readonly commands: readonly Command<C>[];
  /** Every run at every depth, in the coordinates of the whole script. */
  readonly runs: readonly (readonly LitChar<C>[])[];
}

/**
 * Stands for an expansion in `wordText`. Byte strings only hold chars up to U+00FF, so this
 * can never be confused with a decoded character.
 */
export const EXPANSION = '\u{FFFF}';

/** True for an item that is a decoded character rather than an expansion. */
export function isLit<C>(item: LitChar<C> | Sub<C>): item is LitChar<C> {
  return 'c' in item;
}

/** The decoded text of a word, with `EXPANSION` for each expansion in it. */
export function wordText<C>(word: Word<C>): string {
  let out = '';
  for (const item of word.items) out += isLit(item) ? item.c : EXPANSION;
  return out;
}

/** The decoded value of a word made of literal characters only; undefined if anything expands. */
export function wordLiteral<C>(word: Word<C> | undefined): ByteString | undefined {
  if (word === undefined) return undefined;
  const text = wordText(word);
  return text.includes(EXPANSION) ? undefined : text;
}

/** Splits a word's items into runs of literal characters (expansions end a run). */
export function runsOfItems<C>(items: readonly (LitChar<C> | Sub<C>)[]): LitChar<C>[][] {
  const runs: LitChar<C>[][] = [];
  let cur: LitChar<C>[] = [];
  for (const item of items) {
    if (isLit(item)) {
      cur.push(item);
    } else if (cur.length > 0) {
      runs.push(cur);
      cur = [];
    }
  }
  if (cur.length > 0) runs.push(cur);
  return runs;
}

/**
 * Writes `to` for a match that starts inside quoting `first` and ends inside quoting `last`:
 * the source before the match has opened `first`, the source after it closes `last`.
 */
export type Quoter<C> = (to: ByteString, first: C, last: C) => string;

/**
 * The edits that replace every whole-path match in the runs. The boundary rule (docs/REWRITING.md)
 * is applied to the decoded run, so `'/opt/app'2` does not match `/opt/app` while
 * `"/opt/app"/bin` does. The edge of a run counts as a boundary: what an expansion next to the
 * path yields is unknown, and the templates only ever put `/bin` or `:$PATH` there.
 */
export function rewriteRuns<C>(
  runs: readonly (readonly LitChar<C>[])[],
  mappings: readonly Mapping[],
  quote: Quoter<C>,
): Splice[] {
  const edits: Splice[] = [];
  for (const run of runs) {
    let text = '';
    for (const ch of run) text += ch.c;
    for (const m of findPathMatches(text, mappings)) {
      const first = run[m.start];
      const last = run[m.end - 1];
      if (first === undefined || last === undefined) continue;
      edits.push({
        start: first.start,
        end: last.end,
        text: quote(m.mapping.to, first.ctx, last.ctx),
      });
    }
  }
  return edits;
}

/**
 * A body cut out of the source with one level of escapes removed (a backtick substitution):
 * `text` is what the inner shell parses, `srcOf[i]` the source offset of `text[i]`, and
 * `srcOf[text.length]` the offset just past the body.
 */
export interface Unescaped {
  readonly text: string;
  readonly srcOf: readonly number[];
}

/**
 * Moves runs lexed from an unescaped body back to source coordinates, wrapping each char's
 * quoting with `wrap` (which records the escape layer the quoter must add back).
 */
export function mapRuns<C>(
  runs: readonly (readonly LitChar<C>[])[],
  body: Unescaped,
  wrap: (ctx: C) => C,
): LitChar<C>[][] {
  return runs.map((run) =>
    run.map((ch) => ({
      c: ch.c,
      start: body.srcOf[ch.start] ?? ch.start,
      end: body.srcOf[ch.end] ?? ch.end,
      ctx: wrap(ch.ctx),
    })),
  );
}

/** Characters that may stay unquoted in every shell we write for. */
export function isPlainByte(c: string): boolean {
  const k = c.charCodeAt(0);
  return (
    (k >= 0x61 && k <= 0x7a) ||
    (k >= 0x41 && k <= 0x5a) ||
    (k >= 0x30 && k <= 0x39) ||
    c === '/' ||
    c === '.' ||
    c === '_' ||
    c === '-' ||
    c === '+' ||
    c === ':' ||
    c === '@' ||
    c === '=' ||
    k >= 0x80
  );
}

/** The literal run of a comment, `s[from, to)`, every char in context `ctx` (replaced verbatim). */
export function commentRun<C>(s: string, from: number, to: number, ctx: C): LitChar<C>[] {
  const run: LitChar<C>[] = [];
  for (let k = from; k < to; k++) run.push({ c: s[k] as string, start: k, end: k + 1, ctx });
  return run;
}

/**
 * cmd.exe batch lines, as cmd reads `Scripts/activate.bat`: `%VAR%`, `%1`, `%%` (a `%`),
 * FOR variables `%%d`, `^` escapes outside quotes, `"` toggling quoting, and `REM`/`::`
 * comments. Quote chars stay in the decoded text: cmd passes them on to most commands, and
 * `set "X=…"` strips only the outer pair.
 */
import type { ByteString } from '../../core/path-boundary.js';
import { RewriteError } from '../../core/errors.js';
import {
  runsOfItems,
  type Command,
  type Lexed,
  type LitChar,
  type Sub,
  type Word,
} from './words.js';

/** U outside quotes, Q inside "…", C a comment. */
export type BatCtx = 'U' | 'Q' | 'C';

type Item = LitChar<BatCtx> | Sub<BatCtx>;

/** Splits a batch script into lines (one word each) and literal runs. */
export function lexBat(s: ByteString): Lexed<BatCtx> {
  const n = s.length;
  const runs: LitChar<BatCtx>[][] = [];
  const commands: Command<BatCtx>[] = [];
  let i = 0;
  while (i < n) {
    let lineEnd = s.indexOf('\n', i);
    if (lineEnd === -1) lineEnd = n;
    let contentEnd = lineEnd;
    if (contentEnd > i && s[contentEnd - 1] === '\r') contentEnd--;
    const line = s.slice(i, contentEnd);
    const head = /^[\s@]*/.exec(line)?.[0].length ?? 0;
    if (/^(?:rem(?:[\s.]|$)|::)/i.test(line.slice(head))) {
      const run: LitChar<BatCtx>[] = [];
      for (let k = i + head; k < contentEnd; k++)
        run.push({ c: s[k] as string, start: k, end: k + 1, ctx: 'C' });
      if (run.length > 0) runs.push(run);
      i = lineEnd + 1;
      continue;
    }
    // a FOR line names its variable: `for %%d in (…) do …` makes `%%d` an expansion, not `%d`
    const forVar = /^[\s@]*for\s+(?:\/\S+\s+)*%%([A-Za-z])/i.exec(line)?.[1];
    const items: Item[] = [];
    let quoted = false;
    let k = i;
    while (k < contentEnd) {
      const c = s[k] as string;
      const ctx: BatCtx = quoted ? 'Q' : 'U';
      if (c === '%') {
        const rest = s.slice(k, Math.min(contentEnd, k + 300));
        let m: RegExpExecArray | null;
        if (
          forVar !== undefined &&
          (m = /^%%(~[a-zA-Z$:]*)?([A-Za-z])/.exec(rest)) !== null &&
          m[2] === forVar
        ) {
          items.push({ sub: 'var' } satisfies Sub<BatCtx>);
          k += m[0].length;
        } else if (rest.startsWith('%%')) {
          items.push({ c: '%', start: k, end: k + 2, ctx });
          k += 2;
        } else if ((m = /^%(?:~[a-zA-Z$:]*)?[0-9*]/.exec(rest)) !== null) {
          items.push({ sub: 'var' });
          k += m[0].length;
        } else {
          const close = s.indexOf('%', k + 1);
          items.push({ sub: 'var' });
          // a lone `%` with no closing one is dropped by cmd
          k = close === -1 || close >= contentEnd ? k + 1 : close + 1;
        }
      } else if (c === '"') {
        items.push({ c, start: k, end: k + 1, ctx });
        quoted = !quoted;
        k++;
      } else if (c === '^' && !quoted && k + 1 < contentEnd) {
        items.push({ c: s[k + 1] as string, start: k, end: k + 2, ctx });
        k += 2;
      } else {
        items.push({ c, start: k, end: k + 1, ctx });
        k++;
      }
    }
    const word: Word<BatCtx> = { items, start: i, end: contentEnd };
    commands.push([word]);
    runs.push(...runsOfItems(items));
    i = lineEnd + 1;
  }
  return { commands, runs };
}

/** Writes `to` for a batch file inside quoting `first`. */
export function quoteBat(to: ByteString, first: BatCtx, last: BatCtx): string {
  if (first !== last) throw new RewriteError('unquotable', 'a batch path spans a quote');
  if (first === 'C') return to;
  if (/[\r\n]/.test(to))
    throw new RewriteError('unquotable', 'a batch file cannot hold a newline in a value');
  let out = '';
  for (const ch of to) {
    if (ch === '%') out += '%%';
    else if (first === 'Q' && ch === '"') {
      throw new RewriteError('unquotable', 'a batch file cannot hold a `"` inside `set "X=…"`');
    } else if (first === 'U' && '^&|<>()"'.includes(ch)) out += '^' + ch;
    else out += ch;
  }
  return out;
}

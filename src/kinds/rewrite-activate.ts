/**
 * Activate scripts of every shell. Each script is lexed by its shell's rules (shell/lex-*.ts),
 * every literal value is decoded, whole-path matches are found in the decoded value, and the
 * new path is written back quoted for the exact place it sits in. No template line is matched
 * by a regex: template changes broke every tool that did (virtualenv-tools3 on CPython 3.12+,
 * whose `activate` moved VIRTUAL_ENV into a `case` and a `$(cygpath "…")`).
 */
import {
  fromBytes,
  replacePaths,
  toBytes,
  type ByteString,
  type Mapping,
} from '../core/path-boundary.js';
import { lexBat, quoteBat } from './shell/lex-bat.js';
import { lexCsh, quoteCsh } from './shell/lex-csh.js';
import { lexFish, quoteFish } from './shell/lex-fish.js';
import { escapeNuDouble, lexNu, nuLiteral, requoteNu, type NuToken } from './shell/lex-nu.js';
import { lexPs1, quotePs1 } from './shell/lex-ps1.js';
import { lexSh, quoteSh } from './shell/lex-sh.js';
import { applySplices, type Splice } from './splice.js';
import { rewriteRuns } from './shell/words.js';

/** `s` with the splices made; undefined when there are none. */
function spliced(s: string, splices: readonly Splice[]): string | undefined {
  return splices.length === 0 ? undefined : applySplices(s, splices);
}

/** The shell an activate script is written for. */
export type ActivateFlavor = 'sh' | 'csh' | 'fish' | 'nu' | 'ps1' | 'bat';

/**
 * The flavor for an activate file name (activate, activate.csh, activate.fish, activate.nu,
 * Activate.ps1/activate.ps1, activate.bat); undefined for others (activate_this.py and
 * activate.xsh are Python-syntax files handled elsewhere).
 */
export function activateFlavor(fileName: string): ActivateFlavor | undefined {
  const base = fileName.slice(fileName.lastIndexOf('/') + 1);
  switch (base) {
    case 'activate':
      return 'sh';
    case 'activate.csh':
      return 'csh';
    case 'activate.fish':
      return 'fish';
    case 'activate.nu':
      return 'nu';
    default:
      break;
  }
  // venv writes Activate.ps1, virtualenv activate.ps1; Windows names are case-blind
  const lower = base.toLowerCase();
  if (lower === 'activate.ps1') return 'ps1';
  if (lower === 'activate.bat') return 'bat';
  return undefined;
}

/** Rewrite every mapped path in an activate script, quoted for its place. undefined = no change. */
export function rewriteActivate(
  bytes: Buffer,
  ctx: { readonly mappings: readonly Mapping[]; readonly flavor: ActivateFlavor },
): Buffer | undefined {
  const s = fromBytes(bytes);
  const { mappings } = ctx;
  // No cheap pre-check on the raw bytes: a path spread over quotes ("/opt/a"'pp') is not
  // in them, and these files are a few KB.
  let out: string | undefined;
  switch (ctx.flavor) {
    case 'sh':
      out = spliced(s, rewriteRuns(lexSh(s).runs, mappings, quoteSh));
      break;
    case 'csh':
      out = spliced(s, rewriteRuns(lexCsh(s).runs, mappings, quoteCsh));
      break;
    case 'fish':
      out = spliced(s, rewriteRuns(lexFish(s).runs, mappings, quoteFish));
      break;
    case 'ps1':
      out = spliced(s, rewriteRuns(lexPs1(s).runs, mappings, quotePs1));
      break;
    case 'bat':
      out = spliced(s, rewriteRuns(lexBat(s).runs, mappings, quoteBat));
      break;
    case 'nu':
      out = renderNu(s, 0, s.length, lexNu(s), mappings);
      break;
  }
  return out === undefined || out === s ? undefined : toBytes(out);
}

/** The source `[start, end)` with every nu token holding a path re-quoted as a whole. */
function renderNu(
  s: string,
  start: number,
  end: number,
  tokens: readonly NuToken[],
  mappings: readonly Mapping[],
): string {
  let out = '';
  let pos = start;
  for (const tok of tokens) {
    out += s.slice(pos, tok.start) + renderNuToken(s, tok, mappings);
    pos = tok.end;
  }
  return out + s.slice(pos, end);
}

function renderNuToken(s: string, tok: NuToken, mappings: readonly Mapping[]): string {
  const src = s.slice(tok.start, tok.end);
  if (tok.kind === 'comment') return replacePaths(src, mappings) ?? src;
  if (tok.kind !== 'string' || tok.style === undefined) return src;
  if (tok.style !== "$'" && tok.style !== '$"') {
    const value = nuLiteral(tok);
    const replaced = value === undefined ? undefined : replacePaths(value, mappings);
    return replaced === undefined ? src : requoteNu(replaced, tok.style);
  }
  // An interpolation: literal pieces are matched on their own (an expression ends a value),
  // expressions are rendered recursively.
  let changed = false;
  const parts: ({ lit: ByteString } | { expr: string })[] = tok.segments.map((seg) => {
    if ('lit' in seg) {
      const replaced = replacePaths(seg.lit, mappings);
      if (replaced !== undefined) changed = true;
      return { lit: replaced ?? seg.lit };
    }
    const inner = renderNu(s, seg.expr.start, seg.expr.end, seg.expr.tokens, mappings);
    if (inner !== s.slice(seg.expr.start, seg.expr.end)) changed = true;
    return { expr: inner };
  });
  if (!changed) return src;
  // $'…' has no escapes at all: a quote or a paren in the text needs the $"…" form
  const keepSingle =
    tok.style === "$'" && parts.every((p) => !('lit' in p) || !/['()]/.test(p.lit));
  const body = parts
    .map((p) =>
      'lit' in p ? (keepSingle ? p.lit : escapeNuDouble(p.lit, true)) : '(' + p.expr + ')',
    )
    .join('');
  return keepSingle ? "$'" + body + "'" : '$"' + body + '"';
}

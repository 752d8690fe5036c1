/**
 * The relocatable activate scripts of `make-relocatable`: each one sets VIRTUAL_ENV from its own
 * place when it is sourced, instead of from the path it was written for.
 *
 * Every literal that names the venv (the value of VIRTUAL_ENV in every template seen: CPython
 * 3.8-3.13's `activate`, `.csh`, `.fish`, virtualenv 20's, uv's, and CPython 3.12+'s
 * `$(cygpath "/venv")` too) is found with the same lexers relocation uses (shell/lex-*.ts) and
 * replaced, in its own quoting, by a variable that a few lines at the top of the script set from
 * the script's own place. Nothing else in the template changes, so deactivate, the prompt and
 * PATH keep working as the template wrote them.
 *
 * How each shell finds the file it is sourcing:
 * - sh (`activate`): bash has BASH_SOURCE, zsh the `%x` prompt escape, ksh93 `${.sh.file}`.
 *   dash and BusyBox sh have nothing; on Linux the shell holds the sourced file open on a
 *   descriptor of 10 or more (dash's and BusyBox's setinputfile() move it there), so
 *   /proc/$$/fd names it: the highest such descriptor whose file is named `activate`.
 * - csh/tcsh (`activate.csh`): a sourced csh script cannot see its own name. tcsh holds the
 *   file open too (on a low descriptor, 6 and up), so /proc names it on Linux; elsewhere the
 *   script says in one line that it needs /proc, and leaves the environment alone.
 * - fish: `status filename`. nushell: `path self`, a parse-time constant (it needs a Nushell that
 *   has it; the script says so). xonsh and activate_this.py: `__file__`. PowerShell:
 *   `$PSScriptRoot`. cmd: `%~dp0`.
 */
import { RewriteError } from '../core/errors.js';
import {
  findPathMatches,
  fromBytes,
  toBytes,
  type ByteString,
  type Mapping,
} from '../core/path-boundary.js';
import { activateFlavor, type ActivateFlavor } from './rewrite-activate.js';
import { pythonLiterals } from './rewrite-python-source.js';
import { lexBat, type BatCtx } from './shell/lex-bat.js';
import { lexCsh, type CshCtx } from './shell/lex-csh.js';
import { lexFish, type FishCtx } from './shell/lex-fish.js';
import { escapeNuDouble, lexNu, nuLiteral, type NuToken } from './shell/lex-nu.js';
import { lexPs1, type Ps1Ctx } from './shell/lex-ps1.js';
import { lexSh, type ShCtx } from './shell/lex-sh.js';
import { applySplices, type Splice } from './splice.js';
import type { Lexed, LitChar } from './shell/words.js';

/** An activate script's syntax: a shell's, or Python's (activate.xsh, activate_this.py). */
export type RelocatableFlavor = ActivateFlavor | 'xsh' | 'py';

/** The flavor for a file name in bin/, or undefined when it is not an activate script. */
export function relocatableFlavor(fileName: string): RelocatableFlavor | undefined {
  const base = fileName.slice(fileName.lastIndexOf('/') + 1);
  if (base === 'activate.xsh') return 'xsh';
  if (base === 'activate_this.py') return 'py';
  return activateFlavor(base);
}

/** The variable the top lines set (sh, csh, fish, nushell, Python). */
const VAR = '_venv_tools_venv';

/** What `makeActivateRelocatable` made: the new bytes, and what it had to leave (why). */
export interface ActivateOutcome {
  readonly bytes?: Buffer;
  readonly left: readonly string[];
}

/** One occurrence of a place in a literal run: its source span and the quoting at each end. */
interface Occurrence<C> {
  readonly first: LitChar<C>;
  readonly last: LitChar<C>;
  /** Where the run's char before it ends, and its char after starts (none: -1, Infinity). */
  readonly before: number;
  readonly after: number;
}

function occurrences<C>(runs: Lexed<C>['runs'], places: readonly Mapping[]): Occurrence<C>[] {
  const out: Occurrence<C>[] = [];
  for (const run of runs) {
    let text = '';
    for (const ch of run) text += ch.c;
    for (const m of findPathMatches(text, places)) {
      const first = run[m.start];
      const last = run[m.end - 1];
      if (first === undefined || last === undefined) continue;
      const before = run[m.start - 1]?.end ?? -1;
      const after = run[m.end]?.start ?? Infinity;
      out.push({ first, last, before, after });
    }
  }
  return out;
}

/** An edit for one occurrence, or why it cannot have one. */
type Emit<C> = (o: Occurrence<C>, s: string) => Splice | string;

/**
 * The edit that writes `expansion` in place of an occurrence sitting wholly inside one quoted
 * string `'…'`, taking the quotes too: `'/venv'` becomes `"${x}"` rather than `''"${x}"''`.
 */
function wholeQuoted<C>(
  o: Occurrence<C>,
  s: string,
  quote: string,
  text: string,
): Splice | undefined {
  // The quotes must be quotes, not the source of a decoded char next to it (fish's `\'`).
  if (o.before > o.first.start - 1 || o.after < o.last.end + 1) return undefined;
  if (s[o.first.start - 1] !== quote || s[o.last.end] !== quote) return undefined;
  return { start: o.first.start - 1, end: o.last.end + 1, text };
}

const emitSh: Emit<ShCtx> = (o, s) => {
  const a = o.first.ctx;
  const b = o.last.ctx;
  if (a.layers.length > 0 || b.layers.length > 0) return 'it names the venv inside backticks';
  const at = { start: o.first.start, end: o.last.end };
  const v = `\${${VAR}}`;
  if (a.q === 'C' && b.q === 'C') return { ...at, text: '$VIRTUAL_ENV' };
  if (a.q !== b.q) {
    const close = (q: string) => (q === 'S' || q === 'A' ? "'" : q === 'D' ? '"' : '');
    const open = (q: string) => (q === 'S' ? "'" : q === 'A' ? "$'" : q === 'D' ? '"' : '');
    if (![a.q, b.q].every((q) => ['U', 'S', 'D', 'A'].includes(q)))
      return 'it names the venv across quotings sh cannot reopen';
    return { ...at, text: `${close(a.q)}"${v}"${open(b.q)}` };
  }
  switch (a.q) {
    case 'D':
    case 'HD':
    case 'DB':
      return { ...at, text: v };
    case 'U':
    case 'UB':
      return { ...at, text: `"${v}"` };
    case 'S':
      return wholeQuoted(o, s, "'", `"${v}"`) ?? { ...at, text: `'"${v}"'` };
    case 'A':
      return { ...at, text: `'"${v}"$'` };
    default:
      return 'it names the venv inside a quoted here-document';
  }
};

const emitCsh: Emit<CshCtx> = (o, s) => {
  const a = o.first.ctx;
  const b = o.last.ctx;
  if (a.backticks > 0 || b.backticks > 0) return 'it names the venv inside backticks';
  if (a.q !== b.q) return 'it names the venv across two quotings';
  const at = { start: o.first.start, end: o.last.end };
  const v = `\${${VAR}}`;
  switch (a.q) {
    case 'C':
      return { ...at, text: '$VIRTUAL_ENV' };
    case 'D':
      return { ...at, text: v };
    case 'U':
      return { ...at, text: `"${v}"` };
    case 'S':
      return wholeQuoted(o, s, "'", `"${v}"`) ?? { ...at, text: `'"${v}"'` };
  }
};

const emitFish: Emit<FishCtx> = (o, s) => {
  const a = o.first.ctx;
  if (a !== o.last.ctx) return 'it names the venv across two quotings';
  const at = { start: o.first.start, end: o.last.end };
  const v = `$${VAR}`;
  switch (a) {
    case 'C':
      return { ...at, text: '$VIRTUAL_ENV' };
    case 'D':
      return { ...at, text: v };
    case 'U':
      return { ...at, text: `"${v}"` };
    case 'S':
      return wholeQuoted(o, s, "'", `"${v}"`) ?? { ...at, text: `'"${v}"'` };
  }
};

// PowerShell 3+ sets $PSScriptRoot to the folder of the script being run or dot-sourced.
const PS_VENV = '$(Split-Path -Parent $PSScriptRoot)';

const emitPs1: Emit<Ps1Ctx> = (o, s) => {
  const a = o.first.ctx;
  if (a !== o.last.ctx) return 'it names the venv across two quotings';
  const at = { start: o.first.start, end: o.last.end };
  switch (a) {
    case 'C':
      return { ...at, text: '$env:VIRTUAL_ENV' };
    case 'D':
    case 'HD':
    case 'B':
      return { ...at, text: PS_VENV };
    case 'S':
      return (
        wholeQuoted(o, s, "'", `"${PS_VENV}"`) ??
        'it names the venv inside a longer single-quoted string'
      );
    case 'HS':
      return 'it names the venv inside a single-quoted here-string';
  }
};

const emitBat: Emit<BatCtx> = (o) => {
  const a = o.first.ctx;
  if (a !== o.last.ctx) return 'it names the venv across a quote';
  const at = { start: o.first.start, end: o.last.end };
  // %~dp0 is the batch file's own folder, with a trailing backslash.
  return { ...at, text: a === 'C' ? 'VIRTUAL_ENV' : '%~dp0..' };
};

/** Where the top lines go: after the comments and blank lines the file starts with. */
function afterLeadingComments(s: string): number {
  let pos = 0;
  while (pos < s.length) {
    const nl = s.indexOf('\n', pos);
    const line = s.slice(pos, nl === -1 ? s.length : nl);
    if (!/^[ \t]*(?:#.*)?\r?$/.test(line)) return pos;
    if (nl === -1) return s.length;
    pos = nl + 1;
  }
  return pos;
}

/** The file's own line ending, for the lines added. */
function eolOf(s: string): string {
  return /\r\n/.test(s) ? '\r\n' : '\n';
}

/** sh: find the sourced file, follow its symlinks, and take the folder above its own. */
function shPrologue(fileName: string): string {
  const name = `'${fileName.replace(/'/g, "'\\''")}'`;
  return `# venv-tools make-relocatable: VIRTUAL_ENV is the folder above this file's, found when it
# is sourced. bash, zsh and ksh93 name the file they source; dash, BusyBox sh and other shells
# hold it open, and /proc (Linux) names it.
${VAR}=
if [ -n "\${BASH_VERSION:-}" ]; then
    ${VAR}=\${BASH_SOURCE:-}
elif [ -n "\${ZSH_VERSION:-}" ]; then
    eval '${VAR}=\${(%):-%x}'
elif [ -n "\${KSH_VERSION:-}" ] && (eval ': \${.sh.file}') 2>/dev/null; then
    eval '${VAR}=\${.sh.file}'
fi
if [ -z "$${VAR}" ] && [ -d "/proc/$$/fd" ]; then
    _venv_tools_n=9
    for _venv_tools_f in "/proc/$$/fd/"*; do
        _venv_tools_i=\${_venv_tools_f##*/}
        case $_venv_tools_i in ?|*[!0-9]*) continue ;; esac
        if [ "$_venv_tools_i" -gt "$_venv_tools_n" ] && [ -f "$_venv_tools_f" ]; then
            case $(readlink "$_venv_tools_f") in */${name}) _venv_tools_n=$_venv_tools_i ;; esac
        fi
    done
    [ "$_venv_tools_n" -gt 9 ] && ${VAR}=$(readlink "/proc/$$/fd/$_venv_tools_n")
fi
if [ -n "$${VAR}" ]; then
    case $${VAR} in */*) ;; *) ${VAR}=./$${VAR} ;; esac
    while [ -h "$${VAR}" ]; do
        _venv_tools_f=$(readlink "$${VAR}")
        case $_venv_tools_f in
            /*) ${VAR}=$_venv_tools_f ;;
            *) ${VAR}=\${${VAR}%/*}/$_venv_tools_f ;;
        esac
    done
    ${VAR}=$(cd "\${${VAR}%/*}/.." >/dev/null 2>&1 && pwd)
fi
unset _venv_tools_f _venv_tools_i _venv_tools_n
if [ -z "$${VAR}" ]; then
    echo "${fileName}: cannot tell where this venv is: source this file from bash, zsh, ksh93, or any sh on Linux (it reads /proc)" >&2
    unset ${VAR}
    return 1 2>/dev/null || exit 1
fi
`;
}

function cshPrologue(fileName: string): string {
  return `# venv-tools make-relocatable: VIRTUAL_ENV is the folder above this file's. A sourced csh
# script cannot see its own name, but the shell holds it open, and /proc (Linux) names it.
set ${VAR} = ""
if ( -d /proc/$$/fd ) then
    foreach _venv_tools_f ( /proc/$$/fd/* )
        if ( -f $_venv_tools_f:q ) then
            set _venv_tools_t = "\`readlink $_venv_tools_f:q\`"
            if ( "$_venv_tools_t" =~ */${fileName} ) set ${VAR} = "$_venv_tools_t:h:h"
        endif
    end
    unset _venv_tools_f _venv_tools_t
endif
if ( "$${VAR}" == "" ) then
    echo "${fileName}: cannot tell where this venv is without /proc (Linux): source bin/activate from sh, bash or zsh, or bin/activate.fish"
    goto _venv_tools_end
endif
`;
}

function fishPrologue(): string {
  return `# venv-tools make-relocatable: VIRTUAL_ENV is the folder above this file's, found when it
# is sourced (a local variable: it goes away when sourcing ends).
set -l ${VAR} (builtin realpath (status filename) | string replace -r '/[^/]*/[^/]*$' '')
`;
}

function nuPrologue(): string {
  return `# venv-tools make-relocatable: the folder above this file's, found when it is parsed.
# Needs a Nushell with \`path self\` (0.102 and later have it).
const ${VAR} = path self ..
`;
}

function pyPrologue(): string {
  return `# venv-tools make-relocatable: VIRTUAL_ENV is the folder above this file's, found when it
# is run (__file__ is this file).
import os as _venv_tools_os
${VAR} = _venv_tools_os.path.dirname(_venv_tools_os.path.dirname(_venv_tools_os.path.realpath(__file__)))
del _venv_tools_os
`;
}

/** Python syntax (activate.xsh, activate_this.py): literals whose value starts with a place. */
function pythonSplices(s: string, places: readonly Mapping[]): { edits: Splice[]; left: string[] } {
  const edits: Splice[] = [];
  const left: string[] = [];
  const literals = pythonLiterals(s);
  if (literals === undefined) return { edits, left: ['it is not Python a tokenizer can read'] };
  const inLiteral = (i: number) => literals.find((l) => l.start <= i && i < l.end);
  for (const m of findPathMatches(s, places)) {
    const lit = inLiteral(m.start);
    if (lit === undefined) {
      // A comment: the literal path has no place there.
      const lineStart = s.lastIndexOf('\n', m.start) + 1;
      if (s.slice(lineStart, m.start).includes('#')) {
        edits.push({ start: m.start, end: m.end, text: 'VIRTUAL_ENV' });
      } else {
        left.push('it names the venv outside a string literal');
      }
      continue;
    }
    const p = lit.prefix.toLowerCase();
    const body = s.slice(lit.bodyStart, lit.bodyEnd);
    const plain = !p.includes('b') && !p.includes('f') && !p.includes('t');
    if (!plain || m.start !== lit.bodyStart || (!p.includes('r') && body.includes('\\'))) {
      left.push('it names the venv inside a string literal it cannot split');
      continue;
    }
    const rest = s.slice(m.end, lit.bodyEnd);
    edits.push({
      start: lit.start,
      end: lit.end,
      text: rest === '' ? VAR : `(${VAR} + ${lit.prefix}${lit.quote}${rest}${lit.quote})`,
    });
  }
  return { edits, left };
}

/** nushell: whole string tokens, re-written as an expression of the constant. */
function nuSplices(s: string, places: readonly Mapping[]): { edits: Splice[]; left: string[] } {
  const edits: Splice[] = [];
  const left: string[] = [];
  const visit = (tokens: readonly NuToken[]): void => {
    for (const tok of tokens) {
      if (tok.kind === 'comment') {
        for (const m of findPathMatches(s.slice(tok.start, tok.end), places)) {
          edits.push({
            start: tok.start + m.start,
            end: tok.start + m.end,
            text: '$env.VIRTUAL_ENV',
          });
        }
        continue;
      }
      if (tok.kind !== 'string') continue;
      const value = nuLiteral(tok);
      if (value === undefined) {
        for (const seg of tok.segments) {
          if ('lit' in seg && findPathMatches(seg.lit, places).length > 0)
            left.push('it names the venv inside an interpolated string');
          else if ('expr' in seg) visit(seg.expr.tokens);
        }
        continue;
      }
      const ms = findPathMatches(value, places);
      if (ms.length === 0) continue;
      const m = ms[0];
      if (ms.length > 1 || m === undefined || m.start !== 0) {
        left.push('it names the venv inside a longer string');
        continue;
      }
      const rest = value.slice(m.end);
      const text = rest === '' ? `$${VAR}` : `$"($${VAR})${escapeNuDouble(rest, true)}"`;
      edits.push({ start: tok.start, end: tok.end, text });
    }
  };
  visit(lexNu(s));
  return { edits, left };
}

function lexedSplices<C>(
  s: string,
  lexed: Lexed<C>,
  places: readonly Mapping[],
  emit: Emit<C>,
): { edits: Splice[]; left: string[] } {
  const edits: Splice[] = [];
  const left: string[] = [];
  for (const o of occurrences(lexed.runs, places)) {
    const e = emit(o, s);
    if (typeof e === 'string') left.push(e);
    else edits.push(e);
  }
  return { edits, left };
}

/**
 * Make an activate script set VIRTUAL_ENV from its own place: every literal naming one of
 * `places` (where this venv is or was) becomes the variable the added top lines set. A script
 * that names none (already relocatable, or one that derives the path itself, as CPython's
 * Activate.ps1 and virtualenv's activate_this.py do) is left as it is. `left` says why an
 * occurrence could not be replaced; the file is then not changed at all.
 */
export function makeActivateRelocatable(
  bytes: Buffer,
  ctx: {
    readonly flavor: RelocatableFlavor;
    readonly places: readonly ByteString[];
    /** The file's name in bin/ (the sh and csh forms look for it in /proc). */
    readonly fileName: string;
  },
): ActivateOutcome {
  const s = fromBytes(bytes);
  const places: Mapping[] = ctx.places.map((p) => ({ from: p, to: p }));
  let found: { edits: Splice[]; left: string[] };
  try {
    switch (ctx.flavor) {
      case 'sh':
        found = lexedSplices(s, lexSh(s), places, emitSh);
        break;
      case 'csh':
        found = lexedSplices(s, lexCsh(s), places, emitCsh);
        break;
      case 'fish':
        found = lexedSplices(s, lexFish(s), places, emitFish);
        break;
      case 'ps1':
        found = lexedSplices(s, lexPs1(s), places, emitPs1);
        break;
      case 'bat':
        found = lexedSplices(s, lexBat(s), places, emitBat);
        break;
      case 'nu':
        found = nuSplices(s, places);
        break;
      case 'xsh':
      case 'py':
        found = pythonSplices(s, places);
        break;
    }
  } catch (err) {
    if (err instanceof RewriteError) return { left: [err.message] };
    throw err;
  }
  if (found.left.length > 0) return { left: [...new Set(found.left)] };
  // Only the comments name the venv: no variable is needed.
  const needsVar = found.edits.some((e) => e.text.includes(VAR));
  const body = found.edits.length === 0 ? undefined : applySplices(s, found.edits);
  if (body === undefined) return { left: [] };
  if (!needsVar) return { bytes: toBytes(body), left: [] };
  const eol = eolOf(s);
  const withEol = (t: string) => t.replace(/\n/g, eol);
  const top = afterLeadingComments(body);
  let prologue = '';
  let epilogue = '';
  switch (ctx.flavor) {
    case 'sh':
      prologue = shPrologue(ctx.fileName);
      epilogue = `unset ${VAR}\n`;
      break;
    case 'csh':
      prologue = cshPrologue(ctx.fileName);
      epilogue = `_venv_tools_end:\nunset ${VAR}\n`;
      break;
    case 'fish':
      prologue = fishPrologue();
      break;
    case 'nu':
      prologue = nuPrologue();
      break;
    case 'xsh':
    case 'py':
      prologue = pyPrologue();
      epilogue = `del ${VAR}\n`;
      break;
    case 'ps1':
    case 'bat':
      break;
  }
  const end = body === '' || body.endsWith('\n') ? '' : eol;
  const out =
    body.slice(0, top) +
    withEol(prologue) +
    body.slice(top) +
    (epilogue === '' ? '' : end + withEol(epilogue));
  return { bytes: toBytes(out), left: [] };
}

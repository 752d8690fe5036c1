/**
 * Evidence of the old location from activate scripts: the values they assign to VIRTUAL_ENV.
 * Read with the same lexers as the rewriter, so every template version counts, including
 * CPython 3.12+'s `export VIRTUAL_ENV=$(cygpath "/old")` inside a `case`.
 */
import { fromBytes, type ByteString } from '../core/path-boundary.js';
import type { ActivateFlavor } from './rewrite-activate.js';
import { lexBat } from './shell/lex-bat.js';
import { lexCsh } from './shell/lex-csh.js';
import { lexFish } from './shell/lex-fish.js';
import { lexNu, nuLiteral, type NuToken } from './shell/lex-nu.js';
import { lexPs1 } from './shell/lex-ps1.js';
import { lexSh, type ShCtx } from './shell/lex-sh.js';
import {
  isLit,
  wordLiteral,
  wordText,
  EXPANSION,
  type Command,
  type LitChar,
  type Sub,
  type Word,
} from './shell/words.js';

/** Words that may come before an assignment in an sh command. */
const SH_BEFORE_ASSIGNMENT = new Set([
  'export',
  'declare',
  'typeset',
  'local',
  'readonly',
  'if',
  'then',
  'else',
  'elif',
  'do',
  'while',
  'until',
  '{',
  '!',
  'time',
]);

/**
 * The literal values a value word can stand for: itself when it is all literal, or the
 * literal arguments of a command substitution that is the whole value (`$(cygpath "/old")`).
 */
function valuesOf<C>(items: readonly (LitChar<C> | Sub<C>)[]): ByteString[] {
  if (items.length === 0) return [];
  if (items.every(isLit)) return [items.map((it) => (it as LitChar<C>).c).join('')];
  const only = items[0];
  if (items.length !== 1 || only === undefined || isLit(only) || only.commands === undefined)
    return [];
  const out: ByteString[] = [];
  for (const cmd of only.commands) {
    for (const w of cmd.slice(1)) {
      const v = wordLiteral(w);
      if (v !== undefined && !v.startsWith('-')) out.push(v);
    }
  }
  return out;
}

function shEvidence(commands: readonly Command<ShCtx>[]): ByteString[] {
  const out: ByteString[] = [];
  for (const cmd of commands) {
    for (const w of cmd) {
      const text = wordText(w);
      const assign = /^[A-Za-z_][A-Za-z0-9_]*=/.exec(text);
      // `NAME=` counts only when written bare: `"VIRTUAL_ENV=x"` is a word, not an assignment
      if (
        assign !== null &&
        w.items.slice(0, assign[0].length).every((it) => isLit(it) && it.ctx.q === 'U')
      ) {
        if (assign[0] === 'VIRTUAL_ENV=') out.push(...valuesOf(w.items.slice(assign[0].length)));
        continue;
      }
      if (SH_BEFORE_ASSIGNMENT.has(text) || /^-[A-Za-z]+$/.test(text)) continue;
      break;
    }
  }
  return out;
}

function cshEvidence<C>(commands: readonly Command<C>[]): ByteString[] {
  const out: ByteString[] = [];
  for (const cmd of commands) {
    for (let k = 0; k + 2 < cmd.length; k++) {
      if (wordLiteral(cmd[k]) === 'setenv' && wordLiteral(cmd[k + 1]) === 'VIRTUAL_ENV') {
        out.push(...valuesOf((cmd[k + 2] as Word<C>).items));
      }
    }
  }
  return out;
}

function fishEvidence<C>(commands: readonly Command<C>[]): ByteString[] {
  const out: ByteString[] = [];
  for (const cmd of commands) {
    if (wordLiteral(cmd[0]) !== 'set') continue;
    let k = 1;
    while (k < cmd.length && (wordLiteral(cmd[k]) ?? '').startsWith('-')) k++;
    if (wordLiteral(cmd[k]) !== 'VIRTUAL_ENV') continue;
    const values = cmd.slice(k + 1);
    if (values.length === 1) out.push(...valuesOf((values[0] as Word<C>).items));
  }
  return out;
}

function bareText(s: string, tok: NuToken | undefined): string | undefined {
  return tok === undefined ? undefined : s.slice(tok.start, tok.end);
}

function nuEvidence(s: string): ByteString[] {
  const toks = lexNu(s);
  const out: ByteString[] = [];
  const push = (tok: NuToken | undefined): void => {
    const v = nuLiteral(tok);
    if (v !== undefined) out.push(v);
  };
  for (let k = 0; k < toks.length; k++) {
    const t = bareText(s, toks[k]);
    const t1 = bareText(s, toks[k + 1]);
    const t2 = bareText(s, toks[k + 2]);
    if (t === 'let' && (t1 === 'virtual_env' || t1 === 'virtual-env') && t2 === '=')
      push(toks[k + 3]);
    else if (t === 'let-env' && t1 === 'VIRTUAL_ENV' && t2 === '=') push(toks[k + 3]);
    else if (t === '$env.VIRTUAL_ENV' && t1 === '=') push(toks[k + 2]);
    else if (t === 'VIRTUAL_ENV:') push(toks[k + 1]);
    else if (t === 'VIRTUAL_ENV' && t1 === ':') push(toks[k + 2]);
  }
  return out;
}

function ps1Evidence(s: string): ByteString[] {
  const { tokens } = lexPs1(s);
  const out: ByteString[] = [];
  for (let k = 0; k + 2 < tokens.length; k++) {
    const [a, b, c] = [tokens[k], tokens[k + 1], tokens[k + 2]];
    if (
      a?.kind === 'var' &&
      /^\$(?:env:)?VIRTUAL_ENV$/i.test(a.text) &&
      b?.kind === 'punct' &&
      b.text === '=' &&
      c?.kind === 'string'
    ) {
      const v = wordLiteral(c.word);
      if (v !== undefined) out.push(v);
    }
  }
  return out;
}

function batEvidence(s: string): ByteString[] {
  const out: ByteString[] = [];
  for (const cmd of lexBat(s).commands) {
    const line = cmd[0] === undefined ? '' : wordText(cmd[0]);
    const m = /^[\s@]*set\s+(.*)$/i.exec(line);
    if (m === null) continue;
    let rest = m[1] as string;
    if (rest.startsWith('"')) {
      // `set "X=value"`: cmd takes the text up to the last quote on the line
      const last = rest.lastIndexOf('"');
      rest = rest.slice(1, last > 0 ? last : undefined);
    }
    const v = /^VIRTUAL_ENV=(.*)$/i.exec(rest)?.[1];
    if (v !== undefined && !v.includes(EXPANSION)) out.push(v);
  }
  return out;
}

function isAbsolute(v: string, flavor: ActivateFlavor): boolean {
  if (v.startsWith('/')) return true;
  // Windows scripts name drive paths and UNC shares
  return (
    (flavor === 'ps1' || flavor === 'bat') && (/^[A-Za-z]:[\\/]/.test(v) || v.startsWith('\\\\'))
  );
}

/** The decoded values (byte strings) this script assigns to VIRTUAL_ENV, e.g. ['/build/app/venv']. */
export function activateEvidence(bytes: Buffer, flavor: ActivateFlavor): ByteString[] {
  const s = fromBytes(bytes);
  let found: ByteString[];
  switch (flavor) {
    case 'sh':
      found = shEvidence(lexSh(s).commands);
      break;
    case 'csh':
      found = cshEvidence(lexCsh(s).commands);
      break;
    case 'fish':
      found = fishEvidence(lexFish(s).commands);
      break;
    case 'nu':
      found = nuEvidence(s);
      break;
    case 'ps1':
      found = ps1Evidence(s);
      break;
    case 'bat':
      found = batEvidence(s);
      break;
  }
  // each value once, in order; CPython 3.12+ assigns the same one in two `case` branches
  // A CRLF script (edited on Windows, or written by a tool that did) leaves a CR at the end of
  // an unquoted value; no shell we read treats it as part of the path for our purposes.
  found = found.map((v) => v.replace(/\r+$/, ''));
  return [...new Set(found.filter((v) => isAbsolute(v, flavor)))];
}

/** The commands verify and scan suggest, written so they can be pasted into sh, bash or zsh. */
import { normalizeLocation } from '../core/normalize-location.js';
import { refusedLocation } from '../core/refused-location.js';

/** A command that fixes some of the problems found, ready to paste. */
export interface Fix {
  /** What it does, as a sentence fragment: "rewrites every file that names /old for /new". */
  readonly why: string;
  readonly argv: readonly string[];
  /** argv as one shell-quoted line. */
  readonly command: string;
}

/** A Fix from its argv. */
export function fixOf(why: string, argv: readonly string[]): Fix {
  return { why, argv, command: commandLine(argv) };
}

/**
 * Quote one word for a POSIX shell. Words of only safe characters stay bare; anything else goes
 * in single quotes, inside which sh takes every character literally (POSIX 2.2.2), so a `'`
 * itself is written as `'\''` (close, escaped quote, reopen).
 */
export function shellQuote(word: string): string {
  if (word !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, "'\\''")}'`;
}

/** argv -> one command line, each word quoted as needed. */
export function commandLine(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}

/**
 * The relocate command that makes the venv at `path` (as given) work at `root`: relocate finds a
 * single old location itself; with several, the first is named by --from and each other by
 * --map, so the one command fixes them all.
 */
export function relocateArgv(path: string, root: string, foreign: readonly string[]): string[] {
  const argv = ['venv-tools', 'relocate', path, '--to', root];
  // A location relocate refuses (/, a system folder) is never suggested: --from and --map
  // refuse it too. The others are still named, so that relocate does not stop at it.
  const usable = foreign.filter((f) => refusedLocation(normalizeLocation(f)) === undefined);
  if (foreign.length > 1 && usable.length > 0) {
    argv.push('--from', usable[0] as string);
    for (const f of usable.slice(1)) argv.push('--map', `${f}=${root}`);
  }
  return argv;
}

/** The reinit command that re-points the venv at `path` at this machine's python3.X. */
export function reinitArgv(path: string): string[] {
  return ['venv-tools', 'reinit', path];
}

/** The make-relocatable command for the venv at `path` (as given). */
export function makeRelocatableArgv(path: string): string[] {
  return ['venv-tools', 'make-relocatable', path];
}

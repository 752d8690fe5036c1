/**
 * The command line's vocabulary (the commands, and the options each one takes), and the check
 * of argv against it that words a usage error the way a person typed it: an unknown option
 * as typed (`-v`, `--Update-Path`, never yargs' `v` or its camelCase twin), a "did you mean"
 * for a near miss, the commands that do take an option given to another, and the list of
 * commands for an unknown one. Both parsers call it first, so that no argv reaches yargs'
 * own wording; it imports nothing, so that the compatible fast path stays cheap.
 */
import { isCompatArgv, UsageError, type CliRequest } from './cli-request.js';

/** The subcommands, in the order help and the messages list them. */
export const COMMANDS = [
  'relocate',
  'reinit',
  'scan',
  'verify',
  'pack',
  'unpack',
  'make-relocatable',
  'completion',
] as const;
export type CommandName = (typeof COMMANDS)[number];

/** Where an argv is read: at the top (no command yet), in the virtualenv-tools form, or a command. */
export type Context = 'top' | 'compat' | CommandName;

/** Options that take a value (the next word, or after `=`); every other option is a flag. */
export const VALUE_OPTIONS: ReadonlySet<string> = new Set([
  'update-path',
  'python',
  'to',
  'from',
  'map',
  'output',
  'format',
]);

/** Each context's one-letter options, and the options they stand for. */
const SHORT: Partial<Record<Context, Readonly<Record<string, string>>>> = {
  pack: { o: 'output' },
};

/** Options that take one of a few values. */
const CHOICES: Readonly<Record<string, readonly string[]>> = {
  format: ['tar', 'tar.gz', 'tar.zst'],
};

/**
 * The options each context takes, besides --help (and -h) and --version, which every context
 * takes; only the top level's help lists --version.
 */
export const OPTIONS: Readonly<Record<Context, readonly string[]>> = {
  top: ['version'],
  compat: [
    'update-path',
    'reinitialize',
    'python',
    'verbose',
    'strict',
    'drop-unreadable-pycs',
    'json',
    'quiet',
    'no-progress',
  ],
  relocate: [
    'to',
    'from',
    'force-from',
    'map',
    'dry-run',
    'diff',
    'json',
    'verbose',
    'strict',
    'drop-unreadable-pycs',
    'quiet',
    'no-progress',
  ],
  reinit: ['python', 'force', 'dry-run', 'diff', 'json', 'quiet', 'no-progress'],
  scan: ['json', 'verbose', 'quiet', 'no-progress'],
  verify: ['json', 'relocatable', 'quiet', 'no-progress'],
  pack: ['output', 'to', 'format', 'drop-unreadable-pycs', 'json', 'quiet', 'no-progress'],
  unpack: [
    'force',
    'reinitialize',
    'python',
    'drop-unreadable-pycs',
    'json',
    'quiet',
    'no-progress',
  ],
  'make-relocatable': ['dry-run', 'diff', 'json', 'quiet', 'no-progress'],
  completion: [],
};

/** The PATHs (or other words) each context takes: at least, at most, and what they are. */
const POSITIONALS: Readonly<Record<Context, readonly [number, number, string]>> = {
  top: [0, 0, ''],
  compat: [0, 1, 'venv PATH'],
  relocate: [0, 1, 'venv PATH'],
  reinit: [0, 1, 'venv PATH'],
  scan: [0, 1, 'venv PATH'],
  verify: [0, 1, 'venv PATH'],
  pack: [1, 1, 'VENV (the venv to pack)'],
  unpack: [2, 2, 'ARCHIVE and DEST'],
  'make-relocatable': [0, 1, 'venv PATH'],
  completion: [0, 0, ''],
};

/** The first line of the top-level help and of a bare `venv-tools` (virtualenv-tools' test_help reads `usage: `). */
export const TOP_USAGE =
  'usage: venv-tools <command> [PATH] [options]\n' +
  '       venv-tools --update-path NEW|auto [--verbose] [PATH]\n' +
  '       venv-tools --reinitialize [--python EXE] [PATH]';

/** What each option's value is, for the message when it has none. */
const VALUE_WORDS: Readonly<Record<string, string>> = {
  'update-path': 'NEW (absolute) or auto',
  to: 'NEW (absolute) or auto',
  from: 'OLD (absolute)',
  map: 'OLD=NEW',
  python: 'EXE',
  output: 'ARCHIVE (its extension picks the format)',
  format: 'tar, tar.gz or tar.zst',
};

/** Where an option's value means something else in a context. */
const VALUE_WORDS_IN: Partial<Record<Context, Readonly<Record<string, string>>>> = {
  pack: { to: 'FINAL (absolute)' },
};

/** Options a context cannot do without, and what to say when one is missing. */
const REQUIRED: Partial<Record<Context, ReadonlyArray<readonly [string, string]>>> = {
  relocate: [
    [
      'to',
      'relocate needs --to NEW: where the venv will live (absolute), or auto for where it stands',
    ],
  ],
  pack: [
    ['output', 'pack needs -o ARCHIVE: the archive to write (its extension picks the format)'],
  ],
};

/** How a context is named in a message. */
function contextName(c: Context): string {
  if (c === 'top') return 'the top level (venv-tools --version)';
  if (c === 'compat') return 'the --update-path form';
  return c;
}

/** "a", "a and b", "a, b and c" (or "a, b or c"). */
function listed(words: readonly string[], and = 'and'): string {
  if (words.length <= 1) return words.join('');
  return `${words.slice(0, -1).join(', ')} ${and} ${words.at(-1) ?? ''}`;
}

/** The edit distance between two short words (Levenshtein). */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost));
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}

/**
 * The word of `known` that `typed` most likely meant: the same word in another case or with
 * `_` for `-` (`--Update-Path`, `--update_path`), the words a single letter starts (`-v`:
 * `verbose or --version`), or one within two edits (`--dryrun`, `--verbos`).
 */
export function nearest(typed: string, known: readonly string[]): string | undefined {
  const norm = typed.toLowerCase().replace(/_/g, '-');
  if (known.includes(norm)) return norm;
  if (norm.length === 1) {
    const starting = known.filter((k) => k.startsWith(norm));
    return starting.length === 0 ? undefined : starting.join(' or --');
  }
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = distance(norm, k);
    const limit = Math.min(2, Math.floor(k.length / 3));
    if (d <= limit && d < bestD) {
      best = k;
      bestD = d;
    }
  }
  return best;
}

/** The contexts other than `here` that take option `name`. */
function contextsWith(name: string, here: Context): Context[] {
  return (Object.keys(OPTIONS) as Context[]).filter((c) => c !== here && OPTIONS[c].includes(name));
}

/** The usage error for option `typed` (as typed, without `=value`) that `context` does not take. */
function unknownOption(typed: string, context: Context): UsageError {
  const name = typed.replace(/^-+/, '');
  const known = ['help', ...OPTIONS[context]];
  // An option that this context does not take but another does (right spelling only).
  const long = typed.startsWith('--');
  const elsewhere = long
    ? contextsWith(name, context)
    : (Object.keys(SHORT) as Context[]).filter((c) => SHORT[c]?.[name] !== undefined);
  if (elsewhere.length > 0) {
    const where = listed(elsewhere.map(contextName));
    const of = context === 'top' ? 'without a command' : `of ${contextName(context)}`;
    return new UsageError(`${typed} is not an option ${of}; it exists only for ${where}`);
  }
  // At the top, the virtualenv-tools flags are what people arrive with: suggest them too.
  const pool = context === 'top' ? [...known, ...OPTIONS.compat] : known;
  const guess = nearest(name, pool);
  const meant = guess === undefined ? '' : `; did you mean --${guess}?`;
  const what = context === 'top' ? '' : ` for ${contextName(context)}`;
  return new UsageError(`unknown option ${typed}${what}${meant}`);
}

/** The usage error for a word in the place of a command. */
function unknownCommand(word: string): UsageError {
  const guess = word.length > 1 ? nearest(word, COMMANDS) : undefined;
  const meant = guess === undefined ? '' : `did you mean ${guess}? `;
  return new UsageError(
    `unknown command ${word === '' ? "''" : word}: ${meant}the commands are ${listed([...COMMANDS])}` +
      ', or use venv-tools --update-path NEW|auto [PATH] (virtualenv-tools style)',
  );
}

/** True when argv holds one of `words` before any `--`. */
function holds(argv: readonly string[], words: readonly string[]): boolean {
  for (const a of argv) {
    if (a === '--') return false;
    if (words.includes(a)) return true;
  }
  return false;
}

/** True when argv asks for help (before any `--`): then help is printed, whatever else it holds. */
export function asksForHelp(argv: readonly string[]): boolean {
  return holds(argv, ['--help', '-h']);
}

/** The context argv is read in: the virtualenv-tools form, its command, or the top. */
export function contextOf(argv: readonly string[]): Context {
  if (isCompatArgv(argv)) return 'compat';
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') break;
    if (arg.startsWith('-')) {
      if (!arg.includes('=') && VALUE_OPTIONS.has(arg.slice(2))) i++;
      continue;
    }
    return (COMMANDS as readonly string[]).includes(arg) ? (arg as CommandName) : 'top';
  }
  return 'top';
}

/**
 * Check argv against the vocabulary: it is not empty, every option is one its command takes and has its value,
 * the command is one of ours, there is at most one PATH, and a required option is there. Throws
 * a UsageError worded for a person on the first problem.
 */
export function checkArgv(argv: readonly string[]): void {
  // argparse prints its usage for a bare call; virtualenv-tools' test_help reads `usage: `.
  if (argv.length === 0) {
    throw new UsageError(
      'name a command, or use --update-path NEW|auto [PATH] (virtualenv-tools style)',
      TOP_USAGE,
    );
  }
  // Help, or the version, asked for anywhere, is printed whatever else argv holds.
  if (holds(argv, ['--help', '-h', '--version'])) return;
  let context: Context = isCompatArgv(argv) ? 'compat' : 'top';
  const seen = new Set<string>();
  const paths: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--') {
      paths.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('-') && arg !== '-') {
      const eq = arg.indexOf('=');
      const typed = eq === -1 ? arg : arg.slice(0, eq);
      const short = typed.startsWith('--') ? undefined : SHORT[context]?.[typed.slice(1)];
      const name = short ?? typed.slice(2);
      const known = name === 'version' || OPTIONS[context].includes(name);
      if ((short === undefined && !typed.startsWith('--')) || !known) {
        throw unknownOption(typed, context);
      }
      seen.add(name);
      if (VALUE_OPTIONS.has(name)) {
        const value = eq === -1 ? argv[i + 1] : arg.slice(eq + 1);
        if (value === undefined || value === '' || (eq === -1 && value.startsWith('-'))) {
          const words = VALUE_WORDS_IN[context]?.[name] ?? VALUE_WORDS[name] ?? 'one';
          throw new UsageError(`${typed} needs a value: ${words}`);
        }
        const choices = CHOICES[name];
        if (choices !== undefined && !choices.includes(value))
          throw new UsageError(`${typed} takes ${listed(choices, 'or')}, got: ${value}`);
        if (eq === -1) i++;
      }
      continue;
    }
    if (context === 'top') {
      if (!(COMMANDS as readonly string[]).includes(arg)) throw unknownCommand(arg);
      context = arg as CommandName;
      continue;
    }
    paths.push(arg);
  }
  const [least, most, what] = POSITIONALS[context];
  const who = context === 'compat' ? 'venv-tools' : `venv-tools ${context}`;
  const got = `, got ${paths.length}: ${paths.join(' ')}`;
  if (paths.length > most) {
    throw new UsageError(
      most === 0
        ? `${who} takes no PATH, got: ${paths.join(' ')}`
        : `${who} takes ${most === 1 ? 'one ' : ''}${what}${got}`,
    );
  }
  if (paths.length < least)
    throw new UsageError(`${who} needs ${what}${paths.length > 0 ? got : ''}`);
  for (const [name, message] of REQUIRED[context] ?? [])
    if (!seen.has(name)) throw new UsageError(message);
}

/**
 * --json in the virtualenv-tools form prints one document, of the one thing it did: with both
 * --update-path and --reinitialize there would be two.
 */
export function checkCompatJson(r: Extract<CliRequest, { mode: 'compat' }>): void {
  if (r.json && r.reinitialize && r.updatePath !== undefined) {
    throw new UsageError(
      '--json prints one document: run --reinitialize and --update-path one at a time with it',
    );
  }
}

/**
 * The fast path for virtualenv-tools' compatible command line. Deploy scripts run
 * `venv-tools --update-path NEW NEW` once per server, and most runs find the venv already
 * up to date, so the process startup is most of the run: importing yargs alone costs more
 * than the relocation itself. This parser reads the plain, well-formed compatible forms
 * without yargs, and declines (returns undefined) everything else, so that yargs still
 * parses, and words the error for, every unusual argv exactly as before.
 */
import type { CliRequest } from './cli-request.js';
import { checkCompatJson } from './check-argv.js';

type CompatRequest = Extract<CliRequest, { mode: 'compat' }>;

const STRING_OPTIONS = new Set(['update-path', 'python']);
const BOOLEAN_OPTIONS = new Set([
  'reinitialize',
  'verbose',
  'strict',
  'json',
  'quiet',
  'no-progress',
  'drop-unreadable-pycs',
]);

/**
 * The request for a compatible argv that this parser is sure yargs would read the same way,
 * or undefined to leave it to yargs.
 */
export function parseCompatArgv(argv: readonly string[]): CompatRequest | undefined {
  const strings = new Map<string, string>();
  const booleans = new Set<string>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('-')) {
      // An empty word is rare and yargs has its own reading of it: leave it to yargs.
      if (arg === '') return undefined;
      positionals.push(arg);
      continue;
    }
    // Everything else that starts with "-" goes to yargs: `-`, `--`, `-h`, `--help`,
    // unknown options (its message names them), `--no-verbose`, `--updatePath` (its
    // camel-case alias) and `--verbose=true`.
    if (!arg.startsWith('--')) return undefined;
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    if (STRING_OPTIONS.has(name)) {
      // A repeated option is an array in yargs (the CLI keeps the last, as argparse does).
      // Rare enough to leave to yargs rather than copy.
      if (strings.has(name)) return undefined;
      let value: string | undefined;
      if (eq !== -1) {
        value = arg.slice(eq + 1);
      } else {
        // yargs-parser (yargs 18) takes the next word as the value unless it starts with
        // "-" and is not a negative number; then the value is "" and the word is parsed as
        // an option. Both are unusual enough to leave to it.
        value = argv[i + 1];
        i++;
      }
      if (value === undefined || value === '' || value.startsWith('-')) return undefined;
      strings.set(name, value);
    } else if (BOOLEAN_OPTIONS.has(name) && eq === -1) {
      // yargs-parser lets a boolean flag eat a following `true` or `false` as its value, so
      // `--verbose false v` means PATH v, not PATH false: leave that to it.
      const next = argv[i + 1];
      if (next === 'true' || next === 'false' || booleans.has(name)) return undefined;
      booleans.add(name);
    } else {
      return undefined;
    }
  }
  // More than one PATH is an error whose wording comes from yargs' strict mode.
  if (positionals.length > 1) return undefined;
  const updatePath = strings.get('update-path');
  // Without either flag this is not the compatible form at all (the caller checks first).
  if (updatePath === undefined && !booleans.has('reinitialize')) return undefined;
  const request = {
    mode: 'compat',
    path: positionals[0] ?? '.',
    updatePath,
    reinitialize: booleans.has('reinitialize'),
    python: strings.get('python'),
    verbose: booleans.has('verbose'),
    strict: booleans.has('strict'),
    dropUnreadablePycs: booleans.has('drop-unreadable-pycs'),
    json: booleans.has('json'),
    quiet: booleans.has('quiet'),
    progress: !booleans.has('no-progress'),
  } as const;
  checkCompatJson(request);
  return request;
}

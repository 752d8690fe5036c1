/**
 * The commands' plain forms, read without yargs: `venv-tools unpack app.tar.zst /srv/app/x/venv`,
 * `venv-tools relocate ./venv --to auto --json`. Importing yargs and building its parser took
 * 85-100 ms of every such run (docs/PERFORMANCE.md), as long as a whole relocation of a small
 * venv. argv reaches here checked (check-argv.ts): every option is known to its command, every
 * value is there, and the PATHs are as many as the command takes. Anything beyond the plain form
 * (help, a repeated option, `--` or `-`, a flag given a value, an option before its command) is left to
 * yargs, which reads it the same way (test/cli/parse-plain-argv.test.ts compares the two).
 */
import { parseMap, type CliRequest, type OutputOptions } from './cli-request.js';
import { COMMANDS, VALUE_OPTIONS, type CommandName } from './check-argv.js';

/** Every command but `completion`, whose answers only yargs gives. */
const PLAIN: ReadonlySet<string> = new Set(COMMANDS.filter((c) => c !== 'completion'));

/** The request a plain, checked argv asks for; undefined when it is not plain. */
export function parsePlainArgv(argv: readonly string[]): CliRequest | undefined {
  const cmd = argv[0];
  if (cmd === undefined || !PLAIN.has(cmd)) return undefined;
  const flags = new Set<string>();
  const values = new Map<string, string>();
  const maps: string[] = [];
  const paths: string[] = [];
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('-')) {
      paths.push(arg);
      continue;
    }
    if (arg === '-' || arg === '--' || arg === '-h' || arg === '--help' || arg === '--version')
      return undefined;
    const eq = arg.indexOf('=');
    const typed = eq === -1 ? arg : arg.slice(0, eq);
    const name = typed === '-o' && cmd === 'pack' ? 'output' : typed.slice(2);
    if (!typed.startsWith('--') && name !== 'output') return undefined;
    if (VALUE_OPTIONS.has(name)) {
      const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
      if (value === undefined) return undefined;
      if (name === 'map') maps.push(value);
      else if (values.has(name)) return undefined;
      else values.set(name, value);
    } else {
      if (eq !== -1 || flags.has(name)) return undefined;
      flags.add(name);
    }
  }
  const on = (name: string) => flags.has(name);
  const out: OutputOptions = { quiet: on('quiet'), progress: !on('no-progress') };
  const path = paths[0] ?? '.';
  switch (cmd as CommandName) {
    case 'relocate':
      return {
        mode: 'relocate',
        path,
        to: String(values.get('to')),
        from: values.get('from'),
        forceFrom: on('force-from'),
        maps: maps.map(parseMap),
        dryRun: on('dry-run'),
        diff: on('diff'),
        json: on('json'),
        verbose: on('verbose'),
        strict: on('strict'),
        dropUnreadablePycs: on('drop-unreadable-pycs'),
        ...out,
      };
    case 'reinit':
      return {
        mode: 'reinit',
        path,
        python: values.get('python'),
        force: on('force'),
        dryRun: on('dry-run'),
        diff: on('diff'),
        json: on('json'),
        ...out,
      };
    case 'pack':
      return {
        mode: 'pack',
        path: String(paths[0]),
        output: String(values.get('output')),
        to: values.get('to'),
        format: values.get('format') as 'tar' | 'tar.gz' | 'tar.zst' | undefined,
        dropUnreadablePycs: on('drop-unreadable-pycs'),
        json: on('json'),
        ...out,
      };
    case 'unpack':
      return {
        mode: 'unpack',
        archive: String(paths[0]),
        dest: String(paths[1]),
        force: on('force'),
        reinitialize: on('reinitialize'),
        python: values.get('python'),
        dropUnreadablePycs: on('drop-unreadable-pycs'),
        json: on('json'),
        ...out,
      };
    case 'scan':
      return { mode: 'scan', path, json: on('json'), verbose: on('verbose'), ...out };
    case 'verify':
      return { mode: 'verify', path, json: on('json'), relocatable: on('relocatable'), ...out };
    case 'make-relocatable':
      return {
        mode: 'make-relocatable',
        path,
        dryRun: on('dry-run'),
        diff: on('diff'),
        json: on('json'),
        ...out,
      };
    default:
      return undefined;
  }
}

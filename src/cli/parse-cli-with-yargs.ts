/**
 * The full command line parser, built on yargs: subcommands, --help, completion, and the
 * compatible forms that parseCompatArgv leaves to it. Imported only when needed, because
 * importing yargs costs more than a whole up-to-date `--update-path` run (see parseCli).
 * check-argv.ts has checked argv against the vocabulary first, so yargs' own messages are only
 * a safety net; the options here are the ones check-argv.ts lists, with their descriptions.
 */
import yargs, { type Argv, type Options } from 'yargs';
import {
  isCompatArgv,
  last,
  parseMap,
  UsageError,
  type CliRequest,
  type OutputOptions,
} from './cli-request.js';
import {
  asksForHelp,
  checkArgv,
  checkCompatJson,
  contextOf,
  OPTIONS,
  TOP_USAGE,
  type Context,
} from './check-argv.js';
import { formatRows } from './format-help.js';
import { packageVersion } from '../core/version.js';

const PARSER_CONFIG = {
  'camel-case-expansion': true,
  'boolean-negation': false,
  'dot-notation': false,
  'parse-numbers': false,
  'parse-positional-numbers': false,
  'short-option-groups': false,
  'greedy-arrays': false,
} as const;

/** How parseCliWithYargs lays out help. */
export interface ParseOptions {
  /** The terminal's width; help is wrapped to it (default 80). */
  readonly columns?: number;
}

const flag = (describe: string): Options => ({ type: 'boolean', default: false, describe });
const value = (describe: string): Options => ({ type: 'string', describe });

/** Each option's definition; where commands differ, by command (PER_CONTEXT). */
const OPTION_DEFS: Readonly<Record<string, Options>> = {
  'update-path': value(
    'Rewrite every path in the venv for the new location NEW (absolute), or "auto" for the absolute path of PATH',
  ),
  reinitialize: flag("Re-point the venv's interpreter at this machine's python3.X"),
  python: value('With --reinitialize: the interpreter to use'),
  verbose: flag('List every changed file'),
  strict: flag(
    "Exit 1 when the venv's interpreter is missing on this machine (the relocation is still done; the warning names the fix, --reinitialize)",
  ),
  json: flag('Print one JSON document (schema: docs/JSON.md, shipped in the package)'),
  quiet: flag('Print nothing on success (warnings and errors still go to stderr)'),
  'no-progress': flag('No progress line (also off with NO_COLOR or CI set, or off a terminal)'),
  to: {
    type: 'string',
    demandOption: true,
    describe: 'The new location (absolute), or "auto" for the absolute path of PATH',
  },
  from: value(
    "The old location, when the venv cannot tell; refused when it is a system folder or the venv's own files name other locations (see --force-from), and always when it is /",
  ),
  'force-from': flag(
    'Accept --from even so: for the odd venv really built in a system folder, or whose files are wrong',
  ),
  map: {
    type: 'string',
    array: true,
    default: [],
    describe: 'Also map OLD=NEW (repeatable), e.g. an editable source tree',
  },
  'drop-unreadable-pycs': flag(
    'Remove a pyc that cannot be rewritten, has no source beside it and names the old location (otherwise refused); one with its source is always compiled again or removed',
  ),
  'dry-run': flag('Print the plan and change nothing'),
  diff: flag('Also print a unified diff of the text changes'),
  force: flag('Allow a different minor version'),
  relocatable: flag(
    'Also fail while anything pins the venv to its path (see make-relocatable), naming each file',
  ),
  output: {
    alias: 'o',
    type: 'string',
    demandOption: true,
    describe: 'The archive to write; its extension picks the format',
  },
  format: {
    type: 'string',
    choices: ['tar', 'tar.gz', 'tar.zst'],
    describe: 'The format, whatever the extension says',
  },
};

const PER_CONTEXT: Partial<Record<Context, Readonly<Record<string, Options>>>> = {
  compat: {
    verbose: flag(
      'Print one line per changed file (S script, B pyc, P .pth, F finder, A activate, …)',
    ),
    json: flag("Print one JSON document instead of virtualenv-tools' lines (schema: docs/JSON.md)"),
  },
  relocate: { 'dry-run': flag('Print the plan (files by kind) and change nothing') },
  reinit: {
    python: value('The interpreter to use (default: the first python3.X on PATH)'),
    'dry-run': flag('Print the plan (links and pyvenv.cfg keys) and change nothing'),
  },
  scan: { verbose: flag('List every file a relocation would rewrite, by kind') },
  pack: {
    to: value(
      'Archive the venv as relocated for this path (absolute): the server then needs only tar -x',
    ),
  },
  unpack: {
    force: flag('Replace DEST if it exists, once the new tree is complete'),
    reinitialize: flag("Also re-point each venv's interpreter at this machine's python3.X"),
  },
  'make-relocatable': {
    'dry-run': flag('Print what would change and what cannot be made relative; change nothing'),
  },
};

/** The options of `context`, defined on `y`. */
function withOptions(y: Argv, context: Context): Argv {
  let out = y;
  for (const name of OPTIONS[context]) {
    const def = PER_CONTEXT[context]?.[name] ?? OPTION_DEFS[name];
    if (def !== undefined) out = out.option(name, def);
  }
  return out;
}

/** Each command: its usage line, what it does, and its examples (rendered by format-help.ts). */
interface CommandHelp {
  readonly usage: string;
  readonly describe: string;
  readonly examples: ReadonlyArray<readonly [string, string]>;
}

const HELP: Readonly<Record<Context, CommandHelp>> = {
  top: {
    usage: TOP_USAGE,
    describe:
      'Relocate a built Python virtual environment to a new path, and re-point its interpreter.',
    examples: [
      ['venv-tools relocate ./venv --to /srv/app/abc/venv', 'relocate'],
      ['venv-tools scan ./venv', 'see what holds the old location'],
      ['venv-tools verify ./venv', 'check the venv where it stands'],
      [
        'venv-tools pack ./venv -o app.tar.zst',
        'archive it; venv-tools unpack extracts and relocates',
      ],
      ['venv-tools make-relocatable ./venv', 'make it work wherever it is moved'],
      ['venv-tools --update-path auto ./venv', 'virtualenv-tools style'],
      ['venv-tools completion >> ~/.bashrc', 'tab completion in bash (zsh: ~/.zshrc)'],
    ],
  },
  compat: {
    usage: TOP_USAGE.split('\n')
      .slice(1)
      .map((l, i) => (i === 0 ? `usage: ${l.trim()}` : `       ${l.trim()}`))
      .join('\n'),
    describe: 'virtualenv-tools compatible mode: PATH (default ".") is the venv.',
    examples: [
      [
        'venv-tools --update-path /srv/app/3f9c2e1/venv /srv/app/3f9c2e1/venv',
        'relocate after unpacking',
      ],
      [
        'venv-tools --update-path auto ./venv --verbose',
        'relocate to where it stands, listing files',
      ],
      [
        'venv-tools --update-path /srv/app/3f9c2e1/venv /srv/app/3f9c2e1/venv --strict',
        'and exit 1 if its interpreter is missing here',
      ],
      ['venv-tools --reinitialize ./venv', "use this machine's python3.X"],
    ],
  },
  relocate: {
    usage: 'usage: venv-tools relocate [PATH] --to NEW|auto [options]',
    describe: 'Rewrite every reference to the old location for the new one',
    examples: [
      [
        'venv-tools relocate ./venv --to /srv/app/abc/venv',
        'relocate ./venv for /srv/app/abc/venv',
      ],
      ['venv-tools relocate ./venv --to auto', 'for where it stands now'],
      ['venv-tools relocate . --to /srv/app/abc/venv --dry-run', 'show what would change'],
      [
        'venv-tools relocate ./venv --to /srv/app/abc/venv --dry-run --diff',
        'and show the text changes as a unified diff',
      ],
      [
        'venv-tools relocate ./venv --to /srv/new/venv --map /build/src=/srv/new/src',
        'map an editable source too',
      ],
      [
        'venv-tools relocate ./venv --to /srv/new/venv --from /build/app/venv',
        "name the old location (checked against the venv's files)",
      ],
    ],
  },
  reinit: {
    usage: 'usage: venv-tools reinit [PATH] [options]',
    describe: "Re-point the venv's interpreter at this machine's python3.X",
    examples: [
      ['venv-tools reinit ./venv', 'use the first python3.X on PATH'],
      ['venv-tools reinit ./venv --dry-run --diff', 'show the pyvenv.cfg changes'],
      ['venv-tools reinit ./venv --python /usr/bin/python3.11', "use Debian's python3.11"],
    ],
  },
  scan: {
    usage: 'usage: venv-tools scan [PATH] [options]',
    describe:
      'Show where the venv thinks it is, what names that place, and what a relocation does (or what unpack would do with an archive)',
    examples: [
      ['venv-tools scan ./venv', 'what a relocation of ./venv would rewrite'],
      ['venv-tools scan ./venv --verbose', 'and every file, by kind'],
      ['venv-tools scan ./venv --json | jq .counts', 'files by kind, for a script'],
    ],
  },
  verify: {
    usage: 'usage: venv-tools verify [PATH] [options]',
    describe:
      'Check that the venv works where it stands (or that an archive is whole); exit 1 with the problems and their fix',
    examples: [
      ['venv-tools verify /srv/app/abc/venv', 'after unpacking: does it work here?'],
      ['venv-tools verify ./venv --relocatable', 'does it keep working after a plain mv or cp -a?'],
      [
        'venv-tools verify ./venv --quiet || venv-tools relocate ./venv --to auto',
        'relocate only when needed',
      ],
    ],
  },
  pack: {
    usage: 'usage: venv-tools pack VENV -o ARCHIVE [--to FINAL] [options]',
    describe:
      'Stream the venv into a tar, tar.gz or tar.zst archive, with a manifest; --to relocates it in the stream',
    examples: [
      ['venv-tools pack ./venv -o app.tar.zst', 'archive the venv'],
      [
        'venv-tools pack ./venv -o app.tar.zst --to /srv/app/3f9c2e1/venv',
        'archive it already relocated for its final place',
      ],
    ],
  },
  unpack: {
    usage: 'usage: venv-tools unpack ARCHIVE DEST [options]',
    describe:
      'Check every member, extract beside DEST, relocate for DEST, then rename: DEST appears whole or not at all',
    examples: [
      ['venv-tools unpack app.tar.zst /srv/app/3f9c2e1/venv', 'extract and relocate'],
      [
        'venv-tools unpack app.tar.gz /srv/app/3f9c2e1/venv --reinitialize',
        "and use this server's python3.X",
      ],
    ],
  },
  'make-relocatable': {
    usage: 'usage: venv-tools make-relocatable [PATH] [options]',
    describe:
      'Rewrite the venv so that it keeps working after a plain mv, cp -a, tar or docker COPY',
    examples: [
      ['venv-tools make-relocatable ./venv', 'then mv, cp -a or tar it anywhere'],
      [
        'venv-tools make-relocatable ./venv --dry-run --diff',
        'show the new script headers and activate lines',
      ],
    ],
  },
  completion: {
    usage: 'usage: venv-tools completion',
    describe: 'Print a shell completion script (bash, or zsh when $SHELL is zsh)',
    examples: [
      ['venv-tools completion >> ~/.bashrc', 'tab completion in bash'],
      ['venv-tools completion >> ~/.zshrc', 'and in zsh'],
    ],
  },
};

/** The virtualenv-tools flags, in the top-level help: the ones its users arrive with. */
const COMPAT_ROWS: ReadonlyArray<readonly [string, string]> = [
  ['--update-path NEW|auto', 'rewrite every path in the venv PATH (default ".") for NEW'],
  ['--reinitialize', "re-point its interpreter at this machine's python3.X (--python EXE)"],
  ['--verbose', 'with --update-path: one line per changed file'],
  ['', 'also --strict, --json, --quiet, --no-progress: venv-tools --update-path x --help'],
];

function base(argv: readonly string[], columns: number): Argv {
  return yargs([...argv])
    .scriptName('venv-tools')
    .parserConfiguration(PARSER_CONFIG)
    .exitProcess(false)
    .strict()
    .wrap(columns)
    .help()
    .alias('h', 'help')
    .version(packageVersion());
}

const pathArg = (y: Argv) =>
  y.positional('path', { type: 'string', default: '.', describe: 'The venv (default: .)' });

/** `context`'s help header: its usage lines and what it does. */
const header = (context: Context) => `${HELP[context].usage}\n\n${HELP[context].describe}`;

function compatParser(argv: readonly string[], columns: number): Argv {
  return withOptions(
    base(argv, columns)
      .hide('version')
      .usage(header('compat'))
      .command('$0 [path]', false, pathArg),
    'compat',
  );
}

function commandParser(argv: readonly string[], columns: number): Argv {
  const command = (y: Argv, name: Context): Argv =>
    // --version works everywhere, but only the top level's help lists it.
    withOptions(pathArg(y).usage(header(name)).hide('version'), name);
  return base(argv, columns)
    .usage(header('top'))
    .command('relocate [path]', HELP.relocate.describe, (y) => command(y, 'relocate'))
    .command('reinit [path]', HELP.reinit.describe, (y) => command(y, 'reinit'))
    .command('scan [path]', HELP.scan.describe, (y) => command(y, 'scan'))
    .command('verify [path]', HELP.verify.describe, (y) => command(y, 'verify'))
    .command('pack <venv>', HELP.pack.describe, (y) =>
      withOptions(
        y
          .positional('venv', { type: 'string', describe: 'The venv to pack' })
          .usage(header('pack'))
          .hide('version'),
        'pack',
      ),
    )
    .command('unpack <archive> <dest>', HELP.unpack.describe, (y) =>
      withOptions(
        y
          .positional('archive', { type: 'string', describe: 'A tar, tar.gz or tar.zst archive' })
          .positional('dest', { type: 'string', describe: 'Where the venv (or app tree) goes' })
          .usage(header('unpack'))
          .hide('version'),
        'unpack',
      ),
    )
    .command('make-relocatable [path]', HELP['make-relocatable'].describe, (y) =>
      command(y, 'make-relocatable'),
    )
    .completion('completion', HELP.completion.describe)
    .demandCommand(1, 'Name a command, or use --update-path (see --help)');
}

/** `completion --help`: yargs' completion command would print the script instead. */
function completionHelpParser(argv: readonly string[], columns: number): Argv {
  return base(argv, columns).command('completion', HELP.completion.describe, (y) =>
    y.usage(header('completion')).hide('version'),
  );
}

interface Parsed {
  readonly args: Record<string, unknown> & { _: unknown[] };
  readonly output: string;
}

function run(parser: Argv, argv: readonly string[]): Parsed {
  let failure: string | undefined;
  let output = '';
  let args: Record<string, unknown> & { _: unknown[] } = { _: [] };
  parser.fail((msg, err) => {
    failure = msg ?? err?.message ?? 'invalid arguments';
  });
  parser.parse([...argv], {}, (err, a, out) => {
    if (err && failure === undefined) failure = err.message;
    args = a as typeof args;
    output = out ?? '';
  });
  if (failure !== undefined) throw new UsageError(failure);
  return { args, output };
}

/** yargs' help for argv, with the sections it would wrap badly rendered by format-help.ts. */
function helpText(yargsHelp: string, context: Context, columns: number): string {
  // yargs drops the indent of the usage lines after the first: they are put back as written.
  const blank = yargsHelp.indexOf('\n\n');
  const parts = [`${HELP[context].usage}${blank === -1 ? '' : yargsHelp.slice(blank)}`.trimEnd()];
  if (context === 'top')
    parts.push(formatRows('virtualenv-tools form', COMPAT_ROWS, columns).join('\n'));
  parts.push(formatRows('Examples', HELP[context].examples, columns).join('\n'));
  return parts.join('\n\n');
}

/** What --quiet and --no-progress ask for. */
function outputOptions(args: Record<string, unknown>): OutputOptions {
  return { quiet: args.quiet === true, progress: args.noProgress !== true };
}

/** Parse argv (without node and script) into a request with yargs, or throw UsageError. */
export function parseCliWithYargs(argv: readonly string[], opts: ParseOptions = {}): CliRequest {
  const columns = opts.columns ?? 80;
  // The completion script calls `venv-tools --get-yargs-completions venv-tools WORDS…`; the
  // words may hold --update-path, but the answer always comes from the command parser.
  if (argv[0] === '--get-yargs-completions') {
    const { output } = run(commandParser(argv, columns), argv);
    return { mode: 'output', text: output };
  }
  checkArgv(argv);
  const context = contextOf(argv);
  const help = asksForHelp(argv);
  if (isCompatArgv(argv)) {
    const { args, output } = run(compatParser(argv, columns), argv);
    if (output !== '')
      return { mode: 'output', text: help ? helpText(output, context, columns) : output };
    const path =
      args._.length > 0 ? String(args._[0]) : typeof args.path === 'string' ? args.path : '.';
    const updatePath = last(args.updatePath);
    if (
      argv.some((a) => a === '--update-path' || a.startsWith('--update-path=')) &&
      (updatePath === undefined || updatePath === '')
    ) {
      throw new UsageError('--update-path needs a value: NEW (absolute) or auto');
    }
    const request = {
      mode: 'compat',
      path,
      updatePath,
      reinitialize: args.reinitialize === true,
      python: last(args.python),
      verbose: args.verbose === true,
      strict: args.strict === true,
      dropUnreadablePycs: args.dropUnreadablePycs === true,
      json: args.json === true,
      ...outputOptions(args),
    } as const;
    checkCompatJson(request);
    return request;
  }
  const parser =
    context === 'completion' && help
      ? completionHelpParser(argv, columns)
      : commandParser(argv, columns);
  const { args, output } = run(parser, argv);
  if (output !== '')
    return { mode: 'output', text: help ? helpText(output, context, columns) : output };
  const [cmd] = args._;
  const path = typeof args.path === 'string' ? args.path : '.';
  const rest = args._.slice(1);
  if (rest.length > 0) throw new UsageError(`unexpected argument: ${rest.join(' ')}`);
  const out = outputOptions(args);
  switch (cmd) {
    case 'relocate':
      return {
        mode: 'relocate',
        path,
        to: String(last(args.to)),
        from: last(args.from),
        forceFrom: args.forceFrom === true,
        maps: ((args.map as string[] | undefined) ?? []).map(parseMap),
        dryRun: args.dryRun === true,
        diff: args.diff === true,
        json: args.json === true,
        verbose: args.verbose === true,
        strict: args.strict === true,
        dropUnreadablePycs: args.dropUnreadablePycs === true,
        ...out,
      };
    case 'reinit':
      return {
        mode: 'reinit',
        path,
        python: last(args.python),
        force: args.force === true,
        dryRun: args.dryRun === true,
        diff: args.diff === true,
        json: args.json === true,
        ...out,
      };
    case 'pack':
      return {
        mode: 'pack',
        path: String(args.venv),
        output: String(last(args.output)),
        to: last(args.to),
        format: last(args.format) as 'tar' | 'tar.gz' | 'tar.zst' | undefined,
        dropUnreadablePycs: args.dropUnreadablePycs === true,
        json: args.json === true,
        ...out,
      };
    case 'unpack':
      return {
        mode: 'unpack',
        archive: String(args.archive),
        dest: String(args.dest),
        force: args.force === true,
        reinitialize: args.reinitialize === true,
        python: last(args.python),
        dropUnreadablePycs: args.dropUnreadablePycs === true,
        json: args.json === true,
        ...out,
      };
    case 'scan':
      return {
        mode: 'scan',
        path,
        json: args.json === true,
        verbose: args.verbose === true,
        ...out,
      };
    case 'verify':
      return {
        mode: 'verify',
        path,
        json: args.json === true,
        relocatable: args.relocatable === true,
        ...out,
      };
    case 'make-relocatable':
      return {
        mode: 'make-relocatable',
        path,
        dryRun: args.dryRun === true,
        diff: args.diff === true,
        json: args.json === true,
        ...out,
      };
    default:
      throw new UsageError(`unknown command: ${String(cmd)} (see venv-tools --help)`);
  }
}

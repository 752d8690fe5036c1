/**
 * The full command line parser, built on yargs: subcommands, --help, completion, and the
 * compatible forms that parseCompatArgv leaves to it. Imported only when needed, because
 * importing yargs costs more than a whole up-to-date `--update-path` run (see parseCli).
 */
import yargs, { type Argv } from 'yargs';
import { isCompatArgv, UsageError, type CliRequest } from './cli-request.js';
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

/** argparse keeps the last of a repeated option; yargs gives an array. */
function last(v: unknown): string | undefined {
  const x = Array.isArray(v) ? v[v.length - 1] : v;
  return x === undefined ? undefined : String(x);
}

function parseMap(s: string): { from: string; to: string } {
  const eq = s.indexOf('=');
  if (eq <= 0 || eq === s.length - 1) throw new UsageError(`--map takes OLD=NEW, got: ${s}`);
  return { from: s.slice(0, eq), to: s.slice(eq + 1) };
}

function onePath(positionals: readonly unknown[], what: string): string {
  if (positionals.length > 1) {
    throw new UsageError(
      `${what} takes one venv PATH, got ${positionals.length}: ${positionals.join(' ')}`,
    );
  }
  return positionals.length === 0 ? '.' : String(positionals[0]);
}

function base(argv: readonly string[]): Argv {
  return yargs([...argv])
    .scriptName('venv-tools')
    .parserConfiguration(PARSER_CONFIG)
    .exitProcess(false)
    .strict()
    .wrap(Math.min(100, process.stdout.columns || 100))
    .help()
    .alias('h', 'help')
    .version(packageVersion());
}

const strictOpt = {
  type: 'boolean',
  default: false,
  describe:
    "Exit 1 when the venv's interpreter is missing on this machine (the relocation is still done; the warning names the fix, --reinitialize)",
} as const;

const dropPycsOpt = {
  type: 'boolean',
  default: false,
  describe:
    'Remove a pyc that cannot be rewritten, has no source beside it and names the old location (otherwise refused); one with its source is always compiled again or removed',
} as const;

function compatParser(argv: readonly string[]): Argv {
  return base(argv)
    .usage(
      'venv-tools --update-path NEW|auto [--verbose] [--strict] [PATH]\nvenv-tools --reinitialize [--python EXE] [PATH]\n\n' +
        'virtualenv-tools compatible mode: PATH (default ".") is the venv.',
    )
    .command('$0 [path]', false, (y) => y.positional('path', { type: 'string', default: '.' }))
    .option('update-path', {
      type: 'string',
      describe:
        'Rewrite every path in the venv for the new location NEW (absolute), or "auto" for the absolute path of PATH',
    })
    .option('reinitialize', {
      type: 'boolean',
      default: false,
      describe: "Re-point the venv's interpreter at this machine's python3.X",
    })
    .option('python', { type: 'string', describe: 'With --reinitialize: the interpreter to use' })
    .option('verbose', {
      type: 'boolean',
      default: false,
      describe:
        'Print one line per changed file (S script, B pyc, P .pth, F finder, A activate, …)',
    })
    .option('strict', strictOpt)
    .option('drop-unreadable-pycs', dropPycsOpt)
    .example(
      'venv-tools --update-path /srv/app/3f9c2e1/venv /srv/app/3f9c2e1/venv',
      'relocate after unpacking',
    )
    .example(
      'venv-tools --update-path auto ./venv --verbose',
      'relocate to where it stands, listing files',
    )
    .example(
      'venv-tools --update-path /srv/app/3f9c2e1/venv /srv/app/3f9c2e1/venv --strict',
      'and exit 1 if its interpreter is missing here',
    );
}

function commandParser(argv: readonly string[]): Argv {
  const pathArg = (y: Argv) =>
    y.positional('path', { type: 'string', default: '.', describe: 'The venv (default: .)' });
  const jsonOpt = {
    type: 'boolean',
    default: false,
    describe: 'Print one JSON document (schema: docs/JSON.md)',
  } as const;
  const diffOpt = {
    type: 'boolean',
    default: false,
    describe: 'Also print a unified diff of the text changes',
  } as const;
  return base(argv)
    .usage(
      'venv-tools <command> [PATH] [options]\n\nRelocate a built Python virtual environment to a new path, and re-point its interpreter.\n' +
        'virtualenv-tools compatible: venv-tools --update-path NEW|auto [--verbose] [PATH]',
    )
    .command(
      'relocate [path]',
      'Rewrite every reference to the old location for the new one',
      (y) =>
        pathArg(y)
          .option('to', {
            type: 'string',
            demandOption: true,
            describe: 'The new location (absolute)',
          })
          .option('from', {
            type: 'string',
            describe:
              "The old location, when the venv cannot tell; refused when it is a system folder or the venv's own files name other locations (see --force-from), and always when it is /",
          })
          .option('force-from', {
            type: 'boolean',
            default: false,
            describe:
              'Accept --from even so: for the odd venv really built in a system folder, or whose files are wrong',
          })
          .option('map', {
            type: 'string',
            array: true,
            default: [],
            describe: 'Also map OLD=NEW (repeatable), e.g. an editable source tree',
          })
          .option('dry-run', {
            type: 'boolean',
            default: false,
            describe: 'Print the plan (files by kind) and change nothing',
          })
          .option('diff', diffOpt)
          .option('json', jsonOpt)
          .option('verbose', {
            type: 'boolean',
            default: false,
            describe: 'List every changed file',
          })
          .option('strict', strictOpt)
          .option('drop-unreadable-pycs', dropPycsOpt)
          .example(
            'venv-tools relocate ./venv --to /srv/app/abc/venv',
            'relocate ./venv for /srv/app/abc/venv',
          )
          .example(
            'venv-tools relocate . --to /srv/app/abc/venv --dry-run',
            'show what would change',
          )
          .example(
            'venv-tools relocate ./venv --to /srv/app/abc/venv --dry-run --diff',
            'and show the text changes as a unified diff',
          )
          .example(
            'venv-tools relocate ./venv --to /srv/new/venv --map /build/src=/srv/new/src',
            'map an editable source too',
          )
          .example(
            'venv-tools relocate ./venv --to /srv/new/venv --from /build/app/venv',
            "name the old location (checked against the venv's files)",
          ),
    )
    .command('reinit [path]', "Re-point the venv's interpreter at this machine's python3.X", (y) =>
      pathArg(y)
        .option('python', {
          type: 'string',
          describe: 'The interpreter to use (default: the first python3.X on PATH)',
        })
        .option('force', {
          type: 'boolean',
          default: false,
          describe: 'Allow a different minor version',
        })
        .option('dry-run', {
          type: 'boolean',
          default: false,
          describe: 'Print the plan (links and pyvenv.cfg keys) and change nothing',
        })
        .option('diff', diffOpt)
        .option('json', jsonOpt)
        .example('venv-tools reinit ./venv', 'use the first python3.X on PATH')
        .example('venv-tools reinit ./venv --dry-run --diff', 'show the pyvenv.cfg changes')
        .example(
          'venv-tools reinit ./venv --python /usr/bin/python3.11',
          "use Debian's python3.11",
        ),
    )
    .command(
      'scan [path]',
      'Show the layout, the old location and every file that names it (or what unpack would do with an archive)',
      (y) =>
        pathArg(y)
          .option('json', jsonOpt)
          .example('venv-tools scan ./venv', 'what a relocation of ./venv would rewrite')
          .example('venv-tools scan ./venv --json | jq .counts', 'files by kind, for a script'),
    )
    .command(
      'verify [path]',
      'Check that the venv works where it stands (or that an archive is whole); exit 1 with the problems and their fix',
      (y) =>
        pathArg(y)
          .option('json', jsonOpt)
          .option('relocatable', {
            type: 'boolean',
            default: false,
            describe:
              'Also fail while anything pins the venv to its path (see make-relocatable), naming each file',
          })
          .example('venv-tools verify /srv/app/abc/venv', 'after unpacking: does it work here?')
          .example(
            'venv-tools verify ./venv --relocatable',
            'does it keep working after a plain mv or cp -a?',
          )
          .example(
            'venv-tools verify ./venv || venv-tools relocate ./venv --to "$PWD/venv"',
            'relocate only when needed',
          ),
    )
    .command(
      'pack <venv>',
      'Stream the venv into a tar, tar.gz or tar.zst archive, with a manifest; --to relocates it in the stream',
      (y) =>
        y
          .positional('venv', { type: 'string', describe: 'The venv to pack' })
          .option('output', {
            alias: 'o',
            type: 'string',
            demandOption: true,
            describe: 'The archive to write; its extension picks the format',
          })
          .option('to', {
            type: 'string',
            describe:
              'Archive the venv as relocated for this path (absolute): the server then needs only tar -x',
          })
          .option('format', {
            type: 'string',
            choices: ['tar', 'tar.gz', 'tar.zst'],
            describe: 'The format, whatever the extension says',
          })
          .option('drop-unreadable-pycs', dropPycsOpt)
          .option('json', jsonOpt)
          .example('venv-tools pack ./venv -o app.tar.zst', 'archive the venv')
          .example(
            'venv-tools pack ./venv -o app.tar.zst --to /srv/app/3f9c2e1/venv',
            'archive it already relocated for its final place',
          ),
    )
    .command(
      'unpack <archive> <dest>',
      'Check every member, extract beside DEST, relocate for DEST, then rename: DEST appears whole or not at all',
      (y) =>
        y
          .positional('archive', { type: 'string', describe: 'A tar, tar.gz or tar.zst archive' })
          .positional('dest', { type: 'string', describe: 'Where the venv (or app tree) goes' })
          .option('force', {
            type: 'boolean',
            default: false,
            describe: 'Replace DEST if it exists, once the new tree is complete',
          })
          .option('reinitialize', {
            type: 'boolean',
            default: false,
            describe: "Also re-point each venv's interpreter at this machine's python3.X",
          })
          .option('python', {
            type: 'string',
            describe: 'With --reinitialize: the interpreter to use',
          })
          .option('drop-unreadable-pycs', dropPycsOpt)
          .option('json', jsonOpt)
          .example('venv-tools unpack app.tar.zst /srv/app/3f9c2e1/venv', 'extract and relocate')
          .example(
            'venv-tools unpack app.tar.gz /srv/app/3f9c2e1/venv --reinitialize',
            "and use this server's python3.X",
          ),
    )
    .command(
      'make-relocatable [path]',
      'Rewrite the venv so that it keeps working after a plain mv, cp -a, tar or docker COPY',
      (y) =>
        pathArg(y)
          .option('dry-run', {
            type: 'boolean',
            default: false,
            describe: 'Print what would change and what cannot be made relative; change nothing',
          })
          .option('diff', diffOpt)
          .option('json', jsonOpt)
          .example('venv-tools make-relocatable ./venv', 'then mv, cp -a or tar it anywhere')
          .example(
            'venv-tools make-relocatable ./venv --dry-run --diff',
            'show the new script headers and activate lines',
          ),
    )
    .completion('completion', 'Print a shell completion script (bash, zsh): see docs/JSON.md')
    .demandCommand(1, 'Name a command, or use --update-path (see --help)')
    .example('venv-tools relocate ./venv --to /srv/app/abc/venv', 'relocate')
    .example('venv-tools scan ./venv', 'see what holds the old location')
    .example('venv-tools verify ./venv', 'check the venv where it stands')
    .example(
      'venv-tools pack ./venv -o app.tar.zst',
      'archive it; venv-tools unpack extracts and relocates',
    )
    .example('venv-tools make-relocatable ./venv', 'make it work wherever it is moved')
    .example('venv-tools --update-path auto ./venv', 'virtualenv-tools style')
    .example('venv-tools completion >> ~/.bashrc', 'tab completion in bash (zsh: ~/.zshrc)');
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

/** Parse argv (without node and script) into a request with yargs, or throw UsageError. */
export function parseCliWithYargs(argv: readonly string[]): CliRequest {
  // The completion script calls `venv-tools --get-yargs-completions venv-tools WORDS…`; the
  // words may hold --update-path, but the answer always comes from the command parser.
  if (argv[0] === '--get-yargs-completions') {
    const { output } = run(commandParser(argv), argv);
    return { mode: 'output', text: output };
  }
  if (isCompatArgv(argv)) {
    const { args, output } = run(compatParser(argv), argv);
    if (output !== '') return { mode: 'output', text: output };
    const path = onePath(args._.length > 0 ? args._ : [args.path ?? '.'], 'venv-tools');
    const updatePath = last(args.updatePath);
    const reinitialize = args.reinitialize === true;
    if (
      argv.some((a) => a === '--update-path' || a.startsWith('--update-path=')) &&
      (updatePath === undefined || updatePath === '')
    ) {
      throw new UsageError('--update-path needs a value: NEW or auto');
    }
    return {
      mode: 'compat',
      path,
      updatePath,
      reinitialize,
      python: last(args.python),
      verbose: args.verbose === true,
      strict: args.strict === true,
      dropUnreadablePycs: args.dropUnreadablePycs === true,
    };
  }
  const { args, output } = run(commandParser(argv), argv);
  if (output !== '') return { mode: 'output', text: output };
  const [cmd] = args._;
  const path = typeof args.path === 'string' ? args.path : '.';
  const rest = args._.slice(1);
  if (rest.length > 0) throw new UsageError(`unexpected argument: ${rest.join(' ')}`);
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
      };
    case 'scan':
      return { mode: 'scan', path, json: args.json === true };
    case 'verify':
      return {
        mode: 'verify',
        path,
        json: args.json === true,
        relocatable: args.relocatable === true,
      };
    case 'make-relocatable':
      return {
        mode: 'make-relocatable',
        path,
        dryRun: args.dryRun === true,
        diff: args.diff === true,
        json: args.json === true,
      };
    default:
      throw new UsageError(`unknown command: ${String(cmd)} (see venv-tools --help)`);
  }
}

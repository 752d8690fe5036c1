import test from 'ava';
import { parseCli } from '../../src/cli/parse-cli.js';
import { UsageError } from '../../src/cli/cli-request.js';

const compat = (over: Record<string, unknown>) => ({
  mode: 'compat',
  path: '.',
  updatePath: undefined,
  reinitialize: false,
  python: undefined,
  verbose: false,
  strict: false,
  json: false,
  quiet: false,
  progress: true,
  dropUnreadablePycs: false,
  ...over,
});

/** --quiet and --no-progress, unset. */
const OUT = { quiet: false, progress: true };

const table: Array<[string[], Record<string, unknown>]> = [
  [['--update-path', '/srv/x'], compat({ updatePath: '/srv/x' })],
  [['--update-path=/srv/x', './venv'], compat({ updatePath: '/srv/x', path: './venv' })],
  [['./venv', '--update-path=/srv/x'], compat({ updatePath: '/srv/x', path: './venv' })],
  [
    ['./venv', '--update-path', '/srv/x', '--verbose'],
    compat({ updatePath: '/srv/x', path: './venv', verbose: true }),
  ],
  [
    ['--update-path', 'auto', '--verbose', 'v'],
    compat({ updatePath: 'auto', path: 'v', verbose: true }),
  ],
  [['--update-path', 'rel/path', 'v'], compat({ updatePath: 'rel/path', path: 'v' })],
  // A positional named like a command is the venv PATH in compatible mode.
  [['--update-path', '/srv/x', 'relocate'], compat({ updatePath: '/srv/x', path: 'relocate' })],
  [['scan', '--update-path', '/srv/x'], compat({ updatePath: '/srv/x', path: 'scan' })],
  [['--update-path', '/srv/x', '123'], compat({ updatePath: '/srv/x', path: '123' })],
  [['--reinitialize'], compat({ reinitialize: true })],
  [
    ['--reinitialize', '--python', '/usr/bin/python3.11', 'v'],
    compat({ reinitialize: true, python: '/usr/bin/python3.11', path: 'v' }),
  ],
  [
    ['--reinitialize', '--update-path', '/a', '/a'],
    compat({ reinitialize: true, updatePath: '/a', path: '/a' }),
  ],
  [
    ['relocate', './venv', '--to', '/srv/a/venv'],
    {
      mode: 'relocate',
      ...OUT,
      path: './venv',
      to: '/srv/a/venv',
      from: undefined,
      forceFrom: false,
      maps: [],
      dryRun: false,
      diff: false,
      json: false,
      verbose: false,
      strict: false,
      dropUnreadablePycs: false,
    },
  ],
  [
    [
      'relocate',
      '--to=/srv/a',
      '--from',
      '/b',
      '--map',
      '/x=/y',
      '--map=/p=/q',
      '--dry-run',
      '--json',
    ],
    {
      mode: 'relocate',
      ...OUT,
      path: '.',
      to: '/srv/a',
      from: '/b',
      forceFrom: false,
      maps: [
        { from: '/x', to: '/y' },
        { from: '/p', to: '/q' },
      ],
      dryRun: true,
      diff: false,
      json: true,
      verbose: false,
      strict: false,
      dropUnreadablePycs: false,
    },
  ],
  [
    ['relocate', 'v', '--to', '/srv/a', '--dry-run', '--diff'],
    {
      mode: 'relocate',
      ...OUT,
      path: 'v',
      to: '/srv/a',
      from: undefined,
      forceFrom: false,
      maps: [],
      dryRun: true,
      diff: true,
      json: false,
      verbose: false,
      strict: false,
      dropUnreadablePycs: false,
    },
  ],
  [
    ['reinit', 'v', '--dry-run', '--diff', '--json', '--python', 'python3.11'],
    {
      mode: 'reinit',
      ...OUT,
      path: 'v',
      python: 'python3.11',
      force: false,
      dryRun: true,
      diff: true,
      json: true,
    },
  ],
  [
    ['relocate', 'v', '--to', '/srv/a', '--from', '/b', '--force-from', '--strict', '--json'],
    {
      mode: 'relocate',
      ...OUT,
      path: 'v',
      to: '/srv/a',
      from: '/b',
      forceFrom: true,
      maps: [],
      dryRun: false,
      diff: false,
      json: true,
      verbose: false,
      strict: true,
      dropUnreadablePycs: false,
    },
  ],
  [
    ['--update-path', '/srv/x', '--strict', './venv'],
    compat({ updatePath: '/srv/x', path: './venv', strict: true }),
  ],
  [
    ['./venv', '--strict', '--update-path=/srv/x'],
    compat({ updatePath: '/srv/x', path: './venv', strict: true }),
  ],
  [
    ['--update-path', 'auto', '--drop-unreadable-pycs', './venv'],
    compat({ updatePath: 'auto', path: './venv', dropUnreadablePycs: true }),
  ],
  [
    ['relocate', 'v', '--to', '/srv/a', '--drop-unreadable-pycs'],
    {
      mode: 'relocate',
      ...OUT,
      path: 'v',
      to: '/srv/a',
      from: undefined,
      forceFrom: false,
      maps: [],
      dryRun: false,
      diff: false,
      json: false,
      verbose: false,
      strict: false,
      dropUnreadablePycs: true,
    },
  ],
  [['scan'], { mode: 'scan', path: '.', json: false, verbose: false, ...OUT }],
  [['scan', './venv'], { mode: 'scan', path: './venv', json: false, verbose: false, ...OUT }],
  [
    ['scan', '--json', '/srv/a/venv'],
    { mode: 'scan', path: '/srv/a/venv', json: true, verbose: false, ...OUT },
  ],
  [['scan', 'v', '--verbose'], { mode: 'scan', path: 'v', json: false, verbose: true, ...OUT }],
  [['verify'], { mode: 'verify', path: '.', json: false, relocatable: false, ...OUT }],
  [
    ['verify', 'v', '--json'],
    { mode: 'verify', path: 'v', json: true, relocatable: false, ...OUT },
  ],
  [
    ['verify', 'v', '--relocatable'],
    { mode: 'verify', path: 'v', json: false, relocatable: true, ...OUT },
  ],
  [
    ['make-relocatable'],
    { mode: 'make-relocatable', path: '.', dryRun: false, diff: false, json: false, ...OUT },
  ],
  [
    ['make-relocatable', './venv', '--dry-run', '--diff', '--json'],
    { mode: 'make-relocatable', path: './venv', dryRun: true, diff: true, json: true, ...OUT },
  ],
  [
    ['--update-path', '/srv/x', 'make-relocatable'],
    compat({ updatePath: '/srv/x', path: 'make-relocatable' }),
  ],
  // A PATH named like a command is a PATH after the command.
  [['verify', 'scan'], { mode: 'verify', path: 'scan', json: false, relocatable: false, ...OUT }],
  [['--update-path', '/srv/x', 'verify'], compat({ updatePath: '/srv/x', path: 'verify' })],
  // --to auto is read as written; the command resolves it as --update-path auto.
  [
    ['relocate', 'v', '--to', 'auto'],
    {
      mode: 'relocate',
      ...OUT,
      path: 'v',
      to: 'auto',
      from: undefined,
      forceFrom: false,
      maps: [],
      dryRun: false,
      diff: false,
      json: false,
      verbose: false,
      strict: false,
      dropUnreadablePycs: false,
    },
  ],
  // --json, --quiet and --no-progress: on every command, the virtualenv-tools form included.
  [
    ['--update-path', 'auto', 'v', '--json', '--quiet', '--no-progress'],
    compat({ updatePath: 'auto', path: 'v', json: true, quiet: true, progress: false }),
  ],
  [['--reinitialize', '--json', 'v'], compat({ reinitialize: true, path: 'v', json: true })],
  [
    ['scan', '--quiet', '--no-progress'],
    { mode: 'scan', path: '.', json: false, verbose: false, quiet: true, progress: false },
  ],
  [
    ['verify', '--quiet'],
    { mode: 'verify', path: '.', json: false, relocatable: false, quiet: true, progress: true },
  ],
];

for (const [argv, expected] of table) {
  test(`parses ${argv.join(' ')}`, async (t) => {
    t.deepEqual((await parseCli(argv)) as unknown, expected);
  });
}

const usageErrors: string[][] = [
  [],
  ['frobnicate'],
  ['relocate', './venv'],
  ['relocate', 'a', 'b', '--to', '/x'],
  ['relocate', '--to', '/x', '--bogus'],
  ['relocate', '--to', '/x', '--map', 'noequals'],
  ['--update-path'],
  ['--update-path', '/x', 'a', 'b'],
  ['--update-path', '/x', '--bogus'],
  ['scan', 'a', 'b'],
  ['scan', '--to', '/x'],
  ['scan', '--dry-run'],
  ['verify', 'a', 'b'],
  ['verify', '--diff'],
  ['verify', '--bogus'],
  ['make-relocatable', 'a', 'b'],
  ['make-relocatable', '--to', '/x'],
  ['reinit', '--to', '/x'],
  ['scan', '--force-from'],
  ['--update-path', '/x', '--force-from'],
  ['reinit', '--strict'],
];

for (const argv of usageErrors) {
  test(`refuses ${JSON.stringify(argv)} as a usage error`, async (t) => {
    await t.throwsAsync(parseCli(argv), { instanceOf: UsageError });
  });
}

test('--help returns the help text with examples', async (t) => {
  const r = await parseCli(['--help']);
  t.is(r.mode, 'output');
  if (r.mode === 'output') {
    t.regex(r.text, /relocate \[path\]/);
    t.regex(r.text, /venv-tools relocate \.\/venv --to \/srv\/app\/abc\/venv/);
  }
  const c = await parseCli(['relocate', '--help']);
  t.is(c.mode, 'output');
  if (c.mode === 'output') t.regex(c.text, /--dry-run/);
});

test('scan, verify and make-relocatable --help name their options and show examples', async (t) => {
  for (const cmd of ['scan', 'verify', 'make-relocatable']) {
    const r = await parseCli([cmd, '--help']);
    t.is(r.mode, 'output');
    if (r.mode !== 'output') continue;
    t.regex(r.text, new RegExp(`^usage: venv-tools ${cmd} \\[PATH\\]`));
    t.regex(r.text, /--json/);
    t.regex(r.text, /Examples:/);
    t.regex(r.text, new RegExp(`venv-tools ${cmd} \\./venv`));
  }
  const top = await parseCli(['--help']);
  if (top.mode === 'output') {
    for (const cmd of ['relocate', 'reinit', 'scan', 'verify', 'make-relocatable', 'completion'])
      t.regex(top.text, new RegExp(`venv-tools ${cmd}`));
  }
});

test('completion prints a script, and answers completion queries with commands and options', async (t) => {
  const script = await parseCli(['completion']);
  t.like(script, { mode: 'output' });
  if (script.mode === 'output') t.regex(script.text, /--get-yargs-completions/);
  const ask = async (...words: string[]) => {
    const r = await parseCli(['--get-yargs-completions', 'venv-tools', ...words]);
    return r.mode === 'output' ? r.text.split('\n').filter((l) => l !== '') : [];
  };
  t.deepEqual(await ask(''), [
    'relocate',
    'reinit',
    'scan',
    'verify',
    'pack',
    'unpack',
    'make-relocatable',
    'completion',
  ]);
  t.true((await ask('verify', '--')).includes('--relocatable'));
  t.true((await ask('make-relocatable', '--')).includes('--dry-run'));
  t.true((await ask('relocate', '--')).includes('--diff'));
  t.true((await ask('reinit', '--')).includes('--diff'));
  // --version is the top level's alone.
  t.deepEqual(await ask('scan', '--'), [
    '--help',
    '--json',
    '--verbose',
    '--quiet',
    '--no-progress',
  ]);
  t.true((await ask('--')).includes('--version'));
  // Even a line that holds --update-path is answered, never run.
  t.like(await parseCli(['--get-yargs-completions', 'venv-tools', '--update-path', '/x', '']), {
    mode: 'output',
  });
});

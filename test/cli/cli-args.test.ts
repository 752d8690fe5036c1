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
  dropUnreadablePycs: false,
  ...over,
});

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
  [['scan'], { mode: 'scan', path: '.', json: false }],
  [['scan', './venv'], { mode: 'scan', path: './venv', json: false }],
  [['scan', '--json', '/srv/a/venv'], { mode: 'scan', path: '/srv/a/venv', json: true }],
  [['verify'], { mode: 'verify', path: '.', json: false, relocatable: false }],
  [['verify', 'v', '--json'], { mode: 'verify', path: 'v', json: true, relocatable: false }],
  [['verify', 'v', '--relocatable'], { mode: 'verify', path: 'v', json: false, relocatable: true }],
  [
    ['make-relocatable'],
    { mode: 'make-relocatable', path: '.', dryRun: false, diff: false, json: false },
  ],
  [
    ['make-relocatable', './venv', '--dry-run', '--diff', '--json'],
    { mode: 'make-relocatable', path: './venv', dryRun: true, diff: true, json: true },
  ],
  [
    ['--update-path', '/srv/x', 'make-relocatable'],
    compat({ updatePath: '/srv/x', path: 'make-relocatable' }),
  ],
  // A PATH named like a command is a PATH after the command.
  [['verify', 'scan'], { mode: 'verify', path: 'scan', json: false, relocatable: false }],
  [['--update-path', '/srv/x', 'verify'], compat({ updatePath: '/srv/x', path: 'verify' })],
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
    t.regex(r.text, new RegExp(`venv-tools ${cmd} \\[path\\]`));
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
  t.deepEqual(await ask('scan', '--'), ['--help', '--version', '--json']);
  // Even a line that holds --update-path is answered, never run.
  t.like(await parseCli(['--get-yargs-completions', 'venv-tools', '--update-path', '/x', '']), {
    mode: 'output',
  });
});

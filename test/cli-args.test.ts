import test from 'ava';
import { parseCli, UsageError } from '../src/cli-args.js';

const compat = (over: Record<string, unknown>) => ({
  mode: 'compat',
  path: '.',
  updatePath: undefined,
  reinitialize: false,
  python: undefined,
  verbose: false,
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
      maps: [],
      dryRun: false,
      json: false,
      verbose: false,
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
      maps: [
        { from: '/x', to: '/y' },
        { from: '/p', to: '/q' },
      ],
      dryRun: true,
      json: true,
      verbose: false,
    },
  ],
];

for (const [argv, expected] of table) {
  test(`parses ${argv.join(' ')}`, (t) => {
    t.deepEqual(parseCli(argv) as unknown, expected);
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
];

for (const argv of usageErrors) {
  test(`refuses ${JSON.stringify(argv)} as a usage error`, (t) => {
    t.throws(() => parseCli(argv), { instanceOf: UsageError });
  });
}

test('--help returns the help text with examples', (t) => {
  const r = parseCli(['--help']);
  t.is(r.mode, 'output');
  if (r.mode === 'output') {
    t.regex(r.text, /relocate \[path\]/);
    t.regex(r.text, /venv-tools relocate \.\/venv --to \/srv\/app\/abc\/venv/);
  }
  const c = parseCli(['relocate', '--help']);
  t.is(c.mode, 'output');
  if (c.mode === 'output') t.regex(c.text, /--dry-run/);
});

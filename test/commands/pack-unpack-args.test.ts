import test from 'ava';
import { UsageError } from '../../src/cli/cli-request.js';
import { parseCli } from '../../src/cli/parse-cli.js';

// pack and unpack on the command line, apart from what they do: argv -> request.

const table: Array<[string[], Record<string, unknown>]> = [
  [
    ['pack', './venv', '-o', 'app.tar.zst'],
    {
      mode: 'pack',
      path: './venv',
      output: 'app.tar.zst',
      to: undefined,
      format: undefined,
      dropUnreadablePycs: false,
      json: false,
      quiet: false,
      progress: true,
    },
  ],
  [
    [
      'pack',
      'v',
      '--output',
      'a.bin',
      '--format',
      'tar.gz',
      '--to',
      '/srv/app/1/venv',
      '--drop-unreadable-pycs',
      '--json',
    ],
    {
      mode: 'pack',
      path: 'v',
      output: 'a.bin',
      to: '/srv/app/1/venv',
      format: 'tar.gz',
      dropUnreadablePycs: true,
      json: true,
      quiet: false,
      progress: true,
    },
  ],
  [
    ['unpack', 'app.tar.zst', '/srv/app/1/venv'],
    {
      mode: 'unpack',
      archive: 'app.tar.zst',
      dest: '/srv/app/1/venv',
      force: false,
      reinitialize: false,
      python: undefined,
      dropUnreadablePycs: false,
      json: false,
      quiet: false,
      progress: true,
    },
  ],
  // --reinitialize is unpack's own flag here, not virtualenv-tools' compatible mode.
  [
    [
      'unpack',
      'a.tgz',
      'd',
      '--reinitialize',
      '--python',
      '/usr/bin/python3.11',
      '--force',
      '--drop-unreadable-pycs',
    ],
    {
      mode: 'unpack',
      archive: 'a.tgz',
      dest: 'd',
      force: true,
      reinitialize: true,
      python: '/usr/bin/python3.11',
      dropUnreadablePycs: true,
      json: false,
      quiet: false,
      progress: true,
    },
  ],
];

for (const [argv, expected] of table) {
  test(`parses ${argv.join(' ')}`, async (t) => {
    t.deepEqual((await parseCli(argv)) as unknown, expected);
  });
}

const usageErrors: string[][] = [
  ['pack', './venv'],
  ['pack', '-o', 'a.tar'],
  ['pack', 'v', '-o', 'a.tar', '--format', 'zip'],
  ['unpack', 'a.tar'],
  ['unpack', 'a.tar', 'd', 'e'],
  ['unpack', 'a.tar', 'd', '--to', '/x'],
  ['pack', 'v', '-x', 'a.tar'],
  ['unpack', '-o', 'a.tar', 'd'],
];

for (const argv of usageErrors) {
  test(`refuses ${JSON.stringify(argv)} as a usage error`, async (t) => {
    await t.throwsAsync(parseCli(argv), { instanceOf: UsageError });
  });
}

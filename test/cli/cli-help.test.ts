import test from 'ava';
import { COMMANDS } from '../../src/cli/check-argv.js';
import { parseCli } from '../../src/cli/parse-cli.js';
import { cli } from '../helpers/cli.js';

// The help of every command, at 80 and 120 columns: snapshots (test/cli/snapshots/), and the
// rules that the snapshots alone would not hold a change to: the first line is argparse's
// `usage: venv-tools` (virtualenv-tools' test_help reads it), a line never passes the width
// unless it is one whole example command, and an example command is never broken.

/** Each help: the top level, the virtualenv-tools form, and every command. */
const HELPS: ReadonlyArray<readonly string[]> = [
  ['--help'],
  ['--update-path', 'x', '--help'],
  ...COMMANDS.map((c) => [c, '--help']),
];

async function help(argv: readonly string[], columns: number): Promise<string> {
  const r = await parseCli(argv, { columns });
  if (r.mode !== 'output') throw new Error(`${argv.join(' ')} gave no help`);
  return r.text;
}

/** The example commands of a help text: the lines of its Examples section that start a command. */
function examples(text: string): string[] {
  const section = text.slice(text.indexOf('\nExamples:\n'));
  return [...section.matchAll(/^ {2}(venv-tools .*?)(?: {2,}.*)?$/gm)].map((m) => m[1] as string);
}

for (const columns of [80, 120]) {
  for (const argv of HELPS) {
    test(`${argv.join(' ')} at ${columns} columns`, async (t) => {
      const text = await help(argv, columns);
      t.snapshot(text);
      const lines = text.split('\n');
      t.regex(lines[0] ?? '', /^usage: venv-tools /);
      const whole = examples(text);
      t.true(whole.length > 0, 'it has examples');
      for (const line of lines) {
        if (line.length <= columns) continue;
        t.true(
          whole.some((e) => line === `  ${e}`),
          `only a whole example command passes the width: ${line}`,
        );
      }
      // Every example is a command of ours, whole: it ends with a word, not a broken flag.
      for (const e of whole) t.notRegex(e, /(^| )-$/);
      if (argv[0] !== '--help') t.notRegex(text, /--version/, '--version is the top level alone');
    });
  }
}

test('at 80 columns an example too long to sit beside its explanation has it on the next line', async (t) => {
  const text = await help(['--update-path', 'x', '--help'], 80);
  t.regex(
    text,
    /^ {2}venv-tools --update-path \/srv\/app\/3f9c2e1\/venv \/srv\/app\/3f9c2e1\/venv --strict\n {6}and exit 1 if its interpreter is missing here$/m,
  );
  // At 120 it fits beside.
  const wide = await help(['--update-path', 'x', '--help'], 120);
  t.regex(wide, /^ {2}venv-tools --update-path \S+ \S+ --strict {2,}and exit 1 /m);
});

test('the top-level help names the flags virtualenv-tools users arrive with', async (t) => {
  const text = await help(['--help'], 80);
  for (const flag of ['--update-path', '--reinitialize', '--verbose', '--version'])
    t.regex(text, new RegExp(`^ +${flag}\\b`, 'm'), flag);
});

test('completion --help prints help, and completion the script', async (t) => {
  const text = await help(['completion', '--help'], 80);
  t.regex(text, /^usage: venv-tools completion\n/);
  t.notRegex(text, /get-yargs-completions/);
  t.regex((await help(['completion'], 80)) ?? '', /--get-yargs-completions/);
});

test('--help and -h anywhere print the help of the command they are in, exit 0, on stdout', (t) => {
  for (const argv of [['-h'], ['relocate', '-h'], ['scan', '--bogus', '--help']]) {
    const r = cli(argv);
    t.is(r.status, 0, r.stderr);
    t.regex(r.stdout, /^usage: venv-tools /);
    t.is(r.stderr, '');
  }
  t.regex(cli(['relocate', '-h']).stdout, /^usage: venv-tools relocate /);
});

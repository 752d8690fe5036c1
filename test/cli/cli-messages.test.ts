import test, { type ExecutionContext } from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { COMMANDS } from '../../src/cli/check-argv.js';
import { cli, cliArgv, diffSnapshots, snapshotTree } from '../helpers/cli.js';
import { findPythons, type Python } from '../helpers/pythons.js';
import { moveApp, smallVenv } from '../helpers/small-venv.js';
import { haveScript, runInTty } from '../helpers/tty.js';

// What a person sees when the command line is wrong, or a run is stopped: the table of argv →
// exit code, stdout and stderr that issue 21 asked for. Each row spawns the built CLI, with
// stdout and stderr on pipes (so the virtualenv-tools form's errors go to both).

const found = findPythons().at(-1);
if (found === undefined) throw new Error('no CPython 3 found on this machine');
const python: Python = found;

/** The folders the rows name: {venv} a moved venv, {parent} the folder above one, and so on. */
interface Places {
  readonly venv: string;
  readonly parent: string;
  readonly missing: string;
  readonly file: string;
  readonly inside: string;
}

/** The files and links below `root` (a folder's mtime moves when a lock comes and goes). */
function contents(root: string): Map<string, string> {
  return new Map([...snapshotTree(root)].filter(([, v]) => !v.startsWith('dir ')));
}

function places(label: string): Places {
  const v = moveApp(smallVenv(python, label));
  const file = path.join(v.top, 'a-file');
  fs.writeFileSync(file, 'not a venv\n');
  return {
    venv: v.venv,
    parent: path.dirname(v.venv),
    missing: path.join(v.top, 'no-such-venv'),
    file,
    inside: path.join(v.venv, 'bin'),
  };
}

interface Row {
  readonly argv: readonly string[];
  readonly status: number;
  /** The whole of stdout, or a pattern it matches; '' when nothing goes there. */
  readonly stdout: string | RegExp;
  /** A pattern stderr matches. */
  readonly stderr: RegExp;
  readonly env?: NodeJS.ProcessEnv;
}

/** `{venv}` and the like in a word, replaced by the place. */
function fill(word: string, p: Places): string {
  return word.replace(/\{(\w+)\}/g, (_m, k: string) => p[k as keyof Places]);
}

const USAGE_TAIL = /\nRun venv-tools --help for usage\.\n$/;

/** A usage error (exit 2): nothing on stdout, `venv-tools: MESSAGE` and the pointer to --help. */
const usage = (argv: string[], message: string): Row => ({
  argv,
  status: 2,
  stdout: '',
  stderr: new RegExp(`^venv-tools: ${esc(message)}${USAGE_TAIL.source}`),
});

function esc(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const ROWS: Row[] = [
  // Unknown options: as typed, a near miss named, the command that has it named.
  usage(['--bogus'], 'unknown option --bogus'),
  usage(['-v'], 'unknown option -v; did you mean --version or --verbose?'),
  usage(
    ['--update-path', '/x', '-v'],
    'unknown option -v for the --update-path form; did you mean --verbose?',
  ),
  usage(['--Update-Path', '/x'], 'unknown option --Update-Path; did you mean --update-path?'),
  usage(['--update_path', '/x'], 'unknown option --update_path; did you mean --update-path?'),
  usage(
    ['relocate', '--to', '/x', '--dryrun'],
    'unknown option --dryrun for relocate; did you mean --dry-run?',
  ),
  usage(['scan', '--verbos'], 'unknown option --verbos for scan; did you mean --verbose?'),
  usage(
    ['--update-path', '/x', '--dry-run'],
    '--dry-run is not an option of the --update-path form; it exists only for relocate, reinit and make-relocatable',
  ),
  usage(
    ['scan', '--dry-run'],
    '--dry-run is not an option of scan; it exists only for relocate, reinit and make-relocatable',
  ),
  usage(
    ['scan', '--force-from'],
    '--force-from is not an option of scan; it exists only for relocate',
  ),
  usage(
    ['verify', '--diff'],
    '--diff is not an option of verify; it exists only for relocate, reinit and make-relocatable',
  ),
  usage(
    ['reinit', '--strict'],
    '--strict is not an option of reinit; it exists only for the --update-path form and relocate',
  ),
  usage(
    ['--verbose', 'v'],
    '--verbose is not an option without a command; it exists only for the --update-path form, relocate and scan',
  ),
  // --version works anywhere (only the top level's help lists it).
  { argv: ['scan', '--version'], status: 0, stdout: /^\d+\.\d+\.\d+/, stderr: /^$/ },
  { argv: ['--version'], status: 0, stdout: /^\d+\.\d+\.\d+/, stderr: /^$/ },
  // Unknown commands list the commands.
  usage(
    ['frobnicate'],
    `unknown command frobnicate: the commands are ${COMMANDS.slice(0, -1).join(', ')} and ${COMMANDS.at(-1) ?? ''}, or use venv-tools --update-path NEW|auto [PATH] (virtualenv-tools style)`,
  ),
  {
    ...usage(['verfy'], 'unknown command verfy: did you mean verify? the commands are'),
    stderr: /^venv-tools: unknown command verfy: did you mean verify\? the commands are relocate, /,
  },
  usage(['scan', '--drop-unreadable-pyc'], 'unknown option --drop-unreadable-pyc for scan'),
  usage(
    ['verify', '--drop-unreadable-pycs'],
    '--drop-unreadable-pycs is not an option of verify; it exists only for the --update-path form, relocate, pack and unpack',
  ),
  usage(
    ['relocate', '--to', '/x', '--drop-unreadable-pyc'],
    'unknown option --drop-unreadable-pyc for relocate; did you mean --drop-unreadable-pycs?',
  ),
  // pack and unpack: their words, values and choices.
  usage(
    ['pack', './venv'],
    'pack needs -o ARCHIVE: the archive to write (its extension picks the format)',
  ),
  usage(['pack', '-o', 'a.tar'], 'venv-tools pack needs VENV (the venv to pack)'),
  usage(['pack', 'v', '-o'], '-o needs a value: ARCHIVE (its extension picks the format)'),
  usage(['pack', 'v', '-o', 'a.tar', '--to'], '--to needs a value: FINAL (absolute)'),
  usage(
    ['pack', 'v', '-o', 'a.tar', '--format', 'zip'],
    '--format takes tar, tar.gz or tar.zst, got: zip',
  ),
  usage(
    ['pack', 'v', '--ouptut', 'a.tar'],
    'unknown option --ouptut for pack; did you mean --output?',
  ),
  usage(['unpack', 'a.tar'], 'venv-tools unpack needs ARCHIVE and DEST, got 1: a.tar'),
  usage(
    ['unpack', 'a.tar', 'd', 'e'],
    'venv-tools unpack takes ARCHIVE and DEST, got 3: a.tar d e',
  ),
  usage(
    ['unpack', 'a.tar', 'd', '--to', '/x'],
    '--to is not an option of unpack; it exists only for relocate and pack',
  ),
  usage(['unpack', '-o', 'a.tar', 'd'], '-o is not an option of unpack; it exists only for pack'),
  usage(['unpack', '-x', 'a.tar', 'd'], 'unknown option -x for unpack'),
  // PATHs and values.
  usage(['scan', 'a', 'b'], 'venv-tools scan takes one venv PATH, got 2: a b'),
  usage(['--update-path', '/x', 'a', 'b'], 'venv-tools takes one venv PATH, got 2: a b'),
  usage(
    ['relocate', '{venv}'],
    'relocate needs --to NEW: where the venv will live (absolute), or auto for where it stands',
  ),
  usage(['relocate', '{venv}', '--to'], '--to needs a value: NEW (absolute) or auto'),
  usage(['relocate', '{venv}', '--to', '--dry-run'], '--to needs a value: NEW (absolute) or auto'),
  usage(['--update-path'], '--update-path needs a value: NEW (absolute) or auto'),
  usage(
    ['--update-path', 'auto', '--reinitialize', '--json'],
    '--json prints one document: run --reinitialize and --update-path one at a time with it',
  ),
  // A bare call prints argparse's usage first (virtualenv-tools' test_help reads `usage: `).
  {
    argv: [],
    status: 2,
    stdout: '',
    stderr:
      /^usage: venv-tools <command> \[PATH\] \[options\]\n {7}venv-tools --update-path NEW\|auto \[--verbose\] \[PATH\]\n {7}venv-tools --reinitialize \[--python EXE\] \[PATH\]\nvenv-tools: name a command, or use --update-path NEW\|auto \[PATH\] \(virtualenv-tools style\)\nRun venv-tools --help for usage\.\n$/,
  },
  // Bad paths: virtualenv-tools' message, then the plain words on a line of their own.
  {
    argv: ['scan', '{missing}'],
    status: 1,
    stdout: '',
    stderr:
      /^venv-tools: (\S+) is not a virtualenv: not a directory: \1\nhint: \1 does not exist\n$/,
  },
  {
    // (scan and verify read a file as an archive)
    argv: ['relocate', '{file}', '--to', '/srv/app/x'],
    status: 1,
    stdout: '',
    stderr:
      /^venv-tools: .* is not a virtualenv: not a directory: .*\nhint: \S+ is a file, not a folder: name the venv's folder\n$/,
  },
  {
    argv: ['scan', '{parent}'],
    status: 1,
    stdout: '',
    stderr:
      /^venv-tools: (\S+) is not a virtualenv: not a directory: \1\/bin\nhint: \1 is not a venv itself; the venv below it is \1\/venv\n$/,
  },
  {
    argv: ['verify', '{inside}'],
    status: 1,
    stdout: '',
    stderr:
      /^venv-tools: (\S+)\/bin is not a virtualenv: not a directory: \1\/bin\/bin\nhint: \1\/bin is inside the venv \1: name the venv's own folder\n$/,
  },
  {
    argv: ['scan', ''],
    status: 1,
    stdout: '',
    stderr:
      /^venv-tools: the venv's path is empty \(''\)\nhint: name the venv's folder; '\.' is the current one\n$/,
  },
  // The virtualenv-tools form: its messages on stdout word for word, and (stdout being a pipe
  // here) on stderr too, with the hint.
  {
    argv: ['--update-path', '/srv/x', '{parent}'],
    status: 1,
    stdout: /^(\S+) is not a virtualenv: not a directory: \1\/bin\n$/,
    stderr:
      /^venv-tools: (\S+) is not a virtualenv: not a directory: \1\/bin\nhint: \1 is not a venv itself; the venv below it is \1\/venv\n$/,
  },
  {
    argv: ['--update-path', '/srv/x', ''],
    status: 1,
    stdout: "the venv's path is empty ('')\n",
    stderr: /^venv-tools: the venv's path is empty \(''\)\nhint: /,
  },
  {
    argv: ['--update-path', 'srv/app/b2', '{venv}'],
    status: 1,
    stdout: '--update-path must be absolute: srv/app/b2\n',
    stderr:
      /^venv-tools: --update-path must be absolute: srv\/app\/b2\nhint: use the absolute form, --update-path \/\S+\/srv\/app\/b2, or --update-path auto for where the venv stands \(\S+\/venv\)\n$/,
  },
  // relocate --to names --to, and takes auto.
  {
    argv: ['relocate', '{venv}', '--to', 'srv/app/b2'],
    status: 1,
    stdout: '',
    stderr:
      /^venv-tools: --to must be absolute: srv\/app\/b2\nhint: use the absolute form, --to \/\S+, or --to auto for where the venv stands \(\S+\)\n$/,
  },
  {
    argv: ['relocate', '{venv}', '--to', 'auto', '--dry-run'],
    status: 0,
    stdout: /^Would relocate \S+: \S+\/build\/app\/venv -> \S+\/srv\/app\/r1\/venv\n/,
    stderr: /^(warning: .*\n)*$/,
  },
  // --json on the virtualenv-tools form: one document, the error one on failure.
  {
    argv: ['--update-path', '/srv/x', '{missing}', '--json'],
    status: 1,
    stdout:
      /^\{\n {2}"command": "relocate",[^]*"code": "NOT_A_VENV"[^]*"hint": "\S+ does not exist"\n {2}\}\n\}\n$/,
    stderr:
      /^venv-tools: \S+ is not a virtualenv: not a directory: \S+\nhint: \S+ does not exist\n$/,
  },
  // Ctrl-C or SIGTERM before the commit point: nothing changed, the lock let go, 130 or 143.
  {
    argv: ['relocate', '{venv}', '--to', 'auto'],
    env: { VENV_TOOLS_FAULTS: 'openSync:SIGINT:bin/tool:0:1' },
    status: 130,
    stdout: '',
    stderr: /^venv-tools: interrupted \(SIGINT\), nothing changed\n$/,
  },
  {
    argv: ['--update-path', 'auto', '{venv}'],
    env: { VENV_TOOLS_FAULTS: 'openSync:SIGTERM:bin/tool:0:1' },
    status: 143,
    stdout: '',
    stderr: /^venv-tools: interrupted \(SIGTERM\), nothing changed\n$/,
  },
];

for (const row of ROWS) {
  const title = `${JSON.stringify(row.argv)}${row.env === undefined ? '' : ` with ${JSON.stringify(row.env)}`} exits ${row.status} with its message`;
  test(title, (t) => {
    const p = places('msg');
    const before = contents(path.dirname(p.parent));
    const r = cli(
      row.argv.map((w) => fill(w, p)),
      {
        cwd: path.dirname(path.dirname(p.parent)),
        ...(row.env === undefined ? {} : { env: row.env }),
      },
    );
    t.is(r.status, row.status, `${r.stdout}${r.stderr}`);
    if (typeof row.stdout === 'string') t.is(r.stdout, row.stdout);
    else t.regex(r.stdout, row.stdout);
    t.regex(r.stderr, row.stderr);
    // No row but the dry run's and the help's changes anything; an interrupted run least of all.
    t.deepEqual(diffSnapshots(before, contents(path.dirname(p.parent))), []);
  });
}

test('SIGTERM after the commit point: the relocation is finished, and the exit says it was stopped', (t) => {
  const p = places('msg-after');
  const r = cli(['relocate', p.venv, '--to', 'auto'], {
    env: { VENV_TOOLS_FAULTS: 'writeSync:SIGTERM:bin/tool:0:1' },
  });
  t.is(r.status, 143, r.stderr);
  t.regex(r.stdout, /^Relocated /);
  t.regex(
    r.stderr,
    /^venv-tools: interrupted \(SIGTERM\) after the commit point: the relocation was finished first\n$/,
  );
  t.deepEqual(
    fs.readdirSync(p.venv).filter((n) => n.startsWith('.venv-tools')),
    [],
    'no lock, no journal',
  );
  t.regex(cli(['verify', p.venv]).stdout, /^ {2}ok {4}foreign-paths/m);
});

test('on a terminal, the virtualenv-tools form prints its error once (stdout), then the hint', (t) => {
  if (!haveScript()) return t.fail('util-linux script(1) is needed to give the CLI a terminal');
  const p = places('msg-tty');
  const r = runInTty(cliArgv(['--update-path', '/srv/x', p.missing]), {
    ...process.env,
    NO_COLOR: '1',
  });
  t.is(r.status, 1, r.output);
  t.is(
    r.output.split(`is not a virtualenv: not a directory: ${p.missing}`).length - 1,
    1,
    r.output,
  );
  t.regex(r.output, /^hint: \S+ does not exist\r?$/m);
});

/**
 * A successful run of every command on the moved venv of `p`, in an order that works (relocated
 * first, so that it verifies; packed before it is unpacked), for --quiet and --json. A command
 * with no run here fails the tests that use it.
 */
function commandRuns(p: Places, exe: string): Array<readonly [string, string[]]> {
  const archive = path.join(path.dirname(p.parent), 'app.tar');
  return [
    ['compat', ['--update-path', 'auto', p.venv]],
    ['relocate', ['relocate', p.venv, '--to', 'auto']],
    ['reinit', ['reinit', p.venv, '--python', exe]],
    ['scan', ['scan', p.venv]],
    ['verify', ['verify', p.venv]],
    ['pack', ['pack', p.venv, '-o', archive]],
    ['scan', ['scan', archive]],
    ['verify', ['verify', archive]],
    ['unpack', ['unpack', archive, path.join(path.dirname(p.parent), 'unpacked')]],
    ['make-relocatable', ['make-relocatable', p.venv, '--dry-run']],
  ];
}

/** Every command but completion has a run in commandRuns. */
function coversEveryCommand(t: ExecutionContext, runs: ReturnType<typeof commandRuns>): void {
  const named = new Set(runs.map(([name]) => name));
  for (const c of COMMANDS) if (c !== 'completion') t.true(named.has(c), `a run of ${c}`);
}

test('--quiet prints nothing on success, on every command and the virtualenv-tools form', (t) => {
  const p = places('msg-quiet');
  const runs = commandRuns(p, python.exe);
  coversEveryCommand(t, runs);
  for (const [name, argv] of runs) {
    const r = cli([...argv, '--quiet']);
    t.is(r.status, 0, `${name}: ${r.stdout}${r.stderr}`);
    t.is(r.stdout, '', name);
    t.is(r.stderr.replace(/^warning: .*\n/gm, ''), '', name);
  }
  // A failure still says what failed.
  const failed = cli(['verify', p.parent, '--quiet']);
  t.is(failed.status, 1);
  t.regex(failed.stderr, /is not a virtualenv/);
});

test('--json gives one JSON document on every command and on the virtualenv-tools form, whose default output it leaves alone', (t) => {
  const p = places('msg-json');
  const runs = commandRuns(p, python.exe);
  coversEveryCommand(t, runs);
  for (const [name, argv] of runs) {
    const r = cli([...argv, '--json']);
    t.is(r.status, 0, `${name}: ${r.stderr}`);
    const doc = JSON.parse(r.stdout) as { command: string };
    t.is(doc.command, name === 'compat' ? 'relocate' : name);
  }
  const reinit = JSON.parse(cli(['--reinitialize', p.venv, '--json']).stdout) as {
    command: string;
  };
  t.is(reinit.command, 'reinit');
  // Without --json, the peer's line.
  t.is(
    cli(['--update-path', 'auto', p.venv]).stdout,
    `Already up-to-date: ${p.venv} (${p.venv})\n`,
  );
});

test('--reinitialize prints its report on stdout, like the reinit command', (t) => {
  const p = places('msg-reinit');
  const r = cli(['--reinitialize', p.venv, '--python', python.exe]);
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /^(Reinitialized|Already up-to-date:) /m);
  t.notRegex(r.stderr, /Reinitialized|Already up-to-date/);
});

import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createProgress, renderBar } from '../../src/core/progress.js';
import { unifiedDiff } from '../../src/report/format-diff.js';
import { cli, cliArgv, cliScript, diffSnapshots, snapshotTree } from '../helpers/cli.js';
import { findPythons, type Python } from '../helpers/pythons.js';
import { needing, type Missing } from '../helpers/require-tool.js';
import { freshDir } from '../helpers/scratch.js';
import { moveApp, smallVenv } from '../helpers/small-venv.js';
import { haveScript, runInTty } from '../helpers/tty.js';

// What the CLI prints and where: colour and the progress bar only on a terminal, plain text
// when piped, --dry-run plans by kind, --diff as a patch(1)-ready unified diff, the summary line,
// help with examples on every command, shell completion, and each command's exit codes.

const pythons = findPythons();
const found = pythons.at(-1);
if (found === undefined) throw new Error('no CPython 3 found on this machine');
const python: Python = found;

const ESC = '\x1b';

/** Run the CLI with exactly `env` added to ours minus NO_COLOR (cli() sets NO_COLOR=1). */
function plain(args: readonly string[], env: NodeJS.ProcessEnv = {}) {
  const base = { ...process.env };
  delete base.NO_COLOR;
  const [file, ...argv] = cliArgv(args);
  const r = spawnSync(file, argv, {
    env: { ...base, ...env },
    encoding: 'utf8',
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Our environment for a run on a terminal: NO_COLOR and CI only when `extra` sets them. */
function ttyEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, TERM: 'xterm' };
  delete env.NO_COLOR;
  delete env.CI;
  return { ...env, ...extra };
}

// ---------------------------------------------------------------------------------------------
// Colour

test('no ANSI escape codes reach a pipe, from any command, even with FORCE_COLOR set', (t) => {
  const v = moveApp(smallVenv(python, 'out-pipe'));
  const env = { FORCE_COLOR: '3', VENV_TOOLS_PROGRESS_DELAY_MS: '0' };
  const runs = [
    ['scan', v.venv],
    ['verify', v.venv],
    ['relocate', v.venv, '--to', v.venv, '--dry-run', '--diff'],
    ['reinit', v.venv, '--dry-run', '--diff', '--python', python.exe],
    ['--help'],
    ['relocate', v.venv, '--to', v.venv],
    ['verify', v.venv],
    ['--update-path', v.venv, v.venv],
    ['frobnicate'],
  ];
  for (const args of runs) {
    const r = plain(args, env);
    t.false(r.stdout.includes(ESC), `stdout of ${args.join(' ')}: ${JSON.stringify(r.stdout)}`);
    t.false(r.stderr.includes(ESC), `stderr of ${args.join(' ')}: ${JSON.stringify(r.stderr)}`);
    t.false(r.stderr.includes('\r'), `no progress bar on a piped stderr: ${args.join(' ')}`);
  }
});

test('on a terminal the output is coloured, and NO_COLOR turns the colour off', (t) => {
  if (!haveScript()) return t.fail('util-linux script(1) is needed to give the CLI a terminal');
  const v = moveApp(smallVenv(python, 'out-tty'));
  // No bar in these runs: its delay is set far beyond any run's length.
  const quiet = { VENV_TOOLS_PROGRESS_DELAY_MS: '3600000' };
  const coloured = runInTty(cliArgv(['verify', v.venv]), ttyEnv(quiet));
  t.is(coloured.status, 1, coloured.output);
  t.true(coloured.output.includes(`${ESC}[31mFAIL${ESC}[39m`), JSON.stringify(coloured.output));
  t.true(coloured.output.includes(`${ESC}[32mok  ${ESC}[39m`));
  const off = runInTty(cliArgv(['verify', v.venv]), ttyEnv({ ...quiet, NO_COLOR: '1' }));
  t.is(off.status, 1);
  t.false(off.output.includes(ESC), JSON.stringify(off.output));
  t.regex(off.output, /FAIL {2}foreign-paths/);
});

// ---------------------------------------------------------------------------------------------
// Progress

test('the progress bar is drawn on a terminal and erased at the end, and never on a pipe', (t) => {
  if (!haveScript()) return t.fail('util-linux script(1) is needed to give the CLI a terminal');
  const v = moveApp(smallVenv(python, 'out-progress'));
  // Delay 0: the test cannot count on a run lasting the usual half second.
  const env = ttyEnv({ VENV_TOOLS_PROGRESS_DELAY_MS: '0' });
  const bar = /\r\x1b\[Kverify record \[[=> ]+\] \d+\/\d+/;
  const verify = runInTty(cliArgv(['verify', v.venv]), env, 80);
  t.regex(verify.output, bar);
  // --no-progress, --quiet, NO_COLOR and CI each turn it off.
  for (const [args, extra] of [
    [['--no-progress'], {}],
    [['--quiet'], {}],
    [[], { NO_COLOR: '1' }],
    [[], { CI: 'true' }],
  ] as const) {
    const off = runInTty(cliArgv(['verify', v.venv, ...args]), { ...env, ...extra }, 80);
    t.is(off.status, 1, off.output);
    t.notRegex(off.output, /\x1b\[K/, `${args.join(' ')} ${JSON.stringify(extra)}`);
  }
  const reloc = runInTty(cliArgv(['relocate', v.venv, '--to', v.venv]), env, 80);
  t.is(reloc.status, 0, reloc.output);
  t.regex(reloc.output, /\r\x1b\[Krelocate apply \[[=> ]+\] \d+\/\d+/);
  // Erased before the report: the report's first line starts right after an erase.
  t.regex(reloc.output, /\r\x1b\[K(\x1b\[\d+m)?Relocated(\x1b\[\d+m)? /);
  const bars = [...reloc.output.matchAll(/\x1b\[K(relocate [^\r\n]*)/g)].map((m) => m[1] as string);
  t.true(bars.length > 0);
  for (const bar of bars) t.true(bar.length < 80, `never as wide as the terminal: ${bar}`);

  const v2 = moveApp(smallVenv(python, 'out-progress-pipe'));
  for (const args of [
    ['verify', v2.venv],
    ['relocate', v2.venv, '--to', v2.venv],
    ['--update-path', v2.venv, v2.venv],
  ]) {
    const r = plain(args, { VENV_TOOLS_PROGRESS_DELAY_MS: '0' });
    t.is(r.stderr.includes('\r') || r.stderr.includes(ESC), false, `${args[0]}: ${r.stderr}`);
  }
});

test('the bar waits for its delay, redraws at most once per interval, and erases only what it drew', (t) => {
  let now = 0;
  const written: string[] = [];
  const p = createProgress({
    label: 'verify',
    write: (s) => written.push(s),
    columns: () => 60,
    now: () => now,
  });
  p.update('record', 1, 10);
  now = 499;
  p.update('record', 2, 10);
  t.deepEqual(written, [], 'nothing in the first half second');
  p.finish();
  t.deepEqual(written, [], 'nothing to erase');
  now = 500;
  p.update('record', 3, 10);
  now = 550;
  p.update('record', 4, 10);
  t.is(written.length, 1, 'one draw per 100 ms');
  p.update('apply', 1, 10);
  t.is(written.length, 2, 'a new phase is drawn at once');
  p.update('apply', 10, 10);
  t.is(written.length, 3, 'the last step is always drawn');
  t.is(written[0], `\r\x1b[K${renderBar('verify', 'record', 3, 10, 60)}`);
  p.finish();
  t.is(written.at(-1), '\r\x1b[K');
});

test('the bar text fits the terminal, fills in proportion, and shrinks to counts when narrow', (t) => {
  t.is(
    renderBar('verify', 'record', 5, 10, 80),
    `verify record [${'='.repeat(20)}>${' '.repeat(19)}] 5/10`,
  );
  t.is(renderBar('verify', 'record', 10, 10, 80), `verify record [${'='.repeat(40)}] 10/10`);
  t.is(renderBar('verify', 'record', 0, 10, 80), `verify record [>${' '.repeat(39)}] 0/10`);
  for (const cols of [20, 30, 45, 80, 200]) {
    t.true(renderBar('relocate', 'apply', 3, 7, cols).length < cols, `${cols} columns`);
  }
  t.is(renderBar('relocate', 'apply', 3, 7, 20), 'relocate apply 3/7');
});

// ---------------------------------------------------------------------------------------------
// --dry-run, --diff and the summary line

test('--dry-run prints the plan file by file, grouped by kind, and changes no byte', (t) => {
  const v = moveApp(smallVenv(python, 'out-dry'));
  const before = snapshotTree(v.venv);
  const r = cli(['relocate', v.venv, '--to', v.venv, '--dry-run']);
  t.is(r.status, 0, r.stderr);
  t.deepEqual(diffSnapshots(before, snapshotTree(v.venv)), []);
  const old = path.join(v.top, 'build', 'app', 'venv');
  t.is(r.stdout.split('\n')[0], `Would relocate ${v.venv}: ${old} -> ${v.venv}`);
  // Kinds are named as --json names them.
  t.regex(r.stdout, /^ {2}shebang \(1\)\n {4}S bin\/tool$/m);
  t.regex(r.stdout, new RegExp(`^  pth \\(1\\)\\n    P ${v.site}/app\\.pth$`, 'm'));
  t.regex(
    r.stdout,
    new RegExp(`^  record \\(1\\)\\n    R ${v.site}/demo-1\\.0\\.dist-info/RECORD$`, 'm'),
  );
  t.regex(r.stdout, /^ {2}activate \(\d\)$/m);
  t.regex(
    r.stdout,
    /^ {2}\d+ files scanned \([\d.]+ MB\), would rewrite \d+: 1 shebang, \d activate, 1 pyvenv-cfg, 1 pth, 1 record; 0 warnings; [\d.]+ s$/m,
  );
});

test('the summary line of a relocation gives files scanned, files rewritten by kind, warnings and time', (t) => {
  const v = moveApp(smallVenv(python, 'out-summary'));
  const r = cli(['relocate', v.venv, '--to', v.venv]);
  t.is(r.status, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  t.regex(lines[0] as string, /^Relocated /);
  t.regex(
    lines.at(-1) as string,
    /^ {2}\d+ files scanned \([\d.]+ MB\), rewrote \d+: 1 shebang, \d activate, 1 pyvenv-cfg, 1 pth, 1 record; 0 warnings; \d+\.\d\d s$/,
  );
});

test('--diff prints a unified diff that patch(1) applies to give what the relocation writes', (t) => {
  const v = moveApp(smallVenv(python, 'out-diff'));
  const twin = path.join(v.top, 'twin');
  t.is(spawnSync('cp', ['-a', v.venv, twin]).status, 0);
  const r = cli(['relocate', v.venv, '--to', v.venv, '--dry-run', '--diff']);
  t.is(r.status, 0, r.stderr);
  const old = path.join(v.top, 'build', 'app', 'venv');
  t.regex(r.stdout, /^--- a\/bin\/tool\n\+\+\+ b\/bin\/tool\n@@ -1,3 \+1,3 @@$/m);
  t.true(r.stdout.includes(`\n-#!${old}/bin/python -E\n+#!${v.venv}/bin/python -E\n`));
  t.regex(r.stdout, /^\d+ files scanned|^ {2}\d+ files scanned/m);
  // The diff, between the plan and the summary line, applied to the twin with patch -p1.
  const diff = r.stdout
    .split('\n')
    .slice(r.stdout.split('\n').findIndex((l) => l.startsWith('--- a/')))
    .filter((l) => !/^ {2}\d+ files scanned/.test(l))
    .join('\n');
  const p = spawnSync('patch', ['-p1', '-s', '-d', twin], { input: diff, encoding: 'utf8' });
  t.is(p.status, 0, p.stdout + p.stderr);
  const json = JSON.parse(cli(['relocate', v.venv, '--to', v.venv, '--json']).stdout) as {
    changes: Array<{ path: string; kind: string }>;
  };
  const text = json.changes.filter((c) => c.kind !== 'pyc' && c.kind !== 'symlink');
  t.true(text.length >= 5);
  for (const c of text) {
    t.deepEqual(
      fs.readFileSync(path.join(twin, c.path)),
      fs.readFileSync(path.join(v.venv, c.path)),
      c.path,
    );
  }
});

test('unifiedDiff output applies with patch(1) and is no longer than GNU diff -d', (t) => {
  // Deterministic pseudo-random texts (a linear congruential generator), some without a final newline.
  let seed = 12345;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const dir = freshDir('diff-fuzz');
  const text = () =>
    Array.from({ length: rnd(25) }, () => 'abcde'[rnd(5)]).join('\n') + (rnd(3) > 0 ? '\n' : '');
  let cases = 0;
  for (let i = 0; i < 300; i++) {
    const a = text();
    const b = text();
    const d = unifiedDiff('a/f', 'b/f', a, b);
    if (a === b) {
      t.deepEqual(d, []);
      continue;
    }
    cases++;
    fs.writeFileSync(path.join(dir, 'f'), a);
    fs.writeFileSync(path.join(dir, 'g'), b);
    const out = path.join(dir, 'out');
    const p = spawnSync('patch', ['-s', '-o', out, path.join(dir, 'f')], {
      input: `${d.join('\n')}\n`,
      encoding: 'utf8',
    });
    t.is(p.status, 0, p.stderr);
    t.is(fs.readFileSync(out, 'latin1'), b, JSON.stringify({ a, b }));
    const gnu = spawnSync('diff', ['-u', '-d', path.join(dir, 'f'), path.join(dir, 'g')], {
      encoding: 'utf8',
    }).stdout.split('\n');
    const changed = (lines: string[]) =>
      lines.filter((l) => /^[-+]/.test(l) && !/^(---|\+\+\+) /.test(l)).length;
    t.true(changed(d) <= changed(gnu), JSON.stringify({ a, b }));
  }
  t.log(`${cases} differing pairs checked`);
});

// reinit re-points a venv at another interpreter of its minor version: two are needed.
const byMinor = new Map<string, Python[]>();
for (const p of pythons) byMinor.set(p.version, [...(byMinor.get(p.version) ?? []), p]);
const PAIR = [...byMinor.values()].find((ps) => ps.length >= 2) as [Python, Python] | undefined;
const NO_PAIR: Missing = {
  what: "a second CPython of one minor version (pyenv's 3.11 beside Debian's /usr/bin/python3.11)",
  install: 'pyenv install 3.11; apt-get install -y python3.11 python3-venv',
};

const withPair = needing([PAIR === undefined ? NO_PAIR : undefined]);
withPair('reinit --dry-run --diff shows the pyvenv.cfg changes a real run then makes', (t) => {
  if (PAIR === undefined) return t.fail(NO_PAIR.what);
  const [from, to] = PAIR;
  t.log(`venv of ${from.exe}, re-pointed at ${to.exe}`);
  const v = smallVenv(from, 'out-reinit-diff');
  const dry = cli(['reinit', v.venv, '--python', to.exe, '--dry-run', '--diff']);
  t.is(dry.status, 0, dry.stderr);
  const diffOf = (s: string) => s.slice(s.indexOf('--- a/'));
  t.regex(diffOf(dry.stdout), /^--- a\/pyvenv\.cfg\n\+\+\+ b\/pyvenv\.cfg\n@@ /m);
  t.regex(diffOf(dry.stdout), new RegExp(`^\\+home = ${path.dirname(to.exe)}$`, 'm'));
  t.regex(diffOf(dry.stdout), /^\+version = /m);
  const real = cli(['reinit', v.venv, '--python', to.exe, '--diff']);
  t.is(real.status, 0, real.stderr);
  t.is(diffOf(real.stdout), diffOf(dry.stdout));
});

// ---------------------------------------------------------------------------------------------
// Help, completion, exit codes, pipes

test('--help on every command shows its usage and examples', (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['--help'], /venv-tools relocate \.\/venv --to \/srv\/app\/abc\/venv/],
    [['relocate', '--help'], /venv-tools relocate \.\/venv --to \/srv\/app\/abc\/venv/],
    [['reinit', '--help'], /venv-tools reinit \.\/venv/],
    [['scan', '--help'], /venv-tools scan \.\/venv/],
    [['verify', '--help'], /venv-tools verify /],
    [['--update-path', '/x', '--help'], /venv-tools --update-path /],
  ];
  for (const [args, example] of cases) {
    const r = cli(args);
    t.is(r.status, 0, args.join(' '));
    t.regex(r.stdout, /Examples:/, args.join(' '));
    t.regex(r.stdout, example, args.join(' '));
  }
  t.regex(cli(['--help']).stdout, /venv-tools completion/);
});

test('the completion script completes commands and options in bash; zsh gets its own script', (t) => {
  const bin = freshDir('completion');
  fs.writeFileSync(path.join(bin, 'venv-tools'), cliScript(), { mode: 0o755 });
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}`, SHELL: '/bin/bash' };
  const script = spawnSync('venv-tools', ['completion'], { env, encoding: 'utf8' });
  t.is(script.status, 0);
  t.regex(script.stdout, /--get-yargs-completions/);
  const complete = (words: string[]) => {
    const r = spawnSync(
      'bash',
      [
        '-c',
        `source /dev/stdin <<< "$(venv-tools completion)"; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _venv-tools_yargs_completions; printf '%s\\n' "\${COMPREPLY[@]}"`,
      ],
      { env, encoding: 'utf8' },
    );
    return r.stdout.trim().split('\n').sort();
  };
  t.deepEqual(complete(['venv-tools', 've']), ['verify']);
  t.deepEqual(complete(['venv-tools', 'relocate', '--d']), [
    '--diff',
    '--drop-unreadable-pycs',
    '--dry-run',
  ]);
  t.deepEqual(complete(['venv-tools', 'scan', '--j']), ['--json']);
  const zsh = spawnSync('venv-tools', ['completion'], {
    env: { ...env, SHELL: '/bin/zsh' },
    encoding: 'utf8',
  });
  t.regex(zsh.stdout, /compdef/);
});

test('each command exits 0 on success, 1 on failure and 2 on a usage error', (t) => {
  const v = smallVenv(python, 'out-exit');
  const notVenv = freshDir('out-exit-not');
  const table: Array<[string[], number]> = [
    [['scan', v.venv], 0],
    [['scan', notVenv], 1],
    [['scan', v.venv, 'extra'], 2],
    [['scan', '--to', '/x'], 2],
    [['verify', v.venv], 0],
    [['verify', notVenv], 1],
    [['verify', '--bogus'], 2],
    [['relocate', v.venv, '--to', v.venv, '--dry-run'], 0],
    [['relocate', notVenv, '--to', '/srv/x'], 1],
    [['relocate', v.venv], 2],
    [['reinit', v.venv, '--python', python.exe, '--dry-run'], 0],
    [['reinit', notVenv], 1],
    [['reinit', '--bogus'], 2],
    [['frobnicate'], 2],
    [[], 2],
  ];
  for (const [args, status] of table) {
    const r = cli(args);
    t.is(r.status, status, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    // A bare call begins with argparse's usage lines, as virtualenv-tools' does.
    if (status === 2)
      t.regex(
        r.stderr,
        /^(usage: .*\n( {7}.*\n)*)?venv-tools: .*\nRun venv-tools --help for usage\.\n$/,
      );
  }
  // A moved venv fails verify (1) but scans fine (0): scan describes, verify judges.
  const m = moveApp(smallVenv(python, 'out-exit-moved'));
  t.is(cli(['verify', m.venv]).status, 1);
  t.is(cli(['scan', m.venv]).status, 0);
});

test('a reader that closes the pipe early does not make the CLI crash', async (t) => {
  const v = moveApp(smallVenv(python, 'out-epipe'));
  for (const args of [['scan', v.venv], ['verify', v.venv, '--json'], ['--help']]) {
    const [file, ...argv] = cliArgv(args);
    const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    // Close our end before the CLI has written anything: its first write gets EPIPE.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
    t.false(/EPIPE|Unhandled/.test(stderr), stderr);
    t.true(status === 0 || status === 1, `${args.join(' ')} exited ${String(status)}`);
  }
});

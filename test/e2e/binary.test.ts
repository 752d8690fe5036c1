import test from 'ava';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { findPythons } from '../helpers/pythons.js';
import { repoPath } from '../helpers/repo-root.js';
import { freshDir } from '../helpers/scratch.js';
import { moveApp, smallVenv } from '../helpers/small-venv.js';
import { haveScript, runInTty } from '../helpers/tty.js';

// The single executable (scripts/build-binary.mjs, `npm run build:binary`): built here from a copy
// of this machine's node given with --node, then copied alone into an empty folder and run with
// no node on PATH. (.ci/run also runs the end-to-end suites against the released binary.)

const python = findPythons().at(-1);
const BUILD = repoPath('scripts', 'build-binary.mjs');
const VERSION = (
  JSON.parse(fs.readFileSync(repoPath('package.json'), 'utf8')) as { version: string }
).version;

function buildBinary(args: readonly string[]) {
  return spawnSync(process.execPath, [BUILD, '--no-xz', ...args], {
    cwd: repoPath(),
    encoding: 'utf8',
  });
}

/** A copy of this machine's node under a name with a space, as a downloaded one would be. */
function nodeCopy(): string {
  const node = path.join(freshDir('base node'), 'node 20');
  fs.copyFileSync(process.execPath, node);
  fs.chmodSync(node, 0o755);
  return node;
}

// Built once for the tests below; each takes its own copy of the file.
let built: string | undefined;
test.before(() => {
  const out = freshDir('binary-out');
  const r = buildBinary(['--node', nodeCopy(), '--out', out]);
  if (r.status !== 0) throw new Error(`build-binary failed:\n${r.stderr}${r.stdout}`);
  built = path.join(out, `venv-tools-linux-${process.arch}`);
});

/** The binary alone in an empty folder, and an environment whose PATH is an empty folder. */
function alone(label: string): { exe: string; env: NodeJS.ProcessEnv } {
  const dir = freshDir(label);
  const exe = path.join(dir, 'venv-tools');
  fs.copyFileSync(built as string, exe);
  fs.chmodSync(exe, 0o755);
  const env: NodeJS.ProcessEnv = { PATH: freshDir('empty-path'), HOME: dir, NO_COLOR: '1' };
  return { exe, env };
}

test('built on a given node, the binary is one file named for its platform, and prints the version', (t) => {
  const { exe, env } = alone('version');
  t.is(path.basename(built as string), `venv-tools-linux-${process.arch}`);
  t.is(spawnSync('/bin/sh', ['-c', 'command -v node'], { env }).status, 127, 'no node on PATH');
  const r = spawnSync(exe, ['--version'], { env, encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  t.is(r.stdout.trim(), VERSION);
  // yargs is inside it: help with the commands and examples.
  const help = spawnSync(exe, ['relocate', '--help'], { env, encoding: 'utf8' });
  t.is(help.status, 0, help.stderr);
  t.regex(help.stdout, /Examples:/);
  t.is(help.stderr, '', 'no warning about an experimental feature');
});

test('alone, with no node on PATH, the binary relocates a venv on two threads and verify passes', (t) => {
  if (python === undefined) return t.fail('no CPython 3.6+ on this machine');
  const { exe, env } = alone('relocate');
  const v = moveApp(smallVenv(python, 'binary-venv'));
  const r = spawnSync(exe, ['relocate', v.venv, '--to', v.venv], {
    env: { ...env, VENV_TOOLS_THREADS: '2', VENV_TOOLS_TRACE: '1' },
    encoding: 'utf8',
  });
  t.is(r.status, 0, r.stderr);
  // The planning thread started from the binary's own asset (there is no plan-worker.js beside
  // it), and applied part of the journal.
  for (const step of ['worker loaded', 'worker starts', 'apply totals']) {
    t.regex(r.stderr, new RegExp(`^trace W [\\d.]+ ${step}`, 'm'), step);
  }
  t.deepEqual(fs.readdirSync(path.dirname(exe)), ['venv-tools']);
  const verify = spawnSync(exe, ['verify', v.venv], { env, encoding: 'utf8' });
  t.is(verify.status, 0, verify.stdout + verify.stderr);
  const tool = spawnSync(path.join(v.venv, 'bin', 'tool'), [], { env, encoding: 'utf8' });
  t.is(tool.stdout.trim(), `tool runs in ${v.venv}`);
});

test('on a terminal the binary colours its report (chalk is inside it)', (t) => {
  if (python === undefined) return t.fail('no CPython 3.6+ on this machine');
  if (!haveScript()) return t.fail('util-linux script(1) is needed to give the CLI a terminal');
  const { exe, env } = alone('tty');
  const v = moveApp(smallVenv(python, 'binary-tty'));
  // script(1) and stty come from the usual PATH; the binary itself is named by its path.
  const r = runInTty([exe, 'verify', v.venv], {
    HOME: env['HOME'],
    PATH: process.env.PATH,
    TERM: 'xterm',
    VENV_TOOLS_PROGRESS_DELAY_MS: '3600000',
  });
  t.is(r.status, 1, r.output);
  t.true(r.output.includes('\x1b[31mFAIL\x1b[39m'), JSON.stringify(r.output));
});

test('build-binary refuses what is not a plain node it can run, naming the way out', (t) => {
  const notNode = buildBinary(['--node', '/bin/sh']);
  t.is(notNode.status, 1);
  t.regex(notNode.stderr, /cannot carry a single executable application \(no SEA fuse in it\)/);
  const twice = buildBinary(['--node', built as string]);
  t.is(twice.status, 1);
  t.regex(twice.stderr, /already carries an application: give a plain node binary/);
  // A node for arm64 (here: this one, its ELF header saying so) cannot make its blob here.
  const arm = nodeCopy();
  const fd = fs.openSync(arm, 'r+');
  fs.writeSync(fd, Buffer.from([process.arch === 'arm64' ? 0x3e : 0xb7, 0]), 0, 2, 18);
  fs.closeSync(fd);
  const other = process.arch === 'arm64' ? 'linux-x64' : 'linux-arm64';
  const cross = buildBinary(['--node', arm]);
  t.is(cross.status, 1);
  t.true(cross.stderr.includes(`(a ${other} node) on this machine`), cross.stderr);
  t.regex(cross.stderr, /build on linux-\w+, or let qemu-user run/);
});

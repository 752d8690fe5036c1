/**
 * Run a command on a pseudo-terminal, for what the CLI does only on a TTY (colour, progress).
 * util-linux `script` gives the child a pty for stdin, stdout and stderr and copies everything
 * it writes to our stdout, so the capture holds both streams, with the pty's \r\n line ends.
 */
import { spawnSync } from 'node:child_process';
import { commandLine } from '../../src/verify/fix-command.js';

/** What the command wrote to its terminal, and its exit status (script -e passes it on). */
export interface TtyResult {
  readonly status: number | null;
  readonly output: string;
}

/** True when util-linux `script` is here to make a pty. */
export function haveScript(): boolean {
  return spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
}

/** Run argv with stdin, stdout and stderr on one pty of `columns` columns. */
export function runInTty(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  columns = 100,
): TtyResult {
  // `stty cols` first: a fresh pty is 0 columns wide, which the bar would have to guess around.
  const cmd = `stty cols ${columns} 2>/dev/null; exec ${commandLine(argv)}`;
  const r = spawnSync('script', ['-qfec', cmd, '/dev/null'], {
    env: { ...env, SHELL: '/bin/sh' },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 << 20,
  });
  if (r.error) throw r.error;
  return { status: r.status, output: r.stdout };
}

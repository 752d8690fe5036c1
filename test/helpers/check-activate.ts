/**
 * Sources a venv's activate scripts in every shell the suite expects and reads back exactly
 * what they exported. The script is sourced as `./activate` from inside bin/, and the result
 * is read with `env -0`, so the venv's path never passes through any shell's quoting: a path
 * with spaces, quotes, `$` or non-ASCII bytes is compared byte for byte.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  findTool,
  missingTool,
  STRICT,
  strictMessage,
  type Missing,
  type Tool,
} from './require-tool.js';
import { cleanEnv, describeFailure, run, type RunResult } from './run.js';

interface Shell {
  readonly name: Tool;
  readonly script: string;
  readonly args: readonly string[];
}

// Each shell starts without its startup files, so no user config can set PATH or VIRTUAL_ENV.
const SHELLS: readonly Shell[] = [
  {
    name: 'bash',
    script: 'activate',
    args: ['--noprofile', '--norc', '-c', '. ./activate && exec env -0'],
  },
  { name: 'dash', script: 'activate', args: ['-c', '. ./activate && exec env -0'] },
  { name: 'zsh', script: 'activate', args: ['-f', '-c', '. ./activate && exec env -0'] },
  {
    name: 'fish',
    script: 'activate.fish',
    args: ['--no-config', '-c', 'source ./activate.fish; and exec env -0'],
  },
  // activate.csh reads $prompt, which a non-interactive tcsh leaves unset ("prompt: Undefined
  // variable"), so give it the one an interactive shell would have.
  {
    name: 'tcsh',
    script: 'activate.csh',
    args: ['-f', '-c', 'set prompt = "> "; source ./activate.csh && exec env -0'],
  },
];

/** The outcome of `checkActivate`: problems, and which shells ran or could not. */
export interface ActivateReport {
  readonly problems: string[];
  readonly ran: string[];
  readonly skipped: string[];
}

/** Parse `env -0` output into raw values. */
function parseEnv0(out: Buffer): Map<string, Buffer> {
  const vars = new Map<string, Buffer>();
  let start = 0;
  while (start < out.length) {
    let end = out.indexOf(0, start);
    if (end === -1) end = out.length;
    const entry = out.subarray(start, end);
    const eq = entry.indexOf(0x3d);
    if (eq > 0) vars.set(entry.subarray(0, eq).toString('latin1'), entry.subarray(eq + 1));
    start = end + 1;
  }
  return vars;
}

function show(b: Buffer | undefined): string {
  return b === undefined ? 'unset' : JSON.stringify(b.toString('utf8'));
}

interface Sourced {
  readonly shell: Shell;
  readonly result?: RunResult;
  /** Why it did not run: "fish (not installed)", "tcsh (no activate.csh)". */
  readonly skipped?: string;
  readonly missing?: Missing;
}

/** Source the shell's script from inside `bin`, where there is one and the shell is installed. */
async function sourceIn(shell: Shell, bin: string): Promise<Sourced> {
  if (!fs.existsSync(path.join(bin, shell.script)))
    return { shell, skipped: `${shell.name} (no ${shell.script})` };
  const exe = findTool(shell.name);
  const missing = missingTool(shell.name);
  if (exe === undefined)
    return { shell, skipped: `${shell.name} (not installed)`, ...(missing ? { missing } : {}) };
  const result = await run(exe, shell.args, { cwd: bin, env: cleanEnv(), timeoutMs: 60_000 });
  return { shell, result };
}

/**
 * In each shell that has an activate script in `venvDir/bin`, sourcing it must set VIRTUAL_ENV
 * to exactly `venvDir` and put `venvDir/bin` first on PATH. A shell that is not installed is
 * skipped, and named in `skipped`; under VENV_TOOLS_TEST_STRICT=1 it is a problem.
 */
export async function checkActivate(venvDir: string): Promise<ActivateReport> {
  const bin = path.join(venvDir, 'bin');
  const want = Buffer.from(venvDir, 'utf8');
  const wantBin = Buffer.from(path.join(venvDir, 'bin'), 'utf8');
  const report: ActivateReport = { problems: [], ran: [], skipped: [] };
  if (!fs.existsSync(path.join(bin, 'activate')))
    report.problems.push('activate: bin/activate is missing');
  const results = await Promise.all(SHELLS.map((shell) => sourceIn(shell, bin)));
  for (const { shell, result, skipped, missing } of results) {
    if (result === undefined) {
      if (STRICT && missing !== undefined) {
        report.problems.push(
          `activate (${shell.name}, bin/${shell.script}): ${strictMessage([missing])}`,
        );
      } else {
        report.skipped.push(skipped ?? shell.name);
      }
      continue;
    }
    report.ran.push(shell.name);
    const where = `activate (${shell.name}, bin/${shell.script})`;
    if (result.error !== undefined || result.status !== 0) {
      report.problems.push(`${where}: sourcing it failed: ${describeFailure(result)}`);
      continue;
    }
    const env = parseEnv0(result.stdout);
    const got = env.get('VIRTUAL_ENV');
    if (got === undefined || !got.equals(want)) {
      report.problems.push(`${where}: VIRTUAL_ENV is ${show(got)} instead of ${show(want)}`);
    }
    // Compared as a prefix followed by ":" or the end, not split at ":", because the venv's
    // own path may hold a colon.
    const pathVar = env.get('PATH') ?? Buffer.alloc(0);
    const next = pathVar[wantBin.length];
    if (
      !pathVar.subarray(0, wantBin.length).equals(wantBin) ||
      (next !== undefined && next !== 0x3a)
    ) {
      const shown = pathVar.toString('utf8').split(':')[0];
      report.problems.push(
        `${where}: PATH starts with ${JSON.stringify(shown)} instead of ${show(wantBin)}`,
      );
    }
  }
  return report;
}

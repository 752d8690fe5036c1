/**
 * Sources a venv's activate scripts in every shell the suite expects and reads back exactly
 * what they exported. The script is sourced as `./activate` from inside bin/, and the result
 * is read with `env -0`, so the venv's path never passes through any shell's quoting: a path
 * with spaces, quotes, `$` or non-ASCII bytes is compared byte for byte. virtualenv's
 * activate_this.py is run too, by the interpreter bin/python points at.
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
import { cleanEnv, describeFailure, parseEnv0, run, type RunResult } from './run.js';
import { freshDir } from './scratch.js';

interface Shell {
  readonly name: Tool;
  readonly script: string;
  readonly args: readonly string[];
  /** The shell itself expands `$NAME` in each PATH entry, so a literal `$` cannot stay there. */
  readonly pathExpandsVars?: boolean;
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
  // xonsh exports its environment to the commands it runs, as the other shells do. Its $PATH
  // (an EnvPath, xonsh 0.13) expands `$HOME` in an entry whatever the script puts there.
  {
    name: 'xonsh',
    script: 'activate.xsh',
    args: ['--no-rc', '-c', 'source ./activate.xsh; env -0'],
    pathExpandsVars: true,
  },
];

/** The outcome of `checkActivate`: problems, and which shells ran or could not. */
export interface ActivateReport {
  readonly problems: string[];
  readonly ran: string[];
  readonly skipped: string[];
}

function show(b: Buffer | undefined): string {
  return b === undefined ? 'unset' : JSON.stringify(b.toString('utf8'));
}

interface Sourced {
  readonly shell: Shell;
  readonly result?: RunResult;
  /** Why it did not run: "fish (not installed)", "xonsh (no activate.xsh)". */
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
  const result = await run(exe, shell.args, { cwd: bin, env: shellEnv(shell), timeoutMs: 60_000 });
  return { shell, result };
}

let xonshData: string | undefined;

/** xonsh keeps its history and data under $XONSH_DATA_DIR: a scratch folder, not the user's. */
function shellEnv(shell: Shell): NodeJS.ProcessEnv {
  if (shell.name !== 'xonsh') return cleanEnv();
  xonshData ??= freshDir('xonsh-data');
  return cleanEnv({ XONSH_DATA_DIR: xonshData });
}

/**
 * In each shell that has an activate script in `venvDir/bin`, sourcing it must set VIRTUAL_ENV
 * to exactly `venvDir` and put `venvDir/bin` first on PATH; and activate_this.py, where there is
 * one, must set VIRTUAL_ENV, sys.prefix and sys.path. A shell that is not installed is skipped,
 * and named in `skipped`; under VENV_TOOLS_TEST_STRICT=1 it is a problem.
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
    if (shell.pathExpandsVars === true && venvDir.includes('$')) continue;
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
  if (fs.existsSync(path.join(bin, 'activate_this.py'))) {
    report.ran.push('activate_this.py');
    report.problems.push(...(await checkActivateThis(venvDir)));
  } else {
    report.skipped.push('activate_this.py (none)');
  }
  return report;
}

// Run as its docstring says, by an interpreter that is not the venv's own (bin/python resolved:
// the base interpreter, for a venv made with symlinks), then report what it set, hex-encoded so
// that no byte of the path is decoded on the way.
const ACTIVATE_THIS_PY = [
  'import os, sys',
  'f = sys.argv[1]',
  "exec(open(f, encoding='utf-8').read(), {'__file__': f})",
  'h = lambda s: os.fsencode(s).hex()',
  "print('<VE:%s><PREFIX:%s><PATH:%s>' % (h(os.environ['VIRTUAL_ENV']), h(sys.prefix), ','.join(h(p) for p in sys.path)))",
].join('\n');

/** activate_this.py must set VIRTUAL_ENV and sys.prefix to the venv, and put its site-packages on sys.path. */
async function checkActivateThis(venvDir: string): Promise<string[]> {
  const where = 'activate_this.py';
  const bin = path.join(venvDir, 'bin');
  let python: string;
  try {
    python = fs.realpathSync(path.join(bin, 'python'));
  } catch {
    return [`${where}: bin/python does not resolve to an interpreter`];
  }
  const r = await run(python, ['-c', ACTIVATE_THIS_PY, path.join(bin, 'activate_this.py')], {
    env: cleanEnv({ LC_ALL: 'C.UTF-8', PYTHONDONTWRITEBYTECODE: '1' }),
    timeoutMs: 60_000,
  });
  if (r.error !== undefined || r.status !== 0)
    return [`${where}: running it with ${python} ${describeFailure(r)}`];
  const m = /<VE:([0-9a-f]*)><PREFIX:([0-9a-f]*)><PATH:([0-9a-f,]*)>/.exec(r.stdout.toString());
  if (m === null) return [`${where}: printed no report: ${JSON.stringify(r.stdout.toString())}`];
  const [, ve = '', prefix = '', sysPath = ''] = m;
  const want = Buffer.from(venvDir, 'utf8');
  const problems: string[] = [];
  const venv = Buffer.from(ve, 'hex');
  if (!venv.equals(want))
    problems.push(`${where}: VIRTUAL_ENV is ${show(venv)} instead of ${show(want)}`);
  const pre = Buffer.from(prefix, 'hex');
  if (!pre.equals(want))
    problems.push(`${where}: sys.prefix is ${show(pre)} instead of ${show(want)}`);
  // It adds each lib folder by its real path.
  const lib = path.join(venvDir, 'lib');
  const sites = fs
    .readdirSync(lib)
    .map((v) => path.join(lib, v, 'site-packages'))
    .filter((d) => fs.existsSync(d))
    .map((d) => Buffer.from(fs.realpathSync(d), 'utf8'));
  const entries = sysPath.split(',').map((e) => Buffer.from(e, 'hex'));
  for (const site of sites) {
    if (!entries.some((e) => e.equals(site)))
      problems.push(`${where}: sys.path does not hold ${show(site)}`);
  }
  if (sites.length === 0) problems.push(`${where}: the venv has no lib/*/site-packages`);
  return problems;
}

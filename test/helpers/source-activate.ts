/**
 * Sources a venv's activate scripts the way users do, in every shell the machine has, and reads
 * back what they set: VIRTUAL_ENV and PATH after sourcing, and both again after `deactivate`.
 * Values are read with `env -0` into files, so the venv's path never passes through a shell's
 * quoting: spaces, quotes, `$` and non-ASCII are compared byte for byte. The activate script is
 * named by the path given (relative to `cwd`, or absolute), which is what a relocatable one has
 * to find its venv from.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { missingTool, which, type Missing, type Tool } from './require-tool.js';
import { cleanEnv, describeFailure, parseEnv0, run } from './run.js';
import { freshDir } from './scratch.js';

interface Shell {
  readonly name: string;
  /** The activate script it sources, in bin/. */
  readonly script: string;
  readonly exe: string;
  /** argv after the executable; `runner` is a file holding the commands, for tcsh. */
  readonly args: (runner: string) => string[];
  /** tcsh reads its commands from a file: an alias defined by `source` applies to later lines only. */
  readonly runnerText?: string;
}

const SH = '. "$VT_A" && env -0 >"$VT_O1" && deactivate && env -0 >"$VT_O2"';

function shells(): { found: Shell[]; missing: Missing[] } {
  const want: Array<Omit<Shell, 'exe'> & { bin: Tool }> = [
    {
      name: 'bash',
      bin: 'bash',
      script: 'activate',
      args: () => ['--noprofile', '--norc', '-c', SH],
    },
    { name: 'dash', bin: 'dash', script: 'activate', args: () => ['-c', SH] },
    { name: 'busybox sh', bin: 'busybox', script: 'activate', args: () => ['sh', '-c', SH] },
    { name: 'zsh', bin: 'zsh', script: 'activate', args: () => ['-f', '-c', SH] },
    {
      name: 'fish',
      bin: 'fish',
      script: 'activate.fish',
      args: () => [
        '--no-config',
        '-c',
        'source $VT_A; and env -0 >$VT_O1; and deactivate; and env -0 >$VT_O2',
      ],
    },
    {
      name: 'tcsh',
      bin: 'tcsh',
      script: 'activate.csh',
      args: (runner) => ['-f', runner],
      // activate.csh reads $prompt, which a non-interactive tcsh leaves unset.
      runnerText:
        'set prompt = "> "\nsource $VT_A:q\nenv -0 > $VT_O1:q\ndeactivate\nenv -0 > $VT_O2:q\n',
    },
    {
      name: 'xonsh',
      bin: 'xonsh',
      script: 'activate.xsh',
      args: () => [
        '--no-rc',
        '-c',
        'source @($VT_A)\nenv -0 > $VT_O1\ndeactivate\nenv -0 > $VT_O2\n',
      ],
    },
  ];
  const found: Shell[] = [];
  const missing: Missing[] = [];
  for (const s of want) {
    const gone = missingTool(s.bin);
    const exe = which(s.bin);
    if (gone !== undefined || exe === undefined) missing.push(gone ?? { what: s.bin, install: '' });
    else found.push({ ...s, exe });
  }
  return { found, missing };
}

/** What sourcing showed: problems as sentences, and the shells that ran and were missing. */
export interface SourceReport {
  readonly problems: string[];
  readonly ran: string[];
  /** Shells not installed here (a test says so with require-tool.ts' `lacks`). */
  readonly missing: Missing[];
  /** Shells whose activate script this venv does not have. */
  readonly noScript: string[];
}

const show = (b: Buffer | undefined) =>
  b === undefined ? 'unset' : JSON.stringify(b.toString('utf8'));

/**
 * In every installed shell, source `venvDir`'s activate script from each of `cwds`, by a path
 * relative to it: VIRTUAL_ENV must be `venvDir`, PATH must start with its bin/, and deactivate
 * must unset VIRTUAL_ENV and give PATH back.
 */
export async function sourceActivateEverywhere(
  venvDir: string,
  cwds: readonly string[],
): Promise<SourceReport> {
  const { found, missing } = shells();
  const report: SourceReport = { problems: [], ran: [], missing, noScript: [] };
  const outDir = freshDir('source-activate');
  const basePath = '/usr/local/bin:/usr/bin:/bin';
  const wantVenv = Buffer.from(venvDir, 'utf8');
  const wantBin = Buffer.from(`${path.join(venvDir, 'bin')}:`, 'utf8');
  let n = 0;
  await Promise.all(
    found.map(async (sh) => {
      const script = path.join(venvDir, 'bin', sh.script);
      // Not every creator writes every flavor (CPython's venv has no activate.xsh).
      if (!fs.existsSync(script)) {
        report.noScript.push(`${sh.name} (no bin/${sh.script})`);
        return;
      }
      for (const cwd of cwds) {
        const k = n++;
        const o1 = path.join(outDir, `${k}-1`);
        const o2 = path.join(outDir, `${k}-2`);
        const runner = path.join(outDir, `${k}.csh`);
        if (sh.runnerText !== undefined) fs.writeFileSync(runner, sh.runnerText);
        // `. activate` would look for it on PATH (POSIX): a relative name gets its `./`.
        const rel = path.relative(cwd, script).replace(/^(?![./])/, './');
        const where = `${sh.name}, sourced as ${JSON.stringify(rel)} from ${JSON.stringify(cwd)}`;
        const r = await run(sh.exe, sh.args(runner), {
          cwd,
          env: cleanEnv({ PATH: basePath, HOME: outDir, VT_A: rel, VT_O1: o1, VT_O2: o2 }),
          timeoutMs: 60_000,
        });
        if (r.error !== undefined || r.status !== 0 || !fs.existsSync(o2)) {
          report.problems.push(`${where}: failed: ${describeFailure(r)}`);
          continue;
        }
        const during = parseEnv0(fs.readFileSync(o1));
        const after = parseEnv0(fs.readFileSync(o2));
        const got = during.get('VIRTUAL_ENV');
        if (got === undefined || !got.equals(wantVenv))
          report.problems.push(`${where}: VIRTUAL_ENV is ${show(got)}, not ${show(wantVenv)}`);
        const p = during.get('PATH') ?? Buffer.alloc(0);
        if (!p.subarray(0, wantBin.length).equals(wantBin))
          report.problems.push(`${where}: PATH is ${show(p)}, not ${show(wantBin)}…`);
        if (after.has('VIRTUAL_ENV'))
          report.problems.push(
            `${where}: deactivate left VIRTUAL_ENV ${show(after.get('VIRTUAL_ENV'))}`,
          );
        const back = after.get('PATH')?.toString('utf8');
        if (back !== basePath)
          report.problems.push(`${where}: after deactivate PATH is ${JSON.stringify(back)}`);
      }
      report.ran.push(sh.name);
    }),
  );
  report.ran.sort();
  return report;
}

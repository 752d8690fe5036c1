/**
 * Spawn the built CLI and snapshot trees, for the end-to-end tests.
 *
 * The program they run: the bundled dist/bin/venv-tools.js under this Node, or, with
 * VENV_TOOLS_BINARY set, that file (the single executable `npm run build:binary` makes; .ci/run
 * runs the end-to-end tests a second time so, with no node on PATH).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The bundled command (dist/bin/venv-tools.js), whatever VENV_TOOLS_BINARY says. */
export const CLI = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'bin',
  'venv-tools.js',
);

/** VENV_TOOLS_BINARY as an absolute path, checked to be an executable file; undefined unset. */
function binaryFromEnv(): string | undefined {
  const given = process.env['VENV_TOOLS_BINARY'];
  if (given === undefined || given === '') return undefined;
  const abs = path.resolve(given);
  try {
    fs.accessSync(abs, fs.constants.X_OK);
  } catch {
    throw new Error(`VENV_TOOLS_BINARY=${given}: no executable file there`);
  }
  return abs;
}

/** The single executable the tests run instead of the bundled command; undefined by default. */
export const BINARY = binaryFromEnv();

/** The argv that runs `venv-tools ARGS`: the program and its arguments. */
export function cliArgv(args: readonly string[]): [string, ...string[]] {
  return BINARY === undefined ? [process.execPath, CLI, ...args] : [BINARY, ...args];
}

/** A sh script that runs the program with its arguments, for a `venv-tools` put on PATH. */
export function cliScript(): string {
  const words = cliArgv([]).map((w) => `'${w.replaceAll("'", `'\\''`)}'`);
  return `#!/bin/sh\nexec ${words.join(' ')} "$@"\n`;
}

export interface CliResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run `venv-tools ARGS` (see the file comment for which program) and collect its output. */
export function cli(
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): CliResult {
  const [file, ...argv] = cliArgv(args);
  const r = spawnSync(file, argv, {
    cwd: opts.cwd ?? process.cwd(),
    env: { ...process.env, NO_COLOR: '1', ...opts.env },
    encoding: 'utf8',
    maxBuffer: 256 << 20,
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Every entry below `root` with its type, mode, inode, mtime, link target and content hash. */
export function snapshotTree(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const rootBuf = Buffer.from(root);
  const walk = (dir: Buffer) => {
    for (const name of fs.readdirSync(dir, { encoding: 'buffer' })) {
      const p = Buffer.concat([dir, Buffer.from('/'), name]);
      const rel = p.subarray(rootBuf.length + 1).toString('latin1');
      const st = fs.lstatSync(p, { bigint: true });
      let what: string;
      if (st.isSymbolicLink())
        what = `link ${fs.readlinkSync(p, { encoding: 'buffer' }).toString('latin1')}`;
      else if (st.isDirectory()) what = 'dir';
      else if (st.isFile())
        what = `file ${createHash('sha256').update(fs.readFileSync(p)).digest('hex')}`;
      else what = 'other';
      out.set(rel, `${what} mode=${st.mode} ino=${st.ino} mtime=${st.mtimeNs}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(rootBuf);
  return out;
}

/** The entries that differ between two snapshots, for a readable failure. */
export function diffSnapshots(a: Map<string, string>, b: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [k, v] of a) if (b.get(k) !== v) out.push(`${k}: ${v} -> ${b.get(k) ?? 'gone'}`);
  for (const k of b.keys()) if (!a.has(k)) out.push(`${k}: new`);
  return out;
}

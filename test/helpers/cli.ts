/** Spawn the built CLI and snapshot trees, for the end-to-end tests. */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  'bin',
  'venv-tools.js',
);

export interface CliResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run `venv-tools ARGS` (the built dist/bin/venv-tools.js) and collect its output. */
export function cli(
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], {
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

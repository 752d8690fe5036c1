/**
 * Venvs and process control for the reliability suites.
 *
 * - `smallVenv`: a real `python -m venv --without-pip` venv built at OLD, with a file of each
 *   kind the apply step treats differently (in-place write, hard link shared with a file
 *   outside the venv, re-pointed symlink, read-only file, CRLF script, OLD2 look-alike), then
 *   moved away so that OLD no longer exists. Cheap enough to copy for every case.
 * - `startCli`: the built CLI (cli.ts says which program) as a child process the test can
 *   SIGKILL or SIGSTOP.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cliArgv } from './cli.js';
import { findPythons, type Python } from './pythons.js';
import { freshDir } from './scratch.js';

/** The Python the reliability suites build with: 3.11 when there is one (as cli.test.ts), else the newest. */
export function reliabilityPython(): Python {
  const all = findPythons();
  const p = all.find((x) => x.version === '3.11') ?? all.at(-1);
  if (p === undefined) throw new Error('no CPython 3.6+ on this machine');
  return p;
}

/** A small venv template and where its copies go. */
export interface SmallVenv {
  readonly python: Python;
  /** The scratch folder everything lives in. */
  readonly top: string;
  /** Where the venv was built: the path its files name. It no longer exists. */
  readonly old: string;
  /** The built venv, moved aside; copy it with `placeCopy`. */
  readonly template: string;
  /** site-packages, relative to the venv. */
  readonly site: string;
}

function sh(file: string, args: readonly string[]): void {
  const r = spawnSync(file, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${file} ${args.join(' ')} failed: ${r.stderr}`);
}

/** Build the small venv template (see the file comment). */
export function smallVenv(label: string): SmallVenv {
  const python = reliabilityPython();
  const top = freshDir(label);
  const old = path.join(top, 'build', 'app', 'venv');
  sh(python.exe, ['-m', 'venv', '--without-pip', old]);
  const site = path.join('lib', `python${python.version}`, 'site-packages');
  const w = (rel: string, text: string | Buffer, mode = 0o644) => {
    const p = path.join(old, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, text, { mode });
    fs.chmodSync(p, mode);
  };
  w('bin/tool', `#!${old}/bin/python -E\nprint("tool ok")\n`, 0o755);
  w('bin/crlf-tool', `#!${old}/bin/python\r\n# ${old}/data\r\nprint("crlf")\r\n`, 0o755);
  w(`${site}/app.pth`, `${old}/src\n`);
  w(`${site}/app_paths.py`, `ROOT = ${JSON.stringify(`${old}/data`)}\n`);
  w('share/kernel.json', JSON.stringify({ argv: [`${old}/bin/python`, '-m', 'k'] }) + '\n');
  w('share/readonly.txt', `data lives in ${old}/share\n`, 0o444);
  w('share/shared.txt', `shared with a file outside the venv: ${old}/share\n`);
  w('share/look-alike.txt', `${old}2/x ${old}-x/y ${old}.bak\n`);
  for (let i = 0; i < 40; i++) w(`share/many/f${i}.txt`, `${i} ${old}/share/${i}\n`);
  fs.symlinkSync(`${old}/share/kernel.json`, path.join(old, 'share', 'kernel-link.json'));
  const template = path.join(top, 'template', 'venv');
  fs.mkdirSync(path.dirname(template), { recursive: true });
  fs.renameSync(old, template);
  fs.rmSync(path.join(top, 'build'), { recursive: true, force: true });
  return { python, top, old, template, site };
}

/** Where a case puts its copy, and the file outside the venv hard-linked to share/shared.txt. */
export interface Placed {
  readonly venv: string;
  readonly outside: string;
}

/**
 * A fresh copy of `tpl` at `venv` (removed first), with `outside` (a file outside the venv)
 * hard-linked to its share/shared.txt, as `cp -a` cannot keep a link to a file it does not copy.
 */
export function placeCopy(tpl: SmallVenv, venv: string, outside: string): Placed {
  fs.rmSync(venv, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(venv), { recursive: true });
  sh('cp', ['-a', '--', tpl.template, venv]);
  fs.rmSync(outside, { force: true });
  fs.mkdirSync(path.dirname(outside), { recursive: true });
  fs.linkSync(path.join(venv, 'share', 'shared.txt'), outside);
  return { venv, outside };
}

/** How a CLI child ended. */
export interface Ended {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A running CLI. */
export interface Running {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly ended: Promise<Ended>;
}

/** Start `venv-tools ARGS` (the built CLI). A 2-minute guard kills a hung child. */
export function startCli(args: readonly string[], env: NodeJS.ProcessEnv = {}): Running {
  const [file, ...argv] = cliArgv(args);
  const child = spawn(file, argv, {
    env: { ...process.env, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout?.on('data', (b: Buffer) => out.push(b));
  child.stderr?.on('data', (b: Buffer) => err.push(b));
  const guard = setTimeout(() => child.kill('SIGKILL'), 120_000);
  const ended = new Promise<Ended>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(guard);
      resolve({
        status,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
  });
  if (child.pid === undefined) throw new Error('could not start the CLI');
  return { child, pid: child.pid, ended };
}

/**
 * Resolves when a name appears in `dir` (inotify through fs.watch, set up before the run
 * starts), or with false when `until` settles first.
 */
export function nameAppears(dir: string, name: string, until: Promise<unknown>): Promise<boolean> {
  return new Promise((resolve) => {
    let settled = false;
    const watcher = fs.watch(dir, (_event, file) => {
      if (settled || file !== name || !fs.existsSync(path.join(dir, name))) return;
      settled = true;
      watcher.close();
      resolve(true);
    });
    void until.finally(() => {
      if (settled) return;
      settled = true;
      watcher.close();
      resolve(false);
    });
  });
}

/** A deterministic generator (xorshift32) for seeded choices. */
export function seeded(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

/** A pid that belonged to a process which has exited (for stale locks). */
export function deadPid(): number {
  const r = spawnSync('true');
  if (r.pid === undefined) throw new Error('could not run true');
  return r.pid;
}

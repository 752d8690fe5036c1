/**
 * Small real venvs for the CLI suites: `python -m venv --without-pip` (milliseconds, any
 * CPython 3.6+), plus what relocation cares about, written by hand: a pip-style script, a .pth
 * naming a source folder beside the venv, and a dist-info whose RECORD lists the script and a
 * module with their real hashes. Built at APP/venv under TOP/build; `moveApp` moves APP the
 * way a deploy does.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Python } from './pythons.js';
import { freshDir } from './scratch.js';

/** A small venv and where it lives. */
export interface SmallVenv {
  /** The scratch folder holding build/ (and srv/ after a move). */
  readonly top: string;
  /** The venv, TOP/build/app/venv until moved. */
  readonly venv: string;
  readonly python: Python;
  /** lib/pythonX.Y/site-packages, relative to the venv. */
  readonly site: string;
}

function recordRow(rel: string, bytes: Buffer): string {
  return `${rel},sha256=${createHash('sha256').update(bytes).digest('base64url')},${bytes.length}`;
}

/** Build a small venv with `python` at TOP/build/app/venv (TOP: `dir`, or a fresh scratch folder). */
export function smallVenv(python: Python, label: string, dir?: string): SmallVenv {
  const top = dir ?? freshDir(label);
  const venv = path.join(top, 'build', 'app', 'venv');
  const r = spawnSync(python.exe, ['-m', 'venv', '--without-pip', venv], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python -m venv failed: ${r.stderr}`);
  const site = path.join('lib', `python${python.version}`, 'site-packages');
  const tool = Buffer.from(
    `#!${venv}/bin/python -E\nimport sys\nprint("tool runs in", sys.prefix)\n`,
  );
  fs.writeFileSync(path.join(venv, 'bin', 'tool'), tool, { mode: 0o755 });
  fs.mkdirSync(path.join(top, 'build', 'app', 'src'));
  fs.writeFileSync(path.join(venv, site, 'app.pth'), `${top}/build/app/src\n`);
  const mod = Buffer.from('VALUE = 1\n');
  fs.mkdirSync(path.join(venv, site, 'demo'));
  fs.writeFileSync(path.join(venv, site, 'demo', '__init__.py'), mod);
  const info = path.join(venv, site, 'demo-1.0.dist-info');
  fs.mkdirSync(info);
  fs.writeFileSync(
    path.join(info, 'METADATA'),
    'Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n',
  );
  fs.writeFileSync(
    path.join(info, 'RECORD'),
    [
      recordRow('demo/__init__.py', mod),
      recordRow('../../../bin/tool', tool),
      'demo-1.0.dist-info/METADATA,,',
      'demo-1.0.dist-info/RECORD,,',
      '',
    ].join('\r\n'),
  );
  return { top, venv, python, site };
}

/** Move the app folder (venv and src) from TOP/build/app to TOP/srv/app/`release`, as `mv` does. */
export function moveApp(v: SmallVenv, release = 'r1'): SmallVenv {
  const to = path.join(v.top, 'srv', 'app', release);
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.renameSync(path.dirname(v.venv), to);
  return { ...v, venv: path.join(to, 'venv') };
}

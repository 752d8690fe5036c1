/**
 * The CPython interpreters (3.6 and later) on this machine: pyenv's versions, and every
 * `python3.X` on PATH, in /usr/bin and in /usr/local/bin. One entry per distinct executable
 * (after resolving symlinks), oldest version first.
 */

import { execFileSync } from 'node:child_process';
import { readdirSync, realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { findTool, STRICT, strictMessage, type Missing } from './require-tool.js';

/** One interpreter. */
export interface Python {
  /** Minor version, "3.11". */
  readonly version: string;
  /** Full version, "3.11.7". */
  readonly full: string;
  /** The executable, as found (not resolved). */
  readonly exe: string;
}

let found: Python[] | undefined;

function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** pyenv's root, where pyenv itself looks: $PYENV_ROOT, else ~/.pyenv. */
export function pyenvRoot(): string {
  const root = process.env['PYENV_ROOT'];
  return root !== undefined && root !== '' ? root : join(homedir(), '.pyenv');
}

function candidates(): string[] {
  const out: string[] = [];
  const pyenv = pyenvRoot();
  for (const v of list(join(pyenv, 'versions')))
    out.push(join(pyenv, 'versions', v, 'bin', 'python3'));
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/bin', '/usr/local/bin'];
  for (const dir of dirs) {
    // pyenv's shims are scripts that pick a version by the current directory: skip them.
    if (dir === '' || dir.includes('/shims')) continue;
    for (const name of list(dir)) if (/^python3\.\d+$/.test(name)) out.push(join(dir, name));
  }
  return out;
}

/** The minor versions the suite expects from pyenv (CI's image has each). */
const PYENV_MINORS = ['3.6', '3.7', '3.8', '3.9', '3.10', '3.11', '3.12', '3.13'];
const DEBIAN_PYTHON = '/usr/bin/python3.11';

function realOrUndefined(p: string): string | undefined {
  try {
    return realpathSync(p);
  } catch {
    return undefined;
  }
}

/**
 * The expected CPythons that `pythons` lacks: pyenv's 3.6 to 3.13 (one build of each minor
 * version) and Debian's /usr/bin/python3.11.
 */
export function missingPythons(pythons: readonly Python[]): Missing[] {
  const versions = join(pyenvRoot(), 'versions') + '/';
  const missing: Missing[] = PYENV_MINORS.filter(
    (v) => !pythons.some((p) => p.version === v && p.exe.startsWith(versions)),
  ).map((v) => ({ what: `CPython ${v} (pyenv)`, install: `pyenv install ${v}` }));
  const debian = realOrUndefined(DEBIAN_PYTHON);
  if (debian === undefined || !pythons.some((p) => realOrUndefined(p.exe) === debian)) {
    missing.push({
      what: `CPython 3.11 (Debian, ${DEBIAN_PYTHON})`,
      install: 'apt-get install -y python3.11 python3-venv',
    });
  }
  return missing;
}

/**
 * Every CPython >= 3.6 on this machine, one per distinct executable, oldest first. Under
 * VENV_TOOLS_TEST_STRICT=1 it throws when an expected one is missing (see missingPythons),
 * so that no test loops over fewer interpreters than CI has.
 */
export function findPythons(): Python[] {
  if (found !== undefined) return found;
  const seen = new Set<string>();
  const pythons: Python[] = [];
  for (const exe of candidates()) {
    let real: string;
    try {
      real = realpathSync(exe);
    } catch {
      continue;
    }
    if (seen.has(real)) continue;
    seen.add(real);
    let answer: string;
    try {
      answer = execFileSync(
        exe,
        ['-c', 'import sys; print(sys.implementation.name, "%d.%d.%d" % sys.version_info[:3])'],
        { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'ignore'] },
      );
    } catch {
      continue;
    }
    const m = /^cpython (3\.(\d+))\.\d+\s*$/.exec(answer);
    if (m === null || Number(m[2]) < 6) continue;
    pythons.push({ version: m[1]!, full: answer.trim().split(' ')[1]!, exe });
  }
  const key = (p: Python): number[] => p.full.split('.').map(Number);
  pythons.sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    return x[0]! - y[0]! || x[1]! - y[1]! || x[2]! - y[2]! || a.exe.localeCompare(b.exe);
  });
  if (STRICT) {
    const missing = missingPythons(pythons);
    if (missing.length > 0) throw new Error(strictMessage(missing));
  }
  found = pythons;
  return pythons;
}

/** The site-packages of an interpreter's own installation (pip's, setuptools' RECORDs live there). */
export function ownSitePackages(p: Pick<Python, 'exe' | 'version'>): string {
  return join(dirname(dirname(realpathSync(p.exe))), 'lib', `python${p.version}`, 'site-packages');
}

/**
 * PyPy 3 (`pypy3` on PATH) as a Python: `version` is the Python version it implements ("3.9"),
 * `full` names PyPy's own ("3.9 (PyPy 7.3.11)"). Undefined when it is not installed (require-tool
 * says what that means for a test).
 */
export function findPyPy(): Python | undefined {
  const exe = findTool('pypy3');
  if (exe === undefined) return undefined;
  const answer = execFileSync(
    exe,
    [
      '-c',
      'import sys; print("%d.%d" % sys.version_info[:2], "%d.%d.%d" % sys.pypy_version_info[:3])',
    ],
    { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const [version, pypy] = answer.trim().split(' ');
  return { version: version!, full: `${version!} (PyPy ${pypy!})`, exe };
}

import { fs } from '../core/fs.js';
import { VenvToolsError } from '../core/errors.js';
import { parsePyvenvCfg } from '../kinds/pyvenv-cfg.js';
import { explainNotAVenv } from './explain-not-a-venv.js';

/** What the scanner knows about a venv's shape. Paths are relative to the venv root. */
export interface Layout {
  /** Directory of scripts, `bin`. */
  readonly binDir: string;
  /** `lib/python3.11` or `lib/pypy3.10`. */
  readonly libDir: string;
  /** `lib/python3.11/site-packages`. */
  readonly sitePackages: string;
  /** major.minor from the lib folder name, e.g. `3.11`. */
  readonly pythonVersion: string;
  readonly implementation: 'cpython' | 'pypy';
  readonly hasPyvenvCfg: boolean;
  /** Who made it, from pyvenv.cfg: `venv`, `virtualenv`, `uv`, or `legacy-virtualenv` (no pyvenv.cfg). */
  readonly creator: string;
  /** The creator's version where pyvenv.cfg names it (virtualenv, uv). */
  readonly creatorVersion: string | undefined;
  /** pyvenv.cfg `version`/`version_info`, if present. */
  readonly cfgVersion: string | undefined;
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** Join the way Python's os.path.join does, so messages echo PATH exactly as given. */
export function joinAsGiven(given: string, rel: string): string {
  return given.endsWith('/') ? given + rel : `${given}/${rel}`;
}

/** virtualenv-tools' message for the first missing piece, and ours in plain words (the hint). */
function notAVenv(
  given: string,
  abs: string,
  what: 'directory' | 'file',
  rel: string,
): VenvToolsError {
  const p = joinAsGiven(given, rel);
  return new VenvToolsError(
    'NOT_A_VENV',
    `${given} is not a virtualenv: not a ${what}: ${p}`,
    p,
    explainNotAVenv(given, abs, rel),
  );
}

/**
 * Check that `given` (as the user typed it; `abs` is its absolute form) is a venv, in
 * virtualenv-tools' order: bin/, lib/, exactly one lib/pythonX.Y (or pypyX.Y), its
 * site-packages/, then pyvenv.cfg or (legacy virtualenv < 20) bin/activate.
 */
export function detectLayout(given: string, abs: string): Layout {
  if (!isDir(abs)) {
    throw new VenvToolsError(
      'NOT_A_VENV',
      `${given} is not a virtualenv: not a directory: ${given}`,
      given,
      explainNotAVenv(given, abs, ''),
    );
  }
  for (const dir of ['bin', 'lib']) {
    if (!isDir(`${abs}/${dir}`)) throw notAVenv(given, abs, 'directory', dir);
  }
  let names: string[];
  try {
    names = fs.readdirSync(`${abs}/lib`);
  } catch {
    throw notAVenv(given, abs, 'directory', 'lib');
  }
  const libs = names.filter((n) => /^(python|pypy)\d+\.\d+$/.test(n) && isDir(`${abs}/lib/${n}`));
  const lib = libs.length === 1 ? libs[0] : undefined;
  if (lib === undefined) throw notAVenv(given, abs, 'directory', 'lib/python#.#');
  const libDir = `lib/${lib}`;
  const sitePackages = `${libDir}/site-packages`;
  if (!isDir(`${abs}/${sitePackages}`)) throw notAVenv(given, abs, 'directory', sitePackages);
  const hasPyvenvCfg = isFile(`${abs}/pyvenv.cfg`);
  if (!hasPyvenvCfg && !isFile(`${abs}/bin/activate`))
    throw notAVenv(given, abs, 'file', 'bin/activate');

  let creator = hasPyvenvCfg ? 'venv' : 'legacy-virtualenv';
  let creatorVersion: string | undefined;
  let cfgVersion: string | undefined;
  if (hasPyvenvCfg) {
    let cfg: Map<string, string>;
    try {
      cfg = parsePyvenvCfg(fs.readFileSync(`${abs}/pyvenv.cfg`, 'utf8'));
    } catch (err) {
      throw new VenvToolsError(
        'UNREADABLE',
        `cannot read ${joinAsGiven(given, 'pyvenv.cfg')}: ${(err as Error).message}; check its permissions`,
        joinAsGiven(given, 'pyvenv.cfg'),
      );
    }
    for (const tool of ['virtualenv', 'uv']) {
      const v = cfg.get(tool);
      if (v !== undefined) {
        creator = tool;
        creatorVersion = v;
      }
    }
    cfgVersion = cfg.get('version_info') ?? cfg.get('version');
  }
  const m = /^(python|pypy)(\d+\.\d+)$/.exec(lib);
  return {
    binDir: 'bin',
    libDir,
    sitePackages,
    pythonVersion: m?.[2] ?? '',
    implementation: m?.[1] === 'pypy' ? 'pypy' : 'cpython',
    hasPyvenvCfg,
    creator,
    creatorVersion,
    cfgVersion,
  };
}

import { posix } from 'node:path';
import { VenvToolsError } from '../core/errors.js';
import { bytesToUtf8, utf8ToBytes, type ByteString } from '../core/path-boundary.js';

/** How the interpreter was found: named by `--python`, on PATH, or in a fallback folder. */
export type FoundHow = 'option' | 'PATH' | 'fallback';

/** A PATH entry passed over, and why; shown when nothing is found. */
export interface Skipped {
  readonly path: string;
  readonly why: 'the venv itself' | 'another virtual environment';
}

/** The interpreter to probe, as found (not resolved: `bin/python` links to this path). */
export interface PythonChoice {
  readonly path: ByteString;
  readonly how: FoundHow;
  /** The name looked for, `python3.11`. */
  readonly name: string;
  readonly skipped: readonly Skipped[];
}

/** The few disk questions choosing asks; reinitialize passes ones backed by src/fs.ts. */
export interface ChooseSys {
  /** A regular file (after symlinks) that we may execute. */
  readonly isExecutableFile: (p: ByteString) => boolean;
  /** The real path, or undefined when it does not resolve. */
  readonly realpath: (p: ByteString) => ByteString | undefined;
  /** True when a regular file exists at p (used for `DIR/../pyvenv.cfg`). */
  readonly isFile: (p: ByteString) => boolean;
}

export interface ChooseRequest {
  /** `--python` as the user gave it: a path, or a bare name looked up on PATH. */
  readonly python: string | undefined;
  /** The name to look for when `--python` is not given, `python3.11` or `pypy3.10`. */
  readonly name: string;
  /** The PATH to search (the caller's env). */
  readonly pathEnv: string | undefined;
  /** The venv's real root: its own bin/ is never chosen. */
  readonly venvRoot: ByteString;
  /** For relative `--python` paths and PATH entries. */
  readonly cwd: ByteString;
}

/** Where Debian (and most distributions) put pythonX.Y, then where `make altinstall` does. */
export const FALLBACK_DIRS: readonly ByteString[] = ['/usr/bin', '/usr/local/bin'];

function absolute(p: ByteString, cwd: ByteString): ByteString {
  return posix.resolve(cwd, p);
}

/** Search PATH for `name`, passing over the venv's own bin/ and other venvs' bin/. */
function searchPath(
  name: ByteString,
  req: ChooseRequest,
  sys: ChooseSys,
  skipped: Skipped[],
): ByteString | undefined {
  const venvBin = sys.realpath(`${req.venvRoot}/bin`);
  for (const entry of utf8ToBytes(req.pathEnv ?? '').split(':')) {
    // POSIX reads an empty PATH entry as the current directory; picking an interpreter out of
    // whatever folder the deploy script happens to run in is not what anyone means, so skip it.
    if (entry === '') continue;
    const dir = absolute(entry, req.cwd);
    const candidate = `${dir}/${name}`;
    if (!sys.isExecutableFile(candidate)) continue;
    const realDir = sys.realpath(dir);
    // An activated venv puts its own bin/ first on PATH: its python3.X is the link we are
    // about to replace, and another venv's python is not a base interpreter at all.
    if (realDir !== undefined && realDir === venvBin) {
      skipped.push({ path: bytesToUtf8(candidate), why: 'the venv itself' });
      continue;
    }
    if (sys.isFile(`${posix.dirname(dir)}/pyvenv.cfg`)) {
      skipped.push({ path: bytesToUtf8(candidate), why: 'another virtual environment' });
      continue;
    }
    return candidate;
  }
  return undefined;
}

/**
 * Pick the interpreter: `--python` if given (a bare name is looked up on PATH, as a shell
 * would); else the first `pythonX.Y` on PATH; else /usr/bin/pythonX.Y, then
 * /usr/local/bin/pythonX.Y. Nothing is run here; probePython does that once.
 */
export function choosePython(req: ChooseRequest, sys: ChooseSys): PythonChoice {
  const skipped: Skipped[] = [];
  if (req.python !== undefined) {
    if (req.python === '') {
      throw new VenvToolsError(
        'REINIT',
        '--python needs a value: the path of a python3.X on this machine',
        req.python,
      );
    }
    const given = utf8ToBytes(req.python);
    if (!given.includes('/')) {
      const found = searchPath(given, req, sys, skipped);
      if (found === undefined) {
        throw new VenvToolsError(
          'REINIT',
          `--python ${req.python}: not found on PATH${skippedText(skipped)}. Nothing was changed; give its full path.`,
          req.python,
        );
      }
      return { path: found, how: 'option', name: req.python, skipped };
    }
    return {
      path: absolute(given, req.cwd),
      how: 'option',
      name: posix.basename(req.python),
      skipped,
    };
  }
  const name = utf8ToBytes(req.name);
  const onPath = searchPath(name, req, sys, skipped);
  if (onPath !== undefined) return { path: onPath, how: 'PATH', name: req.name, skipped };
  for (const dir of FALLBACK_DIRS) {
    const candidate = `${dir}/${name}`;
    if (sys.isExecutableFile(candidate))
      return { path: candidate, how: 'fallback', name: req.name, skipped };
  }
  throw new VenvToolsError(
    'REINIT',
    `no ${req.name} found on this machine: looked on PATH${skippedText(skipped)} and in ${FALLBACK_DIRS.join(', ')}. ` +
      `Nothing was changed; install ${req.name}, or name one with --python EXE.`,
  );
}

function skippedText(skipped: readonly Skipped[]): string {
  if (skipped.length === 0) return '';
  return ` (passed over ${skipped.map((s) => `${s.path}: ${s.why}`).join('; ')})`;
}

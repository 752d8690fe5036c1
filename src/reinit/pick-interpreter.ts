/**
 * Which interpreter a reinit re-points the venv at: the one `--python` names, else the first
 * pythonX.Y on PATH, else a fallback folder; run once to learn what it is, then refused when it
 * is itself a venv's python, cannot tell its own executable, or (unless `force`) is another
 * major.minor or implementation than the venv's.
 */
import { VenvToolsError } from '../core/errors.js';
import { bytesToUtf8, utf8ToBytes, type ByteString } from '../core/path-boundary.js';
import { realPath } from '../core/real-path.js';
import type { Layout } from '../scan/detect-layout.js';
import { checkVersionMatch, type VenvVersion } from './check-version-match.js';
import { choosePython, type FoundHow, type Skipped } from './choose-python.js';
import type { ReinitWarning } from './plan-reinit.js';
import { probePython, type PythonInfo } from './probe-python.js';
import { CHOOSE_SYS } from './reinit-inputs.js';

export interface PickedInterpreter {
  /** The path as found, and how. */
  readonly found: ByteString;
  readonly how: FoundHow;
  readonly skipped: readonly Skipped[];
  /** What the venv's links point at: `found`, unless that is a wrapper for another file. */
  readonly linkTarget: ByteString;
  /** What running it once showed. */
  readonly info: PythonInfo;
  /** True when `force` let a version or implementation mismatch through. */
  readonly forced: boolean;
  readonly warnings: ReinitWarning[];
}

export interface PickRequest {
  /** The venv as the user gave it, for messages. */
  readonly shownVenv: string;
  readonly root: ByteString;
  readonly layout: Layout;
  readonly version: VenvVersion;
  /** `--python EXE`, as given. */
  readonly python: string | undefined;
  readonly force: boolean;
  /** A dry run: the warnings say what would be done, not what was. */
  readonly dryRun?: boolean;
  readonly env: NodeJS.ProcessEnv;
}

/** Choose, run and check the interpreter (see the file comment). */
export function pickInterpreter(req: PickRequest): PickedInterpreter {
  const { layout, version } = req;
  const choice = choosePython(
    {
      python: req.python,
      name: `${layout.implementation === 'pypy' ? 'pypy' : 'python'}${version.majorMinor}`,
      pathEnv: req.env.PATH,
      venvRoot: req.root,
      cwd: utf8ToBytes(process.cwd()),
    },
    CHOOSE_SYS,
  );
  const foundShown = bytesToUtf8(choice.path);
  const exeShown =
    choice.how === 'option'
      ? req.python === foundShown
        ? `--python ${foundShown}`
        : `--python ${req.python ?? ''} (${foundShown})`
      : choice.how === 'PATH'
        ? `${foundShown} (found on PATH)`
        : `${foundShown} (no ${choice.name} on PATH)`;
  const info = probePython(choice.path, req.env, exeShown);
  if (info.prefix !== info.basePrefix) {
    throw new VenvToolsError(
      'REINIT',
      `refusing ${exeShown}: it is the python of the virtual environment ${bytesToUtf8(info.prefix)}, not a base interpreter. ` +
        `Nothing was changed; name its base interpreter: --python ${bytesToUtf8(info.baseExecutable)}`,
      foundShown,
    );
  }
  if (info.executable === '') {
    throw new VenvToolsError(
      'REINIT',
      `refusing ${exeShown}: it cannot tell its own executable (sys.executable is empty). Nothing was changed.`,
      foundShown,
    );
  }
  const warnings: ReinitWarning[] = [];
  const mismatch = checkVersionMatch(version, info, {
    shownVenv: req.shownVenv,
    shownExe: exeShown,
    libDir: layout.libDir,
    force: req.force,
    dryRun: req.dryRun === true,
  });
  if (mismatch !== undefined) warnings.push({ code: 'FORCED_VERSION', message: mismatch });
  // bin/python links to the interpreter as found, so that the distribution's own updates
  // follow. A wrapper that runs another file (a pyenv shim is a bash script) cannot be linked
  // to: the venv's python would be a shell script and never see pyvenv.cfg. Link to what the
  // interpreter says it is instead.
  let linkTarget = choice.path;
  if (realPath(choice.path) !== info.realExecutable) {
    linkTarget = info.executable;
    warnings.push({
      code: 'LINK_TARGET_RESOLVED',
      message: `${foundShown} is not the interpreter itself but runs ${bytesToUtf8(info.executable)} (a wrapper such as a pyenv shim); the venv ${req.dryRun === true ? 'would link' : 'links'} to ${bytesToUtf8(info.executable)}`,
      path: foundShown,
    });
  }
  return {
    found: choice.path,
    how: choice.how,
    skipped: choice.skipped,
    linkTarget,
    info,
    forced: mismatch !== undefined,
    warnings,
  };
}

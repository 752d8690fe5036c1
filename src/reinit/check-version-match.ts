import { VenvToolsError } from '../core/errors.js';
import type { Layout } from '../scan/detect-layout.js';
import type { PythonInfo } from './probe-python.js';

/** The venv's own Python version, and where it was read. */
export interface VenvVersion {
  /** `3.11.7` when pyvenv.cfg says it, else `3.11`. */
  readonly version: string;
  readonly majorMinor: string;
  readonly source: 'pyvenv.cfg' | 'lib';
  readonly implementation: 'cpython' | 'pypy';
}

/**
 * The venv's version: pyvenv.cfg `version` (venv, `3.11.7`) or `version_info` (virtualenv,
 * `3.11.7.final.0`; uv, `3.11.7`), else the name of `lib/pythonX.Y`.
 */
export function venvVersionOf(layout: Layout): VenvVersion {
  const m =
    layout.cfgVersion === undefined
      ? null
      : /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(layout.cfgVersion.trim());
  if (m !== null) {
    const majorMinor = `${m[1]}.${m[2]}`;
    return {
      version: m[3] === undefined ? majorMinor : `${majorMinor}.${m[3]}`,
      majorMinor,
      source: 'pyvenv.cfg',
      implementation: layout.implementation,
    };
  }
  return {
    version: layout.pythonVersion,
    majorMinor: layout.pythonVersion,
    source: 'lib',
    implementation: layout.implementation,
  };
}

/**
 * Refuse an interpreter of another major.minor (or another implementation) unless `force`:
 * the venv's compiled extensions are built for one ABI, and its packages live in
 * `lib/pythonX.Y`, which another minor version does not look in. Returns the warning text
 * when `force` let a mismatch through, undefined when they match.
 */
export function checkVersionMatch(
  venv: VenvVersion,
  info: PythonInfo,
  ctx: {
    readonly shownVenv: string;
    readonly shownExe: string;
    readonly libDir: string;
    readonly force: boolean;
    /** A dry run: the warning says what a real run would do. */
    readonly dryRun?: boolean;
  },
): string | undefined {
  const sameImpl = info.implementation === venv.implementation;
  if (info.majorMinor === venv.majorMinor && sameImpl) return undefined;
  const theirs = `${implName(info.implementation)} ${info.version}`;
  const ours = `${implName(venv.implementation)} ${venv.version}`;
  const why = sameImpl
    ? `its compiled extensions are built for ${venv.majorMinor} and would not load, and ${info.majorMinor} does not look for packages in ${ctx.libDir}`
    : `its packages and compiled extensions are built for ${implName(venv.implementation)}`;
  if (ctx.force) {
    const done = ctx.dryRun === true ? 'a real run would re-point' : 're-pointed';
    return `--force: ${done} ${ctx.shownVenv} (${ours}) at ${ctx.shownExe} (${theirs}); ${why}`;
  }
  throw new VenvToolsError(
    'REINIT',
    `refusing to re-point ${ctx.shownVenv} at ${ctx.shownExe}: that is ${theirs}, the venv is ${ours} ` +
      `(${why}). Nothing was changed. Use a python${venv.majorMinor} (--python EXE), or --force to re-point it anyway.`,
    ctx.shownVenv,
  );
}

function implName(impl: string): string {
  if (impl === 'cpython') return 'Python';
  if (impl === 'pypy') return 'PyPy';
  return impl;
}

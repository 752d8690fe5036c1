/**
 * `venv-tools relocate` and `--update-path`: check the locations the user gave, open the venv,
 * decide where it was built, and run the relocation (relocate/run-relocation.ts).
 */
import { performance } from 'node:perf_hooks';
import { fs } from '../core/fs.js';
import { toBytes, type ByteString } from '../core/path-boundary.js';
import { trace } from '../core/trace.js';
import type { Warning } from '../core/warning.js';
import { baseReport, emptyTimings, type RelocationResult } from '../relocate/relocation-report.js';
import { runRelocationSteps } from '../relocate/run-relocation.js';
import { finish, type Steps } from '../core/commit-point.js';
import { checkInterpreter } from '../scan/check-interpreter.js';
import {
  checkFoundOld,
  checkFrom,
  checkLocations,
  type CheckedLocations,
} from '../scan/check-locations.js';
import { findOldPrefix } from '../scan/find-old-prefix.js';
import { isMarkedRelocatable } from '../kinds/relocatable-pyvenv-cfg.js';
import { openVenv, type OpenedVenv } from './open-venv.js';

/** The ALREADY_RELOCATABLE note, for a venv whose pyvenv.cfg says `relocatable = true`. */
function relocatableNote(venv: OpenedVenv): Warning[] {
  if (!venv.layout.hasPyvenvCfg) return [];
  let cfg: Buffer;
  try {
    cfg = fs.readFileSync(toBytes(`${venv.root}/pyvenv.cfg`));
  } catch {
    return [];
  }
  if (!isMarkedRelocatable(cfg)) return [];
  return [
    {
      code: 'ALREADY_RELOCATABLE',
      message: `${venv.path} is already relocatable (pyvenv.cfg: relocatable = true): its scripts, activate scripts, .pth and RECORD find it at run time and were left as they are`,
    },
  ];
}

export interface RelocateOptions {
  /** The venv as the user gave it (echoed in messages). */
  readonly path: string;
  /** The new location; must be absolute. */
  readonly to: string;
  /** How the user named `to`, for messages: `--to` (the default) or `--update-path`. */
  readonly toFlag?: string;
  /** The old location, when the evidence cannot tell. */
  readonly from?: string;
  /**
   * Accept `from` even when it is a system folder or the venv's own files name other locations
   * (`--force-from`). `/` is refused whatever this says.
   */
  readonly forceFrom?: boolean;
  /** Extra mappings (`--map A=B`). */
  readonly maps?: ReadonlyArray<{ readonly from: string; readonly to: string }>;
  readonly dryRun?: boolean;
  /**
   * Remove a sourceless pyc that cannot be rewritten (a magic no known Python writes, a corrupt
   * body) and names the old location, instead of refusing the run (`--drop-unreadable-pycs`).
   * One with its source beside it is always compiled again, or removed.
   */
  readonly dropUnreadablePycs?: boolean;
  /**
   * Threads to read and plan on, 1 or 2. By default two on a machine with 2 CPUs or more, for a
   * venv of THREAD_MIN_FILES files or more.
   */
  readonly threads?: number;
  /** Called with (phase, done, total) as files are processed; for a progress bar. */
  readonly onProgress?: (phase: string, done: number, total: number) => void;
}

/**
 * Relocate a venv. Every location is normalised and checked before the venv is opened, dry runs
 * too: `/` and system folders are refused (scan/check-locations.ts).
 */
export function relocate(opts: RelocateOptions): RelocationResult {
  return finish(relocateSteps(opts));
}

/**
 * relocate() as steps: it yields once, at the commit point, when every file is planned and
 * nothing is changed yet, so that the command can stop it there (core/commit-point.ts). A dry
 * run, or a venv already up to date, never yields.
 */
export function* relocateSteps(opts: RelocateOptions): Steps<RelocationResult> {
  trace('relocate');
  const t0 = performance.now();
  const given = checkLocations({
    path: opts.path,
    to: opts.to,
    toFlag: opts.toFlag ?? '--to',
    from: opts.from,
    maps: opts.maps ?? [],
  });
  const venv = openVenv(opts.path, {
    mode: opts.dryRun === true ? 'dry-run' : 'write',
    // The scripts, activate and pyvenv.cfg settle a normal run at the cost of a few small
    // files. When they name nothing but the target (or nothing at all), every pyc, RECORD and
    // .pth is asked too: a run that stopped half-way may have left them naming the old place,
    // and "up to date" must mean that all of them name the target.
    deep: (cheap) => given.from === undefined && !cheap.some((e) => e.location !== given.to),
  });
  try {
    return yield* relocateOpenedSteps(venv, given, opts, t0);
  } finally {
    venv.release();
  }
}

/**
 * Relocate a venv the caller opened, to the locations checkLocations gave (scan plans its dry
 * run this way, on the venv it opened for itself).
 */
export function relocateOpened(
  venv: OpenedVenv,
  given: CheckedLocations,
  opts: OpenedOptions,
  t0 = performance.now(),
): RelocationResult {
  return finish(relocateOpenedSteps(venv, given, opts, t0));
}

/** What relocateOpened and relocateSteps pass on to a run. */
type OpenedOptions = Pick<
  RelocateOptions,
  'from' | 'forceFrom' | 'dryRun' | 'dropUnreadablePycs' | 'threads' | 'onProgress'
> & {
  /** Scan's dry run: list a pyc a relocation would refuse, rather than fail on it. */
  readonly listRefusedPycs?: boolean;
};

function* relocateOpenedSteps(
  venv: OpenedVenv,
  given: CheckedLocations,
  opts: OpenedOptions,
  t0: number,
): Steps<RelocationResult> {
  const timings = emptyTimings();
  const target = given.to;
  const note = relocatableNote(venv);
  // Nothing names any place: a relocatable venv has nothing to rewrite, which is up to date.
  const nothingNamed = given.from === undefined && venv.evidence.length === 0 && note.length > 0;
  const old = nothingNamed ? undefined : oldLocation(venv, given, opts);
  // The interpreter as the venv will see it: links into the venv are read where it stands.
  const interpreter = checkInterpreter(
    venv.root,
    venv.layout,
    old === undefined ? [target] : [old, target],
    venv.path,
  );
  const warningsAfter: Warning[] = interpreter === undefined ? [] : [interpreter];
  if (old === undefined || old === target) {
    timings.total = performance.now() - t0;
    const report = baseReport(venv, 'up-to-date', undefined, target, timings);
    return {
      report: { ...report, warnings: [...given.warnings, ...note, ...warningsAfter] },
      plan: undefined,
    };
  }
  return yield* runRelocationSteps({
    venv,
    old,
    target,
    maps: given.maps,
    warningsBefore: [...given.warnings, ...note],
    warningsAfter,
    dryRun: opts.dryRun === true,
    sourceless:
      opts.dropUnreadablePycs === true ? 'drop' : opts.listRefusedPycs === true ? 'list' : 'refuse',
    threads: opts.threads,
    onProgress: opts.onProgress,
    t0,
    timings,
  });
}

/**
 * Where the venv was built: `--from` when given (checked against the venv's own files unless
 * `--force-from`), else what the evidence names; undefined when it names only the target.
 */
function oldLocation(
  venv: OpenedVenv,
  given: CheckedLocations,
  opts: Pick<RelocateOptions, 'from' | 'forceFrom'>,
): ByteString | undefined {
  if (given.from !== undefined) {
    if (opts.forceFrom !== true) {
      checkFrom(given.from, opts.from ?? '', venv.evidence, given.to, venv.path);
    }
    return given.from;
  }
  const found = findOldPrefix(venv.evidence, given.to, venv.path);
  if (found.state === 'up-to-date') return undefined;
  checkFoundOld(found.old, venv.evidence, given.to, venv.path);
  return found.old;
}

// What the CLI needs beside relocate(), from the one module it loads for `--update-path`.
export { joinAsGiven } from '../scan/detect-layout.js';
export { requireAbsolute } from '../scan/check-locations.js';

/**
 * `venv-tools verify`: does the venv work where it stands? A list of small checks
 * (check-*.ts), each returning problems as sentences; the venv is clean when none has any.
 * Nothing is changed, except that an interrupted run's journal is finished first, as every
 * command does (docs/RELIABILITY.md).
 */
import { performance } from 'node:perf_hooks';
import { fs } from '../core/fs.js';
import { bytesToUtf8, toBytes, type ByteString } from '../core/path-boundary.js';
import { isMarkedRelocatable } from '../kinds/relocatable-pyvenv-cfg.js';
import { planRelocatable, venvPlaces } from '../relocate/plan-relocatable.js';
import { openVenv } from './open-venv.js';
import { isHere, locationsOf, stateOf } from '../scan/locations.js';
import { checkActivate } from '../verify/check-activate.js';
import { checkForeignPaths, foreignLocations } from '../verify/check-foreign-paths.js';
import { checkInterpreters } from '../verify/check-interpreters.js';
import { checkPth } from '../verify/check-pth.js';
import { checkPycs } from '../verify/check-pycs.js';
import { checkPython } from '../verify/check-python.js';
import { checkRecord } from '../verify/check-record.js';
import { checkRelocatable, isPin, leftoversOf } from '../verify/check-relocatable.js';
import type { CheckName } from '../verify/check-result.js';
import {
  fixOf,
  makeRelocatableArgv,
  reinitArgv,
  relocateArgv,
  type Fix,
} from '../verify/fix-command.js';
import { searchOldPaths } from '../verify/search-old-paths.js';
import { type VerifyReport } from '../verify/verify-report.js';

function markedRelocatable(root: ByteString, hasPyvenvCfg: boolean): boolean {
  if (!hasPyvenvCfg) return false;
  try {
    return isMarkedRelocatable(fs.readFileSync(toBytes(`${root}/pyvenv.cfg`)));
  } catch {
    return false;
  }
}

export interface VerifyOptions {
  /** The venv as the user gave it (echoed in messages and in the suggested commands). */
  readonly path: string;
  /**
   * `--relocatable`: also check that nothing pins the venv to its path (check-relocatable.ts),
   * in place of the check that its files name no other place (pycs and pyvenv.cfg's `command`
   * name where a relocatable venv was made, and that is no problem). A venv whose pyvenv.cfg
   * says `relocatable = true` is always checked so.
   */
  readonly relocatable?: boolean;
  /** The environment bin/python runs in; process.env by default. */
  readonly env?: NodeJS.ProcessEnv;
  /** Called with (phase, done, total) during long checks; for a progress bar. */
  readonly onProgress?: (phase: string, done: number, total: number) => void;
}

/** Run every check on the venv at opts.path. Throws VenvToolsError when it is not a venv. */
export function verifyVenv(opts: VerifyOptions): VerifyReport {
  const t0 = performance.now();
  const opened = openVenv(opts.path, { mode: 'read', deep: () => true });
  const venv = { ...opened, locations: locationsOf(opened.evidence, opened.root) };
  const { root, layout } = venv;
  const rootShown = bytesToUtf8(root);
  const timings = { total: 0 } as { total: number } & Record<CheckName, number>;
  const timed = <T>(name: CheckName, f: () => T): T => {
    const t = performance.now();
    const out = f();
    timings[name] = (timings[name] ?? 0) + performance.now() - t;
    return out;
  };

  const foreign = foreignLocations(venv);
  // A venv made relocatable is checked as one whether or not --relocatable is given: where it
  // stands, what its pycs and pyvenv.cfg's command name is where it was made, not a problem.
  const relocatable = opts.relocatable === true || markedRelocatable(root, layout.hasPyvenvCfg);
  // With --relocatable, the search is for every place the venv is or was, this one included:
  // whatever still names one of them pins the venv.
  const places = relocatable ? venvPlaces(root, venv.evidence) : [];
  // One read of the tree: every file for the old locations, and the list of pycs.
  const search = timed(relocatable ? 'relocatable' : 'foreign-paths', () =>
    searchOldPaths(root, layout, relocatable ? places : foreign, opts.onProgress),
  );
  const foreignPaths = relocatable
    ? undefined
    : timed('foreign-paths', () => checkForeignPaths(venv, search));
  const pins = relocatable
    ? timed('relocatable', () => {
        const plan = planRelocatable(root, layout, places);
        return { plan, result: checkRelocatable(plan, leftoversOf(root, plan, search, places)) };
      })
    : undefined;
  const interpreters = timed('interpreters', () => checkInterpreters(root, layout.binDir));
  const python = timed('python', () => checkPython(root, layout.binDir, opts.env));
  const activate = timed('activate', () =>
    checkActivate(root, layout.binDir, venv.evidence, (loc) => isHere(loc, root)),
  );
  const pth = timed('pth', () => checkPth(root, layout.sitePackages, foreign));
  const pycs = timed('pycs', () => checkPycs(root, layout, search.pycs, python.magic));
  const record = timed('record', () => checkRecord(root, layout.sitePackages, opts.onProgress));
  const first = pins?.result ?? (foreignPaths as NonNullable<typeof foreignPaths>).result;
  const checks = [first, interpreters, python.result, activate, pth, pycs, record];
  const problems = checks.flatMap((c) => c.problems);

  const fixes: Fix[] = [];
  if (foreignPaths !== undefined && foreignPaths.foreign.length > 0) {
    fixes.push(
      fixOf(
        `rewrites every file that names ${foreignPaths.foreign.join(' or ')} for ${rootShown}`,
        relocateArgv(opts.path, rootShown, foreignPaths.foreign),
      ),
    );
  }
  if (pins !== undefined && pins.plan.edits.some((e) => isPin(e.reason))) {
    fixes.push(
      fixOf(
        'rewrites the scripts, activate scripts, .pth, RECORD and symlinks that pin the venv so that they find it at run time',
        makeRelocatableArgv(opts.path),
      ),
    );
  }
  // A bin/python* link that leads nowhere is reinit's to fix, whether or not bin/python starts.
  const deadLink = interpreters.problems.some((p) =>
    p.paths.some(
      (f) => f.startsWith(`${layout.binDir}/python`) || f.startsWith(`${layout.binDir}/pypy`),
    ),
  );
  if (python.seen.version === null || deadLink) {
    fixes.push(
      fixOf(
        `re-points ${layout.binDir}/python at a python${layout.pythonVersion} on this machine`,
        reinitArgv(opts.path),
      ),
    );
  }
  timings.total = performance.now() - t0;
  return {
    path: opts.path,
    root: rootShown,
    ok: problems.length === 0,
    relocatable,
    layout,
    state: stateOf(venv.locations),
    locations: venv.locations,
    foreign: foreignPaths?.foreign ?? foreign.map(bytesToUtf8),
    checks,
    problems,
    stale: foreignPaths?.stale ?? [],
    binaries: foreignPaths?.binaries ?? [],
    python: python.seen,
    fixes,
    recovered: venv.recovered,
    timings,
  };
}

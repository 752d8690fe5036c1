import { RewriteError, VenvToolsError } from '../core/errors.js';
import { bytesToUtf8, fromBytes } from '../core/path-boundary.js';
import { joinAsGiven } from '../scan/detect-layout.js';
import { parsePyvenvCfg } from '../kinds/pyvenv-cfg.js';
import { JOURNAL_NAME } from '../apply/journal-format.js';
import { checkVenvPython } from '../reinit/check-venv-python.js';
import { venvVersionOf } from '../reinit/check-version-match.js';
import { planReinit, type ReinitWarning } from '../reinit/plan-reinit.js';
import { baseCfgValues } from '../reinit/rewrite-pyvenv-cfg-base.js';
import { realPath } from '../core/real-path.js';
import { type ReinitReport } from '../reinit/reinit-report.js';
import { aliasNames, readAlias } from '../reinit/reinit-inputs.js';
import { readCfgFile, readInterpreterBinary } from '../reinit/reinit-inputs.js';
import { pickInterpreter } from '../reinit/pick-interpreter.js';
import { commitRecords } from '../apply/commit-records.js';
import { type OpenedVenv, openVenv } from './open-venv.js';
import { COMMIT_POINT, finish, type Steps } from '../core/commit-point.js';

export interface ReinitOptions {
  /** The venv as the user gave it (echoed in messages). */
  readonly path: string;
  /** `--python EXE`: a path, or a bare name looked up on PATH. */
  readonly python?: string;
  /** Re-point at another major.minor (or implementation) anyway. */
  readonly force?: boolean;
  readonly dryRun?: boolean;
  /** PATH for discovery and the environment the interpreters run in; process.env by default. */
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Re-point a venv's interpreter at a python of the same major.minor on this machine
 * (docs/ARCHITECTURE.md, reinit): choose it, run it once, refuse a mismatch unless `force`,
 * plan the links, copies and pyvenv.cfg keys, then apply them all or nothing through the
 * journal and run the venv's python to check the result.
 */
export function reinitialize(opts: ReinitOptions): ReinitReport {
  return finish(reinitializeSteps(opts));
}

/**
 * reinitialize() as steps: it yields once, at its commit point, when everything is planned and
 * nothing changed (core/commit-point.ts); a dry run, or a venv already up to date, never does.
 */
export function* reinitializeSteps(opts: ReinitOptions): Steps<ReinitReport> {
  // A dry run plans on the venv as it is, and says so when an interrupted run's journal waits:
  // a real run finishes that first, so the plan may change.
  const venv = openVenv(opts.path, {
    mode: opts.dryRun === true ? 'dry-run' : 'write',
    pendingJournal: 'note',
    evidence: false,
  });
  try {
    return yield* reinitOpened(venv, opts);
  } finally {
    venv.release();
  }
}

function* reinitOpened(venv: OpenedVenv, opts: ReinitOptions): Steps<ReinitReport> {
  const env = opts.env ?? process.env;
  const { root, layout } = venv;
  const warnings: ReinitWarning[] = [];
  if (venv.journalPending) {
    warnings.push({
      code: 'JOURNAL_PENDING',
      message: `${joinAsGiven(opts.path, JOURNAL_NAME)} holds an interrupted run; a real run finishes it first, so this plan may change`,
    });
  }
  if (!layout.hasPyvenvCfg) {
    throw new VenvToolsError(
      'UNSUPPORTED',
      `${opts.path} was made by virtualenv < 20 (no pyvenv.cfg): its interpreter cannot be re-pointed; recreate it with python3 -m venv or virtualenv 20+`,
      opts.path,
    );
  }
  const version = venvVersionOf(layout);
  const picked = pickInterpreter({
    shownVenv: opts.path,
    root,
    layout,
    version,
    python: opts.python,
    force: opts.force === true,
    dryRun: opts.dryRun === true,
    env,
  });
  const { info, linkTarget } = picked;
  warnings.push(...picked.warnings);

  const aliases = aliasNames(layout, version).map((n) => readAlias(root, layout.binDir, n));
  const cfg = readCfgFile(root);
  const cfgValues = baseCfgValues(info, linkTarget);
  let plan;
  try {
    plan = planReinit({
      root,
      binDir: layout.binDir,
      aliases,
      linkTarget,
      copySource: info.realExecutable,
      newBinary: aliases.some((a) => a.type === 'file')
        ? readInterpreterBinary(info.realExecutable)
        : undefined,
      cfg,
      cfgValues,
      now: Date.now(),
    });
  } catch (err) {
    if (err instanceof RewriteError) {
      throw new VenvToolsError(
        'REINIT',
        `cannot rewrite ${joinAsGiven(opts.path, 'pyvenv.cfg')}: ${err.message}. Nothing was changed.`,
        opts.path,
      );
    }
    throw err;
  }
  warnings.push(...plan.warnings);

  let status: ReinitReport['status'] = 'dry-run';
  if (opts.dryRun !== true) {
    status = plan.records.length === 0 ? 'up-to-date' : 'reinitialized';
    if (plan.records.length > 0) {
      yield COMMIT_POINT;
      const oldHome = parsePyvenvCfg(fromBytes(cfg.bytes)).get('home') ?? '';
      commitRecords(
        root,
        {
          old: bytesToUtf8(oldHome),
          new: bytesToUtf8(cfgValues.home),
          pid: process.pid,
          created: new Date().toISOString(),
          command: 'reinit',
        },
        plan.records,
      );
    }
  }
  const check =
    opts.dryRun === true
      ? null
      : checkVenvPython(root, layout.binDir, info, env, (p) => realPath(p) ?? p);
  return {
    path: opts.path,
    root: bytesToUtf8(root),
    status,
    venv: { ...version, creator: layout.creator, libDir: layout.libDir },
    interpreter: {
      found: bytesToUtf8(picked.found),
      how: picked.how,
      linkTarget: bytesToUtf8(linkTarget),
      version: info.version,
      versionInfo: info.versionInfo,
      implementation: info.implementation,
      executable: bytesToUtf8(info.executable),
      realExecutable: bytesToUtf8(info.realExecutable),
      prefix: bytesToUtf8(info.prefix),
      execPrefix: bytesToUtf8(info.execPrefix),
      skipped: picked.skipped,
    },
    forced: picked.forced,
    links: plan.links,
    cfg: plan.cfg,
    recovered: venv.recovered,
    check,
    warnings,
  };
}

import { fs } from '../core/fs.js';
import { errnoOf, RewriteError, VenvToolsError } from '../core/errors.js';
import {
  bytesToUtf8,
  fromBytes,
  toBytes,
  utf8ToBytes,
  type ByteString,
} from '../core/path-boundary.js';
import { detectLayout, joinAsGiven, parsePyvenvCfg, type Layout } from '../scan/detect-layout.js';
import { applyJournal } from '../apply/apply-journal.js';
import { JOURNAL_NAME, writeJournal } from '../apply/journal.js';
import { acquireLock } from '../apply/lock.js';
import {
  hasJournal,
  recoverJournal,
  type Recovery,
  removeJournal,
} from '../apply/recover-journal.js';
import { resolveVenvRoot } from './relocate-venv.js';
import { checkVenvPython, type AfterCheck } from '../reinit/check-venv-python.js';
import {
  checkVersionMatch,
  venvVersionOf,
  type VenvVersion,
} from '../reinit/check-version-match.js';
import {
  choosePython,
  type ChooseSys,
  type FoundHow,
  type Skipped,
} from '../reinit/choose-python.js';
import {
  planReinit,
  type AliasState,
  type CfgChange,
  type LinkChange,
  type ReinitWarning,
} from '../reinit/plan-reinit.js';
import { probePython } from '../reinit/probe-python.js';
import { baseCfgValues } from '../reinit/rewrite-pyvenv-cfg-base.js';

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

/** The interpreter reinit chose, and what running it once showed. Paths are UTF-8 text. */
export interface ReinitInterpreter {
  /** The path as found (`--python`, PATH or a fallback folder). */
  readonly found: string;
  readonly how: FoundHow;
  /** What the links point at: `found`, unless it is a wrapper (a pyenv shim) for another file. */
  readonly linkTarget: string;
  readonly version: string;
  readonly versionInfo: string;
  readonly implementation: string;
  readonly executable: string;
  readonly realExecutable: string;
  readonly prefix: string;
  readonly execPrefix: string;
  /** PATH entries passed over during discovery (the venv's own bin/, other venvs). */
  readonly skipped: readonly Skipped[];
}

/** Everything a reinit did or would do; format-reinit.ts renders it, `--json` prints it. */
export interface ReinitReport {
  readonly path: string;
  readonly root: string;
  readonly status: 'reinitialized' | 'up-to-date' | 'dry-run';
  readonly venv: VenvVersion & { readonly creator: string; readonly libDir: string };
  readonly interpreter: ReinitInterpreter;
  /** True when --force let a version or implementation mismatch through. */
  readonly forced: boolean;
  /** Every interpreter alias in bin/, changed or kept. */
  readonly links: readonly LinkChange[];
  /** pyvenv.cfg keys whose value changes, old -> new. */
  readonly cfg: readonly CfgChange[];
  readonly recovered: Recovery;
  /** The venv's bin/python run afterwards; null for a dry run. */
  readonly check: AfterCheck | null;
  readonly warnings: readonly ReinitWarning[];
}

function realpathOf(p: ByteString): ByteString | undefined {
  try {
    return fromBytes(fs.realpathSync(toBytes(p), { encoding: 'buffer' }) as unknown as Buffer);
  } catch {
    return undefined;
  }
}

/** choosePython's disk questions, answered through src/fs.ts. */
const CHOOSE_SYS: ChooseSys = {
  isExecutableFile: (p) => {
    try {
      if (!fs.statSync(toBytes(p)).isFile()) return false;
      fs.accessSync(toBytes(p), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  },
  realpath: realpathOf,
  isFile: (p) => {
    try {
      return fs.statSync(toBytes(p)).isFile();
    } catch {
      return false;
    }
  },
};

/** The aliases reinit looks after: python, python3, pythonX.Y (and PyPy's own names). */
function aliasNames(layout: Layout, version: VenvVersion): string[] {
  const names = ['python', 'python3', `python${version.majorMinor}`];
  if (layout.implementation === 'pypy') names.push('pypy', 'pypy3', `pypy${version.majorMinor}`);
  return [...new Set(names)];
}

function readAlias(root: ByteString, binDir: string, name: string): AliasState {
  const p = toBytes(`${root}/${binDir}/${name}`);
  let st;
  try {
    st = fs.lstatSync(p);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return { name, type: 'missing' };
    throw unreadable(`${root}/${binDir}/${name}`, err);
  }
  try {
    if (st.isSymbolicLink()) {
      return {
        name,
        type: 'symlink',
        target: fromBytes(fs.readlinkSync(p, { encoding: 'buffer' }) as unknown as Buffer),
      };
    }
    if (st.isFile())
      return {
        name,
        type: 'file',
        bytes: fs.readFileSync(p),
        mode: st.mode,
        uid: st.uid,
        gid: st.gid,
      };
  } catch (err) {
    throw unreadable(`${root}/${binDir}/${name}`, err);
  }
  return { name, type: 'other' };
}

function unreadable(p: ByteString, err: unknown): VenvToolsError {
  const shown = bytesToUtf8(p);
  return new VenvToolsError(
    'UNREADABLE',
    `cannot read ${shown}: ${errnoOf(err) ?? (err as Error).message}; fix its permissions and run again`,
    shown,
  );
}

/**
 * Re-point a venv's interpreter at a python of the same major.minor on this machine
 * (DESIGN.md "Reinitialize"): choose it, run it once, refuse a mismatch unless `force`, plan
 * the links, copies and pyvenv.cfg keys, then apply them all or nothing through the journal
 * and run the venv's python to check the result.
 */
export function reinitialize(opts: ReinitOptions): ReinitReport {
  const env = opts.env ?? process.env;
  const root = resolveVenvRoot(opts.path);
  // Check that it is a venv before taking the lock, so that a wrong PATH gets virtualenv-tools'
  // "not a virtualenv" message and no lock file is ever created in a folder that is not a venv.
  detectLayout(opts.path, bytesToUtf8(root));
  const release = opts.dryRun ? () => undefined : acquireLock(root);
  try {
    const warnings: ReinitWarning[] = [];
    const recovered: Recovery = opts.dryRun ? { state: 'none', files: 0 } : recoverJournal(root);
    if (opts.dryRun && hasJournal(root)) {
      warnings.push({
        code: 'JOURNAL_PENDING',
        message: `${joinAsGiven(opts.path, JOURNAL_NAME)} holds an interrupted run; a real run finishes it first, so this plan may change`,
      });
    }
    // Again after recovery: an interrupted reinit's journal may have changed pyvenv.cfg's version.
    const layout = detectLayout(opts.path, bytesToUtf8(root));
    if (!layout.hasPyvenvCfg) {
      throw new VenvToolsError(
        'UNSUPPORTED',
        `${opts.path} was made by virtualenv < 20 (no pyvenv.cfg): its interpreter cannot be re-pointed; recreate it with python3 -m venv or virtualenv 20+`,
        opts.path,
      );
    }
    const version = venvVersionOf(layout);

    const choice = choosePython(
      {
        python: opts.python,
        name: `${layout.implementation === 'pypy' ? 'pypy' : 'python'}${version.majorMinor}`,
        pathEnv: env.PATH,
        venvRoot: root,
        cwd: utf8ToBytes(process.cwd()),
      },
      CHOOSE_SYS,
    );
    const foundShown = bytesToUtf8(choice.path);
    const exeShown =
      choice.how === 'option'
        ? opts.python === foundShown
          ? `--python ${foundShown}`
          : `--python ${opts.python ?? ''} (${foundShown})`
        : choice.how === 'PATH'
          ? `${foundShown} (found on PATH)`
          : `${foundShown} (no ${choice.name} on PATH)`;
    const info = probePython(choice.path, env, exeShown);

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
    const mismatch = checkVersionMatch(version, info, {
      shownVenv: opts.path,
      shownExe: exeShown,
      libDir: layout.libDir,
      force: opts.force === true,
    });
    if (mismatch !== undefined) warnings.push({ code: 'FORCED_VERSION', message: mismatch });

    // bin/python links to the interpreter as found, so that the distribution's own updates
    // follow. A wrapper that runs another file (a pyenv shim is a bash script) cannot be linked
    // to: the venv's python would be a shell script and never see pyvenv.cfg. Link to what the
    // interpreter says it is instead.
    let linkTarget = choice.path;
    if (realpathOf(choice.path) !== info.realExecutable) {
      linkTarget = info.executable;
      warnings.push({
        code: 'LINK_TARGET_RESOLVED',
        message: `${foundShown} is not the interpreter itself but runs ${bytesToUtf8(info.executable)} (a wrapper such as a pyenv shim); the venv links to ${bytesToUtf8(info.executable)}`,
        path: foundShown,
      });
    }

    const aliases = aliasNames(layout, version).map((n) => readAlias(root, layout.binDir, n));
    const needsBinary = aliases.some((a) => a.type === 'file');
    let newBinary: Buffer | undefined;
    if (needsBinary) {
      try {
        newBinary = fs.readFileSync(toBytes(info.realExecutable));
      } catch (err) {
        throw unreadable(info.realExecutable, err);
      }
    }
    const cfgPath = toBytes(`${root}/pyvenv.cfg`);
    let cfg;
    try {
      const st = fs.lstatSync(cfgPath);
      cfg = {
        bytes: fs.readFileSync(cfgPath),
        atimeMs: st.atimeMs,
        mtimeMs: st.mtimeMs,
        nlink: st.nlink,
        mode: st.mode,
        uid: st.uid,
        gid: st.gid,
      };
    } catch (err) {
      throw unreadable(`${root}/pyvenv.cfg`, err);
    }
    const oldHome = parsePyvenvCfg(fromBytes(cfg.bytes)).get('home') ?? '';

    let plan;
    try {
      plan = planReinit({
        root,
        binDir: layout.binDir,
        aliases,
        linkTarget,
        copySource: info.realExecutable,
        newBinary,
        cfg,
        cfgValues: baseCfgValues(info, linkTarget),
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

    let status: ReinitReport['status'];
    if (opts.dryRun) {
      status = 'dry-run';
    } else if (plan.records.length === 0) {
      status = 'up-to-date';
    } else {
      writeJournal(
        root,
        {
          old: bytesToUtf8(oldHome),
          new: bytesToUtf8(baseCfgValues(info, linkTarget).home),
          pid: process.pid,
          created: new Date().toISOString(),
          command: 'reinit',
        },
        plan.records,
      );
      applyJournal(root, plan.records);
      removeJournal(
        toBytes(`${root}/${JOURNAL_NAME}`),
        bytesToUtf8(`${root}/${JOURNAL_NAME}`),
        'every file is already written',
      );
      status = 'reinitialized';
    }

    const check = opts.dryRun
      ? null
      : checkVenvPython(root, layout.binDir, info, env, (p) => realpathOf(p) ?? p);

    return {
      path: opts.path,
      root: bytesToUtf8(root),
      status,
      venv: { ...version, creator: layout.creator, libDir: layout.libDir },
      interpreter: {
        found: foundShown,
        how: choice.how,
        linkTarget: bytesToUtf8(linkTarget),
        version: info.version,
        versionInfo: info.versionInfo,
        implementation: info.implementation,
        executable: bytesToUtf8(info.executable),
        realExecutable: bytesToUtf8(info.realExecutable),
        prefix: bytesToUtf8(info.prefix),
        execPrefix: bytesToUtf8(info.execPrefix),
        skipped: choice.skipped,
      },
      forced: mismatch !== undefined,
      links: plan.links,
      cfg: plan.cfg,
      recovered,
      check,
      warnings,
    };
  } finally {
    release();
  }
}

/** What `venv-tools reinit` did or would do, as data (commands/reinitialize.ts makes it; report/format-reinit.ts renders it). */
import { type VenvVersion } from './check-version-match.js';
import { type Recovery } from '../apply/recover-journal.js';
import { type FoundHow, type Skipped } from './choose-python.js';
import { type CfgChange, type LinkChange, type ReinitWarning } from './plan-reinit.js';
import { type AfterCheck } from './check-venv-python.js';

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

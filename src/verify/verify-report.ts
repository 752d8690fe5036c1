/** What `venv-tools verify` found, as data (commands/verify-venv.ts makes it; report/format-verify.ts renders it). */
import { type RelocationReport } from '../relocate/relocation-report.js';
import { type Recovery } from '../apply/recover-journal.js';
import { type PythonSeen } from './check-python.js';
import { type LocationReport, type ScanState, type ScannedFile } from '../scan/locations.js';
import { type Layout } from '../scan/detect-layout.js';
import { type Fix } from './fix-command.js';
import { type CheckName, type CheckResult, type Problem } from './check-result.js';

/** Everything verify found; format-verify.ts renders it. */
export interface VerifyReport {
  readonly path: string;
  readonly root: string;
  /** True when no check found a problem (notes do not count). */
  readonly ok: boolean;
  /** Whether the relocatable check ran in place of foreign-paths (`--relocatable`, or marked). */
  readonly relocatable: boolean;
  readonly layout: Layout;
  readonly state: ScanState;
  readonly locations: readonly LocationReport[];
  /** Venv locations named by the evidence that are not where the venv stands. */
  readonly foreign: readonly string[];
  readonly checks: readonly CheckResult[];
  /** Every check's problems, in check order. */
  readonly problems: readonly Problem[];
  /** Files and symlinks that still name a foreign location. */
  readonly stale: readonly ScannedFile[];
  /** Binaries that name one (reported, never a problem: binaries are never edited). */
  readonly binaries: RelocationReport['binaries'];
  readonly python: PythonSeen;
  /** Commands that fix the problems, in the order to run them. */
  readonly fixes: readonly Fix[];
  readonly recovered: Recovery;
  readonly timings: { readonly total: number } & Readonly<Record<CheckName, number>>;
}

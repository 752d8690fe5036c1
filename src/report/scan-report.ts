/** What `venv-tools scan` reports, as data (commands/scan-venv.ts makes it). */
import { type Recovery } from '../apply/recover-journal.js';
import { type MappingReport, type RelocationReport } from '../relocate/relocation-report.js';
import { type LocationReport, type ScanState, type ScannedFile } from '../scan/locations.js';
import { type Layout } from '../scan/detect-layout.js';
import { type Fix } from '../verify/fix-command.js';
import { type FileKind } from '../kinds/file-kind.js';

/** A scan warning; relocation's, plus the scan's own. */
export interface ScanWarning {
  readonly code:
    | RelocationReport['warnings'][number]['code']
    | 'AMBIGUOUS_OLD_PREFIX'
    | 'NO_OLD_PREFIX'
    | 'WOULD_FAIL';
  readonly message: string;
  readonly path?: string;
}

/** Everything `venv-tools scan` reports; format-report.ts renders it. */
export interface ScanReport {
  readonly path: string;
  readonly root: string;
  readonly layout: Layout;
  readonly state: ScanState;
  /** The location the file list is about: the one other than here, or here when in place. */
  readonly old: string | null;
  readonly locations: readonly LocationReport[];
  readonly files: readonly ScannedFile[];
  readonly counts: Partial<Record<FileKind, number>>;
  /** The bytes a relocation would write into those files (their new contents). */
  readonly rewriteBytes: number;
  readonly binaries: RelocationReport['binaries'];
  /** Pycs a relocation could not rewrite, and what it would do with each (or refuse). */
  readonly droppedPycs: RelocationReport['droppedPycs'];
  /** What relocating to where the venv stands would map (moved or half-relocated); else empty. */
  readonly mappings: readonly MappingReport[];
  readonly warnings: readonly ScanWarning[];
  /** The relocate command that makes the venv work where it stands (moved, half-relocated, ambiguous). */
  readonly fixes: readonly Fix[];
  readonly recovered: Recovery;
  readonly stats: RelocationReport['stats'];
  readonly timings: { walk: number; search: number; plan: number; total: number };
}

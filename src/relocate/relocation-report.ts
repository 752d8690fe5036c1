/** What a relocation did or would do, as data: the report that the text and JSON formatters render. */
import type { Recovery } from '../apply/recover-journal.js';
import { bytesToUtf8, type ByteString } from '../core/path-boundary.js';
import type { Warning } from '../core/warning.js';
import type { FileKind } from '../kinds/file-kind.js';
import type { Edit, Plan } from '../plan/planner.js';
import type { Layout } from '../scan/detect-layout.js';
import type { Evidence } from '../scan/evidence.js';

/** One changed file, for reports. */
export interface Change {
  readonly path: string;
  readonly kind: FileKind;
  readonly letter: string;
  readonly op: Edit['op'];
}

/** A pyc a relocation could not rewrite: regenerated, removed, or (scan) refused, and why. */
export interface DroppedPycReport {
  readonly path: string;
  /** Its source beside it; undefined for a sourceless pyc. */
  readonly source: string | undefined;
  readonly outcome: 'regenerated' | 'removed' | 'refused';
  readonly reason: string;
}

export interface MappingReport {
  readonly from: string;
  readonly to: string;
  readonly why: 'venv' | 'map' | 'moved-along' | 'moved-along-assumed';
}

export interface Timings {
  walk: number;
  search: number;
  plan: number;
  journal: number;
  apply: number;
  total: number;
}

/** Everything a relocation did or would do; the CLI's formatters render it. */
export interface RelocationReport {
  readonly path: string;
  readonly root: string;
  readonly status: 'updated' | 'up-to-date' | 'dry-run';
  readonly old: string | undefined;
  readonly new: string;
  readonly layout: Layout;
  readonly evidence: ReadonlyArray<{
    file: string;
    source: Evidence['source'];
    location: string;
    /** How many files of this source name this location (pycs are summarised). */
    count: number;
  }>;
  readonly mappings: readonly MappingReport[];
  readonly recovered: Recovery;
  readonly changes: readonly Change[];
  readonly counts: Partial<Record<FileKind, number>>;
  readonly binaries: ReadonlyArray<{ path: string; matches: number; format: string }>;
  /** Pycs it could not rewrite, and what became of them (plan/planner.ts, DroppedPyc). */
  readonly droppedPycs: readonly DroppedPycReport[];
  readonly warnings: ReadonlyArray<Warning>;
  readonly stats: { files: number; bytes: number; symlinks: number; dirs: number };
  readonly timings: Timings;
}

/** The result of `relocate`: the report, and the plan (for `--diff`). */
export interface RelocationResult {
  readonly report: RelocationReport;
  readonly plan: Plan | undefined;
}

/** Every phase at 0 ms, to be filled in as the run goes. */
export function emptyTimings(): Timings {
  return { walk: 0, search: 0, plan: 0, journal: 0, apply: 0, total: 0 };
}

/**
 * A report with nothing done yet: the venv, where it goes, and its evidence. The run fills in
 * the rest; an up-to-date venv's report is this.
 */
export function baseReport(
  venv: {
    readonly path: string;
    readonly root: ByteString;
    readonly layout: Layout;
    readonly recovered: Recovery;
    readonly evidence: readonly Evidence[];
  },
  status: RelocationReport['status'],
  old: ByteString | undefined,
  target: ByteString,
  timings: Timings,
): RelocationReport {
  return {
    path: venv.path,
    root: bytesToUtf8(venv.root),
    status,
    old: old === undefined ? undefined : bytesToUtf8(old),
    new: bytesToUtf8(target),
    layout: venv.layout,
    evidence: venv.evidence.map((e) => ({
      file: bytesToUtf8(e.file),
      source: e.source,
      location: bytesToUtf8(e.location),
      count: e.count ?? 1,
    })),
    mappings: [],
    recovered: venv.recovered,
    changes: [],
    counts: {},
    binaries: [],
    droppedPycs: [],
    warnings: [],
    stats: { files: 0, bytes: 0, symlinks: 0, dirs: 0 },
    timings,
  };
}

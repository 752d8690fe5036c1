/**
 * `venv-tools make-relocatable`: rewrite a venv so that it keeps working after a plain `mv`,
 * `cp -a`, `tar` or `docker COPY`, with no tool run at its new place. The plan comes from
 * relocate/plan-relocatable.ts; it is applied through the same write-ahead journal as a
 * relocation, so a run is all or nothing under SIGKILL, and the next run of any command finishes
 * an interrupted one. What cannot be made relative is listed (verify/check-relocatable.ts).
 */
import { performance } from 'node:perf_hooks';
import { VenvToolsError } from '../core/errors.js';
import { bytesToUtf8 } from '../core/path-boundary.js';
import { KIND_LETTER, type FileKind } from '../kinds/file-kind.js';
import { acquireLock } from '../apply/lock.js';
import { JOURNAL_NAME } from '../apply/journal.js';
import { JournalSink } from '../apply/journal-sink.js';
import { hasJournal, recoverJournal, type Recovery } from '../apply/recover-journal.js';
import {
  planRelocatable,
  venvPlaces,
  type PinReason,
  type RelocatableEdit,
} from '../relocate/plan-relocatable.js';
import { detectLayout, type Layout } from '../scan/detect-layout.js';
import { readEvidence } from '../scan/read-evidence.js';
import { leftoversOf } from '../verify/check-relocatable.js';
import { searchOldPaths } from '../verify/search-old-paths.js';
import { resolveVenvRoot } from './relocate-venv.js';

export interface MakeRelocatableOptions {
  /** The venv as the user gave it (echoed in messages). */
  readonly path: string;
  /** Plan and report, change nothing. */
  readonly dryRun?: boolean;
  /** Called with (phase, done, total) as files are searched and written; for a progress bar. */
  readonly onProgress?: (phase: string, done: number, total: number) => void;
}

/** One file make-relocatable rewrote (or would). */
export interface RelocatableChange {
  readonly path: string;
  readonly kind: FileKind;
  readonly letter: string;
  /** Why: the pin it removes, or `hashes` for a RECORD whose rows follow rewritten files. */
  readonly reason: PinReason;
}

/** A file that still pins the venv, and why it cannot be made relative. */
export interface LeftFile {
  readonly path: string;
  readonly kind: FileKind;
  readonly why: string;
  /** The places it names (empty for binaries, whose matches are counted, not read). */
  readonly names: readonly string[];
}

/** Everything make-relocatable did or would do; the CLI's formatters render it. */
export interface MakeRelocatableReport {
  readonly path: string;
  readonly root: string;
  /** `updated`: files were rewritten; `already-relocatable`: nothing to rewrite; `dry-run`. */
  readonly status: 'updated' | 'already-relocatable' | 'dry-run';
  /** True when nothing is left that pins the venv (verify --relocatable passes on that count). */
  readonly relocatable: boolean;
  readonly layout: Layout;
  /** The places treated as this venv: where it stands and every place its files name. */
  readonly places: readonly string[];
  readonly changes: readonly RelocatableChange[];
  readonly counts: Partial<Record<FileKind, number>>;
  readonly left: readonly LeftFile[];
  readonly recovered: Recovery;
  readonly timings: {
    readonly search: number;
    readonly plan: number;
    readonly apply: number;
    readonly total: number;
  };
}

/** The result: the report, and the planned edits (for `--diff` and tests). */
export interface MakeRelocatableResult {
  readonly report: MakeRelocatableReport;
  readonly edits: readonly RelocatableEdit[];
}

/** Make the venv at `opts.path` relocatable. Throws VenvToolsError when it is not a venv. */
export function makeRelocatable(opts: MakeRelocatableOptions): MakeRelocatableResult {
  const t0 = performance.now();
  const root = resolveVenvRoot(opts.path);
  // The venv's shape is checked before the lock is taken: nothing is written into a folder that
  // is not a venv.
  detectLayout(opts.path, bytesToUtf8(root));
  const release = opts.dryRun === true ? () => undefined : acquireLock(root);
  try {
    if (opts.dryRun === true && hasJournal(root)) {
      throw new VenvToolsError(
        'JOURNAL',
        `${opts.path} holds the journal of an interrupted run (${JOURNAL_NAME}); a dry run cannot plan on a half-written venv. Run venv-tools without --dry-run to finish it first.`,
        opts.path,
      );
    }
    const recovered: Recovery =
      opts.dryRun === true ? { state: 'none', files: 0 } : recoverJournal(root);
    // Again after recovery, which may have rewritten pyvenv.cfg.
    const layout = detectLayout(opts.path, bytesToUtf8(root));
    const places = venvPlaces(root, readEvidence(root, layout, true));
    let t = performance.now();
    const plan = planRelocatable(root, layout, places);
    const tPlan = performance.now() - t;
    t = performance.now();
    const search = searchOldPaths(root, layout, places, opts.onProgress);
    const left = leftoversOf(root, plan, search, places);
    const tSearch = performance.now() - t;
    t = performance.now();
    if (opts.dryRun !== true && plan.edits.length > 0) {
      const sink = new JournalSink(
        root,
        {
          old: bytesToUtf8(root),
          new: bytesToUtf8(root),
          pid: process.pid,
          created: new Date().toISOString(),
          command: 'make-relocatable',
        },
        { journal: 0, apply: 0 },
      );
      try {
        for (const e of plan.edits) {
          if (e.op === 'write') sink.write(e.rel, e.kind, e.bytes, e.before, e.stat);
          else sink.symlink(e.rel, e.target);
        }
        sink.commitAndApply(opts.onProgress);
      } catch (err) {
        sink.abort();
        throw err;
      }
    }
    const tApply = performance.now() - t;
    const changes = plan.edits.map((e) => ({
      path: bytesToUtf8(e.rel),
      kind: e.kind,
      letter: KIND_LETTER[e.kind],
      reason: e.reason,
    }));
    const counts: Partial<Record<FileKind, number>> = {};
    for (const c of changes) counts[c.kind] = (counts[c.kind] ?? 0) + 1;
    const report: MakeRelocatableReport = {
      path: opts.path,
      root: bytesToUtf8(root),
      status:
        opts.dryRun === true ? 'dry-run' : changes.length === 0 ? 'already-relocatable' : 'updated',
      relocatable: left.length === 0,
      layout,
      places: places.map(bytesToUtf8),
      changes,
      counts,
      left: left.map((l) => ({
        path: bytesToUtf8(l.rel),
        kind: l.kind,
        why: l.why,
        names: l.names.map(bytesToUtf8),
      })),
      recovered,
      timings: { search: tSearch, plan: tPlan, apply: tApply, total: performance.now() - t0 },
    };
    return { report, edits: plan.edits };
  } finally {
    release();
  }
}

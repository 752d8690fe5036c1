/**
 * `venv-tools make-relocatable`: rewrite a venv so that it keeps working after a plain `mv`,
 * `cp -a`, `tar` or `docker COPY`, with no tool run at its new place. The plan comes from
 * relocate/plan-relocatable.ts; it is applied through the same write-ahead journal as a
 * relocation, so a run is all or nothing under SIGKILL, and the next run of any command finishes
 * an interrupted one. What cannot be made relative is listed (verify/check-relocatable.ts).
 */
import { performance } from 'node:perf_hooks';
import { bytesToUtf8 } from '../core/path-boundary.js';
import { KIND_LETTER, type FileKind } from '../kinds/file-kind.js';
import { JournalSink } from '../apply/journal-sink.js';
import { planRelocatable, venvPlaces, type RelocatableEdit } from '../relocate/plan-relocatable.js';
import type { MakeRelocatableReport } from '../relocate/make-relocatable-report.js';
import { leftoversOf } from '../verify/check-relocatable.js';
import { searchOldPaths } from '../verify/search-old-paths.js';
import { openVenv } from './open-venv.js';

export interface MakeRelocatableOptions {
  /** The venv as the user gave it (echoed in messages). */
  readonly path: string;
  /** Plan and report, change nothing. */
  readonly dryRun?: boolean;
  /** Called with (phase, done, total) as files are searched and written; for a progress bar. */
  readonly onProgress?: (phase: string, done: number, total: number) => void;
}

/** The result: the report, and the planned edits (for `--diff` and tests). */
export interface MakeRelocatableResult {
  readonly report: MakeRelocatableReport;
  readonly edits: readonly RelocatableEdit[];
}

/** Make the venv at `opts.path` relocatable. Throws VenvToolsError when it is not a venv. */
export function makeRelocatable(opts: MakeRelocatableOptions): MakeRelocatableResult {
  const t0 = performance.now();
  // Locked (a real run), an interrupted run finished, and the evidence read, all of it: every
  // place the venv's files name counts as the venv (venvPlaces).
  const venv = openVenv(opts.path, {
    mode: opts.dryRun === true ? 'dry-run' : 'write',
    deep: () => true,
  });
  const { root, layout, recovered } = venv;
  try {
    const places = venvPlaces(root, venv.evidence);
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
    venv.release();
  }
}

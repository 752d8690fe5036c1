/**
 * One relocation of an opened venv, once its old and new locations are decided: the mappings,
 * the walk and planning on one or two threads (plan-tree.ts), then either the journal committed
 * and applied (apply/) or, for a dry run, the plan kept. All or nothing: until the journal is
 * committed nothing is touched; after, the next run finishes it (docs/JOURNAL.md).
 */
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Recovery } from '../apply/recover-journal.js';
import { JournalSink } from '../apply/journal-sink.js';
import { bytesToUtf8, type ByteString, type Mapping } from '../core/path-boundary.js';
import { trace } from '../core/trace.js';
import { COMMIT_POINT, finish, type Steps } from '../core/commit-point.js';
import type { Warning } from '../core/warning.js';
import { KIND_LETTER, type FileKind } from '../kinds/file-kind.js';
import {
  collectEdits,
  type DroppedPyc,
  type Edit,
  type Plan,
  type PycPolicy,
} from '../plan/planner.js';
import { VENV_PYTHON } from '../apply/regenerate-pycs.js';
import type { Layout } from '../scan/detect-layout.js';
import type { Evidence } from '../scan/evidence.js';
import { planTree, type PlanTreeResult } from './plan-tree.js';
import {
  baseReport,
  type Change,
  type RelocationReport,
  type RelocationResult,
  type Timings,
} from './relocation-report.js';
import { counterpartOutcomes, runMappings } from './run-mappings.js';
import { spawnPlanWorker, type SpareWorker } from './spawn-worker.js';

/** The venv a relocation works on, as the command opened it (commands/open-venv.ts). */
export interface VenvAtHand {
  readonly path: string;
  readonly root: ByteString;
  readonly layout: Layout;
  readonly recovered: Recovery;
  readonly evidence: readonly Evidence[];
}

export interface RunRequest {
  readonly venv: VenvAtHand;
  readonly old: ByteString;
  readonly target: ByteString;
  /** `--map`s, checked and normalised. */
  readonly maps: readonly Mapping[];
  /** Warnings the command found about the locations (NORMALIZED): first in the report. */
  readonly warningsBefore: readonly Warning[];
  /** And about the venv where it will stand (INTERPRETER_MISSING): last. */
  readonly warningsAfter: readonly Warning[];
  readonly dryRun: boolean;
  /**
   * A sourceless pyc that cannot be rewritten and names the old path: refused (the default),
   * dropped (--drop-unreadable-pycs), or listed as refused (scan's dry run).
   */
  readonly sourceless: PycPolicy['sourceless'];
  /** 1, 2, or undefined for the default (two for a large venv on a machine with 2 CPUs or more). */
  readonly threads: number | undefined;
  readonly onProgress: ((phase: string, done: number, total: number) => void) | undefined;
  /** When the command began, and the times so far (total is set at the end). */
  readonly t0: number;
  readonly timings: Timings;
}

/** Relocate `req.venv` from `req.old` to `req.target` (see the file comment). */
export function runRelocation(req: RunRequest): RelocationResult {
  return finish(runRelocationSteps(req));
}

/**
 * runRelocation() as steps: it yields once, at the commit point, when every file is planned and
 * the journal is written but not committed (core/commit-point.ts); a dry run never does.
 */
export function* runRelocationSteps(req: RunRequest): Steps<RelocationResult> {
  const { venv, old, target, timings } = req;
  // The second planning thread boots (about 0.1-0.2 s) while this one walks the venv. planTree
  // lets it go if the venv is small, and so does the `finally` below if the run ends first.
  const threads = req.threads ?? (availableParallelism() > 1 ? 'auto' : 1);
  let spare: SpareWorker | undefined;
  if (!req.dryRun && threads !== 1) spare = spawnPlanWorker();
  trace('worker spawned');
  try {
    const run = runMappings(venv.root, old, target, req.maps);
    const header = {
      old: bytesToUtf8(old),
      new: bytesToUtf8(target),
      pid: process.pid,
      created: new Date().toISOString(),
      command: 'relocate',
    };
    // A real run appends each edit to the journal as it is made, so that no run holds more than
    // one file's old and new content.
    const sink = req.dryRun ? collectEdits() : new JournalSink(venv.root, header, timings);
    try {
      const planned = planTree({
        root: venv.root,
        layout: venv.layout,
        mappings: run.mappings,
        along: run.along,
        counterparts: run.counterparts,
        needles: run.needles,
        sink,
        ...(sink instanceof JournalSink
          ? { frames: (b: Buffer, c: number[], ch: Uint8Array) => sink.appendFrames(b, c, ch) }
          : {}),
        threads,
        sourceless: req.sourceless,
        ...(spare === undefined ? {} : { spare }),
      });
      timings.walk = planned.tWalk;
      timings.search = planned.tRead;
      timings.plan = planned.tPlan;
      const outcomes = counterpartOutcomes(run);
      let summaries: Array<{ rel: ByteString; kind: FileKind; op: Edit['op'] }>;
      let dryPlan: Plan | undefined;
      let dropped = planned.dropped;
      if (sink instanceof JournalSink) {
        // This thread appended its own edits to the journal while planning: journal time.
        timings.plan = Math.max(0, timings.plan - sink.appendMs);
        yield COMMIT_POINT;
        const jobs = dropped.flatMap((d) =>
          d.job === undefined ? [] : [{ rel: d.rel, job: d.job }],
        );
        const failed = sink.commitAndApply(req.onProgress, planned.helper, jobs);
        dropped = compiled(dropped, jobs, failed);
        summaries = sink.changes.entries();
      } else {
        const edits = sink.edits();
        dryPlan = { edits, binaries: planned.binaries, warnings: planned.warnings };
        summaries = edits;
      }
      const changes = changesOf(summaries);
      timings.total = performance.now() - req.t0;
      const report: RelocationReport = {
        ...baseReport(venv, req.dryRun ? 'dry-run' : 'updated', old, target, timings),
        mappings: [...run.reports, ...outcomes.reports],
        changes,
        counts: countsOf(changes),
        binaries: planned.binaries.map((b) => ({
          path: bytesToUtf8(b.rel),
          matches: b.matches,
          format: b.format,
        })),
        droppedPycs: dropped.map((d) => ({
          path: bytesToUtf8(d.rel),
          source: d.source === undefined ? undefined : bytesToUtf8(d.source),
          outcome: d.outcome,
          reason: d.reason,
        })),
        warnings: [
          ...req.warningsBefore,
          ...run.warnings,
          ...outcomes.warnings,
          ...droppedWarnings(dropped),
          ...planned.warnings,
          ...largeBinaryWarnings(planned),
          ...req.warningsAfter,
        ],
        stats: planned.stats,
      };
      return { report, plan: dryPlan };
    } catch (err) {
      if (sink instanceof JournalSink) sink.abort();
      throw err;
    }
  } finally {
    // The worker (planTree's helper, if it kept it) is let go, whatever happened.
    spare?.close();
  }
}

/** The dropped pycs once compiled: a job that failed leaves its pyc removed, and says why. */
function compiled(
  dropped: readonly DroppedPyc[],
  jobs: ReadonlyArray<{ rel: ByteString }>,
  failed: ReadonlyArray<string | undefined>,
): DroppedPyc[] {
  const why = new Map<ByteString, string>();
  jobs.forEach((j, i) => {
    const f = failed[i];
    if (f !== undefined) why.set(j.rel, f);
  });
  return dropped.map((d) => {
    const f = why.get(d.rel);
    if (f === undefined || d.outcome !== 'regenerated') return d;
    return {
      rel: d.rel,
      source: d.source,
      outcome: 'removed',
      reason: `${d.reason}; compiling it again failed: ${f}`,
    };
  });
}

/** One warning per dropped pyc, saying what became of it (scan words the refused ones). */
function droppedWarnings(dropped: readonly DroppedPyc[]): Warning[] {
  return dropped.flatMap((d): Warning[] => {
    const path = bytesToUtf8(d.rel);
    const source = d.source === undefined ? undefined : bytesToUtf8(d.source);
    if (d.outcome === 'regenerated') {
      return [
        {
          code: 'PYC_REGENERATED',
          message: `compiled ${path} again from ${source} with ${VENV_PYTHON} (${d.reason})`,
          path,
        },
      ];
    }
    if (d.outcome === 'refused') return [];
    const then =
      source === undefined
        ? 'it had no source (--drop-unreadable-pycs)'
        : `Python compiles it again from ${source} on import`;
    return [{ code: 'PYC_REMOVED', message: `removed ${path} (${d.reason}); ${then}`, path }];
  });
}

/** Binaries too large to read whole that hold the path: listed, never edited. */
function largeBinaryWarnings(planned: PlanTreeResult): Warning[] {
  return planned.largeBinaries.map((b) => ({
    code: 'BINARY_NOT_EDITED',
    message: `${bytesToUtf8(b.rel)} (${(b.size / 1e6).toFixed(0)} MB, not read whole) holds text of the old path; binaries are never edited`,
    path: bytesToUtf8(b.rel),
  }));
}

/** One change per file, in path order (a pyc planned twice has two journal records). */
function changesOf(
  summaries: Array<{ rel: ByteString; kind: FileKind; op: Edit['op'] }>,
): Change[] {
  summaries.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  return summaries
    .filter((e, i) => i === 0 || e.rel !== summaries[i - 1]!.rel)
    .map((e) => ({
      path: bytesToUtf8(e.rel),
      kind: e.kind,
      letter: KIND_LETTER[e.kind],
      op: e.op,
    }));
}

function countsOf(changes: readonly Change[]): Partial<Record<FileKind, number>> {
  const counts: Partial<Record<FileKind, number>> = {};
  for (const c of changes) counts[c.kind] = (counts[c.kind] ?? 0) + 1;
  return counts;
}

import { availableParallelism } from 'node:os';
import { resolve as resolvePath } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fs } from '../core/fs.js';
import { VenvToolsError } from '../core/errors.js';
import { KIND_LETTER, type FileKind } from '../kinds/file-kind.js';
import {
  bytesToUtf8,
  fromBytes,
  toBytes,
  utf8ToBytes,
  type ByteString,
  type Mapping,
} from '../core/path-boundary.js';
import { detectLayout, joinAsGiven, type Layout } from '../scan/detect-layout.js';
import { findOldPrefix, type Evidence } from '../scan/find-old-prefix.js';
import { readEvidence } from '../scan/read-evidence.js';
import { trace } from '../core/trace.js';
import { checkFoundOld, checkFrom, checkLocations } from '../scan/check-locations.js';
import { checkInterpreter } from '../scan/check-interpreter.js';
import { JOURNAL_NAME } from '../apply/journal.js';
import { JournalSink } from '../apply/journal-sink.js';
import { planFiles, spawnPlanWorker, type SpareWorker } from '../relocate/plan-tree.js';
import { acquireLock } from '../apply/lock.js';
import { movedAlong, movedRoot, pathExists } from '../plan/moved-root.js';
import { collectEdits, type Edit, type Plan, type Warning } from '../plan/planner.js';
import { hasJournal, recoverJournal, type Recovery } from '../apply/recover-journal.js';
import { isMarkedRelocatable } from '../kinds/relocatable-pyvenv-cfg.js';

/** The ALREADY_RELOCATABLE note for a venv whose pyvenv.cfg says `relocatable = true`. */
function relocatableNote(root: ByteString, layout: Layout, shownPath: string): RunWarning[] {
  if (!layout.hasPyvenvCfg) return [];
  let cfg: Buffer;
  try {
    cfg = fs.readFileSync(toBytes(`${root}/pyvenv.cfg`));
  } catch {
    return [];
  }
  if (!isMarkedRelocatable(cfg)) return [];
  return [
    {
      code: 'ALREADY_RELOCATABLE',
      message: `${shownPath} is already relocatable (pyvenv.cfg: relocatable = true): its scripts, activate scripts, .pth and RECORD find it at run time and were left as they are`,
    },
  ];
}

export interface RelocateOptions {
  /** The venv as the user gave it (echoed in messages). */
  readonly path: string;
  /** The new location; must be absolute. */
  readonly to: string;
  /** How the user named `to`, for messages: `--to` (the default) or `--update-path`. */
  readonly toFlag?: string;
  /** The old location, when the evidence cannot tell. */
  readonly from?: string;
  /**
   * Accept `from` even when it is a system folder or the venv's own files name other locations
   * (`--force-from`). `/` is refused whatever this says.
   */
  readonly forceFrom?: boolean;
  /** Extra mappings (`--map A=B`). */
  readonly maps?: ReadonlyArray<{ readonly from: string; readonly to: string }>;
  readonly dryRun?: boolean;
  /**
   * Threads to read and plan on, 1 or 2. By default two on a machine with 2 CPUs or more, for a
   * venv of THREAD_MIN_FILES files or more.
   */
  readonly threads?: number;
  /** Called with (phase, done, total) as files are processed; for a progress bar. */
  readonly onProgress?: (phase: string, done: number, total: number) => void;
}

/**
 * A warning about the run as a whole, beside the planner's about single files: a location that
 * normalising changed (NORMALIZED), an interpreter missing on this machine (INTERPRETER_MISSING),
 * a venv that make-relocatable made relocatable (ALREADY_RELOCATABLE: its relative forms hold no
 * path, so no rewriter touches them, and it is said so).
 */
export interface RunWarning {
  readonly code: 'NORMALIZED' | 'INTERPRETER_MISSING' | 'ALREADY_RELOCATABLE';
  readonly message: string;
  readonly path?: string;
}

/** One changed file, for reports. */
export interface Change {
  readonly path: string;
  readonly kind: FileKind;
  readonly letter: string;
  readonly op: Edit['op'];
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
  readonly warnings: ReadonlyArray<Warning | RunWarning>;
  readonly stats: { files: number; bytes: number; symlinks: number; dirs: number };
  readonly timings: Timings;
}

/** The result of `relocate`: the report, and the plan (for `--diff`). */
export interface RelocationResult {
  readonly report: RelocationReport;
  readonly plan: Plan | undefined;
}

export { requireAbsolute } from '../scan/check-locations.js';

/**
 * The needle for the byte search: the longest head of a path made of characters that no
 * escaping changes (JSON, Python repr, shell quotes, URL percent-encoding all keep
 * `[A-Za-z0-9/_.~-]`). Any spelling of the path in any file then contains it.
 */
export function safeNeedle(p: ByteString): Buffer {
  let i = 0;
  while (i < p.length && /[A-Za-z0-9/_.~-]/.test(p[i] as string)) i++;
  return toBytes(p.slice(0, Math.max(i, 1)));
}

function realOrSelf(p: Buffer): ByteString {
  try {
    return fromBytes(fs.realpathSync(p, { encoding: 'buffer' }) as unknown as Buffer);
  } catch {
    return fromBytes(p);
  }
}

/** Resolve PATH, refuse `/`, and finish any interrupted run (the caller may hold the lock). */
export function resolveVenvRoot(given: string): ByteString {
  const abs = utf8ToBytes(resolvePath(given));
  if (abs === '/' || realOrSelf(toBytes(abs)) === '/') {
    throw new VenvToolsError(
      'REFUSED_ROOT',
      `refusing to work on / (${given}): name the venv folder itself`,
      given,
    );
  }
  return abs;
}

function emptyTimings(): Timings {
  return { walk: 0, search: 0, plan: 0, journal: 0, apply: 0, total: 0 };
}

/**
 * Relocate a venv: scan -> plan -> journal -> apply (DESIGN.md). All or nothing: until the
 * journal is committed nothing is touched; after, the next run finishes it.
 */
export function relocate(opts: RelocateOptions): RelocationResult {
  trace('relocate');
  const t0 = performance.now();
  const timings = emptyTimings();
  const shownPath = opts.path;
  // Every location is normalised and checked before the lock is taken and anything is written,
  // dry runs too: `/` and system folders are refused (check-locations.ts).
  const given = checkLocations({
    path: shownPath,
    to: opts.to,
    toFlag: opts.toFlag ?? '--to',
    from: opts.from,
    maps: opts.maps ?? [],
  });
  const target = given.to;
  const root = resolveVenvRoot(opts.path);

  // Check the venv's shape before taking the lock, so nothing is written into a folder that is
  // not a venv. The folders checked are never touched by a relocation, so a torn run cannot
  // change the verdict.
  const layout = detectLayout(opts.path, bytesToUtf8(root));
  // `--from` against the venv's own files, before the lock too; unless an interrupted run's
  // journal is there, whose files may be torn: then only after recovery, below. It is checked
  // again under the lock, on the evidence the run acts on, which another run may have changed.
  const checkGivenFrom = (evidence: readonly Evidence[]): void => {
    if (given.from !== undefined && opts.forceFrom !== true)
      checkFrom(given.from, opts.from ?? '', evidence, target, shownPath);
  };
  if (given.from !== undefined && opts.forceFrom !== true && !hasJournal(root))
    checkGivenFrom(readEvidence(root, layout));
  // The interpreter as the venv will see it: links into the venv are read where it stands.
  const interpreterWarnings = (old: ByteString | undefined): RunWarning[] => {
    const w = checkInterpreter(
      root,
      layout,
      old === undefined ? [target] : [old, target],
      shownPath,
    );
    return w === undefined ? [] : [w];
  };
  const release = opts.dryRun ? () => undefined : acquireLock(root);
  let spare: SpareWorker | undefined;
  try {
    if (opts.dryRun && hasJournal(root)) {
      throw new VenvToolsError(
        'JOURNAL',
        `${shownPath} holds the journal of an interrupted run (${JOURNAL_NAME}); a dry run cannot plan on a half-written venv. Run venv-tools without --dry-run to finish it first.`,
        shownPath,
      );
    }
    const recovered = opts.dryRun
      ? ({ state: 'none', files: 0 } as Recovery)
      : recoverJournal(root);
    let evidence = readEvidence(root, layout);
    // The scripts, activate and pyvenv.cfg settle a normal run at the cost of a few small files.
    // When they name nothing but the target (or nothing at all), every pyc, RECORD and .pth is
    // asked too (a read of every pyc): a run that stopped half-way may have left them naming
    // the old place, and "up to date" must mean that all of them name the target.
    if (opts.from === undefined && !evidence.some((e) => e.location !== target)) {
      evidence = readEvidence(root, layout, true);
    }
    const note = relocatableNote(root, layout, shownPath);
    // Nothing names any place: a relocatable venv has nothing to rewrite, which is up to date.
    if (given.from === undefined && evidence.length === 0 && note.length > 0) {
      timings.total = performance.now() - t0;
      return { report: upToDate(), plan: undefined };
    }
    let old: ByteString;
    if (given.from !== undefined) {
      checkGivenFrom(evidence);
      old = given.from;
    } else {
      const found = findOldPrefix(evidence, target, shownPath);
      if (found.state === 'up-to-date') {
        timings.total = performance.now() - t0;
        return { report: upToDate(), plan: undefined };
      }
      old = found.old;
      checkFoundOld(old, evidence, target, shownPath);
    }
    if (old === target) {
      timings.total = performance.now() - t0;
      return { report: upToDate(), plan: undefined };
    }
    // There is work: the second planning thread boots (about 0.1-0.2 s) while this one walks the
    // venv. planFiles lets it go if the venv is small, and so does the `finally` below if the
    // run ends before planning.
    const threads = opts.threads ?? (availableParallelism() > 1 ? 'auto' : 1);
    if (!opts.dryRun && threads !== 1) spare = spawnPlanWorker();
    trace('worker spawned');

    const venvMapping: Mapping = { from: old, to: target };
    const explicit: Mapping[] = given.maps;
    const mappingReports: MappingReport[] = [
      { from: bytesToUtf8(old), to: bytesToUtf8(target), why: 'venv' },
      ...explicit.map((m) => ({
        from: bytesToUtf8(m.from),
        to: bytesToUtf8(m.to),
        why: 'map' as const,
      })),
    ];
    const warnings: Array<Warning | RunWarning> = [...given.warnings, ...note];
    const mappings: Mapping[] = [venvMapping, ...explicit];
    const root2 = movedRoot(old, target);
    // Sources that moved along (after the move): a reference under the old root maps when its
    // counterpart under the new root exists. Each rewriter asks, with the path as it decoded it.
    const counterparts = new Map<ByteString, boolean>();
    // Relocated ahead of its move: the venv still sits at OLD and NEW does not exist yet, so
    // counterparts cannot be checked; assume the whole moved root goes along (virtualenv-tools' flow).
    const ahead =
      root2 !== undefined &&
      realOrSelf(toBytes(old)) === realOrSelf(toBytes(root)) &&
      !pathExists(target);
    if (root2 !== undefined && !ahead) {
      mappings.push(movedAlong(root2, old, counterparts));
    }
    if (root2 !== undefined && ahead) {
      mappings.push(root2);
      mappingReports.push({
        from: bytesToUtf8(root2.from),
        to: bytesToUtf8(root2.to),
        why: 'moved-along-assumed',
      });
      warnings.push({
        code: 'ASSUMED_MOVED_ALONG',
        message: `${bytesToUtf8(target)} does not exist yet: references under ${bytesToUtf8(root2.from)} were mapped to ${bytesToUtf8(root2.to)}, assuming that folder moves along with the venv`,
      });
    }

    // Walk, then read each file once and plan it from the read buffer (planFiles). A real run
    // appends each edit to the journal as it is made, so no run holds more than one file's old
    // and new content. One needle per mapping, minus those holding another (a file holding the
    // longer one holds the shorter): the search reads every byte of the venv once per needle.
    const heads = [
      ...new Set(
        [...mappings, ...(root2 ? [root2] : [])].map((m) => fromBytes(safeNeedle(m.from))),
      ),
    ];
    const needleSet = heads.filter((n) => !heads.some((o) => o !== n && n.includes(o)));
    const header = {
      old: bytesToUtf8(old),
      new: bytesToUtf8(target),
      pid: process.pid,
      created: new Date().toISOString(),
      command: 'relocate',
    };
    const sink = opts.dryRun ? collectEdits() : new JournalSink(root, header, timings);
    try {
      const alongIndex = mappings.findIndex((m) => m.accept !== undefined);
      const planned = planFiles({
        root,
        layout,
        mappings,
        along:
          alongIndex === -1 || root2 === undefined ? undefined : { index: alongIndex, root2, old },
        counterparts,
        needles: needleSet.map(toBytes),
        sink,
        ...(sink instanceof JournalSink
          ? { frames: (b: Buffer, c: number[], ch: Uint8Array) => sink.appendFrames(b, c, ch) }
          : {}),
        threads,
        ...(spare === undefined ? {} : { spare }),
      });
      timings.walk = planned.tWalk;
      timings.search = planned.tRead;
      timings.plan = planned.tPlan;
      for (const [rest, ok] of [...counterparts].sort()) {
        const from = bytesToUtf8((root2 as Mapping).from + rest);
        const to = bytesToUtf8((root2 as Mapping).to + rest);
        if (ok) {
          mappingReports.push({ from, to, why: 'moved-along' });
        } else {
          warnings.push({
            code: 'OUTSIDE_REFERENCE',
            message: `${from} is outside the venv and ${to} does not exist: left as it is (use --map to map it)`,
            path: from,
          });
        }
      }
      warnings.push(...planned.warnings);
      for (const b of planned.largeBinaries) {
        warnings.push({
          code: 'BINARY_NOT_EDITED',
          message: `${bytesToUtf8(b.rel)} (${(b.size / 1e6).toFixed(0)} MB, not read whole) holds text of the old path; binaries are never edited`,
          path: bytesToUtf8(b.rel),
        });
      }
      const stats = planned.stats;
      let summaries: Array<{ rel: ByteString; kind: FileKind; op: Edit['op'] }>;
      let dryPlan: Plan | undefined;
      if (sink instanceof JournalSink) {
        // This thread appended its own edits to the journal while planning: journal time.
        timings.plan = Math.max(0, timings.plan - sink.appendMs);
        sink.commitAndApply(opts.onProgress, planned.helper);
        summaries = sink.changes.entries();
      } else {
        const edits = sink.edits();
        dryPlan = { edits, binaries: planned.binaries, warnings: planned.warnings };
        summaries = edits;
      }
      summaries.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
      // A pyc planned again once its new source was known (plan-files.ts) has two records.
      summaries = summaries.filter((e, i) => i === 0 || e.rel !== summaries[i - 1]!.rel);
      const changes: Change[] = summaries.map((e) => ({
        path: bytesToUtf8(e.rel),
        kind: e.kind,
        letter: KIND_LETTER[e.kind],
        op: e.op,
      }));
      timings.total = performance.now() - t0;
      const counts: Partial<Record<FileKind, number>> = {};
      for (const c of changes) counts[c.kind] = (counts[c.kind] ?? 0) + 1;
      const report: RelocationReport = {
        ...baseReport(opts.dryRun ? 'dry-run' : 'updated', old),
        mappings: mappingReports,
        changes,
        counts,
        binaries: planned.binaries.map((b) => ({
          path: bytesToUtf8(b.rel),
          matches: b.matches,
          format: b.format,
        })),
        warnings: [...warnings, ...interpreterWarnings(old)],
        stats,
      };
      return { report, plan: dryPlan };
    } catch (err) {
      if (sink instanceof JournalSink) sink.abort();
      throw err;
    }
    function upToDate(): RelocationReport {
      return {
        ...baseReport('up-to-date', undefined),
        warnings: [...given.warnings, ...note, ...interpreterWarnings(undefined)],
      };
    }
    function baseReport(
      status: RelocationReport['status'],
      oldPath: ByteString | undefined,
    ): RelocationReport {
      return {
        path: shownPath,
        root: bytesToUtf8(root),
        status,
        old: oldPath === undefined ? undefined : bytesToUtf8(oldPath),
        new: bytesToUtf8(target),
        layout,
        evidence: evidence.map((e) => ({
          file: bytesToUtf8(e.file),
          source: e.source,
          location: bytesToUtf8(e.location),
          count: e.count ?? 1,
        })),
        mappings: [],
        recovered,
        changes: [],
        counts: {},
        binaries: [],
        warnings: [],
        stats: { files: 0, bytes: 0, symlinks: 0, dirs: 0 },
        timings,
      };
    }
  } finally {
    // The worker (planFiles' helper, if it kept it) is let go, whatever happened.
    spare?.close();
    release();
  }
}

export { joinAsGiven };

/**
 * The mappings one relocation applies, beyond the venv's own: `--map`s, and the root that moved
 * along with the venv (docs/REWRITING.md, "Sources that moved along"). Whether a counterpart
 * exists is asked of the disk here, on the planner's behalf.
 */
import { bytesToUtf8, fromBytes, type ByteString, type Mapping } from '../core/path-boundary.js';
import { pathExists, realOrSelf } from '../core/real-path.js';
import type { Warning } from '../core/warning.js';
import { movedAlong, movedRoot } from '../plan/moved-root.js';
import { safeNeedle } from '../scan/safe-needle.js';
import type { MappingReport } from './relocation-report.js';
import type { WorkerInit } from './worker-protocol.js';

export interface RunMappings {
  /** The venv's own first, then `--map`s, then the moved root (conditional or assumed). */
  readonly mappings: Mapping[];
  readonly reports: MappingReport[];
  readonly warnings: Warning[];
  /** The moved root, when old and new share a tail. */
  readonly root2: Mapping | undefined;
  /** The moved-along answers, by the rest of the path under the moved root (filled as asked). */
  readonly counterparts: Map<ByteString, boolean>;
  /** The conditional moved-along mapping, for a worker thread to rebuild. */
  readonly along: WorkerInit['along'];
  /**
   * One needle per mapping, minus those holding another (a file holding the longer one holds
   * the shorter): the search reads every byte of the venv once per needle.
   */
  readonly needles: Buffer[];
}

/** The mappings of a relocation of the venv at `root` from `old` to `target`. */
export function runMappings(
  root: ByteString,
  old: ByteString,
  target: ByteString,
  explicit: readonly Mapping[],
): RunMappings {
  const mappings: Mapping[] = [{ from: old, to: target }, ...explicit];
  const reports: MappingReport[] = [
    { from: bytesToUtf8(old), to: bytesToUtf8(target), why: 'venv' },
    ...explicit.map((m) => ({
      from: bytesToUtf8(m.from),
      to: bytesToUtf8(m.to),
      why: 'map' as const,
    })),
  ];
  const warnings: Warning[] = [];
  const root2 = movedRoot(old, target);
  const counterparts = new Map<ByteString, boolean>();
  // Relocated ahead of its move: the venv still sits at OLD and NEW does not exist yet, so
  // counterparts cannot be checked; assume the whole moved root goes along (virtualenv-tools'
  // flow: relocate, then move the app folder).
  const ahead = root2 !== undefined && realOrSelf(old) === realOrSelf(root) && !pathExists(target);
  if (root2 !== undefined && !ahead) {
    mappings.push(movedAlong(root2, old, counterparts, pathExists));
  }
  if (root2 !== undefined && ahead) {
    mappings.push(root2);
    reports.push({
      from: bytesToUtf8(root2.from),
      to: bytesToUtf8(root2.to),
      why: 'moved-along-assumed',
    });
    warnings.push({
      code: 'ASSUMED_MOVED_ALONG',
      message: `${bytesToUtf8(target)} does not exist yet: references under ${bytesToUtf8(root2.from)} were mapped to ${bytesToUtf8(root2.to)}, assuming that folder moves along with the venv`,
    });
  }
  const heads = [
    ...new Set([...mappings, ...(root2 ? [root2] : [])].map((m) => fromBytes(safeNeedle(m.from)))),
  ];
  const needles = heads
    .filter((n) => !heads.some((o) => o !== n && n.includes(o)))
    .map((n) => Buffer.from(n, 'latin1'));
  const alongIndex = mappings.findIndex((m) => m.accept !== undefined);
  return {
    mappings,
    reports,
    warnings,
    root2,
    counterparts,
    along: alongIndex === -1 || root2 === undefined ? undefined : { index: alongIndex, root2, old },
    needles,
  };
}

/**
 * Once planned: each reference under the moved root that was asked about is either mapped (its
 * counterpart exists) or left alone with a warning.
 */
export function counterpartOutcomes(run: RunMappings): {
  reports: MappingReport[];
  warnings: Warning[];
} {
  const reports: MappingReport[] = [];
  const warnings: Warning[] = [];
  if (run.root2 === undefined) return { reports, warnings };
  for (const [rest, ok] of [...run.counterparts].sort()) {
    const from = bytesToUtf8(run.root2.from + rest);
    const to = bytesToUtf8(run.root2.to + rest);
    if (ok) {
      reports.push({ from, to, why: 'moved-along' });
    } else {
      warnings.push({
        code: 'OUTSIDE_REFERENCE',
        message: `${from} is outside the venv and ${to} does not exist: left as it is (use --map to map it)`,
        path: from,
      });
    }
  }
  return { reports, warnings };
}

/**
 * `venv-tools scan`: describe a venv before touching it. The layout, where its files say it
 * lives and the evidence for that, and every file that names that location, by kind, exactly
 * as a relocation would see them: the file list is a dry run of relocate itself, so scan can
 * never promise a rewrite that relocate would not make, or miss one it would.
 */
import { performance } from 'node:perf_hooks';
import { VenvToolsError } from '../core/errors.js';
import { KIND_LETTER, type FileKind } from '../kinds/file-kind.js';
import { normalizeLocation } from '../core/normalize-location.js';
import {
  bytesToUtf8,
  fromBytes,
  holdsAnyPath,
  isNameByte,
  utf8ToBytes,
  type ByteString,
  type Mapping,
} from '../core/path-boundary.js';
import { refusedLocation } from '../core/refused-location.js';
import type { Edit } from '../plan/planner.js';
import { type RelocationReport } from '../relocate/relocation-report.js';
import { fixOf, relocateArgv } from '../verify/fix-command.js';
import { openVenv } from './open-venv.js';
import { type ScannedFile, stateOf } from '../scan/locations.js';
import { type ScanReport, type ScanWarning } from '../report/scan-report.js';
import { relocateOpened } from './relocate-venv.js';
import { locationsOf } from '../scan/locations.js';
import { checkLocations } from '../scan/check-locations.js';
import { type OpenedVenv } from './open-venv.js';

export interface ScanOptions {
  /** The venv as the user gave it (echoed in messages). */
  readonly path: string;
  /** Passed on to relocate's dry run; (phase, done, total). */
  readonly onProgress?: (phase: string, done: number, total: number) => void;
}

/**
 * A target for listing the files that name a venv standing where it was built: any absolute
 * path works for a dry run, as long as it shares no last component with the location (then no
 * "moved along" root is derived from it, and only the venv's own location is mapped).
 */
export function probeTarget(location: string): string {
  const base = location.slice(location.lastIndexOf('/') + 1);
  return `/${base}.venv-tools-scan`;
}

/**
 * True when `from` occurs in a pyc's bytes as the head of a path. The byte before it is not
 * looked at: in marshal data it is a string's length (a short string's is one byte, often a
 * letter or digit), so the whole-path rule cannot be read off the raw bytes.
 */
function pycNames(s: ByteString, from: ByteString): boolean {
  for (let i = s.indexOf(from); i !== -1; i = s.indexOf(from, i + 1)) {
    const end = i + from.length;
    if (end >= s.length || !isNameByte(s.charCodeAt(end))) return true;
  }
  return false;
}

/** The mapped paths (`from`s) a change's old content names itself; empty for one that only follows. */
export function mappedNamedBy(edit: Edit, mapped: readonly Mapping[]): ByteString[] {
  // A pyc removed because it could not be rewritten held a mapped path: that is why it was read.
  if (edit.op === 'remove') return mapped.slice(0, 1).map((m) => m.from);
  if (edit.op === 'symlink')
    return mapped.filter((m) => holdsAnyPath(edit.before, [m])).map((m) => m.from);
  const s = fromBytes(edit.before);
  if (edit.kind === 'pyc') return mapped.filter((m) => pycNames(s, m.from)).map((m) => m.from);
  return mapped.filter((m) => holdsAnyPath(s, [m])).map((m) => m.from);
}

/** The files a relocation of the opened venv from `old` to `to` would rewrite: relocate's own dry run. */
function plannedFiles(
  venv: OpenedVenv,
  old: string,
  to: string,
  onProgress: ScanOptions['onProgress'],
): { report: RelocationReport; files: ScannedFile[]; bytes: number } {
  const given = checkLocations({ path: venv.path, to, toFlag: '--to', from: old, maps: [] });
  const { report, plan } = relocateOpened(venv, given, {
    from: old,
    dryRun: true,
    listRefusedPycs: true,
    ...(onProgress === undefined ? {} : { onProgress }),
  });
  const mapped: Mapping[] = report.mappings.map((m) => ({
    from: utf8ToBytes(m.from),
    to: utf8ToBytes(m.to),
  }));
  const edits = plan?.edits ?? [];
  const files = edits.map((e) => ({
    path: bytesToUtf8(e.rel),
    kind: e.kind,
    letter: KIND_LETTER[e.kind],
    names: mappedNamedBy(e, mapped).length > 0,
  }));
  const bytes = edits.reduce((n, e) => n + (e.op === 'write' ? e.bytes.length : 0), 0);
  return { report, files, bytes };
}

/** Describe a venv and every file that names its recorded location; changes nothing. */
export function scanVenv(opts: ScanOptions): ScanReport {
  const t0 = performance.now();
  const venv = openVenv(opts.path, { mode: 'read', deep: () => true });
  try {
    return scanOpened(venv, opts, t0);
  } finally {
    venv.release();
  }
}

function scanOpened(venv: OpenedVenv, opts: ScanOptions, t0: number): ScanReport {
  const rootShown = bytesToUtf8(venv.root);
  const locations = locationsOf(venv.evidence, venv.root);
  const state = stateOf(locations);
  const warnings: ScanWarning[] = [];
  const others = locations.filter((l) => !l.here);
  let old: string | null = null;
  let to: string | undefined;
  if (state === 'in-place') {
    // Prefer the spelling the scripts use (they name the real path when PATH is a link).
    old = (locations.find((l) => l.location === rootShown) ?? locations[0])!.location;
    to = probeTarget(old);
  } else if (state === 'moved' || state === 'half-relocated') {
    old = others[0]!.location;
    to = rootShown;
  } else if (state === 'ambiguous') {
    warnings.push({
      code: 'AMBIGUOUS_OLD_PREFIX',
      message: `the evidence names ${others.length} other locations (${others.map((l) => l.location).join(', ')}); name the right one with venv-tools relocate --from OLD`,
    });
  } else {
    warnings.push({
      code: 'NO_OLD_PREFIX',
      message:
        'no activate script, script shebang, pyvenv.cfg command, pyc, RECORD or .pth names a location; relocate needs --from OLD',
    });
  }

  let files: ScannedFile[] = [];
  let rewriteBytes = 0;
  let report: RelocationReport | undefined;
  if (old !== null && to !== undefined) {
    try {
      ({ report, files, bytes: rewriteBytes } = plannedFiles(venv, old, to, opts.onProgress));
    } catch (err) {
      // A file the planner cannot rewrite, or a location a relocation refuses (the files of a
      // venv that `--update-path /` damaged name /): scan still describes the venv, and says so.
      if (
        !(err instanceof VenvToolsError) ||
        !['BAD_PYC', 'BAD_INPUT', 'UNSUPPORTED', 'REFUSED_LOCATION'].includes(err.code)
      )
        throw err;
      warnings.push({
        code: 'WOULD_FAIL',
        message: `a relocation would fail: ${err.message}`,
        ...(err.path === undefined ? {} : { path: err.path }),
      });
    }
  }
  const counts: Partial<Record<FileKind, number>> = {};
  for (const f of files) counts[f.kind] = (counts[f.kind] ?? 0) + 1;
  if (report !== undefined) warnings.push(...report.warnings);
  for (const d of report?.droppedPycs ?? []) {
    if (d.outcome !== 'refused') continue;
    warnings.push({
      code: 'WOULD_FAIL',
      message: `a relocation would refuse ${d.path}: ${d.reason}, and it has no source beside it; --drop-unreadable-pycs removes it`,
      path: d.path,
    });
  }
  const moved = state === 'moved' || state === 'half-relocated';
  const otherLocations = others.map((l) => l.location);
  // No fix when every other location is one relocate refuses: the warning says why.
  const fixes = otherLocations.every((l) => refusedLocation(normalizeLocation(l)) !== undefined)
    ? []
    : [
        fixOf(
          `rewrites every file that names ${otherLocations.join(' or ')} for ${rootShown}`,
          relocateArgv(opts.path, rootShown, otherLocations),
        ),
      ];
  return {
    path: opts.path,
    root: rootShown,
    layout: venv.layout,
    state,
    old,
    locations,
    files,
    counts,
    rewriteBytes,
    binaries: report?.binaries ?? [],
    droppedPycs: report?.droppedPycs ?? [],
    mappings: moved && report !== undefined ? report.mappings : [],
    warnings,
    fixes,
    recovered: venv.recovered,
    stats: report?.stats ?? { files: 0, bytes: 0, symlinks: 0, dirs: 0 },
    timings: {
      walk: report?.timings.walk ?? 0,
      search: report?.timings.search ?? 0,
      plan: report?.timings.plan ?? 0,
      total: performance.now() - t0,
    },
  };
}

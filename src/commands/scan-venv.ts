/**
 * `venv-tools scan`: describe a venv before touching it. The layout, where its files say it
 * lives and the evidence for that, and every file that names that location, by kind, exactly
 * as a relocation would see them: the file list is a dry run of relocate itself, so scan can
 * never promise a rewrite that relocate would not make, or miss one it would.
 */
import { performance } from 'node:perf_hooks';
import { fs } from '../core/fs.js';
import { VenvToolsError } from '../core/errors.js';
import { KIND_LETTER, type FileKind } from '../kinds/file-kind.js';
import { normalizeLocation } from '../core/normalize-location.js';
import {
  bytesToUtf8,
  fromBytes,
  holdsAnyPath,
  isNameByte,
  toBytes,
  utf8ToBytes,
  type ByteString,
  type Mapping,
} from '../core/path-boundary.js';
import { refusedLocation } from '../core/refused-location.js';
import { acquireLock } from '../apply/lock.js';
import type { Edit } from '../plan/planner.js';
import { hasJournal, recoverJournal, type Recovery } from '../apply/recover-journal.js';
import {
  relocate,
  resolveVenvRoot,
  type MappingReport,
  type RelocationReport,
} from './relocate-venv.js';
import { fixOf, relocateArgv, type Fix } from '../verify/fix-command.js';
import { detectLayout, type Layout } from '../scan/detect-layout.js';
import type { Evidence } from '../scan/find-old-prefix.js';
import { readEvidence } from '../scan/read-evidence.js';

/** What the evidence says about where the venv lives. */
export type ScanState =
  /** Every piece of evidence names where the venv stands. */
  | 'in-place'
  /** The evidence names one other location: the venv was moved (or copied) without relocating. */
  | 'moved'
  /** Some evidence names this place, the rest one other: a relocation that did not finish. */
  | 'half-relocated'
  /** The evidence names several other locations. */
  | 'ambiguous'
  /** Nothing names a location (no activate script, script, pyvenv.cfg command, pyc, RECORD or .pth). */
  | 'unknown';

/** One location the evidence names, and which files name it. */
export interface LocationReport {
  readonly location: string;
  /** True when it is where the venv stands: the same path, or the same folder through a symlink. */
  readonly here: boolean;
  readonly evidence: ReadonlyArray<{
    readonly file: string;
    readonly source: Evidence['source'];
    /** How many files of this source name the location (pycs are summarised); `file` is the first. */
    readonly count: number;
  }>;
}

/** A file a relocation of the venv would rewrite. */
export interface ScannedFile {
  readonly path: string;
  readonly kind: FileKind;
  readonly letter: string;
  /**
   * True when the file itself names the location; false for files that only follow one that
   * does (a RECORD whose hashes change, a pyc whose source's size changes).
   */
  readonly names: boolean;
}

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
  readonly binaries: RelocationReport['binaries'];
  /** What relocating to where the venv stands would map (moved or half-relocated); else empty. */
  readonly mappings: readonly MappingReport[];
  readonly warnings: readonly ScanWarning[];
  /** The relocate command that makes the venv work where it stands (moved, half-relocated, ambiguous). */
  readonly fixes: readonly Fix[];
  readonly recovered: Recovery;
  readonly stats: RelocationReport['stats'];
  readonly timings: { walk: number; search: number; plan: number; total: number };
}

export interface ScanOptions {
  /** The venv as the user gave it (echoed in messages). */
  readonly path: string;
  /** Passed on to relocate's dry run; (phase, done, total). */
  readonly onProgress?: (phase: string, done: number, total: number) => void;
}

/** A venv opened for reading: its root, layout, evidence, and any interrupted run finished. */
export interface OpenedVenv {
  readonly root: ByteString;
  readonly layout: Layout;
  readonly recovered: Recovery;
  readonly evidence: readonly Evidence[];
  readonly locations: readonly LocationReport[];
}

function realpathOf(p: ByteString): ByteString | undefined {
  try {
    return fromBytes(fs.realpathSync(toBytes(p), { encoding: 'buffer' }) as unknown as Buffer);
  } catch {
    return undefined;
  }
}

/** True when `location` is the folder at `root` (the same path, or the same folder through a link). */
export function isHere(location: ByteString, root: ByteString): boolean {
  if (location === root) return true;
  const a = realpathOf(location);
  return a !== undefined && a === realpathOf(root);
}

/**
 * Finish an interrupted run first, as every command does (docs/JSON.md, `recovered`). Without a
 * journal nothing is locked or written, so scan and verify work on a venv they may not write to.
 */
function recoverIfNeeded(root: ByteString): Recovery {
  if (!hasJournal(root)) return { state: 'none', files: 0 };
  const release = acquireLock(root);
  try {
    return recoverJournal(root);
  } finally {
    release();
  }
}

/** Check that PATH is a venv, finish any interrupted run, and read the location evidence. */
export function openVenv(path: string): OpenedVenv {
  const root = resolveVenvRoot(path);
  detectLayout(path, bytesToUtf8(root));
  const recovered = recoverIfNeeded(root);
  // Again after recovery, which may have rewritten pyvenv.cfg.
  const layout = detectLayout(path, bytesToUtf8(root));
  const evidence = readEvidence(root, layout, true);
  const byLocation = new Map<ByteString, Evidence[]>();
  for (const e of evidence) byLocation.set(e.location, [...(byLocation.get(e.location) ?? []), e]);
  const locations = [...byLocation].map(([loc, es]) => ({
    location: bytesToUtf8(loc),
    here: isHere(loc, root),
    evidence: es.map((e) => ({ file: bytesToUtf8(e.file), source: e.source, count: e.count ?? 1 })),
  }));
  return { root, layout, recovered, evidence, locations };
}

/** The state the evidence shows; see ScanState. */
export function stateOf(locations: readonly LocationReport[]): ScanState {
  if (locations.length === 0) return 'unknown';
  const others = locations.filter((l) => !l.here).length;
  if (others === 0) return 'in-place';
  if (others > 1) return 'ambiguous';
  return locations.some((l) => l.here) ? 'half-relocated' : 'moved';
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

/** The files a relocation from `old` to `to` (and `maps`) would rewrite, from relocate's own dry run. */
export function plannedFiles(
  path: string,
  old: string,
  to: string,
  onProgress: ScanOptions['onProgress'],
  maps: ReadonlyArray<{ readonly from: string; readonly to: string }> = [],
): { report: RelocationReport; files: ScannedFile[]; named: Map<string, string[]> } {
  const { report, plan } = relocate({
    path,
    to,
    from: old,
    maps,
    dryRun: true,
    ...(onProgress === undefined ? {} : { onProgress }),
  });
  const mapped: Mapping[] = report.mappings.map((m) => ({
    from: utf8ToBytes(m.from),
    to: utf8ToBytes(m.to),
  }));
  const named = new Map<string, string[]>();
  const files = (plan?.edits ?? []).map((e) => {
    const path = bytesToUtf8(e.rel);
    const names = mappedNamedBy(e, mapped);
    if (names.length > 0) named.set(path, names.map(bytesToUtf8));
    return { path, kind: e.kind, letter: KIND_LETTER[e.kind], names: names.length > 0 };
  });
  return { report, files, named };
}

/** Describe a venv and every file that names its recorded location; changes nothing. */
export function scanVenv(opts: ScanOptions): ScanReport {
  const t0 = performance.now();
  const venv = openVenv(opts.path);
  const rootShown = bytesToUtf8(venv.root);
  const state = stateOf(venv.locations);
  const warnings: ScanWarning[] = [];
  const others = venv.locations.filter((l) => !l.here);
  let old: string | null = null;
  let to: string | undefined;
  if (state === 'in-place') {
    // Prefer the spelling the scripts use (they name the real path when PATH is a link).
    old = (venv.locations.find((l) => l.location === rootShown) ?? venv.locations[0])!.location;
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
  let report: RelocationReport | undefined;
  if (old !== null && to !== undefined) {
    try {
      ({ report, files } = plannedFiles(opts.path, old, to, opts.onProgress));
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
    locations: venv.locations,
    files,
    counts,
    binaries: report?.binaries ?? [],
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

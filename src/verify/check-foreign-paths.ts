import { VenvToolsError } from '../errors.js';
import { ALL_KINDS, type FileKind } from '../kinds.js';
import { bytesToUtf8 } from '../path-boundary.js';
import type { MappingReport, RelocationReport } from '../relocate/relocate.js';
import { plannedFiles, type OpenedVenv, type ScannedFile } from '../scan/scan-venv.js';
import { plural, result, someOf, type CheckResult } from './check-result.js';

/** What the foreign-paths check found, beyond its verdict. */
export interface ForeignPaths {
  readonly result: CheckResult;
  /** Other venv locations the evidence names (not where the venv stands). */
  readonly foreign: readonly string[];
  /** Files and symlinks that still name a foreign location (binaries excepted). */
  readonly stale: readonly ScannedFile[];
  /** Binaries that name one: reported, never counted as problems (they are never edited). */
  readonly binaries: RelocationReport['binaries'];
  /** What a relocation to here would map. */
  readonly mappings: readonly MappingReport[];
}

const KIND_WORD: Partial<Record<FileKind, string>> = {
  shebang: 'script',
  'pyvenv-cfg': 'pyvenv.cfg',
  'direct-url': 'direct_url.json',
  record: 'RECORD',
  finder: 'editable finder',
};

/**
 * No file, pyc or symlink may name a venv location other than where the venv stands. The files
 * are found by a dry run of relocate to here, so this check fails exactly when a relocation
 * would still change something that names an old place, and passes after one.
 */
export function checkForeignPaths(
  path: string,
  venv: OpenedVenv,
  onProgress?: (phase: string, done: number, total: number) => void,
): ForeignPaths {
  const rootShown = bytesToUtf8(venv.root);
  const foreign = venv.locations.filter((l) => !l.here).map((l) => l.location);
  const none = { foreign, stale: [], binaries: [], mappings: [] };
  if (venv.locations.length === 0) {
    return {
      ...none,
      result: result(
        'foreign-paths',
        'no activate script, script or pyvenv.cfg command names a location, so there is no old one to look for',
        [],
        [],
        true,
      ),
    };
  }
  if (foreign.length === 0) {
    const n = new Set(venv.evidence.map((e) => e.file)).size;
    return {
      ...none,
      result: result(
        'foreign-paths',
        `the ${plural(n, 'file')} that say where the venv is all name this venv`,
        [],
      ),
    };
  }
  let planned: ReturnType<typeof plannedFiles>;
  try {
    planned = plannedFiles(
      path,
      foreign[0] as string,
      rootShown,
      onProgress,
      foreign.slice(1).map((f) => ({ from: f, to: rootShown })),
    );
  } catch (err) {
    if (!(err instanceof VenvToolsError)) throw err;
    return {
      ...none,
      result: result('foreign-paths', `files name ${foreign.join(' and ')}`, [
        {
          message: `${foreign.join(' and ')} is named here, and a relocation could not plan its rewrite: ${err.message}`,
          paths: err.path === undefined ? [] : [err.path],
        },
      ]),
    };
  }
  const { report, files, named: namedBy } = planned;
  const stale = files.filter((f) => f.names);
  const problems = ALL_KINDS.flatMap((kind) => {
    const ofKind = stale.filter((f) => f.kind === kind);
    if (ofKind.length === 0) return [];
    const named = new Set<string>();
    for (const f of ofKind) for (const n of namedBy.get(f.path) ?? []) named.add(n);
    const which = named.size === 0 ? foreign.join(' or ') : [...named].join(' or ');
    const word = KIND_WORD[kind] ?? kind;
    return [
      {
        message: `${plural(ofKind.length, `${word} file`)} still ${ofKind.length === 1 ? 'names' : 'name'} ${which}: ${someOf(ofKind.map((f) => f.path))}`,
        paths: ofKind.map((f) => f.path),
      },
    ];
  });
  const notes = [
    ...report.binaries.map(
      (b) =>
        `${b.path} (${b.format}) names an old location ${plural(b.matches, 'time')}; binaries are never edited`,
    ),
    ...report.warnings
      .filter((w) => w.code === 'OUTSIDE_REFERENCE' || w.code === 'PYC_REMOVED')
      .map((w) => w.message),
  ];
  return {
    result: result(
      'foreign-paths',
      `${plural(stale.length, 'file')} ${stale.length === 1 ? 'names' : 'name'} ${foreign.join(' and ')}, where this venv is not`,
      problems,
      notes,
    ),
    foreign,
    stale,
    binaries: report.binaries,
    mappings: report.mappings,
  };
}

import { ALL_KINDS, KIND_LETTER, type FileKind } from '../kinds/file-kind.js';
import { bytesToUtf8, type ByteString } from '../core/path-boundary.js';
import type { RelocationReport } from '../relocate/relocation-report.js';
import type { Evidence } from '../scan/evidence.js';
import { isHere, type LocationReport, type ScannedFile } from '../scan/locations.js';
import { plural, result, someOf, type CheckResult } from './check-result.js';
import type { OldPathSearch } from './search-old-paths.js';

/** What the foreign-paths check found, beyond its verdict. */
export interface ForeignPaths {
  readonly result: CheckResult;
  /** Other venv locations the evidence names (not where the venv stands). */
  readonly foreign: readonly string[];
  /** Files and symlinks that still name a foreign location (binaries excepted). */
  readonly stale: readonly ScannedFile[];
  /** Binaries that name one: reported, never counted as problems (they are never edited). */
  readonly binaries: RelocationReport['binaries'];
}

/** What this check needs of an opened venv: where it stands, and what its evidence names. */
export interface VenvSeen {
  readonly root: ByteString;
  readonly evidence: readonly Evidence[];
  readonly locations: readonly LocationReport[];
}

const KIND_WORD: Partial<Record<FileKind, string>> = {
  shebang: 'script',
  'pyvenv-cfg': 'pyvenv.cfg',
  'direct-url': 'direct_url.json',
  record: 'RECORD',
  finder: 'editable finder',
};

/** The locations the evidence names that are not where the venv stands (byte strings). */
export function foreignLocations(venv: VenvSeen): ByteString[] {
  return [...new Set(venv.evidence.map((e) => e.location))].filter((l) => !isHere(l, venv.root));
}

/**
 * No file, pyc or symlink may name a venv location other than where the venv stands. The
 * locations are every one the evidence names (scripts, activate, pyvenv.cfg, pycs, RECORDs,
 * .pth files); the files are found by a byte search of the whole tree (search-old-paths.ts),
 * so this check agrees with `grep -r OLD` and not only with what a relocation rewrites.
 */
export function checkForeignPaths(venv: VenvSeen, search: OldPathSearch): ForeignPaths {
  const foreign = foreignLocations(venv).map(bytesToUtf8);
  const none = { foreign, stale: [], binaries: [] };
  if (venv.locations.length === 0) {
    return {
      ...none,
      result: result(
        'foreign-paths',
        'no activate script, script, pyvenv.cfg command, pyc, RECORD or .pth names a location, so there is no old one to look for',
        [],
        [],
        true,
      ),
    };
  }
  if (foreign.length === 0) {
    // Files named one by one (an activate script may give several values), plus the summaries.
    const single = venv.evidence.filter((e) => (e.count ?? 1) === 1).map((e) => e.file);
    const n =
      new Set(single).size +
      venv.evidence.reduce((sum, e) => sum + ((e.count ?? 1) > 1 ? (e.count as number) : 0), 0);
    return {
      ...none,
      result: result(
        'foreign-paths',
        `the ${plural(n, 'file')} that say where the venv is (scripts, activate, pyvenv.cfg, pycs, RECORDs, .pth) all name this venv`,
        [],
      ),
    };
  }
  const stale: ScannedFile[] = search.hits.map((h) => ({
    path: bytesToUtf8(h.rel),
    kind: h.kind,
    letter: KIND_LETTER[h.kind],
    names: true,
  }));
  const problems = ALL_KINDS.flatMap((kind) => {
    const ofKind = search.hits.filter((h) => h.kind === kind);
    if (ofKind.length === 0) return [];
    const named = [...new Set(ofKind.flatMap((h) => h.names))].map(bytesToUtf8);
    const word = KIND_WORD[kind] ?? kind;
    const paths = ofKind.map((h) => bytesToUtf8(h.rel));
    return [
      {
        message: `${plural(ofKind.length, `${word} file`)} still ${ofKind.length === 1 ? 'names' : 'name'} ${named.join(' or ')}: ${someOf(paths)}; the relocate command below rewrites ${ofKind.length === 1 ? 'it' : 'them'}`,
        paths,
      },
    ];
  });
  const binaries = search.binaries.map((b) => ({
    path: bytesToUtf8(b.rel),
    matches: b.matches,
    format: b.format,
  }));
  const notes = [
    ...binaries.map(
      (b) =>
        `${b.path} (${b.format}) names an old location ${plural(b.matches, 'time')}; binaries are never edited`,
    ),
    ...search.largeBinaries.map(
      (b) =>
        `${bytesToUtf8(b.rel)} (${(b.size / 1e6).toFixed(0)} MB, not read whole) holds text of an old location; binaries are never edited`,
    ),
  ];
  return {
    result: result(
      'foreign-paths',
      `${plural(stale.length, 'file')} ${stale.length === 1 ? 'names' : 'name'} ${foreign.join(' or ')}, where this venv is not`,
      problems,
      notes,
    ),
    foreign,
    stale,
    binaries,
  };
}

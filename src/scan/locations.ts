/** The locations a venv's evidence names, and what they say of where it stands. */
import { realPath } from '../core/real-path.js';
import { type FileKind } from '../kinds/file-kind.js';
import { type Evidence } from './evidence.js';
import { type ByteString, bytesToUtf8 } from '../core/path-boundary.js';

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

/** True when `location` is the folder at `root` (the same path, or the same folder through a link). */
export function isHere(location: ByteString, root: ByteString): boolean {
  if (location === root) return true;
  const a = realPath(location);
  return a !== undefined && a === realPath(root);
}

/** The state the evidence shows; see ScanState. */
export function stateOf(locations: readonly LocationReport[]): ScanState {
  if (locations.length === 0) return 'unknown';
  const others = locations.filter((l) => !l.here).length;
  if (others === 0) return 'in-place';
  if (others > 1) return 'ambiguous';
  return locations.some((l) => l.here) ? 'half-relocated' : 'moved';
}

/** The evidence grouped by the location it names, each marked `here` when it is where `root` stands. */
export function locationsOf(evidence: readonly Evidence[], root: ByteString): LocationReport[] {
  const byLocation = new Map<ByteString, Evidence[]>();
  for (const e of evidence) byLocation.set(e.location, [...(byLocation.get(e.location) ?? []), e]);
  return [...byLocation].map(([loc, es]) => ({
    location: bytesToUtf8(loc),
    here: isHere(loc, root),
    evidence: es.map((e) => ({ file: bytesToUtf8(e.file), source: e.source, count: e.count ?? 1 })),
  }));
}

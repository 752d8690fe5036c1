/**
 * verify's byte search: every file and symlink of the venv that still holds an old location,
 * found by reading the bytes themselves rather than by asking what a relocation would rewrite.
 * A location counts where the whole-path rule (path-boundary.ts) finds it, in any spelling a
 * relocation rewrites: raw, percent-encoded in a `file:` URL, escaped for JSON.
 */
import { fs } from '../core/fs.js';
import { VenvToolsError } from '../core/errors.js';
import type { FileKind } from '../kinds/file-kind.js';
import {
  fromBytes,
  holdsAnyPath,
  isNameByte,
  toBytes,
  type ByteString,
  type Mapping,
} from '../core/path-boundary.js';
import { percentEncodePath } from '../kinds/file-url.js';
import { countPathMatches } from '../plan/planner.js';
import { fileNameToPyStr } from '../kinds/pyc/utf8.js';
import { safeNeedle } from '../scan/safe-needle.js';
import { jsonEscapePath } from '../kinds/rewrite-json.js';
import { binaryFormat, classifyFile } from '../scan/classify-file.js';
import type { Layout } from '../scan/detect-layout.js';
import { FileSearcher } from '../scan/search-files.js';
import { walkEach } from '../scan/walk-tree.js';

/** A file or symlink that holds an old location, and which. */
export interface OldPathHit {
  readonly rel: ByteString;
  readonly kind: FileKind;
  /** The old locations it names (byte strings). */
  readonly names: readonly ByteString[];
}

/** What the search found. */
export interface OldPathSearch {
  /** Files (binaries excepted) and symlinks holding an old location, in path order. */
  readonly hits: readonly OldPathHit[];
  /** Binaries holding one: listed, never a problem (binaries are never edited). */
  readonly binaries: ReadonlyArray<{ rel: ByteString; matches: number; format: string }>;
  /** Binaries too large to read whole that hold one. */
  readonly largeBinaries: ReadonlyArray<{ rel: ByteString; size: number }>;
  /** Every pyc of the venv (`.pyc`, `.pyo`), in walk order, for the pyc check. */
  readonly pycs: readonly ByteString[];
  readonly files: number;
}

/**
 * Each spelling of `location` a file may hold it in: as it is, percent-encoded (a `file:` URL,
 * as pip writes them), and escaped for JSON the ways writers do (`\uXXXX` for non-ASCII, `\/`).
 */
export function spellingsOf(location: ByteString): ByteString[] {
  const styles = [
    { asciiOnly: true, escapeSlash: false },
    { asciiOnly: false, escapeSlash: true },
    { asciiOnly: true, escapeSlash: true },
  ];
  return [
    ...new Set([
      location,
      percentEncodePath(location),
      ...styles.map((s) => jsonEscapePath(location, s)),
    ]),
  ];
}

/**
 * True when a pyc's bytes hold `from` (as marshal holds a file name) as the head of a path. The
 * byte before is not looked at: in marshal data it is a str's length, often a letter or digit.
 */
export function pycNamesPath(s: ByteString, from: ByteString): boolean {
  const needle = fileNameToPyStr(from);
  for (let i = s.indexOf(needle); i !== -1; i = s.indexOf(needle, i + 1)) {
    const end = i + needle.length;
    if (end >= s.length || !isNameByte(s.charCodeAt(end))) return true;
  }
  return false;
}

const isPyc = (rel: ByteString) => rel.endsWith('.pyc') || rel.endsWith('.pyo');

/**
 * Read every file of the venv at `root` once and find those that name any of `locations`
 * (absolute, byte strings). With no location, nothing is read; the walk still lists the pycs.
 */
export function searchOldPaths(
  root: ByteString,
  layout: Layout,
  locations: readonly ByteString[],
  onProgress?: (phase: string, done: number, total: number) => void,
): OldPathSearch {
  const files: ByteString[] = [];
  const symlinks: ByteString[] = [];
  const pycs: ByteString[] = [];
  walkEach(root, (rel, type) => {
    if (type === 'file') {
      files.push(rel);
      if (isPyc(rel)) pycs.push(rel);
    } else if (type === 'symlink') symlinks.push(rel);
  });
  const hits: OldPathHit[] = [];
  const binaries: Array<{ rel: ByteString; matches: number; format: string }> = [];
  const raw: Mapping[] = locations.map((l) => ({ from: l, to: l }));
  const spelled = locations.map((l) => spellingsOf(l).map((s) => ({ from: s, to: l })));
  const searcher = new FileSearcher(
    root,
    [...new Set(locations.map((l) => fromBytes(safeNeedle(l))))].map(toBytes),
  );
  const named = (s: ByteString, rel: ByteString): ByteString[] =>
    isPyc(rel)
      ? locations.filter((l) => pycNamesPath(s, l))
      : locations.filter((_, i) => holdsAnyPath(s, spelled[i]!));
  if (locations.length > 0) {
    for (const [k, rel] of files.entries()) {
      if ((k & 255) === 0) onProgress?.('search', k, files.length);
      let r;
      try {
        r = searcher.read(rel);
      } catch (err) {
        // Text too large to read whole that holds a needle: it names an old place all the same.
        if (!(err instanceof VenvToolsError) || err.code !== 'UNSUPPORTED') throw err;
        hits.push({ rel, kind: 'text', names: [...locations] });
        continue;
      }
      if (r === undefined) continue;
      const { kind } = classifyFile(rel, r.bytes, layout);
      if (kind === 'binary') {
        const matches = countPathMatches(r.bytes, raw);
        if (matches > 0) binaries.push({ rel, matches, format: binaryFormat(r.bytes) });
        continue;
      }
      const names = named(fromBytes(r.bytes), rel);
      if (names.length > 0) hits.push({ rel, kind, names });
    }
    onProgress?.('search', files.length, files.length);
    for (const rel of symlinks) {
      let target: ByteString;
      try {
        target = fromBytes(fs.readlinkSync(toBytes(`${root}/${rel}`), { encoding: 'buffer' }));
      } catch {
        continue; // gone since the walk
      }
      const names = locations.filter((_, i) => holdsAnyPath(target, [raw[i]!]));
      if (names.length > 0) hits.push({ rel, kind: 'symlink', names });
    }
  }
  hits.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  return {
    hits,
    binaries,
    largeBinaries: searcher.largeBinaries,
    pycs,
    files: files.length,
  };
}

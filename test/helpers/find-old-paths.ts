/**
 * Byte search of a whole venv for old paths, with the product's own whole-path rule
 * (src/path-boundary.ts): `/old/app` is found in `file:///old/app/x` but not in `/old/app2`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  bytesToUtf8,
  fromBytes,
  holdsAnyPath,
  utf8ToBytes,
  type Mapping,
} from '../../src/core/path-boundary.js';

/** One file (venv-relative) or symlink (`link -> target`) and the old paths it names. */
export interface OldPathHit {
  readonly file: string;
  readonly names: readonly string[];
}

/** Everything that still names an old path, by kind. */
export interface OldPathHits {
  readonly text: OldPathHit[];
  readonly pycs: OldPathHit[];
  readonly binaries: OldPathHit[];
  readonly symlinks: OldPathHit[];
}

// Magic numbers of executables and libraries: ELF, Mach-O (both byte orders, fat), PE/COFF.
const BINARY_MAGICS = [
  Buffer.from([0x7f, 0x45, 0x4c, 0x46]),
  Buffer.from([0xcf, 0xfa, 0xed, 0xfe]),
  Buffer.from([0xce, 0xfa, 0xed, 0xfe]),
  Buffer.from([0xfe, 0xed, 0xfa, 0xcf]),
  Buffer.from([0xca, 0xfe, 0xba, 0xbe]),
  Buffer.from('MZ'),
];

/** Binary for this search: an executable's magic, or a NUL byte in the first 8 KiB (as git and grep judge). */
export function looksBinary(bytes: Buffer): boolean {
  if (BINARY_MAGICS.some((m) => bytes.subarray(0, m.length).equals(m))) return true;
  return bytes.subarray(0, 8192).includes(0);
}

/**
 * Every file and symlink under `root` holding a whole-path match of one of `oldPaths`.
 * Symlinks are never followed (bin/python points at the base interpreter, outside the venv).
 */
export function findOldPaths(root: string, oldPaths: readonly string[]): OldPathHits {
  const mappings: Mapping[] = oldPaths.map((p) => ({ from: utf8ToBytes(p), to: '' }));
  const named = (s: string): string[] =>
    oldPaths.filter((_, i) => holdsAnyPath(s, mappings.slice(i, i + 1)));
  const hits: OldPathHits = { text: [], pycs: [], binaries: [], symlinks: [] };
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      const rel = path.relative(root, full);
      if (entry.isSymbolicLink()) {
        const target = fromBytes(fs.readlinkSync(full, { encoding: 'buffer' }));
        if (holdsAnyPath(target, mappings)) {
          hits.symlinks.push({ file: `${rel} -> ${bytesToUtf8(target)}`, names: named(target) });
        }
      } else if (entry.isDirectory()) {
        walk(full);
      } else if (entry.isFile()) {
        const bytes = fs.readFileSync(full);
        const s = fromBytes(bytes);
        if (!holdsAnyPath(s, mappings)) continue;
        const hit = { file: rel, names: named(s) };
        if (entry.name.endsWith('.pyc')) hits.pycs.push(hit);
        else if (looksBinary(bytes)) hits.binaries.push(hit);
        else hits.text.push(hit);
      }
    }
  };
  walk(root);
  for (const list of Object.values(hits) as OldPathHit[][])
    list.sort((a, b) => (a.file < b.file ? -1 : 1));
  return hits;
}

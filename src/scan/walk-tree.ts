import type { Dirent } from 'node:fs';
import { fs } from '../core/fs.js';
import { errnoOf, VenvToolsError } from '../core/errors.js';
import {
  bytesToUtf8,
  fromBytes,
  toBytes,
  utf8ToBytes,
  type ByteString,
} from '../core/path-boundary.js';

/** What a directory entry is. Only `file` is ever opened; `other` (FIFO, socket, device) never. */
export type EntryType = 'file' | 'dir' | 'symlink' | 'other';

/** One entry of the venv tree; `rel` is its path below the root as a byte string. */
export interface TreeEntry {
  readonly rel: ByteString;
  readonly type: EntryType;
}

/**
 * Names at the venv root that belong to venv-tools itself and are never scanned: the lock, the
 * journal, and an archive's manifest and trailer, which a manual `tar -x` of an archive that
 * `venv-tools pack` wrote leaves there (src/archive/manifest.ts).
 */
export const OWN_FILES: ReadonlySet<string> = new Set([
  '.venv-tools.lock',
  '.venv-tools.journal',
  '.venv-tools.archive.json',
  '.venv-tools.archive-end.json',
]);

/**
 * True for a name at the venv root that belongs to venv-tools: the lock, the journal, and the
 * lock protocol's own files (`.venv-tools.lock.PID.X` candidates, `.venv-tools.lock.break`),
 * which a concurrent run may create or remove while this one walks.
 */
export function isOwnFile(name: ByteString): boolean {
  return OWN_FILES.has(name) || name.startsWith('.venv-tools.lock.');
}

/** Absolute path of an entry, as a Buffer so that non-UTF-8 names survive. */
export function absPath(rootAbs: ByteString, rel: ByteString): Buffer {
  return toBytes(rel === '' ? rootAbs : `${rootAbs}/${rel}`);
}

function typeOf(d: Dirent<string> | Dirent<Buffer>): EntryType {
  if (d.isFile()) return 'file';
  if (d.isDirectory()) return 'dir';
  if (d.isSymbolicLink()) return 'symlink';
  return 'other';
}

/**
 * A folder's entries. Listed with names as text, which Node makes faster than as Buffers (a third
 * of the walk); a name that is not valid UTF-8 comes back with U+FFFD, so a folder holding one is
 * listed again as bytes.
 */
function listDir(abs: Buffer): Dirent<string>[] | Dirent<Buffer>[] {
  const text = fs.readdirSync(abs, { withFileTypes: true });
  for (const d of text) {
    if (d.name.includes('\uFFFD')) {
      return fs.readdirSync(abs, {
        withFileTypes: true,
        encoding: 'buffer',
      }) as unknown as Dirent<Buffer>[];
    }
  }
  return text;
}

/** An entry's name as a byte string. */
function nameOf(d: Dirent<string> | Dirent<Buffer>): ByteString {
  const n = d.name as string | Buffer;
  return typeof n === 'string' ? utf8ToBytes(n) : fromBytes(n);
}

/**
 * Visit every entry below `rootAbs` (a byte string), depth first, without following symlinks,
 * holding no more than the folders still to list. Names are byte strings, so that non-UTF-8
 * names survive (fast-glob cannot return them, and a venv may hold them).
 */
export function walkEach(
  rootAbs: ByteString,
  visit: (rel: ByteString, type: EntryType) => void,
): void {
  const stack: ByteString[] = [''];
  while (stack.length > 0) {
    const dirRel = stack.pop() as ByteString;
    let entries: Dirent<string>[] | Dirent<Buffer>[];
    try {
      entries = listDir(absPath(rootAbs, dirRel));
    } catch (err) {
      const shown = bytesToUtf8(dirRel === '' ? rootAbs : `${rootAbs}/${dirRel}`);
      throw new VenvToolsError(
        'UNREADABLE',
        `cannot list ${shown}: ${errnoOf(err) ?? (err as Error).message}; fix its permissions (e.g. chmod u+rx) and run again`,
        shown,
      );
    }
    for (const d of entries) {
      const name = nameOf(d);
      const rel = dirRel === '' ? name : `${dirRel}/${name}`;
      if (dirRel === '' && isOwnFile(name)) continue;
      const type = typeOf(d);
      visit(rel, type);
      if (type === 'dir') stack.push(rel);
    }
  }
}

/** List every entry below `rootAbs` (see walkEach). */
export function walkTree(rootAbs: ByteString): TreeEntry[] {
  const out: TreeEntry[] = [];
  walkEach(rootAbs, (rel, type) => out.push({ rel, type }));
  return out;
}

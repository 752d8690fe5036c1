/**
 * Tree states for the reliability suites: every entry below a root with what a relocation may
 * change (type, permission bits, link target, content hash, and for files the mtime), read with
 * Buffer paths so that names that are not UTF-8 survive. Inodes and directory times are left
 * out on purpose: a file with other hard links gets a new inode by design, and the temporary
 * names of apply change directory times.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';

/** One entry's state. */
export interface EntryState {
  readonly type: 'file' | 'dir' | 'symlink' | 'other';
  /** Permission bits (mode & 0o7777). */
  readonly perm: number;
  /** Symlink target, as latin1. */
  readonly target?: string;
  /** sha1 of a regular file's content. */
  readonly hash?: string;
  readonly mtimeMs?: number;
}

/** rel path (latin1, one char per byte) -> state. */
export type TreeState = Map<string, EntryState>;

/** Files above this are hashed by their size, first and last MiB (the sparse 2 GiB files). */
const WHOLE_HASH_LIMIT = 64 << 20;

function hashFile(p: Buffer, size: number): string {
  const h = createHash('sha1');
  if (size <= WHOLE_HASH_LIMIT) return h.update(fs.readFileSync(p)).digest('hex');
  const fd = fs.openSync(p, 'r');
  try {
    const buf = Buffer.alloc(1 << 20);
    h.update(`${size}:`);
    h.update(buf.subarray(0, fs.readSync(fd, buf, 0, buf.length, 0)));
    h.update(buf.subarray(0, fs.readSync(fd, buf, 0, buf.length, size - buf.length)));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

/**
 * Read the state of every entry below `root`, never following symlinks. Entries `skip`
 * accepts are left out, and so is everything below them.
 */
export function treeState(root: string, skip: (rel: string) => boolean = () => false): TreeState {
  const out: TreeState = new Map();
  const rootBuf = Buffer.from(root);
  const walk = (dir: Buffer, rel: string) => {
    for (const name of fs.readdirSync(dir, { encoding: 'buffer' })) {
      const p = Buffer.concat([dir, Buffer.from('/'), name]);
      const r = rel === '' ? name.toString('latin1') : `${rel}/${name.toString('latin1')}`;
      if (skip(r)) continue;
      const st = fs.lstatSync(p);
      const perm = st.mode & 0o7777;
      if (st.isSymbolicLink()) {
        out.set(r, {
          type: 'symlink',
          perm,
          target: fs.readlinkSync(p, { encoding: 'buffer' }).toString('latin1'),
        });
      } else if (st.isDirectory()) {
        out.set(r, { type: 'dir', perm });
        walk(p, r);
      } else if (st.isFile()) {
        out.set(r, {
          type: 'file',
          perm,
          hash: hashFile(p, st.size),
          mtimeMs: st.mtimeMs,
        });
      } else {
        out.set(r, { type: 'other', perm });
      }
    }
  };
  walk(rootBuf, '');
  return out;
}

function same(a: EntryState, b: EntryState, mtimes: boolean): boolean {
  return (
    a.type === b.type &&
    a.perm === b.perm &&
    a.target === b.target &&
    a.hash === b.hash &&
    (!mtimes || a.mtimeMs === b.mtimeMs)
  );
}

function show(e: EntryState | undefined): string {
  if (e === undefined) return 'missing';
  const perm = e.perm.toString(8);
  if (e.type === 'symlink') return `symlink ${perm} -> ${e.target ?? ''}`;
  if (e.type === 'file') return `file ${perm} ${e.hash?.slice(0, 10) ?? ''} mtime ${e.mtimeMs}`;
  return `${e.type} ${perm}`;
}

/**
 * The differences between two states, one line each (empty: equal). Names `ignore` accepts
 * are left out on both sides; `mtimes` also compares the mtimes of regular files.
 */
export function treeDiff(
  a: TreeState,
  b: TreeState,
  opts: { mtimes?: boolean; ignore?: (rel: string) => boolean } = {},
): string[] {
  const ignore = opts.ignore ?? (() => false);
  const out: string[] = [];
  for (const [k, v] of a) {
    if (ignore(k)) continue;
    const w = b.get(k);
    if (w === undefined || !same(v, w, opts.mtimes === true))
      out.push(`${printable(k)}: ${show(v)} -> ${show(w)}`);
  }
  for (const [k, w] of b) {
    if (!ignore(k) && !a.has(k)) out.push(`${printable(k)}: new ${show(w)}`);
  }
  return out;
}

/** The entries of `before` that are gone from `after` (no original may ever be missing). */
export function missingEntries(before: TreeState, after: TreeState): string[] {
  return [...before.keys()].filter((k) => !after.has(k)).map(printable);
}

/** The entries of `before` whose state differs in `after` (present in both). */
export function changedEntries(before: TreeState, after: TreeState): string[] {
  const out: string[] = [];
  for (const [k, v] of before) {
    const w = after.get(k);
    if (w !== undefined && !same(v, w, false)) out.push(printable(k));
  }
  return out;
}

/** True for a name venv-tools creates for itself: lock, journal, lock protocol and apply temporaries. */
export function isVenvToolsName(rel: string): boolean {
  const base = rel.slice(rel.lastIndexOf('/') + 1);
  return base.startsWith('.venv-tools.') || base.endsWith('.venv-tools-tmp');
}

/** Entries venv-tools left behind (there must be none once a run has finished). */
export function leftovers(state: TreeState): string[] {
  return [...state.keys()].filter(isVenvToolsName).map(printable);
}

/** A rel path for messages: UTF-8 where it is, \xNN for other bytes, \n escaped. */
export function printable(rel: string): string {
  const b = Buffer.from(rel, 'latin1');
  const s = b.toString('utf8');
  const clean = Buffer.from(s, 'utf8').equals(b)
    ? s
    : rel.replace(/[\x80-\xff]/g, (c) => `\\x${c.charCodeAt(0).toString(16)}`);
  return clean.replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

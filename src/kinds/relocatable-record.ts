/**
 * RECORD made relative: a row that lists a file of the venv by an absolute path (pip writes
 * those for files it installs outside site-packages when asked to, and some installers do for
 * every file) is written relative to the folder that holds the `.dist-info`, as pip writes the
 * rows of files it puts in bin/ (`../../../bin/x`). pip joins a relative row to that folder
 * when it uninstalls, so the row names the same file wherever the venv is. Every row whose file
 * make-relocatable rewrites gets its new hash and size (`updateFor`).
 */
import { posix } from 'node:path';
import type { ByteString } from '../core/path-boundary.js';
import { rewriteRecordRows, type RecordUpdate } from './rewrite-record.js';
import { relativeFrom, underPlace } from './venv-relative.js';

/** The folder a RECORD's relative rows are relative to: the one holding its `.dist-info`. */
export function recordBase(recordRel: ByteString): ByteString {
  return posix.dirname(posix.dirname(recordRel));
}

/**
 * The RECORD at `recordRel` (venv-relative) with its absolute rows inside the venv (under one of
 * `places`) made relative, and new hashes for the files `updateFor(venv-relative path)` knows.
 */
export function makeRecordRelative(
  bytes: Buffer,
  ctx: {
    readonly places: readonly ByteString[];
    readonly recordRel: ByteString;
    readonly updateFor: (rel: ByteString) => RecordUpdate | undefined;
  },
): Buffer | undefined {
  const base = recordBase(ctx.recordRel);
  const venvRel = (listed: ByteString): ByteString | undefined => {
    if (listed.startsWith('/')) return underPlace(listed, ctx.places);
    const rel = posix.normalize(base === '.' ? listed : `${base}/${listed}`);
    return rel.startsWith('../') || rel === '..' ? undefined : rel;
  };
  return rewriteRecordRows(bytes, {
    move: (listed) => {
      if (!listed.startsWith('/')) return undefined;
      const rel = underPlace(listed, ctx.places);
      return rel === undefined ? undefined : relativeFrom(base, rel);
    },
    updateFor: (listed) => {
      const rel = venvRel(listed);
      return rel === undefined ? undefined : ctx.updateFor(rel);
    },
  });
}

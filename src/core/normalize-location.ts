import { posix } from 'node:path';
import { stripTrailingSlash } from './path-boundary.js';

/**
 * An absolute location spelled once: `.`, `..`, repeated `/` and a trailing `/` removed, so that
 * `/srv/x/../y//venv/` and `/srv/y/venv` are the same location, and `//`, `/.` and `/usr/..`
 * are all `/`. Works on byte strings too (only `/` and `.` are looked at). `..` is taken
 * lexically, as a user reading the path would: a venv's files name it by these words, never by
 * where a symlink in it happens to lead. A relative path is returned as it is.
 */
export function normalizeLocation(p: string): string {
  if (!p.startsWith('/')) return p;
  return stripTrailingSlash(posix.normalize(p));
}

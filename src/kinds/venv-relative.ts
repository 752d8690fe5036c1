/**
 * Paths inside the venv written relative to a folder of it: what make-relocatable turns an
 * absolute path into when it names one of the venv's places (where it is or was).
 */
import { posix } from 'node:path';
import type { ByteString } from '../core/path-boundary.js';

/**
 * `abs` relative to the venv root when it lies under one of `places` (or is one): `/v/bin/x`
 * -> `bin/x`, `/v` -> ``. Undefined for a path elsewhere, or one that leaves the venv (`..`).
 */
export function underPlace(abs: ByteString, places: readonly ByteString[]): ByteString | undefined {
  for (const p of places) {
    if (abs === p) return '';
    if (!abs.startsWith(`${p}/`)) continue;
    const rel = posix.normalize(abs.slice(p.length + 1));
    if (rel === '.') return '';
    if (rel === '..' || rel.startsWith('../')) return undefined;
    return rel.replace(/\/+$/, '');
  }
  return undefined;
}

/** `rel` (venv-relative) as seen from the venv folder `dir`: `bin/x` from `lib/py/site` -> `../../../bin/x`. */
export function relativeFrom(dir: ByteString, rel: ByteString): ByteString {
  const out = posix.relative(`/${dir}`, `/${rel}`);
  return out === '' ? '.' : out;
}

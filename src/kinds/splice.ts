/**
 * Splicing a byte string: the rewriters that edit text in place (shell scripts, Python source,
 * JSON, `file:` URLs) each find the ranges to replace, then splice them in with one function.
 */
import type { ByteString } from '../core/path-boundary.js';

/** A half-open range `[start, end)`. */
export interface Span {
  readonly start: number;
  readonly end: number;
}

/** One splice: `[start, end)` becomes `text`. */
export interface Splice extends Span {
  readonly text: ByteString;
}

/**
 * `s` with the splices made, in order of their start. A splice that overlaps the one before it
 * is dropped: the rewriters find their ranges in disjoint parts of a file, so none should.
 */
export function applySplices(s: string, splices: readonly Splice[]): string {
  const sorted = [...splices].sort((a, b) => a.start - b.start);
  let out = '';
  let pos = 0;
  for (const e of sorted) {
    if (e.start < pos) continue;
    out += s.slice(pos, e.start) + e.text;
    pos = e.end;
  }
  return out + s.slice(pos);
}

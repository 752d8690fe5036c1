import { toBytes, type ByteString } from '../core/path-boundary.js';

/**
 * The needle for the byte search: the longest head of a path made of characters that no
 * escaping changes (JSON, Python repr, shell quotes, URL percent-encoding all keep
 * `[A-Za-z0-9/_.~-]`). Any spelling of the path in any file then contains it.
 */
export function safeNeedle(p: ByteString): Buffer {
  let i = 0;
  while (i < p.length && /[A-Za-z0-9/_.~-]/.test(p[i] as string)) i++;
  return toBytes(p.slice(0, Math.max(i, 1)));
}

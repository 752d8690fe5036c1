import type { ByteString, Mapping } from '../path-boundary.js';

/**
 * The root that moved along with the venv: the longest common tail of OLD and NEW in whole
 * components gives it (`/build/app/venv` -> `/srv/app/3f9c2e1/venv` moved `/build/app` to
 * `/srv/app/3f9c2e1`). Undefined when they share no tail, or when the old root would be `/`
 * (then every absolute path would count as "moved along").
 */
export function movedRoot(oldPath: ByteString, newPath: ByteString): Mapping | undefined {
  const a = oldPath.split('/');
  const b = newPath.split('/');
  let k = 0;
  while (k < a.length - 1 && k < b.length - 1 && a[a.length - 1 - k] === b[b.length - 1 - k]) k++;
  if (k === 0) return undefined;
  const from = a.slice(0, a.length - k).join('/');
  const to = b.slice(0, b.length - k).join('/');
  if (from === '' || to === '' || from === to) return undefined;
  return { from, to };
}

import type { ByteString, Mapping } from '../core/path-boundary.js';

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

/**
 * The moved root as a conditional mapping, for sources that moved along with the venv: a
 * reference under the old root maps when its counterpart under the new root exists (answered
 * once per path and kept in `seen`, which the report lists). References inside the venv itself
 * are left to the venv's own, longer mapping. Whether a counterpart exists is the caller's
 * question to the disk (`exists`): the planner and the rewriters that use this mapping do no I/O.
 */
export function movedAlong(
  root2: Mapping,
  old: ByteString,
  seen: Map<ByteString, boolean>,
  exists: (path: ByteString) => boolean,
): Mapping {
  return {
    from: root2.from,
    to: root2.to,
    accept: (rest) => {
      const whole = root2.from + rest;
      if (whole === old || whole.startsWith(`${old}/`)) return false;
      let ok = seen.get(rest);
      if (ok === undefined) {
        ok = exists(root2.to + rest);
        seen.set(rest, ok);
      }
      return ok;
    },
  };
}

import { isNameByte, isWholePathAt, type ByteString, type Mapping } from '../path-boundary.js';
import { percentDecode } from './file-url.js';

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

function isPathByte(c: number): boolean {
  return isNameByte(c) || c === 0x2f /* / */ || c === 0x25 /* % (URL-encoded names) */;
}


/**
 * Every whole path in `content` under `root.from` that no longer mapping covers, extended to the
 * end of its path (name bytes and `/`), percent-decoded, trailing slashes dropped.
 */
export function referencesUnder(
  content: ByteString,
  root: Mapping,
  covered: readonly Mapping[],
): Set<ByteString> {
  const refs = new Set<ByteString>();
  let i = content.indexOf(root.from);
  while (i !== -1) {
    const end = i + root.from.length;
    if (isWholePathAt(content, i, end)) {
      const isCovered = covered.some(
        (m) =>
          m.from.length > root.from.length &&
          content.startsWith(m.from, i) &&
          isWholePathAt(content, i, i + m.from.length),
      );
      if (!isCovered) {
        let j = end;
        while (j < content.length && isPathByte(content.charCodeAt(j))) j++;
        let ref = percentDecode(content, i, j).bytes;
        while (ref.length > root.from.length && ref.endsWith('/')) ref = ref.slice(0, -1);
        // Trailing punctuation of prose ("see /build/app/src.") is not part of the path.
        while (ref.length > root.from.length && ref.endsWith('.')) ref = ref.slice(0, -1);
        refs.add(ref);
      }
    }
    i = content.indexOf(root.from, i + 1);
  }
  return refs;
}

/** The few questions about the disk that are asked of a path rather than of a file's bytes. */
import { fs } from './fs.js';
import { fromBytes, fsPath, toBytes, type ByteString } from './path-boundary.js';

/** The real path of `p` (every symlink resolved), or undefined when it cannot be resolved. */
export function realPath(p: ByteString): ByteString | undefined {
  try {
    return fromBytes(fs.realpathSync(toBytes(p), { encoding: 'buffer' }) as unknown as Buffer);
  } catch {
    return undefined;
  }
}

/** The real path of `p`, or `p` itself when it cannot be resolved (it does not exist, say). */
export function realOrSelf(p: ByteString): ByteString {
  return realPath(p) ?? p;
}

/** True when something (a file, a folder, a symlink, even a dangling one) is at `p`. */
export function pathExists(p: ByteString): boolean {
  try {
    fs.lstatSync(toBytes(p));
    return true;
  } catch {
    return false;
  }
}

/**
 * True when a regular file (not a symlink) is at `root/rel`: the Planner's question about a pyc's
 * source, asked only when the pyc cannot be rewritten.
 */
export function isRegularFile(root: ByteString, rel: ByteString): boolean {
  try {
    return fs.lstatSync(fsPath(`${root}/${rel}`)).isFile();
  } catch {
    return false;
  }
}

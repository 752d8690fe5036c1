import { fs } from '../core/fs.js';
import { toBytes, type ByteString } from '../core/path-boundary.js';

function isFile(p: ByteString): boolean {
  try {
    return fs.statSync(toBytes(p)).isFile();
  } catch {
    return false;
  }
}

/**
 * True when the folder at `p` (absolute, byte string) is a venv: it holds pyvenv.cfg, or (a
 * virtualenv older than 20, which wrote none) bin/activate and a lib/pythonX.Y or lib/pypyX.Y.
 */
export function isVenvFolder(p: ByteString): boolean {
  if (isFile(`${p}/pyvenv.cfg`)) return true;
  if (!isFile(`${p}/bin/activate`)) return false;
  try {
    const names = fs.readdirSync(toBytes(`${p}/lib`), { encoding: 'latin1' });
    return names.some((n) => /^(?:python|pypy)\d+\.\d+$/.test(n));
  } catch {
    return false;
  }
}

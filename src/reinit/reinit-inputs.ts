/** What reinit reads of the venv and of the chosen interpreter, with errors that name the file. */
import { realPath } from '../core/real-path.js';
import { fs } from '../core/fs.js';
import { type VenvVersion } from './check-version-match.js';
import { errnoOf, unreadableError } from '../core/errors.js';
import { type Layout } from '../scan/detect-layout.js';
import { type ChooseSys } from './choose-python.js';
import { type ByteString, bytesToUtf8, fromBytes, toBytes } from '../core/path-boundary.js';
import { type AliasState } from './plan-reinit.js';

/** choosePython's disk questions, answered through src/fs.ts. */
export const CHOOSE_SYS: ChooseSys = {
  isExecutableFile: (p) => {
    try {
      if (!fs.statSync(toBytes(p)).isFile()) return false;
      fs.accessSync(toBytes(p), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  },
  realpath: realPath,
  isFile: (p) => {
    try {
      return fs.statSync(toBytes(p)).isFile();
    } catch {
      return false;
    }
  },
};

/** The aliases reinit looks after: python, python3, pythonX.Y (and PyPy's own names). */
export function aliasNames(layout: Layout, version: VenvVersion): string[] {
  const names = ['python', 'python3', `python${version.majorMinor}`];
  if (layout.implementation === 'pypy') names.push('pypy', 'pypy3', `pypy${version.majorMinor}`);
  return [...new Set(names)];
}

/** One alias as it is now: a symlink and its target, a copied file, missing, or something else. */
export function readAlias(root: ByteString, binDir: string, name: string): AliasState {
  const p = toBytes(`${root}/${binDir}/${name}`);
  let st;
  try {
    st = fs.lstatSync(p);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return { name, type: 'missing' };
    throw unreadableError(bytesToUtf8(`${root}/${binDir}/${name}`), err);
  }
  try {
    if (st.isSymbolicLink()) {
      return {
        name,
        type: 'symlink',
        target: fromBytes(fs.readlinkSync(p, { encoding: 'buffer' }) as unknown as Buffer),
      };
    }
    if (st.isFile())
      return {
        name,
        type: 'file',
        bytes: fs.readFileSync(p),
        mode: st.mode,
        uid: st.uid,
        gid: st.gid,
      };
  } catch (err) {
    throw unreadableError(bytesToUtf8(`${root}/${binDir}/${name}`), err);
  }
  return { name, type: 'other' };
}

/** pyvenv.cfg's bytes and the state its journal record keeps. */
export function readCfgFile(root: ByteString): {
  bytes: Buffer;
  atimeMs: number;
  mtimeMs: number;
  nlink: number;
  mode: number;
  uid: number;
  gid: number;
} {
  const cfgPath = toBytes(`${root}/pyvenv.cfg`);
  try {
    const st = fs.lstatSync(cfgPath);
    return {
      bytes: fs.readFileSync(cfgPath),
      atimeMs: st.atimeMs,
      mtimeMs: st.mtimeMs,
      nlink: st.nlink,
      mode: st.mode,
      uid: st.uid,
      gid: st.gid,
    };
  } catch (err) {
    throw unreadableError(bytesToUtf8(`${root}/pyvenv.cfg`), err);
  }
}

/** The interpreter's own bytes, for a venv made with --copies (its aliases are files). */
export function readInterpreterBinary(realExecutable: ByteString): Buffer {
  try {
    return fs.readFileSync(toBytes(realExecutable));
  } catch (err) {
    throw unreadableError(bytesToUtf8(realExecutable), err);
  }
}

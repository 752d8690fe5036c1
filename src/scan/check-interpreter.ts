/**
 * Name a missing interpreter. A venv relocated onto a machine without its base Python (another
 * distribution, a Python since upgraded) is "Updated" and still dead: every script fails with the
 * kernel's bare "No such file or directory", naming the script. The fix is reinit, and the
 * report says so.
 */
import { posix } from 'node:path';
import { fs } from '../core/fs.js';
import { errnoOf } from '../core/errors.js';
import { bytesToUtf8, fromBytes, toBytes, type ByteString } from '../core/path-boundary.js';
import { type Layout } from './detect-layout.js';
import { parsePyvenvCfg } from '../kinds/pyvenv-cfg.js';
import type { Warning } from '../core/warning.js';
import { realOrSelf } from '../core/real-path.js';

// Linux gives up after 40 links (ELOOP); so do we.
const MAX_LINKS = 40;

/** Where a path leads, as the venv will see it once relocated. */
type Lead = { readonly exists: true } | { readonly exists: false; readonly end: ByteString };

/**
 * Follow `start`'s symlinks one by one. An absolute target under one of `venvPaths` (the old or
 * the new location) is read under `root` instead, where the venv stands: a link into the venv
 * works wherever the venv ends up, and one the relocation re-points names a place that may not
 * exist yet. A relative target is read from its link's real folder, as the kernel does.
 */
function follow(start: ByteString, root: ByteString, venvPaths: readonly ByteString[]): Lead {
  let cur = start;
  for (let i = 0; i <= MAX_LINKS; i++) {
    let st;
    try {
      st = fs.lstatSync(toBytes(cur));
    } catch (err) {
      const code = errnoOf(err);
      // EACCES and the like: cannot tell, so say nothing rather than something wrong.
      if (code === 'ENOENT' || code === 'ENOTDIR') return { exists: false, end: cur };
      return { exists: true };
    }
    if (!st.isSymbolicLink()) return { exists: true };
    const target = fromBytes(fs.readlinkSync(toBytes(cur), { encoding: 'buffer' }) as Buffer);
    cur = target.startsWith('/')
      ? inVenv(posix.normalize(target), root, venvPaths)
      : posix.join(realOrSelf(posix.dirname(cur)), target);
  }
  return { exists: false, end: cur };
}

function inVenv(p: ByteString, root: ByteString, venvPaths: readonly ByteString[]): ByteString {
  for (const v of venvPaths) {
    if (p === v) return root;
    if (p.startsWith(`${v}/`)) return root + p.slice(v.length);
  }
  return p;
}

/**
 * INTERPRETER_MISSING when the venv's `bin/python` (or, without it, `bin/python3`) leads to
 * nothing on this machine, through any chain of links, or pyvenv.cfg's `home` names a folder that
 * does not exist; undefined otherwise. `venvPaths` are the venv's old and new locations (see
 * follow); `shownPath` is PATH as the user gave it, for the fix it names.
 */
export function checkInterpreter(
  root: ByteString,
  layout: Layout,
  venvPaths: readonly ByteString[],
  shownPath: string,
): Warning | undefined {
  const problems: string[] = [];
  let where: string | undefined;
  const bin = `${root}/${layout.binDir}`;
  const name = ['python', 'python3'].find((n) => {
    try {
      fs.lstatSync(toBytes(`${bin}/${n}`));
      return true;
    } catch {
      return false;
    }
  });
  if (name !== undefined) {
    const lead = follow(`${bin}/${name}`, root, venvPaths);
    if (!lead.exists) {
      where = `${layout.binDir}/${name}`;
      problems.push(`${where} leads to ${bytesToUtf8(lead.end)}, which does not exist`);
    }
  }
  if (layout.hasPyvenvCfg) {
    let home: string | undefined;
    try {
      home = parsePyvenvCfg(fs.readFileSync(toBytes(`${root}/pyvenv.cfg`), 'latin1')).get('home');
    } catch {
      // detectLayout read it a moment ago; a file that cannot be read now says nothing here.
    }
    if (home !== undefined && home.startsWith('/')) {
      const lead = follow(inVenv(posix.normalize(home), root, venvPaths), root, venvPaths);
      if (!lead.exists) {
        where ??= 'pyvenv.cfg';
        problems.push(`pyvenv.cfg home is ${bytesToUtf8(home)}, which does not exist`);
      }
    }
  }
  if (where === undefined) return undefined;
  return {
    code: 'INTERPRETER_MISSING',
    message:
      `the venv's interpreter is not on this machine: ${problems.join('; ')}. ` +
      `Its scripts will fail until you run venv-tools --reinitialize ${shownPath}`,
    path: where,
  };
}

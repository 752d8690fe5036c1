/**
 * Why a folder is not a venv, in plain words, beside virtualenv-tools' own message (which names
 * only the first missing piece, `not a directory: X/bin`, and which deploy scripts match word
 * for word): the path does not exist, is a file, holds a venv below it, lies inside one, or
 * which piece of a venv it lacks.
 */
import { isAbsolute, join, relative, resolve } from 'node:path';
import { fs } from '../core/fs.js';

/** How many folders the search for a venv below looks into, at most. */
const SEARCH_LIMIT = 400;

function statOf(p: string): 'dir' | 'file' | 'other' | undefined {
  try {
    const st = fs.statSync(p);
    return st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
  } catch {
    return undefined;
  }
}

/** A folder that looks like a venv: pyvenv.cfg, or (virtualenv < 20) bin/activate and lib/. */
function looksLikeVenv(dir: string): boolean {
  if (statOf(join(dir, 'pyvenv.cfg')) === 'file') return true;
  return statOf(join(dir, 'bin', 'activate')) === 'file' && statOf(join(dir, 'lib')) === 'dir';
}

function subfolders(dir: string): string[] {
  try {
    return fs
      .readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
  } catch {
    return [];
  }
}

/** The venvs one or two folders below `abs` (a bounded search), as names relative to it. */
export function venvsBelow(abs: string): string[] {
  const found: string[] = [];
  let budget = SEARCH_LIMIT;
  const level = subfolders(abs);
  for (const name of level) {
    if (budget-- <= 0) break;
    if (looksLikeVenv(join(abs, name))) found.push(name);
  }
  if (found.length > 0) return found;
  for (const name of level) {
    for (const sub of subfolders(join(abs, name))) {
      if (budget-- <= 0) return found;
      if (looksLikeVenv(join(abs, name, sub))) found.push(`${name}/${sub}`);
    }
  }
  return found;
}

/** The venv that holds `abs`, if one of its parents is one. */
function venvAbove(abs: string): string | undefined {
  for (let dir = resolve(abs, '..'); ; dir = resolve(dir, '..')) {
    if (looksLikeVenv(dir)) return dir;
    if (dir === '/') return undefined;
  }
}

/** `rel` below the path the user typed, joined as typed. */
function below(given: string, rel: string): string {
  return given.endsWith('/') ? given + rel : `${given}/${rel}`;
}

/** An absolute path as the user would type it: relative when they typed a relative one. */
function shown(given: string, abs: string): string {
  return isAbsolute(given) ? abs : relative(process.cwd(), abs) || '.';
}

function list(words: readonly string[]): string {
  const some = words.slice(0, 3);
  const more = words.length > 3 ? ` (and ${words.length - 3} more)` : '';
  return `${some.slice(0, -1).join(', ')}${some.length > 1 ? ' and ' : ''}${some.at(-1) ?? ''}${more}`;
}

/**
 * Why `given` (absolute: `abs`) is not a venv, when `missing` (relative to it: `bin`, `lib`,
 * `lib/python#.#`, `lib/pythonX.Y/site-packages`, `bin/activate`, or '' for the folder itself)
 * is what virtualenv-tools' check found missing.
 */
export function explainNotAVenv(given: string, abs: string, missing: string): string {
  if (missing === '') {
    let link: string | undefined;
    try {
      if (fs.lstatSync(abs).isSymbolicLink()) link = fs.readlinkSync(abs, 'utf8');
    } catch {
      return `${given} does not exist`;
    }
    if (statOf(abs) === undefined)
      return `${given} is a symlink to ${link ?? '?'}, which does not exist`;
    return `${given} is a file, not a folder: name the venv's folder`;
  }
  if (missing === 'bin' || missing === 'lib') {
    const venvs = venvsBelow(abs).map((v) => below(given, v));
    if (venvs.length === 1)
      return `${given} is not a venv itself; the venv below it is ${venvs[0]}`;
    if (venvs.length > 1)
      return `${given} is not a venv itself; the venvs below it are ${list(venvs)}`;
    const above = venvAbove(abs);
    if (above !== undefined) {
      return `${given} is inside the venv ${shown(given, above)}: name the venv's own folder`;
    }
    return `${given} has no ${missing}/ folder, so it is not a venv: a venv holds bin/, lib/pythonX.Y/site-packages/ and pyvenv.cfg`;
  }
  if (missing === 'lib/python#.#') {
    const pythons = subfolders(join(abs, 'lib')).filter((n) => /^(python|pypy)\d+\.\d+$/.test(n));
    return pythons.length > 1
      ? `${below(given, 'lib')} holds ${list(pythons)}: a venv has exactly one pythonX.Y folder`
      : `${below(given, 'lib')} has no pythonX.Y folder, where a venv keeps its packages`;
  }
  if (missing.endsWith('/site-packages')) {
    return `${below(given, missing.slice(0, -'/site-packages'.length))} has no site-packages folder`;
  }
  return `${given} has neither pyvenv.cfg nor bin/activate: every venv has pyvenv.cfg (virtualenv before 20 wrote only bin/activate)`;
}

import { posix } from 'node:path';
import { VenvToolsError } from '../core/errors.js';
import { bytesToUtf8, stripTrailingSlash, type ByteString } from '../core/path-boundary.js';
import { activateFlavor } from '../kinds/rewrite-activate.js';
import { activateEvidence } from '../kinds/activate-evidence.js';
import { parseShebang } from '../kinds/parse-shebang.js';
import { suggestOldPrefix } from './suggest-old-prefix.js';

/** Where a piece of evidence comes from. */
export type EvidenceSource =
  | 'activate'
  | 'shebang'
  | 'pyvenv.cfg'
  /** The prefix in front of a pyc's `co_filename`: where it was compiled. */
  | 'pyc'
  /** An absolute RECORD row inside a venv-shaped location. */
  | 'record'
  | 'pth'
  | 'egg-link';

/** One place that names a venv location. */
export interface Evidence {
  /**
   * File it came from, relative to the venv root (byte string). For a summary of several files
   * (`count` > 1), the first of them in path order.
   */
  readonly file: ByteString;
  readonly source: EvidenceSource;
  /** The location it names (byte string, no trailing slash). */
  readonly location: ByteString;
  /**
   * How many files of this source name this location: pycs, RECORDs, .pth and egg-link files
   * are summarised, one piece of evidence per location and source, so reports stay readable.
   * Absent: one.
   */
  readonly count?: number;
}

/** The files the evidence is read from, with their bytes. */
export interface EvidenceFiles {
  /** bin/* regular files: activate scripts and scripts. */
  readonly bin: ReadonlyArray<{ name: ByteString; bytes: Buffer }>;
  readonly pyvenvCfg: Buffer | undefined;
  /** pyvenv.cfg `home`, used to tell the base interpreter's shebangs from the venv's own. */
  readonly home: ByteString | undefined;
}

/** The venv argument of pyvenv.cfg's `command = PY -m venv [OPTIONS] DIR` (CPython 3.11+). */
export function commandVenvDir(cfg: ByteString): ByteString | undefined {
  for (const line of cfg.split(/\r?\n/)) {
    const m = /^\s*command\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    const value = (m[1] ?? '').trimEnd();
    const at = value.indexOf(' -m venv ');
    if (at === -1) continue;
    // venv writes its options as single words before the directory, which it writes last and
    // unquoted (Lib/venv/__init__.py, 3.11+); `--prompt="..."` may hold spaces.
    let rest = value.slice(at + ' -m venv '.length);
    for (;;) {
      rest = rest.trimStart();
      if (!rest.startsWith('-')) break;
      const q = /^--prompt="[^"]*"|^\S+/.exec(rest);
      rest = rest.slice(q ? q[0].length : rest.length);
    }
    if (rest.startsWith('/')) return stripTrailingSlash(rest);
  }
  return undefined;
}

/** The venv a script's interpreter lives in: `/x/bin/python3` -> `/x`; undefined otherwise. */
function venvOfInterpreter(
  interpreter: ByteString,
  home: ByteString | undefined,
): ByteString | undefined {
  if (!interpreter.startsWith('/')) return undefined;
  const dir = posix.dirname(interpreter);
  const base = posix.basename(interpreter);
  if (posix.basename(dir) !== 'bin' || !/^(python|pypy)/.test(base)) return undefined;
  // A script pointing at the base interpreter (pyvenv.cfg `home`) is not evidence of the venv.
  if (home !== undefined && stripTrailingSlash(home) === dir) return undefined;
  if (dir === '/usr/bin' || dir === '/bin' || dir === '/usr/local/bin') return undefined;
  return posix.dirname(dir);
}

/** Gather every piece of evidence for the venv's recorded location. */
export function gatherEvidence(files: EvidenceFiles): Evidence[] {
  const out: Evidence[] = [];
  for (const { name, bytes } of files.bin) {
    const flavor = activateFlavor(name);
    if (flavor !== undefined) {
      for (const v of activateEvidence(bytes, flavor)) {
        out.push({ file: `bin/${name}`, source: 'activate', location: stripTrailingSlash(v) });
      }
      continue;
    }
    const sb = parseShebang(bytes);
    if (sb === undefined) continue;
    const loc = venvOfInterpreter(sb.interpreter, files.home);
    if (loc !== undefined) out.push({ file: `bin/${name}`, source: 'shebang', location: loc });
  }
  if (files.pyvenvCfg !== undefined) {
    const dir = commandVenvDir(files.pyvenvCfg.toString('latin1'));
    if (dir !== undefined) out.push({ file: 'pyvenv.cfg', source: 'pyvenv.cfg', location: dir });
  }
  return out;
}

/** What `findOldPrefix` concluded. */
export type OldPrefix =
  | { readonly state: 'found'; readonly old: ByteString; readonly evidence: Evidence[] }
  | { readonly state: 'up-to-date'; readonly evidence: Evidence[] };

/** The evidence as the messages list it: one line per location, with up to three of its files. */
export function describeEvidence(evidence: readonly Evidence[]): string {
  const byLoc = new Map<ByteString, Evidence[]>();
  for (const e of evidence) byLoc.set(e.location, [...(byLoc.get(e.location) ?? []), e]);
  return [...byLoc]
    .map(([loc, es]) => {
      const files = [...new Set(es.map((e) => bytesToUtf8(e.file)))];
      const shown =
        files.slice(0, 3).join(', ') + (files.length > 3 ? `, … (${files.length} files)` : '');
      return `  ${bytesToUtf8(loc)}  (${shown})`;
    })
    .join('\n');
}

/**
 * Decide the venv's old location from the evidence. Evidence naming `target` counts as done
 * (a half-relocated venv is finished); exactly one other location is the old one.
 */
export function findOldPrefix(
  evidence: readonly Evidence[],
  target: ByteString,
  shownPath: string,
): OldPrefix {
  const others = [...new Set(evidence.map((e) => e.location).filter((l) => l !== target))];
  if (others.length === 1)
    return { state: 'found', old: others[0] as ByteString, evidence: [...evidence] };
  if (others.length === 0 && evidence.length > 0)
    return { state: 'up-to-date', evidence: [...evidence] };
  if (others.length === 0) {
    throw new VenvToolsError(
      'NO_OLD_PREFIX',
      `cannot tell where ${shownPath} was built: no activate script, script shebang or pyvenv.cfg command names a location.\n` +
        `Name it with --from OLD, e.g. venv-tools relocate ${shownPath} --from /old/path/venv --to ${bytesToUtf8(target)}`,
      shownPath,
    );
  }
  // Never suggest a location that would be refused (/, a system folder): see suggestOldPrefix.
  const suggested = suggestOldPrefix(evidence, target);
  throw new VenvToolsError(
    'AMBIGUOUS_OLD_PREFIX',
    `${shownPath} names several old locations:\n${describeEvidence(evidence.filter((e) => e.location !== target))}\n` +
      (suggested === undefined
        ? `None of them can be where it was built (/ and system folders never are): look at the files listed, then name the folder it was built at with --from OLD, e.g. venv-tools relocate ${shownPath} --from /old/path/venv --to ${bytesToUtf8(target)}`
        : `Say which one it was built at with --from OLD, e.g. venv-tools relocate ${shownPath} --from ${bytesToUtf8(suggested)} --to ${bytesToUtf8(target)}`),
    shownPath,
  );
}

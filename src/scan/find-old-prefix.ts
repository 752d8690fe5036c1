import { posix } from 'node:path';
import { VenvToolsError } from '../core/errors.js';
import { bytesToUtf8, stripTrailingSlash, type ByteString } from '../core/path-boundary.js';
import { activateFlavor } from '../kinds/rewrite-activate.js';
import { activateEvidence } from '../kinds/activate-evidence.js';
import { parseShebang } from '../kinds/parse-shebang.js';
import type { Evidence, EvidenceFiles } from './evidence.js';
import { suggestOldPrefix } from './suggest-old-prefix.js';
import { commandVenvDir } from '../kinds/pyvenv-cfg.js';

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

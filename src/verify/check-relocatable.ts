/**
 * `verify --relocatable`: nothing may pin the venv to its path. Two kinds of pin:
 * - what make-relocatable rewrites (src/relocate/plan-relocatable.ts): the check asks for that
 *   very plan, and each file it would rewrite is a problem whose fix is make-relocatable;
 * - what it cannot make relative: any other file that names one of the venv's places (a byte
 *   search in every spelling, as verify's search does), binaries included.
 *
 * Two things name the venv and are not pins. A pyc's co_filename names where it was compiled,
 * but the importer replaces it with the source's path at every import: CPython's
 * SourceLoader.get_code() hands each code object it loads from a pyc to _imp._fix_co_filename()
 * (Lib/importlib/_bootstrap_external.py, `_compile_bytecode`; the C side, update_compiled_module()
 * in Python/import.c, has done this since 3.3), and PyPy runs the same importlib with its own
 * _imp._fix_co_filename (checked with PyPy 7.3.11, Python 3.9). After a move, tracebacks and
 * `__code__.co_filename` show the new path (CPython 3.8 to 3.13 and PyPy 3.9, checked by the
 * tests). And pyvenv.cfg's `command` line records how the venv was made; nothing reads it.
 */
import { fs } from '../core/fs.js';
import type { FileKind } from '../kinds/file-kind.js';
import {
  bytesToUtf8,
  fromBytes,
  holdsAnyPath,
  toBytes,
  type ByteString,
  type Mapping,
} from '../core/path-boundary.js';
import type { PinReason, RelocatablePlan } from '../relocate/plan-relocatable.js';
import { plural, result, someOf, type CheckResult } from './check-result.js';
import { spellingsOf, type OldPathSearch } from './search-old-paths.js';

/** A file that still pins the venv once the plan is applied, and why it cannot be made relative. */
export interface Leftover {
  readonly rel: ByteString;
  readonly kind: FileKind;
  readonly why: string;
  /** The places it names. */
  readonly names: readonly ByteString[];
}

const WHY_BY_KIND: Partial<Record<FileKind, string>> = {
  finder: 'an editable finder names the folder in Python code, which is not rewritten',
  'direct-url': 'direct_url.json holds a file: URL, which has no relative form',
  text: 'it names the venv in its text',
  shebang: 'it names the venv in its text',
  activate: 'it names the venv where no form can compute it',
  pth: 'it names the venv in a line that is not a path',
  'egg-link': 'it names the venv in a line that is not a path',
  record: 'it names the venv in a row that is not a path',
  'pyvenv-cfg': 'it names the venv in a setting other than `command`',
  symlink: 'its target names the venv',
};

/** pyvenv.cfg without its `command` line (see the module comment). */
function cfgWithoutCommand(bytes: Buffer): ByteString {
  return fromBytes(bytes)
    .split(/(?<=\n)/)
    .filter((l) => !/^[ \t]*command[ \t]*=/i.test(l))
    .join('');
}

/**
 * What still pins the venv at `root` when `plan` is applied: the pins the plan could not
 * rewrite, every other file the search found naming a place (pycs aside), binaries included,
 * and a planned file whose new content still names one (a script whose body does).
 */
export function leftoversOf(
  root: ByteString,
  plan: RelocatablePlan,
  search: OldPathSearch,
  places: readonly ByteString[],
): Leftover[] {
  const spelled: Mapping[] = places.flatMap((p) => spellingsOf(p).map((s) => ({ from: s, to: p })));
  const namedIn = (s: ByteString): ByteString[] =>
    places.filter((p) =>
      holdsAnyPath(
        s,
        spelled.filter((m) => m.to === p),
      ),
    );
  const planned = new Map(plan.edits.map((e) => [e.rel, e]));
  const why = new Map<ByteString, string>();
  for (const u of plan.unplanned)
    why.set(u.rel, why.has(u.rel) ? `${why.get(u.rel)}; ${u.why}` : u.why);
  const out: Leftover[] = [];
  for (const hit of search.hits) {
    if (hit.rel.endsWith('.pyc') || hit.rel.endsWith('.pyo')) continue;
    const edit = planned.get(hit.rel);
    let names = hit.names;
    if (edit?.op === 'symlink') continue;
    if (edit?.op === 'write') {
      names = namedIn(
        fromBytes(edit.kind === 'pyvenv-cfg' ? toBytes(cfgWithoutCommand(edit.bytes)) : edit.bytes),
      );
      if (names.length === 0) continue;
    } else if (hit.rel === 'pyvenv.cfg') {
      let bytes: Buffer;
      try {
        bytes = fs.readFileSync(toBytes(`${root}/pyvenv.cfg`));
      } catch {
        continue;
      }
      names = namedIn(cfgWithoutCommand(bytes));
      if (names.length === 0) continue;
    }
    out.push({
      rel: hit.rel,
      kind: hit.kind,
      why: why.get(hit.rel) ?? WHY_BY_KIND[hit.kind] ?? 'it names the venv',
      names,
    });
  }
  for (const b of search.binaries) {
    out.push({
      rel: b.rel,
      kind: 'binary',
      why: `a binary (${b.format}) names it ${plural(b.matches, 'time')}; binaries are never edited`,
      names: [],
    });
  }
  for (const b of search.largeBinaries) {
    out.push({
      rel: b.rel,
      kind: 'binary',
      why: `a binary (${(b.size / 1e6).toFixed(0)} MB, not read whole) holds its text; binaries are never edited`,
      names: [],
    });
  }
  // A pin the plan saw but the search did not (a path spelled in a way the search does not
  // know): listed all the same.
  for (const u of plan.unplanned) {
    if (!out.some((l) => l.rel === u.rel))
      out.push({ rel: u.rel, kind: u.kind, why: why.get(u.rel) ?? u.why, names: [] });
  }
  return out.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
}

/** What each pin is, and what it does wrong, for one file and for several. */
const PIN_MESSAGE: Readonly<
  Record<Exclude<PinReason, 'hashes' | 'uv-script'>, readonly [string, string, string]>
> = {
  script: [
    'script',
    'runs its interpreter by an absolute path',
    'run their interpreter by an absolute path',
  ],
  activate: [
    'activate script',
    'sets VIRTUAL_ENV to a fixed path',
    'set VIRTUAL_ENV to a fixed path',
  ],
  pth: [
    '.pth or .egg-link file',
    'names a folder of the venv by an absolute path',
    'name folders of the venv by an absolute path',
  ],
  record: [
    'RECORD',
    'lists files of the venv by an absolute path',
    'list files of the venv by an absolute path',
  ],
  symlink: [
    'symlink',
    'points into the venv by an absolute path',
    'point into the venv by an absolute path',
  ],
  'pyvenv-cfg': [
    'pyvenv.cfg',
    'does not say `relocatable = true`',
    'do not say `relocatable = true`',
  ],
};

/** True for a rewrite that removes a pin (not one that only follows others, or improves uv's form). */
export function isPin(reason: PinReason): boolean {
  return reason in PIN_MESSAGE;
}

/** The `relocatable` check: every pin the plan would rewrite, and every leftover. */
export function checkRelocatable(
  plan: RelocatablePlan,
  leftovers: readonly Leftover[],
): CheckResult {
  const problems: Array<{ message: string; paths: string[] }> = [];
  for (const reason of Object.keys(PIN_MESSAGE) as Array<keyof typeof PIN_MESSAGE>) {
    const files = plan.edits.filter((e) => e.reason === reason).map((e) => bytesToUtf8(e.rel));
    if (files.length === 0) continue;
    const [what, one, many] = PIN_MESSAGE[reason];
    const subject =
      reason === 'pyvenv-cfg' ? what : `${plural(files.length, what)} (${someOf(files)})`;
    problems.push({
      message: `${subject} ${files.length === 1 ? one : many}; venv-tools make-relocatable rewrites ${files.length === 1 ? 'it' : 'them'}`,
      paths: files,
    });
  }
  for (const l of leftovers) {
    const named = l.names.length === 0 ? 'the venv' : l.names.map(bytesToUtf8).join(' and ');
    problems.push({
      message: `${bytesToUtf8(l.rel)} names ${named} and cannot be made relative: ${l.why}`,
      paths: [bytesToUtf8(l.rel)],
    });
  }
  const pins = plan.edits.filter((e) => isPin(e.reason)).length;
  const summary =
    problems.length === 0
      ? 'nothing pins the venv to its path: scripts, activate scripts, .pth, RECORD and symlinks find it at run time'
      : `${plural(pins + leftovers.length, 'file')} ${pins + leftovers.length === 1 ? 'pins' : 'pin'} the venv to its path`;
  return result('relocatable', summary, problems);
}

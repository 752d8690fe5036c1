import { posix } from 'node:path';
import { bytesToUtf8, fromBytes, type ByteString } from '../core/path-boundary.js';
import { parsePyvenvCfg } from '../kinds/pyvenv-cfg.js';
import type { JournalRecord } from '../apply/journal-format.js';
import {
  BASE_CFG_KEYS,
  rewritePyvenvCfgBase,
  type BaseCfgValues,
} from './rewrite-pyvenv-cfg-base.js';

/** What one interpreter alias in bin/ is now. `bytes` of a copy are read only when needed. */
export type AliasState =
  | { readonly name: string; readonly type: 'symlink'; readonly target: ByteString }
  | {
      readonly name: string;
      readonly type: 'file';
      readonly bytes: Buffer;
      readonly mode: number;
      readonly uid: number;
      readonly gid: number;
    }
  | { readonly name: string; readonly type: 'other' }
  | { readonly name: string; readonly type: 'missing' };

/**
 * The form of an alias. venv and virtualenv write one `interpreter-link` (absolute, out of the
 * venv to the base interpreter) and relative `alias-link`s to it (`python -> python3`); a
 * `--copies` venv has a `copy` of the binary instead.
 */
export type AliasForm = 'interpreter-link' | 'alias-link' | 'copy' | 'missing' | 'other';

/** One alias in the plan. `old`/`new` are link targets (null: none); for a copy, `new` is the file copied in. */
export interface LinkChange {
  /** `bin/python3` */
  readonly path: string;
  readonly form: AliasForm;
  /** `relink`/`copy`/`create` change it; `keep` leaves it (a relative link, or already right). */
  readonly action: 'relink' | 'copy' | 'create' | 'keep';
  readonly old: string | null;
  readonly new: string | null;
  /** True when the alias is, or becomes, a copy of the binary rather than a link. */
  readonly copy: boolean;
}

/** One pyvenv.cfg key whose value changes. */
export interface CfgChange {
  readonly key: string;
  readonly old: string;
  readonly new: string;
}

/** A warning with a stable code. */
export interface ReinitWarning {
  readonly code:
    | 'ALIAS_NOT_BINARY'
    | 'ALIAS_NOT_LINK'
    | 'FORCED_VERSION'
    | 'JOURNAL_PENDING'
    | 'LINK_TARGET_RESOLVED';
  readonly message: string;
  readonly path?: string;
}

export interface ReinitPlanInput {
  /** The venv root, absolute. */
  readonly root: ByteString;
  readonly binDir: string;
  /** The interpreter aliases, existing or not (`python` is always among them). */
  readonly aliases: readonly AliasState[];
  /** What links point at: the interpreter as found. */
  readonly linkTarget: ByteString;
  /** What copies are copied from: the interpreter's real executable. */
  readonly copySource: ByteString;
  /** Its bytes; required when any alias is a copy. */
  readonly newBinary: Buffer | undefined;
  readonly cfg:
    | {
        readonly bytes: Buffer;
        readonly atimeMs: number;
        readonly mtimeMs: number;
        readonly nlink: number;
        readonly mode: number;
        readonly uid: number;
        readonly gid: number;
      }
    | undefined;
  readonly cfgValues: BaseCfgValues;
  /** The time a copied-in binary gets (venv's shutil.copyfile leaves it "now" too). */
  readonly now: number;
}

export interface ReinitPlan {
  readonly links: readonly LinkChange[];
  readonly cfg: readonly CfgChange[];
  readonly records: readonly JournalRecord[];
  readonly warnings: readonly ReinitWarning[];
}

/** ELF, Mach-O (both byte orders, 32/64, fat): what a copied interpreter starts with. */
function looksLikeExecutable(b: Buffer): boolean {
  if (b.length < 4) return false;
  const m = b.readUInt32BE(0);
  return (
    m === 0x7f454c46 ||
    m === 0xfeedface ||
    m === 0xfeedfacf ||
    m === 0xcefaedfe ||
    m === 0xcffaedfe ||
    m === 0xcafebabe
  );
}

/** Where a link points, made absolute and normalised without touching the disk. */
function lexicalTarget(root: ByteString, binDir: string, target: ByteString): ByteString {
  return target.startsWith('/')
    ? posix.normalize(target)
    : posix.normalize(`${root}/${binDir}/${target}`);
}

function inside(root: ByteString, p: ByteString): boolean {
  return p === root || p.startsWith(`${root}/`);
}

/**
 * The form an alias has today. A link is judged by where it leads, not how it is spelled: one
 * that leaves the venv, even by a relative `../../usr/bin/python3`, names the base
 * interpreter and gets the new one, written absolute so it survives the venv's next move.
 */
function formOf(root: ByteString, binDir: string, a: AliasState): AliasForm {
  switch (a.type) {
    case 'symlink':
      return inside(root, lexicalTarget(root, binDir, a.target))
        ? 'alias-link'
        : 'interpreter-link';
    case 'file':
      return looksLikeExecutable(a.bytes) ? 'copy' : 'other';
    case 'other':
      return 'other';
    case 'missing':
      return 'missing';
  }
}

/** What planning one alias needs to know of the others. */
interface AliasPlanning {
  readonly input: ReinitPlanInput;
  readonly forms: ReadonlyMap<string, AliasForm>;
  /** Does `name` end at an interpreter, following relative links among the aliases? */
  readonly resolves: (name: string) => boolean;
  /** A file alias to copy the mode and owner of, in a --copies venv. */
  readonly copyLike: Extract<AliasState, { type: 'file' }> | undefined;
}

/** What one alias comes to: its line in the report, and the records (none when it stays). */
interface AliasStep {
  readonly link: LinkChange;
  readonly records: JournalRecord[];
  readonly warning?: ReinitWarning;
}

/**
 * Plan the re-pointing of a venv's interpreter (docs/ARCHITECTURE.md, "reinit"); pure. Links
 * that lead out of the venv go to the interpreter as found, links within it (`python ->
 * python3`) stay, copies get a fresh copy of the real executable, and pyvenv.cfg gets the new
 * base values. Every change becomes a journal record: links and copies are renamed over.
 */
export function planReinit(input: ReinitPlanInput): ReinitPlan {
  const { root, binDir } = input;
  const forms = new Map<string, AliasForm>();
  for (const a of input.aliases) forms.set(a.name, formOf(root, binDir, a));
  const byName = new Map(input.aliases.map((a) => [a.name, a] as const));
  const resolves = (name: string, seen: Set<string> = new Set()): boolean => {
    const a = byName.get(name);
    const form = forms.get(name);
    if (a === undefined) return true; // not an alias we track: we cannot judge it, so trust it
    if (form === 'interpreter-link' || form === 'copy') return true;
    if (form !== 'alias-link' || a.type !== 'symlink' || seen.has(name)) return false;
    seen.add(name);
    const t = lexicalTarget(root, binDir, a.target);
    const binAbs = posix.normalize(`${root}/${binDir}`);
    if (posix.dirname(t) !== binAbs) return true; // elsewhere in the venv: not ours to judge
    return resolves(posix.basename(t), seen);
  };
  const planning: AliasPlanning = {
    input,
    forms,
    resolves: (name) => resolves(name),
    // A missing alias in a --copies venv becomes a copy with the mode and owner of the others.
    copyLike: input.aliases.find(
      (a): a is Extract<AliasState, { type: 'file' }> =>
        a.type === 'file' && looksLikeExecutable(a.bytes),
    ),
  };
  const links: LinkChange[] = [];
  const records: JournalRecord[] = [];
  const warnings: ReinitWarning[] = [];
  for (const a of input.aliases) {
    const step = planAlias(a, planning);
    if (step === undefined) continue;
    links.push(step.link);
    records.push(...step.records);
    if (step.warning !== undefined) warnings.push(step.warning);
  }
  const cfg = planCfg(input);
  if (cfg.record !== undefined) records.push(cfg.record);
  return { links, cfg: cfg.changes, records, warnings };
}

/** One alias: kept, re-linked, copied again or created; undefined for a missing one not needed. */
function planAlias(a: AliasState, p: AliasPlanning): AliasStep | undefined {
  const { input } = p;
  const rel = `${input.binDir}/${a.name}`;
  const path = bytesToUtf8(rel);
  const form = p.forms.get(a.name) as AliasForm;
  const linkTarget = bytesToUtf8(input.linkTarget);
  const copySource = bytesToUtf8(input.copySource);
  const relink = (): JournalRecord => ({ op: 'symlink', rel, target: input.linkTarget });
  const copy = (like: { mode: number; uid: number; gid: number }): JournalRecord => {
    if (input.newBinary === undefined)
      throw new Error(`planReinit: the bytes of ${copySource} are needed for ${a.name}`);
    return {
      op: 'replace',
      rel,
      data: input.newBinary,
      mode: like.mode,
      uid: like.uid,
      gid: like.gid,
      atimeMs: input.now,
      mtimeMs: input.now,
    };
  };
  const link = (
    action: LinkChange['action'],
    old: string | null,
    next: string | null,
    isCopy: boolean,
  ): LinkChange => ({ path, form, action, old, new: next, copy: isCopy });
  switch (form) {
    case 'interpreter-link': {
      const target = (a as { target: ByteString }).target;
      const old = bytesToUtf8(target);
      return target === input.linkTarget
        ? { link: link('keep', old, linkTarget, false), records: [] }
        : { link: link('relink', old, linkTarget, false), records: [relink()] };
    }
    case 'alias-link': {
      const old = bytesToUtf8((a as { target: ByteString }).target);
      // A dangling chain (its target alias is gone): point it straight at the interpreter.
      return p.resolves(a.name)
        ? { link: link('keep', old, old, false), records: [] }
        : { link: link('relink', old, linkTarget, false), records: [relink()] };
    }
    case 'copy': {
      const file = a as Extract<AliasState, { type: 'file' }>;
      return input.newBinary !== undefined && file.bytes.equals(input.newBinary)
        ? { link: link('keep', null, copySource, true), records: [] }
        : { link: link('copy', null, copySource, true), records: [copy(file)] };
    }
    case 'missing': {
      // `python` must lead to an interpreter; so must every alias that exists.
      if (a.name !== 'python' && a.type === 'missing') return undefined;
      return p.copyLike !== undefined
        ? { link: link('create', null, copySource, true), records: [copy(p.copyLike)] }
        : { link: link('create', null, linkTarget, false), records: [relink()] };
    }
    case 'other':
      return {
        link: link('keep', null, null, false),
        records: [],
        warning: {
          code: a.type === 'file' ? 'ALIAS_NOT_BINARY' : 'ALIAS_NOT_LINK',
          message: `${path} is ${a.type === 'file' ? 'a file but not an executable binary (a wrapper script?)' : 'neither a link nor a file'}: left as it is`,
          path,
        },
      };
  }
}

/** pyvenv.cfg's new base values: the keys that change, and the record that writes them. */
function planCfg(input: ReinitPlanInput): { changes: CfgChange[]; record?: JournalRecord } {
  const changes: CfgChange[] = [];
  if (input.cfg === undefined) return { changes };
  // May throw RewriteError (a path that cannot be written into pyvenv.cfg); the caller names the file.
  const next = rewritePyvenvCfgBase(input.cfg.bytes, { values: input.cfgValues });
  if (next === undefined) return { changes };
  const before = parsePyvenvCfg(fromBytes(input.cfg.bytes));
  const after = parsePyvenvCfg(fromBytes(next));
  for (const key of BASE_CFG_KEYS) {
    const o = before.get(key);
    const n = after.get(key);
    if (o !== undefined && n !== undefined && o !== n)
      changes.push({ key, old: bytesToUtf8(o), new: bytesToUtf8(n) });
  }
  const st = input.cfg;
  // Same rule as relocation: a file with other hard links gets a new file renamed over it.
  const record: JournalRecord =
    st.nlink > 1
      ? {
          op: 'replace',
          rel: 'pyvenv.cfg',
          data: next,
          mode: st.mode,
          uid: st.uid,
          gid: st.gid,
          atimeMs: st.atimeMs,
          mtimeMs: st.mtimeMs,
        }
      : { op: 'write', rel: 'pyvenv.cfg', data: next, atimeMs: st.atimeMs, mtimeMs: st.mtimeMs };
  return { changes, record };
}

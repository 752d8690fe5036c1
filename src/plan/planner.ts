import type { Stats } from 'node:fs';
import { posix } from 'node:path';
import { RewriteError, VenvToolsError } from '../core/errors.js';
import type { Warning } from '../core/warning.js';
import type { FileKind } from '../kinds/file-kind.js';
import {
  bytesToUtf8,
  findPathMatches,
  fromBytes,
  holdsAnyPath,
  isNameByte,
  isWholePathAt,
  replacePaths,
  toBytes,
  type ByteString,
  type Mapping,
} from '../core/path-boundary.js';
import { binaryFormat, classifyFile, type Syntax } from '../scan/classify-file.js';
import type { Layout } from '../scan/detect-layout.js';
import { activateFlavor, rewriteActivate } from '../kinds/rewrite-activate.js';
import { rewriteJson } from '../kinds/rewrite-json.js';
import { rewritePth } from '../kinds/rewrite-pth.js';
import { PYC_HEADER_MAX, pycInvalidation } from '../kinds/pyc/pyc-header.js';
import { rewritePyc } from '../kinds/pyc/rewrite-pyc.js';
import { rewritePythonSource } from '../kinds/rewrite-python-source.js';
import { rewritePyvenvCfg } from '../kinds/rewrite-pyvenv-cfg.js';
import {
  listedWithHash,
  recordUpdateOf,
  rewriteRecord,
  type RecordUpdate,
} from '../kinds/rewrite-record.js';
import { rewriteShebang } from '../kinds/rewrite-shebang.js';
import { pycCacheTag, sourceOfPyc } from '../kinds/pyc/source-of-pyc.js';

/** One change the apply step will make; paths are relative to the venv root. */
export type Edit =
  | {
      readonly op: 'write';
      readonly rel: ByteString;
      readonly kind: FileKind;
      readonly bytes: Buffer;
      readonly before: Buffer;
    }
  | {
      readonly op: 'symlink';
      readonly rel: ByteString;
      readonly kind: 'symlink';
      readonly target: ByteString;
      readonly before: ByteString;
    }
  | {
      readonly op: 'remove';
      readonly rel: ByteString;
      readonly kind: 'pyc-removed';
      readonly reason: string;
      /** Set when the venv's interpreter compiles it again after the commit. */
      readonly regenerate?: Regeneration;
    };

/** How to compile a dropped pyc again (`py_compile.compile`); paths are byte strings. */
export interface Regeneration {
  /** The source .py, relative to the venv root. */
  readonly source: ByteString;
  /** The source's path at the venv's new place: the `co_filename` to compile in (`dfile`). */
  readonly dfile: ByteString;
  /** The header's flags word (PEP 552): 0 timestamp, 1 unchecked hash, 3 checked hash. */
  readonly invalidation: 0 | 1 | 3;
  /** `-O` level of the name's `.opt-N` (0 without). */
  readonly optimize: number;
  /** The cache tag the name carries (`cpython-311`), or '' for a legacy pyc beside its source. */
  readonly tag: string;
}

/**
 * A pyc the run cannot keep as it is (a magic it does not know, a corrupt body, the old path in
 * bytes data of a source it rewrites), and what becomes of it: `regenerated` (removed, then
 * compiled again from its source by the venv's interpreter once the journal is applied),
 * `removed` (Python compiles it again on import, or, sourceless, --drop-unreadable-pycs), or
 * `refused` (sourceless and naming the old path: scan lists it; a relocation fails on it).
 */
export interface DroppedPyc {
  readonly rel: ByteString;
  /** Its source beside it, or undefined when there is none. */
  readonly source: ByteString | undefined;
  readonly outcome: 'regenerated' | 'removed' | 'refused';
  readonly reason: string;
  readonly job?: Regeneration;
}

/** Whether the venv's interpreter runs here, and the cache tag of the pycs it writes. */
export type PycCompiler =
  { readonly ok: true; readonly tag: string } | { readonly ok: false; readonly why: string };

/** What the planner does with a pyc it cannot rewrite. */
export interface PycPolicy {
  /** Asked at most once, when the first pyc must go: can the venv's interpreter compile it? */
  readonly compiler: () => PycCompiler;
  /**
   * A sourceless pyc that cannot be rewritten and names a mapped path: `refuse` fails the run,
   * `drop` removes it (--drop-unreadable-pycs), `list` lists it as refused (scan).
   */
  readonly sourceless: 'refuse' | 'drop' | 'list';
}

const NO_COMPILER: PycPolicy = {
  compiler: () => ({ ok: false, why: 'no interpreter was asked' }),
  sourceless: 'refuse',
};

/** A binary file that holds a mapped path; never edited. */
export interface BinaryHit {
  readonly rel: ByteString;
  readonly matches: number;
  readonly format: string;
}

/** A dry run's plan: every edit, with the bytes before and after (for `--diff` and `scan`). */
export interface Plan {
  readonly edits: Edit[];
  readonly binaries: BinaryHit[];
  readonly warnings: Warning[];
}

/** The file's state when it was read, for the journal (times, mode, links, owner). */
export type FileStat = Pick<Stats, 'mode' | 'nlink' | 'uid' | 'gid' | 'atimeMs' | 'mtimeMs'>;

/**
 * Where the planner's edits go as they are made: the journal of a real run, or a dry run's list.
 * `bytes` and `before` are only valid during the call (they may be views of a reused buffer).
 */
export interface EditSink {
  write(rel: ByteString, kind: FileKind, bytes: Buffer, before: Buffer, stat: FileStat): void;
  symlink(rel: ByteString, target: ByteString, before: ByteString): void;
  /** Remove a pyc; with `regenerate`, compile it again once every edit is applied. */
  remove(rel: ByteString, reason: string, regenerate?: Regeneration): void;
}

function rewriteBySyntax(
  syntax: Syntax,
  rel: ByteString,
  bytes: Buffer,
  mappings: readonly Mapping[],
): Buffer | undefined {
  const ctx = { mappings };
  switch (syntax) {
    case 'shebang':
      return rewriteShebang(bytes, ctx);
    case 'activate': {
      const flavor = activateFlavor(posix.basename(rel));
      return flavor === undefined
        ? rewriteText(bytes, mappings)
        : rewriteActivate(bytes, { mappings, flavor });
    }
    case 'python':
      return rewritePythonSource(bytes, ctx);
    case 'pyvenv-cfg':
      return rewritePyvenvCfg(bytes, ctx);
    case 'pth':
      return rewritePth(bytes, ctx);
    case 'json':
      try {
        return rewriteJson(bytes, ctx);
      } catch (err) {
        // Looked like JSON but is not: the plain text rule is the safe reading.
        if (err instanceof RewriteError) return rewriteText(bytes, mappings);
        throw err;
      }
    case 'text':
      return rewriteText(bytes, mappings);
    case 'record':
    case 'pyc':
    case 'binary':
      return undefined;
  }
}

/** The general text rule: whole-path replace, raw. */
export function rewriteText(bytes: Buffer, mappings: readonly Mapping[]): Buffer | undefined {
  const out = replacePaths(fromBytes(bytes), mappings);
  return out === undefined ? undefined : toBytes(out);
}

/**
 * The refusal of a sourceless pyc that names the old location and cannot be rewritten. It says
 * where the source was looked for, since a pyc beside its source is never refused.
 */
function sourcelessPyc(rel: ByteString, source: ByteString, why: string): VenvToolsError {
  const shown = bytesToUtf8(rel);
  const looked = source === rel ? '' : ` (there is no ${bytesToUtf8(source)})`;
  return new VenvToolsError(
    'BAD_PYC',
    `cannot rewrite ${shown}: ${why}, and it has no source beside it to compile it again from${looked}; it names the old location. Nothing was changed. Run again with --drop-unreadable-pycs to remove it and every other such pyc, or replace it.`,
    shown,
  );
}

function failRewrite(rel: ByteString, err: RewriteError): VenvToolsError {
  const shown = bytesToUtf8(rel);
  return new VenvToolsError(
    err.reason === 'unquotable' ? 'UNSUPPORTED' : 'BAD_INPUT',
    `cannot rewrite ${shown}: ${err.message}. Nothing was changed. Choose a target path this file can express, or fix or remove the file and run again.`,
    shown,
  );
}

/**
 * How many mapped paths a binary holds, counted from windows around each occurrence of a `from`:
 * a binary is never edited, and turning a whole large one into a string would hold megabytes
 * (Node makes strings over 1 MB external memory) only to count.
 */
export function countPathMatches(bytes: Buffer, mappings: readonly Mapping[]): number {
  const CHUNK = 1 << 16;
  // Longer than any path a match can span (PATH_MAX), so a match's end and what follows it are
  // in the window that holds its start.
  const PAD = 8192;
  const needles = mappings.filter((m) => m.from !== '').map((m) => Buffer.from(m.from, 'latin1'));
  let n = 0;
  for (let next = 0; next < bytes.length;) {
    let first = -1;
    for (const needle of needles) {
      const i = bytes.indexOf(needle, next);
      if (i !== -1 && (first === -1 || i < first)) first = i;
    }
    if (first === -1) break;
    const from = Math.max(0, first - 1);
    const window = bytes.toString('latin1', from, Math.min(bytes.length, first + CHUNK + PAD));
    for (const m of findPathMatches(window, mappings)) {
      const at = from + m.start;
      if (at >= first && at < first + CHUNK) n++;
    }
    next = first + CHUNK;
  }
  return n;
}

/** RECORD rows are relative to the folder holding the .dist-info (site-packages). */
function recordTarget(
  recordRel: ByteString,
  listed: ByteString,
  newRoot: ByteString,
): ByteString | undefined {
  let rel: string;
  if (listed.startsWith('/')) {
    if (!listed.startsWith(`${newRoot}/`)) return undefined;
    rel = listed.slice(newRoot.length + 1);
  } else {
    const distInfo = recordRel.lastIndexOf('/');
    const site = distInfo === -1 ? -1 : recordRel.lastIndexOf('/', distInfo - 1);
    rel = site === -1 ? listed : `${recordRel.slice(0, site)}/${listed}`;
  }
  // Most rows are plain (`pkg/mod.py`); only `.`, `..` and `//` need the normalizer.
  if (/(?:^|\/)\.\.?(?:\/|$)|\/\//.test(rel)) rel = posix.normalize(rel);
  return rel.startsWith('../') || rel === '..' ? undefined : rel;
}

const isPyc = (rel: ByteString) => rel.endsWith('.pyc') || rel.endsWith('.pyo');

/**
 * Whether a pyc's bytes hold a mapped path, raw. Only the byte after a match is looked at: the
 * one before a str's data is its marshal length, which may be any byte.
 */
function pycHoldsPath(bytes: Buffer, mappings: readonly Mapping[]): boolean {
  for (const m of mappings) {
    if (m.from === '') continue;
    const needle = Buffer.from(m.from, 'latin1');
    for (let i = bytes.indexOf(needle); i !== -1; i = bytes.indexOf(needle, i + 1)) {
      const end = i + needle.length;
      if (end >= bytes.length || !isNameByte(bytes[end]!)) return true;
    }
  }
  return false;
}

const KEPT_IN_BYTES = 'its source was rewritten, and it holds the old path in bytes data too';

/**
 * Turns files into edits as they are read, so that a run never holds more than one file's
 * content (docs/ARCHITECTURE.md, "The pipeline"). Three orders matter, and the caller keeps them:
 * RECORDs are noted before the pycs (to know which pycs need a new hash), every other file
 * before the pycs (a pyc whose source .py this run rewrites needs the new source), and each
 * RECORD is rewritten after every file whose new hash it needs. A caller that plans pycs before
 * every .py is known (another thread's pycs) plans those of a rewritten .py again (pycAgain).
 * Never parses a file that holds no mapped path.
 */
export class Planner {
  private readonly binaries: BinaryHit[] = [];
  private readonly warnings: Warning[] = [];
  /**
   * Files that hold the venv's old path on a path boundary and got no edit, no removal and no
   * place on the binaries' list: each is a rewriter that missed it, and fails the run before
   * anything is written (see unaccounted()).
   */
  private readonly missed: ByteString[] = [];
  /** Pycs that could not be kept as they were (see DroppedPyc). */
  private readonly dropped: DroppedPyc[] = [];
  private compiler: PycCompiler | undefined;
  /** New contents of the .py files this run rewrites, for their pycs' headers. */
  private readonly newSources = new Map<ByteString, Buffer>();
  /** Pycs some RECORD lists with a hash; their new hash and size (and every other file's). */
  private readonly hashWanted = new Set<ByteString>();
  /** Pycs planned here with their source's new content (their header already follows it). */
  private readonly stamped = new Set<ByteString>();
  private readonly updates = new Map<ByteString, RecordUpdate>();
  private readonly newRoot: ByteString;
  private out = Buffer.allocUnsafe(1 << 16);
  private readonly scratch = (size: number): Buffer => {
    if (size > this.out.length) this.out = Buffer.allocUnsafe(Math.max(size, this.out.length * 2));
    return this.out.subarray(0, size);
  };

  constructor(
    private readonly layout: Layout,
    /** Venv-wide mappings (the venv's own first). */
    private readonly mappings: readonly Mapping[],
    /** Whether a regular file is at this rel path (a pyc's source, when the pyc is unusable). */
    private readonly isFile: (rel: ByteString) => boolean,
    private readonly sink: EditSink,
    private readonly pycPolicy: PycPolicy = NO_COMPILER,
  ) {
    this.newRoot = (mappings[0] as Mapping).to;
  }

  /**
   * A RECORD, before any pyc: which pycs it lists with a hash (pip lists them without;
   * a wheel that ships pycs lists them with). Every other file a run rewrites gets its new hash
   * anyway: they are few, and a set of every hashed row would grow with the venv. True when it
   * lists some pyc with a hash: that RECORD waits for the pycs; the others can be rewritten once
   * every other file is planned.
   */
  noteRecord(rel: ByteString, bytes: Buffer): boolean {
    let any = false;
    for (const listed of listedWithHash(bytes)) {
      if (!isPyc(listed)) continue;
      // As rewriteRecord asks about it: an absolute path after it moves.
      const moved = listed.startsWith('/') ? replacePaths(listed, this.mappings) : undefined;
      const target = recordTarget(rel, moved ?? listed, this.newRoot);
      if (target !== undefined) {
        this.hashWanted.add(target);
        any = true;
      }
    }
    return any;
  }

  /** A file that holds a needle, neither a pyc nor a RECORD. */
  file(rel: ByteString, bytes: Buffer, stat: FileStat): void {
    const { kind, syntax } = classifyFile(rel, bytes, this.layout);
    if (syntax === 'pyc') {
      this.pyc(rel, bytes, stat);
      return;
    }
    if (syntax === 'record') return; // by record(), after every other file
    if (syntax === 'binary') {
      const n = countPathMatches(bytes, this.mappings);
      if (n > 0) this.binaries.push({ rel, matches: n, format: binaryFormat(bytes) });
      return;
    }
    let out: Buffer | undefined;
    try {
      out = rewriteBySyntax(syntax, rel, bytes, this.mappings);
    } catch (err) {
      if (err instanceof RewriteError) throw failRewrite(rel, err);
      throw err;
    }
    if (out === undefined || out.equals(bytes)) {
      if (this.holdsOld(bytes)) this.missed.push(rel);
      return;
    }
    this.wrote(rel, kind, out, bytes, stat);
    if (rel.endsWith('.py')) this.newSources.set(rel, Buffer.from(out));
  }

  /**
   * True when the bytes hold the venv's own old path, raw, on a path boundary. Asked only of a
   * file that holds a needle and was left as it was (a needle's false alarm, `/old/app2`, say):
   * every rewriter replaces the raw spelling wherever it stands, so such a file is a miss.
   */
  private holdsOld(bytes: Buffer): boolean {
    return holdsAnyPath(fromBytes(bytes), [this.mappings[0] as Mapping]);
  }

  /** Files holding the old path that no edit or report accounts for (see `missed`). */
  unaccounted(): ByteString[] {
    return [...this.missed];
  }

  /** True when a pyc must be rewritten whatever it holds: this run rewrote its source .py. */
  followsSource(rel: ByteString): boolean {
    return this.newSources.size > 0 && isPyc(rel) && this.newSources.has(sourceOfPyc(rel));
  }

  /** A pyc that holds a needle, or whose source this run rewrote. */
  pyc(rel: ByteString, bytes: Buffer, stat: FileStat): void {
    const source = sourceOfPyc(rel);
    const newSource = this.newSources.get(source);
    if (newSource !== undefined) this.stamped.add(rel);
    const { mappings } = this;
    let out: Buffer | undefined;
    // Into one reused buffer: the sink is done with each result before the next pyc.
    const alloc = this.scratch;
    const kept = { count: 0 };
    try {
      out = rewritePyc(
        bytes,
        newSource === undefined ? { mappings, alloc, kept } : { mappings, newSource, alloc, kept },
      );
    } catch (err) {
      if (!(err instanceof RewriteError)) throw err;
      this.drop(rel, bytes, source, err.message);
      return;
    }
    if (kept.count > 0) {
      // The path stays in bytes data (a bytes constant), which rewritePyc never changes. When
      // the source changes, those bytes came from it: the pyc is compiled again from it.
      // Otherwise it stays as it is, and the report lists it.
      if (newSource !== undefined) {
        this.drop(rel, bytes, source, KEPT_IN_BYTES);
        return;
      }
      this.binaries.push({ rel, matches: kept.count, format: 'pyc bytes' });
    }
    if (out === undefined || out.equals(bytes)) return;
    this.wrote(rel, 'pyc', out, bytes, stat);
  }

  /**
   * A pyc that cannot be kept as it is. With its source beside it, it is only a cache: the venv's
   * interpreter compiles it again after the commit when it runs here and writes pycs of this
   * name's tag; otherwise it is removed, and Python compiles it on the next import. A sourceless
   * one that names no mapped path is left alone; one that does is refused, unless the policy
   * says to drop or list it.
   */
  private drop(rel: ByteString, bytes: Buffer, source: ByteString, why: string): void {
    if (source === rel || !this.isFile(source)) {
      if (!pycHoldsPath(bytes, this.mappings)) return;
      const { sourceless } = this.pycPolicy;
      if (sourceless === 'refuse') throw sourcelessPyc(rel, source, why);
      const outcome = sourceless === 'drop' ? 'removed' : 'refused';
      if (outcome === 'removed') this.sink.remove(rel, why);
      this.dropped.push({ rel, source: undefined, outcome, reason: why });
      return;
    }
    this.compiler ??= this.pycPolicy.compiler();
    const named = pycCacheTag(rel);
    const c = this.compiler;
    if (!c.ok || (named !== undefined && named.tag !== c.tag)) {
      this.sink.remove(rel, why);
      const not = c.ok ? `the venv's interpreter writes ${c.tag} pycs, not ${named?.tag}` : c.why;
      this.dropped.push({ rel, source, outcome: 'removed', reason: `${why}; ${not}` });
      return;
    }
    const job: Regeneration = {
      source,
      dfile: `${this.newRoot}/${source}`,
      invalidation: pycInvalidation(bytes),
      optimize: named?.optimize ?? 0,
      tag: named?.tag ?? '',
    };
    this.sink.remove(rel, why, job);
    this.dropped.push({ rel, source, outcome: 'regenerated', reason: why, job });
  }

  /**
   * A pyc planned before its source .py was known to change (by another thread, or before that
   * thread's .py files came in), now that it is: planned again with the new source. The first plan
   * stands unless the header changes: it already rewrote the body, and a pyc it could not rewrite
   * was removed or failed the run. Otherwise this writes the whole new pyc, which equals the first
   * plan's from the end of the header on: applied after it (or before it), the file comes out the
   * same. A pyc whose first plan kept the path in bytes data is removed instead (see pyc()), and
   * that record must be applied after the first. Returns what it planned.
   */
  pycAgain(rel: ByteString, bytes: Buffer, stat: FileStat): 'write' | 'remove' | undefined {
    const source = sourceOfPyc(rel);
    const newSource = this.newSources.get(source);
    if (newSource === undefined || !this.needsAgain(rel)) return undefined;
    this.stamped.add(rel);
    let out: Buffer | undefined;
    const kept = { count: 0 };
    try {
      out = rewritePyc(bytes, { mappings: this.mappings, newSource, alloc: this.scratch, kept });
    } catch (err) {
      if (err instanceof RewriteError) return undefined;
      throw err;
    }
    if (kept.count > 0) {
      const listed = this.binaries.findIndex((b) => b.rel === rel);
      if (listed !== -1) this.binaries.splice(listed, 1);
      this.drop(rel, bytes, source, KEPT_IN_BYTES);
      return 'remove';
    }
    if (out === undefined || out.compare(bytes, 0, PYC_HEADER_MAX, 0, PYC_HEADER_MAX) === 0) {
      return undefined;
    }
    this.wrote(rel, 'pyc', out, bytes, stat);
    return 'write';
  }

  /** True for a pyc whose source has new content and that was not planned with it. */
  needsAgain(rel: ByteString): boolean {
    return this.followsSource(rel) && !this.stamped.has(rel);
  }

  /** The pycs this planner planned with their source's new content. */
  stampedPycs(): ByteString[] {
    return [...this.stamped];
  }

  /** Pycs another thread planned with their source's new content. */
  addStamped(list: Iterable<ByteString>): void {
    for (const rel of list) this.stamped.add(rel);
  }

  /**
   * A RECORD, after every file it may list with a hash (every file but the pycs, and the pycs too
   * if noteRecord said so): absolute paths move, rewritten files get their new hash.
   */
  record(rel: ByteString, bytes: Buffer, stat: FileStat): void {
    let out: Buffer | undefined;
    try {
      out = rewriteRecord(bytes, {
        mappings: this.mappings,
        updateFor: (listed) => {
          const target = recordTarget(rel, listed, this.newRoot);
          return target === undefined ? undefined : this.updates.get(target);
        },
      });
    } catch (err) {
      if (err instanceof RewriteError) throw failRewrite(rel, err);
      throw err;
    }
    if (out === undefined || out.equals(bytes)) {
      if (this.holdsOld(bytes)) this.missed.push(rel);
      return;
    }
    this.sink.write(rel, 'record', out, bytes, stat);
  }

  /** A symlink: its target moves when it starts with a mapped path. */
  symlink(rel: ByteString, before: ByteString): void {
    const m = findPathMatches(before, this.mappings)[0];
    if (m === undefined || m.start !== 0 || !isWholePathAt(before, m.start, m.end)) return;
    const target = m.mapping.to + before.slice(m.end);
    if (target !== before) this.sink.symlink(rel, target, before);
  }

  /** The binaries that hold a mapped path (never edited), and the warnings, once all is read. */
  finish(): { binaries: BinaryHit[]; warnings: Warning[]; dropped: DroppedPyc[] } {
    const binaries = [...this.binaries].sort((a, b) =>
      a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0,
    );
    const warnings = [...this.warnings];
    for (const b of binaries) {
      warnings.push({
        code: 'BINARY_NOT_EDITED',
        message:
          b.format === 'pyc bytes'
            ? `${bytesToUtf8(b.rel)} holds the old path ${b.matches} time(s) inside bytes data, where it is not a file name; left as it is`
            : `${bytesToUtf8(b.rel)} (${b.format}) holds the old path ${b.matches} time(s); binaries are never edited`,
        path: bytesToUtf8(b.rel),
      });
    }
    const dropped = [...this.dropped].sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
    return { binaries, warnings, dropped };
  }

  /** The new .py contents this planner made (another thread's pycs may follow them). */
  sources(): Array<[ByteString, Buffer]> {
    return [...this.newSources];
  }

  /** New .py contents another thread made. */
  addSources(list: Iterable<readonly [ByteString, Uint8Array]>): void {
    for (const [rel, b] of list) this.newSources.set(rel, Buffer.from(b));
  }

  /** The files some RECORD lists with a hash (noted by noteRecord). */
  wantedHashes(): ByteString[] {
    return [...this.hashWanted];
  }

  /** Files some RECORD lists with a hash, as another thread's planner noted them. */
  wantHashes(list: Iterable<ByteString>): void {
    for (const rel of list) this.hashWanted.add(rel);
  }

  /** What this planner found that another thread's planner must report or use. */
  findings(): {
    binaries: BinaryHit[];
    warnings: Warning[];
    updates: Array<[ByteString, RecordUpdate]>;
    missed: ByteString[];
    dropped: DroppedPyc[];
  } {
    return {
      binaries: this.binaries,
      warnings: this.warnings,
      updates: [...this.updates],
      missed: this.missed,
      dropped: this.dropped,
    };
  }

  /** Take in another thread's findings, before the last RECORDs are rewritten. */
  absorb(f: ReturnType<Planner['findings']>): void {
    this.binaries.push(...f.binaries);
    this.warnings.push(...f.warnings);
    this.missed.push(...f.missed);
    this.dropped.push(...f.dropped);
    for (const [rel, u] of f.updates) this.updates.set(rel, u);
  }

  private wrote(rel: ByteString, kind: FileKind, out: Buffer, before: Buffer, stat: FileStat) {
    if (!isPyc(rel) || this.hashWanted.has(rel)) this.updates.set(rel, recordUpdateOf(out));
    this.sink.write(rel, kind, out, before, stat);
  }
}

/** A dry run's sink: every edit kept whole, sorted by path once planning is done. */
export function collectEdits(): EditSink & { edits(): Edit[] } {
  const edits: Edit[] = [];
  return {
    write(rel, kind, bytes, before) {
      edits.push({
        op: 'write',
        rel,
        kind,
        bytes: Buffer.from(bytes),
        before: Buffer.from(before),
      });
    },
    symlink(rel, target, before) {
      edits.push({ op: 'symlink', rel, kind: 'symlink', target, before });
    },
    remove(rel, reason, regenerate) {
      edits.push({
        op: 'remove',
        rel,
        kind: 'pyc-removed',
        reason,
        ...(regenerate === undefined ? {} : { regenerate }),
      });
    },
    edits: () => edits.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0)),
  };
}

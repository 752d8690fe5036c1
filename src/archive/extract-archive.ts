/**
 * Extract an archive into a fresh folder, checking every member first (member-checks.ts), and,
 * for an archive venv-tools packed, relocating in the stream: each member that names the old
 * prefix is planned from the bytes in hand by the same Planner a relocation uses, and written
 * once, already rewritten. Nothing is read back from disk. Files are written by writing threads
 * (tree-writer.ts) while this thread reads, checks and plans the next members: at tar's speed,
 * in bounded memory.
 */
import { performance } from 'node:perf_hooks';
import { errnoOf, VenvToolsError } from '../core/errors.js';
import { fs } from '../core/fs.js';
import {
  bytesToUtf8,
  fsPath,
  utf8ToBytes,
  type ByteString,
  type Mapping,
} from '../core/path-boundary.js';
import type { FileKind } from '../kinds/file-kind.js';
import type { Warning } from '../core/warning.js';
import { Planner, type BinaryHit, type EditSink, type FileStat } from '../plan/planner.js';
import { looksBinary } from '../scan/classify-file.js';
import type { Layout } from '../scan/detect-layout.js';
import type { ArchiveInput } from './archive-input.js';
import { CorruptStreamError } from './archive-input.js';
import {
  MANIFEST_NAME,
  ManifestError,
  parseManifest,
  parseTrailer,
  TRAILER_NAME,
  type ArchiveManifest,
  type ArchiveTrailer,
} from './manifest.js';
import { DEFAULT_LIMITS, MemberGuard, MemberRefusal, type ArchiveLimits } from './member-checks.js';
import type { TarHeader } from './tar-header.js';
import { RefusedTypeError, TarFormatError, TarReader, type TarVisitor } from './tar-reader.js';
import { isRegularFile } from '../core/real-path.js';
import { trace } from '../core/trace.js';
import { openTreeWriter, type TreeWriter } from './tree-writer.js';
import { makeFolder } from './write-ops.js';

/** The relocation to make in the stream, decided once the manifest is read. */
export interface StreamRelocation {
  readonly layout: Layout;
  /** The venv's mapping first (manifest prefix -> destination), then the others. */
  readonly mappings: readonly Mapping[];
  /** What a member must hold to be planned at all (see relocate's safeNeedle). */
  readonly needles: readonly Buffer[];
  /** A sourceless pyc that cannot be rewritten and names the old path: refused, or dropped. */
  readonly sourceless: 'refuse' | 'drop';
}

export interface ExtractOptions {
  readonly input: ArchiveInput;
  /** The archive as the user named it, for messages. */
  readonly shown: string;
  /** An empty folder to extract into (absolute, byte string); undefined reads and checks only. */
  readonly into: ByteString | undefined;
  /**
   * What writes below `into`, started by the caller (so that its thread boots early); one is
   * started here when absent. Closed when this returns or throws.
   */
  readonly writer?: TreeWriter;
  readonly limits?: ArchiveLimits;
  /** Given the manifest, the relocation to make in the stream (none: extract as it is). */
  readonly relocateFor?: (m: ArchiveManifest) => StreamRelocation | undefined;
  /** (done, total) in bytes of the archive, for a progress bar. */
  readonly onProgress?: (done: number, total: number) => void;
}

/** One member rewritten in the stream. */
export interface StreamChange {
  readonly rel: ByteString;
  readonly kind: FileKind;
  readonly op: 'write' | 'symlink' | 'remove';
}

export interface ExtractResult {
  readonly manifest: ArchiveManifest | undefined;
  readonly trailer: ArchiveTrailer | undefined;
  /** Members extracted (the manifest and trailer not counted). */
  readonly members: number;
  /** Bytes of file data. */
  readonly bytes: number;
  /** Bytes of the tar stream. */
  readonly tarBytes: number;
  /** The names at the top of the tree, with their types (unpack decides the layout from them). */
  readonly top: ReadonlyMap<ByteString, 'file' | 'dir' | 'symlink'>;
  /** Folders holding a pyvenv.cfg member ('' for the archive's root). */
  readonly venvRoots: readonly ByteString[];
  /** Members that hold a needle (planned), when relocating in the stream. */
  readonly planned: number;
  readonly changes: readonly StreamChange[];
  readonly binaries: readonly BinaryHit[];
  readonly warnings: readonly Warning[];
  readonly ms: number;
}

const STREAM_NO_COMPILER = {
  ok: false,
  why: "unpack does not run the venv's python while it extracts",
} as const;

/** Files up to this size are held whole to be planned; larger ones stream to disk. */
const WHOLE_MAX = 64 << 20;

/** A time in ns as the seconds futimes takes, rounded to the microsecond libuv keeps. */
function timeArg(ns: bigint): number {
  return (Number(ns / 1000n) + 0.5) / 1e6;
}

const MASK = (() => {
  // The umask, read once: modes are set exactly, as tar does for root and relocate keeps them.
  const old = process.umask(0o022);
  process.umask(old);
  return old;
})();

/** Whether a file made with this mode needs a chmod too: the umask takes bits off at open. */
function needsChmod(mode: number): boolean {
  return (mode & 0o777 & ~MASK) !== mode;
}

/** The order pack writes members in, which in-stream planning relies on (see Planner). */
type Phase = 0 | 1 | 2 | 3 | 4;
function phaseOf(h: TarHeader, rel: ByteString): Phase {
  if (h.type === 'dir') return 0;
  if (h.type === 'symlink') return 4;
  if (h.type === 'hardlink') return 1;
  if (rel.endsWith('.dist-info/RECORD')) return 3;
  if (rel.endsWith('.pyc') || rel.endsWith('.pyo')) return 2;
  return 1;
}

class Extractor implements TarVisitor, EditSink {
  readonly guard: MemberGuard;
  manifest: ArchiveManifest | undefined;
  trailer: ArchiveTrailer | undefined;
  members = 0;
  bytes = 0;
  planned = 0;
  readonly top = new Map<ByteString, 'file' | 'dir' | 'symlink'>();
  readonly changes: StreamChange[] = [];
  /** The folders that hold a pyvenv.cfg member ('' for the root): the venvs, by their names. */
  readonly venvRoots: ByteString[] = [];
  private relocation: StreamRelocation | undefined;
  private planner: Planner | undefined;
  private phase: Phase = 0;
  private first = true;
  private readonly dirs: Array<{ rel: ByteString; mode: number; mtimeNs: bigint }> = [];
  private readonly made = new Set<ByteString>(['']);
  private readonly implicit = new Set<ByteString>();
  /** The mode a `./` member gives the destination itself. */
  private rootMode: number | undefined;
  private readonly largeHits: Array<{ rel: ByteString; size: number }> = [];
  // The member in progress.
  private cur: TarHeader | undefined;
  private curRel: ByteString = '';
  private mode: 'skip' | 'meta' | 'stream' | 'whole' = 'skip';
  private buf = Buffer.allocUnsafe(1 << 20);
  private used = 0;
  /** The data of the member in hand when it came in one chunk (valid until endEntry returns). */
  private whole: Buffer | undefined;
  private meta: Buffer[] = [];
  private tail = Buffer.alloc(0);
  private head = Buffer.alloc(0);
  private hit = false;
  // What the planner did with the member in hand (EditSink).
  private out:
    | { op: 'write'; bytes: Buffer }
    | { op: 'symlink'; target: ByteString }
    | { op: 'remove' }
    | undefined;

  constructor(
    private readonly opts: ExtractOptions,
    private readonly reader: () => TarReader,
    /** Makes the file calls below opts.into, in order (undefined: nothing is written). */
    private readonly writer: TreeWriter | undefined,
  ) {
    this.guard = new MemberGuard(opts.limits ?? DEFAULT_LIMITS);
  }

  private path(rel: ByteString): string | Buffer {
    return fsPath(`${this.opts.into as ByteString}/${rel}`);
  }

  entry(h: TarHeader): void {
    const first = this.first;
    this.first = false;
    this.cur = h;
    if (this.trailer !== undefined) {
      throw new MemberRefusal(
        h.name,
        'a member after the trailer, which ends a venv-tools archive',
      );
    }
    // Only an archive that starts with a manifest ends with a trailer to check the CRC against.
    if (first && h.name !== MANIFEST_NAME) this.reader().digesting = false;
    if (
      (h.name === MANIFEST_NAME || h.name === TRAILER_NAME) &&
      !first &&
      this.manifest === undefined
    ) {
      // A plain tar of a venv that a manual `tar -x` of our archive left them in: they describe
      // another archive, and venv-tools' walks skip them anyway. Not extracted.
      this.mode = 'skip';
      return;
    }
    if (h.name === MANIFEST_NAME || h.name === TRAILER_NAME) {
      if (h.type !== 'file' || h.size > 64 << 20)
        throw new MemberRefusal(h.name, 'a malformed venv-tools manifest');
      if (h.name === MANIFEST_NAME && !first) {
        throw new MemberRefusal(h.name, 'a venv-tools manifest that is not the first member');
      }
      this.mode = 'meta';
      this.meta = [];
      return;
    }
    const { rel, fresh } = this.guard.check(h);
    this.members++;
    this.curRel = rel;
    if (this.manifest !== undefined && h.type !== 'hardlink') {
      const p = phaseOf(h, rel);
      if (p < this.phase) {
        throw new MemberRefusal(
          h.name,
          'a member out of the order venv-tools packs in (it was changed after packing)',
        );
      }
      this.phase = p;
    }
    const slash = rel.indexOf('/');
    if (rel !== '' && !this.top.has(slash === -1 ? rel : rel.slice(0, slash))) {
      this.top.set(
        slash === -1 ? rel : rel.slice(0, slash),
        slash === -1 ? (h.type === 'hardlink' ? 'file' : h.type) : 'dir',
      );
    }
    this.mode = 'skip';
    if (h.type === 'file' && (rel === 'pyvenv.cfg' || rel.endsWith('/pyvenv.cfg'))) {
      this.venvRoots.push(rel.slice(0, Math.max(0, rel.length - '/pyvenv.cfg'.length)));
    }
    if (h.type === 'file') this.bytes += h.size;
    const w = this.writer;
    if (w === undefined) return;
    if (h.type === 'dir') {
      if (rel === '') this.rootMode = h.mode;
      if (!fresh) return;
      if (!this.made.has(rel)) {
        this.ensureParent(rel);
        w.ops.mkdir(rel);
        this.made.add(rel);
      }
      this.implicit.delete(rel);
      this.dirs.push({ rel, mode: h.mode, mtimeNs: h.mtimeNs });
      return;
    }
    this.ensureParent(rel);
    if (h.type === 'symlink') {
      let target = h.linkname;
      if (this.planner !== undefined) {
        this.out = undefined;
        this.planner.symlink(rel, target);
        const out = this.out as { op: 'symlink'; target: ByteString } | undefined;
        if (out !== undefined) target = out.target;
      }
      w.symlink(rel, target);
      return;
    }
    if (h.type === 'hardlink') {
      w.link(rel, this.guard.linkTarget(h));
      return;
    }
    if (this.planner !== undefined && h.size <= WHOLE_MAX) {
      if (this.buf.length < h.size)
        this.buf = Buffer.allocUnsafe(Math.max(h.size, this.buf.length * 2));
      this.used = 0;
      this.mode = 'whole';
      return;
    }
    w.ops.open(rel, h.mode, timeArg(h.mtimeNs), needsChmod(h.mode));
    this.mode = 'stream';
    this.hit = false;
    this.tail = Buffer.alloc(0);
    this.head = Buffer.alloc(0);
  }

  data(chunk: Buffer): void {
    switch (this.mode) {
      case 'skip':
        return;
      case 'meta':
        this.meta.push(Buffer.from(chunk));
        return;
      case 'whole':
        // A member whose data comes in one piece is planned from the chunk itself (the reader
        // ends the member before it returns); one split across chunks is gathered first.
        if (this.used === 0 && chunk.length === (this.cur as TarHeader).size) {
          this.whole = chunk;
          return;
        }
        chunk.copy(this.buf, this.used);
        this.used += chunk.length;
        return;
      case 'stream':
        (this.writer as TreeWriter).ops.data(chunk);
        if (this.relocation !== undefined) this.searchLarge(chunk);
        return;
    }
  }

  endEntry(): void {
    const h = this.cur as TarHeader;
    switch (this.mode) {
      case 'meta':
        this.endMeta(h);
        break;
      case 'whole':
        this.endWhole(h);
        break;
      case 'stream':
        (this.writer as TreeWriter).ops.close();
        if (this.hit) this.largeHit(h);
        break;
      case 'skip':
        break;
    }
    this.mode = 'skip';
  }

  private endMeta(h: TarHeader): void {
    const bytes = Buffer.concat(this.meta);
    this.meta = [];
    try {
      if (h.name === MANIFEST_NAME) {
        this.manifest = parseManifest(bytes);
        this.relocation = this.opts.relocateFor?.(this.manifest);
        if (this.relocation !== undefined && this.opts.into !== undefined) {
          const into = this.opts.into;
          this.planner = new Planner(
            this.relocation.layout,
            this.relocation.mappings,
            // Asked only of a pyc that cannot be rewritten: the writer catches up first.
            (rel) => {
              this.writer?.sync();
              return isRegularFile(into, rel);
            },
            this,
            // The venv's python is not run while extracting: a pyc that cannot be rewritten is
            // removed (Python compiles it again on import), or refused when sourceless.
            { compiler: () => STREAM_NO_COMPILER, sourceless: this.relocation.sourceless },
          );
          // The RECORDs come last: which pycs they list with a hash is in the manifest.
          this.planner.wantHashes(this.manifest.hashedPycs.map(utf8ToBytes));
        }
        return;
      }
      const trailer = parseTrailer(bytes);
      const r = this.reader();
      const problems: string[] = [];
      if (trailer.crc32 !== r.entryCrc) problems.push('its checksum does not match its contents');
      if (trailer.members !== this.members) {
        problems.push(`it holds ${this.members} members, and says ${trailer.members}`);
      }
      if (trailer.bytes !== this.bytes)
        problems.push(`it holds ${this.bytes} bytes of files, and says ${trailer.bytes}`);
      if (problems.length > 0)
        throw new MemberRefusal(TRAILER_NAME, `a corrupt archive: ${problems.join('; ')}`);
      this.trailer = trailer;
    } catch (err) {
      if (err instanceof ManifestError) throw new MemberRefusal(h.name, err.message);
      throw err;
    }
  }

  private endWhole(h: TarHeader): void {
    const rel = this.curRel;
    const bytes = this.whole ?? this.buf.subarray(0, this.used);
    this.whole = undefined;
    const planner = this.planner as Planner;
    const reloc = this.relocation as StreamRelocation;
    let holds = false;
    for (const n of reloc.needles) {
      if (bytes.indexOf(n) !== -1) {
        holds = true;
        break;
      }
    }
    const phase = phaseOf(h, rel);
    const st: FileStat = {
      mode: h.mode,
      nlink: 1,
      uid: 0,
      gid: 0,
      atimeMs: Number(h.mtimeNs / 1000n) / 1000,
      mtimeMs: Number(h.mtimeNs / 1000n) / 1000,
    };
    this.out = undefined;
    if (phase === 3) {
      planner.record(rel, bytes, st);
    } else if (phase === 2) {
      if (holds || planner.followsSource(rel)) planner.pyc(rel, bytes, st);
    } else if (holds) {
      planner.file(rel, bytes, st);
    }
    if (holds) this.planned++;
    const out = this.out as { op: 'write'; bytes: Buffer } | { op: 'remove' } | undefined;
    if (out?.op === 'remove') return;
    const data = out?.op === 'write' ? out.bytes : bytes;
    (this.writer as TreeWriter).ops.file(rel, h.mode, timeArg(h.mtimeNs), needsChmod(h.mode), data);
  }

  // EditSink: the planner's edits for the member in hand.
  write(rel: ByteString, kind: FileKind, bytes: Buffer): void {
    this.out = { op: 'write', bytes };
    this.changes.push({ rel, kind, op: 'write' });
  }
  symlink(rel: ByteString, target: ByteString): void {
    this.out = { op: 'symlink', target };
    this.changes.push({ rel, kind: 'symlink', op: 'symlink' });
  }
  remove(rel: ByteString): void {
    this.out = { op: 'remove' };
    this.changes.push({ rel, kind: 'pyc-removed', op: 'remove' });
  }

  /** A file too large to hold: searched as it streams past, with an overlap between chunks. */
  private searchLarge(chunk: Buffer): void {
    const reloc = this.relocation as StreamRelocation;
    if (this.head.length < 8000)
      this.head = Buffer.concat([this.head, chunk.subarray(0, 8000 - this.head.length)]);
    if (this.hit) return;
    const view = this.tail.length > 0 ? Buffer.concat([this.tail, chunk]) : chunk;
    for (const n of reloc.needles) if (view.indexOf(n) !== -1) this.hit = true;
    const keep = Math.max(0, ...reloc.needles.map((n) => n.length - 1));
    this.tail = Buffer.from(view.subarray(Math.max(0, view.length - keep)));
  }

  private largeHit(h: TarHeader): void {
    if (!looksBinary(this.head)) {
      const shown = bytesToUtf8(this.curRel);
      throw new VenvToolsError(
        'UNSUPPORTED',
        `${shown} holds the old path but is ${h.size} bytes of text, too large to rewrite in memory; unpack the archive with tar, then relocate it`,
        shown,
      );
    }
    this.largeHits.push({ rel: this.curRel, size: h.size });
  }

  /**
   * A plain tar may list files without their folders: they are made as tar makes them (by the
   * writer, with the file), and given tar's mode at the end.
   */
  private ensureParent(rel: ByteString): void {
    const slash = rel.lastIndexOf('/');
    const parent = slash === -1 ? '' : rel.slice(0, slash);
    if (this.made.has(parent)) return;
    this.ensureParent(parent);
    this.made.add(parent);
    this.implicit.add(parent);
  }

  /** After the last member: folders get their modes and times, deepest first. */
  finish(): { binaries: BinaryHit[]; warnings: Warning[] } {
    if (this.manifest !== undefined && this.trailer === undefined) {
      throw new MemberRefusal(TRAILER_NAME, 'no trailer: the archive was cut short');
    }
    let binaries: BinaryHit[] = [];
    let warnings: Warning[] = [];
    if (this.planner !== undefined) {
      const missed = this.planner.unaccounted();
      if (missed.length > 0) {
        throw new VenvToolsError(
          'INCOMPLETE',
          `${missed.map(bytesToUtf8).slice(0, 5).join(', ')}: ${missed.length === 1 ? 'holds' : 'hold'} the old path, but no rewrite was planned. This is a bug in venv-tools; please report it.`,
        );
      }
      ({ binaries, warnings } = this.planner.finish());
      for (const b of this.largeHits) {
        warnings.push({
          code: 'BINARY_NOT_EDITED',
          message: `${bytesToUtf8(b.rel)} (${(b.size / 1e6).toFixed(0)} MB) holds the old path; binaries are never edited`,
          path: bytesToUtf8(b.rel),
        });
      }
    }
    if (this.writer !== undefined) {
      // Every file in place first: a folder's time is set after the last entry made in it.
      this.writer.sync();
      const dirs = [
        ...this.dirs,
        ...[...this.implicit]
          .filter((r) => r !== '')
          .map((rel) => ({ rel, mode: 0o755 & ~MASK, mtimeNs: -1n })),
      ];
      dirs.sort((a, b) => b.rel.split('/').length - a.rel.split('/').length);
      for (const d of dirs) {
        const p = this.path(d.rel);
        if (d.mtimeNs >= 0n) {
          const t = timeArg(d.mtimeNs);
          fs.lutimesSync(p, t, t);
        } else {
          // Made with a file below it, unless that file was a pyc the relocation removed.
          makeFolder(this.opts.into as ByteString, d.rel);
        }
        fs.chmodSync(p, d.mode);
      }
      // The temporary folder was made private; the tree gets the mode tar would give it.
      fs.chmodSync(fsPath(this.opts.into as ByteString), this.rootMode ?? 0o777 & ~MASK);
    }
    return { binaries, warnings };
  }

  /** Stop the writer; nothing more is written once this returns. */
  closeWriter(): void {
    this.writer?.close();
  }
}

function refused(shown: string, what: string): VenvToolsError {
  return new VenvToolsError('BAD_ARCHIVE', `${shown} ${what}`, shown);
}

/**
 * Read the whole archive, checking every member, and extract it into `opts.into` (when given).
 * Throws a VenvToolsError (BAD_ARCHIVE) naming the member for anything refused, a truncated or
 * corrupt archive included; what was written by then is left for the caller to remove.
 */
export async function extractArchive(opts: ExtractOptions): Promise<ExtractResult> {
  const t0 = performance.now();
  const { input, shown } = opts;
  const holder: { reader?: TarReader } = {};
  const writer = opts.into === undefined ? undefined : (opts.writer ?? openTreeWriter(opts.into));
  const ex = new Extractor(opts, () => holder.reader as TarReader, writer);
  const reader = new TarReader(ex);
  holder.reader = reader;
  let lastProgress = 0;
  let found: { binaries: BinaryHit[]; warnings: Warning[] };
  try {
    let waitedForInput = 0;
    let t = performance.now();
    for await (const chunk of input.chunks) {
      waitedForInput += performance.now() - t;
      reader.push(chunk);
      ex.guard.checkExpansion(reader.offset, input.size);
      if (opts.onProgress !== undefined && reader.offset - lastProgress > 8 << 20) {
        lastProgress = reader.offset;
        opts.onProgress(Math.min(input.size, reader.offset), input.size);
      }
      t = performance.now();
    }
    trace(`archive read: waited for its chunks ${waitedForInput.toFixed(0)} ms in all`);
    reader.end();
    found = ex.finish();
    ex.closeWriter();
  } catch (err) {
    ex.closeWriter();
    input.close();
    if (err instanceof RefusedTypeError) {
      throw refused(
        shown,
        `holds ${err.message}: ${bytesToUtf8(err.member)}. venv-tools never extracts devices, FIFOs or sparse files. Nothing was written at the destination.`,
      );
    }
    if (err instanceof MemberRefusal) {
      const who =
        err.member === '' ? '' : `the member ${JSON.stringify(bytesToUtf8(err.member))}: `;
      throw refused(
        shown,
        `is refused: ${who}${err.message}. Nothing was written at the destination.`,
      );
    }
    if (err instanceof TarFormatError) {
      throw refused(
        shown,
        `is not a whole tar archive: ${err.message} (at byte ${err.offset} of its tar stream). Nothing was written at the destination; get the archive again.`,
      );
    }
    if (err instanceof CorruptStreamError) {
      throw refused(
        shown,
        `is corrupt or truncated: ${err.message}. Nothing was written at the destination; get the archive again.`,
      );
    }
    if (err instanceof VenvToolsError) throw err;
    const code = errnoOf(err);
    if (code !== undefined) {
      throw new VenvToolsError(
        'WRITE_FAILED',
        `cannot extract ${shown}: ${code} (${(err as Error).message}). Nothing was written at the destination; fix the cause and run again.`,
        shown,
      );
    }
    throw err;
  }
  return {
    manifest: ex.manifest,
    trailer: ex.trailer,
    members: ex.members,
    bytes: ex.bytes,
    tarBytes: reader.offset,
    top: ex.top,
    venvRoots: ex.venvRoots,
    planned: ex.planned,
    changes: ex.changes,
    binaries: found.binaries,
    warnings: found.warnings,
    ms: performance.now() - t0,
  };
}

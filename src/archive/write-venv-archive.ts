/**
 * Stream a venv into a tar archive, reading each file once. With a relocation (`pack --to`), each
 * file that holds a needle is planned from the bytes in hand by the relocation's own Planner and
 * archived rewritten, so the archive holds what `relocate` would leave at the new place; the venv
 * itself is only read.
 *
 * Members go in the order the Planner needs, which an unpack that relocates in the stream needs
 * too: the manifest; every folder; the other files; the pycs (a pyc follows its rewritten source);
 * the RECORDs (their hashes follow every rewritten file); the symlinks; the trailer.
 */
import { performance } from 'node:perf_hooks';
import { errnoOf, unreadableError, VenvToolsError } from '../core/errors.js';
import { fs } from '../core/fs.js';
import {
  bytesToUtf8,
  fsPath,
  fromBytes,
  utf8ToBytes,
  type ByteString,
  type Mapping,
} from '../core/path-boundary.js';
import type { FileKind } from '../kinds/file-kind.js';
import type { Warning } from '../core/warning.js';
import { Planner, type BinaryHit, type EditSink, type FileStat } from '../plan/planner.js';
import { classifyFile, looksBinary } from '../scan/classify-file.js';
import type { Layout } from '../scan/detect-layout.js';
import { PathListBuilder, type PathList } from '../scan/path-list.js';
import { walkEach } from '../scan/walk-tree.js';
import {
  encodeJson,
  MANIFEST_NAME,
  TRAILER_NAME,
  type ArchiveManifest,
  type Holder,
} from './manifest.js';
import type { TarHeader } from './tar-header.js';
import { TarWriter, type ByteOutput } from './tar-writer.js';
import { isRegularFile } from '../core/real-path.js';

export interface WriteArchiveInput {
  /** The venv (absolute, byte string). */
  readonly root: ByteString;
  readonly layout: Layout;
  readonly output: ByteOutput;
  /** The manifest, but for what the walk finds (members, hashedPycs). */
  readonly manifest: Omit<ArchiveManifest, 'members' | 'hashedPycs'>;
  /** What the archived bytes name: the prefix's needle, to list the members holding it. */
  readonly holderNeedle: Buffer;
  /** `--to`: the relocation to make as files stream (the venv's mapping first). */
  readonly relocation?: {
    readonly mappings: readonly Mapping[];
    readonly needles: readonly Buffer[];
    /** A sourceless pyc that cannot be rewritten and names the old path: refused, or dropped. */
    readonly sourceless: 'refuse' | 'drop';
  };
  /** (done, total) in files, for a progress bar. */
  readonly onProgress?: (done: number, total: number) => void;
}

export interface WriteArchiveResult {
  readonly members: number;
  readonly bytes: number;
  readonly tarBytes: number;
  readonly holders: readonly Holder[];
  readonly changes: ReadonlyArray<{
    rel: ByteString;
    kind: FileKind;
    op: 'write' | 'symlink' | 'remove';
  }>;
  readonly binaries: readonly BinaryHit[];
  readonly warnings: readonly Warning[];
  readonly ms: { walk: number; stream: number };
}

/** Files up to this size are read whole (to be planned); larger ones are streamed in chunks. */
const WHOLE_MAX = 64 << 20;
const CHUNK = 1 << 20;

const REMOVE_OR_FIX = 'fix its permissions (e.g. chmod u+r) or remove it, then pack again';

function changed(root: ByteString, rel: ByteString): VenvToolsError {
  const shown = bytesToUtf8(`${root}/${rel}`);
  return new VenvToolsError(
    'UNREADABLE',
    `${shown} changed while it was packed; nothing was written. Pack again once nothing writes to the venv.`,
    shown,
  );
}

/** What a non-regular, non-folder, non-symlink entry is, for the refusal. */
function specialKind(p: string | Buffer): string {
  try {
    const st = fs.lstatSync(p);
    if (st.isFIFO()) return 'a FIFO';
    if (st.isSocket()) return 'a socket';
    if (st.isCharacterDevice()) return 'a character device';
    if (st.isBlockDevice()) return 'a block device';
  } catch {
    // gone
  }
  return 'neither a file, a folder nor a symlink';
}

interface Lists {
  dirs: PathList;
  others: PathList;
  pycs: PathList;
  records: ByteString[];
  symlinks: ByteString[];
}

function walk(root: ByteString): Lists {
  const dirs = new PathListBuilder(16 << 20);
  const others = new PathListBuilder();
  const pycs = new PathListBuilder();
  const records: ByteString[] = [];
  const symlinks: ByteString[] = [];
  walkEach(root, (rel, type) => {
    if (type === 'dir') dirs.add(rel);
    else if (type === 'symlink') symlinks.push(rel);
    else if (type === 'other') {
      const shown = bytesToUtf8(`${root}/${rel}`);
      throw new VenvToolsError(
        'UNSUPPORTED',
        `${shown} is ${specialKind(fsPath(`${root}/${rel}`))}, which an archive of a venv never holds; remove it (or move it out of the venv) and pack again`,
        shown,
      );
    } else if (rel.endsWith('.dist-info/RECORD')) records.push(rel);
    else if (rel.endsWith('.pyc') || rel.endsWith('.pyo')) pycs.add(rel);
    else others.add(rel);
  });
  return { dirs: dirs.finish(), others: others.finish(), pycs: pycs.finish(), records, symlinks };
}

/** Pack the venv at `input.root` into `input.output` (which the caller finishes or aborts). */
export async function writeVenvArchive(input: WriteArchiveInput): Promise<WriteArchiveResult> {
  const { root, layout } = input;
  const t0 = performance.now();
  const lists = walk(root);
  const tWalk = performance.now() - t0;
  const total =
    lists.dirs.length +
    lists.others.length +
    lists.pycs.length +
    lists.records.length +
    lists.symlinks.length;
  const writer = new TarWriter(input.output);
  const reloc = input.relocation;

  // The edits the planner makes for the file in hand (only with --to).
  let out:
    | { op: 'write'; bytes: Buffer }
    | { op: 'symlink'; target: ByteString }
    | { op: 'remove' }
    | undefined;
  const changes: Array<{ rel: ByteString; kind: FileKind; op: 'write' | 'symlink' | 'remove' }> =
    [];
  const sink: EditSink = {
    write(rel, kind, bytes) {
      out = { op: 'write', bytes };
      changes.push({ rel, kind, op: 'write' });
    },
    symlink(rel, target) {
      out = { op: 'symlink', target };
      changes.push({ rel, kind: 'symlink', op: 'symlink' });
    },
    remove(rel) {
      out = { op: 'remove' };
      changes.push({ rel, kind: 'pyc-removed', op: 'remove' });
    },
  };
  const prefix = utf8ToBytes(input.manifest.prefix);
  const mappings = reloc?.mappings ?? [{ from: prefix, to: prefix }];
  const planner = new Planner(
    layout,
    mappings,
    (rel) => isRegularFile(root, rel),
    sink,
    // pack never runs the venv's python: a pyc that cannot be rewritten is left out (Python
    // compiles it again on import), or refused when sourceless.
    {
      compiler: () => ({ ok: false, why: "pack does not run the venv's python" }),
      sourceless: reloc?.sourceless ?? 'refuse',
    },
  );

  // The RECORDs are read first, for the pycs they list with a hash (a pyc rewritten here or by
  // an unpack then needs its RECORD row's hash anew, and the RECORDs come last).
  let buf = Buffer.allocUnsafe(CHUNK);
  const readWhole = (fd: number, size: number, rel: ByteString): Buffer => {
    if (buf.length < size) buf = Buffer.allocUnsafe(Math.max(size, buf.length * 2));
    let n = 0;
    while (n < size) {
      const k = fs.readSync(fd, buf, n, size - n, n);
      if (k === 0) throw changed(root, rel);
      n += k;
    }
    return buf.subarray(0, size);
  };
  const open = (rel: ByteString): number => {
    try {
      return fs.openSync(
        fsPath(`${root}/${rel}`),
        fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK,
      );
    } catch (err) {
      if (errnoOf(err) === 'ENOENT' || errnoOf(err) === 'ELOOP') throw changed(root, rel);
      throw unreadableError(bytesToUtf8(`${root}/${rel}`), err, REMOVE_OR_FIX);
    }
  };
  for (const rel of lists.records) {
    const fd = open(rel);
    try {
      const st = fs.fstatSync(fd);
      if (st.size <= WHOLE_MAX) planner.noteRecord(rel, readWhole(fd, st.size, rel));
    } catch (err) {
      if (err instanceof VenvToolsError) throw err;
      throw unreadableError(bytesToUtf8(`${root}/${rel}`), err, REMOVE_OR_FIX);
    } finally {
      fs.closeSync(fd);
    }
  }
  const hashedPycs = planner.wantedHashes().map(bytesToUtf8);

  const manifest: ArchiveManifest = { ...input.manifest, members: total, hashedPycs };
  const manifestBytes = encodeJson(manifest);
  // The time of packing, for the two members venv-tools adds (a manual `tar -x` shows them).
  const now = BigInt(Date.now()) * 1_000_000n;
  writer.add(
    {
      name: MANIFEST_NAME,
      type: 'file',
      mode: 0o644,
      size: manifestBytes.length,
      mtimeNs: now,
      linkname: '',
    },
    manifestBytes,
  );

  let members = 0;
  let bytes = 0;
  let done = 0;
  const holders: Holder[] = [];
  const largeHits: Array<{ rel: ByteString; size: number }> = [];
  /** The first name of each inode with other links (dev:ino), and whether it was rewritten. */
  const linked = new Map<string, { rel: ByteString; rewritten: boolean }>();
  const holds = (b: Buffer, needles: readonly Buffer[]): boolean => {
    for (const n of needles) if (b.indexOf(n) !== -1) return true;
    return false;
  };
  const progress = () => {
    done++;
    if (input.onProgress !== undefined && (done & 255) === 0) input.onProgress(done, total);
  };
  const header = (
    rel: ByteString,
    st: { mode: number; mtimeNs: bigint },
    type: TarHeader['type'],
    size: number,
    linkname = '',
  ): TarHeader => ({
    name: rel,
    type,
    mode: Number(st.mode) & 0o7777,
    size,
    mtimeNs: st.mtimeNs,
    linkname,
  });

  for (let i = 0; i < lists.dirs.length; i++) {
    const rel = lists.dirs.get(i);
    let st;
    try {
      st = fs.lstatSync(fsPath(`${root}/${rel}`), { bigint: true });
    } catch (err) {
      throw errnoOf(err) === 'ENOENT'
        ? changed(root, rel)
        : unreadableError(bytesToUtf8(`${root}/${rel}`), err, REMOVE_OR_FIX);
    }
    writer.add(header(rel, { mode: Number(st.mode), mtimeNs: st.mtimeNs }, 'dir', 0));
    members++;
    progress();
  }

  /** One regular file: read, planned (with --to), archived; kind 0 other, 1 pyc, 2 RECORD. */
  const file = async (rel: ByteString, kind: 0 | 1 | 2): Promise<void> => {
    const fd = open(rel);
    try {
      const st = fs.fstatSync(fd, { bigint: true });
      if (!st.isFile()) throw changed(root, rel);
      const size = Number(st.size);
      const mode = Number(st.mode);
      const nlink = Number(st.nlink);
      if (size > WHOLE_MAX) {
        await largeFile(fd, rel, { mode, mtimeNs: st.mtimeNs }, size);
        return;
      }
      const before = readWhole(fd, size, rel);
      let data = before;
      out = undefined;
      if (reloc !== undefined) {
        const fst: FileStat = {
          mode,
          nlink,
          uid: Number(st.uid),
          gid: Number(st.gid),
          atimeMs: Number(st.atimeNs / 1000n) / 1000,
          mtimeMs: Number(st.mtimeNs / 1000n) / 1000,
        };
        const hit = holds(before, reloc.needles);
        if (kind === 2) planner.record(rel, before, fst);
        else if (kind === 1) {
          if (hit || planner.followsSource(rel)) planner.pyc(rel, before, fst);
        } else if (hit) planner.file(rel, before, fst);
        const o = out as { op: 'write'; bytes: Buffer } | { op: 'remove' } | undefined;
        if (o?.op === 'remove') return;
        if (o?.op === 'write') data = o.bytes;
      }
      const rewritten = data !== before;
      if (holds(data, [input.holderNeedle])) {
        holders.push({ path: bytesToUtf8(rel), kind: classifyFile(rel, data, layout).kind });
      }
      // A second name of an inode becomes a hard link to the first, unless either was rewritten:
      // relocate replaces a rewritten file that has other links, so each name keeps its own.
      if (nlink > 1) {
        const key = `${st.dev}:${st.ino}`;
        const first = linked.get(key);
        if (first !== undefined && !first.rewritten && !rewritten) {
          writer.add(header(rel, { mode, mtimeNs: st.mtimeNs }, 'hardlink', 0, first.rel));
          members++;
          return;
        }
        if (first === undefined) linked.set(key, { rel, rewritten });
      }
      writer.add(header(rel, { mode, mtimeNs: st.mtimeNs }, 'file', data.length), data);
      members++;
      bytes += data.length;
    } catch (err) {
      if (err instanceof VenvToolsError) throw err;
      throw unreadableError(bytesToUtf8(`${root}/${rel}`), err, REMOVE_OR_FIX);
    } finally {
      fs.closeSync(fd);
      progress();
    }
    const wait = writer.ready();
    if (wait !== undefined) await wait;
  };

  /** A file too large to hold: streamed in chunks, searched with an overlap, never rewritten. */
  const largeFile = async (
    fd: number,
    rel: ByteString,
    st: { mode: number; mtimeNs: bigint },
    size: number,
  ): Promise<void> => {
    const needles = reloc?.needles ?? [input.holderNeedle];
    const keep = Math.max(0, ...needles.map((n) => n.length - 1));
    writer.begin(header(rel, st, 'file', size));
    let pos = 0;
    let tail = Buffer.alloc(0);
    let found = false;
    let head: Buffer | undefined;
    while (pos < size) {
      const k = fs.readSync(fd, buf, 0, Math.min(CHUNK, size - pos), pos);
      if (k === 0) throw changed(root, rel);
      const piece = buf.subarray(0, k);
      head ??= Buffer.from(piece.subarray(0, 8000));
      if (!found) {
        const view = Buffer.concat([tail, piece]);
        found = holds(view, needles);
        tail = Buffer.from(view.subarray(Math.max(0, view.length - keep)));
      }
      writer.data(piece);
      pos += k;
      const wait = writer.ready();
      if (wait !== undefined) await wait;
    }
    writer.endMember();
    members++;
    bytes += size;
    if (!found) return;
    if (reloc !== undefined && !looksBinary(head ?? Buffer.alloc(0))) {
      const shown = bytesToUtf8(`${root}/${rel}`);
      throw new VenvToolsError(
        'UNSUPPORTED',
        `${shown} holds the old path but is ${size} bytes of text, too large to rewrite in memory. Nothing was written. Move it out of the venv or edit it yourself, then pack again.`,
        shown,
      );
    }
    if (reloc !== undefined) largeHits.push({ rel, size });
    holders.push({ path: bytesToUtf8(rel), kind: 'binary' });
  };

  for (let i = 0; i < lists.others.length; i++) await file(lists.others.get(i), 0);
  for (let i = 0; i < lists.pycs.length; i++) await file(lists.pycs.get(i), 1);
  for (const rel of lists.records) await file(rel, 2);
  for (const rel of lists.symlinks) {
    let st;
    let target: ByteString;
    try {
      st = fs.lstatSync(fsPath(`${root}/${rel}`), { bigint: true });
      target = fromBytes(
        fs.readlinkSync(fsPath(`${root}/${rel}`), { encoding: 'buffer' }) as unknown as Buffer,
      );
    } catch (err) {
      throw errnoOf(err) === 'ENOENT' || errnoOf(err) === 'EINVAL'
        ? changed(root, rel)
        : unreadableError(bytesToUtf8(`${root}/${rel}`), err, REMOVE_OR_FIX);
    }
    if (reloc !== undefined) {
      out = undefined;
      planner.symlink(rel, target);
      const o = out as { op: 'symlink'; target: ByteString } | undefined;
      if (o !== undefined) target = o.target;
    }
    if (Buffer.from(target, 'latin1').includes(input.holderNeedle)) {
      holders.push({ path: bytesToUtf8(rel), kind: 'symlink' });
    }
    writer.add(header(rel, { mode: Number(st.mode), mtimeNs: st.mtimeNs }, 'symlink', 0, target));
    members++;
    progress();
  }

  let binaries: BinaryHit[] = [];
  let warnings: Warning[] = [];
  if (reloc !== undefined) {
    const missed = planner.unaccounted();
    if (missed.length > 0) {
      const shown = missed.slice(0, 5).map(bytesToUtf8);
      throw new VenvToolsError(
        'INCOMPLETE',
        `${shown.join(', ')}: ${missed.length === 1 ? 'holds' : 'hold'} the old path, but no rewrite was planned. This is a bug in venv-tools. Nothing was written; please report it, with the file.`,
        shown[0],
      );
    }
    ({ binaries, warnings } = planner.finish());
    for (const b of largeHits) {
      warnings.push({
        code: 'BINARY_NOT_EDITED',
        message: `${bytesToUtf8(b.rel)} (${(b.size / 1e6).toFixed(0)} MB, not read whole) holds text of the old path; binaries are never edited`,
        path: bytesToUtf8(b.rel),
      });
    }
  }

  const trailer = encodeJson({ members, bytes, crc32: writer.digest, holders });
  writer.add(
    {
      name: TRAILER_NAME,
      type: 'file',
      mode: 0o644,
      size: trailer.length,
      mtimeNs: now,
      linkname: '',
    },
    trailer,
  );
  await writer.finish();
  return {
    members,
    bytes,
    tarBytes: writer.offset,
    holders,
    changes,
    binaries,
    warnings,
    ms: { walk: tWalk, stream: performance.now() - t0 - tWalk },
  };
}

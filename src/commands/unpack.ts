/**
 * `venv-tools unpack ARCHIVE DEST [--force] [--reinitialize]`: extract into a temporary folder
 * beside DEST, relocate there, and rename it to DEST, so that DEST appears whole or not at all
 * (docs/ARCHIVES.md). An archive venv-tools packed is relocated in the stream; any other tar of
 * a venv is extracted, then relocated from the old location its files name.
 */
import { basename, dirname, resolve as resolvePath } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pidAlive } from '../apply/lock.js';
import { errnoOf, VenvToolsError } from '../core/errors.js';
import { fs } from '../core/fs.js';
import { normalizeLocation } from '../core/normalize-location.js';
import {
  bytesToUtf8,
  fromBytes,
  fsPath,
  toBytes,
  utf8ToBytes,
  type ByteString,
} from '../core/path-boundary.js';
import { refusedLocation } from '../core/refused-location.js';
import { KIND_LETTER, type FileKind } from '../kinds/file-kind.js';
import { movedRoot } from '../plan/moved-root.js';
import type { Warning } from '../core/warning.js';
import type { RelocationReport } from '../relocate/relocation-report.js';
import { runMappings } from '../relocate/run-mappings.js';
import { checkInterpreter } from '../scan/check-interpreter.js';
import { detectLayout } from '../scan/detect-layout.js';
import { findOldPrefix } from '../scan/find-old-prefix.js';
import { isVenvFolder } from '../scan/is-venv-folder.js';
import { readEvidence } from '../scan/read-evidence.js';
import { openArchiveInput } from '../archive/archive-input.js';
import { openTreeWriter } from '../archive/tree-writer.js';
import type { ZstdChoice } from '../archive/archive-output.js';
import { extractArchive, type StreamRelocation } from '../archive/extract-archive.js';
import type { ArchiveManifest } from '../archive/manifest.js';
import type { ArchiveLimits } from '../archive/member-checks.js';
import type { ArchiveLayout, UnpackedVenv, UnpackReport } from '../report/archive-report.js';
import { relocate } from './relocate-venv.js';
import { reinitialize } from './reinitialize.js';

export interface UnpackOptions {
  /** The archive as the user gave it. */
  readonly archive: string;
  /** DEST as the user gave it. */
  readonly dest: string;
  /** Replace a DEST that exists, once the new tree is complete. */
  readonly force?: boolean;
  /** Re-point each venv's interpreter at this machine's python3.X too. */
  readonly reinitialize?: boolean;
  readonly python?: string;
  readonly zstd?: ZstdChoice;
  readonly envPath?: string;
  readonly limits?: ArchiveLimits;
  /**
   * Remove a pyc that cannot be rewritten, has no source and names the old location, instead of
   * refusing (as relocate's `--drop-unreadable-pycs`).
   */
  readonly dropUnreadablePycs?: boolean;
  readonly onProgress?: (phase: string, done: number, total: number) => void;
}

const TMP_TAG = 'venv-tools-unpack';
const OLD_TAG = 'venv-tools-replaced';

/**
 * Remove what earlier unpacks to DEST left when they were killed: their temporary folders (and
 * a DEST that --force had moved aside, when the new tree already took its place). Refuses while
 * another unpack to DEST is running.
 */
function removeLeftovers(parent: ByteString, base: ByteString, dest: string): string[] {
  let names: string[];
  try {
    names = (fs.readdirSync(toBytes(parent), { encoding: 'buffer' }) as unknown as Buffer[]).map(
      fromBytes,
    );
  } catch {
    return [];
  }
  const removed: string[] = [];
  const re = new RegExp(
    `^\\.${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.(${TMP_TAG}|${OLD_TAG})-(\\d+)$`,
  );
  for (const name of names) {
    const m = re.exec(name);
    if (m === null) continue;
    const pid = Number(m[2]);
    if (pid !== process.pid && pidAlive(pid)) {
      throw new VenvToolsError(
        'LOCKED',
        `another unpack to ${dest} is running (pid ${pid}, writing ${bytesToUtf8(`${parent}/${name}`)}); wait for it to finish`,
        dest,
      );
    }
    fs.rmSync(fsPath(`${parent}/${name}`), { recursive: true, force: true });
    removed.push(bytesToUtf8(`${parent}/${name}`));
  }
  return removed;
}

/** What is at DEST: nothing, an empty folder, or (with --force) a tree to replace; else DEST_EXISTS. */
function checkDest(p: ByteString, shown: string, force: boolean): 'absent' | 'empty' | 'replace' {
  let st;
  try {
    st = fs.lstatSync(toBytes(p));
  } catch {
    return 'absent';
  }
  if (st.isDirectory() && (fs.readdirSync(toBytes(p)) as string[]).length === 0) return 'empty';
  if (force) return 'replace';
  throw new VenvToolsError(
    'DEST_EXISTS',
    `${shown} exists and is not an empty folder; unpack never writes into an existing tree. Choose a new DEST, or add --force to replace it once the new tree is complete.`,
    shown,
  );
}

/** The venvs in a tree, up to three folders deep; symlinks are not followed. */
function findVenvs(tree: ByteString): ByteString[] {
  const out: ByteString[] = [];
  const visit = (rel: ByteString, depth: number) => {
    const abs = rel === '' ? tree : `${tree}/${rel}`;
    if (isVenvFolder(abs)) {
      out.push(rel);
      return;
    }
    if (depth === 3) return;
    let entries;
    try {
      entries = fs.readdirSync(toBytes(abs), {
        withFileTypes: true,
        encoding: 'buffer',
      }) as unknown as Array<{
        name: Buffer;
        isDirectory(): boolean;
      }>;
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isDirectory())
        visit(rel === '' ? fromBytes(e.name) : `${rel}/${fromBytes(e.name)}`, depth + 1);
    }
  };
  visit('', 0);
  return out.sort();
}

function countKinds(list: ReadonlyArray<{ kind: FileKind }>): Partial<Record<FileKind, number>> {
  const out: Partial<Record<FileKind, number>> = {};
  for (const x of list) out[x.kind] = (out[x.kind] ?? 0) + 1;
  return out;
}

/** Extract and relocate an archive at DEST; DEST appears whole, or not at all. */
export async function unpack(opts: UnpackOptions): Promise<UnpackReport> {
  const t0 = performance.now();
  const destAbs = utf8ToBytes(normalizeLocation(resolvePath(opts.dest)));
  if (refusedLocation(bytesToUtf8(destAbs)) !== undefined) {
    throw new VenvToolsError(
      'REFUSED_LOCATION',
      `refusing to unpack into ${opts.dest}: / and system folders are never a venv's place. Name a new folder, e.g. /srv/app/<release>/venv`,
      opts.dest,
    );
  }
  const parent = dirname(destAbs);
  const base = basename(destAbs);
  const archiveAbs = resolvePath(opts.archive);
  if (utf8ToBytes(archiveAbs).startsWith(`${destAbs}/`)) {
    throw new VenvToolsError(
      'BAD_INPUT',
      `${opts.archive} is inside DEST ${opts.dest}; move it elsewhere first`,
      opts.archive,
    );
  }
  try {
    fs.mkdirSync(toBytes(parent), { recursive: true });
  } catch (err) {
    throw new VenvToolsError(
      'WRITE_FAILED',
      `cannot create ${bytesToUtf8(parent)}: ${errnoOf(err) ?? (err as Error).message}`,
      bytesToUtf8(parent),
    );
  }
  const tmp = `${parent}/.${base}.${TMP_TAG}-${process.pid}`;
  // The writing thread boots (a fresh isolate, about 0.1 s) while the archive is opened.
  const writer = openTreeWriter(tmp);
  let leftovers: string[];
  let destState: ReturnType<typeof checkDest>;
  let input: Awaited<ReturnType<typeof openArchiveInput>>;
  try {
    leftovers = removeLeftovers(parent, base, opts.dest);
    destState = checkDest(destAbs, opts.dest, opts.force === true);
    input = await openArchiveInput(archiveAbs, opts.archive, {
      ...(opts.zstd === undefined ? {} : { zstd: opts.zstd }),
      ...(opts.envPath === undefined ? {} : { path: opts.envPath }),
    });
    fs.mkdirSync(toBytes(tmp), 0o700);
  } catch (err) {
    writer.close();
    throw err;
  }
  const warnings: Array<Warning> = [];
  try {
    // An archive venv-tools packed names its prefix: every member that holds it is rewritten for
    // DEST as it streams past, with relocate's mappings (the venv's own, and the root that moved
    // along with it, where a counterpart exists on this machine).
    const relocateFor = (m: ArchiveManifest): StreamRelocation | undefined => {
      const prefix = utf8ToBytes(m.prefix);
      if (prefix === destAbs) return undefined;
      // relocate's mappings for the venv at DEST: its counterparts are asked of this machine.
      const run = runMappings(tmp, prefix, destAbs, []);
      return {
        layout: m.layout,
        mappings: run.mappings,
        needles: run.needles,
        sourceless: opts.dropUnreadablePycs === true ? 'drop' : 'refuse',
      };
    };
    const extracted = await extractArchive({
      input,
      shown: opts.archive,
      into: tmp,
      writer,
      relocateFor,
      ...(opts.limits === undefined ? {} : { limits: opts.limits }),
      ...(opts.onProgress === undefined
        ? {}
        : { onProgress: (d: number, t: number) => opts.onProgress?.('unpack', d, t) }),
    });
    const tExtracted = performance.now();
    warnings.push(...extracted.warnings);

    let layout: ArchiveLayout;
    let tree = tmp;
    let venvRels: ByteString[];
    const venvs: UnpackedVenv[] = [];
    if (extracted.manifest !== undefined) {
      layout = 'venv-at-root';
      venvRels = [''];
      const m = extracted.manifest;
      const prefix = utf8ToBytes(m.prefix);
      venvs.push({
        path: opts.dest,
        old: prefix === destAbs ? null : m.prefix,
        status: prefix === destAbs ? 'up-to-date' : 'relocated',
        rewritten: countKinds(extracted.changes),
        changes: [...extracted.changes]
          .sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0))
          .map((c) => ({ path: bytesToUtf8(c.rel), kind: c.kind, letter: KIND_LETTER[c.kind] })),
        reinit: null,
      });
      const w = checkInterpreter(tmp, m.layout, [destAbs], opts.dest);
      if (w !== undefined && opts.reinitialize !== true) warnings.push(w);
    } else {
      // Where the venv sits decides what DEST is (a single top folder is stripped).
      const top = [...extracted.top];
      const single = top.length === 1 && top[0]?.[1] === 'dir' ? top[0][0] : undefined;
      if (isVenvFolder(tmp)) {
        layout = 'venv-at-root';
      } else if (single !== undefined && isVenvFolder(`${tmp}/${single}`)) {
        layout = 'venv-in-top-folder';
        tree = `${tmp}/${single}`;
      } else {
        layout = 'app-tree';
        if (single !== undefined) tree = `${tmp}/${single}`;
      }
      venvRels = findVenvs(tree);
      if (venvRels.length === 0) {
        throw new VenvToolsError(
          'BAD_ARCHIVE',
          `${opts.archive} holds no venv (no folder with pyvenv.cfg, or bin/activate and lib/pythonX.Y, in its first three levels). Nothing was written at ${opts.dest}.`,
          opts.archive,
        );
      }
      for (const rel of venvRels) {
        const here = rel === '' ? tree : `${tree}/${rel}`;
        const final = rel === '' ? destAbs : `${destAbs}/${rel}`;
        // Sources that moved along inside the archive (app/{src,venv}) exist only in the
        // temporary tree until the rename: each top-level neighbour of the venv is mapped by name.
        const maps = neighbourMaps(here, final, tree, destAbs);
        const { report } = relocate({
          path: bytesToUtf8(here),
          to: bytesToUtf8(final),
          maps,
          dropUnreadablePycs: opts.dropUnreadablePycs === true,
          ...(opts.onProgress === undefined ? {} : { onProgress: opts.onProgress }),
        });
        warnings.push(...report.warnings.filter((w) => w.code !== 'ASSUMED_MOVED_ALONG'));
        venvs.push(fromRelocation(report, final));
      }
    }
    if (opts.reinitialize === true) {
      for (let i = 0; i < venvs.length; i++) {
        const rel = venvRels[i] as ByteString;
        const here = rel === '' ? tree : `${tree}/${rel}`;
        const r = reinitialize({
          path: bytesToUtf8(here),
          ...(opts.python === undefined ? {} : { python: opts.python }),
        });
        if (r.check !== null && !r.check.ok) {
          throw new VenvToolsError(
            'REINIT',
            `after re-pointing ${bytesToUtf8(rel === '' ? destAbs : `${destAbs}/${rel}`)} at ${r.interpreter.found}, its python does not work: ${r.check.problems.join('; ')}. Nothing was written at ${opts.dest}.`,
            opts.dest,
          );
        }
        venvs[i] = { ...(venvs[i] as UnpackedVenv), reinit: r };
      }
    }
    const tRelocated = performance.now();

    // The commit point: one rename. With --force, the old DEST is moved aside first and removed
    // after; a kill between the two renames leaves DEST absent and both trees beside it, which
    // the next unpack to DEST removes.
    let aside: ByteString | undefined;
    if (destState === 'replace') {
      aside = `${parent}/.${base}.${OLD_TAG}-${process.pid}`;
      fs.renameSync(toBytes(destAbs), toBytes(aside));
    }
    fs.renameSync(toBytes(tree), toBytes(destAbs));
    if (aside !== undefined) fs.rmSync(toBytes(aside), { recursive: true, force: true });
    if (tree !== tmp) fs.rmSync(toBytes(tmp), { recursive: true, force: true });
    return {
      archive: opts.archive,
      dest: opts.dest,
      format: input.format,
      codec: input.codec,
      manifest: extracted.manifest !== undefined,
      layout,
      venvs,
      members: extracted.members,
      bytes: extracted.bytes,
      leftovers,
      replaced: destState === 'replace',
      warnings,
      ms: {
        extract: tExtracted - t0,
        relocate: tRelocated - tExtracted,
        total: performance.now() - t0,
      },
    };
  } catch (err) {
    fs.rmSync(toBytes(tmp), { recursive: true, force: true });
    throw err;
  }
}

/**
 * `--map`s for a venv relocated inside the temporary tree: for each entry beside the venv's
 * moved root (app/src beside app/venv), OLDROOT/NAME -> FINALROOT/NAME, when that root is the
 * tree's (the entries exist there, not yet at their final place).
 */
function neighbourMaps(
  here: ByteString,
  final: ByteString,
  tree: ByteString,
  destAbs: ByteString,
): Array<{ from: string; to: string }> {
  const maps: Array<{ from: string; to: string }> = [];
  let old: ByteString | undefined;
  try {
    const layout = detectLayout(bytesToUtf8(here), bytesToUtf8(here));
    const found = findOldPrefix(readEvidence(here, layout), final, bytesToUtf8(here));
    old = found.state === 'found' ? found.old : undefined;
  } catch (err) {
    // No single old location: relocate says so, with its own message.
    if (!(err instanceof VenvToolsError)) throw err;
  }
  if (old === undefined) return maps;
  const root2 = movedRoot(old, final);
  if (root2 === undefined || root2.to !== destAbs) return maps;
  const venvTop = final.slice(destAbs.length + 1).split('/')[0];
  let names: ByteString[] = [];
  try {
    names = (fs.readdirSync(toBytes(tree), { encoding: 'buffer' }) as unknown as Buffer[]).map(
      fromBytes,
    );
  } catch {
    return maps;
  }
  for (const n of names) {
    if (n === venvTop) continue;
    maps.push({ from: bytesToUtf8(`${root2.from}/${n}`), to: bytesToUtf8(`${root2.to}/${n}`) });
  }
  return maps;
}

function fromRelocation(r: RelocationReport, final: ByteString): UnpackedVenv {
  return {
    path: bytesToUtf8(final),
    old: r.old ?? null,
    status: r.status === 'up-to-date' ? 'up-to-date' : 'relocated',
    rewritten: r.counts,
    changes: r.changes.map((c) => ({ path: c.path, kind: c.kind, letter: c.letter })),
    reinit: null,
  };
}

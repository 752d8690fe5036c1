/**
 * `venv-tools pack VENV -o ARCHIVE [--to FINAL]`: stream a venv into a tar, tar.gz or tar.zst
 * archive with a manifest and a trailer (docs/ARCHIVES.md). With `--to`, the archive holds what
 * `relocate --to FINAL` would leave: the same evidence, mappings and Planner, applied to the
 * bytes as they stream. The venv is only read.
 */
import { basename, dirname, resolve as resolvePath } from 'node:path';
import { arch, platform } from 'node:os';
import { performance } from 'node:perf_hooks';
import { errnoOf, VenvToolsError } from '../core/errors.js';
import { fs } from '../core/fs.js';
import {
  bytesToUtf8,
  toBytes,
  utf8ToBytes,
  type ByteString,
  type Mapping,
} from '../core/path-boundary.js';
import { packageVersion } from '../core/version.js';
import { KIND_LETTER, type FileKind } from '../kinds/file-kind.js';
import { hasJournal } from '../apply/recover-journal.js';
import { JOURNAL_NAME } from '../apply/journal-format.js';
import { LOCK_NAME } from '../apply/lock.js';
import { pathExists } from '../core/real-path.js';
import type { Warning } from '../core/warning.js';
import { parsePyvenvCfg } from '../kinds/pyvenv-cfg.js';
import { runMappings } from '../relocate/run-mappings.js';
import { checkLocations } from '../scan/check-locations.js';
import { detectLayout } from '../scan/detect-layout.js';
import { findOldPrefix } from '../scan/find-old-prefix.js';
import { readEvidence } from '../scan/read-evidence.js';
import { safeNeedle } from '../scan/safe-needle.js';
import { formatFromName, type ArchiveFormat } from '../archive/archive-format.js';
import { openArchiveOutput, type ZstdChoice } from '../archive/archive-output.js';
import { ARCHIVE_VERSION, type Holder } from '../archive/manifest.js';
import { writeVenvArchive } from '../archive/write-venv-archive.js';
import type { PackReport } from '../report/archive-report.js';
import { resolveVenvRoot } from './open-venv.js';

export interface PackOptions {
  /** The venv as the user gave it. */
  readonly path: string;
  /** The archive to write (`-o`). */
  readonly output: string;
  /** `--format`; by default the output's extension decides. */
  readonly format?: ArchiveFormat;
  /** `--to`: archive the venv as relocated for this path. */
  readonly to?: string;
  /** How zstd is done (the program on PATH by default). */
  readonly zstd?: ZstdChoice;
  /** PATH, to find `zstd` on. */
  readonly envPath?: string;
  /**
   * With `to`: remove a pyc that cannot be rewritten, has no source and names the old location,
   * instead of refusing (as relocate's `--drop-unreadable-pycs`).
   */
  readonly dropUnreadablePycs?: boolean;
  readonly onProgress?: (phase: string, done: number, total: number) => void;
}

function countKinds(list: ReadonlyArray<{ kind: FileKind }>): Partial<Record<FileKind, number>> {
  const out: Partial<Record<FileKind, number>> = {};
  for (const x of list) out[x.kind] = (out[x.kind] ?? 0) + 1;
  return out;
}

/** The archive's format: `--format`, else the output's extension, else a usage error. */
export function packFormat(output: string, format: ArchiveFormat | undefined): ArchiveFormat {
  const f = format ?? formatFromName(output);
  if (f === undefined) {
    throw new VenvToolsError(
      'BAD_INPUT',
      `cannot tell the archive format from ${output}: name it .tar, .tar.gz (.tgz) or .tar.zst, or say --format tar|tar.gz|tar.zst`,
      output,
    );
  }
  return f;
}

/** Pack a venv into an archive; all or nothing (a partial archive is removed). */
export async function pack(opts: PackOptions): Promise<PackReport> {
  const t0 = performance.now();
  const shownPath = opts.path;
  const format = packFormat(opts.output, opts.format);
  const root = resolveVenvRoot(opts.path);
  const layout = detectLayout(opts.path, bytesToUtf8(root));
  if (hasJournal(root)) {
    throw new VenvToolsError(
      'JOURNAL',
      `${shownPath} holds the journal of an interrupted run (${JOURNAL_NAME}): some of its files may be half-written, and pack never changes a venv. Finish the run first with: venv-tools scan ${shownPath}`,
      shownPath,
    );
  }
  if (pathExists(`${root}/${LOCK_NAME}`)) {
    throw new VenvToolsError(
      'LOCKED',
      `${shownPath} is locked (${LOCK_NAME}): another venv-tools run is changing it. Pack it once that run is over (a lock left by a run that died goes with the next venv-tools scan ${shownPath}).`,
      shownPath,
    );
  }
  const outAbs = resolvePath(opts.output);
  const outBytes = utf8ToBytes(outAbs);
  if (outBytes === root || outBytes.startsWith(`${root}/`)) {
    throw new VenvToolsError(
      'BAD_INPUT',
      `${opts.output} is inside the venv ${shownPath}: pack never writes into the venv it packs. Write the archive elsewhere.`,
      opts.output,
    );
  }

  // Where the venv's files say it lives: its scripts, activate scripts and pyvenv.cfg, and only
  // when they name nothing, its pycs, RECORDs and .pth files too. relocate also asks those when
  // the cheap evidence names the target, to finish a half-done relocation; pack reads the venv
  // once, and a read of every pyc first would cost a third of tar's time.
  let evidence = readEvidence(root, layout);
  if (evidence.length === 0) evidence = readEvidence(root, layout, true);
  const found = findOldPrefix(evidence, root, shownPath);
  const prefix: ByteString = found.state === 'found' ? found.old : root;

  const warnings: Array<Warning> = [];
  let relocation:
    { mappings: Mapping[]; needles: Buffer[]; sourceless: 'refuse' | 'drop' } | undefined;
  let archived = prefix;
  if (opts.to !== undefined) {
    const given = checkLocations({ path: shownPath, to: opts.to, toFlag: '--to', maps: [] });
    warnings.push(...given.warnings);
    archived = given.to;
    if (given.to !== prefix) {
      // relocate's own mappings (relocate/run-mappings.ts): the venv's, and the root that moves
      // along with it, assumed when the venv stands where it was built and FINAL does not exist
      // here (pack on the build host: the usual case), checked against FINAL's side otherwise.
      const run = runMappings(root, prefix, given.to, []);
      warnings.push(...run.warnings);
      relocation = {
        mappings: run.mappings,
        needles: run.needles,
        sourceless: opts.dropUnreadablePycs === true ? 'drop' : 'refuse',
      };
    }
  }

  // The manifest is JSON text: a prefix that is not UTF-8 could not be named in it exactly.
  if (utf8ToBytes(bytesToUtf8(archived)) !== archived) {
    throw new VenvToolsError(
      'UNSUPPORTED',
      `the path its files name, ${bytesToUtf8(archived)}, is not valid UTF-8, which an archive's manifest cannot hold; relocate the venv to a UTF-8 path first (or pack --to one)`,
      shownPath,
    );
  }

  let cfg = new Map<string, string>();
  if (layout.hasPyvenvCfg) {
    try {
      cfg = parsePyvenvCfg(fs.readFileSync(toBytes(`${root}/pyvenv.cfg`), 'utf8'));
    } catch {
      // detectLayout read it a moment ago; the manifest does without its home then
    }
  }

  // Written beside the archive under a temporary name, and renamed over it once whole.
  const tmp = `${dirname(outAbs)}/.${basename(outAbs)}.venv-tools-tmp-${process.pid}`;
  let fd: number;
  try {
    fd = fs.openSync(
      tmp,
      fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC,
      0o644,
    );
  } catch (err) {
    throw new VenvToolsError(
      'WRITE_FAILED',
      `cannot write ${opts.output}: ${errnoOf(err) ?? (err as Error).message}; check that its folder exists and is writable`,
      opts.output,
    );
  }
  let output;
  try {
    output = await openArchiveOutput(fd, opts.output, format, {
      ...(opts.zstd === undefined ? {} : { zstd: opts.zstd }),
      ...(opts.envPath === undefined ? {} : { path: opts.envPath }),
    });
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  let result;
  try {
    result = await writeVenvArchive({
      root,
      layout,
      output,
      manifest: {
        format: 'venv-tools-archive',
        version: ARCHIVE_VERSION,
        tool: packageVersion(),
        prefix: bytesToUtf8(archived),
        relocated: relocation !== undefined,
        python: {
          version: layout.pythonVersion,
          implementation: layout.implementation,
          home: cfg.get('home') ?? null,
          full: layout.cfgVersion ?? null,
        },
        platform: `${platform()}-${arch()}`,
        layout,
      },
      holderNeedle: safeNeedle(archived),
      ...(relocation === undefined ? {} : { relocation }),
      ...(opts.onProgress === undefined
        ? {}
        : { onProgress: (d: number, t: number) => opts.onProgress?.('pack', d, t) }),
    });
    fs.closeSync(fd);
    fs.renameSync(tmp, outAbs);
  } catch (err) {
    output.abort();
    try {
      fs.closeSync(fd);
    } catch {
      // closed already
    }
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  let archiveBytes = 0;
  try {
    archiveBytes = fs.statSync(outAbs).size;
  } catch {
    // renamed a moment ago
  }
  warnings.push(...result.warnings);
  const sorted = [...result.changes].sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  return {
    path: shownPath,
    root: bytesToUtf8(root),
    archive: opts.output,
    format,
    codec: output.codec,
    prefix: bytesToUtf8(archived),
    from: relocation === undefined ? null : bytesToUtf8(prefix),
    members: result.members,
    bytes: result.bytes,
    archiveBytes,
    holders: countKinds(result.holders as Holder[]),
    rewritten: countKinds(result.changes),
    changes: sorted.map((c) => ({
      path: bytesToUtf8(c.rel),
      kind: c.kind,
      letter: KIND_LETTER[c.kind],
    })),
    warnings,
    ms: { ...result.ms, total: performance.now() - t0 },
  };
}

/**
 * `venv-tools scan ARCHIVE` and `venv-tools verify ARCHIVE`: read an archive to its end, checking
 * every member as unpack would, and write nothing. scan shows what unpack would do with it;
 * verify says whether it is whole (its trailer's count and checksum, for an archive venv-tools
 * packed; a complete, well-formed tar stream for any other).
 */
import { resolve as resolvePath } from 'node:path';
import { VenvToolsError } from '../core/errors.js';
import { fs } from '../core/fs.js';
import { bytesToUtf8 } from '../core/path-boundary.js';
import type { FileKind } from '../kinds/file-kind.js';
import { openArchiveInput } from '../archive/archive-input.js';
import type { ZstdChoice } from '../archive/archive-output.js';
import { extractArchive } from '../archive/extract-archive.js';
import type { ArchiveLayout, ArchiveReport } from '../report/archive-report.js';

/** True when PATH names a regular file: scan and verify then read it as an archive. */
export function isArchivePath(path: string): boolean {
  try {
    return fs.statSync(resolvePath(path)).isFile();
  } catch {
    return false;
  }
}

/** Read the archive to its end without writing anything. */
export async function inspectArchive(opts: {
  readonly archive: string;
  readonly zstd?: ZstdChoice;
  readonly envPath?: string;
}): Promise<ArchiveReport> {
  const input = await openArchiveInput(resolvePath(opts.archive), opts.archive, {
    ...(opts.zstd === undefined ? {} : { zstd: opts.zstd }),
    ...(opts.envPath === undefined ? {} : { path: opts.envPath }),
  });
  const empty = {
    archive: opts.archive,
    format: input.format,
    codec: input.codec,
  };
  try {
    const r = await extractArchive({ input, shown: opts.archive, into: undefined });
    const holders: Partial<Record<FileKind, number>> = {};
    for (const h of r.trailer?.holders ?? []) holders[h.kind] = (holders[h.kind] ?? 0) + 1;
    const roots = r.manifest !== undefined ? [''] : [...r.venvRoots].sort();
    const top = [...r.top];
    const single = top.length === 1 && top[0]?.[1] === 'dir' ? top[0][0] : undefined;
    const layout: ArchiveLayout | null =
      roots.length === 0
        ? null
        : roots.includes('')
          ? 'venv-at-root'
          : single !== undefined && roots.length === 1 && roots[0] === single
            ? 'venv-in-top-folder'
            : 'app-tree';
    return {
      ...empty,
      ok: roots.length > 0,
      problem: roots.length > 0 ? null : 'it holds no venv (no pyvenv.cfg in any folder)',
      manifest: r.manifest ?? null,
      layout,
      venvs: roots.map(bytesToUtf8),
      members: r.members,
      bytes: r.bytes,
      holders,
    };
  } catch (err) {
    if (!(err instanceof VenvToolsError) || err.code !== 'BAD_ARCHIVE') throw err;
    return {
      ...empty,
      ok: false,
      problem: err.message.replace(/ Nothing was written at the destination[^.]*\./, ''),
      manifest: null,
      layout: null,
      venvs: [],
      members: 0,
      bytes: 0,
      holders: {},
    };
  }
}

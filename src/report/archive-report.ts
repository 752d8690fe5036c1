/**
 * What pack, unpack, and scan or verify of an archive report: plain data, which
 * format-archive.ts renders and `--json` prints as it is.
 */
import type { Warning } from '../core/warning.js';
import type { FileKind } from '../kinds/file-kind.js';
import type { ArchiveFormat } from '../archive/archive-format.js';
import type { ArchiveManifest } from '../archive/manifest.js';
import type { ReinitReport } from '../reinit/reinit-report.js';

/** What pack did; format-archive.ts renders it. */
export interface PackReport {
  readonly path: string;
  readonly root: string;
  readonly archive: string;
  readonly format: ArchiveFormat;
  readonly codec: string;
  /** The path the archived files name. */
  readonly prefix: string;
  /** The venv's own location, when `--to` rewrote it for `prefix`. */
  readonly from: string | null;
  readonly members: number;
  readonly bytes: number;
  readonly archiveBytes: number;
  /** Members that name the prefix, by kind. */
  readonly holders: Partial<Record<FileKind, number>>;
  /** With `--to`: files rewritten in the stream, by kind. */
  readonly rewritten: Partial<Record<FileKind, number>>;
  readonly changes: ReadonlyArray<{ path: string; kind: FileKind; letter: string }>;
  readonly warnings: ReadonlyArray<Warning>;
  readonly ms: { walk: number; stream: number; total: number };
}

/** Where the venv sat in the archive, which decides what DEST is. */
export type ArchiveLayout =
  /** The archive's root is the venv: DEST is the venv. */
  | 'venv-at-root'
  /** A single top folder is the venv (`tar czf app.tgz venv`): stripped; DEST is the venv. */
  | 'venv-in-top-folder'
  /** An app tree holds the venvs deeper: DEST is the tree's root. */
  | 'app-tree';

/** One venv unpack relocated. */
export interface UnpackedVenv {
  /** Where it is now (below DEST). */
  readonly path: string;
  /** The location its files named in the archive. */
  readonly old: string | null;
  readonly status: 'relocated' | 'up-to-date';
  /** Files rewritten, by kind. */
  readonly rewritten: Partial<Record<FileKind, number>>;
  readonly changes: ReadonlyArray<{ path: string; kind: FileKind; letter: string }>;
  readonly reinit: ReinitReport | null;
}

/** What unpack did; format-archive.ts renders it. */
export interface UnpackReport {
  readonly archive: string;
  readonly dest: string;
  readonly format: ArchiveFormat;
  readonly codec: string;
  /** True for an archive venv-tools packed (relocated in the stream). */
  readonly manifest: boolean;
  readonly layout: ArchiveLayout;
  readonly venvs: readonly UnpackedVenv[];
  readonly members: number;
  readonly bytes: number;
  /** Temporary folders of earlier unpacks to DEST that were killed, removed before this one. */
  readonly leftovers: readonly string[];
  readonly replaced: boolean;
  readonly warnings: ReadonlyArray<Warning>;
  readonly ms: { extract: number; relocate: number; total: number };
}

/** What reading an archive found. */
export interface ArchiveReport {
  readonly archive: string;
  /** True when the archive is whole and every member passes unpack's checks. */
  readonly ok: boolean;
  /** Why not, naming the member. */
  readonly problem: string | null;
  readonly format: ArchiveFormat | null;
  readonly codec: string | null;
  readonly manifest: ArchiveManifest | null;
  /** Where the venvs sit, from the members' names (a pyvenv.cfg marks a venv). */
  readonly layout: ArchiveLayout | null;
  /** The venvs by their folder in the archive ('' for its root). */
  readonly venvs: readonly string[];
  readonly members: number;
  readonly bytes: number;
  /** For an archive venv-tools packed: members that name its prefix, by kind. */
  readonly holders: Partial<Record<FileKind, number>>;
}

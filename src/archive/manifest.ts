/**
 * The two members venv-tools adds to an archive it packs: the manifest, first, and the trailer,
 * last. Their names start with `.venv-tools.`, which venv-tools reserves at a venv's root (the
 * lock and the journal live there, and the walk never lists these names), so no venv file can
 * clash with them. docs/ARCHIVES.md describes both.
 */
import type { FileKind } from '../kinds/file-kind.js';
import type { Layout } from '../scan/detect-layout.js';

export const MANIFEST_NAME = '.venv-tools.archive.json';
export const TRAILER_NAME = '.venv-tools.archive-end.json';

/** The archive format's version; an unpack refuses a newer one. */
export const ARCHIVE_VERSION = 1;

/** The first member: what the archive holds, known before its files are read. */
export interface ArchiveManifest {
  readonly format: 'venv-tools-archive';
  readonly version: number;
  /** The venv-tools version that packed it. */
  readonly tool: string;
  /** The path the contents name: the venv's own, or `--to`'s. */
  readonly prefix: string;
  /** True when pack rewrote the contents for `prefix` (`--to`). */
  readonly relocated: boolean;
  readonly python: {
    readonly version: string;
    readonly implementation: Layout['implementation'];
    /** pyvenv.cfg `home` (the base interpreter's folder on the build host), if any. */
    readonly home: string | null;
    /** pyvenv.cfg `version` / `version_info`, if any. */
    readonly full: string | null;
  };
  /** Where it was packed: `linux-x64`, … (the venv's compiled extensions are for it). */
  readonly platform: string;
  readonly layout: Layout;
  /** Members between the manifest and the trailer. */
  readonly members: number;
  /**
   * The pycs some RECORD lists with a hash, relative to the venv: an unpack that rewrites them
   * must give their RECORD rows new hashes, and the RECORDs come last in the archive.
   */
  readonly hashedPycs: readonly string[];
}

/** One member that names the prefix, as the trailer lists it. */
export interface Holder {
  readonly path: string;
  readonly kind: FileKind;
}

/** The last member: what proves that an unpack saw the whole archive. */
export interface ArchiveTrailer {
  readonly members: number;
  /** Bytes of file data. */
  readonly bytes: number;
  /** CRC-32 of the tar stream from its first byte up to the trailer's header. */
  readonly crc32: number;
  /** The members whose bytes name the prefix (files by content, symlinks by target). */
  readonly holders: readonly Holder[];
}

/** The manifest as the member's bytes. */
export function encodeJson(value: ArchiveManifest | ArchiveTrailer): Buffer {
  return Buffer.from(`${JSON.stringify(value, null, 1)}\n`, 'utf8');
}

/** Why a manifest or trailer was refused. */
export class ManifestError extends Error {}

function object(bytes: Buffer, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new ManifestError(`its ${what} is not JSON`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new ManifestError(`its ${what} is not a JSON object`);
  return v as Record<string, unknown>;
}

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** Parse and check the manifest member. */
export function parseManifest(bytes: Buffer): ArchiveManifest {
  const m = object(bytes, 'manifest');
  if (m.format !== 'venv-tools-archive') throw new ManifestError('its manifest has no format');
  if (!isCount(m.version)) throw new ManifestError('its manifest has no version');
  if (m.version > ARCHIVE_VERSION) {
    throw new ManifestError(
      `it was packed in format ${m.version} by venv-tools ${String(m.tool)}, newer than this one reads (${ARCHIVE_VERSION}); unpack it with that version`,
    );
  }
  const layout = m.layout as Record<string, unknown> | undefined;
  if (
    typeof m.prefix !== 'string' ||
    !m.prefix.startsWith('/') ||
    !isCount(m.members) ||
    !Array.isArray(m.hashedPycs) ||
    !m.hashedPycs.every((p) => typeof p === 'string') ||
    typeof layout !== 'object' ||
    layout === null ||
    typeof layout.binDir !== 'string'
  ) {
    throw new ManifestError('its manifest is incomplete');
  }
  return m as unknown as ArchiveManifest;
}

/** Parse and check the trailer member. */
export function parseTrailer(bytes: Buffer): ArchiveTrailer {
  const t = object(bytes, 'trailer');
  if (
    !isCount(t.members) ||
    !isCount(t.bytes) ||
    !isCount(t.crc32) ||
    !Array.isArray(t.holders) ||
    !t.holders.every(
      (h) =>
        typeof h === 'object' &&
        h !== null &&
        typeof (h as Holder).path === 'string' &&
        typeof (h as Holder).kind === 'string',
    )
  ) {
    throw new ManifestError('its trailer is incomplete');
  }
  return t as unknown as ArchiveTrailer;
}

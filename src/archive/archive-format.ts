import { filetypeinfo } from 'magic-bytes.js';

/** The archive formats pack writes and unpack reads. */
export type ArchiveFormat = 'tar' | 'tar.gz' | 'tar.zst';

export const ARCHIVE_FORMATS: readonly ArchiveFormat[] = ['tar', 'tar.gz', 'tar.zst'];

/** The format an output name asks for by its extension, or undefined. */
export function formatFromName(name: string): ArchiveFormat | undefined {
  const n = name.toLowerCase();
  if (n.endsWith('.tar.zst') || n.endsWith('.tzst')) return 'tar.zst';
  if (n.endsWith('.tar.gz') || n.endsWith('.tgz')) return 'tar.gz';
  if (n.endsWith('.tar')) return 'tar';
  return undefined;
}

/** A zstd frame, or a skippable frame (0x184D2A50-5F) that may stand before one. */
function isZstd(head: Buffer): boolean {
  if (head.length < 4) return false;
  const m = head.readUInt32LE(0);
  return m === 0xfd2fb528 || (m & 0xfffffff0) === 0x184d2a50;
}

/**
 * What an archive is, from its first bytes (not its name): `tar.zst`, `tar.gz`, `tar`, or the
 * name magic-bytes.js gives some other format (`xz`, `zip`, …), or undefined for unknown bytes.
 * A gzip or zstd stream is taken to hold a tar; the tar reader checks that it does.
 */
export function formatFromMagic(head: Buffer): ArchiveFormat | string | undefined {
  if (isZstd(head)) return 'tar.zst';
  const guesses = filetypeinfo(head.subarray(0, Math.min(head.length, 1024)));
  const first = guesses[0]?.typename;
  if (first === 'gz') return 'tar.gz';
  if (first === 'tar') return 'tar';
  return first;
}

/**
 * The rules every member of an archive passes before unpack writes it, pure: they look at
 * names and types only, and at the members seen before. Together with O_EXCL|O_NOFOLLOW on
 * every file unpack creates, they keep every write inside the temporary folder: no name is
 * absolute or climbs with `..`, none goes through (or replaces) an earlier symlink, a
 * hard link points only at an earlier regular file of the same archive, and devices, FIFOs and
 * sparse files never get this far (the tar reader refuses them).
 */
import { bytesToUtf8, type ByteString } from '../core/path-boundary.js';
import type { TarHeader } from './tar-header.js';

/** Limits on what an archive may ask for. */
export interface ArchiveLimits {
  /** Members in all (a million: a large venv has about 30,000). */
  readonly maxMembers: number;
  /** Bytes of a member's whole name (Linux's PATH_MAX is 4096 with its NUL). */
  readonly maxNameBytes: number;
  /** Bytes of one component of a name (NAME_MAX). */
  readonly maxComponentBytes: number;
  /**
   * How far a compressed archive may expand: the tar stream may not exceed this many times the
   * archive's own size once it is past `ratioFloor` bytes. A venv's tar.zst expands 3-6 times;
   * gzip cannot expand past about 1,030 times at all, zstd can by 30,000 times.
   */
  readonly maxRatio: number;
  readonly ratioFloor: number;
}

export const DEFAULT_LIMITS: ArchiveLimits = {
  maxMembers: 1_000_000,
  maxNameBytes: 4095,
  maxComponentBytes: 255,
  maxRatio: 250,
  ratioFloor: 256 << 20,
};

/** A member unpack refuses; `member` is its name as the archive has it (byte string). */
export class MemberRefusal extends Error {
  constructor(
    readonly member: string,
    why: string,
  ) {
    super(why);
    this.name = 'MemberRefusal';
  }
}

/**
 * A member's name as a path below the destination: `./` in front and `/` behind are dropped,
 * and so are empty and `.` components; '' is the destination itself. Throws MemberRefusal for
 * an absolute name, a `..` component, a NUL, or a name over the limits.
 */
export function memberPath(name: ByteString, limits: ArchiveLimits = DEFAULT_LIMITS): ByteString {
  if (name.startsWith('/')) throw new MemberRefusal(name, 'an absolute name');
  if (name.includes('\0')) throw new MemberRefusal(name, 'a NUL byte in its name');
  if (name.length > limits.maxNameBytes) {
    throw new MemberRefusal(
      name,
      `a name of ${name.length} bytes (the limit is ${limits.maxNameBytes})`,
    );
  }
  // Most names are plain (`lib/python3.11/site-packages/x.py`): checked without splitting.
  if (
    name.length <= limits.maxComponentBytes &&
    name !== '' &&
    !name.endsWith('/') &&
    !name.includes('//') &&
    name !== '.' &&
    !name.startsWith('./') &&
    !name.includes('/./') &&
    !name.endsWith('/.') &&
    name !== '..' &&
    !name.startsWith('../') &&
    !name.includes('/../') &&
    !name.endsWith('/..')
  ) {
    return name;
  }
  const parts: string[] = [];
  for (const p of name.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..')
      throw new MemberRefusal(name, 'a `..` in its name, which would climb out of the destination');
    if (p.length > limits.maxComponentBytes) {
      throw new MemberRefusal(
        name,
        `a name component of ${p.length} bytes (the limit is ${limits.maxComponentBytes})`,
      );
    }
    parts.push(p);
  }
  return parts.join('/');
}

type Seen = 'file' | 'dir' | 'symlink';

/**
 * Checks each member against the ones before it. Holds every name seen (about 100 bytes each):
 * a duplicate name is how a symlink gets swapped in under a name that was checked as a file.
 */
export class MemberGuard {
  private readonly seen = new Map<ByteString, Seen>();
  private readonly symlinks = new Set<ByteString>();
  private count = 0;

  constructor(private readonly limits: ArchiveLimits = DEFAULT_LIMITS) {}

  /** Members checked so far. */
  get members(): number {
    return this.count;
  }

  /**
   * The path the member goes to, below the destination; '' for the destination itself (a `./`
   * folder member). `fresh` is false for a folder named a second time (nothing to do).
   */
  check(h: TarHeader): { rel: ByteString; fresh: boolean } {
    this.count++;
    if (this.count > this.limits.maxMembers) {
      throw new MemberRefusal(h.name, `more than ${this.limits.maxMembers} members`);
    }
    const rel = memberPath(h.name, this.limits);
    if (rel === '') {
      if (h.type !== 'dir')
        throw new MemberRefusal(h.name, `a ${h.type} named as the destination itself`);
      return { rel, fresh: false };
    }
    this.checkParents(h.name, rel);
    const before = this.seen.get(rel);
    if (before !== undefined) {
      if (before === 'dir' && h.type === 'dir') return { rel, fresh: false };
      throw new MemberRefusal(
        h.name,
        `a second member named ${bytesToUtf8(rel)} (the first was a ${before})`,
      );
    }
    if (h.type === 'hardlink') {
      const target = memberPath(h.linkname, this.limits);
      if (this.seen.get(target) !== 'file') {
        throw new MemberRefusal(
          h.name,
          `a hard link to ${bytesToUtf8(h.linkname) || "''"}, which is not an earlier file of the archive`,
        );
      }
      this.seen.set(rel, 'file');
    } else {
      this.seen.set(rel, h.type === 'dir' ? 'dir' : h.type === 'symlink' ? 'symlink' : 'file');
      if (h.type === 'symlink') this.symlinks.add(rel);
    }
    return { rel, fresh: true };
  }

  /** The folder a hard link's target is at, for the caller to link (checked in `check`). */
  linkTarget(h: TarHeader): ByteString {
    return memberPath(h.linkname, this.limits);
  }

  private checkParents(name: string, rel: ByteString): void {
    // Only a symlink can lead a name out of the destination; a name below a file fails to be
    // made (ENOTDIR). Archives list symlinks late or not at all: mostly there is none to check.
    if (this.symlinks.size === 0) return;
    for (let i = rel.indexOf('/'); i !== -1; i = rel.indexOf('/', i + 1)) {
      const up = rel.slice(0, i);
      if (this.symlinks.has(up)) {
        throw new MemberRefusal(
          name,
          `a name that goes through the earlier symlink ${bytesToUtf8(up)}, which could lead out of the destination`,
        );
      }
    }
  }

  /** Refuse a stream that expands far beyond the archive's size (a compression bomb). */
  checkExpansion(tarBytes: number, archiveBytes: number): void {
    if (tarBytes > this.limits.ratioFloor && tarBytes > this.limits.maxRatio * archiveBytes) {
      throw new MemberRefusal(
        '',
        `it expands to more than ${this.limits.maxRatio} times its own size (${tarBytes} bytes from ${archiveBytes}): a compression bomb`,
      );
    }
  }
}

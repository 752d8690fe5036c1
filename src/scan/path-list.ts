import type { ByteString } from '../core/path-boundary.js';

/**
 * Paths packed into shared memory: one copy for both planning threads, and no JS string per
 * path until one is claimed. A venv of 100,000 files takes about 10 MB here instead of about
 * three times that as strings on each thread. Plain data: it is posted to the worker as it is
 * and rebuilt there with `PathList.of`.
 */
export interface PathListData {
  readonly bytes: SharedArrayBuffer;
  readonly ends: SharedArrayBuffer;
  readonly length: number;
}

export class PathList implements PathListData {
  private readonly view: Buffer;
  private readonly offsets: Int32Array;

  constructor(
    readonly bytes: SharedArrayBuffer,
    readonly ends: SharedArrayBuffer,
    readonly length: number,
  ) {
    this.view = Buffer.from(bytes);
    this.offsets = new Int32Array(ends, 0, length);
  }

  static of(data: PathListData): PathList {
    return new PathList(data.bytes, data.ends, data.length);
  }

  /** The i-th path. */
  get(i: number): ByteString {
    const start = i === 0 ? 0 : (this.offsets[i - 1] as number);
    return this.view.toString('latin1', start, this.offsets[i] as number);
  }
}

/** Room reserved for a list's bytes at first (address space only: pages are used as filled). */
const RESERVE = 64 << 20;

/** A growable SharedArrayBuffer (Node 20 has them; the ES2023 types the project uses do not). */
interface GrowableSab extends SharedArrayBuffer {
  readonly maxByteLength: number;
  grow(size: number): void;
}
const GrowableSab = SharedArrayBuffer as unknown as new (
  size: number,
  options: { maxByteLength: number },
) => GrowableSab;

/**
 * A shared buffer that grows in place up to what it reserved: growing it copies nothing, and
 * only the pages written take memory. Past the reservation (a venv of some 600,000 files), a
 * larger one is made and the bytes copied, once.
 */
class GrowingShared {
  sab: GrowableSab;

  constructor(reserve: number) {
    this.sab = new GrowableSab(0, { maxByteLength: reserve });
  }

  /** Make room for `size` bytes in all; true when the memory moved (views must be made again). */
  ensure(size: number): boolean {
    const have = this.sab.byteLength;
    if (size <= have) return false;
    // Whole 8-byte words, so that any typed array fits it exactly.
    const want = (Math.max(size, 2 * have, 1 << 16) + 7) & ~7;
    const max = this.sab.maxByteLength;
    if (size <= max) {
      this.sab.grow(Math.min(want, max));
    } else {
      const bigger = new GrowableSab(want, { maxByteLength: 4 * want });
      new Uint8Array(bigger).set(new Uint8Array(this.sab));
      this.sab = bigger;
    }
    return true;
  }
}

/**
 * Packs paths one at a time, so that no array of them is ever held, straight into the shared
 * memory the list is read from (a buffer that doubled and was copied at the end used to hold up
 * to three times the list's size at once: 27 MB for the 8 MB of a 100,000-file venv).
 */
export class PathListBuilder {
  private readonly bytes: GrowingShared;
  private readonly ends: GrowingShared;
  private bytesView: Buffer<ArrayBufferLike> = Buffer.alloc(0);
  private endsView: Int32Array<ArrayBufferLike> = new Int32Array(0);
  private used = 0;
  private count = 0;

  /** `reserve`: the address space set aside for the bytes at first (the tests make it small). */
  constructor(reserve = RESERVE) {
    this.bytes = new GrowingShared(reserve);
    this.ends = new GrowingShared(reserve >> 3);
  }

  add(rel: ByteString): void {
    if (this.bytes.ensure(this.used + rel.length)) this.bytesView = Buffer.from(this.bytes.sab);
    if (this.ends.ensure(4 * (this.count + 1))) this.endsView = new Int32Array(this.ends.sab);
    this.used += this.bytesView.write(rel, this.used, 'latin1');
    this.endsView[this.count++] = this.used;
  }

  /** The paths added. */
  finish(): PathList {
    return new PathList(this.bytes.sab, this.ends.sab, this.count);
  }
}

import { crc32 } from 'node:zlib';
import {
  BLOCK,
  encodeHeader,
  MAX_HEADER,
  padding,
  writeHeader,
  type TarHeader,
} from './tar-header.js';

/** Where an archive's bytes go: a file, or a compressor in front of one (archive-output.ts). */
export interface ByteOutput {
  /** Take the chunk; the output owns it from now on. */
  write(chunk: Buffer): void;
  /** A promise when the output wants the writer to wait (backpressure), else undefined. */
  ready(): Promise<void> | undefined;
  /** Everything is written: flush, close, and report a failure of the compressor. */
  finish(): Promise<void>;
  /** Give up: stop a compressor, close the file. */
  abort(): void;
  /** True when `write` is done with the chunk once it returns (the writer may reuse it). */
  readonly reuses?: boolean;
}

const CHUNK = 1 << 20;
const ZEROS = Buffer.alloc(2 * BLOCK);

/**
 * Writes tar members into a ByteOutput through a 1 MiB buffer, so that thousands of small files
 * make a few large writes; headers are written straight into it. Keeps a CRC-32 and the length
 * of everything written, which the archive's trailer records (see manifest.ts).
 */
export class TarWriter {
  private buf = Buffer.allocUnsafe(CHUNK);
  private used = 0;
  /** The CRC-32 of everything before buf[crcAt]. */
  private crc = 0;
  private crcAt = 0;
  private flushed = 0;
  private left = 0;
  private pad = 0;

  constructor(private readonly out: ByteOutput) {}

  /** Bytes written so far. */
  get offset(): number {
    return this.flushed + this.used;
  }

  /** The CRC-32 of every byte written so far. */
  get digest(): number {
    this.crc = crc32(this.buf.subarray(this.crcAt, this.used), this.crc);
    this.crcAt = this.used;
    return this.crc;
  }

  /** A whole member: its header, then its data (a file's; nothing for the others). */
  add(h: TarHeader, data?: Buffer): void {
    this.begin(h);
    if (data !== undefined && data.length > 0) this.data(data);
    this.endMember();
  }

  /** A member whose data follows in `data` calls, `h.size` bytes in all, then `endMember`. */
  begin(h: TarHeader): void {
    if (this.left !== 0) throw new Error('TarWriter: a member began before the last one ended');
    const room = MAX_HEADER + h.name.length + h.linkname.length;
    if (this.used + room > CHUNK) this.flush();
    if (room > CHUNK) {
      this.put(encodeHeader(h));
    } else {
      this.used += writeHeader(h, this.buf, this.used);
    }
    this.left = h.size;
    this.pad = padding(h.size);
  }

  /** The next piece of the current member's data. */
  data(chunk: Buffer): void {
    if (chunk.length > this.left) throw new Error('TarWriter: more data than the header said');
    this.left -= chunk.length;
    this.put(chunk);
  }

  /** The current member is done: pad its data to a whole block. */
  endMember(): void {
    if (this.left !== 0) throw new Error('TarWriter: a member ended before its data did');
    if (this.pad > 0) this.put(ZEROS.subarray(0, this.pad));
    this.pad = 0;
  }

  /** Backpressure: wait here between members when the output asks for it. */
  ready(): Promise<void> | undefined {
    return this.out.ready();
  }

  /** The two zero blocks that end an archive, then everything is flushed to the output. */
  async finish(): Promise<void> {
    this.put(ZEROS);
    this.flush();
    await this.out.finish();
  }

  private put(b: Buffer): void {
    let at = 0;
    while (at < b.length) {
      const n = Math.min(b.length - at, CHUNK - this.used);
      b.copy(this.buf, this.used, at, at + n);
      this.used += n;
      at += n;
      if (this.used === CHUNK) this.flush();
    }
  }

  private flush(): void {
    if (this.used === 0) return;
    this.crc = crc32(this.buf.subarray(this.crcAt, this.used), this.crc);
    const full = this.buf.subarray(0, this.used);
    this.flushed += this.used;
    // An output that is done with a chunk when write returns (a file) gets the same buffer back.
    if (this.out.reuses !== true) this.buf = Buffer.allocUnsafe(CHUNK);
    this.used = 0;
    this.crcAt = 0;
    this.out.write(full);
  }
}

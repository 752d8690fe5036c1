/**
 * A growing output buffer. Rewriting thousands of pycs per venv must not build strings byte by
 * byte; this copies whole spans of the input and grows by doubling.
 */
export class ByteWriter {
  private buf: Buffer;
  private len = 0;

  constructor(capacity: number) {
    this.buf = Buffer.allocUnsafe(Math.max(64, capacity));
  }

  /** Bytes written so far. */
  get length(): number {
    return this.len;
  }

  private reserve(n: number): void {
    const need = this.len + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    this.buf.copy(grown, 0, 0, this.len);
    this.buf = grown;
  }

  /** Append one byte. */
  byte(b: number): void {
    this.reserve(1);
    this.buf[this.len++] = b & 0xff;
  }

  /** Append a 32-bit little-endian integer (signed or unsigned). */
  int32(v: number): void {
    this.reserve(4);
    this.buf.writeUInt32LE(v >>> 0, this.len);
    this.len += 4;
  }

  /** Append `src[start, end)`. */
  span(src: Uint8Array, start: number, end: number): void {
    if (end <= start) return;
    this.reserve(end - start);
    this.buf.set(src.subarray(start, end), this.len);
    this.len += end - start;
  }

  /** Append a byte string (one char per byte). */
  byteString(s: string): void {
    this.reserve(s.length);
    this.len += this.buf.write(s, this.len, 'latin1');
  }

  /**
   * The bytes written, as a Buffer of exactly that length: a view when little room is wasted,
   * else a copy, so that a plan holding thousands of results does not hold twice the memory.
   */
  finish(): Buffer {
    if (this.len >= this.buf.length * 0.75) return this.buf.subarray(0, this.len);
    return Buffer.from(this.buf.subarray(0, this.len));
  }
}

/**
 * Tar headers, pure: one 512-byte block to fields and back, and pax extended-header records.
 * What is written is POSIX pax (ustar blocks, with a pax header where ustar cannot say it: a
 * long name, a time finer than a second, a size of 8 GiB or more), which GNU tar and bsdtar both
 * read. What is read is also GNU tar's own format (long names in 'L'/'K' members, base-256
 * numbers) and v7 headers, since plain `tar czf` archives are welcome.
 */

export const BLOCK = 512;

/** What a member is. Only these are ever written; the reader refuses anything else. */
export type MemberType = 'file' | 'hardlink' | 'symlink' | 'dir';

/** One member's header, as the writer takes it and the reader gives it (after pax and GNU names). */
export interface TarHeader {
  /** The member's name, a byte string (one char per byte); a directory's without its trailing `/`. */
  readonly name: string;
  readonly type: MemberType;
  /** Permission bits (mode & 0o7777). */
  readonly mode: number;
  readonly size: number;
  /** Modification time, nanoseconds since the epoch. */
  readonly mtimeNs: bigint;
  /** Hard link or symlink target (byte string); '' for the others. */
  readonly linkname: string;
}

const TYPE_FLAG: Record<MemberType, number> = {
  file: 0x30, // '0'
  hardlink: 0x31, // '1'
  symlink: 0x32, // '2'
  dir: 0x35, // '5'
};

const NS = 1_000_000_000n;

/** The largest value `width` bytes hold as octal digits and a NUL. */
function octalMax(width: number): number {
  return 8 ** (width - 1) - 1;
}

function writeOctal(b: Buffer, value: number, at: number, width: number): void {
  // width - 1 digits and a NUL (already there: the block is zeroed), as GNU tar writes them.
  b.write(value.toString(8).padStart(width - 1, '0'), at, width - 1, 'latin1');
}

function writeBase256(b: Buffer, value: number, at: number, width: number): void {
  // GNU's base-256: the first byte's high bit set, the value big-endian in the rest.
  let v = BigInt(value);
  for (let i = width - 1; i > 0; i--) {
    b[at + i] = Number(v & 0xffn);
    v >>= 8n;
  }
  b[at] = 0x80;
}

/** A pax record, `LEN key=value\n`, where LEN counts the whole record, its own digits included. */
export function paxRecord(key: string, value: Buffer): Buffer {
  return Buffer.from(paxRecordText(key, value.toString('latin1')), 'latin1');
}

/** paxRecord as a byte string (`value` is one). */
function paxRecordText(key: string, value: string): string {
  const body = key.length + value.length + 3; // ' ', '=', '\n'
  let len = body + String(body).length;
  if (String(len).length !== String(body).length) len = body + String(len).length;
  return `${len} ${key}=${value}\n`;
}

/** A time in ns as pax writes it: seconds with nine decimals (or none for whole seconds). */
export function paxTime(ns: bigint): string {
  const neg = ns < 0n;
  const a = neg ? -ns : ns;
  const s = a / NS;
  const frac = a % NS;
  const text = frac === 0n ? `${s}` : `${s}.${frac.toString().padStart(9, '0')}`;
  return neg ? `-${text}` : text;
}

/** Where ustar's prefix (155) and name (100) fields split a name: the `/` index, -1 for none needed, -2 for impossible. */
function splitAt(name: string): number {
  if (name.length <= 100) return -1;
  if (name.length > 256) return -2;
  // The last `/` that leaves at most 100 bytes after it (and something) and at most 155 before it.
  for (let i = Math.min(name.length - 2, 155); i > 0; i--) {
    if (name.charCodeAt(i) === 0x2f) return name.length - i - 1 <= 100 ? i : -2;
  }
  return -2;
}

function isUtf8(byteString: string): boolean {
  const b = Buffer.from(byteString, 'latin1');
  return Buffer.from(b.toString('utf8'), 'utf8').equals(b);
}

const paxBlocks = new Map<number, Buffer>();

/** Room a header may take: a pax block, records for a name and a link of 4 KiB each, the block. */
export const MAX_HEADER = 3 * BLOCK + 2 * 4200;

/**
 * Write the ustar block for `h` into `out` at `at`, preceded by a pax header when ustar cannot
 * hold all of it (a long name or link, a fractional mtime, a size of 8 GiB or more); returns the
 * bytes written (whole blocks). `out` needs MAX_HEADER bytes of room for names within Linux's
 * limits. Written in place, with no allocation for the common member: a venv has tens of
 * thousands, and building each header from small Buffers cost a fifth of pack's time.
 */
export function writeHeader(h: TarHeader, out: Buffer, at: number): number {
  const name = h.type === 'dir' ? `${h.name}/` : h.name;
  const split = splitAt(name);
  let records = '';
  if (split === -2) records += paxRecordText('path', name);
  if (h.linkname.length > 100) records += paxRecordText('linkpath', h.linkname);
  if (h.size > octalMax(12)) records += paxRecordText('size', String(h.size));
  const seconds = h.mtimeNs >= 0n ? h.mtimeNs / NS : -((-h.mtimeNs + NS - 1n) / NS);
  const wholeTime = h.mtimeNs % NS === 0n && seconds >= 0n && seconds <= BigInt(octalMax(12));
  if (!wholeTime) records += paxRecordText('mtime', paxTime(h.mtimeNs));
  // pax says names are UTF-8; a name that is not is marked as raw bytes, as GNU tar does.
  if ((split === -2 && !isUtf8(name)) || (h.linkname.length > 100 && !isUtf8(h.linkname))) {
    records = paxRecordText('hdrcharset', 'BINARY') + records;
  }
  let pos = at;
  if (records.length > 0) {
    // One name for every pax header, as libarchive and star write (`././@PaxHeader`): readers
    // that know pax ignore it, and its block is then the same for every record length, made once.
    let block = paxBlocks.get(records.length);
    if (block === undefined) {
      block = Buffer.alloc(BLOCK);
      ustarInto(block, 0, '././@PaxHeader', '', 0x78, 0o644, records.length, 0, '');
      paxBlocks.set(records.length, block);
    }
    block.copy(out, pos);
    pos += BLOCK;
    out.write(records, pos, 'latin1');
    const padded = records.length + padding(records.length);
    out.fill(0, pos + records.length, pos + padded);
    pos += padded;
  }
  const mtime = Number(seconds < 0n || seconds > BigInt(octalMax(12)) ? 0n : seconds);
  ustarInto(
    out,
    pos,
    split >= 0 ? name.slice(split + 1) : name.slice(0, 100),
    split >= 0 ? name.slice(0, split) : '',
    TYPE_FLAG[h.type],
    h.mode,
    h.size,
    mtime,
    h.linkname.slice(0, 100),
  );
  return pos + BLOCK - at;
}

/** The header blocks for `h`, as a Buffer of their own (see writeHeader). */
export function encodeHeader(h: TarHeader): Buffer {
  const out = Buffer.alloc(MAX_HEADER + h.name.length + h.linkname.length);
  return out.subarray(0, writeHeader(h, out, 0));
}

/** Zero bytes that bring `size` to a whole number of blocks. */
export function padding(size: number): number {
  const r = size % BLOCK;
  return r === 0 ? 0 : BLOCK - r;
}

function ustarInto(
  b: Buffer,
  at: number,
  name: string,
  prefix: string,
  typeflag: number,
  mode: number,
  size: number,
  mtime: number,
  linkname: string,
): void {
  b.fill(0, at, at + BLOCK);
  b.write(name, at, 100, 'latin1');
  writeOctal(b, mode & 0o7777, at + 100, 8);
  // Owner 0 with no names: root extracting gets files root owns, anyone else gets their own.
  writeOctal(b, 0, at + 108, 8);
  writeOctal(b, 0, at + 116, 8);
  if (size > octalMax(12)) writeBase256(b, size, at + 124, 12);
  else writeOctal(b, size, at + 124, 12);
  writeOctal(b, mtime, at + 136, 12);
  b[at + 156] = typeflag;
  if (linkname.length > 0) b.write(linkname, at + 157, 100, 'latin1');
  b.write('ustar\x0000', at + 257, 8, 'latin1');
  if (prefix.length > 0) b.write(prefix, at + 345, 155, 'latin1');
  b.fill(0x20, at + 148, at + 156);
  let sum = 0;
  for (let i = at; i < at + BLOCK; i++) sum += b[i] as number;
  b.write(`${sum.toString(8).padStart(6, '0')}\x00 `, at + 148, 8, 'latin1');
}

/** A raw header block as the reader sees it, before pax and GNU long names are applied. */
export interface RawHeader {
  /** The type flag as a character ('0', '5', 'x', 'L', …; '\0' is a regular file in v7). */
  readonly flag: string;
  readonly name: Buffer;
  readonly linkname: Buffer;
  readonly mode: number;
  readonly size: number;
  readonly mtime: number;
}

/** Why a header block was refused (the reader names the archive and the offset). */
export class HeaderError extends Error {}

function field(b: Buffer, at: number, width: number): Buffer {
  const f = b.subarray(at, at + width);
  const nul = f.indexOf(0);
  return nul === -1 ? f : f.subarray(0, nul);
}

function readNumber(b: Buffer, at: number, width: number, what: string): number {
  const first = b[at] as number;
  if (first & 0x80) {
    // Base-256 (GNU, star): big-endian in the bytes after the marker; negative values refused.
    if (first & 0x40) throw new HeaderError(`negative ${what}`);
    let v = BigInt(first & 0x3f);
    for (let i = 1; i < width; i++) v = (v << 8n) | BigInt(b[at + i] as number);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new HeaderError(`${what} too large`);
    return Number(v);
  }
  // Octal digits, maybe after spaces, ended by a NUL or a space (the tail may hold either):
  // parsed from the bytes, as a venv's tens of thousands of headers are.
  let i = at;
  const end = at + width;
  while (i < end && b[i] === 0x20) i++;
  let v = 0;
  let digits = 0;
  for (; i < end; i++) {
    const c = b[i] as number;
    if (c < 0x30 || c > 0x37) break;
    v = v * 8 + (c - 0x30);
    digits++;
  }
  for (; i < end; i++) {
    const c = b[i];
    if (c !== 0 && c !== 0x20) {
      throw new HeaderError(
        `${what} is not a number: ${JSON.stringify(b.toString('latin1', at, end))}`,
      );
    }
  }
  return digits === 0 ? 0 : v;
}

const ZERO_BLOCK = Buffer.alloc(BLOCK);

/** True for a block of 512 zero bytes (two of them end an archive). */
export function isZeroBlock(b: Buffer): boolean {
  return b.equals(ZERO_BLOCK);
}

/** Parse one header block; throws HeaderError when its checksum or a number is wrong. */
export function decodeHeader(b: Buffer): RawHeader {
  // The sum of the bytes with the checksum field taken as spaces; old writers summed signed bytes.
  let unsigned = 8 * 0x20;
  for (let i = 0; i < 148; i++) unsigned += b[i] as number;
  for (let i = 156; i < BLOCK; i++) unsigned += b[i] as number;
  const want = readNumber(b, 148, 8, 'checksum');
  if (want !== unsigned) {
    let signed = 8 * 0x20;
    for (let i = 0; i < BLOCK; i++) {
      if (i >= 148 && i < 156) continue;
      const c = b[i] as number;
      signed += c > 127 ? c - 256 : c;
    }
    if (want !== signed) throw new HeaderError('bad header checksum');
  }
  const magic = b.toString('latin1', 257, 263);
  let name = field(b, 0, 100);
  // Only POSIX ustar has a prefix field; GNU's old format keeps times and sparse maps there.
  if (magic === 'ustar\0') {
    const prefix = field(b, 345, 155);
    if (prefix.length > 0) name = Buffer.concat([prefix, Buffer.from('/'), name]);
  }
  const flag = String.fromCharCode(b[156] as number);
  return {
    flag: flag === '\0' ? '0' : flag,
    name,
    linkname: field(b, 157, 100),
    mode: readNumber(b, 100, 8, 'mode') & 0o7777,
    size: readNumber(b, 124, 12, 'size'),
    mtime: readNumber(b, 136, 12, 'mtime'),
  };
}

/** Parse pax records (`LEN key=value\n`…) into a map (later keys win); throws on a malformed one. */
export function parsePax(data: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let at = 0;
  while (at < data.length) {
    if (data[at] === 0) break; // padding some writers leave
    const space = data.indexOf(0x20, at);
    if (space === -1 || space - at > 20) throw new HeaderError('malformed pax record');
    const len = Number(data.toString('latin1', at, space));
    if (!Number.isInteger(len) || len <= 0 || at + len > data.length || data[at + len - 1] !== 0x0a)
      throw new HeaderError('malformed pax record');
    const eq = data.indexOf(0x3d, space);
    if (eq === -1 || eq >= at + len) throw new HeaderError('malformed pax record');
    out.set(data.toString('utf8', space + 1, eq), data.subarray(eq + 1, at + len - 1));
    at += len;
  }
  return out;
}

/** A pax time (`1700000000.123456789`) in ns. */
export function parsePaxTime(text: string): bigint {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
  if (m === null) throw new HeaderError(`bad pax time: ${JSON.stringify(text)}`);
  const frac = BigInt(((m[3] ?? '') + '000000000').slice(0, 9));
  const ns = BigInt(m[2] as string) * NS + frac;
  return m[1] === '-' ? -ns : ns;
}

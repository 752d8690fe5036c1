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

function writeOctal(block: Buffer, value: number, at: number, width: number): void {
  // width - 1 digits and a NUL, as GNU tar writes them.
  block.write(value.toString(8).padStart(width - 1, '0'), at, width - 1, 'latin1');
  block[at + width - 1] = 0;
}

/** The largest value `width` bytes hold as octal digits and a NUL. */
function octalMax(width: number): number {
  return 8 ** (width - 1) - 1;
}

function writeBase256(block: Buffer, value: number, at: number, width: number): void {
  // GNU's base-256: the first byte's high bit set, the value big-endian in the rest.
  let v = BigInt(value);
  for (let i = width - 1; i > 0; i--) {
    block[at + i] = Number(v & 0xffn);
    v >>= 8n;
  }
  block[at] = 0x80;
}

/** A pax record, `LEN key=value\n`, where LEN counts the whole record, its own digits included. */
export function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.byteLength(key, 'latin1') + value.length + 3; // ' ', '=', '\n'
  let len = body + String(body).length;
  if (String(len).length !== String(body).length) len = body + String(len).length;
  return Buffer.concat([
    Buffer.from(`${len} ${key}=`, 'latin1'),
    value,
    Buffer.from('\n', 'latin1'),
  ]);
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

/** Split a name over ustar's prefix (155) and name (100) fields at a `/`, or undefined. */
function splitUstar(name: Buffer): { prefix: Buffer; rest: Buffer } | undefined {
  if (name.length <= 100) return { prefix: Buffer.alloc(0), rest: name };
  if (name.length > 256) return undefined;
  // The last `/` that leaves at most 100 bytes after it and at most 155 before it.
  for (let i = Math.min(name.length - 2, 155); i > 0; i--) {
    if (name[i] === 0x2f && name.length - i - 1 <= 100 && name.length - i - 1 > 0) {
      return { prefix: name.subarray(0, i), rest: name.subarray(i + 1) };
    }
  }
  return undefined;
}

function isUtf8(b: Buffer): boolean {
  return Buffer.from(b.toString('utf8'), 'utf8').equals(b);
}

/**
 * The ustar block for `h`, preceded by a pax header when ustar cannot hold all of it (a long
 * name or link, a fractional mtime, a size of 8 GiB or more). Returns whole blocks.
 */
export function encodeHeader(h: TarHeader): Buffer {
  const nameBytes = Buffer.from(h.type === 'dir' ? `${h.name}/` : h.name, 'latin1');
  const linkBytes = Buffer.from(h.linkname, 'latin1');
  const split = splitUstar(nameBytes);
  const records: Buffer[] = [];
  if (split === undefined) records.push(paxRecord('path', nameBytes));
  if (linkBytes.length > 100) records.push(paxRecord('linkpath', linkBytes));
  if (h.size > octalMax(12)) records.push(paxRecord('size', Buffer.from(String(h.size))));
  const seconds = h.mtimeNs >= 0n ? h.mtimeNs / NS : -((-h.mtimeNs + NS - 1n) / NS);
  if (h.mtimeNs % NS !== 0n || seconds < 0n || seconds > BigInt(octalMax(12))) {
    records.push(paxRecord('mtime', Buffer.from(paxTime(h.mtimeNs), 'latin1')));
  }
  // pax says names are UTF-8; a name that is not is marked as raw bytes, as GNU tar does.
  if (
    (split === undefined && !isUtf8(nameBytes)) ||
    (linkBytes.length > 100 && !isUtf8(linkBytes))
  ) {
    records.unshift(paxRecord('hdrcharset', Buffer.from('BINARY')));
  }
  const main = ustarBlock({
    name: split === undefined ? nameBytes.subarray(0, 100) : split.rest,
    prefix: split === undefined ? Buffer.alloc(0) : split.prefix,
    typeflag: TYPE_FLAG[h.type],
    mode: h.mode,
    size: h.size,
    mtime: Number(seconds < 0n ? 0n : seconds > BigInt(octalMax(12)) ? 0n : seconds),
    linkname: linkBytes.subarray(0, 100),
  });
  if (records.length === 0) return main;
  const data = Buffer.concat(records);
  const paxName = Buffer.from(
    `PaxHeaders/${nameBytes.subarray(Math.max(0, nameBytes.length - 80)).toString('latin1')}`,
    'latin1',
  ).subarray(0, 100);
  const pax = ustarBlock({
    name: paxName,
    prefix: Buffer.alloc(0),
    typeflag: 0x78, // 'x'
    mode: 0o644,
    size: data.length,
    mtime: 0,
    linkname: Buffer.alloc(0),
  });
  return Buffer.concat([pax, data, Buffer.alloc(padding(data.length)), main]);
}

/** Zero bytes that bring `size` to a whole number of blocks. */
export function padding(size: number): number {
  const r = size % BLOCK;
  return r === 0 ? 0 : BLOCK - r;
}

function ustarBlock(f: {
  name: Buffer;
  prefix: Buffer;
  typeflag: number;
  mode: number;
  size: number;
  mtime: number;
  linkname: Buffer;
}): Buffer {
  const b = Buffer.alloc(BLOCK);
  f.name.copy(b, 0, 0, 100);
  writeOctal(b, f.mode & 0o7777, 100, 8);
  // Owner 0 with no names: root extracting gets files root owns, anyone else gets their own.
  writeOctal(b, 0, 108, 8);
  writeOctal(b, 0, 116, 8);
  if (f.size > octalMax(12)) writeBase256(b, f.size, 124, 12);
  else writeOctal(b, f.size, 124, 12);
  writeOctal(b, f.mtime, 136, 12);
  b[156] = f.typeflag;
  f.linkname.copy(b, 157, 0, 100);
  b.write('ustar\x0000', 257, 8, 'latin1');
  f.prefix.copy(b, 345, 0, 155);
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i] as number;
  b.write(`${sum.toString(8).padStart(6, '0')}\x00 `, 148, 8, 'latin1');
  return b;
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
  const text = b
    .toString('latin1', at, at + width)
    .replace(/[\0 ]+$/, '')
    .replace(/^[ ]+/, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text))
    throw new HeaderError(`${what} is not a number: ${JSON.stringify(text)}`);
  return Number.parseInt(text, 8);
}

/** True for a block of 512 zero bytes (two of them end an archive). */
export function isZeroBlock(b: Buffer): boolean {
  for (let i = 0; i < BLOCK; i += 8) {
    if (b.readBigUInt64LE(i) !== 0n) return false;
  }
  return true;
}

/** Parse one header block; throws HeaderError when its checksum or a number is wrong. */
export function decodeHeader(b: Buffer): RawHeader {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : (b[i] as number);
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  const want = readNumber(b, 148, 8, 'checksum');
  if (want !== unsigned && want !== signed) throw new HeaderError('bad header checksum');
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

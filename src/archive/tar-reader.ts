import { crc32 } from 'node:zlib';
import {
  BLOCK,
  decodeHeader,
  HeaderError,
  isZeroBlock,
  padding,
  parsePax,
  parsePaxTime,
  type MemberType,
  type TarHeader,
} from './tar-header.js';

/** Where a streaming tar reader hands the members, in archive order. */
export interface TarVisitor {
  /** A member begins; its data follows in `data` calls (none for a member of size 0). */
  entry(h: TarHeader): void;
  /** The next piece of the current member's data: a view, valid only during the call. */
  data(chunk: Buffer): void;
  /** The current member's data is complete. */
  endEntry(): void;
}

/** A stream that is not a tar archive, or a broken one; `offset` is where in the tar stream. */
export class TarFormatError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'TarFormatError';
  }
}

const TYPES: Record<string, MemberType> = {
  '0': 'file',
  '7': 'file', // contiguous file: a regular file everywhere that matters
  '1': 'hardlink',
  '2': 'symlink',
  '5': 'dir',
};

/** Names of what the reader refuses, for messages. */
const REFUSED: Record<string, string> = {
  '3': 'a character device',
  '4': 'a block device',
  '6': 'a FIFO',
  S: 'a GNU sparse file',
  M: 'a multi-volume continuation',
  V: 'a volume label',
  D: 'a GNU incremental dump folder',
};

/** Metadata members hold at most this much (a long name, a few pax records). */
const MAX_META = 1 << 20;

type State = 'header' | 'meta' | 'data' | 'pad' | 'end';

/**
 * A push parser for tar streams: feed it chunks (`push`), and it calls the visitor for each
 * member with views of the chunks, holding nothing but a partial header between two chunks.
 * pax headers (local; global ones may only hold keys that change nothing here) and GNU long
 * names are applied to the member that follows them. It keeps a CRC-32 of every byte it has
 * read, and `entryCrc`/`entryOffset` say what it was where the current member's headers began:
 * the archive's trailer proves the stream up to there (see manifest.ts).
 */
export class TarReader {
  private state: State = 'header';
  private pending = Buffer.alloc(0);
  private left = 0;
  private metaFlag = '';
  private meta: Buffer[] = [];
  private pax = new Map<string, Buffer>();
  private longName: Buffer | undefined;
  private longLink: Buffer | undefined;
  private zeroBlocks = 0;
  private sequenceStarted = false;
  /** The CRC-32 of the stream's first `crcTo` bytes. */
  private crc = 0;
  private crcTo = 0;
  /** The chunk in hand, and where its first byte is in the stream. */
  private chunk: Buffer = Buffer.alloc(0);
  private chunkAt = 0;
  /** entryCrc is still to be computed (from the chunk in hand, up to entryOffset). */
  private entryLazy = false;
  private entryCrcValue = 0;
  /** Bytes of the tar stream consumed so far. */
  offset = 0;
  /**
   * Whether to keep the CRC: a visitor turns it off once it knows no trailer will ask (an archive
   * whose first member is not a manifest), which spares a pass over every byte.
   */
  digesting = true;
  /** The offset of the stream where the current member's first header block began. */
  entryOffset = 0;

  constructor(private readonly visitor: TarVisitor) {}

  /** The CRC-32 of the stream before the current member's first header block. */
  get entryCrc(): number {
    this.settleEntry();
    return this.entryCrcValue;
  }

  /**
   * The CRC is computed over whole chunks, at the end of each push, not over each piece as it is
   * consumed: 5 calls per member cost more than the bytes (about 60 ms at 30,000 members). Where
   * a member began inside the chunk in hand, its CRC is computed up to there first.
   */
  private settleEntry(): void {
    if (!this.entryLazy) return;
    this.entryLazy = false;
    if (this.digesting) {
      const from = this.crcTo - this.chunkAt;
      this.crc = crc32(this.chunk.subarray(from, this.entryOffset - this.chunkAt), this.crc);
    }
    this.crcTo = this.entryOffset;
    this.entryCrcValue = this.crc;
  }

  /** Feed the next chunk of the tar stream. */
  push(chunk: Buffer): void {
    this.chunk = chunk;
    // A header begun in the chunk before waits in `pending`, not consumed yet.
    this.chunkAt = this.offset + this.pending.length;
    this.read(chunk);
    this.settleEntry();
    if (this.digesting && this.offset > this.crcTo) {
      this.crc = crc32(
        chunk.subarray(this.crcTo - this.chunkAt, this.offset - this.chunkAt),
        this.crc,
      );
    }
    this.crcTo = this.offset;
  }

  private read(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.state === 'data') {
        const n = Math.min(this.left, chunk.length - at);
        const piece = chunk.subarray(at, at + n);
        this.consume(piece);
        this.left -= n;
        at += n;
        this.visitor.data(piece);
        if (this.left === 0) this.finishData();
        continue;
      }
      if (this.state === 'pad') {
        const n = Math.min(this.left, chunk.length - at);
        this.consume(chunk.subarray(at, at + n));
        this.left -= n;
        at += n;
        if (this.left === 0) this.state = 'header';
        continue;
      }
      if (this.state === 'meta') {
        const n = Math.min(this.left, chunk.length - at);
        const piece = chunk.subarray(at, at + n);
        this.consume(piece);
        this.meta.push(Buffer.from(piece));
        this.left -= n;
        at += n;
        if (this.left === 0) this.finishMeta();
        continue;
      }
      if (this.state === 'end') {
        // After the two zero blocks: only padding to the record size may follow.
        const rest = chunk.subarray(at);
        for (const b of rest) {
          if (b !== 0) throw new TarFormatError('data after the end of the archive', this.offset);
        }
        this.consume(rest);
        return;
      }
      // A header block, possibly split across chunks.
      let block: Buffer;
      if (this.pending.length > 0 || chunk.length - at < BLOCK) {
        const need = BLOCK - this.pending.length;
        const take = chunk.subarray(at, at + need);
        this.pending = Buffer.concat([this.pending, take]);
        at += take.length;
        if (this.pending.length < BLOCK) return;
        block = this.pending;
        this.pending = Buffer.alloc(0);
        // Not a view of the chunk in hand: its CRC is computed here. It is the first thing this
        // chunk consumes, and the CRC is computed up to its first byte.
        if (!this.sequenceStarted) {
          this.entryOffset = this.offset;
          this.entryLazy = false;
          this.entryCrcValue = this.crc;
        }
        if (this.digesting) this.crc = crc32(block, this.crc);
        this.crcTo = this.offset + BLOCK;
        this.header(block, true);
      } else {
        block = chunk.subarray(at, at + BLOCK);
        at += BLOCK;
        this.header(block, false);
      }
    }
  }

  /** The stream ended: throws when it ended inside a member or before the end-of-archive blocks. */
  end(): void {
    if (this.state === 'end') return;
    if (this.state !== 'header' || this.pending.length > 0) {
      throw new TarFormatError('the archive is truncated: it ends inside a member', this.offset);
    }
    throw new TarFormatError(
      "the archive is truncated: it ends without tar's end-of-archive blocks",
      this.offset,
    );
  }

  /** True once the end-of-archive blocks have been read. */
  get ended(): boolean {
    return this.state === 'end';
  }

  private consume(b: Buffer): void {
    this.offset += b.length;
  }

  /** A header block: `split` when it came in two chunks (its CRC already computed). */
  private header(block: Buffer, split: boolean): void {
    const at = this.offset;
    if (!this.sequenceStarted && !split) {
      // Settled at the end of this push, or when asked.
      this.entryOffset = at;
      this.entryLazy = true;
    }
    this.consume(block);
    if (isZeroBlock(block)) {
      if (this.sequenceStarted)
        throw new TarFormatError('a zero block after a pax or long-name header', at);
      this.zeroBlocks++;
      if (this.zeroBlocks === 2) this.state = 'end';
      return;
    }
    if (this.zeroBlocks > 0) throw new TarFormatError('a lone zero block inside the archive', at);
    let raw;
    try {
      raw = decodeHeader(block);
    } catch (err) {
      if (err instanceof HeaderError) {
        throw new TarFormatError(
          at === 0 ? `not a tar archive (${err.message})` : `corrupt header: ${err.message}`,
          at,
        );
      }
      throw err;
    }
    const { flag } = raw;
    if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
      if (raw.size > MAX_META)
        throw new TarFormatError(`a ${flag} header of ${raw.size} bytes`, at);
      this.sequenceStarted = true;
      this.metaFlag = flag;
      this.meta = [];
      this.left = raw.size + padding(raw.size);
      this.metaSize = raw.size;
      this.state = 'meta';
      if (this.left === 0) this.finishMeta();
      return;
    }
    const type = TYPES[flag];
    if (type === undefined) {
      const what = REFUSED[flag] ?? `an unknown member type ${JSON.stringify(flag)}`;
      throw new RefusedTypeError(
        `${what}`,
        at,
        (this.pax.get('path') ?? this.longName ?? raw.name).toString('latin1'),
      );
    }
    let name = this.pax.get('path') ?? this.longName ?? raw.name;
    const linkname = this.pax.get('linkpath') ?? this.longLink ?? raw.linkname;
    let size = raw.size;
    const paxSize = this.pax.get('size');
    if (paxSize !== undefined) {
      const n = Number(paxSize.toString('latin1'));
      if (!Number.isSafeInteger(n) || n < 0) throw new TarFormatError('bad pax size', at);
      size = n;
    }
    let mtimeNs = BigInt(raw.mtime) * 1_000_000_000n;
    const paxMtime = this.pax.get('mtime');
    if (paxMtime !== undefined) {
      try {
        mtimeNs = parsePaxTime(paxMtime.toString('latin1'));
      } catch (err) {
        if (err instanceof HeaderError) throw new TarFormatError(err.message, at);
        throw err;
      }
    }
    this.pax = new Map();
    this.longName = undefined;
    this.longLink = undefined;
    this.sequenceStarted = false;
    // A directory's name ends with `/` (some writers also mark it so as a regular file).
    let t = type;
    if (name.length > 0 && name[name.length - 1] === 0x2f) {
      if (t === 'file' && size === 0) t = 'dir';
      while (name.length > 1 && name[name.length - 1] === 0x2f) name = name.subarray(0, -1);
    }
    if (t !== 'file' && size !== 0) {
      throw new RefusedTypeError(
        `a ${t} member that carries ${size} bytes of data`,
        at,
        name.toString('latin1'),
      );
    }
    this.visitor.entry({
      name: name.toString('latin1'),
      type: t,
      mode: raw.mode,
      size,
      mtimeNs,
      linkname: t === 'hardlink' || t === 'symlink' ? linkname.toString('latin1') : '',
    });
    if (size === 0) {
      this.visitor.endEntry();
      return;
    }
    this.left = size;
    this.dataPad = padding(size);
    this.state = 'data';
  }

  private metaSize = 0;
  private dataPad = 0;

  private finishData(): void {
    this.visitor.endEntry();
    this.left = this.dataPad;
    this.state = this.left === 0 ? 'header' : 'pad';
  }

  private finishMeta(): void {
    const data = Buffer.concat(this.meta).subarray(0, this.metaSize);
    this.meta = [];
    this.state = 'header';
    const at = this.offset;
    if (this.metaFlag === 'L' || this.metaFlag === 'K') {
      const nul = data.indexOf(0);
      const value = Buffer.from(nul === -1 ? data : data.subarray(0, nul));
      if (this.metaFlag === 'L') this.longName = value;
      else this.longLink = value;
      return;
    }
    let records: Map<string, Buffer>;
    try {
      records = parsePax(data);
    } catch (err) {
      if (err instanceof HeaderError) throw new TarFormatError(err.message, at);
      throw err;
    }
    for (const key of records.keys()) {
      if (key.startsWith('GNU.sparse.')) {
        throw new RefusedTypeError(
          'a GNU sparse file',
          at,
          (records.get('path') ?? Buffer.alloc(0)).toString('latin1'),
        );
      }
    }
    if (this.metaFlag === 'g') {
      // A global header applies to every member after it. Only the keys that change nothing
      // here (times of access and change, owners, comments) are accepted there.
      for (const key of records.keys()) {
        if (['path', 'linkpath', 'size'].includes(key)) {
          throw new TarFormatError(`a global pax header that sets ${key} for every member`, at);
        }
      }
      this.sequenceStarted = false;
      return;
    }
    for (const [k, v] of records) this.pax.set(k, v);
  }
}

/** A member of a type that is never extracted (a device, a FIFO, a sparse file…). */
export class RefusedTypeError extends TarFormatError {
  constructor(
    what: string,
    offset: number,
    /** The member's name (byte string). */
    readonly member: string,
  ) {
    super(what, offset);
    this.name = 'RefusedTypeError';
  }
}

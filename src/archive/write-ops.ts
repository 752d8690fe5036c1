/**
 * The regular files of an extraction, as a list of operations in a byte buffer: the main thread
 * encodes them (OpEncoder) while it reads and checks the archive, and a writing thread
 * (write-worker.ts) writes them (applyOps). Or the main thread does, where no thread can start.
 * Every name was checked by member-checks.ts before it was encoded. Batches may be written in
 * any order by any writer (tree-writer.ts), so a folder is made as `mkdir -p` makes it, by
 * whichever operation needs it first: its own MKDIR, or a file below it. No symlink exists yet
 * that a name could go through: links are made once every operation before them is done, and
 * member-checks.ts refuses a later name through one. Files are still created with
 * O_EXCL|O_NOFOLLOW, so that nothing is written through a link.
 *
 * Layout of one operation (little-endian; names are byte strings, one char per byte):
 *
 *   MKDIR   op u8, 0 u8, nameLen u16, name                           (mode 0700, set at the end)
 *   FILE    op u8, flags u8, nameLen u16, mode u32, mtime f64, dataLen u32, name, data
 *   OPEN    op u8, flags u8, nameLen u16, mode u32, mtime f64, name
 *   DATA    op u8, 0 u8, 0 u16, dataLen u32, data                     (to the open file)
 *   CLOSE   op u8, 0 u8, 0 u16                                       (sets mode and times)
 *
 * A file too large for one buffer is an OPEN, DATA in as many buffers as it takes, and a CLOSE:
 * such buffers must go to the same writer, in order (OpEncoder says which do).
 */
import { fs } from '../core/fs.js';
import { fsPath, type ByteString } from '../core/path-boundary.js';
import { appendAll } from './append-all.js';

export const OP = {
  FILE: 1,
  OPEN: 2,
  DATA: 3,
  CLOSE: 4,
  MKDIR: 5,
} as const;

/** FILE, OPEN: set the mode with fchmod too (the umask would take bits off it). */
export const CHMOD = 2;

/** Bytes of an operation before its name: op, flags, name length. */
const HEAD = 4;
/** FILE and OPEN: mode and mtime after the head. */
const FILE_HEAD = HEAD + 4 + 8;

/** One failed call, as the writing thread reports it. */
export interface OpFailure {
  readonly code: string | undefined;
  readonly message: string;
  /** The member's name below the destination. */
  readonly rel: ByteString;
}

/** The error a failed call threw, kept with its errno for the caller's message. */
export class WriteOpError extends Error {
  constructor(
    readonly code: string | undefined,
    message: string,
    readonly rel: ByteString,
  ) {
    super(message);
    this.name = 'WriteOpError';
  }
}

/**
 * Fills batch buffers with operations; `full` takes each buffer once no more fit, with
 * `continued`: the buffer ends inside a file (OPEN without its CLOSE), and the next must go where
 * this one goes.
 */
export class OpEncoder {
  private buf: Buffer;
  private used = 0;
  /** Inside a file: after an OPEN, before its CLOSE. */
  private inFile = false;

  constructor(
    private readonly take: () => Buffer,
    private readonly full: (buf: Buffer, used: number, continued: boolean) => void,
  ) {
    this.buf = take();
  }

  /** Hand the operations so far over, whatever the fill. */
  flush(): void {
    if (this.used === 0) return;
    this.full(this.buf, this.used, this.inFile);
    this.buf = this.take();
    this.used = 0;
  }

  private room(n: number): number {
    if (this.used + n > this.buf.length) this.flush();
    return this.used;
  }

  /** A folder (and any of its parents not made yet). */
  mkdir(rel: ByteString): void {
    const at = this.room(HEAD + rel.length);
    this.head(at, OP.MKDIR, 0, rel.length);
    this.used = at + HEAD + this.buf.write(rel, at + HEAD, 'latin1');
  }

  /** A regular file with all its data (a FILE, or OPEN, DATA... and CLOSE when it is large). */
  file(rel: ByteString, mode: number, mtime: number, chmod: boolean, data: Uint8Array): void {
    const n = FILE_HEAD + rel.length + 4 + data.length;
    if (n <= this.buf.length - this.used || n <= this.buf.length >> 2) {
      const at = this.room(n);
      this.head(at, OP.FILE, chmod ? CHMOD : 0, rel.length);
      this.buf.writeUInt32LE(mode, at + HEAD);
      this.buf.writeDoubleLE(mtime, at + HEAD + 4);
      this.buf.writeUInt32LE(data.length, at + FILE_HEAD);
      const name = at + FILE_HEAD + 4;
      this.buf.write(rel, name, 'latin1');
      this.buf.set(data, name + rel.length);
      this.used = at + n;
      return;
    }
    this.open(rel, mode, mtime, chmod);
    this.data(data);
    this.close();
  }

  open(rel: ByteString, mode: number, mtime: number, chmod: boolean): void {
    const at = this.room(FILE_HEAD + rel.length);
    this.head(at, OP.OPEN, chmod ? CHMOD : 0, rel.length);
    this.buf.writeUInt32LE(mode, at + HEAD);
    this.buf.writeDoubleLE(mtime, at + HEAD + 4);
    this.used = at + FILE_HEAD + this.buf.write(rel, at + FILE_HEAD, 'latin1');
    this.inFile = true;
  }

  /** Data for the file OPEN began: split over as many operations as the buffers need. */
  data(data: Uint8Array): void {
    let off = 0;
    while (off < data.length) {
      // Room for a head and a useful piece, else the next buffer.
      const at = this.room(HEAD + 4 + Math.min(4096, data.length - off));
      const n = Math.min(data.length - off, this.buf.length - at - HEAD - 4);
      this.head(at, OP.DATA, 0, 0);
      this.buf.writeUInt32LE(n, at + HEAD);
      this.buf.set(data.subarray(off, off + n), at + HEAD + 4);
      this.used = at + HEAD + 4 + n;
      off += n;
    }
  }

  close(): void {
    const at = this.room(HEAD);
    this.head(at, OP.CLOSE, 0, 0);
    this.used = at + HEAD;
    this.inFile = false;
  }

  private head(at: number, op: number, flags: number, nameLen: number): void {
    this.buf[at] = op;
    this.buf[at + 1] = flags;
    this.buf.writeUInt16LE(nameLen, at + 2);
  }
}

/** What applyOps keeps between buffers: the file a large member is being written to. */
export interface OpState {
  fd: number;
  rel: ByteString;
  mode: number;
  mtime: number;
  chmod: boolean;
}

export function freshOpState(): OpState {
  return { fd: -1, rel: '', mode: 0, mtime: 0, chmod: false };
}

const CREATE_FLAGS =
  fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;

/**
 * Make the calls `buf[0, used)` holds, below `into` (absolute, byte string), in order. Throws
 * WriteOpError naming the member whose call failed; `stop` is asked between operations.
 */
export function applyOps(
  into: ByteString,
  buf: Buffer,
  used: number,
  st: OpState,
  stop: () => boolean = () => false,
): void {
  let at = 0;
  let rel = '';
  try {
    while (at < used) {
      if (stop()) return;
      const op = buf[at] as number;
      const flags = buf[at + 1] as number;
      const nameLen = buf.readUInt16LE(at + 2);
      switch (op) {
        case OP.FILE:
        case OP.OPEN: {
          st.mode = buf.readUInt32LE(at + HEAD);
          st.mtime = buf.readDoubleLE(at + HEAD + 4);
          st.chmod = (flags & CHMOD) !== 0;
          let name = at + FILE_HEAD;
          let len = 0;
          if (op === OP.FILE) {
            len = buf.readUInt32LE(name);
            name += 4;
          }
          rel = buf.toString('latin1', name, name + nameLen);
          st.rel = rel;
          st.fd = create(into, rel, st.mode);
          at = name + nameLen;
          if (op === OP.FILE) {
            if (len > 0) appendAll(st.fd, buf.subarray(at, at + len));
            at += len;
            finishFile(st);
          }
          break;
        }
        case OP.DATA: {
          rel = st.rel;
          const len = buf.readUInt32LE(at + HEAD);
          appendAll(st.fd, buf.subarray(at + HEAD + 4, at + HEAD + 4 + len));
          at += HEAD + 4 + len;
          break;
        }
        case OP.CLOSE:
          rel = st.rel;
          at += HEAD;
          finishFile(st);
          break;
        case OP.MKDIR:
          rel = buf.toString('latin1', at + HEAD, at + HEAD + nameLen);
          at += HEAD + nameLen;
          makeFolder(into, rel);
          break;
        default:
          throw new Error(`unknown write operation ${op} at byte ${at}`);
      }
    }
  } catch (err) {
    closeOpenFile(st);
    const code = (err as { code?: unknown }).code;
    throw new WriteOpError(
      typeof code === 'string' ? code : undefined,
      (err as Error).message,
      rel,
    );
  }
}

/** `mkdir -p` below `into`: what exists already (made by another writer, or for a file) is fine. */
export function makeFolder(into: ByteString, rel: ByteString): void {
  fs.mkdirSync(fsPath(`${into}/${rel}`), { recursive: true, mode: 0o700 });
}

/** Create a file, and its folder first when no writer made it yet. */
function create(into: ByteString, rel: ByteString, mode: number): number {
  const p = fsPath(`${into}/${rel}`);
  try {
    return fs.openSync(p, CREATE_FLAGS, mode & 0o777);
  } catch (err) {
    const slash = rel.lastIndexOf('/');
    if ((err as { code?: unknown }).code !== 'ENOENT' || slash === -1) throw err;
    makeFolder(into, rel.slice(0, slash));
    return fs.openSync(p, CREATE_FLAGS, mode & 0o777);
  }
}

/** Times, then the mode where the umask took bits off, then close. */
function finishFile(st: OpState): void {
  const fd = st.fd;
  st.fd = -1;
  try {
    fs.futimesSync(fd, st.mtime, st.mtime);
    if (st.chmod) fs.fchmodSync(fd, st.mode);
  } finally {
    fs.closeSync(fd);
  }
}

/** Close a file left open by a failure or a stop. */
export function closeOpenFile(st: OpState): void {
  if (st.fd === -1) return;
  try {
    fs.closeSync(st.fd);
  } catch {
    // already closed
  }
  st.fd = -1;
}

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { unreadableError, VenvToolsError } from '../core/errors.js';
import { fs } from '../core/fs.js';
import { formatFromMagic, type ArchiveFormat } from './archive-format.js';
import type { OutputOptions } from './archive-output.js';
import { findZstd, wasmZstd } from './find-zstd.js';

/** An archive opened for reading: its format, and its tar stream as chunks. */
export interface ArchiveInput {
  readonly format: ArchiveFormat;
  readonly codec: string;
  /** Bytes of the archive file. */
  readonly size: number;
  /** The decompressed tar stream. Each chunk is valid until the next is asked for. */
  readonly chunks: AsyncIterable<Buffer>;
  /** Stop reading (a refused member): end the decompressor. */
  close(): void;
}

const CHUNK = 1 << 20;

/** The archive is broken below the tar level: a compressed stream that does not decompress. */
export class CorruptStreamError extends Error {}

/**
 * Open `file` and recognise its format by its first bytes (magic-bytes.js, and zstd's frame
 * magic, which it does not know), never by its name.
 */
export async function openArchiveInput(
  file: string,
  shown: string,
  opts: OutputOptions = {},
): Promise<ArchiveInput> {
  let fd: number;
  let size: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY);
    const st = fs.fstatSync(fd);
    if (!st.isFile()) {
      fs.closeSync(fd);
      throw new VenvToolsError('BAD_ARCHIVE', `${shown} is not a file; name an archive`, shown);
    }
    size = st.size;
  } catch (err) {
    if (err instanceof VenvToolsError) throw err;
    throw unreadableError(shown, err, 'check the path and its permissions');
  }
  const head = Buffer.alloc(1024);
  const n = fs.readSync(fd, head, 0, head.length, 0);
  const found = formatFromMagic(head.subarray(0, n));
  // A tar without ustar's magic (v7) is still tried as tar: its header checksum decides.
  const format: ArchiveFormat =
    found === 'tar.gz' || found === 'tar.zst' || found === 'tar' ? found : 'tar';
  if (found !== undefined && found !== format) {
    fs.closeSync(fd);
    throw new VenvToolsError(
      'BAD_ARCHIVE',
      `${shown} is ${/^[aeiou]/.test(found) ? 'an' : 'a'} ${found} file, not an archive venv-tools reads (tar, tar.gz or tar.zst); unpack it with the tool that made it`,
      shown,
    );
  }
  if (format === 'tar') {
    const reader = fileChunks(fd, shown);
    return { format, codec: 'none', size, chunks: reader.chunks, close: reader.close };
  }
  const program = format === 'tar.zst' && opts.zstd !== 'wasm' ? findZstd(opts.path) : undefined;
  if (program !== undefined) return zstdProgramInput(program, fd, size);
  if (format === 'tar.zst' && opts.zstd === 'program') {
    fs.closeSync(fd);
    throw new VenvToolsError(
      'UNSUPPORTED',
      'the zstd program is not on PATH; install it (Debian: apt-get install zstd) or let venv-tools use its own codec',
    );
  }
  const source = createReadStream('', { fd, highWaterMark: CHUNK, start: 0 });
  // zstd-codec's heap is 16 MiB: it takes chunks of 1 MiB at most, as the read stream gives.
  const t =
    format === 'tar.gz'
      ? createGunzip({ chunkSize: 1 << 18 })
      : new (await wasmZstd()).ZstdDecompressTransform();
  source.on('error', (err) => t.destroy(err));
  source.pipe(t);
  return {
    format,
    codec: format === 'tar.gz' ? 'zlib' : 'zstd-codec (WASM)',
    size,
    chunks: streamChunks(t, () => undefined),
    close: () => {
      source.destroy();
      t.destroy();
    },
  };
}

/**
 * The file's bytes in chunks of 1 MiB, read here, into one buffer (a chunk is valid until the
 * next is asked for). The files are written by other threads (tree-writer.ts), so this thread
 * has the time: waiting for the thread pool's read of each MiB cost it 330-370 ms on the 1x
 * venv, the reads themselves about 100 ms. And a read stream's new buffer for every MiB made V8
 * collect its whole heap every 64 MiB or so, for the memory outside it (docs/PERFORMANCE.md).
 */
function fileChunks(fd: number, shown: string): { chunks: AsyncIterable<Buffer>; close(): void } {
  let closed = false;
  const closeFd = () => {
    if (closed) return;
    closed = true;
    fs.closeSync(fd);
  };
  async function* chunks(): AsyncGenerator<Buffer> {
    const buf = Buffer.allocUnsafeSlow(CHUNK);
    let pos = 0;
    try {
      for (;;) {
        if (closed) return;
        let n: number;
        try {
          n = fs.readSync(fd, buf, 0, buf.length, pos);
        } catch (err) {
          throw unreadableError(shown, err, 'check the path and its permissions');
        }
        if (n === 0) return;
        pos += n;
        yield buf.subarray(0, n);
      }
    } finally {
      closeFd();
    }
  }
  return { chunks: chunks(), close: closeFd };
}

async function* streamChunks(
  r: Readable,
  after: () => Promise<void> | undefined,
  shown?: string,
): AsyncGenerator<Buffer> {
  try {
    for await (const c of r) yield c as Buffer;
  } catch (err) {
    if (err instanceof VenvToolsError) throw err;
    // Reading the file itself failed (EIO…); a decompressor's failure is a corrupt stream.
    if (shown !== undefined)
      throw unreadableError(shown, err, 'check the path and its permissions');
    throw new CorruptStreamError((err as Error).message);
  }
  await after();
}

/** Through the zstd program, reading the file itself; a non-zero exit is a corrupt stream. */
function zstdProgramInput(program: string, fd: number, size: number): ArchiveInput {
  const child = spawn(program, ['-d', '-c', '-q'], { stdio: [fd, 'pipe', 'pipe'] });
  fs.closeSync(fd);
  const stderr: Buffer[] = [];
  (child.stderr as Readable).on('data', (b: Buffer) => stderr.push(b));
  const exited = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
  let killed = false;
  return {
    format: 'tar.zst',
    codec: `zstd (${program})`,
    size,
    chunks: streamChunks(child.stdout as Readable, async () => {
      const [code, signal] = await exited;
      if (code !== 0 && !killed) {
        const said = Buffer.concat(stderr).toString('utf8').trim();
        throw new CorruptStreamError(
          `zstd exited with ${signal ?? code}${said ? `: ${said}` : ''}`,
        );
      }
    }),
    close: () => {
      killed = true;
      child.kill('SIGKILL');
    },
  };
}

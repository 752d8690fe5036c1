import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Readable, Transform, Writable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { errnoOf, VenvToolsError } from '../core/errors.js';
import { appendAll } from './append-all.js';
import type { ArchiveFormat } from './archive-format.js';
import { findZstd, wasmZstd } from './find-zstd.js';
import type { ByteOutput } from './tar-writer.js';

/** How zstd is done: the `zstd` program when it is on PATH, else the WASM codec (or forced). */
export type ZstdChoice = 'auto' | 'program' | 'wasm';

export interface OutputOptions {
  readonly zstd?: ZstdChoice;
  /** PATH to look for `zstd` on. */
  readonly path?: string;
}

function failed(shown: string, why: string): VenvToolsError {
  return new VenvToolsError(
    'WRITE_FAILED',
    `cannot write ${shown}: ${why}. Nothing was left there; fix the cause and pack again.`,
    shown,
  );
}

/**
 * An output for `format` into the open file `fd`: the tar bytes as they are, through Node's
 * gzip, or through zstd (the program on PATH at its default level 3, as `tar --zstd` runs it,
 * or the WASM codec). `shown` names the file in messages.
 */
export async function openArchiveOutput(
  fd: number,
  shown: string,
  format: ArchiveFormat,
  opts: OutputOptions = {},
): Promise<ByteOutput & { readonly codec: string }> {
  if (format === 'tar') {
    return {
      codec: 'none',
      reuses: true,
      write: (chunk) => {
        try {
          appendAll(fd, chunk);
        } catch (err) {
          throw failed(shown, errnoOf(err) ?? (err as Error).message);
        }
      },
      ready: () => undefined,
      finish: async () => undefined,
      abort: () => undefined,
    };
  }
  const program = opts.zstd === 'wasm' ? undefined : findZstd(opts.path);
  if (format === 'tar.zst' && program !== undefined) return zstdProgram(program, fd, shown);
  if (format === 'tar.zst' && opts.zstd === 'program') {
    throw new VenvToolsError(
      'UNSUPPORTED',
      'the zstd program is not on PATH; install it (Debian: apt-get install zstd) or let venv-tools use its own codec',
    );
  }
  const t: Transform =
    format === 'tar.gz'
      ? createGzip({ level: 6, chunkSize: 1 << 17 })
      : new (await wasmZstd()).ZstdCompressTransform(3);
  return transformOutput(t, fd, shown, format === 'tar.gz' ? 'zlib' : 'zstd-codec (WASM)');
}

/** Through a Node transform (gzip, or the WASM zstd): its output is written to the file as it comes. */
function transformOutput(
  t: Transform,
  fd: number,
  shown: string,
  codec: string,
): ByteOutput & { readonly codec: string } {
  let error: Error | undefined;
  let full = false;
  t.on('data', (c: Buffer) => {
    try {
      appendAll(fd, c);
    } catch (err) {
      error ??= err as Error;
      t.destroy();
    }
  });
  t.on('error', (err) => {
    error ??= err;
  });
  const check = () => {
    if (error !== undefined) throw failed(shown, errnoOf(error) ?? error.message);
  };
  return {
    codec,
    write(chunk) {
      check();
      if (!t.write(chunk)) full = true;
    },
    ready() {
      check();
      if (!full) return undefined;
      full = false;
      return once(t, 'drain').then(() => undefined);
    },
    async finish() {
      check();
      t.end();
      await once(t, 'end').catch(() => undefined);
      check();
    },
    abort() {
      t.destroy();
    },
  };
}

/** Through the zstd program, which writes the file itself. */
function zstdProgram(
  program: string,
  fd: number,
  shown: string,
): ByteOutput & { readonly codec: string } {
  const child = spawn(program, ['-q', '-c', '-3'], { stdio: ['pipe', fd, 'pipe'] });
  const stdin = child.stdin as Writable;
  const stderr: Buffer[] = [];
  (child.stderr as Readable).on('data', (b: Buffer) => stderr.push(b));
  let error: Error | undefined;
  child.on('error', (err) => {
    error ??= err;
  });
  stdin.on('error', (err) => {
    error ??= err;
  });
  const exited = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
  let full = false;
  const check = () => {
    if (error !== undefined) {
      const said = Buffer.concat(stderr).toString('utf8').trim();
      throw failed(shown, `zstd failed (${said || errnoOf(error) || error.message})`);
    }
  };
  return {
    codec: `zstd (${program})`,
    write(chunk) {
      check();
      if (!stdin.write(chunk)) full = true;
    },
    ready() {
      check();
      if (!full) return undefined;
      full = false;
      return Promise.race([once(stdin, 'drain'), exited]).then(() => check());
    },
    async finish() {
      check();
      stdin.end();
      const [code, signal] = await exited;
      check();
      if (code !== 0) {
        const said = Buffer.concat(stderr).toString('utf8').trim();
        throw failed(shown, `zstd exited with ${signal ?? code}${said ? `: ${said}` : ''}`);
      }
    },
    abort() {
      child.kill('SIGKILL');
    },
  };
}

import { delimiter, join } from 'node:path';
import { fs } from '../core/fs.js';

/**
 * The `zstd` program on PATH, or undefined. Spawning it beats any codec inside Node: it runs on
 * a core of its own, and it decompresses a venv's archive 2-5 times faster than the WASM codec
 * (docs/PERFORMANCE.md, "pack and unpack").
 */
export function findZstd(path: string | undefined): string | undefined {
  for (const dir of (path ?? '').split(delimiter)) {
    if (dir === '') continue;
    const p = join(dir, 'zstd');
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** zstd-codec's streaming transforms (WebAssembly), for machines without the zstd program. */
export interface WasmZstd {
  ZstdCompressTransform: new (level: number) => import('node:stream').Transform;
  ZstdDecompressTransform: new () => import('node:stream').Transform;
}

let wasm: Promise<WasmZstd> | undefined;

/** Load the WASM codec once (it compiles its module when first asked). */
export function wasmZstd(): Promise<WasmZstd> {
  // A CommonJS package whose WebAssembly is inlined in its JavaScript. The command's ES bundle
  // imports it from node_modules when asked (scripts/bundle.mjs keeps it external); the single
  // executable's bundle holds it, which needs the import's name written out here.
  wasm ??= import('zstd-codec/lib/zstd-stream.js').then(
    (mod) => new Promise<WasmZstd>((resolve) => (mod.default ?? mod).run(resolve)),
  );
  return wasm;
}

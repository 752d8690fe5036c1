/** The one module of zstd-codec (no types of its own) that find-zstd.ts loads. */
declare module 'zstd-codec/lib/zstd-stream.js' {
  import type { Transform } from 'node:stream';
  interface Streams {
    ZstdCompressTransform: new (level: number) => Transform;
    ZstdDecompressTransform: new () => Transform;
  }
  /** Calls `f` once the WebAssembly module is ready. */
  export function run(f: (streams: Streams) => void): void;
  const mod: { run: typeof run };
  export default mod;
}

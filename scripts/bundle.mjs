// Bundle the command (dist/bin/venv-tools.js) and its two worker threads (dist/bin/plan-worker.js,
// which plans a relocation, and dist/bin/write-worker.js, which writes an extracted tree) into one
// file each, from tsc's output (`npm run build` runs this after tsc).
//
// Why: Node 20 loads an ES module graph file by file. The command's ~50 modules took 55-80 ms of
// a run before any work began, and the planning thread, which loads most of them again in its
// own isolate, booted in 105-195 ms instead of 65-85 ms (docs/PERFORMANCE.md). The library
// (dist/src) stays unbundled; its plan-files.js starts dist/src/relocate/plan-worker.js, and the
// bundled command starts the bundled worker beside it (the same `./plan-worker.js` next to the
// code that starts it).
//
// yargs and chalk stay outside: only some commands load them, when they run. Source maps chain
// to the TypeScript sources through tsc's own maps.
import { build } from 'esbuild';
import { chmodSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const dist = join(root, 'dist');

// Chunks and lazily loaded parts are named by a hash of their content: those of earlier builds
// would pile up beside the new.
for (const name of readdirSync(join(dist, 'bin'))) {
  if (/^[\w.-]+-[A-Z0-9]{8}\.js(\.map)?$/.test(name)) rmSync(join(dist, 'bin', name));
}

await build({
  entryPoints: {
    'venv-tools': join(dist, 'bin', 'venv-tools.js'),
    'plan-worker': join(dist, 'src', 'relocate', 'plan-worker.js'),
    'write-worker': join(dist, 'src', 'archive', 'write-worker.js'),
  },
  outdir: join(dist, 'bin'),
  // Code that only some commands run (and yargs, which they import) is split into chunks loaded
  // when they run; code both entries use is in shared chunks.
  splitting: true,
  // Beside the entries: the code that starts the worker finds ./plan-worker.js next to itself.
  chunkNames: '[name]-[hash]',
  allowOverwrite: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // zstd-codec loads its WebAssembly beside itself, and only when the zstd program is missing.
  external: ['yargs', 'yargs/*', 'chalk', 'zstd-codec', 'zstd-codec/*'],
  sourcemap: true,
  logLevel: 'warning',
});
chmodSync(join(dist, 'bin', 'venv-tools.js'), 0o755);

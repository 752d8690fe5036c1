// Build the single executable: dist/bin/venv-tools-linux-x64 (or -linux-arm64), one file that
// runs where no Node is installed, and an xz-compressed copy beside it (`npm run build:binary`,
// which runs `npm run build` first: this bundles what that built).
//
//   node scripts/build-binary.mjs [--node PATH] [--strip PATH] [--out DIR] [--no-xz]
//
// --node   the Node binary to build on: the machine's by default. Its platform is the binary's
//          (read from its ELF header), so a linux-arm64 node gives venv-tools-linux-arm64. It is
//          also run, to make the blob it will carry: a blob must come from the very Node it is
//          injected into. A foreign node runs through qemu-user (binfmt), or build on that
//          platform. What it can do is found out from the binary itself, never from its version.
// --strip  the strip program for that platform: `strip` for this machine's, else the GNU
//          cross one (aarch64-linux-gnu-strip from binutils-aarch64-linux-gnu).
// --out    where to write the binary (dist/bin).
// --no-xz  no compressed copy (xz takes a minute or two).
//
// How (Node's Single Executable Applications, on Node 20):
// - The command and its two worker threads (planning, and writing an extracted tree) are bundled
//   again, from the ES modules bundle that
//   `npm run build` made, as CommonJS with everything in them (yargs and chalk too): a SEA's main
//   script must be CommonJS, and its `require` knows Node's built-in modules only.
// - Each worker's bundle is an asset of the SEA, named as its file; src/core/worker-source.ts
//   starts it with `eval: true` (a SEA has no file to start a worker from).
// - useCodeCache: V8's compiled code of the main script is stored too, for a faster start. The
//   bundle must then contain no import(), which esbuild is told to turn into require().
// - No useSnapshot: it breaks every Worker on Node 20.
// - The copy of node is stripped before the blob is injected (99 MB to 87 MB on Node 20.20);
//   stripping afterwards breaks the binary.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import postject from 'postject';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const { values: opts } = parseArgs({
  options: {
    node: { type: 'string', default: process.execPath },
    strip: { type: 'string' },
    out: { type: 'string', default: join(root, 'dist', 'bin') },
    'no-xz': { type: 'boolean', default: false },
  },
});

/** The fuse Node looks for to know it carries a SEA blob: `:0` in a plain node, `:1` in a SEA. */
const FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
/** The worker threads' bundles: each is an asset under its file's name (src/core/worker-source.ts). */
const WORKERS = ['plan-worker.js', 'write-worker.js'];

/** The build's own folder (below), kept when the build fails, for a look at its files. */
let work;
const fail = (message) => {
  console.error(`build-binary: ${message}`);
  if (work !== undefined) console.error(`build-binary: its files are in ${work}`);
  process.exit(1);
};

const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
const bundled = join(root, 'dist', 'bin');
for (const f of ['venv-tools.js', ...WORKERS]) {
  try {
    statSync(join(bundled, f));
  } catch {
    fail(`dist/bin/${f} is missing: run \`npm run build\` first`);
  }
}

// The base node: what it is, and whether it can carry a SEA (the fuse is in every node built
// with SEA support, once).
const base = readFileSync(opts.node);
const target = elfTarget(base, opts.node);
const fuseAt = base.indexOf(FUSE);
if (fuseAt === -1 || base.indexOf(FUSE, fuseAt + 1) !== -1) {
  fail(`${opts.node} cannot carry a single executable application (no SEA fuse in it)`);
}
if (base[fuseAt + FUSE.length + 1] !== 0x30) {
  fail(`${opts.node} already carries an application: give a plain node binary`);
}
// The blob must be made by the base node itself: it has to run here, natively or through
// qemu-user (binfmt). (A foreign ELF is refused by the kernel and then run by a shell as a script,
// so what it prints is what tells.)
const arch = runBase(['-p', 'process.arch'], root);
if (arch.error !== undefined || `linux-${arch.stdout.trim()}` !== target) {
  fail(
    `cannot run ${opts.node} (a ${target} node) on this machine, and the blob it carries must be ` +
      `made by it: build on ${target}, or let qemu-user run ${target} binaries (binfmt)`,
  );
}
const name = `venv-tools-${target}`;
// Its own folder, so that two builds at once (a test's and yours) do not mix their files.
work = mkdtempSync(join(tmpdir(), 'venv-tools-sea-'));

// 1. The two CommonJS bundles.
const main = await bundle('venv-tools.js', 'venv-tools.cjs');
const assets = {};
for (const w of WORKERS) assets[w] = await bundle(w, w.replace(/\.js$/, '.cjs'));

// 2. The blob, made by the base node itself.
const config = join(work, 'sea-config.json');
const blob = join(work, 'sea-prep.blob');
writeFileSync(
  config,
  JSON.stringify(
    {
      main,
      output: blob,
      disableExperimentalSEAWarning: true,
      useCodeCache: true,
      useSnapshot: false,
      assets,
    },
    null,
    2,
  ),
);
const made = runBase(['--experimental-sea-config', config], work);
if (made.error !== undefined || made.status !== 0) {
  fail(`${opts.node} --experimental-sea-config failed:\n${made.stderr}${made.stdout}`);
}

// 3. A stripped copy of node, the blob injected into it.
const exe = join(work, name);
copyFileSync(opts.node, exe);
chmodSync(exe, 0o755);
const strip = opts.strip ?? (target === `linux-${process.arch}` ? 'strip' : crossStrip(target));
const stripped = spawnSync(strip, [exe], { encoding: 'utf8' });
if (stripped.error !== undefined || stripped.status !== 0) {
  fail(
    `${strip} could not strip the ${target} node: ` +
      `${stripped.error?.message ?? stripped.stderr.trim()} (give --strip PATH)`,
  );
}
// postject's ELF parser (LIEF) warns about each of node's .note sections, then injects all the
// same (nodejs/postject#83): those lines are left out, and the binary is tried below.
const warn = console.warn;
console.warn = (...args) => {
  if (!/Can't find string offset for section name/.test(String(args[0]))) warn(...args);
};
try {
  await postject.inject(exe, 'NODE_SEA_BLOB', readFileSync(blob), { sentinelFuse: FUSE });
} finally {
  console.warn = warn;
}

// 4. It is tried before it is put in place (this machine runs the base node, so it runs this).
const tried = spawnSync(exe, ['--version'], { encoding: 'utf8', env: withoutNodeOptions() });
if (tried.error !== undefined || tried.status !== 0 || tried.stdout.trim() !== version) {
  fail(
    `the built binary does not run: ${tried.error?.message ?? ''}${tried.stderr}${tried.stdout}`,
  );
}
mkdirSync(opts.out, { recursive: true });
const out = join(opts.out, name);
// Whole or not at all (the temporary folder may be on another file system).
copyFileSync(exe, `${out}.part`);
chmodSync(`${out}.part`, 0o755);
renameSync(`${out}.part`, out);
const mb = (p) => `${(statSync(p).size / 1e6).toFixed(1)} MB`;
const shown = (p) => (relative(process.cwd(), p).startsWith('..') ? p : relative(process.cwd(), p));
console.log(`${shown(out)}: ${mb(out)}, sha256 ${sha256(out)}`);

// 5. The compressed copy.
if (!opts['no-xz']) {
  // -T0 splits the input into blocks compressed in parallel; the size grows by under 1%.
  const xz = spawnSync('xz', ['-6', '-T0', '-k', '-f', out], { stdio: 'inherit' });
  if (xz.error !== undefined || xz.status !== 0) {
    fail(`xz failed (${xz.error?.message ?? `exit ${xz.status}`}); --no-xz skips the copy`);
  }
  console.log(`${shown(`${out}.xz`)}: ${mb(`${out}.xz`)}`);
}
rmSync(work, { recursive: true, force: true });

/**
 * Bundle dist/bin/FROM (an ES module) as self-contained CommonJS into the work folder; its path.
 * Only Node's built-in modules may stay outside.
 */
async function bundle(from, to) {
  const outfile = join(work, to);
  const result = await build({
    entryPoints: [join(bundled, from)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // import() fails in a SEA built with useCodeCache; bundled modules need none.
    supported: { 'dynamic-import': false },
    define: {
      // Read by src/core/version.ts: a SEA has no package.json beside it.
      VENV_TOOLS_VERSION: JSON.stringify(version),
      // CommonJS has no import.meta. yargs makes a path of it when loaded (for its translations,
      // which then are not found: its English strings are built in). Nothing of venv-tools uses
      // it in a SEA (worker-source.ts and version.ts take another way there): a path that
      // cannot exist makes sure a mistake fails rather than finds files beside the binary.
      'import.meta.url': JSON.stringify('file:///nonexistent/venv-tools-sea/main.cjs'),
    },
    metafile: true,
    write: false,
    logLevel: 'warning',
  });
  for (const [file, meta] of Object.entries(result.metafile.outputs)) {
    for (const imp of meta.imports) {
      if (imp.external && !isBuiltin(imp.path)) {
        fail(`${file} requires ${imp.path}, which a single executable cannot load`);
      }
    }
  }
  const [output] = result.outputFiles;
  // The bundle keeps the entry's #! line, which a CommonJS wrapper would not accept.
  writeFileSync(outfile, output.text.replace(/^#!.*\n/, ''));
  return outfile;
}

/** The base node's platform, from its ELF header: linux-x64 or linux-arm64. */
function elfTarget(bytes, path) {
  if (bytes.length < 64 || bytes.readUInt32BE(0) !== 0x7f454c46) {
    fail(`${path} is not an ELF executable (only Linux binaries are built here)`);
  }
  const machine = bytes[5] === 1 ? bytes.readUInt16LE(18) : bytes.readUInt16BE(18);
  const arch = { 0x3e: 'x64', 0xb7: 'arm64' }[machine];
  if (bytes[4] !== 2 || arch === undefined) {
    fail(`${path} is a Linux binary for a machine other than x64 or arm64 (e_machine ${machine})`);
  }
  return `linux-${arch}`;
}

/** The GNU cross strip for a target, when installed. */
function crossStrip(t) {
  const triplet = { 'linux-x64': 'x86_64-linux-gnu', 'linux-arm64': 'aarch64-linux-gnu' }[t];
  const tool = `${triplet}-strip`;
  if (spawnSync(tool, ['--version']).error !== undefined) {
    fail(`no strip for ${t}: install binutils-${triplet} or give --strip PATH`);
  }
  return tool;
}

/** Run the base node in `cwd` (without options meant for the node running this script). */
function runBase(args, cwd) {
  return spawnSync(opts.node, args, { cwd, encoding: 'utf8', env: withoutNodeOptions() });
}

function withoutNodeOptions() {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  return env;
}

function sha256(p) {
  return createHash('sha256').update(readFileSync(p)).digest('hex');
}

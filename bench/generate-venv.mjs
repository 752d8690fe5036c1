// The benchmark's venv: built once with real Python and real pip, no network, then cached under
// bench/cache/ keyed by GEN_VERSION and the Python version. Run alone to (re)build it:
//   node bench/generate-venv.mjs [--force] [--scale 2,4]
//
// Layout (what a deploy pipeline builds, docs/ARCHITECTURE.md):
//   bench/cache/gen-v<N>-cp<X.Y.Z>/x1/app/venv   the venv, built in place (its paths are the OLD path)
//   bench/cache/gen-v<N>-cp<X.Y.Z>/x1/app/src    an editable source tree beside it
//   bench/cache/gen-v<N>-cp<X.Y.Z>/x2, x4        the same with site-packages replicated 2 and 4 times
//
// Content: ~110 synthetic packages written as wheels and installed by pip, so pip writes the
// console scripts, RECORDs and pycs itself (pycs compiled by real Python, co_filename holding the
// build path). Module code is the Python's own stdlib .py files, renamed into nested packages, so
// code sizes and pyc shapes are realistic. Plus package data (JSON, templates, stubs, gettext
// catalogs), real ELF .so files from the Python's lib-dynload (a few carrying the build path like an
// RPATH), .pth files (inside the venv, beside it, import lines) and a PEP 660-style editable install.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeZip } from './write-zip.mjs';

/** Bump when the generated content changes: the cache key holds it. */
export const GEN_VERSION = 1;

const PACKAGES = 110;
/** Stdlib modules drawn into packages (each stdlib file is reused ~3 times under other names). */
const MODULE_DRAWS = 5000;
const DATA_FILES = 13000;
const CONSOLE_SCRIPTS = 40;
const GUI_SCRIPTS = 2;
/** Packages with special content, by index. */
const PTH_INSIDE = 2;
const PTH_IMPORT = 4;
const PTH_BESIDE = 6;
const KERNEL_JSON = 12;
const DATA_SCRIPTS = [20, 21];
const BUILD_CONFIG = [9, 33, 66, 99];
/** `.libs` folders (auditwheel's layout) with a shared library that carries the build path. */
const LIBS_WITH_PATH = [3, 17, 41, 77];
/** `.libs` folders with one large library (an OpenBLAS-like blob), size in MB. */
const BIG_LIBS = new Map([
  [5, 14],
  [60, 9],
  [88, 6],
]);

const TARGETS = { files: 25000, bytes: 300e6, pycs: 5000, consoleScripts: 30 };

const here = dirname(fileURLToPath(import.meta.url));
export const CACHE = join(here, 'cache');

function log(msg) {
  process.stderr.write(`[generate] ${msg}\n`);
}

// ---------------------------------------------------------------------------------------------
// Deterministic randomness: the same generator version gives the same venv on every machine
// (up to the stdlib's own content, which the Python version in the cache key pins).

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function makeRandom(seed) {
  const next = mulberry32(seed);
  const r = {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (arr) => arr[Math.floor(next() * arr.length)],
    gauss: () => {
      const u = Math.max(next(), 1e-12);
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
    },
    logNormal: (median, sigma) => Math.round(Math.exp(Math.log(median) + sigma * r.gauss())),
    shuffle: (arr) => {
      for (let i = arr.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [arr[i], arr[j]] = [arr[j], arr[i]];
      }
      return arr;
    },
  };
  return r;
}

const WORDS = (
  'request response client session token cache value index record stream buffer schema field ' +
  'model handler option config default result error timeout retry policy region endpoint service ' +
  'operation resource element attribute document member shape output input header payload ' +
  'encoding format version status message context signal event task worker queue channel ' +
  'the a of to and for with from that this when which returns describes specifies'
).split(' ');

function sentence(rnd, n) {
  const words = [];
  for (let i = 0; i < n; i++) words.push(rnd.pick(WORDS));
  const s = words.join(' ');
  return `${s[0].toUpperCase()}${s.slice(1)}.`;
}

function prose(rnd, bytes) {
  let out = '';
  while (out.length < bytes) out += `${sentence(rnd, rnd.int(6, 18))} `;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Python

/** Interpreter facts the generator needs, from running it once. */
function probe(exe) {
  const code = [
    'import json, platform, sys, sysconfig',
    'import ensurepip, venv',
    'print(json.dumps({"version": platform.python_version(), "minor": "%d.%d" % sys.version_info[:2],',
    ' "stdlib": sysconfig.get_paths()["stdlib"], "dynload": sysconfig.get_config_var("DESTSHARED"),',
    ' "ext": sysconfig.get_config_var("EXT_SUFFIX"), "major_minor": list(sys.version_info[:2])}))',
  ].join('\n');
  const r = spawnSync(exe, ['-c', code], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  const info = JSON.parse(r.stdout);
  if (info.major_minor[0] !== 3 || info.major_minor[1] < 8) return undefined;
  return { exe, ...info };
}

/** The Python to build with: $BENCH_PYTHON, else a 3.11 (pyenv's, then Debian's), else python3. */
export function findPython() {
  const pyenv = process.env.PYENV_ROOT ?? join(homedir(), '.pyenv');
  const candidates = [];
  if (process.env.BENCH_PYTHON) candidates.push(process.env.BENCH_PYTHON);
  let versions = [];
  try {
    versions = readdirSync(join(pyenv, 'versions')).filter((v) => /^3\.11\.\d+$/.test(v));
  } catch {
    // no pyenv
  }
  versions.sort((a, b) => Number(b.split('.')[2]) - Number(a.split('.')[2]));
  for (const v of versions) candidates.push(join(pyenv, 'versions', v, 'bin', 'python3'));
  candidates.push('/usr/bin/python3.11', 'python3');
  for (const exe of candidates) {
    const info = probe(exe);
    if (info !== undefined) return info;
  }
  throw new Error(
    `no usable Python (3.8+ with venv and ensurepip) among: ${candidates.join(', ')}; set BENCH_PYTHON`,
  );
}

/** The stdlib's own .py files, as the pool of realistic module code. */
function stdlibPool(py) {
  const out = [];
  const skipDirs = new Set(['site-packages', 'dist-packages', '__pycache__', 'lib-dynload']);
  const walk = (dir) => {
    for (const d of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, d.name);
      if (d.isDirectory()) {
        // Test data that does not compile on purpose (bad encodings, Python 2 grammar).
        if (skipDirs.has(d.name) || d.name.startsWith('config-') || d.name === 'tokenizedata') {
          continue;
        }
        if (d.name === 'data' && /tests?$|test_lib2to3$/.test(dir)) continue;
        walk(p);
      } else if (d.isFile() && d.name.endsWith('.py') && !d.name.startsWith('bad')) {
        out.push(p);
      }
    }
  };
  walk(py.stdlib);
  out.sort();
  return out;
}

function dynloadLibs(py) {
  let names = [];
  try {
    names = readdirSync(py.dynload).filter((n) => n.endsWith('.so'));
  } catch {
    // a Python without lib-dynload (static build): fall back to the system's libraries
  }
  let dir = py.dynload;
  if (names.length === 0) {
    dir = '/usr/lib/x86_64-linux-gnu';
    names = readdirSync(dir).filter((n) => /^lib[a-z]+\.so\.\d+$/.test(n));
  }
  return names
    .sort()
    .map((n) => join(dir, n))
    .filter((p) => {
      const st = statSync(p);
      return st.isFile() && st.size > 4096;
    });
}

// ---------------------------------------------------------------------------------------------
// Package content

const SYL_A =
  'al bor cad dex el fen gal hol ix jor kel lum mar nov or pel quor ras sol tor ur vel wyn xer yal zen'.split(
    ' ',
  );
const SYL_B =
  'ant bex cor dyn eon fax gen hex iq jet kit lyn mox nix opt pod quin rax syn tek'.split(' ');
const SUBNAMES = (
  'core utils io http _internal compat backends plugins models schemas contrib ext parsers ' +
  'formats _vendor testing config handlers transport protocols serializers storage auth cache ' +
  'tasks events hooks types validators'
).split(' ');
const LOCALES = 'de es fr it ja ko nl pl pt_BR ru sv tr uk zh_CN zh_TW'.split(' ');

function sha256Record(data) {
  return createHash('sha256').update(data).digest('base64url');
}

function initPy(rnd, pkg, dir) {
  const where = dir === '' ? pkg : `${pkg}.${dir.replaceAll('/', '.')}`;
  return Buffer.from(
    `"""${where}: ${sentence(rnd, rnd.int(5, 12))}\n\n${prose(rnd, rnd.int(0, 600))}\n"""\n\n` +
      'from __future__ import annotations\n\n' +
      `__all__: list[str] = []\n__version__ = "${rnd.int(0, 9)}.${rnd.int(0, 20)}"\n`,
  );
}

function cliPy(pkg) {
  return Buffer.from(
    `"""Command line entry point of ${pkg}."""\n\nimport argparse\nimport sys\n\n\n` +
      'def main(argv=None):\n' +
      `    parser = argparse.ArgumentParser(prog="${pkg}")\n` +
      '    parser.add_argument("--version", action="store_true")\n' +
      '    args = parser.parse_args(argv)\n' +
      '    if args.version:\n' +
      `        print("${pkg}", sys.version.split()[0])\n` +
      '    return 0\n\n\n' +
      'if __name__ == "__main__":\n    sys.exit(main())\n',
  );
}

function jsonData(rnd, size) {
  const parts = [];
  let len = 0;
  let i = 0;
  while (len < size) {
    const members = [];
    for (let m = rnd.int(1, 5); m > 0; m--) {
      members.push(`"${rnd.pick(WORDS)}${m}": {"shape": "${rnd.pick(WORDS)}Shape"}`);
    }
    const p =
      `    "Shape${i++}": {\n      "type": "structure",\n      "members": {${members.join(', ')}},\n` +
      `      "documentation": "<p>${sentence(rnd, rnd.int(8, 30))}</p>"\n    }`;
    parts.push(p);
    len += p.length;
  }
  return Buffer.from(
    `{\n  "version": "2.0",\n  "metadata": {"apiVersion": "20${rnd.int(10, 24)}-0${rnd.int(1, 9)}-1${rnd.int(0, 9)}", "protocol": "json"},\n  "shapes": {\n${parts.join(',\n')}\n  }\n}\n`,
  );
}

function textData(rnd, size, ext) {
  if (ext === 'html' || ext === 'jinja2') {
    let out = '<!doctype html>\n<html>\n<head><title>{{ title }}</title></head>\n<body>\n';
    while (out.length < size)
      out += `  <p class="${rnd.pick(WORDS)}">${sentence(rnd, rnd.int(5, 25))}</p>\n`;
    return Buffer.from(`${out}</body>\n</html>\n`);
  }
  if (ext === 'csv') {
    let out = 'id,name,kind,value,weight\n';
    let i = 0;
    while (out.length < size)
      out += `${i++},${rnd.pick(WORDS)},${rnd.pick(WORDS)},${rnd.int(0, 1e6)},${rnd.next().toFixed(6)}\n`;
    return Buffer.from(out);
  }
  if (ext === 'css') {
    let out = '';
    while (out.length < size)
      out += `.${rnd.pick(WORDS)}-${rnd.int(0, 99)} { margin: ${rnd.int(0, 20)}px; color: #${rnd.int(0, 0xffffff).toString(16).padStart(6, '0')}; }\n`;
    return Buffer.from(out);
  }
  if (ext === 'js') {
    let out = '"use strict";\n';
    while (out.length < size)
      out += `function ${rnd.pick(WORDS)}${rnd.int(0, 999)}(a, b) { return a + b * ${rnd.int(1, 99)}; }\n`;
    return Buffer.from(out);
  }
  return Buffer.from(prose(rnd, size).replace(/(.{60,80}) /g, '$1\n'));
}

/** A GNU gettext catalog: binary (NULs, little-endian offsets), as Babel-based packages ship. */
function moData(rnd, size) {
  const n = Math.max(1, Math.floor(size / 80));
  const ids = [];
  const strs = [];
  for (let i = 0; i < n; i++) {
    ids.push(Buffer.from(`${sentence(rnd, rnd.int(2, 6))}${i}`));
    strs.push(Buffer.from(sentence(rnd, rnd.int(2, 8))));
  }
  const header = Buffer.alloc(28 + n * 16);
  header.writeUInt32LE(0x950412de, 0);
  header.writeUInt32LE(0, 4);
  header.writeUInt32LE(n, 8);
  header.writeUInt32LE(28, 12);
  header.writeUInt32LE(28 + n * 8, 16);
  let off = header.length;
  const bodies = [];
  ids.forEach((b, i) => {
    header.writeUInt32LE(b.length, 28 + i * 8);
    header.writeUInt32LE(off, 32 + i * 8);
    bodies.push(b, Buffer.from([0]));
    off += b.length + 1;
  });
  strs.forEach((b, i) => {
    header.writeUInt32LE(b.length, 28 + n * 8 + i * 8);
    header.writeUInt32LE(off, 32 + n * 8 + i * 8);
    bodies.push(b, Buffer.from([0]));
    off += b.length + 1;
  });
  return Buffer.concat([header, ...bodies]);
}

/** Concatenate real libraries to `size` bytes, then splice `strings` in after the first 4 KiB. */
function sharedLib(rnd, libs, size, strings = []) {
  const parts = [];
  let len = 0;
  while (len < size) {
    const b = readFileSync(rnd.pick(libs));
    parts.push(b);
    len += b.length;
  }
  const blob = Buffer.concat(parts).subarray(0, size);
  if (strings.length === 0) return blob;
  const s = Buffer.from(`\0${strings.join('\0')}\0`, 'latin1');
  return Buffer.concat([blob.subarray(0, 4096), s, blob.subarray(4096)]);
}

function editableFinder(app) {
  return Buffer.from(
    '"""Import hook of an editable install (PEP 660), written the way setuptools writes one."""\n' +
      'import sys\nfrom importlib.util import spec_from_file_location\nfrom pathlib import Path\n\n' +
      `MAPPING = {'localapp': '${app}/src/localapp'}\nNAMESPACES = {}\n\n\n` +
      'class _EditableFinder:\n    @classmethod\n    def find_spec(cls, fullname, path=None, target=None):\n' +
      "        root, _, rest = fullname.partition('.')\n        base = MAPPING.get(root)\n" +
      '        if base is None:\n            return None\n' +
      "        candidate = Path(base, *(rest.split('.') if rest else []))\n" +
      "        for init in (candidate / '__init__.py', candidate.with_suffix('.py')):\n" +
      '            if init.exists():\n                return spec_from_file_location(fullname, init)\n' +
      '        return None\n\n\n' +
      'def install():\n    if not any(f is _EditableFinder for f in sys.meta_path):\n' +
      '        sys.meta_path.append(_EditableFinder)\n',
  );
}

/** Plan every package: names, files (as { rel, data, mode }), entry points. */
function planPackages(py, venv, app, batch = {}) {
  // The first batch carries every special file (chosen by package index k); a top-up batch
  // (`round` > 0, indices from 1000) holds plain packages with code only.
  const { round = 0, count = PACKAGES, draws = MODULE_DRAWS, dataFiles = DATA_FILES } = batch;
  const avoid = batch.avoid ?? new Set();
  const rnd = makeRandom(20240601 + GEN_VERSION + 7919 * round);
  const sp = join(venv, 'lib', `python${py.minor}`, 'site-packages');
  const pool = rnd.shuffle(stdlibPool(py));
  const libs = dynloadLibs(py);
  const poolCache = new Map();
  const readPool = (p) => {
    let b = poolCache.get(p);
    if (b === undefined) poolCache.set(p, (b = readFileSync(p)));
    return b;
  };

  const names = new Set();
  while (names.size < count) {
    const name = `${rnd.pick(SYL_A)}${rnd.pick(SYL_B)}`;
    if (!avoid.has(name)) names.add(name);
  }
  const pkgNames = [...names];
  const moduleWeights = pkgNames.map(() => Math.exp(0.8 * rnd.gauss()));
  const dataWeights = pkgNames.map(() => Math.exp(1.1 * rnd.gauss()));
  const mSum = moduleWeights.reduce((a, b) => a + b, 0);
  const dSum = dataWeights.reduce((a, b) => a + b, 0);
  let poolAt = 0;

  return pkgNames.map((pkg, index) => {
    const k = round === 0 ? index : 1000 * round + index;
    const version = `${1 + (k % 4)}.${k % 13}.${k % 5}`;
    const files = [];
    const add = (rel, data, mode) => files.push({ rel, data, mode });
    const nModules = Math.max(3, Math.round((moduleWeights[index] / mSum) * draws));
    const nData = Math.round((dataWeights[index] / dSum) * dataFiles);

    // Nested subpackages, up to three levels deep.
    const dirs = [''];
    const children = new Map([['', new Set()]]);
    const want = 1 + Math.floor(nModules / 9);
    if (k === PTH_INSIDE) {
      dirs.push('_vendor');
      children.set('_vendor', new Set());
      children.get('').add('_vendor');
    }
    while (dirs.length < want) {
      const parent = rnd.pick(dirs.filter((d) => d === '' || d.split('/').length < 3));
      const taken = children.get(parent);
      let name = rnd.pick(SUBNAMES);
      if (taken.has(name)) name = `${name}${dirs.length}`;
      taken.add(name);
      const d = parent === '' ? name : `${parent}/${name}`;
      dirs.push(d);
      children.set(d, new Set());
    }
    const inDir = (d, f) => (d === '' ? `${pkg}/${f}` : `${pkg}/${d}/${f}`);
    const used = new Set();
    const unique = (rel) => {
      let r = rel;
      for (let n = 2; used.has(r); n++) r = rel.replace(/(\.[a-z0-9]+)$/, `_${n}$1`);
      used.add(r);
      return r;
    };
    for (const d of dirs) add(unique(inDir(d, '__init__.py')), initPy(rnd, pkg, d));
    const modules = [];
    for (let i = 0; i < nModules; i++) {
      const src = pool[poolAt++ % pool.length];
      let base = basename(src);
      if (base === '__init__.py' || base === '__main__.py') base = `${basename(dirname(src))}.py`;
      const d = rnd.pick(dirs);
      const rel = unique(inDir(d, base));
      modules.push({ rel, src });
      add(rel, readPool(src));
    }
    const scripts = {};
    if (k < CONSOLE_SCRIPTS) scripts.console = [`${pkg.replaceAll('_', '-')} = ${pkg}.cli:main`];
    if (k >= CONSOLE_SCRIPTS && k < CONSOLE_SCRIPTS + GUI_SCRIPTS) {
      scripts.gui = [`${pkg}-gui = ${pkg}.cli:main`];
    }
    if (scripts.console || scripts.gui) add(unique(inDir('', 'cli.py')), cliPy(pkg));

    // Package data.
    add(`${pkg}/py.typed`, Buffer.alloc(0));
    for (let i = 0; i < nData; i++) {
      const size = Math.min(200000, Math.max(40, rnd.logNormal(1500, 1.0)));
      const roll = rnd.next();
      const word = `${rnd.pick(WORDS)}_${i}`;
      if (roll < 0.45) {
        add(
          unique(inDir(rnd.pick(['data', 'data/models', 'schemas_json']), `${word}.json`)),
          jsonData(rnd, size),
        );
      } else if (roll < 0.62) {
        const ext = rnd.pick(['html', 'jinja2', 'txt']);
        add(unique(inDir('templates', `${word}.${ext}`)), textData(rnd, size, ext));
      } else if (roll < 0.77 && modules.length > 0) {
        // A stub beside a module: the head of its code, as stub-only packages mirror the module.
        const m = rnd.pick(modules);
        const head = readPool(m.src).subarray(0, size);
        const cut = head.lastIndexOf(0x0a);
        add(
          unique(m.rel.replace(/\.py$/, '.pyi')),
          head.subarray(0, cut > 0 ? cut + 1 : head.length),
        );
      } else if (roll < 0.85) {
        add(unique(inDir('data', `${word}.csv`)), textData(rnd, size, 'csv'));
      } else if (roll < 0.9) {
        add(
          unique(inDir(`locale/${rnd.pick(LOCALES)}/LC_MESSAGES`, `${pkg}_${i}.mo`)),
          moData(rnd, size),
        );
      } else {
        const ext = rnd.pick(['css', 'js']);
        add(unique(inDir('static', `${word}.${ext}`)), textData(rnd, size, ext));
      }
    }

    // Native code: real ELF libraries; a few carry the build path, as an RPATH would.
    const tops = [pkg];
    if (k % 4 === 1) {
      for (let i = 0; i <= k % 3; i++) {
        const lib = rnd.pick(libs);
        const stem = basename(lib).split('.')[0].replace(/^lib/, '_');
        add(unique(inDir(rnd.pick(dirs), `${stem}${py.ext}`)), readFileSync(lib), 0o755);
      }
    }
    const hex = createHash('sha1').update(pkg).digest('hex').slice(0, 8);
    if (LIBS_WITH_PATH.includes(k)) {
      tops.push(`${pkg}.libs`);
      const data = sharedLib(rnd, libs, rnd.int(2, 4) << 20, [`${sp}/${pkg}.libs`, `${venv}/lib`]);
      add(`${pkg}.libs/lib${pkg}-${hex}.so.1.0`, data, 0o755);
    }
    if (BIG_LIBS.has(k)) {
      if (!tops.includes(`${pkg}.libs`)) tops.push(`${pkg}.libs`);
      add(
        `${pkg}.libs/libopenblas64_p-r0-${hex}.so`,
        sharedLib(rnd, libs, BIG_LIBS.get(k) << 20),
        0o755,
      );
    }

    // Files that hold the build path as text.
    const dataDir = `${pkg}-${version}.data`;
    if (BUILD_CONFIG.includes(k)) {
      add(
        `${pkg}/_build_config.json`,
        Buffer.from(
          JSON.stringify(
            {
              prefix: venv,
              scripts: `${venv}/bin`,
              purelib: sp,
              include: `${venv}/include`,
              compiler: 'gcc',
            },
            null,
            2,
          ) + '\n',
        ),
      );
    }
    const extraTop = [];
    if (k === PTH_INSIDE) {
      add(`${pkg}_paths.pth`, Buffer.from(`${sp}/${pkg}/_vendor\n`));
      extraTop.push(`${pkg}_paths.pth`);
    }
    if (k === PTH_IMPORT) {
      // setuptools' namespace-package .pth (pkg_resources era): one import line, no path.
      add(
        `${pkg}-nspkg.pth`,
        Buffer.from(
          `import sys, types, os;has_mfs = sys.version_info > (3, 5);p = os.path.join(sys._getframe(1).f_locals['sitedir'], *('${pkg}',));ie = os.path.exists(os.path.join(p,'__init__.py'));m = not ie and not has_mfs and sys.modules.setdefault('${pkg}', types.ModuleType('${pkg}'));mp = (m or []) and m.__dict__.setdefault('__path__',[]);(p not in mp) and mp.append(p)\n`,
        ),
      );
      extraTop.push(`${pkg}-nspkg.pth`);
    }
    if (k === PTH_BESIDE) {
      add(`${pkg}_src.pth`, Buffer.from(`${app}/src\n`));
      extraTop.push(`${pkg}_src.pth`);
    }
    if (k === KERNEL_JSON) {
      const kernel = {
        argv: [`${venv}/bin/python`, '-m', 'ipykernel_launcher', '-f', '{connection_file}'],
        display_name: `Python (${pkg})`,
        language: 'python',
        metadata: { debugger: true },
      };
      add(
        `${dataDir}/data/share/jupyter/kernels/${pkg}/kernel.json`,
        Buffer.from(JSON.stringify(kernel, null, 1) + '\n'),
      );
    }
    if (DATA_SCRIPTS.includes(k)) {
      // pip rewrites a data script's `#!python` to the venv's interpreter (PEP 427).
      add(
        `${dataDir}/scripts/${pkg}-tool`,
        Buffer.from(`#!python\nimport sys\nfrom ${pkg}.cli import main\nsys.exit(main())\n`),
        0o755,
      );
      if (!scripts.console && !scripts.gui) add(unique(inDir('', 'cli.py')), cliPy(pkg));
    }
    return { name: pkg, dist: pkg, version, files, scripts, tops, extraTop };
  });
}

/** The editable install: a source tree beside the venv, and a wheel holding its finder and .pth. */
function planEditable(py, app) {
  const rnd = makeRandom(7 + GEN_VERSION);
  const pool = stdlibPool(py);
  const src = join(app, 'src', 'localapp');
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, '__init__.py'), initPy(rnd, 'localapp', ''));
  for (let i = 0; i < 6; i++) {
    const p = rnd.pick(pool);
    writeFileSync(join(src, `mod_${i}_${basename(p)}`), readFileSync(p));
  }
  writeFileSync(
    join(app, 'src', 'pyproject.toml'),
    '[project]\nname = "localapp"\nversion = "0.1.0"\n\n[build-system]\nrequires = ["setuptools>=64"]\nbuild-backend = "setuptools.build_meta"\n',
  );
  const finder = '__editable___localapp_0_1_0_finder';
  return {
    name: 'localapp',
    dist: 'localapp',
    version: '0.1.0',
    files: [
      { rel: `${finder}.py`, data: editableFinder(app) },
      {
        rel: '__editable__.localapp-0.1.0.pth',
        data: Buffer.from(`import ${finder}; ${finder}.install()\n`),
      },
    ],
    scripts: {},
    tops: [],
    extraTop: [`${finder}.py`, '__editable__.localapp-0.1.0.pth'],
    editable: true,
  };
}

function wheelOf(p, dir) {
  const di = `${p.dist}-${p.version}.dist-info`;
  const rnd = makeRandom(p.name.length * 7919 + p.version.length);
  const meta = [
    {
      rel: `${di}/METADATA`,
      data: Buffer.from(
        `Metadata-Version: 2.1\nName: ${p.dist}\nVersion: ${p.version}\nSummary: ${sentence(rnd, 8)}\nLicense: MIT\nRequires-Python: >=3.8\nDescription-Content-Type: text/markdown\n\n# ${p.dist}\n\n${prose(rnd, rnd.int(500, 6000))}\n`,
      ),
    },
    {
      rel: `${di}/WHEEL`,
      data: Buffer.from(
        'Wheel-Version: 1.0\nGenerator: venv-tools-bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n',
      ),
    },
    { rel: `${di}/top_level.txt`, data: Buffer.from(p.tops.length > 0 ? `${p.name}\n` : '') },
    {
      rel: `${di}/LICENSE`,
      data: Buffer.from(`Copyright (c) ${p.dist} authors\n\n${prose(rnd, 1000)}\n`),
    },
  ];
  const ep = [];
  if (p.scripts.console) ep.push('[console_scripts]', ...p.scripts.console, '');
  if (p.scripts.gui) ep.push('[gui_scripts]', ...p.scripts.gui, '');
  if (ep.length > 0) meta.push({ rel: `${di}/entry_points.txt`, data: Buffer.from(ep.join('\n')) });
  const all = [...p.files, ...meta];
  const record = all.map((f) => `${f.rel},sha256=${sha256Record(f.data)},${f.data.length}`);
  record.push(`${di}/RECORD,,`);
  all.push({ rel: `${di}/RECORD`, data: Buffer.from(record.join('\n') + '\n') });
  const file = join(dir, `${p.dist}-${p.version}-py3-none-any.whl`);
  writeZip(
    file,
    all.map((f) => ({ name: f.rel, data: f.data, mode: f.mode ?? 0o644 })),
  );
  return { file, distInfo: di };
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  if (r.error || r.status !== 0) {
    throw new Error(
      `${cmd} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stdout}${r.stderr}`,
    );
  }
  return r;
}

function runAsync(cmd, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve(out)
        : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}:\n${out}`)),
    );
  });
}

/** Count what the issue's targets are about: files, bytes, pycs, console scripts. */
export function countTree(venv) {
  const c = {
    files: 0,
    bytes: 0,
    pycs: 0,
    pyBytes: 0,
    pycBytes: 0,
    dirs: 0,
    symlinks: 0,
    consoleScripts: 0,
  };
  const walk = (dir) => {
    for (const d of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, d.name);
      if (d.isDirectory()) {
        c.dirs++;
        walk(p);
      } else if (d.isSymbolicLink()) {
        c.symlinks++;
      } else if (d.isFile()) {
        c.files++;
        const size = lstatSync(p).size;
        c.bytes += size;
        if (d.name.endsWith('.pyc')) {
          c.pycs++;
          c.pycBytes += size;
        } else if (d.name.endsWith('.py')) {
          c.pyBytes += size;
        }
      }
    }
  };
  walk(venv);
  const shebang = `#!${venv}/bin/python`;
  for (const n of readdirSync(join(venv, 'bin'))) {
    const p = join(venv, 'bin', n);
    if (!lstatSync(p).isFile() || n.startsWith('activate') || n.startsWith('Activate')) continue;
    const head = readFileSync(p).subarray(0, 4096).toString('latin1');
    if (head.startsWith(shebang) && head.includes('import sys')) c.consoleScripts++;
  }
  return c;
}

export function keyDir(py) {
  return join(CACHE, `gen-v${GEN_VERSION}-cp${py.version}`);
}

function readMeta(file) {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Write `packages` as wheels and pip install them into `venv`, with no index. */
async function install(packages, venv, wheels) {
  mkdirSync(wheels, { recursive: true });
  log(`writing ${packages.length} wheels`);
  for (const p of packages) Object.assign(p, wheelOf(p, wheels));
  // Two pip processes (this is a 2-core machine): pip compiles pycs in one process, serially.
  const batches = [[], []];
  packages.forEach((p, i) => batches[i % 2].push(p.dist));
  log(`pip install (2 processes, compiling pycs): ${packages.length} packages`);
  const pip = [
    join(venv, 'bin', 'python'),
    '-m',
    'pip',
    'install',
    '--no-index',
    '--find-links',
    wheels,
  ];
  const flags = ['--no-deps', '--no-cache-dir', '--disable-pip-version-check', '-q'];
  await Promise.all(
    batches
      .filter((b) => b.length > 0)
      .map((b) => runAsync(pip[0], [...pip.slice(1), ...flags, ...b])),
  );
}

/** Build the base (1x) venv unless the cache holds it; returns its meta.json content. */
export async function ensureBase(py, { force = false } = {}) {
  const dir = join(keyDir(py), 'x1');
  const metaFile = join(dir, 'meta.json');
  const cached = force ? undefined : readMeta(metaFile);
  if (cached !== undefined) return cached;
  const t0 = process.hrtime.bigint();
  // The scaled copies are made from this one: they go with it.
  rmSync(keyDir(py), { recursive: true, force: true });
  const app = join(dir, 'app');
  const venv = join(app, 'venv');
  const wheels = join(dir, 'wheels');

  log(`python ${py.version} (${py.exe}): python -m venv ${venv}`);
  run(py.exe, ['-m', 'venv', venv]);
  log('planning packages from the stdlib');
  const packages = [...planPackages(py, venv, app), planEditable(py, app)];
  await install(packages, venv, wheels);

  // A stdlib with less code (Debian's has no test suite) gives smaller pycs: top up with plain
  // packages until the venv reaches the byte target, sized from the bytes per module so far.
  for (let round = 1; round <= 3; round++) {
    const c = countTree(venv);
    if (c.bytes >= TARGETS.bytes * 1.03) break;
    const perModule = (c.pyBytes + c.pycBytes) / Math.max(1, c.pycs);
    const draws = Math.ceil((TARGETS.bytes * 1.05 - c.bytes) / perModule);
    const avoid = new Set(packages.map((q) => q.name));
    const more = planPackages(py, venv, app, {
      round,
      count: Math.ceil(draws / 45),
      draws,
      dataFiles: 0,
      avoid,
    });
    log(`${(c.bytes / 1e6).toFixed(0)} MB so far: topping up with ${more.length} packages`);
    await install(more, venv, wheels);
    packages.push(...more);
  }
  rmSync(wheels, { recursive: true, force: true });

  // pip writes direct_url.json only for a direct (URL or path) install; an editable one has it.
  const sp = join(venv, 'lib', `python${py.minor}`, 'site-packages');
  const ed = packages.find((p) => p.editable);
  const du = Buffer.from(
    JSON.stringify({ dir_info: { editable: true }, url: `file://${app}/src` }),
  );
  writeFileSync(join(sp, ed.distInfo, 'direct_url.json'), du);
  const recFile = join(sp, ed.distInfo, 'RECORD');
  writeFileSync(
    recFile,
    readFileSync(recFile, 'utf8') +
      `${ed.distInfo}/direct_url.json,sha256=${sha256Record(du)},${du.length}\n`,
  );

  const counts = countTree(venv);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const meta = {
    genVersion: GEN_VERSION,
    python: { exe: py.exe, version: py.version, minor: py.minor },
    app,
    venv,
    sitePackages: sp,
    old: venv,
    packages: packages.map((p) => ({
      name: p.name,
      dist: p.dist,
      version: p.version,
      distInfo: p.distInfo,
      tops: p.tops,
      replicate: !p.editable,
    })),
    counts,
    seconds,
  };
  const short = Object.entries(TARGETS).filter(([k, v]) => counts[k] < v);
  if (short.length > 0) {
    throw new Error(
      `generated venv misses its targets: ${short.map(([k, v]) => `${k} ${counts[k]} < ${v}`).join(', ')}; tune bench/generate-venv.mjs`,
    );
  }
  writeFileSync(metaFile, JSON.stringify(meta, null, 2) + '\n');
  log(
    `base venv: ${counts.files} files, ${(counts.bytes / 1e6).toFixed(0)} MB, ${counts.pycs} pycs, ${counts.consoleScripts} console scripts, in ${seconds.toFixed(0)} s`,
  );
  return meta;
}

function renameRecord(text, renames, distInfo, newDistInfo) {
  const out = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const path = line.slice(0, line.indexOf(','));
    const rest = line.slice(path.length);
    if (path.startsWith(`${distInfo}/`)) {
      out.push(`${newDistInfo}${path.slice(distInfo.length)}${rest}`);
      continue;
    }
    const top = path.split('/')[0];
    // Scripts (../../../bin), root .pth files and .data files belong to the original only.
    if (renames.has(top)) out.push(`${renames.get(top)}${path.slice(top.length)}${rest}`);
  }
  return out.join('\n') + '\n';
}

/**
 * The base venv with its site-packages replicated `factor` times under new package names
 * (`pkg_r2`, `pkg_r2-1.0.dist-info`, `pkg_r2.libs`); pycs are copied as they are, so their
 * co_filename still holds the build path. Cached beside x1.
 */
export function ensureScaled(py, base, factor) {
  if (factor === 1)
    return { dir: join(keyDir(py), 'x1'), app: base.app, venv: base.venv, counts: base.counts };
  const dir = join(keyDir(py), `x${factor}`);
  const metaFile = join(dir, 'meta.json');
  const cached = readMeta(metaFile);
  if (cached !== undefined) return cached;
  const t0 = process.hrtime.bigint();
  log(`replicating site-packages x${factor}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  run('cp', ['-a', base.app, join(dir, 'app')]);
  const app = join(dir, 'app');
  const venv = join(app, 'venv');
  const sp = join(venv, relative(base.venv, base.sitePackages));
  for (let r = 2; r <= factor; r++) {
    for (const p of base.packages.filter((q) => q.replicate)) {
      const renames = new Map(
        p.tops.map((t) => [t, t.endsWith('.libs') ? `${t.slice(0, -5)}_r${r}.libs` : `${t}_r${r}`]),
      );
      for (const [from, to] of renames) run('cp', ['-a', join(sp, from), join(sp, to)]);
      const newDi = p.distInfo.replace(`${p.dist}-`, `${p.dist}_r${r}-`);
      mkdirSync(join(sp, newDi));
      for (const f of readdirSync(join(sp, p.distInfo))) {
        if (f === 'entry_points.txt' || f === 'direct_url.json') continue;
        let data = readFileSync(join(sp, p.distInfo, f));
        if (f === 'RECORD')
          data = Buffer.from(renameRecord(data.toString('utf8'), renames, p.distInfo, newDi));
        if (f === 'METADATA')
          data = Buffer.from(data.toString('utf8').replace(/^Name: .*$/m, `Name: ${p.dist}_r${r}`));
        if (f === 'top_level.txt') data = Buffer.from(data.length > 0 ? `${p.name}_r${r}\n` : '');
        writeFileSync(join(sp, newDi, f), data);
      }
    }
  }
  const meta = {
    factor,
    app,
    venv,
    counts: countTree(venv),
    seconds: Number(process.hrtime.bigint() - t0) / 1e9,
  };
  writeFileSync(metaFile, JSON.stringify(meta, null, 2) + '\n');
  log(
    `x${factor}: ${meta.counts.files} files, ${(meta.counts.bytes / 1e6).toFixed(0)} MB, in ${meta.seconds.toFixed(0)} s`,
  );
  return meta;
}

// Run alone: build (or rebuild with --force) the cached venvs.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const force = process.argv.includes('--force');
  const i = process.argv.indexOf('--scale');
  const scales = i === -1 ? [2, 4] : process.argv[i + 1].split(',').map(Number);
  const py = findPython();
  const base = await ensureBase(py, { force });
  for (const f of scales) ensureScaled(py, base, f);
  if (existsSync(base.venv)) log(`ready: ${base.venv}`);
}

import test, { type ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';
import { RewriteError } from '../../src/core/errors.js';
import { replacePaths, utf8ToBytes, type Mapping } from '../../src/core/path-boundary.js';
import { PYC_FORMATS, pycFormat } from '../../src/kinds/pyc/pyc-magic.js';
import { pycSourceHash, readPycHeader } from '../../src/kinds/pyc/pyc-header.js';
import { pycCacheTag, sourceOfPyc } from '../../src/kinds/pyc/source-of-pyc.js';
import { pycVersion, rewritePyc, roundTripPyc } from '../../src/kinds/pyc/rewrite-pyc.js';
import { findPyPy, findPythons, type Python } from '../helpers/pythons.js';
import { lacks, missingTool, testMissing, type Missing } from '../helpers/require-tool.js';

const run = promisify(execFile);
const PYTHONS = findPythons();
// PyPy goes through the same tests as every CPython where a real compiler is needed.
const PYPY = findPyPy();
const COMPILERS: readonly Python[] = PYPY === undefined ? PYTHONS : [...PYTHONS, PYPY];
const NO_PYPY = missingTool('pypy3');
if (NO_PYPY !== undefined) testMissing(NO_PYPY, 'rewrites the pycs that PyPy compiles');

// Pythons run in a UTF-8 locale (3.6 would otherwise take file names as ASCII), never in
// hash-pyc mode by accident (SOURCE_DATE_EPOCH makes py_compile default to checked-hash).
const PY_ENV: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C.UTF-8', PYTHONIOENCODING: 'utf-8' };
delete PY_ENV.SOURCE_DATE_EPOCH;
delete PY_ENV.PYTHONPYCACHEPREFIX;
delete PY_ENV.PYTHONDONTWRITEBYTECODE;

async function py(exe: string, args: string[], input?: Buffer): Promise<string> {
  const child = run(exe, args, { env: PY_ENV, maxBuffer: 256 * 1024 * 1024, encoding: 'utf8' });
  if (input !== undefined) child.child.stdin?.end(input);
  return (await child).stdout;
}

function tempDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'venv-tools-pyc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function mapping(from: string, to: string): Mapping {
  return { from: utf8ToBytes(from), to: utf8ToBytes(to) };
}

function* files(dir: string, suffix: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* files(p, suffix);
    else if (e.isFile() && e.name.endsWith(suffix)) yield p;
  }
}

function snapshot(dir: string): Map<string, Buffer> {
  return new Map([...files(dir, '.pyc')].map((p) => [p, readFileSync(p)]));
}

function magicOf(pyc: Buffer): number {
  return pyc.readUInt16LE(0);
}

// ---------------------------------------------------------------------------------------------
// Magic numbers and source hashes

test('finds at least one CPython 3.6+ on this machine', (t) => {
  t.log(`Pythons: ${PYTHONS.map((p) => `${p.full} (${p.exe})`).join(', ')}`);
  t.true(PYTHONS.length > 0);
});

test('names the version of the magic number of every CPython on this machine', async (t) => {
  for (const p of PYTHONS) {
    const out = await py(p.exe, ['-c', 'import importlib.util as u; print(u.MAGIC_NUMBER.hex())']);
    const word = Buffer.from(out.trim(), 'hex').readUInt32LE(0);
    t.is(pycVersion(word & 0xffff), p.version, p.full);
    t.is(pycVersion(word), p.version, `${p.full}, whole magic word`);
  }
  t.log(`checked ${PYTHONS.map((p) => p.full).join(', ')}`);
});

test("knows PyPy's magic number, as PyPy's own", async (t) => {
  if (lacks(t, NO_PYPY, 'PyPy') || PYPY === undefined) return;
  const out = await py(PYPY.exe, ['-c', 'import importlib.util as u; print(u.MAGIC_NUMBER.hex())']);
  const f = pycFormat(Buffer.from(out.trim(), 'hex').readUInt32LE(0));
  t.is(f?.implementation, 'pypy', PYPY.full);
  t.is(f?.version, PYPY.version, PYPY.full);
  t.log(`PyPy ${PYPY.full}: magic ${out.trim()}`);
});

test("knows PyPy's released magics for Python 3.9-3.11, with the code layout of each", (t) => {
  // pypy_incremental_magic in pypy/interpreter/pycode.py at each release-pypy3.X-v7.3.Y tag, and
  // marshal_pycode in pypy/objspace/std/marshal_impl.py (see pyc-magic.ts).
  t.deepEqual(
    PYC_FORMATS.filter((f) => f.implementation === 'pypy').map(
      (f) => `${f.magic}:${f.version}:${f.codeFields}`,
    ),
    [
      '320:3.9:iiiiiibtnnnnssib',
      '336:3.9:iiiiiibtnnnnssib',
      '384:3.10:iiiiiibtnnnnssib',
      '400:3.11:iiiiiibtnnnnssib',
      '416:3.11:iiiiiibtnnnnsssib',
      '432:3.11:iiiiiibtnnnnsssibb',
    ],
  );
  // PyPy 3.8 (256) and the 3.12 branch (448) are not known; every CPython magic is CPython's.
  for (const m of [256, 352, 448]) t.is(pycFormat(m), undefined, String(m));
  for (const f of PYC_FORMATS) t.is(f.implementation, f.magic < 3000 ? 'pypy' : 'cpython');
});

test('knows only the final magic of each CPython 3.6-3.14', (t) => {
  t.deepEqual(
    PYC_FORMATS.filter((f) => f.implementation === 'cpython').map((f) => `${f.magic}:${f.version}`),
    [
      '3379:3.6',
      '3394:3.7',
      '3413:3.8',
      '3425:3.9',
      '3439:3.10',
      '3495:3.11',
      '3531:3.12',
      '3571:3.13',
      '3627:3.14',
    ],
  );
  // Pre-release magics, Python 2.7, a 3.15 alpha and a word not ending in \r\n are not guessed.
  for (const m of [3378, 3390, 3412, 3494, 3530, 3570, 3626, 62211, 3650, 0x0a0e0d4b]) {
    t.is(pycVersion(m), undefined, String(m));
  }
});

test('computes the source hash that _imp.source_hash gives on every CPython 3.7+ and PyPy', async (t) => {
  // Every tail length of the SipHash block, plus a large source with every byte value.
  const sources: Buffer[] = [];
  for (let n = 0; n <= 40; n++)
    sources.push(Buffer.from(Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff)));
  sources.push(Buffer.from(Array.from({ length: 70_001 }, (_, i) => (i * 7919) & 0xff)));
  const input = Buffer.from(sources.map((s) => s.toString('hex')).join('\n') + '\n');
  const script = [
    'import sys, _imp, importlib.util as u',
    'for line in sys.stdin:',
    '    print(_imp.source_hash(u._RAW_MAGIC_NUMBER, bytes.fromhex(line.strip())).hex())',
  ].join('\n');
  const ran: string[] = [];
  // PyPy's _imp.source_hash is SipHash-2-4 in every version (pypy/module/imp/interp_imp.py).
  for (const p of COMPILERS.filter((x) => x.version !== '3.6')) {
    const want = (await py(p.exe, ['-c', script], input)).trim().split('\n');
    const magic = await py(p.exe, [
      '-c',
      'import importlib.util as u; print(u.MAGIC_NUMBER.hex())',
    ]);
    const header = readPycHeader(
      Buffer.concat([Buffer.from(magic.trim(), 'hex'), Buffer.alloc(12)]),
    );
    const got = sources.map((s) => pycSourceHash(header, s).toString('hex'));
    t.deepEqual(got, want, p.full);
    const r = header.format.keyedHash!;
    ran.push(`${p.full}: SipHash-${r.c}-${r.d}`);
  }
  t.log(ran.join(', '));
});

// ---------------------------------------------------------------------------------------------
// Real pycs compiled by each Python

/** A package whose code holds the old path in co_filename and in constants of every kind. */
function writePackage(root: string, old: string): void {
  const q = (s: string): string => JSON.stringify(s);
  const pkg = join(root, 'pkg');
  mkdirSync(join(pkg, 'sub'), { recursive: true });
  writeFileSync(join(pkg, '__init__.py'), `ROOT = ${q(`${old}/pkg`)}\n`);
  writeFileSync(
    join(pkg, 'mod.py'),
    [
      '"""A module with nested code objects."""',
      `HERE = ${q(`${old}/pkg/data`)}`,
      `PATHS = (${q(`${old}/pkg/a`)}, ${q(`file://${old}/pkg/b`)}, ${q(`${old}-2/pkg/c`)})`,
      // A bytes literal: never rewritten in the pyc. Its first "/" is escaped so that the
      // source rewrite below does not put a non-ASCII path into a bytes literal.
      `RAW = b"\\x2f${old.slice(1)}/pkg/raw"`,
      // Long enough for TYPE_ASCII (not the short form); a literal, since 3.6 folds no long str.
      `LONG = ${q(`${old}/pkg/${'x'.repeat(300)}`)}`,
      '',
      'class Thing:',
      `    where = ${q(`${old}/pkg/thing`)}`,
      '',
      '    def method(self, x):',
      '        def inner(y):',
      '            return [lambda z: (z, HERE) for _ in range(y)]',
      '        return inner(x)',
      '',
      'def gen():',
      '    yield from (i * 2 for i in range(3))',
      '',
      'SQUARES = {k: k * k for k in range(5)}',
      '',
      'async def coro():',
      `    return ${q(`${old}/pkg/async`)}`,
      '',
      'def member(p):',
      `    return p in {${q(`${old}/pkg/f1`)}, ${q(`${old}/pkg/f2`)}}`,
      '',
    ].join('\n'),
  );
  writeSubPackage(pkg);
}

/** pkg/sub: nested code objects, and no path anywhere in the source. */
function writeSubPackage(pkg: string): void {
  mkdirSync(join(pkg, 'sub'), { recursive: true });
  writeFileSync(join(pkg, 'sub', '__init__.py'), '');
  writeFileSync(
    join(pkg, 'sub', 'deep.py'),
    [
      'import os',
      'def outer():',
      '    class Inner:',
      '        def m(self):',
      '            return {os.sep: [lambda: x for x in (1, 2)]}',
      '        async def a(self):',
      '            return (y async for y in self)',
      '    return Inner',
      '',
    ].join('\n'),
  );
}

// Loads each pyc with the Python's own marshal and reports every code object's co_filename and
// every str and bytes constant, nested ones included.
const DUMP_PYCS = `
import sys, json, marshal, types
header = int(sys.argv[1])
out = {}
for path in sys.argv[2:]:
    with open(path, 'rb') as f:
        code = marshal.loads(f.read()[header:])
    names, strs, raw = set(), [], []
    def walk(o):
        if isinstance(o, types.CodeType):
            names.add(o.co_filename)
            for c in o.co_consts:
                walk(c)
        elif isinstance(o, (tuple, frozenset)):
            for c in o:
                walk(c)
        elif isinstance(o, str):
            strs.append(o)
        elif isinstance(o, bytes):
            raw.append(o.decode('latin-1'))
    walk(code)
    out[path] = {'filenames': sorted(names), 'strs': strs, 'bytes': raw}
print(json.dumps(out))
`;

interface Dumped {
  filenames: string[];
  strs: string[];
  bytes: string[];
}

// Imports the package with bytecode writing off and reports which sources Python had to compile
// (SourceLoader.source_to_code only runs when no valid pyc is there).
const IMPORT_PKG = `
import os, sys, json
import importlib._bootstrap_external as be
sys.dont_write_bytecode = True
root = sys.argv[1]
sys.path.insert(0, os.fsdecode(bytes.fromhex(root[4:])) if root.startswith('hex:') else root)
compiled = []
original = be.SourceLoader.source_to_code
def spy(self, data, path, *args, **kwargs):
    compiled.append(path)
    return original(self, data, path, *args, **kwargs)
be.SourceLoader.source_to_code = spy
import pkg, pkg.mod, pkg.sub.deep
print(json.dumps({
    'compiled': compiled,
    'here': pkg.mod.HERE,
    'root': pkg.ROOT,
    'lambda_file': pkg.mod.Thing().method(1)[0].__code__.co_filename,
    'file': pkg.mod.__file__,
}))
`;

interface Imported {
  compiled: string[];
  here: string;
  root: string;
  lambda_file: string;
  file: string;
}

type Mode = 'timestamp' | 'checked-hash';

async function compileAll(p: Python, dir: string, mode: Mode, force = false): Promise<void> {
  const args = ['-m', 'compileall', '-q', ...(force ? ['-f'] : [])];
  if (mode === 'checked-hash') args.push('--invalidation-mode', 'checked-hash');
  await py(p.exe, [...args, dir]);
}

async function relocateRealPycs(t: ExecutionContext, p: Python, mode: Mode, newName: string) {
  const base = tempDir(t);
  const old = join(base, 'old-place');
  const now = join(base, newName);
  writePackage(old, old);
  await compileAll(p, join(old, 'pkg'), mode);
  const originals = snapshot(old);
  t.is(originals.size, 4, 'one pyc per module');
  const mappings = [mapping(old, now)];

  // 1. Rewrite every pyc in place and check it with the Python's own marshal.
  for (const [path, bytes] of originals) {
    const out = rewritePyc(bytes, { mappings });
    if (out === undefined) return t.fail(`${path} was not rewritten`);
    writeFileSync(path, out);
  }
  const header = pycFormat(magicOf(originals.values().next().value!))!.headerSize;
  const dumped = JSON.parse(
    await py(p.exe, ['-c', DUMP_PYCS, String(header), ...originals.keys()]),
  ) as Record<string, Dumped>;
  for (const [path, d] of Object.entries(dumped)) {
    const source = join(now, relative(old, path)).replace(/__pycache__\/([^.]+)\..*$/, '$1.py');
    t.deepEqual(d.filenames, [source], `co_filename of every code object in ${path}`);
    t.false(
      d.strs.some((s) => s.includes(`${old}/`)),
      'no str holds the old path',
    );
  }
  const mod = Object.entries(dumped).find(([path]) => path.includes('/mod.'))![1];
  for (const s of [`${now}/pkg/data`, `${now}/pkg/a`, `file://${now}/pkg/b`, `${old}-2/pkg/c`]) {
    t.true(mod.strs.includes(s), s);
  }
  t.true(mod.strs.includes(`${now}/pkg/${'x'.repeat(300)}`), 'the long constant');
  t.true(mod.strs.includes(`${now}/pkg/f1`) && mod.strs.includes(`${now}/pkg/thing`));
  t.true(mod.strs.includes(`${now}/pkg/async`), 'the coroutine constant');
  t.deepEqual(
    mod.bytes.filter((b) => b.includes('/pkg/raw')),
    [`${old}/pkg/raw`],
    'bytes kept',
  );

  // 2. Move the tree: Python uses the rewritten pycs as they are.
  mkdirSync(dirname(now), { recursive: true });
  renameSync(old, now);
  const moved = snapshot(now);
  const first = JSON.parse(await py(p.exe, ['-c', IMPORT_PKG, now])) as Imported;
  t.deepEqual(first.compiled, [], 'no module compiled from source');
  t.is(first.here, `${now}/pkg/data`, 'HERE comes from the rewritten pyc');
  t.is(first.lambda_file, `${now}/pkg/mod.py`);
  t.deepEqual(snapshot(now), moved, 'importing changed no pyc');

  // 3. The same run rewrites the sources that hold the path; their mtime is restored.
  const sources = new Map<string, Buffer>();
  for (const src of files(now, '.py')) {
    const text = readFileSync(src).toString('latin1');
    const changed = replacePaths(text, mappings);
    if (changed === undefined) continue;
    const st = statSync(src);
    const bytes = Buffer.from(changed, 'latin1');
    writeFileSync(src, bytes);
    utimesSync(src, st.atime, st.mtime);
    sources.set(src, bytes);
  }
  t.is(sources.size, 2, 'pkg/__init__.py and pkg/mod.py hold the path');
  const stale = JSON.parse(await py(p.exe, ['-c', IMPORT_PKG, now])) as Imported;
  t.deepEqual(stale.compiled.sort(), [...sources.keys()].sort(), 'an unchanged header is stale');
  for (const [src, bytes] of sources) {
    const stem = src.slice(src.lastIndexOf('/') + 1, -3);
    const [pyc] = [...moved.keys()].filter((k) =>
      k.startsWith(`${dirname(src)}/__pycache__/${stem}.`),
    );
    const original = originals.get(join(old, relative(now, pyc!)))!;
    const out = rewritePyc(original, { mappings, newSource: bytes });
    if (out === undefined) return t.fail(`${pyc} was not rewritten`);
    t.false(out.subarray(0, header).equals(original.subarray(0, header)), 'header follows source');
    writeFileSync(pyc!, out);
  }
  const final = snapshot(now);
  const second = JSON.parse(await py(p.exe, ['-c', IMPORT_PKG, now])) as Imported;
  t.deepEqual(second.compiled, [], 'the pycs match the rewritten sources');
  t.is(second.root, `${now}/pkg`);

  // 4. compileall finds nothing to do. Only for timestamp pycs: compileall recompiles every
  //    hash-based pyc whatever its state (it only compares timestamp headers), and a recompile
  //    differs from the original compile where source columns moved (3.11+ location tables)
  //    or frozensets were ordered by other str hashes. The import above covers those.
  if (mode === 'timestamp') {
    await compileAll(p, join(now, 'pkg'), mode);
    const after = snapshot(now);
    for (const [path, bytes] of final) t.true(after.get(path)?.equals(bytes), `${path} unchanged`);
  }
  return undefined;
}

const LONG_NAME = `${'long-'.repeat(30)}a/${'path-'.repeat(30)}b/new-place`;
const UNICODE_NAME = 'nëw-plàce-日本語';

for (const p of COMPILERS) {
  const modes: Mode[] = p.version === '3.6' ? ['timestamp'] : ['timestamp', 'checked-hash'];
  for (const mode of modes) {
    test(`relocates ${mode} pycs compiled by Python ${p.full} (${p.exe}) to a path over 255 bytes`, async (t) => {
      await relocateRealPycs(t, p, mode, LONG_NAME);
      t.log(`Python ${p.full}, ${mode}`);
    });
    test(`relocates ${mode} pycs compiled by Python ${p.full} (${p.exe}) to a non-ASCII path`, async (t) => {
      await relocateRealPycs(t, p, mode, UNICODE_NAME);
      t.log(`Python ${p.full}, ${mode}`);
    });
  }
}

for (const p of COMPILERS) {
  test(`rewrites co_filename exactly as Python ${p.full} (${p.exe}) compiles it at the new place`, async (t) => {
    // With no path in the sources, a compile at the new place differs from the old one by
    // co_filename alone: our rewrite must give the very same bytes, string forms and FLAG_REF
    // bits included. The moved sources keep their mtime, so the timestamp headers agree too.
    let compared = 0;
    for (const name of ['new-place', LONG_NAME, UNICODE_NAME]) {
      const base = tempDir(t);
      const old = join(base, 'old-place');
      const now = join(base, name);
      writeSubPackage(join(old, 'pkg'));
      writeFileSync(join(old, 'pkg', '__init__.py'), 'from .sub import deep\n');
      await compileAll(p, join(old, 'pkg'), 'timestamp');
      for (const [path, bytes] of snapshot(old)) {
        writeFileSync(
          path,
          rewritePyc(bytes, { mappings: [mapping(old, now)] }) ?? Buffer.alloc(0),
        );
      }
      mkdirSync(dirname(now), { recursive: true });
      renameSync(old, now);
      const ours = snapshot(now);
      await compileAll(p, join(now, 'pkg'), 'timestamp', true);
      for (const [path, bytes] of snapshot(now)) {
        t.true(ours.get(path)?.equals(bytes), `${path} as Python compiles it`);
        compared++;
      }
    }
    t.is(compared, 9);
    t.log(`Python ${p.full}: ${compared} pycs compared`);
  });
}

const NEWEST = PYTHONS[PYTHONS.length - 1];

test('writes a non-UTF-8 new path the way Python decodes file names (surrogateescape)', async (t) => {
  if (NEWEST === undefined) return t.fail('no Python');
  const base = tempDir(t);
  const old = join(base, 'old-place');
  writePackage(old, old);
  await compileAll(NEWEST, join(old, 'pkg'), 'timestamp');
  // A Latin-1 "é" (0xE9) is not UTF-8: Python holds it as U+DCE9.
  const now = Buffer.concat([Buffer.from(`${base}/caf`), Buffer.from([0xe9])]);
  const mappings: Mapping[] = [{ from: utf8ToBytes(old), to: now.toString('latin1') }];
  for (const [path, bytes] of snapshot(old)) writeFileSync(path, rewritePyc(bytes, { mappings })!);
  renameSync(Buffer.from(old), now);
  const hex = now.toString('hex');
  const check = [
    IMPORT_PKG,
    'import os',
    `want = os.fsdecode(bytes.fromhex('${hex}')) + '/pkg/mod.py'`,
    'got = pkg.mod.Thing.method.__code__.co_filename',
    "assert '\\udce9' in want and got == want == pkg.mod.__file__, (got, want)",
  ].join('\n');
  const out = await py(NEWEST.exe, ['-c', check, `hex:${hex}`]);
  t.deepEqual((JSON.parse(out) as Imported).compiled, []);
  t.log(`Python ${NEWEST.full}`);
  return undefined;
});

// ---------------------------------------------------------------------------------------------
// Every pyc of every standard library

async function stdlibPycs(p: Python): Promise<string[]> {
  const stdlib = (
    await py(p.exe, ['-c', 'import sysconfig; print(sysconfig.get_paths()["stdlib"])'])
  ).trim();
  return [...files(stdlib, '.pyc')];
}

for (const p of COMPILERS) {
  test(`round-trips every pyc of the standard library of Python ${p.full} (${p.exe}) byte for byte`, async (t) => {
    let pycs = await stdlibPycs(p);
    let where = 'its __pycache__ folders';
    if (pycs.length < 100 && p.version !== '3.6' && p.version !== '3.7') {
      // Too few compiled yet: compile a copy of the stdlib elsewhere (-X pycache_prefix, 3.8+).
      const prefix = tempDir(t);
      const stdlib = (
        await py(p.exe, ['-c', 'import sysconfig; print(sysconfig.get_paths()["stdlib"])'])
      ).trim();
      await py(p.exe, ['-X', `pycache_prefix=${prefix}`, '-m', 'compileall', '-q', stdlib]).catch(
        () => '',
      );
      pycs = [...files(prefix, '.pyc')];
      where = `a fresh compile into ${prefix}`;
    }
    const versions = new Map<string, number>();
    const nothing = [mapping('/no/such/old-place', '/elsewhere')];
    let bytesRead = 0;
    for (const path of pycs) {
      const bytes = readFileSync(path);
      bytesRead += bytes.length;
      const version = pycVersion(magicOf(bytes)) ?? 'unknown';
      versions.set(version, (versions.get(version) ?? 0) + 1);
      const again = roundTripPyc(bytes);
      if (!again.equals(bytes)) t.fail(`${path} changed`);
      if (rewritePyc(bytes, { mappings: nothing }) !== undefined) t.fail(`${path} rewritten`);
    }
    t.true(pycs.length >= 100, `only ${pycs.length} pycs`);
    t.deepEqual([...versions.keys()], [p.version], 'every pyc has this Python magic');
    t.log(
      `Python ${p.full}: ${pycs.length} pycs (${(bytesRead / 1e6).toFixed(1)} MB) from ${where}`,
    );
  });
}

// ---------------------------------------------------------------------------------------------
// Hand-made marshal streams (3.11+ layout), for what no compiler writes

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
};
const bytesObj = (b: Buffer): Buffer => Buffer.concat([Buffer.from('s'), u32(b.length), b]);
const shortAscii = (s: string, type = 'z', ref = false): Buffer =>
  Buffer.concat([
    Buffer.from([type.charCodeAt(0) | (ref ? 0x80 : 0), s.length]),
    Buffer.from(s, 'latin1'),
  ]);
const ref = (i: number): Buffer => Buffer.concat([Buffer.from('r'), u32(i)]);
const smallTuple = (...items: Buffer[]): Buffer =>
  Buffer.concat([Buffer.from([0x29, items.length]), ...items]);

/**
 * A 3.11-layout code object: argcount, posonly, kwonly, stacksize, flags, code, consts, names,
 * localsplusnames, localspluskinds, filename, name, qualname, firstlineno, linetable,
 * exceptiontable. The bytecode is RESUME 0, LOAD_CONST 0, RETURN_VALUE for 3.11.
 */
function code311(
  filename: Buffer,
  consts: Buffer[],
  flagRef = false,
  names: Buffer[] = [],
): Buffer {
  return Buffer.concat([
    Buffer.from([0x63 | (flagRef ? 0x80 : 0)]),
    u32(0),
    u32(0),
    u32(0),
    u32(1),
    u32(0),
    bytesObj(Buffer.from([151, 0, 100, 0, 83, 0])),
    smallTuple(...consts),
    smallTuple(...names),
    smallTuple(),
    bytesObj(Buffer.alloc(0)),
    filename,
    shortAscii('<module>', 'Z'),
    shortAscii('<module>', 'Z'),
    u32(1),
    bytesObj(Buffer.alloc(0)),
    bytesObj(Buffer.alloc(0)),
  ]);
}

const HEADER_311 = Buffer.concat([Buffer.from([0xa7, 0x0d, 0x0d, 0x0a]), Buffer.alloc(12)]);
const pyc311 = (body: Buffer): Buffer => Buffer.concat([HEADER_311, body]);
const OLD = '/srv/old-place';
const MAP = [mapping(OLD, '/srv/new')];
// A Python whose marshal reads the 3.11 layout and whose opcodes match the hand-made bytecode
// (3.13 renumbered them), to check the hand-made cases against.
const MODERN = PYTHONS.find((p) => p.version === '3.11' || p.version === '3.12');
const NO_MODERN: Missing | undefined =
  MODERN === undefined
    ? { what: 'CPython 3.11 or 3.12', install: 'pyenv install 3.11' }
    : undefined;

/** Whether CPython's marshal.loads accepts each stream; undefined without a 3.11/3.12. */
async function cpythonLoads(
  t: ExecutionContext,
  streams: Buffer[],
): Promise<boolean[] | undefined> {
  if (lacks(t, NO_MODERN, 'the cross-check with CPython') || MODERN === undefined) {
    return undefined;
  }
  t.log(`cross-checked with Python ${MODERN.full}`);
  const script = [
    'import sys, marshal',
    'for line in sys.stdin:',
    '    try:',
    '        marshal.loads(bytes.fromhex(line.strip())[16:])',
    '        print("ok")',
    '    except Exception as e:',
    '        print(type(e).__name__)',
  ].join('\n');
  const input = Buffer.from(streams.map((s) => s.toString('hex')).join('\n') + '\n');
  return (await py(MODERN.exe, ['-c', script], input))
    .trim()
    .split('\n')
    .map((l) => l === 'ok');
}

function reasonOf(f: () => unknown): string | undefined {
  try {
    f();
    return undefined;
  } catch (e) {
    if (e instanceof RewriteError) return e.reason;
    throw e;
  }
}

test('returns undefined without parsing when no mapping path is in the bytes', (t) => {
  // Garbage after a valid magic, and an unknown magic: neither is looked at.
  t.is(rewritePyc(pyc311(Buffer.from('?garbage')), { mappings: MAP }), undefined);
  t.is(rewritePyc(Buffer.from('not a pyc at all'), { mappings: MAP }), undefined);
  t.is(rewritePyc(Buffer.alloc(0), { mappings: MAP }), undefined);
});

test('throws unknown-magic for a pyc of a Python it does not know when it holds the path', (t) => {
  const body = code311(shortAscii(`${OLD}/m.py`), []);
  const alpha = Buffer.concat([Buffer.from([0x0e, 0x0d, 0x0d, 0x0a]), Buffer.alloc(12), body]); // 3342
  t.is(
    reasonOf(() => rewritePyc(alpha, { mappings: MAP })),
    'unknown-magic',
  );
  t.is(
    reasonOf(() => rewritePyc(pyc311(body), { mappings: MAP })),
    undefined,
  );
});

test('switches to the long, UTF-8 and interned forms a new value needs, keeping FLAG_REF', async (t) => {
  const long = `/srv/${'n'.repeat(300)}`;
  const cases: [string, Buffer, string, number][] = [
    // [to, original str object, expected type byte of the result]
    [long, shortAscii(`${OLD}/m.py`, 'z', true), 'a', 0x80],
    [long, shortAscii(`${OLD}/m.py`, 'Z'), 'A', 0],
    ['/srv/nëw', shortAscii(`${OLD}/m.py`, 'z'), 'u', 0],
    ['/srv/nëw', shortAscii(`${OLD}/m.py`, 'Z', true), 't', 0x80],
    ['/srv/n', Buffer.concat([Buffer.from('a'), u32(14 + 5), Buffer.from(`${OLD}/m.py`)]), 'z', 0],
  ];
  const outputs: Buffer[] = [];
  for (const [to, str, type, flag] of cases) {
    const out = rewritePyc(pyc311(code311(str, [])), { mappings: [mapping(OLD, to)] })!;
    const at = 16 + 1 + 20 + 11 + 2 + 2 + 2 + 5; // the filename's type byte
    t.is(out[at], type.charCodeAt(0) | flag, `${type} for ${to.slice(0, 12)}`);
    outputs.push(out);
  }
  const loads = await cpythonLoads(t, outputs);
  if (loads !== undefined)
    t.deepEqual(
      loads,
      outputs.map(() => true),
    );
});

test('keeps back references to a rewritten str valid', async (t) => {
  // consts = (str flagged into ref slot 0, code object whose co_filename is TYPE_REF 0).
  const inner = code311(ref(0), []);
  const stream = code311(shortAscii('x'), [shortAscii(`${OLD}/m.py`, 'z', true), inner]);
  const out = rewritePyc(pyc311(stream), { mappings: [mapping(OLD, `/srv/${'n'.repeat(300)}`)] });
  if (out === undefined) return t.fail('not rewritten');
  // The 19-byte path was 'z' + length byte; the 310-byte one is 'a' + int32 length.
  t.is(out.length, 16 + stream.length - (2 + 19) + (5 + 310), 'one str grew, in the long form');
  const script = [
    'import sys, marshal',
    'c = marshal.loads(bytes.fromhex(sys.stdin.read().strip())[16:])',
    'print(c.co_consts[0] is c.co_consts[1].co_filename, len(c.co_consts[0]))',
  ].join('\n');
  if (!lacks(t, NO_MODERN, 'the cross-check with CPython') && MODERN !== undefined) {
    const said = await py(MODERN.exe, ['-c', script], Buffer.from(out.toString('hex')));
    t.is(said.trim(), `True ${5 + 300 + 5}`, `Python ${MODERN.full}`);
  }
  return undefined;
});

test('rewrites the paths of several mappings, a venv inside a moved root included, in either order', (t) => {
  // Each venv path also holds the root, so the two searches find overlapping places, and the
  // last place (co_filename, after the consts) is the root's alone: the walk must reach it.
  const root = '/srv/old-root';
  const venv = `${root}/venv`;
  const input = pyc311(
    code311(shortAscii(`${root}/src/m.py`), [
      shortAscii(`${venv}/a`),
      shortAscii(`${root}/src/b`),
      shortAscii(`${venv}/c`, 'z', true),
      shortAscii(`${root}-2/d`),
      ref(0),
    ]),
  );
  const want = pyc311(
    code311(shortAscii('/opt/r/src/m.py'), [
      shortAscii('/opt/v/a'),
      shortAscii('/opt/r/src/b'),
      shortAscii('/opt/v/c', 'z', true),
      shortAscii(`${root}-2/d`),
      ref(0),
    ]),
  );
  const venvMap = mapping(venv, '/opt/v');
  const rootMap = mapping(root, '/opt/r');
  t.deepEqual(rewritePyc(input, { mappings: [venvMap, rootMap] }), want, 'venv mapping first');
  t.deepEqual(rewritePyc(input, { mappings: [rootMap, venvMap] }), want, 'root mapping first');
});

test('walks every marshal type and rewrites paths inside every kind of container', async (t) => {
  const raw = (...parts: (string | Buffer | number[])[]): Buffer =>
    Buffer.concat(
      parts.map((x) => (typeof x === 'string' ? Buffer.from(x, 'latin1') : Buffer.from(x))),
    );
  const path = `${OLD}/p`;
  const z = (v: string): Buffer => shortAscii(v);
  const consts = [
    raw('[', u32(2), shortAscii(path, 'z', true), 'i', u32(5)), // list; its str takes ref slot 0
    raw('{', z('k'), z(path), z(path), 'N', '0'), // dict, NULL-terminated
    raw('<', u32(1), z(path)), // set
    raw('>', u32(2), z(`${path}/a`), 'F'), // frozenset
    raw('I', [1, 0, 0, 0, 0, 0, 0, 1]), // TYPE_INT64, read but no longer written
    raw('f', [3], '1.5'), // text float
    raw('x', [1], '1', [2], '-2'), // text complex
    raw('g', Buffer.from(new Float64Array([2.5]).buffer)),
    raw('y', Buffer.from(new Float64Array([3, -4]).buffer)),
    raw('l', u32(2), [1, 0, 1, 0]), // 1 + 2**15
    raw('l', u32(-1), [7, 0]), // -7
    ...[...'STFN.'].map((c) => raw(c)), // StopIteration, True, False, None, Ellipsis
    raw('a', u32(path.length), path), // long ASCII form, short value
    raw('t', u32(path.length + 2), path, [0xc3, 0xa9]), // interned UTF-8
    raw('u', u32(path.length + 3), path, [0xed, 0xb2, 0x80]), // a lone surrogate (surrogatepass)
    raw('z', [path.length + 1], path, [0xe9]), // a Latin-1 byte in an ASCII kind
    raw(')', [2], 'r', u32(0), [0x80 | 0x7a, 1], 'q'), // a ref to slot 0, and a flagged str
  ];
  const now = '/srv/new';
  const out = rewritePyc(pyc311(code311(z(`${OLD}/m.py`), consts)), {
    mappings: [mapping(OLD, now)],
  });
  if (out === undefined) return t.fail('not rewritten');
  t.false(out.includes(OLD), 'no old path left');
  t.deepEqual(roundTripPyc(out), out);
  if (lacks(t, NO_MODERN, 'the cross-check with CPython') || MODERN === undefined) {
    return undefined;
  }
  const script = [
    'import sys, marshal',
    'new = sys.argv[1] + "/p"',
    'c = marshal.loads(bytes.fromhex(sys.stdin.read().strip())[16:])',
    'want = ([new, 5], {"k": new, new: None}, {new}, frozenset({new + "/a", False}),',
    '        72057594037927937, 1.5, 1-2j, 2.5, 3-4j, 1 + 2**15, -7,',
    '        StopIteration, True, False, None, ..., new, new + "\\u00e9", new + "\\udc80",',
    '        new + "\\u00e9", (new, "q"))',
    'print(c.co_filename == sys.argv[1] + "/m.py", c.co_consts == want)',
  ].join('\n');
  const said = await py(MODERN.exe, ['-c', script, now], Buffer.from(out.toString('hex')));
  t.is(said.trim(), 'True True', `Python ${MODERN.full}`);
  t.log(`cross-checked with Python ${MODERN.full}`);
  return undefined;
});

test('walks the TYPE_SLICE of 3.14 pycs, and only of those', (t) => {
  const body = code311(shortAscii(`${OLD}/m.py`), [
    Buffer.concat([Buffer.from(':'), shortAscii(`${OLD}/s`), Buffer.from('NN')]),
  ]);
  const header314 = Buffer.concat([Buffer.from([0x2b, 0x0e, 0x0d, 0x0a]), Buffer.alloc(12)]); // 3627
  const out = rewritePyc(Buffer.concat([header314, body]), {
    mappings: [mapping(OLD, '/srv/new')],
  });
  t.truthy(out);
  t.true(out!.includes('/srv/new/s') && !out!.includes(OLD));
  t.is(
    reasonOf(() => rewritePyc(pyc311(body), { mappings: MAP })),
    'corrupt',
  );
});

/**
 * A code object in PyPy's layout (pypy/objspace/std/marshal_impl.py, marshal_pycode): argcount,
 * posonly, kwonly, nlocals, stacksize, flags, code, consts, names, varnames, freevars, cellvars,
 * filename, name, then qualname (7.3.19+, magic 416) and, after linetable, exceptiontable
 * (7.3.23, magic 432).
 */
function codePyPy(filename: string, consts: Buffer[], magic: number): Buffer {
  const text = (s: string) => shortAscii(s, 'Z');
  return Buffer.concat([
    Buffer.from('c'),
    ...[0, 0, 0, 0, 1, 0].map(u32),
    bytesObj(Buffer.from([100, 0, 83, 0])), // LOAD_CONST 0, RETURN_VALUE
    smallTuple(...consts),
    smallTuple(text('os')),
    smallTuple(text('x')),
    smallTuple(),
    smallTuple(),
    shortAscii(filename),
    text('<module>'),
    ...(magic >= 416 ? [text('<module>')] : []),
    u32(1),
    bytesObj(Buffer.alloc(0)),
    ...(magic >= 432 ? [bytesObj(Buffer.alloc(0))] : []),
  ]);
}

const pypyPyc = (magic: number, body: Buffer): Buffer =>
  Buffer.concat([u32(magic | 0x0a0d0000), Buffer.alloc(12), body]);

test("rewrites PyPy 3.9-3.11 pycs in each release's code layout, nested code included", async (t) => {
  const magics = [320, 336, 384, 400, 416, 432];
  const streams = new Map<number, Buffer>();
  for (const magic of magics) {
    const inner = codePyPy(`${OLD}/m.py`, [shortAscii(`${OLD}/data`)], magic);
    const pyc = pypyPyc(magic, codePyPy(`${OLD}/m.py`, [inner, Buffer.from('N')], magic));
    t.true(roundTripPyc(pyc).equals(pyc), `${magic}: the walk reads the whole stream`);
    const out = rewritePyc(pyc, { mappings: MAP });
    if (out === undefined) return t.fail(`${magic}: not rewritten`);
    t.false(out.includes(OLD), `${magic}: no old path left`);
    t.is(out.toString('latin1').split('/srv/new/m.py').length - 1, 2, `${magic}: both filenames`);
    t.true(roundTripPyc(out).equals(out), `${magic}: the result is a whole stream of its layout`);
    streams.set(magic, out);
  }
  // The layouts differ: a stream read with the wrong release's layout does not come out whole.
  const as = (magic: number, from: number) => pypyPyc(magic, streams.get(from)!.subarray(16));
  for (const [magic, from] of [
    [400, 416],
    [416, 400],
    [416, 432],
    [432, 416],
  ] as const) {
    t.is(
      reasonOf(() => roundTripPyc(as(magic, from))),
      'corrupt',
      `${from} read as ${magic}`,
    );
  }
  // The 3.9 and 3.10 layouts are CPython 3.8-3.10's: CPython's and PyPy's marshal read them.
  const readers = [...PYTHONS.filter((p) => p.version === '3.9' || p.version === '3.10')];
  if (PYPY !== undefined) readers.push(PYPY);
  const script = [
    'import sys, marshal',
    'for line in sys.stdin:',
    '    c = marshal.loads(bytes.fromhex(line.strip())[16:])',
    '    print(c.co_filename, c.co_consts[0].co_filename, c.co_consts[0].co_consts[0])',
  ].join('\n');
  const input = Buffer.from(
    [320, 336, 384, 400].map((m) => streams.get(m)!.toString('hex')).join('\n') + '\n',
  );
  for (const p of readers) {
    const lines = (await py(p.exe, ['-c', script], input)).trim().split('\n');
    t.deepEqual(lines, Array(4).fill('/srv/new/m.py /srv/new/m.py /srv/new/data'), p.full);
  }
  t.log(`read back with ${readers.map((p) => p.full).join(', ')}`);
  return undefined;
});

test('refuses corrupt marshal data, as CPython does', async (t) => {
  const path = shortAscii(`${OLD}/m.py`);
  const raw = (...parts: (string | Buffer | number[])[]): Buffer =>
    Buffer.concat(
      parts.map((x) => (typeof x === 'string' ? Buffer.from(x, 'latin1') : Buffer.from(x))),
    );
  // [what, stream, CPython can be asked too]: a huge tuple count would make CPython allocate
  // and zero gigabytes before failing, so it is not asked about that one.
  const cases: [string, Buffer, boolean][] = [
    ['unknown type', code311(path, [raw('?')]), true],
    ['ref out of range', code311(path, [ref(5)]), true],
    ['negative ref', code311(path, [ref(-1)]), true],
    ['ref to the code object being read', code311(path, [ref(0)], true), true],
    ['NULL in a tuple', code311(path, [raw('0')]), true],
    ['huge str length', code311(raw('a', u32(0x7fffffff), `${OLD}/m.py`), []), true],
    ['negative str length', code311(raw('u', u32(-2)), [path]), true],
    ['huge tuple count', code311(path, [raw('(', u32(0x7fffffff))]), false],
    ['invalid UTF-8', code311(path, [raw('u', u32(2), [0xc3, 0x28])]), true],
    ['overlong UTF-8', code311(path, [raw('u', u32(2), [0xc0, 0xaf])]), true],
    ['unhashable set item', code311(path, [raw('>', u32(1), '[', u32(0))]), true],
    ['unhashable dict key', code311(path, [raw('{[', u32(0), 'N0')]), true],
    ['unnormalized long', code311(path, [raw('l', u32(1), [0, 0])]), true],
    ['long digit out of range', code311(path, [raw('l', u32(1), [0, 0x80])]), true],
    ['bad text float', code311(path, [raw('f', [3], '1e+')]), true],
    ['slice before 3.14', code311(path, [raw(':NNN')]), true],
    ['a name that is not a str', code311(path, [], false, [raw('i', u32(7))]), true],
    ['co_filename that is bytes', code311(bytesObj(Buffer.from(`${OLD}/m.py`)), [path]), true],
    ['top level not code', smallTuple(path), false],
  ];
  for (const [what, body] of cases) {
    t.is(
      reasonOf(() => rewritePyc(pyc311(body), { mappings: MAP })),
      'corrupt',
      what,
    );
  }
  const asked = cases.filter(([, , ask]) => ask);
  const loads = await cpythonLoads(
    t,
    asked.map(([, b]) => pyc311(b)),
  );
  if (loads !== undefined) {
    t.deepEqual(
      loads.map((ok, i) => `${asked[i]![0]}: ${ok ? 'loads' : 'refused'}`),
      asked.map(([what]) => `${what}: refused`),
    );
  }
  // Trailing bytes that hold the path, a bad header flag, and every truncation up to the end of
  // the first str after the last path, all of which the walk reads. (What comes after that str
  // is copied unread: see the next test.)
  const valid = pyc311(code311(path, [shortAscii(`${OLD}/x`), raw('N')]));
  const rewritten = rewritePyc(valid, { mappings: MAP })!;
  t.truthy(rewritten);
  t.is(
    reasonOf(() => rewritePyc(raw(valid, OLD), { mappings: MAP })),
    'corrupt',
    'trailing bytes holding the path',
  );
  const flagged = Buffer.from(valid);
  flagged[4] = 4;
  t.is(
    reasonOf(() => rewritePyc(flagged, { mappings: MAP })),
    'corrupt',
    'header flags',
  );
  // The last path is co_filename's; the first str after it is co_name.
  const stop = valid.lastIndexOf(OLD) + `${OLD}/m.py`.length + shortAscii('<module>', 'Z').length;
  let truncations = 0;
  for (let n = valid.indexOf(OLD) + OLD.length; n < stop; n++) {
    t.is(
      reasonOf(() => rewritePyc(valid.subarray(0, n), { mappings: MAP })),
      'corrupt',
      `cut at ${n}`,
    );
    truncations++;
  }
  // Cut later, the end is missing from the output as it was from the input.
  const grown = rewritten.length - valid.length;
  for (let n = stop; n < valid.length; n++) {
    t.deepEqual(
      rewritePyc(valid.subarray(0, n), { mappings: MAP }),
      rewritten.subarray(0, n + grown),
      `cut at ${n}, past co_name`,
    );
  }
  t.log(`${cases.length + 2} corrupt streams and ${truncations} truncations refused`);
});

test('copies the bytes after the last path unread, and still refuses corruption before it', async (t) => {
  // The walk stops at the first str that starts after the last path the byte search found, and
  // the rest is copied as it is, just as a pyc holding no path is not parsed at all. Garbage
  // there stays as it was; garbage before the path, or between it and that str, is refused.
  const name = shortAscii('m.py');
  const path = shortAscii(`${OLD}/a`);
  const moved = shortAscii('/srv/new/a');
  const next = shortAscii('next');
  const garbage: [string, Buffer][] = [
    ['unknown type', Buffer.from('?')],
    ['ref out of range', ref(99)],
    ['invalid UTF-8', Buffer.concat([Buffer.from('u'), u32(2), Buffer.from([0xc3, 0x28])])],
  ];
  const copied: Buffer[] = [];
  for (const [what, bad] of garbage) {
    const input = pyc311(code311(name, [path, next, bad]));
    const out = rewritePyc(input, { mappings: MAP });
    t.deepEqual(out, pyc311(code311(name, [moved, next, bad])), `${what} after: copied`);
    copied.push(input, out ?? Buffer.alloc(0));
    const places: [string, Buffer[]][] = [
      ['before the path', [bad, path, next]],
      ['between the path and the next str', [path, bad, next]],
    ];
    for (const [where, consts] of places) {
      t.is(
        reasonOf(() => rewritePyc(pyc311(code311(name, consts)), { mappings: MAP })),
        'corrupt',
        `${what} ${where}`,
      );
    }
  }
  // Bytes after the code object: marshal.loads ignores them, and the copy keeps them.
  const trailing = Buffer.from('N?');
  const input = Buffer.concat([pyc311(code311(shortAscii(`${OLD}/m.py`), [])), trailing]);
  const out = rewritePyc(input, { mappings: MAP });
  const want = Buffer.concat([pyc311(code311(shortAscii('/srv/new/m.py'), [])), trailing]);
  t.deepEqual(out, want, 'trailing bytes copied');
  // CPython reads the copied part the same way in input and output.
  const loads = await cpythonLoads(t, [...copied, input, want]);
  if (loads !== undefined) {
    t.deepEqual(loads, [...copied.map(() => false), true, true]);
  }
});

test('accepts nesting up to CPython 2000-deep limit and refuses one level more', async (t) => {
  // Depth: the code object is 1, its consts tuple 2, then the nested tuples, then the None.
  const nested = (depth: number): Buffer =>
    pyc311(
      code311(shortAscii(`${OLD}/m.py`), [
        Buffer.concat([Buffer.alloc((depth - 3) * 2, Buffer.from([0x29, 1])), Buffer.from('N')]),
      ]),
    );
  t.truthy(rewritePyc(nested(2000), { mappings: MAP }));
  t.is(
    reasonOf(() => rewritePyc(nested(2001), { mappings: MAP })),
    'corrupt',
  );
  t.is(
    reasonOf(() => rewritePyc(nested(200_000), { mappings: MAP })),
    'corrupt',
  );
  const loads = await cpythonLoads(t, [nested(2000), nested(2001)]);
  if (loads !== undefined) t.deepEqual(loads, [true, false]);
});

test('the source of a pyc: its __pycache__ folder and its tag are dropped, nothing else', (t) => {
  const cases: Array<[string, string]> = [
    ['d/__pycache__/m.cpython-311.pyc', 'd/m.py'],
    ['d/__pycache__/m.cpython-311.opt-1.pyc', 'd/m.py'],
    ['d/__pycache__/m.cpython-36.opt-2.pyc', 'd/m.py'],
    ['__pycache__/m.cpython-312.pyc', 'm.py'],
    // Any interpreter's cache tag: PyPy's, a future CPython's, GraalPy's.
    ['d/__pycache__/__init__.pypy39.pyc', 'd/__init__.py'],
    ['d/__pycache__/m.pypy310.opt-1.pyc', 'd/m.py'],
    ['d/__pycache__/m.cpython-399.pyc', 'd/m.py'],
    ['d/__pycache__/m.graalpy242-311.pyc', 'd/m.py'],
    // Only a cached pyc has a tag: a legacy one is named after its source alone.
    ['d/m.cpython-311.pyc', 'd/m.cpython-311.py'],
    ['d/lib2.pyc', 'd/lib2.py'],
    ['d/m.pyc', 'd/m.py'], // Python 2's pyc beside its source
    ['d/m.pyo', 'd/m.py'],
    ['m.pyc', 'm.py'],
    ['d/__pycache__/pkg.tar.cpython-311.pyc', 'd/pkg.tar.py'],
    ['d/__pycache__/a.b-1.opt-22.pyc', 'd/a.b-1.py'], // `.opt-22` is no optimization tag
    ['d/__pycache__/.x-1.pyc', 'd/.x-1.py'], // the name is not only a tag
    ['d/__pycache__/__pycache__/m.cpython-311.pyc', 'd/__pycache__/m.py'],
    // Only a folder named exactly __pycache__ is dropped (and only there is a tag).
    ['d/x__pycache__/m.cpython-311.pyc', 'd/x__pycache__/m.cpython-311.py'],
    ['d/.pyc', 'd/.pyc'],
    ['d/m.py', 'd/m.py'],
  ];
  for (const [pyc, source] of cases) t.is(sourceOfPyc(pyc), source, pyc);
});

test("the cache tag of a pyc's name, and its optimization level", (t) => {
  t.deepEqual(pycCacheTag('d/__pycache__/m.cpython-311.pyc'), { tag: 'cpython-311', optimize: 0 });
  t.deepEqual(pycCacheTag('d/__pycache__/m.cpython-311.opt-2.pyc'), {
    tag: 'cpython-311',
    optimize: 2,
  });
  t.deepEqual(pycCacheTag('__pycache__/__init__.pypy39.pyc'), { tag: 'pypy39', optimize: 0 });
  t.is(pycCacheTag('d/m.pyc'), undefined, 'a legacy pyc names no interpreter');
  t.is(pycCacheTag('d/m.cpython-311.pyc'), undefined, 'nor outside __pycache__');
  t.is(pycCacheTag('d/__pycache__/.x-1.pyc'), undefined, 'a name that is only a tag');
});

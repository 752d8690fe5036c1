import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fromBytes, toBytes } from '../../src/core/path-boundary.js';
import { pycCompiledAt } from '../../src/scan/pyc-compiled-at.js';
import { pthLocations, recordLocations, venvOfSitePath } from '../../src/scan/site-evidence.js';
import { findPythons, type Python } from '../helpers/pythons.js';
import { runOk } from '../helpers/run.js';
import { freshDir } from '../helpers/scratch.js';

// Where a pyc was compiled, read off the raw bytes of pycs that real CPythons wrote: the path
// in front of the source's place in the venv, in every form marshal writes a str (short ASCII,
// long ASCII, UTF-8, surrogate-escaped bytes), and nothing for a pyc compiled elsewhere.

const pythons = findPythons();
if (pythons.length === 0) throw new Error('no CPython 3 found on this machine');

// A module with nested code objects: co_filename is written once, then named by back reference.
const MODULE =
  'X = 1\n\ndef f():\n    def g():\n        return X\n    return g\n\nclass C:\n    def m(self):\n        return f\n';

// Compiles SOURCE to each (pyc, dfile) of the JSON job list; dfile is given as latin-1 bytes
// and decoded the way Python decodes a file name (surrogateescape), as pip's compileall does.
const COMPILE = String.raw`
import json, os, py_compile, sys
source, jobs = sys.argv[1], json.load(open(sys.argv[2]))
for pyc, dfile in jobs:
    py_compile.compile(source, cfile=pyc, dfile=os.fsdecode(dfile.encode('latin-1')), doraise=True)
`;

/** Compile MODULE with each `dfile` (a byte string) into `rel` below a fresh folder; its bytes. */
async function compiled(
  py: Python,
  jobs: ReadonlyArray<{ rel: string; dfile: string }>,
): Promise<Buffer[]> {
  const dir = freshDir(`pycs-${py.version}`);
  const source = path.join(dir, 'mod.py');
  fs.writeFileSync(source, MODULE);
  const list = jobs.map((j, i) => [path.join(dir, `out${i}`, j.rel), j.dfile]);
  const jobFile = path.join(dir, 'jobs.json');
  fs.writeFileSync(jobFile, JSON.stringify(list));
  await runOk(py.exe, ['-c', COMPILE, source, jobFile]);
  return list.map(([pyc]) => fs.readFileSync(pyc!));
}

const tagOf = (py: Python) => `cpython-${py.version.replace('.', '')}`;

test('the prefix in front of the source path in co_filename is where the pyc was compiled, with every CPython here', async (t) => {
  for (const py of pythons) {
    const site = `lib/python${py.version}/site-packages`;
    const rel = `${site}/pkg/__pycache__/mod.${tagOf(py)}.pyc`;
    const source = `${site}/pkg/mod.py`;
    const long = `/build/${'x'.repeat(300)}/venv`;
    const cases = [
      { loc: '/build/app/venv', why: 'short ASCII str' },
      { loc: long, why: 'ASCII str over 255 bytes' },
      { loc: fromBytes(Buffer.from('/srv/dé ploy/venv')), why: 'UTF-8 str' },
      { loc: '/srv/\xff\xfe/venv', why: 'a name that is not UTF-8 (surrogateescape)' },
    ];
    const bytes = await compiled(
      py,
      cases.map((c) => ({ rel, dfile: `${c.loc}/${source}` })),
    );
    cases.forEach((c, i) => {
      t.is(pycCompiledAt(rel, bytes[i]!), c.loc, `${py.exe}: ${c.why}`);
    });
    t.log(`Python ${py.full} (${py.exe}): ${cases.length} forms read`);
  }
});

test('a legacy pyc beside its source, and a path whose components look like a marshal header, are read whole', async (t) => {
  const py = pythons.at(-1)!;
  const site = `lib/python${py.version}/site-packages`;
  const legacy = `${site}/pkg/mod.pyc`;
  const cached = `${site}/p/__pycache__/mod.${tagOf(py)}.pyc`;
  // `/srv/jaz?/venv/…`: the `z` and the byte after it read as a short str's header whose length
  // ends exactly where co_filename does, so `/venv` alone would pass the header check.
  const rest = `/venv/${site}/p/mod.py`;
  const lookalike = `/srv/jaz${String.fromCharCode(rest.length)}/venv`;
  t.true(rest.length >= 0x20 && rest.length < 0x7f, 'the length byte is a printable character');
  const [a, b] = await compiled(py, [
    { rel: legacy, dfile: `/build/app/venv/${site}/pkg/mod.py` },
    { rel: cached, dfile: `${lookalike}/${site}/p/mod.py` },
  ]);
  t.is(pycCompiledAt(legacy, a!), '/build/app/venv');
  t.is(pycCompiledAt(cached, b!), lookalike);
});

test('a pyc compiled somewhere else, or with a relative name, names no location', async (t) => {
  const py = pythons.at(-1)!;
  const site = `lib/python${py.version}/site-packages`;
  const rel = `${site}/pkg/__pycache__/mod.${tagOf(py)}.pyc`;
  const [elsewhere, relative, otherModule] = await compiled(py, [
    { rel, dfile: '/tmp/build/pkg/mod.py' },
    { rel, dfile: `${site}/pkg/mod.py` },
    { rel, dfile: `/build/app/venv/${site}/pkg/other.py` },
  ]);
  t.is(pycCompiledAt(rel, elsewhere!), undefined);
  t.is(pycCompiledAt(rel, relative!), undefined);
  t.is(pycCompiledAt(rel, otherModule!), undefined);
  t.is(pycCompiledAt(`${site}/pkg/mod.py`, toBytes('not a pyc')), undefined);
});

test('a .pth line, egg-link or absolute RECORD row inside a lib/pythonX.Y/site-packages names the prefix before /lib/', (t) => {
  t.is(venvOfSitePath('/build/app/venv/lib/python3.12/site-packages/x'), '/build/app/venv');
  t.is(venvOfSitePath('/opt/pp/lib/pypy3.10/site-packages'), '/opt/pp');
  t.is(venvOfSitePath('/build/app/src'), undefined);
  t.is(venvOfSitePath('lib/python3.12/site-packages/x'), undefined);
  t.is(venvOfSitePath('/lib/python3.12/site-packages/x'), undefined);
  t.is(venvOfSitePath('/v/lib/python3.12/site-packages-old/x'), undefined);
  t.deepEqual(
    pthLocations(
      toBytes(
        '# /a/lib/python3.12/site-packages\nimport os; os.getcwd()\n/old/venv/lib/python3.11/site-packages/pkg  \r\n/src/app\n',
      ),
    ),
    ['/old/venv'],
  );
  t.deepEqual(
    recordLocations(
      toBytes(
        'pkg/__init__.py,sha256=x,1\n"/old/venv/lib/python3.12/site-packages/a,b.py",sha256=y,2\n../../../bin/tool,,\n',
      ),
    ),
    ['/old/venv'],
  );
});

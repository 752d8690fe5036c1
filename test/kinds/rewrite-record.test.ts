import test from 'ava';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  type ByteString,
  type Mapping,
  fromBytes,
  replacePaths,
  toBytes,
  utf8ToBytes,
} from '../../src/core/path-boundary.js';
import {
  type RecordUpdate,
  listedWithHash,
  recordHash,
  recordUpdateOf,
  rewriteRecord,
} from '../../src/kinds/rewrite-record.js';
import { rewriteShebang } from '../../src/kinds/rewrite-shebang.js';
import { parseShebang } from '../../src/kinds/parse-shebang.js';
import { type Python, findPythons, ownSitePackages } from '../helpers/pythons.js';
import { cleanEnv, run, runOk } from '../helpers/run.js';
import { freshDir } from '../helpers/scratch.js';

const OLD = '/old/venv';

function map(to: string, from = OLD): Mapping[] {
  return [{ from: utf8ToBytes(from), to: utf8ToBytes(to) }];
}

const none = (): undefined => undefined;

function rewrite(
  src: string,
  mappings: Mapping[],
  updateFor: (p: ByteString) => RecordUpdate | undefined = none,
): string | undefined {
  return rewriteRecord(Buffer.from(src, 'utf8'), { mappings, updateFor })?.toString('utf8');
}

test('hashes as RECORD lists them: urlsafe base64 of sha256, no padding', (t) => {
  // sha256("") is e3b0c442...; its urlsafe base64 without "=" padding:
  t.is(recordHash(Buffer.alloc(0)), 'sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU');
  t.deepEqual(recordUpdateOf(Buffer.from('abc')), {
    sha256: 'ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0',
    size: 3,
  });
});

test('moves absolute path fields and leaves relative ones', (t) => {
  const src =
    'pkg/__init__.py,sha256=AAA,10\r\n/old/venv/share/x.txt,sha256=BBB,5\r\n../../../bin/tool,sha256=CCC,7\r\n';
  t.is(
    rewrite(src, map('/srv/app')),
    'pkg/__init__.py,sha256=AAA,10\r\n/srv/app/share/x.txt,sha256=BBB,5\r\n../../../bin/tool,sha256=CCC,7\r\n',
  );
});

test('leaves look-alike paths alone', (t) => {
  t.is(rewrite('/old/venv-2/x,sha256=A,1\n/old/venv2,,\n/x/old/venv,,\n', map('/new')), undefined);
});

test('quotes a new path as Python csv does', (t) => {
  t.is(rewrite('/old/venv/x,sha256=A,1\n', map('/a,b "c"')), '"/a,b ""c""/x",sha256=A,1\n');
  t.is(rewrite('/old/venv/x,,\n', map('/ü 日本')), '/ü 日本/x,,\n');
  // A quoted old path is read through its quotes.
  t.is(rewrite('"/old,dir/x",sha256=A,1\n', map('/new', '/old,dir')), '/new/x,sha256=A,1\n');
});

test('writes the new hash and size of rewritten files, and none where there was none', (t) => {
  const src = [
    '../../../bin/tool,sha256=OLD,7',
    'pkg/__pycache__/m.cpython-311.pyc,,',
    'pkg-1.dist-info/RECORD,,',
    '/old/venv/etc/conf,sha384=XYZ,3',
    '',
  ].join('\n');
  const seen: string[] = [];
  const update = (p: ByteString): RecordUpdate | undefined => {
    seen.push(p);
    return { sha256: 'NEW', size: 42 };
  };
  t.is(
    rewrite(src, map('/srv'), update),
    [
      '../../../bin/tool,sha256=NEW,42',
      'pkg/__pycache__/m.cpython-311.pyc,,',
      'pkg-1.dist-info/RECORD,,',
      '/srv/etc/conf,sha256=NEW,42',
      '',
    ].join('\n'),
  );
  // updateFor sees the path, as listed after mapping, of every row that carries a hash; rows
  // without one are never asked about (their new hash would be computed for nothing).
  t.deepEqual(seen, ['../../../bin/tool', '/srv/etc/conf']);
  // A "sha256=" prefix in the update is not doubled.
  t.is(
    rewrite('a,sha256=X,1\n', [], () => ({ sha256: 'sha256=Y', size: 2 })),
    'a,sha256=Y,2\n',
  );
  t.is(
    rewrite('a,sha256=X,1\n', [], () => ({ sha256: 'X', size: 1 })),
    undefined,
  );
});

test('keeps mixed line endings, blank lines and a missing final line ending', (t) => {
  t.is(
    rewrite('/old/venv/a,,\r\n\n/old/venv/b,,\n/old/venv/c,,', map('/n')),
    '/n/a,,\r\n\n/n/b,,\n/n/c,,',
  );
});

// ---------------------------------------------------------------------------------------------
// Against real pip: install a wheel, move the venv, rewrite its scripts and RECORDs, and check
// every hash, pip show, the console script and pip uninstall.

const MAKE_WHEEL = `
import base64, hashlib, os, sys, zipfile
files = [
    ('vtpkg/__init__.py', b'import sys\\ndef main():\\n    print("vtpkg-cli " + sys.prefix)\\n'),
    ('vtpkg-0.1.dist-info/METADATA', b'Metadata-Version: 2.1\\nName: vtpkg\\nVersion: 0.1\\n'),
    ('vtpkg-0.1.dist-info/WHEEL', b'Wheel-Version: 1.0\\nGenerator: venv-tools-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n'),
    ('vtpkg-0.1.dist-info/entry_points.txt', b'[console_scripts]\\nvtpkg-cli = vtpkg:main\\n'),
]
def digest(b):
    return base64.urlsafe_b64encode(hashlib.sha256(b).digest()).rstrip(b'=').decode()
record = ''.join('%s,sha256=%s,%d\\n' % (n, digest(d), len(d)) for n, d in files)
files.append(('vtpkg-0.1.dist-info/RECORD', (record + 'vtpkg-0.1.dist-info/RECORD,,\\n').encode()))
with zipfile.ZipFile(os.path.join(sys.argv[1], 'vtpkg-0.1-py3-none-any.whl'), 'w') as z:
    for n, d in files:
        z.writestr(n, d)
`;

// Adds a file listed by its absolute path (pip never writes one on POSIX, other installers do),
// quoted by Python's own csv writer.
const ADD_ABSOLUTE_ROW = `
import base64, csv, hashlib, os, sys
record, target, content = sys.argv[1], sys.argv[2], sys.argv[3].encode()
os.makedirs(os.path.dirname(target))
open(target, 'wb').write(content)
h = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b'=').decode()
with open(record, 'a', newline='') as f:
    csv.writer(f).writerow([target, 'sha256=' + h, len(content)])
`;

// Recomputes every hash of every RECORD in site-packages; prints the mismatches.
const VERIFY = `
import base64, csv, glob, hashlib, json, os, sys
site = sys.argv[1]
bad, checked = [], 0
for record in glob.glob(os.path.join(site, '*.dist-info', 'RECORD')):
    with open(record, newline='', encoding='utf-8') as f:
        for row in csv.reader(f):
            if not row or not row[1]:
                continue
            p = row[0] if os.path.isabs(row[0]) else os.path.join(site, row[0])
            data = open(p, 'rb').read()
            h = 'sha256=' + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()
            checked += 1
            if h != row[1] or str(len(data)) != row[2]:
                bad.append(row)
print(json.dumps({'bad': bad, 'checked': checked}))
`;

async function relocateAndCheck(t: import('ava').ExecutionContext, py: Python): Promise<void> {
  const base = freshDir(`record-${py.full}`);
  const wheels = path.join(base, 'wheels');
  fs.mkdirSync(wheels);
  await runOk(py.exe, ['-c', MAKE_WHEEL, wheels]);
  // A blank in the old path makes pip write its scripts in the exec form.
  const oldVenv = path.join(base, 'old venv');
  await runOk(py.exe, ['-m', 'venv', oldVenv]);
  const oldPy = path.join(oldVenv, 'bin', 'python');
  await runOk(oldPy, ['-m', 'pip', 'install', '--no-index', '--find-links', wheels, 'vtpkg']);
  const siteRel = path.relative(
    oldVenv,
    (await runOk(oldPy, ['-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'])).stdout
      .toString()
      .trim(),
  );
  const record = (venv: string): string =>
    path.join(venv, siteRel, 'vtpkg-0.1.dist-info', 'RECORD');
  const absRel = path.join('share', 'vt, "quoted"', 'note.txt');
  await runOk(oldPy, [
    '-c',
    ADD_ABSOLUTE_ROW,
    record(oldVenv),
    path.join(oldVenv, absRel),
    `home=${oldVenv}\n`,
  ]);
  const cli = fs.readFileSync(path.join(oldVenv, 'bin', 'vtpkg-cli'));
  t.is(
    parseShebang(cli)?.form,
    'exec',
    `pip ${py.full} wrote the exec form for a path with a blank`,
  );

  const newVenv = path.join(base, 'new "venv", ü');
  fs.renameSync(oldVenv, newVenv);
  const mappings = map(newVenv, oldVenv);
  const written = new Map<string, Buffer>();
  for (const name of fs.readdirSync(path.join(newVenv, 'bin'))) {
    const file = path.join(newVenv, 'bin', name);
    if (fs.lstatSync(file).isSymbolicLink()) continue;
    const out = rewriteShebang(fs.readFileSync(file), { mappings });
    if (out !== undefined) written.set(file, out);
  }
  const note = path.join(newVenv, absRel);
  const noteOut = replacePaths(fromBytes(fs.readFileSync(note)), mappings);
  if (noteOut !== undefined) written.set(note, toBytes(noteOut));
  for (const [file, bytes] of written) fs.writeFileSync(file, bytes);
  t.true(written.has(path.join(newVenv, 'bin', 'vtpkg-cli')) && written.has(note));

  const site = path.join(newVenv, siteRel);
  let records = 0;
  for (const dist of fs.readdirSync(site).filter((d) => d.endsWith('.dist-info'))) {
    const file = path.join(site, dist, 'RECORD');
    const updateFor = (listed: ByteString): RecordUpdate | undefined => {
      const p = Buffer.from(listed, 'latin1').toString('utf8');
      const bytes = written.get(path.isAbsolute(p) ? p : path.resolve(site, p));
      return bytes === undefined ? undefined : recordUpdateOf(bytes);
    };
    const out = rewriteRecord(fs.readFileSync(file), { mappings, updateFor });
    if (out !== undefined) {
      fs.writeFileSync(file, out);
      records++;
    }
  }
  t.true(records >= 2, `pip's and vtpkg's RECORDs changed (${records})`);

  const newPy = path.join(newVenv, 'bin', 'python');
  const verify = JSON.parse((await runOk(newPy, ['-c', VERIFY, site])).stdout.toString()) as {
    bad: unknown[];
    checked: number;
  };
  t.deepEqual(verify.bad, [], py.full);
  t.log(`Python ${py.full}: ${verify.checked} RECORD hashes match`);

  const show = (await runOk(newPy, ['-m', 'pip', 'show', '-f', 'vtpkg'])).stdout.toString();
  // (pip 18.1's `show -f` splits rows at the first comma instead of reading CSV, so the quoted
  // absolute row is only checked by the hashes above and the uninstall below.)
  t.regex(show, /\.\.\/\.\.\/\.\.\/bin\/vtpkg-cli/);

  const ran = await runOk(path.join(newVenv, 'bin', 'vtpkg-cli'), []);
  t.is(ran.stdout.toString().trim(), `vtpkg-cli ${newVenv}`);
  const pip = await run(path.join(newVenv, 'bin', 'pip'), ['--version']);
  t.is(pip.status, 0, pip.stderr.toString());

  // pip uninstall follows the RECORD, the absolute row included.
  await runOk(newPy, ['-m', 'pip', 'uninstall', '-y', 'vtpkg']);
  t.false(fs.existsSync(note), 'the absolute row was uninstalled at its new place');
  t.false(fs.existsSync(path.join(newVenv, 'bin', 'vtpkg-cli')));
}

test('pip sees a consistent install after its RECORDs are rewritten', async (t) => {
  const all = findPythons();
  const pythons = [...new Set([all[0], all.at(-1)])].filter((p): p is Python => p !== undefined);
  if (pythons.length === 0) return t.fail('no CPython >= 3.6 found on this machine');
  t.log(`Pythons: ${pythons.map((p) => p.full).join(', ')}`);
  for (const py of pythons) await relocateAndCheck(t, py);
});

// ---------------------------------------------------------------------------------------------
// listedWithHash: the pre-pass that tells the pipeline which files to hash as it rewrites them.

/** listedWithHash on a byte string, for short literal RECORDs. */
function listed(src: ByteString): ByteString[] {
  return listedWithHash(Buffer.from(src, 'latin1'));
}

test('lists the path of every row that carries a hash, unquoted and in file order', (t) => {
  const src = [
    'pkg/__init__.py,sha256=AAA,10',
    'pkg/__pycache__/__init__.cpython-311.pyc,,',
    '"pkg/a,b ""c"".txt",sha256=BBB,5',
    '/old/venv/share/x.txt,sha256=CCC,7',
    'pkg-1.dist-info/RECORD,,',
    '"/quoted/no hash",,',
    '../../../bin/tool,"sha256=DDD",3',
  ].join('\r\n');
  t.deepEqual(listed(src), [
    'pkg/__init__.py',
    'pkg/a,b "c".txt',
    '/old/venv/share/x.txt',
    '../../../bin/tool',
  ]);
});

test('lists paths across LF, CRLF and CR line endings, blank lines and a missing final one', (t) => {
  t.deepEqual(listed('\r\n\na,sha256=1,1\n\n\r\nb,sha256=2,2\r\rc,,\rd,sha256=4,4'), [
    'a',
    'b',
    'd',
  ]);
  // A quoted field holds line endings and commas as data.
  t.deepEqual(listed('"multi\r\nline,x",sha256=1,1\n"lf\nonly",sha256=2,2\n'), [
    'multi\r\nline,x',
    'lf\nonly',
  ]);
});

test('reads odd rows as Python csv does with strict=False', (t) => {
  // Text after a closing quote is taken literally; a quote inside an unquoted field is data;
  // a quote left open runs to the end of the file; a one-field row has no hash.
  t.deepEqual(listed('"a"b"c",sha256=1,1\nx"y,sha256=2,2\nlonely\n,sha256=3,3\n"open,h,1\nz'), [
    'ab"c"',
    'x"y',
    '',
  ]);
  t.deepEqual(listed('"open,sha256=1,1'), []);
  t.deepEqual(listed('p,"open hash'), ['p']);
  t.deepEqual(listed('p,""\nq,""""\n'), ['q']);
  t.deepEqual(listed('\xff\xfe/\xe9,sha256=1,1\n'), ['\xff\xfe/\xe9']);
  t.deepEqual(listed(''), []);
  t.deepEqual(listed('\r\n\r\n'), []);
});

// Python's own csv reader (default dialect, strict=False) over latin-1 text: what pip's
// reading of the same bytes yields. Prints, for each input, the path of each row with a hash.
const PY_LISTED = `
import csv, io, json, sys
out = []
for text in json.loads(sys.stdin.buffer.read().decode('utf-8')):
    rows = csv.reader(io.StringIO(text, newline=''))
    out.append([r[0] for r in rows if len(r) > 1 and r[1] != ''])
sys.stdout.write(json.dumps(out))
`;

/** What Python's csv module lists for each of `inputs` (byte strings). */
function pythonListed(py: Python, inputs: readonly ByteString[]): ByteString[][] {
  const r = spawnSync(py.exe, ['-c', PY_LISTED], {
    input: JSON.stringify(inputs),
    env: cleanEnv(),
    maxBuffer: 1 << 30,
  });
  if (r.status !== 0) throw new Error(`${py.exe}: ${r.stderr.toString()}`);
  // json.dumps escapes every char >= 0x80 as \\u00XX: JSON.parse gives back byte strings.
  return JSON.parse(r.stdout.toString()) as ByteString[][];
}

/** The oldest and the newest CPython on this machine. */
function endPythons(): Python[] {
  const all = findPythons();
  return [...new Set([all[0], all.at(-1)])].filter((p): p is Python => p !== undefined);
}

// A wheel whose file names need CSV quoting, with a module pip compiles (pycs are listed
// without a hash) and a console script (listed as ../../../bin/…).
const MAKE_ODD_WHEEL = `
import base64, hashlib, os, sys, zipfile
files = [
    ('vtodd/__init__.py', b''),
    ('vtodd/mod.py', b'X = 1\\n'),
    ('vtodd/data, "q".txt', b'comma and quotes\\n'),
    ('vtodd/\\u00fc \\u65e5.txt', b'non-ascii\\n'),
    ('vtodd-0.1.dist-info/METADATA', b'Metadata-Version: 2.1\\nName: vtodd\\nVersion: 0.1\\n'),
    ('vtodd-0.1.dist-info/WHEEL', b'Wheel-Version: 1.0\\nGenerator: venv-tools-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n'),
    ('vtodd-0.1.dist-info/entry_points.txt', b'[console_scripts]\\nvtodd-cli = vtodd.mod:X\\n'),
]
def digest(b):
    return base64.urlsafe_b64encode(hashlib.sha256(b).digest()).rstrip(b'=').decode()
import csv, io
buf = io.StringIO()
w = csv.writer(buf, lineterminator='\\n')
for n, d in files:
    w.writerow([n, 'sha256=' + digest(d), len(d)])
w.writerow(['vtodd-0.1.dist-info/RECORD', '', ''])
files.append(('vtodd-0.1.dist-info/RECORD', buf.getvalue().encode('utf-8')))
with zipfile.ZipFile(os.path.join(sys.argv[1], 'vtodd-0.1-py3-none-any.whl'), 'w') as z:
    for n, d in files:
        z.writestr(n, d)
`;

// Appends two absolute rows, as installers other than pip write them: one with a hash, one
// without, both quoted by Python's csv writer.
const ADD_ABSOLUTE_ROWS = `
import csv, sys
with open(sys.argv[1], 'a', newline='', encoding='utf-8') as f:
    w = csv.writer(f)
    w.writerow([sys.argv[2] + '/share/vt, "abs"/note.txt', 'sha256=abc', 3])
    w.writerow([sys.argv[2] + '/share/vt, "abs"/no-hash.txt', '', ''])
`;

async function pipRecordFor(py: Python): Promise<{ record: ByteString; venv: string }> {
  const base = freshDir(`listed-${py.full}`);
  const wheels = path.join(base, 'wheels');
  fs.mkdirSync(wheels);
  await runOk(py.exe, ['-c', MAKE_ODD_WHEEL, wheels]);
  const venv = path.join(base, 'v, "q"');
  await runOk(py.exe, ['-m', 'venv', venv]);
  const vpy = path.join(venv, 'bin', 'python');
  await runOk(vpy, ['-m', 'pip', 'install', '--no-index', '--find-links', wheels, 'vtodd']);
  const site = (
    await runOk(vpy, ['-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'])
  ).stdout
    .toString()
    .trim();
  const file = path.join(site, 'vtodd-0.1.dist-info', 'RECORD');
  await runOk(vpy, ['-c', ADD_ABSOLUTE_ROWS, file, venv]);
  return { record: fs.readFileSync(file, 'latin1'), venv };
}

test('lists what Python csv reads from RECORDs written by real pip', async (t) => {
  const pythons = endPythons();
  if (pythons.length === 0) return t.fail('no CPython >= 3.6 found on this machine');
  t.log(`Pythons: ${pythons.map((p) => p.full).join(', ')}`);
  for (const py of pythons) {
    const { record, venv } = await pipRecordFor(py);
    t.true(record.includes('\r\n'), `pip ${py.full} ends rows with CRLF`);
    const lf = record.replace(/\r\n/g, '\n');
    // Blank lines (LF, CRLF) between rows and at both ends, and a missing final line ending.
    const blanks = '\n\r\n' + lf.split('\n').join('\n\n').replace(/\n+$/, '');
    const cr = record.replace(/\r\n/g, '\r');
    const variants = [record, lf, blanks, cr];
    const ours = variants.map((v) => listed(v));
    t.deepEqual(ours, pythonListed(py, variants), py.full);

    const got = ours[0] ?? [];
    const v = utf8ToBytes(venv);
    t.true(got.includes('vtodd/data, "q".txt'), `${py.full}: quoted name read unquoted`);
    t.true(got.includes(utf8ToBytes('vtodd/ü 日.txt')), `${py.full}: UTF-8 name as bytes`);
    t.true(got.includes(`${v}/share/vt, "abs"/note.txt`), `${py.full}: absolute row`);
    t.true(got.includes('../../../bin/vtodd-cli'), `${py.full}: console script`);
    t.false(
      got.some((p) => p.endsWith('.pyc') || p.endsWith('/RECORD') || p.endsWith('no-hash.txt')),
    );
    t.true(/\.pyc,,\r\n/.test(record), `${py.full}: pip lists pycs without a hash`);
    t.log(
      `Python ${py.full}: ${got.length} rows with a hash of ${record.split('\r\n').length - 1}`,
    );
  }
});

// ---------------------------------------------------------------------------------------------
// The parser before issue 5, built a char at a time, kept verbatim as the reference the fast one
// must match byte for byte.

interface RefField {
  readonly raw: string;
  readonly value: string;
}

interface RefRow {
  readonly fields: RefField[];
  readonly eol: string;
}

function refParseCsv(s: string): { rows: RefRow[]; blankBefore: string[] } {
  const rows: RefRow[] = [];
  const blankBefore: string[] = [];
  let i = 0;
  let blank = '';
  while (i < s.length) {
    const c = s[i];
    if (c === '\n' || c === '\r') {
      const len = c === '\r' && s[i + 1] === '\n' ? 2 : 1;
      blank += s.slice(i, i + len);
      i += len;
      continue;
    }
    const fields: RefField[] = [];
    let eol = '';
    for (;;) {
      const fieldStart = i;
      let value = '';
      if (s[i] === '"') {
        i++;
        for (;;) {
          if (i >= s.length) break;
          if (s[i] === '"') {
            if (s[i + 1] === '"') {
              value += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          value += s[i];
          i++;
        }
      }
      while (i < s.length && s[i] !== ',' && s[i] !== '\n' && s[i] !== '\r') {
        value += s[i];
        i++;
      }
      fields.push({ raw: s.slice(fieldStart, i), value });
      if (s[i] === ',') {
        i++;
        continue;
      }
      if (s[i] === '\r' && s[i + 1] === '\n') eol = '\r\n';
      else if (s[i] === '\r' || s[i] === '\n') eol = s[i] ?? '';
      i += eol.length;
      break;
    }
    rows.push({ fields, eol });
    blankBefore.push(blank);
    blank = '';
  }
  blankBefore.push(blank);
  return { rows, blankBefore };
}

function refCsvField(value: string): string {
  return /[,"\r\n]/.test(value) ? '"' + value.replace(/"/g, '""') + '"' : value;
}

function refRewriteRecord(
  bytes: Buffer,
  ctx: {
    mappings: readonly Mapping[];
    updateFor: (listedPath: ByteString) => RecordUpdate | undefined;
  },
): Buffer | undefined {
  const s = fromBytes(bytes);
  const { rows, blankBefore } = refParseCsv(s);
  let out = '';
  let changed = false;
  rows.forEach((row, r) => {
    out += blankBefore[r] ?? '';
    const fields = row.fields.map((f) => f.raw);
    const path = row.fields[0]?.value ?? '';
    const moved = path.startsWith('/') ? replacePaths(path, ctx.mappings) : undefined;
    if (moved !== undefined) fields[0] = refCsvField(moved);
    const hash = row.fields[1]?.value ?? '';
    const update = hash === '' ? undefined : ctx.updateFor(moved ?? path);
    if (update !== undefined) {
      const digest = update.sha256.startsWith('sha256=') ? update.sha256.slice(7) : update.sha256;
      fields[1] = refCsvField('sha256=' + digest);
      fields[2] = refCsvField(String(update.size));
    }
    const line = fields.join(',');
    if (line !== row.fields.map((f) => f.raw).join(',')) changed = true;
    out += line + row.eol;
  });
  out += blankBefore[rows.length] ?? '';
  return changed ? toBytes(out) : undefined;
}

/** Small deterministic PRNG (mulberry32), so that a failing case can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const FUZZ_OLD = '/build/app/venv';
const FUZZ_TARGETS: readonly ByteString[] = [
  '/srv/app/3f9c2e1/venv',
  '/srv/a,b "c"/venv',
  '/srv/cr\rlf\n/venv',
  utf8ToBytes('/srv/ü/venv'),
  '/v',
];

/** One RECORD update per listed path, or none, chosen by the path (deterministic). */
function fuzzUpdate(listedPath: ByteString): RecordUpdate | undefined {
  const h = createHash('sha1').update(listedPath, 'latin1').digest();
  switch (h[0]! % 5) {
    case 0:
      return undefined;
    case 1:
      return { sha256: 'sha256=' + h.toString('base64url'), size: h[1]! };
    case 2:
      // Not what recordUpdateOf gives, but the field must still be quoted as csv would.
      return { sha256: 'odd,"digest"', size: h[1]! * 1000 };
    default:
      return { sha256: h.toString('base64url'), size: h[2]! };
  }
}

/** The result of a rewrite with either parser, and every path it asked about. */
function outcome(
  rewrite: typeof rewriteRecord,
  bytes: Buffer,
  mappings: readonly Mapping[],
  updateFor: (p: ByteString) => RecordUpdate | undefined,
): { out: ByteString | undefined; asked: ByteString[] } {
  const asked: ByteString[] = [];
  const out = rewrite(bytes, {
    mappings,
    updateFor: (p) => {
      asked.push(p);
      return updateFor(p);
    },
  });
  return { out: out === undefined ? undefined : fromBytes(out), asked };
}

const FUZZ_PIECES: readonly ByteString[] = [
  '"',
  '""',
  ',',
  ',,',
  '\r',
  '\n',
  '\r\n',
  '\n\n',
  'sha256=',
  `sha256=${'A'.repeat(43)}`,
  '1234',
  'pkg/mod.py',
  'pkg/__pycache__/mod.cpython-311.pyc,,',
  '../../../bin/tool',
  'RECORD,,',
  FUZZ_OLD,
  `${FUZZ_OLD}/lib/x.py`,
  `"${FUZZ_OLD}/a,b"`,
  `${FUZZ_OLD}2`,
  '/elsewhere/x',
  ' ',
  '\t',
  '\x00',
  '\xff',
  '\xc3\xbc',
  'a',
];

/** A RECORD glued from pieces of CSV and RECORD syntax. */
function gluedRecord(rnd: () => number): ByteString {
  let s = '';
  const n = Math.floor(rnd() * 40);
  for (let k = 0; k < n; k++) s += FUZZ_PIECES[Math.floor(rnd() * FUZZ_PIECES.length)];
  return s;
}

/** `seed` with up to four edits: a piece inserted, a span deleted, or a char replaced. */
function mutated(rnd: () => number, seed: ByteString): ByteString {
  let s = seed;
  const edits = 1 + Math.floor(rnd() * 4);
  for (let k = 0; k < edits; k++) {
    const at = Math.floor(rnd() * (s.length + 1));
    const what = rnd();
    const piece = FUZZ_PIECES[Math.floor(rnd() * FUZZ_PIECES.length)] ?? '';
    if (what < 0.5) s = s.slice(0, at) + piece + s.slice(at);
    else if (what < 0.75) s = s.slice(0, at) + s.slice(at + 1 + Math.floor(rnd() * 20));
    else s = s.slice(0, at) + piece.charAt(0) + s.slice(at + 1);
  }
  return s;
}

/** Real RECORDs: those of every CPython's own site-packages (pip, setuptools), cut short. */
function realRecords(): ByteString[] {
  const out: ByteString[] = [];
  for (const py of findPythons()) {
    const site = ownSitePackages(py);
    let names: string[] = [];
    try {
      names = fs.readdirSync(site);
    } catch {
      continue;
    }
    for (const n of names.filter((d) => d.endsWith('.dist-info')).sort()) {
      let text: string;
      try {
        text = fs.readFileSync(path.join(site, n, 'RECORD'), 'latin1');
      } catch {
        continue;
      }
      // Some rows made absolute under the old location, as other installers write them.
      const rows = text.split('\r\n').slice(0, 80);
      out.push(rows.map((l, i) => (i % 5 === 2 ? `${FUZZ_OLD}/lib/${l}` : l)).join('\r\n'));
    }
  }
  return out;
}

const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20250105);
const FUZZ_CASES = Number(process.env.FUZZ_CASES ?? 4000);

/** The fuzzed RECORDs: glued ones, and mutations of real ones. */
function fuzzedRecords(): ByteString[] {
  const rnd = prng(FUZZ_SEED);
  const seeds = realRecords();
  const out: ByteString[] = [...seeds];
  for (let k = 0; k < FUZZ_CASES; k++) {
    const seed = seeds[Math.floor(rnd() * seeds.length)];
    out.push(seed !== undefined && rnd() < 0.5 ? mutated(rnd, seed) : gluedRecord(rnd));
  }
  return out;
}

/** Asserts that both parsers give the same rewrite, asking about the same paths. */
function sameAsReference(
  t: import('ava').ExecutionContext,
  bytes: Buffer,
  mappings: readonly Mapping[],
  updateFor: (p: ByteString) => RecordUpdate | undefined,
  label: string,
): boolean {
  const ours = outcome(rewriteRecord, bytes, mappings, updateFor);
  const ref = outcome(refRewriteRecord, bytes, mappings, updateFor);
  if (ours.out === ref.out && ours.asked.join('\0') === ref.asked.join('\0')) return true;
  t.deepEqual(ours, ref, `${label}: ${JSON.stringify(fromBytes(bytes).slice(0, 400))}`);
  return false;
}

test('rewrites fuzzed RECORDs exactly as the char-by-char parser did', (t) => {
  const inputs = fuzzedRecords();
  const rnd = prng(FUZZ_SEED + 1);
  let changed = 0;
  for (const [k, text] of inputs.entries()) {
    const bytes = Buffer.from(text, 'latin1');
    const to = FUZZ_TARGETS[Math.floor(rnd() * FUZZ_TARGETS.length)] ?? '/v';
    const mappings: Mapping[] = [{ from: FUZZ_OLD, to }];
    if (!sameAsReference(t, bytes, mappings, fuzzUpdate, `case ${k}`)) return;
    if (!sameAsReference(t, bytes, [], () => undefined, `case ${k}, no change`)) return;
    // The pre-pass lists exactly the rows rewriteRecord asks about (before any mapping).
    const asked = outcome(refRewriteRecord, bytes, [], () => undefined).asked;
    t.deepEqual(listedWithHash(bytes), asked, `case ${k}`);
    if (refRewriteRecord(bytes, { mappings, updateFor: fuzzUpdate }) !== undefined) changed++;
  }
  t.true(changed > inputs.length / 4, `${changed} of ${inputs.length} changed`);
  t.log(`${inputs.length} RECORDs (seed ${FUZZ_SEED}), ${changed} of them rewritten`);
});

test('lists the paths Python csv reads from fuzzed RECORDs', (t) => {
  const pythons = endPythons();
  if (pythons.length === 0) return t.fail('no CPython >= 3.6 found on this machine');
  // Python before 3.11 refuses NUL bytes ("line contains NUL"); pip cannot read those either.
  const inputs = fuzzedRecords().filter((s) => !s.includes('\x00'));
  const ours = inputs.map((s) => listed(s));
  for (const py of pythons) {
    const theirs = pythonListed(py, inputs);
    t.is(theirs.length, inputs.length, `${py.full} read every RECORD`);
    // Compared whole, but shown as the first RECORD read differently, not as two long lists.
    const bad = inputs.findIndex((_, k) => JSON.stringify(ours[k]) !== JSON.stringify(theirs[k]));
    t.is(bad, -1, `${py.full} reads RECORD ${bad} differently`);
    if (bad !== -1) {
      t.deepEqual(
        ours[bad],
        theirs[bad],
        `${py.full}: ${JSON.stringify(inputs[bad]?.slice(0, 400))}`,
      );
      return;
    }
  }
  t.log(`${inputs.length} RECORDs read alike by Python ${pythons.map((p) => p.full).join(', ')}`);
});

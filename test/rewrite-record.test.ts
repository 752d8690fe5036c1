import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  type ByteString,
  type Mapping,
  fromBytes,
  replacePaths,
  toBytes,
  utf8ToBytes,
} from '../src/path-boundary.js';
import {
  type RecordUpdate,
  recordHash,
  recordUpdateOf,
  rewriteRecord,
} from '../src/relocate/rewrite-record.js';
import { rewriteShebang } from '../src/relocate/rewrite-shebang.js';
import { parseShebang } from '../src/scan/parse-shebang.js';
import { type Python, findPythons } from './helpers/pythons.js';
import { run, runOk } from './helpers/run.js';
import { freshDir } from './helpers/scratch.js';

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

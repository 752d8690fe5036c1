import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RewriteError } from '../../src/core/errors.js';
import { type Mapping, utf8ToBytes } from '../../src/core/path-boundary.js';
import { percentEncodePath } from '../../src/kinds/file-url.js';
import { rewriteJson } from '../../src/kinds/rewrite-json.js';
import { type Python, findPythons } from '../helpers/pythons.js';
import { runOk } from '../helpers/run.js';
import { freshDir } from '../helpers/scratch.js';

const OLD = '/old/venv';

function map(to: string, from = OLD): Mapping[] {
  return [{ from: utf8ToBytes(from), to: utf8ToBytes(to) }];
}

function rewrite(src: string, mappings: Mapping[]): string | undefined {
  return rewriteJson(Buffer.from(src, 'utf8'), { mappings })?.toString('utf8');
}

test('moves a file URL in direct_url.json, percent-encoded as pip writes it', (t) => {
  const src = '{"dir_info": {"editable": true}, "url": "file:///old/venv/src/my%20pkg"}';
  t.is(
    rewrite(src, map('/srv/my app/ü')),
    '{"dir_info": {"editable": true}, "url": "file:///srv/my%20app/%C3%BC/src/my%20pkg"}',
  );
  // The old path itself may be percent-encoded.
  t.is(
    rewrite('{"url": "file:///old%20dir/x.whl"}', map('/new', '/old dir')),
    '{"url": "file:///new/x.whl"}',
  );
});

test('leaves look-alike paths alone and moves sub-paths', (t) => {
  t.is(
    rewrite('{"a": "/old/venv-2", "b": "file:///old/venv2/x", "c": "/x/old/venv"}', map('/new')),
    undefined,
  );
  t.is(
    rewrite('{"a": "/old/venv/sub", "b": ["/old/venv"]}', map('/new')),
    '{"a": "/new/sub", "b": ["/new"]}',
  );
});

test('rewrites kernel.json and keeps its layout byte for byte', (t) => {
  const src =
    '{\n "argv": [\n  "/old/venv/bin/python",\n  "-m",\n  "ipykernel_launcher",\n  "-f",\n  "{connection_file}"\n ],\n "display_name": "Python 3 (venv)",\n "language": "python"\n}';
  t.is(rewrite(src, map('/srv/app')), src.replace('/old/venv/', '/srv/app/'));
});

test('escapes quotes, backslashes and control characters for JSON', (t) => {
  t.is(rewrite('["/old/venv"]', map('/say "hi"\\\t')), '["/say \\"hi\\"\\\\\\t"]');
});

test('writes non-ASCII as \\u escapes unless the file already holds raw UTF-8', (t) => {
  t.is(rewrite('["/old/venv"]', map('/ü日😀')), '["/\\u00fc\\u65e5\\ud83d\\ude00"]');
  t.is(rewrite('["/old/venv", "é"]', map('/ü')), '["/ü", "é"]');
  // A path written with \u escapes is found, and a byte that is not UTF-8 is written as the
  // surrogate Python's json writes for an os.fsdecode()d path.
  t.is(rewrite('["/\\u00fcber/x"]', map('/new', '/über')), '["/new/x"]');
  t.is(
    rewriteJson(Buffer.from('["/old/venv"]'), {
      mappings: [{ from: OLD, to: '/caf\xe9' }],
    })?.toString(),
    '["/caf\\udce9"]',
  );
});

test('keeps the slash escaping of a string that uses it', (t) => {
  t.is(rewrite('["\\/old\\/venv\\/x", "/old/venv"]', map('/a/b')), '["\\/a\\/b\\/x", "/a/b"]');
});

test('moves paths inside file URLs embedded in longer strings', (t) => {
  t.is(
    rewrite('["pkg @ file:///old/venv/x.whl", "see /old/venv"]', map('/a b')),
    '["pkg @ file:///a%20b/x.whl", "see /a b"]',
  );
  t.is(rewrite('["git+file:///old/venv/repo"]', map('/a b')), '["git+file:///a%20b/repo"]');
  t.is(rewrite('["file://localhost/old/venv"]', map('/a b')), '["file://localhost/a%20b"]');
});

test('refuses what is not JSON, so that the caller can use the text rule', (t) => {
  for (const src of ['# comment /old/venv\n{}', '{"a": "/old/venv}', "{'a': '/old/venv'}"]) {
    const err = t.throws(() => rewrite(src, map('/new')), { instanceOf: RewriteError }, src);
    t.is(err?.reason, 'not-json');
  }
  t.is(
    rewrite(
      '{"a": NaN, "b": -Infinity, "c": [true, false, null, 1.5e3], "d": "/old/venv"}',
      map('/n'),
    ),
    '{"a": NaN, "b": -Infinity, "c": [true, false, null, 1.5e3], "d": "/n"}',
  );
});

test('percent-encodes exactly what urllib.parse.quote encodes', (t) => {
  t.is(
    percentEncodePath(utf8ToBytes('/a b/~x_y.z-/ü%#?&\'"+@,;=')),
    '/a%20b/~x_y.z-/%C3%BC%25%23%3F%26%27%22%2B%40%2C%3B%3D',
  );
});

// ---------------------------------------------------------------------------------------------
// Against real Python and pip.

const TARGETS: string[] = [
  '/srv/app',
  '/say "hi"\\',
  "/it's ü 日本",
  '/a\tb\nc',
  '/pct%20 #frag ?q',
];

test('Python reads the rewritten JSON with the mapped values', async (t) => {
  const python = findPythons().at(-1);
  if (python === undefined) return t.fail('no CPython >= 3.6 found on this machine');
  t.log(`Python ${python.full}`);
  const src =
    '{"url": "file:///old/venv/x%20y.whl", "argv": ["/old/venv/bin/python", "-m"], "n": 1, "s": "\\u00e9 /old/venv"}';
  const cases = TARGETS.map((to) => ({ to, out: rewrite(src, map(to)) ?? '' }));
  const check = `
import json, sys
from urllib.parse import urljoin
from urllib.request import pathname2url
bad = []
for c in json.loads(sys.argv[1]):
    d, to = json.loads(c['out']), c['to']
    want = {'url': urljoin('file:', pathname2url(to + '/x y.whl')), 'argv': [to + '/bin/python', '-m'], 'n': 1, 's': '\\u00e9 ' + to}
    if d != want:
        bad.append([d, want])
print(json.dumps(bad))
`;
  const r = await runOk(python.exe, ['-c', check, JSON.stringify(cases)]);
  t.deepEqual(JSON.parse(r.stdout.toString()), []);
});

// A tiny wheel, written with Python's zipfile: pkg/__init__.py and a dist-info.
const MAKE_WHEEL = `
import base64, hashlib, os, sys, zipfile
files = [
    ('vtpkg/__init__.py', b'import sys\\ndef main():\\n    print("vtpkg-cli", sys.prefix)\\n'),
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

async function pipVersion(py: Python): Promise<number[]> {
  const r = await runOk(py.exe, ['-m', 'pip', '--version']);
  return (/pip (\d+)\.(\d+)/.exec(r.stdout.toString()) ?? []).slice(1).map(Number);
}

test('pip reads back the direct_url.json it wrote, after the rewrite', async (t) => {
  // direct_url.json exists since pip 20.1 (PEP 610); older pips are not asked.
  const candidates: Python[] = [];
  for (const py of findPythons()) {
    const [major = 0, minor = 0] = await pipVersion(py).catch(() => []);
    if (major > 20 || (major === 20 && minor >= 1)) candidates.push(py);
  }
  const pythons = [...new Set([candidates[0], candidates.at(-1)])].filter(
    (p): p is Python => p !== undefined,
  );
  if (pythons.length === 0) return t.fail('no CPython with pip >= 20.1 found on this machine');
  t.log(`Pythons: ${pythons.map((p) => p.full).join(', ')}`);
  for (const py of pythons) {
    const base = freshDir(`direct-url-${py.full}`);
    const wheels = path.join(base, 'wheels ü [1] #x %20 a+b');
    fs.mkdirSync(wheels);
    await runOk(py.exe, ['-c', MAKE_WHEEL, wheels]);
    const venv = path.join(base, 'venv');
    await runOk(py.exe, ['-m', 'venv', venv]);
    const vpy = path.join(venv, 'bin', 'python');
    await runOk(vpy, [
      '-m',
      'pip',
      'install',
      '--no-index',
      path.join(wheels, 'vtpkg-0.1-py3-none-any.whl'),
    ]);
    const info = (
      await runOk(vpy, ['-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'])
    ).stdout
      .toString()
      .trim();
    const file = path.join(info, 'vtpkg-0.1.dist-info', 'direct_url.json');
    const before = fs.readFileSync(file);
    t.true(
      before.toString().includes('%20'),
      `pip ${py.full} percent-encoded the URL: ${before.toString()}`,
    );

    const moved = path.join(base, `moved 'wheels' "x", ?&=ü`);
    fs.renameSync(wheels, moved);
    const out = rewriteJson(before, { mappings: map(moved, wheels) });
    if (out === undefined) return t.fail('direct_url.json did not change');
    fs.writeFileSync(file, out);
    // Only the URL changed.
    const [pre, post] = before.toString().split(/"url": "[^"]*"/);
    t.true(
      out.toString().startsWith(pre ?? '') && out.toString().endsWith(post ?? ''),
      out.toString(),
    );

    const check = `
import json, sys
from urllib.parse import urljoin
from urllib.request import pathname2url
d = json.load(open(sys.argv[1], encoding='utf-8'))
print(d['url'] == urljoin('file:', pathname2url(sys.argv[2])))
`;
    const wheelNow = path.join(moved, 'vtpkg-0.1-py3-none-any.whl');
    t.is(
      (await runOk(vpy, ['-c', check, file, wheelNow])).stdout.toString().trim(),
      'True',
      py.full,
    );
    // And pip itself parses it: `pip freeze` prints the direct URL.
    const freeze = (await runOk(vpy, ['-m', 'pip', 'freeze'])).stdout.toString();
    const url = 'file://' + percentEncodePath(utf8ToBytes(wheelNow));
    t.true(freeze.includes(`vtpkg @ ${url}`), `${py.full}: ${freeze}`);
  }
});

import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RewriteError } from '../../src/core/errors.js';
import { type Mapping, utf8ToBytes } from '../../src/core/path-boundary.js';
import { rewritePth } from '../../src/kinds/rewrite-pth.js';
import { findPythons } from '../helpers/pythons.js';
import { runOk } from '../helpers/run.js';
import { freshDir } from '../helpers/scratch.js';

const OLD = '/old/venv';

function map(to: string, from = OLD): Mapping[] {
  return [{ from: utf8ToBytes(from), to: utf8ToBytes(to) }];
}

function rewrite(src: string, mappings: Mapping[]): string | undefined {
  return rewritePth(Buffer.from(src, 'utf8'), { mappings })?.toString('utf8');
}

test('moves absolute path lines and keeps the others', (t) => {
  const src = '/old/venv/src/a\n../relative\n/elsewhere/b\n# from /old/venv\n/old/venv\n';
  t.is(
    rewrite(src, map('/srv/app')),
    '/srv/app/src/a\n../relative\n/elsewhere/b\n# from /srv/app\n/srv/app\n',
  );
});

test('leaves look-alike paths alone', (t) => {
  t.is(rewrite('/old/venv-2/src\n/old/venv2\n/x/old/venv\n', map('/new')), undefined);
});

test('keeps CRLF, CR and missing final line endings', (t) => {
  t.is(rewrite('/old/venv/a\r\n/old/venv/b\r/old/venv/c', map('/n')), '/n/a\r\n/n/b\r/n/c');
});

test('writes a path line with quotes, blanks and unicode as raw bytes', (t) => {
  t.is(rewrite('/old/venv/src\n', map(`/it's "x" ü 日本`)), `/it's "x" ü 日本/src\n`);
});

test('leaves import lines alone unless they hold the path, then uses the Python rule', (t) => {
  const src = "import _virtualenv\nimport sys; sys.path.insert(0, '/old/venv/extra')\n";
  t.is(
    rewrite(src, map("/it's")),
    "import _virtualenv\nimport sys; sys.path.insert(0, '/it\\'s/extra')\n",
  );
  t.is(rewrite('import\tos\n', map('/new')), undefined);
});

test('rewrites an egg-link: the path line and its dot', (t) => {
  t.is(rewrite('/old/venv/src/mypkg\n.', map('/srv/app')), '/srv/app/src/mypkg\n.');
  t.is(rewrite('/old/venv/src/mypkg\n../', map('/srv/app')), '/srv/app/src/mypkg\n../');
});

test('refuses a path a .pth line cannot hold', (t) => {
  for (const to of ['/a\nb', '/a\rb', '/trailing ']) {
    const err = t.throws(
      () => rewrite('/old/venv\n', map(to)),
      { instanceOf: RewriteError },
      JSON.stringify(to),
    );
    t.is(err?.reason, 'unquotable');
  }
  // Inside a line, a trailing blank of the mapping is harmless.
  t.is(rewrite('/old/venv/x\n', map('/trailing ')), '/trailing /x\n');
  // A line break in an import line's literal is escaped, not refused.
  t.is(
    rewrite("import sys; sys.path.append('/old/venv')\n", map('/a\nb')),
    "import sys; sys.path.append('/a\\nb')\n",
  );
});

test('site.py puts the rewritten entries on sys.path in every Python', async (t) => {
  const pythons = findPythons();
  if (pythons.length === 0) return t.fail('no CPython >= 3.6 found on this machine');
  t.log(`Pythons: ${pythons.map((p) => p.full).join(', ')}`);
  for (const py of pythons) {
    const base = freshDir(`pth-${py.full}`);
    const venv = path.join(base, 'venv');
    await runOk(py.exe, ['-m', 'venv', '--without-pip', venv]);
    const vpy = path.join(venv, 'bin', 'python');
    const site = (
      await runOk(vpy, ['-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'])
    ).stdout
      .toString()
      .trim();
    // The new home of the sources, with the characters that need care.
    const moved = path.join(base, `src "moved" it's ü 日本`);
    fs.mkdirSync(path.join(moved, 'lines'), { recursive: true });
    fs.mkdirSync(path.join(moved, 'imports'), { recursive: true });
    const src = [
      '/old/venv/lines',
      "import sys; sys.path.append('/old/venv/imports')",
      '# /old/venv/comment',
      '/old/venv-2/never',
      '',
    ].join('\n');
    const out = rewritePth(Buffer.from(src), { mappings: map(moved) });
    if (out === undefined) return t.fail('nothing was rewritten');
    fs.writeFileSync(path.join(site, 'vt-test.pth'), out);
    const r = await runOk(vpy, [
      '-c',
      'import os, sys, json; print(json.dumps([os.fsencode(p).hex() for p in sys.path]))',
    ]);
    const sysPath = (JSON.parse(r.stdout.toString()) as string[]).map((h) =>
      Buffer.from(h, 'hex').toString('utf8'),
    );
    t.true(sysPath.includes(path.join(moved, 'lines')), `${py.full}: ${sysPath.join(':')}`);
    t.true(sysPath.includes(path.join(moved, 'imports')), `${py.full}: ${sysPath.join(':')}`);
  }
});

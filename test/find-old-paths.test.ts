/**
 * The test kit's own search for old paths (test/helpers/find-old-paths.ts), which the "no old
 * path left" checks rely on: it must find a path in every spelling a file can hold it in, and
 * only as a whole path.
 */
import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { findOldPaths, namedIn } from './helpers/find-old-paths.js';
import { freshDir } from './helpers/scratch.js';

// Every character that some spelling escapes: a space, both quotes, `$`, a backtick, a
// backslash, a two-byte and a three-byte UTF-8 letter and one outside the BMP (a surrogate
// pair in JSON's \u form).
const OLD = '/tmp/it\'s a "dir" $HOME `x` back\\slash ü ☃ 😀/app';

/** Python's urllib.parse.quote (pip's file: URLs): every byte but [A-Za-z0-9_.~/-] as %XX. */
function quote(p: string, hex: (s: string) => string = (s) => s.toUpperCase()): string {
  return [...Buffer.from(p, 'utf8')]
    .map((b) =>
      /[A-Za-z0-9_.~/-]/.test(String.fromCharCode(b))
        ? String.fromCharCode(b)
        : `%${hex(b.toString(16).padStart(2, '0'))}`,
    )
    .join('');
}

/** Python's json.dumps (ensure_ascii): \uXXXX for every code unit past ASCII, lower-case hex. */
function jsonAscii(p: string): string {
  return JSON.stringify(p)
    .slice(1, -1)
    .replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const spelled: [string, string, string][] = [
  ['as is', `home = ${OLD}\n`, 'as is'],
  ['in a file: URL, percent-encoded', `{"url": "file://${quote(OLD)}/src"}`, 'percent-encoded'],
  ['percent-encoded in lower-case hex', `file://${quote(OLD, (s) => s)}`, 'percent-encoded'],
  [
    'percent-encoded, with the slashes encoded too',
    `x=${quote(OLD).replace(/\//g, '%2F')}&y`,
    'percent-encoded',
  ],
  ['JSON-escaped (JSON.stringify)', `{"p": ${JSON.stringify(OLD)}}`, 'backslash-escaped'],
  [
    'JSON-escaped with \\/ and \\uXXXX (json.dumps, PHP)',
    `{"p": "${jsonAscii(OLD).replace(/\//g, '\\/')}"}`,
    'backslash-escaped',
  ],
  [
    'a percent-encoded file: URL inside JSON with \\/',
    `{"url": "file:\\/\\/${quote(OLD).replace(/\//g, '\\/')}"}`,
    'percent-encoded',
  ],
  [
    "sh single quotes, '\\'' for a quote",
    `VIRTUAL_ENV='${OLD.replace(/'/g, `'\\''`)}'\n`,
    'shell-quoted',
  ],
  [
    `csh single quotes, '"'"' for a quote`,
    `setenv VIRTUAL_ENV '${OLD.replace(/'/g, `'"'"'`)}'\n`,
    'shell-quoted',
  ],
  [
    'sh double quotes, with \\$, \\", \\` and \\\\',
    `VIRTUAL_ENV="${OLD.replace(/[\\"$`]/g, (c) => `\\${c}`)}"\n`,
    'backslash-escaped',
  ],
  [
    "a Python literal in single quotes, with \\' and \\\\",
    `HERE = '${OLD.replace(/[\\']/g, (c) => `\\${c}`)}'\n`,
    'backslash-escaped',
  ],
];

for (const [what, text, how] of spelled) {
  test(`finds the old path ${what}`, (t) => {
    const dir = freshDir('find-old');
    fs.writeFileSync(path.join(dir, 'f'), text);
    const hits = findOldPaths(dir, [OLD]);
    t.deepEqual(
      hits.text.map((h) => ({ file: h.file, names: h.names, spellings: h.spellings })),
      [{ file: 'f', names: [OLD], spellings: [how] }],
      text,
    );
    // The same spelling right before a name byte is another path: not found.
    const longer = text.replace('app', 'app2');
    t.deepEqual(namedIn(Buffer.from(longer), [OLD]).names, [], longer);
  });
}

const OPT = '/old/app';
const boundaries: [string, boolean][] = [
  ['/old/app', true],
  ['/old/app/bin/python', true],
  ['"/old/app"', true],
  ['/old/app,/other', true],
  ['(/old/app)', true],
  ['file:///old/app/x', true],
  ['PATH=/old/app:/usr/bin', true],
  ['/old/app2', false],
  ['/old/app-2', false],
  ['/old/app.bak', false],
  ['/old/app_x', false],
  ['/old/app+x', false],
  ['/old/app@x', false],
  ['/old/app~', false],
  ['/old/appé', false],
  ['/x/old/app', false],
  ['x/old/app', false],
  ['~/old/app', false],
  ['é/old/app', false],
  // An escape spells its byte: %32 and \u0032 are "2", %2F and \/ are "/".
  ['file://%2Fold%2Fapp%32', false],
  ['file://%2Fold%2Fapp%2Fx', true],
  ['"\\/old\\/app\\u0032"', false],
  ['"\\/old\\/app\\/x"', true],
  ['"\\/old\\/app\\u00e9"', false],
];

for (const [text, found] of boundaries) {
  test(`finds ${OPT} in ${JSON.stringify(text)}: ${found ? 'yes' : 'no, another path'}`, (t) => {
    t.deepEqual(namedIn(Buffer.from(text), [OPT]).names, found ? [OPT] : []);
  });
}

test('names each old path a file holds, and only those', (t) => {
  const other = '/old/é x';
  const named = namedIn(Buffer.from(`${OPT}2 file://${quote(other)}/y`), [OPT, other, '/old/src']);
  t.deepEqual(named, { names: [other], spellings: ['percent-encoded'] });
});

test('sorts hits into text, pycs, binaries and symlinks, and never follows a symlink', (t) => {
  const dir = freshDir('find-old-kinds');
  fs.mkdirSync(path.join(dir, 'lib', '__pycache__'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'lib', 'a.txt'), `${OPT}/x\n`);
  fs.writeFileSync(path.join(dir, 'lib', 'b.txt'), `${OPT}2/x ${OPT}-x\n`);
  fs.writeFileSync(
    path.join(dir, 'lib', '__pycache__', 'm.cpython-312.pyc'),
    Buffer.concat([Buffer.from([0xcb, 0x0d, 0x0d, 0x0a, 0]), Buffer.from(`${OPT}/m.py`)]),
  );
  fs.writeFileSync(
    path.join(dir, 'lib', 'ext.so'),
    Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0]), Buffer.from(`${OPT}/lib`)]),
  );
  fs.symlinkSync(`${OPT}/lib`, path.join(dir, 'lib', 'stale-link'));
  // A link to a file that names the old path: the file is found once, through its own name.
  fs.symlinkSync(path.join(dir, 'lib', 'a.txt'), path.join(dir, 'lib', 'to-a'));
  const files = (hits: { file: string }[]): string[] => hits.map((h) => h.file);
  const hits = findOldPaths(dir, [OPT]);
  t.deepEqual(files(hits.text), ['lib/a.txt']);
  t.deepEqual(files(hits.pycs), ['lib/__pycache__/m.cpython-312.pyc']);
  t.deepEqual(files(hits.binaries), ['lib/ext.so']);
  t.deepEqual(files(hits.symlinks), [`lib/stale-link -> ${OPT}/lib`]);
});

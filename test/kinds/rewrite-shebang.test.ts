import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RewriteError } from '../../src/core/errors.js';
import { type Mapping, utf8ToBytes } from '../../src/core/path-boundary.js';
import { buildShebang, rewriteShebang } from '../../src/kinds/rewrite-shebang.js';
import { parseShebang } from '../../src/kinds/parse-shebang.js';
import { findPythons } from '../helpers/pythons.js';
import { run, runOk } from '../helpers/run.js';
import { freshDir } from '../helpers/scratch.js';

const OLD = '/old/venv';

function map(to: string, from = OLD): Mapping[] {
  return [{ from: utf8ToBytes(from), to: utf8ToBytes(to) }];
}

function rewrite(src: string, mappings: Mapping[]): string | undefined {
  return rewriteShebang(Buffer.from(src, 'utf8'), { mappings })?.toString('utf8');
}

function execHeader(word: string, rest = '', eol = '\n'): string {
  return `#!/bin/sh${eol}'''exec' ${word}${rest} "$0" "$@"${eol}' '''${eol}`;
}

const BODY = '# -*- coding: utf-8 -*-\nimport sys\n';

test('moves the interpreter of a simple header and keeps its arguments', (t) => {
  t.is(
    rewrite(`#!/old/venv/bin/python3 -E\n${BODY}`, map('/srv/app')),
    `#!/srv/app/bin/python3 -E\n${BODY}`,
  );
});

test('leaves look-alike interpreters alone and moves sub-paths', (t) => {
  for (const from of ['/old/venv-2', '/old/venv2', '/x/old/venv', '/old/venv.d']) {
    t.is(rewrite(`#!${from}/bin/python\n${BODY}`, map('/new')), undefined, from);
  }
  t.is(rewrite(`#!/old/venv/sub/bin/python\n`, map('/new')), '#!/new/sub/bin/python\n');
});

test('keeps CRLF line endings in both forms', (t) => {
  t.is(
    rewrite('#!/old/venv/bin/python\r\nx = 1\r\n', map('/new')),
    '#!/new/bin/python\r\nx = 1\r\n',
  );
  t.is(
    rewrite('#!/old/venv/bin/python\r\nx = 1\r\n', map('/new dir')),
    `${execHeader('"/new dir/bin/python"', '', '\r\n')}x = 1\r\n`,
  );
});

test('writes the exec form exactly when the simple header would pass 127 bytes', (t) => {
  // "#!" + path + " -E" + "\n": 127 bytes fit, 128 do not.
  const fit = '/' + 'a'.repeat(127 - 2 - 1 - '/bin/python3 -E'.length - 1);
  const over = fit + 'b';
  t.is(
    rewrite(`#!/old/venv/bin/python3 -E\n${BODY}`, map(fit)),
    `#!${fit}/bin/python3 -E\n${BODY}`,
  );
  t.is(`#!${fit}/bin/python3 -E\n`.length, 127);
  t.is(
    rewrite(`#!/old/venv/bin/python3 -E\n${BODY}`, map(over)),
    `${execHeader(`${over}/bin/python3`, ' -E')}${BODY}`,
  );
});

test('goes back to the simple form when the new path fits again', (t) => {
  const src = `${execHeader('"/old/venv/bin/python3"', ' -s')}${BODY}`;
  t.is(rewrite(src, map('/srv/app')), `#!/srv/app/bin/python3 -s\n${BODY}`);
});

test('quotes a path with a space in double quotes, as distlib does', (t) => {
  t.is(rewrite(`#!/old/venv/bin/python\n`, map('/my app')), execHeader('"/my app/bin/python"'));
  t.is(
    rewrite(`#!/old/venv/bin/python\n`, map("/it's here")),
    execHeader(`"/it's here/bin/python"`),
  );
});

test('quotes a path holding " $ ` or \\ in single quotes', (t) => {
  // Each holds a blank, so that the exec form is needed at all.
  for (const to of ['/say "hi"', '/$HOME dir', '/`x` y', '/back\\slash dir', '/it\'s "x"']) {
    const word = "'" + `${to}/bin/python`.replace(/'/g, "'\\''") + "'";
    t.is(rewrite(`#!/old/venv/bin/python\n`, map(to)), execHeader(word), to);
  }
});

test("uses single quotes for a path holding ''', which would end the Python string", (t) => {
  t.is(
    rewrite(`#!/old/venv/bin/python\n`, map("/a '''b")),
    execHeader("'/a '\\'''\\'''\\''b/bin/python'"),
  );
});

test('falls back to double quotes when single quotes would make a bad Python escape', (t) => {
  // '…\N…' is a SyntaxError inside the Python string; "…\\N…" is not.
  t.is(
    rewrite(`#!/old/venv/bin/python\n`, map('/x \\N{y}')),
    execHeader('"/x \\\\N{y}/bin/python"'),
  );
});

test('refuses a path that no quoting can write', (t) => {
  for (const to of ["/a '''\\N{b}", '/line\nbreak']) {
    const err = t.throws(() => rewrite(`#!/old/venv/bin/python\n`, map(to)), {
      instanceOf: RewriteError,
    });
    t.is(err?.reason, 'unquotable', to);
  }
  const latin1: Mapping[] = [{ from: OLD, to: '/caf\xe9' }];
  const err = t.throws(
    () => rewriteShebang(Buffer.from('#!/old/venv/bin/python\n'), { mappings: latin1 }),
    {
      instanceOf: RewriteError,
    },
  );
  t.is(err?.reason, 'unquotable');
});

test('keeps a non-Python interpreter in the simple form', (t) => {
  const long = '/' + 'n'.repeat(200);
  t.is(rewrite('#!/old/venv/bin/node\n', map(long)), `#!${long}/bin/node\n`);
  t.throws(() => rewrite('#!/old/venv/bin/node\n', map('/a b')), { instanceOf: RewriteError });
});

test('rewrites the body with the general text rule and leaves a header that does not move', (t) => {
  const long = `#!/usr/bin/env python3 -${'x'.repeat(150)}\n`;
  t.is(rewrite(`${long}P = '/old/venv/lib'\n`, map('/new')), `${long}P = '/new/lib'\n`);
  t.is(rewrite("P = '/old/venv/lib'\n", map('/new')), "P = '/new/lib'\n");
  t.is(rewrite('no header here\n', map('/new')), undefined);
});

test('repairs the unquoted header pip wrote for a data script in a path with a space', (t) => {
  t.is(rewrite('#!/old venv/bin/python\nx\n', map('/new', '/old venv')), '#!/new/bin/python\nx\n');
});

test('keeps a header without a final line break without one', (t) => {
  t.is(rewrite('#!/old/venv/bin/python', map('/new')), '#!/new/bin/python');
});

test('parses both forms and its own quoting back', (t) => {
  const simple = parseShebang(Buffer.from('#! /v/bin/python3 -E\nbody'));
  t.deepEqual(simple, {
    form: 'simple',
    interpreter: '/v/bin/python3',
    rest: ' -E',
    headerEnd: 21,
    eol: '\n',
  });
  const exec = parseShebang(Buffer.from(`${execHeader('"/a b/python"', ' -s', '\r\n')}body`));
  t.deepEqual(exec, {
    form: 'exec',
    interpreter: '/a b/python',
    rest: ' -s',
    headerEnd: execHeader('"/a b/python"', ' -s', '\r\n').length,
    eol: '\r\n',
  });
  t.is(parseShebang(Buffer.from('import os\n')), undefined);
  t.is(parseShebang(Buffer.from('#!\n')), undefined);
  for (const to of [
    "/it's",
    '/say "hi"',
    '/$x `y` \\z',
    "/a '''b",
    '/x \\N{y}',
    '/' + 'l'.repeat(130),
    '/ünï 日本',
  ]) {
    const out = rewriteShebang(Buffer.from('#!/old/venv/bin/python -E\nbody\n'), {
      mappings: map(to),
    });
    const sb = out === undefined ? undefined : parseShebang(out);
    t.is(sb?.interpreter, utf8ToBytes(`${to}/bin/python`), to);
    t.is(sb?.rest, ' -E', to);
  }
});

// ---------------------------------------------------------------------------------------------
// Against the real thing.

test("writes distlib's own header byte for byte", async (t) => {
  const python = findPythons().at(-1);
  if (python === undefined) return t.fail('no CPython >= 3.6 found on this machine');
  const cases: Array<[string, string]> = [
    ['/srv/app/bin/python3', ''],
    ['/srv/app/bin/python3', ' -E'],
    ['/' + 'x'.repeat(120) + '/bin/python3', ''],
    ['/' + 'x'.repeat(108) + '/bin/python3', ' -E'],
    ['/' + 'x'.repeat(109) + '/bin/python3', ' -E'],
    ['/my app/bin/python', ''],
    ["/it's here/bin/python", ' -s'],
    ['/ünï 日本/bin/python3', ''],
  ];
  const script = `
import json, sys
from pip._vendor.distlib import scripts
enquote = getattr(scripts, 'enquote_executable', None) or scripts._enquote_executable
maker = scripts.ScriptMaker(None, None)
out = []
for exe, post in json.loads(sys.argv[1]):
    header = maker._build_shebang(enquote(exe).encode('utf-8'), post.encode())
    # ScriptMaker._write_script ends the header with os.linesep when it does not already.
    out.append((header if header.endswith(b'\\n') else header + b'\\n').hex())
print(json.dumps(out))
`;
  const r = await runOk(python.exe, ['-c', script, JSON.stringify(cases)]);
  const expected = JSON.parse(r.stdout.toString()) as string[];
  t.log(`distlib of pip in Python ${python.full}`);
  cases.forEach(([exe, post], i) => {
    const ours = Buffer.from(buildShebang(utf8ToBytes(exe), post, '\n'), 'latin1').toString('hex');
    t.is(ours, String(expected[i]), exe);
  });
});

// Directory names that stress both header forms: over 127 bytes, blanks, quotes, sh's
// specials, non-ASCII, and the Python string's own enemies.
const NAMES: Array<[string, string]> = [
  ['long', 'l'.repeat(140)],
  ['space', 'with space'],
  ['single quote', "it's"],
  ['double quote', 'say "hi"'],
  ['dollar and backtick', '$HOME $(false) `false`'],
  ['backslash', 'back\\slash'],
  ['unicode', 'ünï 日本'],
  ['triple quote', "tri'''ple"],
  ['backslash N', 'x\\N{y}'],
  ['everything', 'a b\'c"d$e`f\\g ü ' + 'x'.repeat(100)],
];

const ORIGINALS: Array<[string, string]> = [
  ['simple', '#!/old/venv/bin/python3 -E\n'],
  ['exec', execHeader('"/old/venv/bin/python3"', ' -E')],
];

const PY_BODY = `import os, sys, json
print(json.dumps([os.fsencode(a).hex() for a in sys.argv] + [sys.flags.ignore_environment]))
`;

function hexOf(s: string): string {
  return Buffer.from(s, 'utf8').toString('hex');
}

function writeScript(venv: string, header: string): string {
  const file = path.join(venv, 'bin', 'tool');
  const out = rewriteShebang(Buffer.from(header + PY_BODY, 'utf8'), { mappings: map(venv) });
  if (out === undefined) throw new Error('the header did not change');
  fs.writeFileSync(file, out, { mode: 0o755 });
  return file;
}

test('rewritten scripts start the right interpreter with the right arguments', async (t) => {
  const base = freshDir('shebang-fake');
  let runs = 0;
  for (const [label, name] of NAMES) {
    const venv = path.join(base, name, 'venv');
    fs.mkdirSync(path.join(venv, 'bin'), { recursive: true });
    const fake = path.join(venv, 'bin', 'python3');
    // A stand-in interpreter that prints how it was called, NUL-separated.
    fs.writeFileSync(fake, `#!/bin/sh\nprintf '%s\\0' "$0" "$@"\n`, { mode: 0o755 });
    for (const [form, header] of ORIGINALS) {
      const tool = writeScript(venv, header);
      const r = await run(tool, ['a', 'b c', '$x']);
      t.is(r.status, 0, `${label}, from the ${form} form: ${r.stderr.toString()}`);
      t.deepEqual(
        r.stdout.toString('utf8').split('\0').slice(0, -1),
        [fake, '-E', tool, 'a', 'b c', '$x'],
        `${label}, ${form}`,
      );
      runs++;
    }
  }
  t.log(`${runs} scripts run through a stand-in interpreter`);
});

test('rewritten scripts run under every real Python, which parses the header too', async (t) => {
  const pythons = findPythons();
  if (pythons.length === 0) return t.fail('no CPython >= 3.6 found on this machine');
  t.log(`Pythons: ${pythons.map((p) => p.full).join(', ')}`);
  const base = freshDir('shebang-real');
  let runs = 0;
  for (const [pi, py] of pythons.entries()) {
    for (const [label, name] of NAMES) {
      const venv = path.join(base, String(pi), name, 'venv');
      fs.mkdirSync(path.join(venv, 'bin'), { recursive: true });
      fs.symlinkSync(py.exe, path.join(venv, 'bin', 'python3'));
      for (const [form, header] of ORIGINALS) {
        const tool = writeScript(venv, header);
        const r = await run(tool, ['a', 'b c']);
        const what = `Python ${py.full}, ${label}, from the ${form} form`;
        t.is(r.status, 0, `${what}: ${r.stderr.toString()}`);
        // argv[0] is the script itself, and -E reached the interpreter.
        t.deepEqual(
          JSON.parse(r.stdout.toString()),
          [hexOf(tool), hexOf('a'), hexOf('b c'), 1],
          what,
        );
        // Only an unknown escape (a backslash path in single quotes) may warn, from 3.12 on.
        if (!name.includes('\\')) t.is(r.stderr.toString(), '', what);
        runs++;
      }
    }
  }
  t.log(`${runs} scripts run`);
});

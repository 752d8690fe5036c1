import test from 'ava';
import { isUtf8 } from 'node:buffer';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RewriteError } from '../../src/core/errors.js';
import { type Mapping, utf8ToBytes } from '../../src/core/path-boundary.js';
import { rewritePythonSource } from '../../src/kinds/rewrite-python-source.js';
import { findPythons } from '../helpers/pythons.js';
import { runOk } from '../helpers/run.js';
import { freshDir } from '../helpers/scratch.js';

const OLD = '/old/venv';

function map(to: string, from = OLD): Mapping[] {
  return [{ from: utf8ToBytes(from), to: utf8ToBytes(to) }];
}

function rewrite(src: string, mappings: Mapping[]): string | undefined {
  const out = rewritePythonSource(Buffer.from(src, 'utf8'), { mappings });
  return out?.toString('utf8');
}

test('rewrites the MAPPING of a setuptools editable finder', (t) => {
  const src =
    "MAPPING: dict[str, str] = {'mypkg': '/old/venv/src/mypkg'}\nNAMESPACES: dict[str, list[str]] = {}\n";
  t.is(
    rewrite(src, map('/srv/app')),
    "MAPPING: dict[str, str] = {'mypkg': '/srv/app/src/mypkg'}\nNAMESPACES: dict[str, list[str]] = {}\n",
  );
});

test('leaves look-alike paths alone and moves sub-paths', (t) => {
  t.is(
    rewrite("a = '/old/venv-2/x'\nb = '/old/venv2'\nc = '/x/old/venv'\n", map('/new')),
    undefined,
  );
  t.is(
    rewrite("a = '/old/venv/sub'\nb = '/old/venv'\n", map('/new')),
    "a = '/new/sub'\nb = '/new'\n",
  );
});

test('escapes a quote of the literal inline', (t) => {
  t.is(rewrite("p = '/old/venv/x'\n", map("/it's")), "p = '/it\\'s/x'\n");
  t.is(rewrite('p = "/old/venv/x"\n', map('/say "hi"')), 'p = "/say \\"hi\\"/x"\n');
  t.is(rewrite('p = "/old/venv/x"\n', map("/it's")), 'p = "/it\'s/x"\n');
});

test('reads a path that repr() wrote in double quotes or with doubled backslashes', (t) => {
  t.is(rewrite('p = "/it\'s/src"\n', map('/new', "/it's")), 'p = "/new/src"\n');
  t.is(rewrite("p = '/a\\\\b/src'\n", map('/new', '/a\\b')), "p = '/new/src'\n");
  t.is(rewrite("p = '/new/src'\n", map('/a\\b', '/new')), "p = '/a\\\\b/src'\n");
});

test('keeps a raw literal raw when the new path fits it, and re-encodes it when not', (t) => {
  t.is(rewrite("p = r'/old/venv/x'\n", map('/new dir')), "p = r'/new dir/x'\n");
  t.is(rewrite("p = r'/old/venv'\n", map("/it's")), 'p = "/it\'s"\n');
  t.is(rewrite("p = R'/old/venv'\n", map('/back\\')), "p = '/back\\\\'\n");
  t.is(rewrite("p = Rb'/old/venv'\n", map('/\u00e9')), "p = b'/\\xc3\\xa9'\n");
});

test('writes non-ASCII bytes as \\x escapes in bytes literals', (t) => {
  t.is(rewrite("p = b'/old/venv/x'\n", map('/\u00fcber')), "p = b'/\\xc3\\xbcber/x'\n");
});

test('writes printable unicode as it is and non-UTF-8 bytes as surrogate escapes', (t) => {
  t.is(rewrite("p = '/old/venv'\n", map('/\u65e5\u672c')), "p = '/\u65e5\u672c'\n");
  const bytesMapping: Mapping[] = [{ from: utf8ToBytes(OLD), to: '/caf\xe9' }];
  t.is(rewrite("p = '/old/venv'\n", bytesMapping), "p = '/caf\\udce9'\n");
  // And back: the surrogate escape is read as the byte it stands for.
  const back: Mapping[] = [{ from: '/caf\xe9', to: '/new' }];
  t.is(rewrite("p = '/caf\\udce9/x'\n", back), "p = '/new/x'\n");
});

test('rewrites triple-quoted literals and keeps their line breaks', (t) => {
  t.is(
    rewrite("doc = '''\n  /old/venv/x\n  '''\n", map("/it's")),
    "doc = '''\n  /it\\'s/x\n  '''\n",
  );
});

test('rewrites the text of f-strings and the strings in their fields', (t) => {
  t.is(rewrite("p = f'/old/venv/{name}'\n", map('/new')), "p = f'/new/{name}'\n");
  t.is(rewrite("p = f'/old/venv/{name}'\n", map('/a{b}')), "p = f'/a{{b}}/{name}'\n");
  t.is(rewrite('p = f"{d[\'/old/venv\']}/x"\n', map('/new')), 'p = f"{d[\'/new\']}/x"\n');
  t.is(rewrite("p = rf'/old/venv\\{x}'\n", map('/new')), "p = rf'/new\\{x}'\n");
  t.is(rewrite("p = rf'/old/venv\\d{x}'\n", map("/it's")), "p = f'/it\\'s\\\\d{x}'\n");
});

test('replaces paths in comments and code verbatim', (t) => {
  t.is(
    rewrite('# installed from /old/venv/src\nimport os  # /old/venv\n', map("/it's")),
    "# installed from /it's/src\nimport os  # /it's\n",
  );
});

test('keeps a literal continued over a backslash-newline valid', (t) => {
  const out = rewrite("p = '/old/ve\\\nnv/x'\n", map('/new'));
  t.is(out, "p = '/new/x'\n");
});

test('writes non-ASCII as escapes in a latin-1 source file', (t) => {
  const src = Buffer.from("# -*- coding: latin-1 -*-\np = '/old/venv'\nq = '\xe9'\n", 'latin1');
  const out = rewritePythonSource(src, { mappings: map('/\u00fc') });
  t.is(out?.toString('latin1'), "# -*- coding: latin-1 -*-\np = '/\\xfc'\nq = '\xe9'\n");
});

test('falls back to the text rule for source it cannot tokenise', (t) => {
  t.is(rewrite("p = '/old/venv\n", map('/new')), "p = '/new\n");
});

test('refuses a path that would need a backslash inside an f-string field', (t) => {
  const err = t.throws(() => rewrite('p = f"{d[\'/old/venv\']}"\n', map('/a\\b')), {
    instanceOf: RewriteError,
  });
  t.is(err?.reason, 'unquotable');
});

test('refuses a path with a line break in a comment', (t) => {
  const err = t.throws(() => rewrite('# /old/venv\n', map('/a\nb')), { instanceOf: RewriteError });
  t.is(err?.reason, 'unquotable');
  // Inside a literal the line break is escaped.
  t.is(rewrite("p = '/old/venv'\n", map('/a\nb')), "p = '/a\\nb'\n");
});

test('returns undefined when nothing holds the path', (t) => {
  t.is(rewrite("import os\np = '/other'\n", map('/new')), undefined);
});

// ---------------------------------------------------------------------------------------------
// Against real Pythons: every rewritten module must compile, and every value must be the old
// value with the mapping applied (computed independently, in Python, with the boundary rule).

interface Case {
  readonly src: string;
  /** Lowest minor version of 3.x that parses the source. */
  readonly min?: number;
  /** Targets this source cannot express, which must be refused with RewriteError('unquotable'). */
  readonly refuses?: (to: string) => boolean;
}

const TEMPLATES: Case[] = [
  { src: "v0 = '/old/venv/lib/x'\n" },
  { src: 'v0 = "/old/venv"\n' },
  { src: "v0 = r'/old/venv/a b'\n" },
  { src: 'v0 = R"/old/venv"\n' },
  { src: "v0 = b'/old/venv/x'\n" },
  { src: "v0 = rb'/old/venv'\n" },
  { src: "v0 = u'/old/venv'\n" },
  { src: "v0 = '''/old/venv\n/old/venv/x'''\n" },
  { src: 'v0 = """\n/old/venv"""\n' },
  { src: "v0 = r'''/old/venv'''\n" },
  { src: "v0 = f'{x}/old/venv/{y!r:>{w}}'\n" },
  { src: "v0 = rf'/old/venv\\n{x}'\n" },
  // Inside f-string fields Python < 3.12 allows no backslash and no enclosing quote.
  {
    src: 'v0 = f"{\'/old/venv\'}/{x}"\n',
    refuses: (to) => /['"\\\n]/.test(to) || !isUtf8(Buffer.from(to, 'latin1')),
  },
  {
    src: "v0 = f'{'/old/venv'}'\n",
    min: 12,
    refuses: (to) => /['\\\n]/.test(to) || !isUtf8(Buffer.from(to, 'latin1')),
  },
  // A comment cannot hold a line break, nor, in a UTF-8 file, a byte that is not UTF-8.
  {
    src: "v0 = '/old/venv-2/x'  # /old/venv\nv1 = '/old/venv:/old/venv2:/old/venv'\n",
    refuses: (to) => to.includes('\n') || !isUtf8(Buffer.from(to, 'latin1')),
  },
  { src: "v0 = {'pkg': '/old/venv/src/pkg', 'other': \"/old/venv/it's\"}\n" },
  { src: "v0 = '/old/ve\\\nnv/x'\n" },
  { src: "v0 = '\\x2fold\\x2fvenv/x'\nv1 = '/old/venv'\n" },
  { src: "v0 = '/old/venv\\t/old/venv\\\\'\n" },
  { src: "v0 = ('/old/venv'\n      '/x')\n" },
];

// Byte strings: UTF-8 paths, and one path whose byte 0xE9 is not UTF-8 (Python sees \udce9).
const TARGETS: string[] = [
  '/caf\xe9 latin-1',
  ...[
    '/srv/app',
    "/it's",
    '/say "hi"',
    '/both \' and "',
    '/back\\slash\\',
    '/\u00fcnic\u00f6de \u65e5\u672c',
    '/tab\tand\nnewline',
    '/braces {x} }{',
    '/tri\'\'\'ple"""',
    '/l' + 'o'.repeat(150),
  ].map(utf8ToBytes),
];

// Python side: load both modules, compare each v* value with the mapped old one.
const CHECKER = String.raw`
import ast, json, os, sys
NAME = set(b'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-+@~') | set(range(0x80, 0x100))

def remap(b, frm, to):
    out, i = b'', 0
    while True:
        j = b.find(frm, i)
        while j != -1 and ((j > 0 and b[j - 1] in NAME) or (j + len(frm) < len(b) and b[j + len(frm)] in NAME)):
            j = b.find(frm, j + 1)
        if j == -1:
            return out + b[i:]
        out += b[i:j] + to
        i = j + len(frm)

def as_bytes(v):
    return v if isinstance(v, bytes) else os.fsencode(v)

def load(src):
    ns = {'x': 'X:', 'y': 'Y', 'w': 3, 'd': {}}
    exec(compile(src, '<case>', 'exec'), ns)
    return {k: v for k, v in ns.items() if k.startswith('v')}

def norm(v, fn):
    if isinstance(v, dict):
        return {k: fn(x) for k, x in v.items()}
    return fn(v)

failures = []
cases = json.load(open(sys.argv[1]))
for c in cases:
    old = bytes.fromhex(c['old']).decode('utf-8', 'surrogateescape')
    new = bytes.fromhex(c['new']).decode('utf-8', 'surrogateescape')
    frm, to = bytes.fromhex(c['frm']), bytes.fromhex(c['to'])
    try:
        before, after = load(old), load(new)
        for k, v in before.items():
            want = norm(v, lambda s: remap(as_bytes(s), frm, to))
            got = norm(after[k], as_bytes)
            if want != got:
                failures.append([c['id'], k, repr(want), repr(got)])
        # Every plain literal also reads back through ast.literal_eval.
        for node in ast.walk(ast.parse(new)):
            if isinstance(node, ast.Assign) and not isinstance(node.value, ast.JoinedStr):
                ast.literal_eval(node.value)
    except Exception as e:
        failures.append([c['id'], 'error', repr(e), new])
print(json.dumps(failures))
`;

test('rewritten literals compile and hold the mapped values in every Python', async (t) => {
  const pythons = findPythons();
  if (pythons.length === 0) return t.fail('no CPython >= 3.6 found on this machine');
  const dir = freshDir('pysrc');
  const checker = path.join(dir, 'check.py');
  fs.writeFileSync(checker, CHECKER);
  t.log(`Pythons: ${pythons.map((p) => p.full).join(', ')}`);
  let checked = 0;
  for (const py of pythons) {
    const minor = Number(py.version.split('.')[1]);
    const cases: object[] = [];
    for (const [ti, tpl] of TEMPLATES.entries()) {
      if ((tpl.min ?? 0) > minor) continue;
      for (const [gi, to] of TARGETS.entries()) {
        const mappings: Mapping[] = [{ from: OLD, to }];
        let out: Buffer | undefined;
        try {
          out = rewritePythonSource(Buffer.from(tpl.src, 'utf8'), { mappings });
        } catch (err) {
          t.true(
            err instanceof RewriteError && err.reason === 'unquotable',
            `template ${ti} target ${gi}: ${String(err)}`,
          );
          t.true(
            tpl.refuses?.(to) ?? false,
            `template ${ti} target ${gi} was refused: ${String(err)}`,
          );
          continue;
        }
        t.false(tpl.refuses?.(to) ?? false, `template ${ti} target ${gi} should have been refused`);
        cases.push({
          id: `${ti}/${gi}`,
          old: Buffer.from(tpl.src, 'utf8').toString('hex'),
          new: (out ?? Buffer.from(tpl.src, 'utf8')).toString('hex'),
          frm: Buffer.from(OLD, 'utf8').toString('hex'),
          to: Buffer.from(to, 'latin1').toString('hex'),
        });
      }
    }
    const file = path.join(dir, `cases-${py.full}.json`);
    fs.writeFileSync(file, JSON.stringify(cases));
    const r = await runOk(py.exe, [checker, file]);
    t.deepEqual(JSON.parse(r.stdout.toString('utf8')), [], `Python ${py.full}`);
    checked += cases.length;
  }
  t.log(`${checked} rewritten modules checked`);
});

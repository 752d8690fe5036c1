import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  makeScriptRelocatable,
  parseRelocatableShebang,
  relocatableHeader,
} from '../../src/kinds/relocatable-shebang.js';
import { findTool, lacks, missingTool, type Tool } from '../helpers/require-tool.js';
import { findPythons } from '../helpers/pythons.js';
import { cleanEnv, run } from '../helpers/run.js';
import { freshDir } from '../helpers/scratch.js';

const PLACE = '/build/app/venv';
const ctx = {
  places: [PLACE],
  binDir: 'bin',
  hasInterpreter: (name: string) => ['python', 'python3', 'python3.12', 'pypy3'].includes(name),
};

function make(src: string): string | undefined {
  const r = makeScriptRelocatable(Buffer.from(src, 'utf8'), ctx);
  return r.bytes?.toString('utf8');
}

const BODY = '# -*- coding: utf-8 -*-\nimport sys\nprint(sys.prefix)\n';

test('gives a pip script the relocatable header and keeps its body byte for byte', (t) => {
  t.is(make(`#!${PLACE}/bin/python\n${BODY}`), relocatableHeader('python') + BODY);
  t.is(
    make(`#!${PLACE}/bin/python3 -E -s\n${BODY}`),
    relocatableHeader('python3', ['-E', '-s']) + BODY,
  );
});

test('reads the exec form pip writes for a long or spaced path, and uv relocatable headers', (t) => {
  const space = '/build/my app/venv';
  const r = makeScriptRelocatable(
    Buffer.from(`#!/bin/sh\n'''exec' "${space}/bin/python" "$0" "$@"\n' '''\n${BODY}`),
    { ...ctx, places: [space] },
  );
  t.is(r.bytes?.toString(), relocatableHeader('python') + BODY);
  for (const line2 of [
    `'''exec' "$(dirname -- "$(realpath -- "$0")")"/'python3' "$0" "$@"`,
    `'''exec' "$(CDPATH= cd -- "$(dirname -- "$0")" && echo "$PWD")"/'python3' "$0" "$@"`,
  ]) {
    t.is(make(`#!/bin/sh\n${line2}\n' '''\n${BODY}`), relocatableHeader('python3') + BODY, line2);
  }
});

test('leaves scripts of other interpreters, other places and its own form as they are', (t) => {
  t.deepEqual(makeScriptRelocatable(Buffer.from(`#!/usr/bin/python3\n${BODY}`), ctx), {});
  t.deepEqual(makeScriptRelocatable(Buffer.from(`#!/build/app/venv2/bin/python\n`), ctx), {});
  t.deepEqual(makeScriptRelocatable(Buffer.from('no header\n'), ctx), {});
  const own = Buffer.from(relocatableHeader('python3', ['-E']) + BODY);
  t.deepEqual(makeScriptRelocatable(own, ctx), {});
  t.like(parseRelocatableShebang(own), { name: 'python3', args: ['-E'] });
  t.is(parseRelocatableShebang(own)?.headerEnd, relocatableHeader('python3', ['-E']).length);
});

test('lists what it cannot make relative, with why', (t) => {
  t.regex(
    makeScriptRelocatable(Buffer.from(`#!${PLACE}/bin/tool\n`), ctx).left ?? '',
    /not a Python/,
  );
  t.regex(
    makeScriptRelocatable(Buffer.from(`#!${PLACE}/bin/python3.9\n`), ctx).left ?? '',
    /bin\/python3\.9 is not in this venv/,
  );
  t.regex(
    makeScriptRelocatable(Buffer.from(`#!${PLACE}/bin/python -X'q'\n`), ctx).left ?? '',
    /not plain flags/,
  );
});

test('carries a coding declaration other than UTF-8 to line 2, where Python still reads it', (t) => {
  const latin = `# -*- coding: latin-1 -*-\ns = "\xe9"\n`;
  const out = makeScriptRelocatable(Buffer.from(`#!${PLACE}/bin/python\n${latin}`, 'latin1'), ctx);
  const text = out.bytes?.toString('latin1') ?? '';
  t.regex(text.split('\n')[1] ?? '', / # -\*- coding: latin-1 -\*-$/);
  t.truthy(parseRelocatableShebang(out.bytes as Buffer), 'still its own form');
  // pip's `utf-8` declaration is Python's default: not copied.
  t.notRegex(make(`#!${PLACE}/bin/python\n${BODY}`)?.split('\n')[1] ?? '', /coding/);
});

test('keeps the body of a CRLF script and writes its own two lines with LF, which sh needs', (t) => {
  const out = make(`#!${PLACE}/bin/python\r\nimport sys\r\n`);
  t.is(out, `${relocatableHeader('python')}import sys\r\n`);
});

// --- Real runs: the header under every sh we have, from a folder whose name breaks naive quoting.

/** The sh implementations to run the header with, as argv prefixes. */
const SHELLS: ReadonlyArray<{ name: string; tool: Tool; args: readonly string[] }> = [
  { name: 'dash', tool: 'dash', args: [] },
  { name: 'busybox sh', tool: 'busybox', args: ['sh'] },
  { name: 'bash', tool: 'bash', args: ['--posix'] },
  { name: 'zsh', tool: 'zsh', args: ['--emulate', 'sh'] },
];

const python = findPythons().at(-1);

// A script whose body starts with a docstring and `from __future__` imports: with any header
// that Python sees as a statement, this is a SyntaxError (astral-sh/uv#6489).
const FUTURE_BODY = `"""Tool: its docstring stays its own."""
from __future__ import annotations, division
import os, sys
print("doc=%s prefix=%s argv0=%s args=%r" % (__doc__, sys.prefix, sys.argv[0], sys.argv[1:]))
`;

test('runs the Python beside it under dash, BusyBox sh, bash and zsh, through a symlink on PATH, keeping a docstring and __future__ imports', async (t) => {
  if (python === undefined) throw new Error('no CPython 3 found on this machine');
  const top = freshDir('reloc-shebang');
  // Spaces, both quotes, `$`, a backtick, a backslash and non-ASCII at run time.
  const venv = path.join(top, `it's "a" $HOME \`x\` back\\slash ü`, 'venv');
  fs.mkdirSync(path.join(venv, 'bin'), { recursive: true });
  fs.writeFileSync(path.join(venv, 'pyvenv.cfg'), `home = ${path.dirname(python.exe)}\n`);
  fs.symlinkSync(python.exe, path.join(venv, 'bin', 'python'));
  const script = path.join(venv, 'bin', 'tool');
  const made = makeScriptRelocatable(Buffer.from(`#!${PLACE}/bin/python\n${FUTURE_BODY}`), {
    ...ctx,
    places: [PLACE],
  });
  fs.writeFileSync(script, made.bytes as Buffer, { mode: 0o755 });
  // Two links: one on PATH in another folder, and a relative link to that link.
  const onPath = path.join(top, 'on path');
  fs.mkdirSync(onPath);
  fs.symlinkSync(script, path.join(onPath, 'tool'));
  fs.symlinkSync('tool', path.join(onPath, 'tool2'));
  const env = cleanEnv({ PATH: `${onPath}:${process.env.PATH ?? '/usr/bin:/bin'}` });
  const want = (argv0: string) =>
    `doc=Tool: its docstring stays its own. prefix=${venv} argv0=${argv0} args=['a b', '$x']\n`;

  const ran: string[] = [];
  for (const sh of SHELLS) {
    if (lacks(t, missingTool(sh.tool), `running the header under ${sh.name}`)) continue;
    for (const how of [script, path.join(onPath, 'tool'), path.join(onPath, 'tool2')]) {
      const r = await run(findTool(sh.tool) as string, [...sh.args, how, 'a b', '$x'], {
        env,
        cwd: top,
      });
      t.is(r.stdout.toString('utf8'), want(how), `${sh.name} ${how}: ${r.stderr.toString()}`);
      t.is(r.stderr.toString(), '', `${sh.name} writes nothing to stderr`);
    }
    ran.push(sh.name);
  }
  // Through the kernel, by name on PATH, as a user runs it (/bin/sh here).
  const byName = await run('tool', ['a b', '$x'], { env, cwd: top });
  t.is(byName.stdout.toString('utf8'), want(path.join(onPath, 'tool')), byName.stderr.toString());
  // From the folder itself, as ./tool, with a relative $0.
  const rel = await run('./tool', ['a b', '$x'], { env, cwd: path.join(venv, 'bin') });
  t.is(rel.stdout.toString('utf8'), want('./tool'), rel.stderr.toString());
  t.log(`ran under ${ran.join(', ')} and the kernel's /bin/sh`);
});

test('the header holds no path, so the same bytes run from any place: a random folder name each time', async (t) => {
  if (python === undefined) throw new Error('no CPython 3 found on this machine');
  const top = freshDir('reloc-shebang-fuzz');
  const bytes = Buffer.from(relocatableHeader('python') + 'import sys\nprint(sys.prefix)\n');
  // A seeded walk over the characters sh quoting gets wrong.
  const alphabet = [
    ' ',
    "'",
    '"',
    '$',
    '`',
    '\\',
    '*',
    '?',
    '[',
    ']',
    '(',
    ')',
    ';',
    '&',
    '|',
    '<',
    '>',
    '#',
    '~',
    '{',
    '}',
    '!',
    '%',
    '-',
    'a',
    'é',
    '\t',
  ];
  let seed = 20240617;
  const next = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
  // dash where it is installed, else the kernel's /bin/sh.
  const dash = findTool('dash') ?? '/bin/sh';
  for (let i = 0; i < 20; i++) {
    let name = `${i}`;
    for (let k = 0; k < 8; k++) name += alphabet[next() % alphabet.length];
    const bin = path.join(top, name, 'venv', 'bin');
    fs.mkdirSync(bin, { recursive: true });
    fs.writeFileSync(path.join(bin, '..', 'pyvenv.cfg'), `home = ${path.dirname(python.exe)}\n`);
    fs.symlinkSync(python.exe, path.join(bin, 'python'));
    fs.writeFileSync(path.join(bin, 'tool'), bytes, { mode: 0o755 });
    const r = await run(dash, [path.join(bin, 'tool')]);
    t.is(
      r.stdout.toString('utf8'),
      `${path.dirname(bin)}\n`,
      `${JSON.stringify(name)}: ${r.stderr.toString()}`,
    );
  }
});

import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fromBytes, toBytes, type ByteString } from '../../src/core/path-boundary.js';
import {
  makeActivateRelocatable,
  type RelocatableFlavor,
} from '../../src/kinds/relocatable-activate.js';
import { makePthRelative } from '../../src/kinds/relocatable-pth.js';
import { makeRecordRelative } from '../../src/kinds/relocatable-record.js';
import {
  makeScriptRelocatable,
  parseRelocatableShebang,
} from '../../src/kinds/relocatable-shebang.js';
import { findPythons } from '../helpers/pythons.js';
import { seeded } from '../helpers/reliability-venv.js';

// Every relocatable form gets CASES seeded inputs: the real activate templates of the CPythons
// and the virtualenv here, pip-style scripts, .pth lines and RECORD rows, mutated with pieces of
// their syntax. For each input the form never throws, gives the same answer twice, and what it
// writes is a fixed point: run again on its own output, it changes nothing. A script it writes
// is its own relocatable form with the body kept; a .pth it writes names no place by absolute
// path on a path line.

const SEED = Number(process.env.FUZZ_SEED ?? 20240617);
const CASES = Number(process.env.FUZZ_CASES ?? 4_000);

const OLD = '/build/app/venv';
const PLACES: readonly ByteString[] = [OLD, '/srv/other place/venv'];
const SITE = 'lib/python3.12/site-packages';

function readIf(p: string): string | undefined {
  try {
    return fs.readFileSync(p, 'latin1');
  } catch {
    return undefined;
  }
}

interface Seed {
  readonly kind: 'activate' | 'script' | 'pth' | 'record';
  readonly flavor?: RelocatableFlavor;
  readonly bytes: ByteString;
}

function seeds(): Seed[] {
  const out: Seed[] = [];
  const flavorOf: Record<string, RelocatableFlavor> = {
    activate: 'sh',
    'activate.csh': 'csh',
    'activate.fish': 'fish',
    'activate.nu': 'nu',
    'Activate.ps1': 'ps1',
    'activate.ps1': 'ps1',
    'activate.bat': 'bat',
    'activate.xsh': 'xsh',
    'activate_this.py': 'py',
  };
  const dirs: string[] = ['/usr/lib/python3/dist-packages/virtualenv/activation'];
  for (const p of findPythons()) {
    dirs.push(
      path.join(
        path.dirname(path.dirname(fs.realpathSync(p.exe))),
        'lib',
        `python${p.version}`,
        'venv',
        'scripts',
      ),
    );
  }
  const seen = new Set<string>();
  const visit = (dir: string, depth: number): void => {
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const p = path.join(dir, name);
      if (depth < 2 && fs.statSync(p).isDirectory()) visit(p, depth + 1);
      const flavor = flavorOf[name];
      const text = readIf(p);
      if (flavor === undefined || text === undefined || seen.has(text)) continue;
      seen.add(text);
      out.push({
        kind: 'activate',
        flavor,
        bytes: text.replace(/__VENV_DIR__|__VIRTUAL_ENV__/g, OLD).replace(/__[A-Z_]+__/g, 'x'),
      });
    }
  };
  for (const d of dirs) visit(d, 0);
  const body = '# -*- coding: utf-8 -*-\nimport sys\nsys.exit(0)\n';
  for (const s of [
    `#!${OLD}/bin/python\n${body}`,
    `#!${OLD}/bin/python3 -E\r\n${body}`,
    `#!/bin/sh\n'''exec' "${OLD}/bin/python" "$0" "$@"\n' '''\n"""doc"""\nfrom __future__ import annotations\n`,
    `#!/bin/sh\n'''exec' "$(dirname -- "$(realpath -- "$0")")"/'python3' "$0" "$@"\n' '''\n${body}`,
    `#!${OLD}/bin/perl\nprint 1;\n`,
  ])
    out.push({ kind: 'script', bytes: s });
  for (const s of [
    `${OLD}/src\n${OLD}/lib/python3.12/site-packages/x\n/elsewhere\nimport _virtualenv\n`,
    `# ${OLD}\r\n${OLD}\r\n.\r\n`,
  ])
    out.push({ kind: 'pth', bytes: s });
  out.push({
    kind: 'record',
    bytes: `a.py,sha256=x,1\r\n${OLD}/bin/t,sha256=y,2\r\n"${OLD}/q,""r""",,\r\n../../../bin/u,sha256=z,3\r\n`,
  });
  return out;
}

const PIECES = [
  '"',
  "'",
  '`',
  '\\',
  '$',
  '${',
  '$(',
  ')',
  '(',
  '{',
  '}',
  '#',
  ';',
  '\n',
  '\r\n',
  ' ',
  '\t',
  '|',
  '&',
  OLD,
  `${OLD}/bin`,
  `'${OLD}'`,
  `"${OLD}"`,
  `${OLD}2`,
  'VIRTUAL_ENV=',
  'setenv VIRTUAL_ENV ',
  'set -gx VIRTUAL_ENV ',
  'import ',
  '\f',
  ',',
  'é',
];

function mutate(rnd: () => number, s: string): string {
  let out = s;
  const n = 1 + Math.floor(rnd() * 4);
  for (let k = 0; k < n; k++) {
    const at = Math.floor(rnd() * (out.length + 1));
    const r = rnd();
    if (r < 0.5) out = out.slice(0, at) + PIECES[Math.floor(rnd() * PIECES.length)] + out.slice(at);
    else if (r < 0.8) out = out.slice(0, at) + out.slice(at + 1 + Math.floor(rnd() * 8));
    else {
      const from = Math.floor(rnd() * out.length);
      out = out.slice(0, at) + out.slice(from, from + 20) + out.slice(at);
    }
  }
  return out;
}

/** The form's answer for `bytes`: the new bytes (as a byte string), or what it left. */
function apply(seed: Seed, bytes: ByteString): { out?: ByteString; left: readonly string[] } {
  const b = toBytes(bytes);
  switch (seed.kind) {
    case 'activate': {
      const r = makeActivateRelocatable(b, {
        flavor: seed.flavor as RelocatableFlavor,
        places: PLACES,
        fileName: 'activate',
      });
      return { ...(r.bytes === undefined ? {} : { out: fromBytes(r.bytes) }), left: r.left };
    }
    case 'script': {
      const r = makeScriptRelocatable(b, {
        places: PLACES,
        binDir: 'bin',
        hasInterpreter: () => true,
      });
      return {
        ...(r.bytes === undefined ? {} : { out: fromBytes(r.bytes) }),
        left: r.left === undefined ? [] : [r.left],
      };
    }
    case 'pth': {
      const r = makePthRelative(b, { places: PLACES, dir: SITE });
      return { ...(r.bytes === undefined ? {} : { out: fromBytes(r.bytes) }), left: r.left };
    }
    case 'record': {
      const r = makeRecordRelative(b, {
        places: PLACES,
        recordRel: `${SITE}/x-1.dist-info/RECORD`,
        updateFor: () => undefined,
      });
      return { ...(r === undefined ? {} : { out: fromBytes(r) }), left: [] };
    }
  }
}

test('every relocatable form, on mutated real inputs: no throw, the same answer twice, and its output is a fixed point', (t) => {
  const all = seeds();
  t.true(all.filter((s) => s.kind === 'activate').length >= 8, 'activate templates found');
  const rnd = seeded(SEED);
  let written = 0;
  for (let i = 0; i < CASES; i++) {
    const seed = all[Math.floor(rnd() * all.length)] as Seed;
    const input = i < all.length ? (all[i] as Seed).bytes : mutate(rnd, seed.bytes);
    const s = i < all.length ? (all[i] as Seed) : seed;
    const first = apply(s, input);
    t.deepEqual(apply(s, input), first, `case ${i}: deterministic`);
    if (first.out === undefined) continue;
    written++;
    const again = apply(s, first.out);
    if (again.out !== undefined) {
      t.fail(
        `case ${i} (${s.kind} ${s.flavor ?? ''}): not a fixed point\n${JSON.stringify(input)}`,
      );
      continue;
    }
    if (s.kind === 'script') {
      const own = parseRelocatableShebang(toBytes(first.out));
      t.truthy(own, `case ${i}: its own form`);
      t.true(input.endsWith(first.out.slice(own?.headerEnd ?? 0)), `case ${i}: the body is kept`);
    }
    if (s.kind === 'pth') {
      for (const line of first.out.split(/\r\n|\r|\n/)) {
        if (line.startsWith('import') || line.startsWith('#')) continue;
        const path = line.replace(/[ \t\f\v]+$/, '');
        t.false(
          PLACES.some((p) => path === p || path.startsWith(`${p}/`)),
          `case ${i}: ${JSON.stringify(line)}`,
        );
      }
    }
  }
  t.log(`${CASES} cases, ${written} rewritten`);
});

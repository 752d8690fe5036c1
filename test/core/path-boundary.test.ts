import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import test from 'ava';
import {
  findPathMatches,
  fromBytes,
  fsPath,
  holdsAnyPath,
  replacePaths,
  type Mapping,
} from '../../src/core/path-boundary.js';
import { countPathMatches } from '../../src/plan/planner.js';

const m: Mapping[] = [{ from: '/opt/app', to: '/srv/new' }];

const cases: Array<[string, string | undefined]> = [
  ['/opt/app', '/srv/new'],
  ['/opt/app/bin/python', '/srv/new/bin/python'],
  ['"/opt/app"', '"/srv/new"'],
  ['file:///opt/app/src', 'file:///srv/new/src'],
  ['(/opt/app),/opt/app,', '(/srv/new),/srv/new,'],
  ['/opt/app2', undefined],
  ['/opt/app-2', undefined],
  ['/opt/app.d', undefined],
  ['/x/opt/app', undefined],
  ['x/opt/app', undefined],
  ['/opt/app\u00e9', undefined],
  ['/opt/app:/opt/app2:/opt/app', '/srv/new:/opt/app2:/srv/new'],
];

for (const [input, expected] of cases) {
  test(`matches whole paths only: ${JSON.stringify(input)}`, (t) => {
    t.is(replacePaths(input, m), expected);
    t.is(holdsAnyPath(input, m), expected !== undefined);
  });
}

test('prefers the longer mapping at the same place', (t) => {
  const maps: Mapping[] = [
    { from: '/build/app', to: '/srv/x' },
    { from: '/build/app/venv', to: '/srv/x/v2' },
  ];
  t.is(replacePaths('/build/app/venv/bin /build/app/src', maps), '/srv/x/v2/bin /srv/x/src');
  t.is(findPathMatches('/build/app/venv', maps).length, 1);
});

test('a new path that starts with the old one is replaced once, not again', (t) => {
  t.is(replacePaths('/opt/app/x', [{ from: '/opt/app', to: '/opt/app/sub' }]), '/opt/app/sub/x');
});

test('a binary is counted from windows around each path as if read whole', (t) => {
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const mappings: Mapping[] = [
    { from: '/build/app/venv', to: '/srv/app/venv' },
    { from: '/build/app', to: '/srv/app', accept: (rest) => rest.startsWith('/src') },
  ];
  const spellings = [
    '/build/app/venv/lib',
    '/build/app/src/x',
    '/build/app/other',
    '/build/app/venv2',
    'x/build/app/venv',
    '/build/app/venv',
  ];
  let cases = 0;
  for (let k = 0; k < 300; k++) {
    const parts: Buffer[] = [];
    const size = Math.floor(rnd() * 300_000);
    let len = 0;
    while (len < size) {
      const r = rnd();
      const part =
        r < 0.02
          ? Buffer.from(spellings[Math.floor(rnd() * spellings.length)]!, 'latin1')
          : Buffer.from(
              Array.from({ length: 1 + Math.floor(rnd() * 5000) }, () => Math.floor(rnd() * 256)),
            );
      parts.push(part);
      len += part.length;
      // Runs of paths near a window's edge: right after one another.
      if (r > 0.995)
        for (let j = 0; j < 40; j++) parts.push(Buffer.from('/build/app/venv/x\0', 'latin1'));
    }
    const bytes = Buffer.concat(parts);
    t.is(
      countPathMatches(bytes, mappings),
      findPathMatches(fromBytes(bytes), mappings).length,
      `case ${k}`,
    );
    cases++;
  }
  t.log(`${cases} binaries up to 300 KB`);
});

test('fsPath: an ASCII path stays a string, any other becomes its bytes, and both open the file', (t) => {
  t.is(fsPath('/opt/app/bin/python'), '/opt/app/bin/python');
  // "café" in Latin-1 (not UTF-8) and in UTF-8, as byte strings.
  const latin1 = 'caf\xe9.py';
  const utf8 = 'caf\xc3\xa9.py';
  t.deepEqual(fsPath(latin1), Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x2e, 0x70, 0x79]));
  t.deepEqual(fsPath(utf8), Buffer.from('café.py', 'utf8'));
  const dir = mkdtempSync(`${tmpdir()}/vt-fspath-`);
  try {
    for (const name of ['plain.py', latin1, utf8]) {
      const path = `${fromBytes(Buffer.from(dir))}/${name}`;
      writeFileSync(fsPath(path), Buffer.from(name, 'latin1'));
      t.is(readFileSync(Buffer.from(path, 'latin1'), 'latin1'), name, name);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

import test from 'ava';
import {
  findPathMatches,
  fromBytes,
  holdsAnyPath,
  replacePaths,
  type Mapping,
} from '../src/path-boundary.js';
import { countPathMatches } from '../src/relocate/plan-relocation.js';

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

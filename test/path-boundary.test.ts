import test from 'ava';
import { findPathMatches, holdsAnyPath, replacePaths, type Mapping } from '../src/path-boundary.js';

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

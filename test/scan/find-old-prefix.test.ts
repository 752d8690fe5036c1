import test from 'ava';
import { findOldPrefix } from '../../src/scan/find-old-prefix.js';
import { commandVenvDir } from '../../src/kinds/pyvenv-cfg.js';
import { type Evidence } from '../../src/scan/evidence.js';
import { movedRoot } from '../../src/plan/moved-root.js';
import { VenvToolsError } from '../../src/core/errors.js';

test('reads the venv folder from pyvenv.cfg command in every form venv writes', (t) => {
  t.is(
    commandVenvDir('home = /usr/bin\ncommand = /usr/bin/python3 -m venv /build/app/venv\n'),
    '/build/app/venv',
  );
  t.is(
    commandVenvDir('command = /usr/bin/python3 -m venv --copies --without-pip /tmp/my venv\n'),
    '/tmp/my venv',
  );
  t.is(commandVenvDir('command = /py -m venv --prompt="my app" --upgrade-deps /x/v/\r\n'), '/x/v');
  t.is(commandVenvDir('home = /usr/bin\nversion = 3.10\n'), undefined);
});

const ev = (location: string, source: Evidence['source'] = 'activate'): Evidence => ({
  file: 'bin/activate',
  source,
  location,
});

test('one other location is the old one; evidence naming the target counts as done', (t) => {
  const r = findOldPrefix(
    [ev('/old'), ev('/new', 'shebang'), ev('/old', 'pyvenv.cfg')],
    '/new',
    'v',
  );
  t.deepEqual(r.state === 'found' ? r.old : undefined, '/old');
});

test('all evidence naming the target is up to date', (t) => {
  t.is(findOldPrefix([ev('/new'), ev('/new', 'shebang')], '/new', 'v').state, 'up-to-date');
});

test('several old locations, or none, fail and suggest --from', (t) => {
  const e1 = t.throws(() => findOldPrefix([ev('/a'), ev('/b', 'shebang')], '/new', 'v'), {
    instanceOf: VenvToolsError,
  });
  t.regex(e1?.message ?? '', /\/a[\s\S]*\/b[\s\S]*--from/);
  const e2 = t.throws(() => findOldPrefix([], '/new', 'v'), { instanceOf: VenvToolsError });
  t.regex(e2?.message ?? '', /--from/);
});

test('the moved root is the longest common tail in whole components', (t) => {
  t.deepEqual(movedRoot('/build/app/venv', '/srv/app/3f9c2e1/venv'), {
    from: '/build/app',
    to: '/srv/app/3f9c2e1',
  });
  t.deepEqual(movedRoot('/build/x/app/venv', '/srv/y/app/venv'), {
    from: '/build/x',
    to: '/srv/y',
  });
  t.is(movedRoot('/build/app/venv', '/build/app/venv-2'), undefined);
  t.is(movedRoot('/venv', '/srv/venv'), undefined, 'the old root would be /');
});

import test from 'ava';
import { checkArgv } from '../../src/cli/check-argv.js';
import { parseCliWithYargs } from '../../src/cli/parse-cli-with-yargs.js';
import { parsePlainArgv } from '../../src/cli/parse-plain-argv.js';

// The commands' plain forms are read without yargs (src/cli/parse-plain-argv.ts): each must give
// exactly the request yargs gives for the same argv, and whatever is not plain must be left to
// yargs.

const PLAIN: ReadonlyArray<readonly string[]> = [
  ['unpack', 'app.tar.zst', '/srv/app/3f9c2e1/venv'],
  ['unpack', 'app.tar.gz', 'dest', '--reinitialize', '--python', '/usr/bin/python3.11'],
  ['unpack', '--force', 'a.tar', 'b', '--json', '--no-progress', '--drop-unreadable-pycs'],
  ['unpack', 'a.tar', 'b', '--python=python3', '--quiet'],
  ['unpack', '0123', '007'],
  ['pack', './venv', '-o', 'app.tar.zst'],
  ['pack', './venv', '-o', 'app.tar', '--to', '/srv/app/x/venv', '--format', 'tar.gz'],
  ['pack', '--output=app.tgz', 'v', '--to=/srv/a b/venv', '--json', '--drop-unreadable-pycs'],
  ['relocate', 'v', '--to', 'auto'],
  ['relocate', '--to', '/new', '--from', '/old', '--force-from', '--dry-run', '--diff'],
  ['relocate', 'v', '--to=auto', '--map', '/a=/b', '--map=/c=/d', '--verbose', '--strict'],
  ['relocate', 'v', '--to', '/n', '--json', '--quiet', '--no-progress', '--drop-unreadable-pycs'],
  ['reinit'],
  ['reinit', 'v', '--python', 'python3.12', '--force', '--dry-run', '--diff', '--json'],
  ['scan'],
  ['scan', 'v', '--json', '--verbose'],
  ['verify', 'v', '--relocatable', '--quiet'],
  ['make-relocatable', 'v', '--dry-run', '--diff', '--json', '--no-progress'],
];

for (const argv of PLAIN) {
  test(`${argv.join(' ')}: the same request as yargs gives`, (t) => {
    checkArgv(argv);
    const plain = parsePlainArgv(argv);
    t.not(plain, undefined);
    t.deepEqual(plain, parseCliWithYargs(argv));
  });
}

test('what is not the plain form is left to yargs', (t) => {
  for (const argv of [
    ['unpack', 'a', 'b', '--help'],
    ['pack', '-h'],
    ['scan', '--version'],
    ['scan', '--', '--json'],
    ['verify', '-'],
    ['scan', 'v', '--json', '--json'],
    ['pack', 'v', '-o', 'a.tar', '-o', 'b.tar'],
    ['scan', 'v', '--json=false'],
    ['completion'],
    ['--update-path', 'auto', 'v'],
  ]) {
    t.is(parsePlainArgv(argv), undefined, argv.join(' '));
  }
});

test('a bad --map is refused as yargs refuses it', (t) => {
  const argv = ['relocate', 'v', '--to', '/n', '--map', 'nothing'];
  const a = t.throws(() => parsePlainArgv(argv));
  const b = t.throws(() => parseCliWithYargs(argv));
  t.is(a?.message, b?.message);
});

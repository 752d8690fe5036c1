import test from 'ava';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MINIMAL } from '../fixtures/venvs/recipes.js';
import { copyVenv } from '../helpers/build-venv.js';
import { checkPrefix, checkScripts } from '../helpers/check-relocated.js';
import { REPO_ROOT } from '../helpers/repo-root.js';
import { reliabilityPython } from '../helpers/reliability-venv.js';
import { freshDir } from '../helpers/scratch.js';

// A Node program uses venv-tools as a library: `import ... from 'venv-tools'`, resolved by the
// package's name through its package.json (main, exports), as it is once installed.

const python = reliabilityPython();

/** A folder whose node_modules/venv-tools is this package, and a program in it. */
function userProgram(label: string, source: string): string {
  const dir = freshDir(label);
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.symlinkSync(REPO_ROOT, path.join(dir, 'node_modules', 'venv-tools'));
  const file = path.join(dir, 'program.mjs');
  fs.writeFileSync(file, source);
  return file;
}

test('a Node program imports venv-tools by its name and relocates a venv through it', async (t) => {
  const top = freshDir('library');
  const venv = await copyVenv(MINIMAL, python, { appDir: path.join(top, 'srv', 'app') });
  const program = userProgram(
    'library-program',
    `import { relocate, scan, verify, VenvToolsError } from 'venv-tools';
const [dir] = process.argv.slice(2);
const before = scan({ path: dir });
const { report } = relocate({ path: dir, to: dir });
const after = verify({ path: dir });
let refused = '';
try {
  relocate({ path: '/', to: '/srv/x/venv' });
} catch (err) {
  refused = err instanceof VenvToolsError ? err.code : 'not a VenvToolsError';
}
console.log(JSON.stringify({ state: before.state, status: report.status, old: report.old, changes: report.changes.length, ok: after.ok, refused }));
`,
  );
  const r = spawnSync(process.execPath, [program, venv.dir], { encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as Record<string, unknown>;
  t.is(out.state, 'moved');
  t.is(out.status, 'updated');
  t.is(out.old, venv.builtAt);
  t.true((out.changes as number) > 0);
  t.is(out.ok, true);
  t.is(out.refused, 'REFUSED_ROOT');
  t.deepEqual(await checkPrefix(venv.dir), []);
  t.deepEqual(await checkScripts(venv.dir, venv.scripts), []);
});

test('the package declares types for what it exports', (t) => {
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
    main: string;
    types: string;
    exports: Record<string, { types: string; default: string }>;
  };
  for (const file of [pkg.main, pkg.types, pkg.exports['.']!.types, pkg.exports['.']!.default]) {
    t.true(fs.existsSync(path.join(REPO_ROOT, file)), `${file} is built`);
  }
  const types = fs.readFileSync(path.join(REPO_ROOT, pkg.types), 'utf8');
  for (const name of [
    'relocate',
    'scan',
    'verify',
    'reinitialize',
    'VenvToolsError',
    'RelocationReport',
  ]) {
    t.regex(types, new RegExp(`\\b${name}\\b`), name);
  }
});

import test from 'ava';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { findPythons } from '../helpers/pythons.js';
import { repoPath } from '../helpers/repo-root.js';
import { freshDir } from '../helpers/scratch.js';
import { moveApp, smallVenv } from '../helpers/small-venv.js';

// The npm package: what `npm pack` makes from this build installs with `npm install -g` into a
// clean prefix, and the venv-tools it puts on PATH works (.ci/run installs the released tarball
// the same way, as the README says).

const python = findPythons().at(-1);

interface Pkg {
  version: string;
  bin: Record<string, string>;
  main?: string;
  types?: string;
  dependencies: Record<string, string>;
}
const pkg = JSON.parse(fs.readFileSync(repoPath('package.json'), 'utf8')) as Pkg;

/** Our environment without what `npm test` adds for its scripts (npm_config_prefix and such). */
function npmEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  return { ...env, NO_COLOR: '1', ...extra };
}

function npm(args: readonly string[], cwd: string) {
  const r = spawnSync('npm', args, { cwd, env: npmEnv(), encoding: 'utf8' });
  if (r.error !== undefined || r.status !== 0) {
    throw new Error(`npm ${args.join(' ')} failed: ${r.error?.message ?? ''}${r.stderr}`);
  }
  return r.stdout;
}

test('npm pack makes a package that installs into a clean prefix, and its venv-tools runs from PATH', (t) => {
  const dir = freshDir('npm-package');
  // --ignore-scripts: `prepare` would build dist/ again while other test files use it.
  const packed = JSON.parse(
    npm(['pack', '--json', '--ignore-scripts', '--pack-destination', dir], repoPath()),
  ) as Array<{ filename: string; files: Array<{ path: string; size: number }> }>;
  const [info] = packed;
  if (info === undefined) return t.fail('npm pack listed no package');
  const files = new Map(info.files.map((f) => [f.path, f.size]));

  // What package.json names is in it: the command (with its planning thread beside it), and main
  // and types once the build makes them (src/index.ts is the library's entry).
  const cmd = pkg.bin['venv-tools'];
  t.truthy(cmd);
  t.true(files.has(cmd as string), `${cmd} is packed`);
  t.true(files.has('dist/bin/plan-worker.js'), 'the planning thread is packed');
  for (const field of ['main', 'types'] as const) {
    const file = pkg[field];
    if (file === undefined) continue;
    if (fs.existsSync(repoPath(file))) t.true(files.has(file), `${field}: ${file} is packed`);
    else t.log(`${field}: ${file} is not built by this tree (nothing to pack)`);
  }
  // Not the single executable, nor the tests: a package of a few hundred kB.
  const big = [...files].filter(([, size]) => size > 2_000_000).map(([p]) => p);
  t.deepEqual(big, []);
  t.deepEqual(
    [...files.keys()].filter((p) => p.startsWith('dist/test/') || p.startsWith('src/')),
    [],
  );
  // Some commands load yargs and chalk when they run: the package depends on them.
  for (const dep of ['yargs', 'chalk']) t.truthy(pkg.dependencies[dep], `depends on ${dep}`);

  const prefix = path.join(dir, 'prefix');
  // --prefer-offline: the dependencies come from npm's cache when `npm ci` put them there.
  npm(
    [
      'install',
      '-g',
      '--prefix',
      prefix,
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      path.join(dir, info.filename),
    ],
    dir,
  );
  const installed = path.join(prefix, 'lib', 'node_modules', 'venv-tools');
  for (const dep of ['yargs', 'chalk']) {
    t.true(fs.existsSync(path.join(installed, 'node_modules', dep, 'package.json')), dep);
  }
  if (pkg.main !== undefined && fs.existsSync(repoPath(pkg.main))) {
    const imported = spawnSync(
      process.execPath,
      ['--input-type=module', '-e', "await import('venv-tools')"],
      { cwd: path.join(prefix, 'lib'), env: npmEnv(), encoding: 'utf8' },
    );
    t.is(imported.status, 0, `import('venv-tools'): ${imported.stderr}`);
  }

  // From PATH, as a user runs it.
  const env = npmEnv({ PATH: `${path.join(prefix, 'bin')}:${process.env.PATH ?? ''}` });
  const run = (args: readonly string[], more: NodeJS.ProcessEnv = {}) =>
    spawnSync('venv-tools', args, { env: { ...env, ...more }, encoding: 'utf8' });
  const help = run(['--help']);
  t.is(help.status, 0, help.stderr);
  t.regex(help.stdout, /venv-tools relocate \[path\]/);
  t.is(run(['--version']).stdout.trim(), pkg.version);
  if (python === undefined) return t.fail('no CPython 3.6+ on this machine');
  const v = moveApp(smallVenv(python, 'npm-venv'));
  const r = run(['relocate', v.venv, '--to', v.venv], {
    VENV_TOOLS_THREADS: '2',
    VENV_TOOLS_TRACE: '1',
  });
  t.is(r.status, 0, r.stderr);
  t.regex(r.stderr, /^trace W [\d.]+ worker starts/m, 'the planning thread started');
  const verify = run(['verify', v.venv]);
  t.is(verify.status, 0, verify.stdout + verify.stderr);
});

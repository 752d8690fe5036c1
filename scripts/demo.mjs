#!/usr/bin/env node
// npm run demo: build a small venv with python3, move it, relocate it, run its script from the new place.
// Needs only python3 (with its bundled pip) on PATH; no package index is used.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const cli = join(here, '..', 'dist', 'bin', 'venv-tools.js');
const keep = process.argv.includes('--keep');
const python = process.env.PYTHON ?? 'python3';

function run(cmd, args, opts = {}) {
  return spawnSync(cmd, args, { encoding: 'utf8', ...opts });
}

function step(title) {
  const bold = process.stdout.isTTY && !process.env.NO_COLOR;
  process.stdout.write(bold ? `\n\x1b[1m== ${title}\x1b[0m\n` : `\n== ${title}\n`);
}

function must(r, what) {
  if (r.error || r.status !== 0) {
    process.stderr.write(
      `${what} failed (${r.error ? r.error.message : `exit ${r.status}`}):\n${r.stdout}${r.stderr}`,
    );
    process.exit(1);
  }
  return r;
}

const top = mkdtempSync(join(tmpdir(), 'venv-tools-demo-'));
const build = join(top, 'build', 'app');
const venv = join(build, 'venv');
const wheels = join(top, 'wheels');
mkdirSync(wheels, { recursive: true });

step(`Build a venv at ${venv}`);
must(run(python, ['-m', 'venv', venv]), 'python3 -m venv');

// A one-module wheel with a console script, made here so that no index is needed.
const makeWheel = `
import base64, hashlib, sys, zipfile
out = sys.argv[1]
files = {
  'hello_demo/__init__.py': 'import sys\\ndef main():\\n    print("hello-demo runs with sys.prefix =", sys.prefix)\\n',
  'hello_demo-1.0.dist-info/METADATA': 'Metadata-Version: 2.1\\nName: hello-demo\\nVersion: 1.0\\n',
  'hello_demo-1.0.dist-info/WHEEL': 'Wheel-Version: 1.0\\nGenerator: venv-tools-demo\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n',
  'hello_demo-1.0.dist-info/entry_points.txt': '[console_scripts]\\nhello-demo = hello_demo:main\\n',
}
record = []
with zipfile.ZipFile(out + '/hello_demo-1.0-py3-none-any.whl', 'w') as z:
    for name, text in files.items():
        data = text.encode()
        z.writestr(name, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()
        record.append(f'{name},sha256={digest},{len(data)}')
    record.append('hello_demo-1.0.dist-info/RECORD,,')
    z.writestr('hello_demo-1.0.dist-info/RECORD', '\\n'.join(record) + '\\n')
`;
must(run(python, ['-c', makeWheel, wheels]), 'making the demo wheel');
must(
  run(join(venv, 'bin', 'python'), [
    '-m',
    'pip',
    'install',
    '-q',
    '--no-index',
    '--find-links',
    wheels,
    'hello-demo',
  ]),
  'pip install',
);
process.stdout.write(must(run(join(venv, 'bin', 'hello-demo'), []), 'hello-demo').stdout);

const release = join(top, 'srv', 'app', '3f9c2e1');
step(`Move ${build} to ${release} (as a deploy would)`);
mkdirSync(dirname(release), { recursive: true });
renameSync(build, release);
const moved = join(release, 'venv');
const broken = run(join(moved, 'bin', 'hello-demo'), []);
process.stdout.write(
  `Before relocation, bin/hello-demo ${broken.status === 0 && !broken.error ? 'still ran?!' : `fails: ${broken.error ? `${broken.error.code} (its #! names the old, gone interpreter)` : broken.stderr.trim()}`}\n`,
);

step(`venv-tools relocate ${moved} --to ${moved}`);
const rel = run(process.execPath, [cli, 'relocate', moved, '--to', moved]);
process.stdout.write(rel.stdout);
process.stderr.write(rel.stderr);
must(rel, 'venv-tools');

step('Run the script from its new place');
process.stdout.write(
  must(run(join(moved, 'bin', 'hello-demo'), []), 'hello-demo after relocation').stdout,
);
const prefix = must(
  run(join(moved, 'bin', 'python'), ['-c', 'import sys; print(sys.prefix)']),
  'python',
).stdout.trim();
process.stdout.write(`bin/python reports sys.prefix = ${prefix}\n`);
if (prefix !== moved) {
  process.stderr.write(`expected ${moved}\n`);
  process.exit(1);
}

if (keep) {
  process.stdout.write(`\nKept the demo tree at ${top}\n`);
} else {
  rmSync(top, { recursive: true, force: true });
  process.stdout.write(`\nDemo done (removed ${top}; use npm run demo -- --keep to keep it).\n`);
}

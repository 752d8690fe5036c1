import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ALL_KINDS } from '../../src/kinds/file-kind.js';
import { BASIC } from '../fixtures/venvs/recipes.js';
import { copyVenv } from '../helpers/build-venv.js';
import { cli } from '../helpers/cli.js';
import { assertSupported, validate, type Schema } from '../helpers/json-schema.js';
import { findPythons } from '../helpers/pythons.js';
import { freshDir } from '../helpers/scratch.js';
import { moveApp, smallVenv } from '../helpers/small-venv.js';
import { repoPath } from '../helpers/repo-root.js';

// The --json documents of every command, validated against the JSON Schema files in
// docs/schema/ that docs/JSON.md describes: real output from real venvs, in every state the
// commands report (moved, in place, ambiguous, up to date, dry run, failure).

const SCHEMAS = repoPath('docs', 'schema');
const schema = (name: string): Schema =>
  JSON.parse(fs.readFileSync(path.join(SCHEMAS, `${name}.schema.json`), 'utf8')) as Schema;

const python = findPythons().at(-1);
if (python === undefined) throw new Error('no CPython 3 found on this machine');

// --- The validator itself: each rule it claims to check must reject what breaks it.

const person: Schema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'tags'],
  properties: {
    name: { type: 'string' },
    age: { type: ['integer', 'null'] },
    tags: { type: 'array', items: { enum: ['a', 'b'] } },
    home: { $ref: '#/$defs/place' },
  },
  $defs: {
    place: { type: 'object', required: ['city'], properties: { city: { type: 'string' } } },
  },
};

test('the validator accepts a document that follows the schema', (t) => {
  t.deepEqual(
    validate(person, { name: 'x', age: null, tags: ['a', 'b'], home: { city: 'c' } }),
    [],
  );
  t.deepEqual(validate(person, { name: 'x', age: 3, tags: [] }), []);
});

test('the validator rejects each way a document can break the schema, with a pointer to the place', (t) => {
  t.deepEqual(validate(person, { name: 1, tags: [] }), ['/name: is number, expected string']);
  t.deepEqual(validate(person, { name: 'x', age: 1.5, tags: [] }), [
    '/age: is number, expected integer or null',
  ]);
  t.deepEqual(validate(person, { tags: [] }), ['/: lacks required property "name"']);
  t.deepEqual(validate(person, { name: 'x', tags: [], extra: 1 }), [
    '/: has property "extra", which the schema does not allow',
  ]);
  t.deepEqual(validate(person, { name: 'x', tags: ['a', 'c'] }), [
    '/tags/1: "c" is not one of ["a","b"]',
  ]);
  t.deepEqual(validate(person, { name: 'x', tags: [], home: {} }), [
    '/home: lacks required property "city"',
  ]);
  t.deepEqual(validate(person, []), ['/: is array, expected object']);
});

test('the validator refuses a keyword it does not check, rather than ignore it', (t) => {
  t.throws(() => validate({ type: 'string', minLength: 3 }, 'ab'), { message: /minLength/ });
  t.throws(() => validate({ $ref: '#/$defs/nothing' }, 1), { message: /cannot resolve/ });
});

test('every schema file is JSON that uses only the checked keywords', (t) => {
  const files = fs
    .readdirSync(SCHEMAS)
    .filter((f) => f.endsWith('.schema.json'))
    .sort();
  t.deepEqual(files, [
    'error.schema.json',
    'make-relocatable.schema.json',
    'reinit.schema.json',
    'relocate.schema.json',
    'scan.schema.json',
    'verify.schema.json',
  ]);
  for (const f of files)
    t.notThrows(() => assertSupported(schema(f.replace('.schema.json', ''))), f);
  t.throws(() => assertSupported({ properties: { a: { items: { pattern: 'x' } } } }), {
    message: /pattern at \/properties\/a\/items/,
  });
});

test('every schema lists the one vocabulary of file kinds, the same as the code and the text output', (t) => {
  for (const name of ['relocate', 'scan', 'verify', 'make-relocatable']) {
    const defs = schema(name).$defs as Record<string, { enum?: unknown }>;
    t.deepEqual(defs.kind?.enum, [...ALL_KINDS], name);
  }
});

// --- Real output.

function json(args: string[], expectStatus = 0): unknown {
  const r = cli(args);
  if (r.status !== expectStatus)
    throw new Error(
      `${args.join(' ')} exited ${String(r.status)}, not ${expectStatus}: ${r.stderr}`,
    );
  return JSON.parse(r.stdout) as unknown;
}

function valid(t: import('ava').ExecutionContext, name: string, doc: unknown, what: string): void {
  const errors = validate(schema(name), doc);
  t.deepEqual(errors, [], `${what}:\n${errors.join('\n')}`);
}

test('relocate --json validates: dry run with --diff, a real run, and up to date', (t) => {
  const v = moveApp(smallVenv(python, 'schema-relocate'));
  const dry = json(['relocate', v.venv, '--to', v.venv, '--dry-run', '--json', '--diff']);
  valid(t, 'relocate', dry, 'dry run');
  t.regex((dry as { diff: string }).diff, /^--- a\/bin\/tool$/m);
  valid(t, 'relocate', json(['relocate', v.venv, '--to', v.venv, '--json']), 'updated');
  const again = json(['relocate', v.venv, '--to', v.venv, '--json']) as {
    status: string;
    old: null;
  };
  valid(t, 'relocate', again, 'up to date');
  t.is(again.status, 'up-to-date');
  t.is(again.old, null);
});

test('reinit --json validates: a dry run with --diff and a real run with its check', (t) => {
  const v = smallVenv(python, 'schema-reinit');
  valid(
    t,
    'reinit',
    json(['reinit', v.venv, '--python', python.exe, '--dry-run', '--diff', '--json']),
    'dry run',
  );
  const real = json(['reinit', v.venv, '--python', python.exe, '--json']) as { check: unknown };
  valid(t, 'reinit', real, 'real run');
  t.not(real.check, null);
});

test('scan --json validates for a real venv moved with its editable source, in place, ambiguous and unknown', async (t) => {
  const real = await copyVenv(BASIC, python);
  const moved = json(['scan', real.dir, '--json']) as { mappings: Array<{ why: string }> };
  valid(t, 'scan', moved, 'real venv, moved');
  t.true(
    moved.mappings.some((m) => m.why === 'moved-along'),
    'the editable source moved along',
  );
  t.is(cli(['--update-path', real.dir, real.dir]).status, 0);
  valid(t, 'scan', json(['scan', real.dir, '--json']), 'real venv, in place');

  const v = moveApp(smallVenv(python, 'schema-scan'));
  fs.writeFileSync(path.join(v.venv, 'bin', 'other'), '#!/elsewhere/venv/bin/python\n');
  valid(t, 'scan', json(['scan', v.venv, '--json']), 'ambiguous');
  for (const f of fs.readdirSync(path.join(v.venv, 'bin')))
    if (/^(activate|Activate|tool|other)/.test(f)) fs.rmSync(path.join(v.venv, 'bin', f));
  const cfg = path.join(v.venv, 'pyvenv.cfg');
  fs.writeFileSync(cfg, fs.readFileSync(cfg, 'utf8').replace(/^command.*\n/m, ''));
  valid(t, 'scan', json(['scan', v.venv, '--json']), 'unknown');
});

test('verify --json validates for a moved real venv (exit 1) and after its relocation (exit 0)', async (t) => {
  const real = await copyVenv(BASIC, python);
  valid(t, 'verify', json(['verify', real.dir, '--json'], 1), 'moved');
  t.is(cli(['--update-path', real.dir, real.dir]).status, 0);
  valid(t, 'verify', json(['verify', real.dir, '--json'], 0), 'relocated');
});

test('make-relocatable --json validates: a dry run with --diff, a real run, a second run, and verify --relocatable', (t) => {
  const v = smallVenv(python, 'schema-make-relocatable');
  // Its .pth names the source folder beside the venv, which moveApp takes along: not a pin.
  fs.rmSync(path.join(v.venv, v.site, 'app.pth'));
  const dry = json(['make-relocatable', v.venv, '--dry-run', '--diff', '--json']) as {
    status: string;
    diff: string;
  };
  valid(t, 'make-relocatable', dry, 'dry run');
  t.is(dry.status, 'dry-run');
  t.regex(dry.diff, /^--- a\/bin\/tool$/m);
  valid(t, 'make-relocatable', json(['make-relocatable', v.venv, '--json']), 'updated');
  const again = json(['make-relocatable', v.venv, '--json']) as { status: string };
  valid(t, 'make-relocatable', again, 'already relocatable');
  t.is(again.status, 'already-relocatable');
  const moved = moveApp(v);
  const verify = json(['verify', moved.venv, '--relocatable', '--json']) as {
    relocatable: boolean;
    checks: Array<{ name: string }>;
  };
  valid(t, 'verify', verify, 'verify --relocatable');
  t.true(verify.relocatable);
  t.is(verify.checks[0]?.name, 'relocatable');
});

test('every command prints an error document under --json when it fails', (t) => {
  const d = freshDir('schema-error');
  for (const args of [
    ['relocate', d, '--to', '/srv/x', '--json'],
    ['reinit', d, '--json'],
    ['scan', d, '--json'],
    ['verify', d, '--json'],
    ['make-relocatable', d, '--json'],
  ]) {
    const doc = json(args, 1) as { command: string; error: { code: string } };
    valid(t, 'error', doc, args[0] as string);
    t.is(doc.command, args[0] as string);
    t.is(doc.error.code, 'NOT_A_VENV');
  }
});

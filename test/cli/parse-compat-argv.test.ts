import test from 'ava';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { parseCli } from '../../src/cli/parse-cli.js';
import { isCompatArgv, UsageError, type CliRequest } from '../../src/cli/cli-request.js';
import { parseCliWithYargs } from '../../src/cli/parse-cli-with-yargs.js';
import { parseCompatArgv } from '../../src/cli/parse-compat-argv.js';
import { CLI } from '../helpers/cli.js';
import { findPythons } from '../helpers/pythons.js';
import { freshDir } from '../helpers/scratch.js';
import { moveApp, smallVenv } from '../helpers/small-venv.js';

// The compatible form is parsed without yargs, for startup time. These tests hold the fast
// parser to yargs' reading of every argv it accepts, and check that a compatible run really
// loads neither yargs nor the modules other commands need.

type Outcome = { request: CliRequest } | { usage: string } | { other: unknown };

function outcome(parse: () => CliRequest): Outcome {
  try {
    return { request: parse() };
  } catch (e) {
    return e instanceof UsageError ? { usage: e.message } : { other: e };
  }
}

function show(o: Outcome): string {
  if ('request' in o) return JSON.stringify(o.request, (_k, v: unknown) => v ?? null);
  return 'usage' in o ? `UsageError: ${o.usage}` : String(o.other);
}

async function outcomeAsync(parse: () => Promise<CliRequest>): Promise<Outcome> {
  try {
    return { request: await parse() };
  } catch (e) {
    return e instanceof UsageError ? { usage: e.message } : { other: e };
  }
}

/** A small deterministic PRNG (mulberry32), so a failing case can be found again. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

// Words a deploy script writes, and the odd ones yargs reads in its own way: a boolean that
// eats `true`, `--` and `-`, a value that looks like an option, a negative number, an empty
// word, camel-case and negated flags, unknown options and --help.
const WORDS = [
  '--update-path',
  '--update-path=/srv/y',
  '--update-path=',
  '--update-path=-x',
  '--reinitialize',
  '--verbose',
  '--strict',
  '--drop-unreadable-pycs',
  '--python',
  '--python=/usr/bin/python3',
  '/srv/x',
  'auto',
  'v',
  './venv',
  'relocate',
  'true',
  'false',
  '123',
  '-5',
  '-',
  '--',
  '',
  'a b',
  '-v',
  '-h',
  '--help',
  '--bogus',
  '--verbose=true',
  '--no-verbose',
  '--updatePath',
];

const VALUES = ['/srv/x', 'auto', 'rel/path', '/usr/bin/python3', 'a b', 'true', '123'];
const PATHS = ['v', './venv', 'relocate', 'scan', '/srv/app/r1/venv', 'false', '0'];

/**
 * Every compatible argv of up to 3 words; then 6,000 seeded random well-formed ones (options
 * in any order, `--opt V` or `--opt=V`, PATH anywhere), one in four with an odd word slipped in.
 */
function corpus(): string[][] {
  const all: string[][] = [];
  for (const a of WORDS) {
    all.push([a]);
    for (const b of WORDS) {
      all.push([a, b]);
      for (const c of WORDS) all.push([a, b, c]);
    }
  }
  const next = random(20250501);
  const pick = (words: readonly string[]) => words[Math.floor(next() * words.length)] ?? '';
  const insert = (argv: string[][], item: string[]) =>
    argv.splice(Math.floor(next() * (argv.length + 1)), 0, item);
  for (let n = 0; n < 6000; n++) {
    const parts: string[][] = [];
    const valued = (name: string) =>
      next() < 0.5 ? [`--${name}`, pick(VALUES)] : [`--${name}=${pick(VALUES)}`];
    const update = next() < 0.8;
    if (update) insert(parts, valued('update-path'));
    if (!update || next() < 0.3) insert(parts, ['--reinitialize']);
    if (next() < 0.5) insert(parts, ['--verbose']);
    if (next() < 0.2) insert(parts, ['--strict']);
    if (next() < 0.1) insert(parts, ['--drop-unreadable-pycs']);
    if (next() < 0.3) insert(parts, valued('python'));
    if (next() < 0.7) insert(parts, [pick(PATHS)]);
    if (next() < 0.25) insert(parts, [pick(WORDS)]);
    all.push(parts.flat());
  }
  return all.filter(isCompatArgv);
}

test('the yargs-free parser reads every compatible argv it accepts exactly as yargs does', (t) => {
  let fast = 0;
  let declined = 0;
  const mismatches: string[] = [];
  for (const argv of corpus()) {
    const mine = parseCompatArgv(argv);
    if (mine === undefined) {
      declined++;
      continue;
    }
    fast++;
    const theirs = outcome(() => parseCliWithYargs(argv));
    if (!('request' in theirs) || !isDeepStrictEqual(mine, theirs.request))
      mismatches.push(`${JSON.stringify(argv)}: ${show({ request: mine })} vs ${show(theirs)}`);
  }
  t.log(`${fast} argv parsed without yargs, ${declined} left to yargs`);
  t.deepEqual(mismatches.slice(0, 20), []);
  t.true(fast > 3000, 'the corpus exercises the fast path');
});

test('parseCli gives the yargs outcome, request or usage message, for every compatible argv', async (t) => {
  const next = random(7);
  const sample = corpus().filter(() => next() < 0.04);
  let n = 0;
  for (const argv of sample) {
    const theirs = outcome(() => parseCliWithYargs(argv));
    const mine = await outcomeAsync(() => parseCli(argv));
    t.deepEqual(mine, theirs, JSON.stringify(argv));
    n++;
  }
  t.log(`${n} argv compared`);
});

test('the forms deploy scripts use are parsed without yargs', (t) => {
  const forms = [
    ['--update-path', '/srv/app/r1/venv', '/srv/app/r1/venv'],
    ['--update-path=/srv/x'],
    ['./venv', '--update-path=/srv/x', '--verbose'],
    ['--update-path', 'auto', '--verbose', 'v'],
    ['--verbose', '--update-path', 'rel/path', 'v'],
    ['--update-path', '/srv/x', 'relocate'],
    ['--update-path', '/srv/app/r1/venv', '--strict', '/srv/app/r1/venv'],
    ['./venv', '--strict', '--update-path=/srv/x'],
    ['--update-path', 'auto', '--drop-unreadable-pycs', './venv'],
    ['--reinitialize'],
    ['--reinitialize', '--python', '/usr/bin/python3.11', 'v'],
    ['--reinitialize', '--update-path', '/a', '/a'],
  ];
  for (const argv of forms) t.not(parseCompatArgv(argv), undefined, JSON.stringify(argv));
});

test('the fast parser declines what is not the compatible form', (t) => {
  for (const argv of [[], ['v'], ['scan', 'v'], ['--verbose', 'v'], ['--python', 'p']])
    t.is(parseCompatArgv(argv), undefined, JSON.stringify(argv));
});

/** The modules `venv-tools ARGS` resolves, recorded by a module-resolution hook. */
function modulesLoaded(args: readonly string[]): string[] {
  const dir = freshDir('modules');
  const log = path.join(dir, 'resolved.log');
  fs.writeFileSync(
    path.join(dir, 'hooks.mjs'),
    [
      "import { appendFileSync } from 'node:fs';",
      'export async function resolve(specifier, context, next) {',
      '  const r = await next(specifier, context);',
      `  appendFileSync(${JSON.stringify(log)}, r.url + '\\n');`,
      '  return r;',
      '}',
    ].join('\n'),
  );
  fs.writeFileSync(
    path.join(dir, 'register.mjs'),
    "import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n",
  );
  const r = spawnSync(
    process.execPath,
    ['--import', pathToFileURL(path.join(dir, 'register.mjs')).href, CLI, ...args],
    { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } },
  );
  if (r.status !== 0) throw new Error(`venv-tools ${args.join(' ')} failed: ${r.stderr}`);
  return fs.readFileSync(log, 'utf8').split('\n').filter(Boolean);
}

/**
 * A module's file as the command loads it: dist/src/…/NAME.js unbundled, or the chunk the bundle
 * (scripts/bundle.mjs) makes of a module imported on demand, dist/bin/NAME-HASH.js.
 */
function moduleFile(name: string): RegExp {
  return new RegExp(`/(src/(.+/)?${name}|bin/${name}-[A-Z0-9]+)\\.js$`);
}

const NOT_FOR_UPDATE_PATH = [
  /\/node_modules\/yargs\//,
  /\/node_modules\/chalk\//,
  ...[
    'parse-cli-with-yargs',
    'format-diff',
    'format-json',
    'progress',
    'fs-faults',
    'reinitialize',
    'format-reinit',
    'verify-venv',
    'format-verify',
    'scan-venv',
  ].map(moduleFile),
  /\/src\/reinit\//,
  /\/src\/verify\//,
];

test('a compatible --update-path run loads neither yargs nor what other commands need', (t) => {
  const python = findPythons().find((p) => p.version === '3.11') ?? findPythons().at(-1);
  if (python === undefined) throw new Error('no CPython 3 found on this machine');
  t.log(`python ${python.full} (${python.exe})`);
  const v = moveApp(smallVenv(python, 'startup'));
  for (const label of ['updated', 'up-to-date']) {
    const loaded = modulesLoaded(['--update-path', v.venv, v.venv]);
    t.true(
      loaded.some((u) => moduleFile('relocate-venv').test(u)),
      'the hook saw the run',
    );
    for (const re of NOT_FOR_UPDATE_PATH) {
      t.deepEqual(
        loaded.filter((u) => re.test(u)),
        [],
        `${label}: ${re.source}`,
      );
    }
  }
  // The same hook does see yargs where it is needed, so the check above can fail.
  t.true(modulesLoaded(['--help']).some((u) => /\/node_modules\/yargs\//.test(u)));
});

import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BASIC } from '../fixtures/venvs/recipes.js';
import { copyVenv, sitePackages, type BuiltVenv } from '../helpers/build-venv.js';
import { pycBytes } from '../helpers/check-pycs.js';
import { cli } from '../helpers/cli.js';
import { validate, type Schema } from '../helpers/json-schema.js';
import { findPythons } from '../helpers/pythons.js';
import { freshDir } from '../helpers/scratch.js';
import { smallVenv } from '../helpers/small-venv.js';
import { repoPath } from '../helpers/repo-root.js';

// verify agrees with a byte search: whatever a relocation left behind that still names an old
// place, or that the venv's Python cannot use, fails verify with exit 1, naming the file and
// what fixes it. A cleanly relocated venv passes every check.

const pythons = findPythons().filter((p) => Number(p.version.split('.')[1]) >= 8);
const newest = pythons.at(-1) ?? findPythons().at(-1);
if (newest === undefined) throw new Error('no CPython 3 found on this machine');

interface Check {
  name: string;
  status: string;
  problems: Array<{ message: string; paths: string[] }>;
  notes: string[];
}
interface VerifyDoc {
  ok: boolean;
  state: string;
  foreign: string[];
  checks: Check[];
  problems: Array<{ check: string; message: string; paths: string[] }>;
  stale: Array<{ path: string; kind: string }>;
  fixes: Array<{ argv: string[]; command: string }>;
}

const VERIFY_SCHEMA = JSON.parse(
  fs.readFileSync(repoPath('docs', 'schema', 'verify.schema.json'), 'utf8'),
) as Schema;

/** `verify --json` (checked against its schema) and the human report of the same venv. */
function verify(venv: string): { status: number | null; doc: VerifyDoc; text: string } {
  const r = cli(['verify', venv, '--json']);
  const doc = JSON.parse(r.stdout) as unknown;
  const errors = validate(VERIFY_SCHEMA, doc);
  if (errors.length > 0) throw new Error(`verify --json breaks its schema: ${errors.join('; ')}`);
  return { status: r.status, doc: doc as VerifyDoc, text: cli(['verify', venv]).stdout };
}

function check(doc: VerifyDoc, name: string): Check {
  const c = doc.checks.find((x) => x.name === name);
  if (c === undefined) throw new Error(`no check ${name}`);
  return c;
}

/** A real venv relocated to where its copy stands, and its pycs as they were built. */
async function relocated(): Promise<{ v: BuiltVenv; site: string; built: Map<string, Buffer> }> {
  const v = await copyVenv(BASIC, newest!);
  const built = new Map([...pycBytes(v.dir)].map(([p, b]) => [path.relative(v.dir, p), b]));
  const r = cli(['--update-path', v.dir, v.dir]);
  if (r.status !== 0) throw new Error(`relocation failed: ${r.stdout}${r.stderr}`);
  return { v, site: path.relative(v.dir, sitePackages(v.dir)), built };
}

/** One pyc of the venv's own Python (its cache tag), loaded from a source that exists. */
function ownPyc(v: BuiltVenv, built: Map<string, Buffer>): string {
  const tag = `cpython-${v.version.replace('.', '')}`;
  const rel = [...built.keys()]
    .sort()
    .find((p) => p.includes('/pip/__pycache__/') && p.endsWith(`.${tag}.pyc`));
  if (rel === undefined) throw new Error(`no ${tag} pyc of pip in ${v.dir}`);
  return rel;
}

test('a cleanly relocated real venv passes every check, its pycs and .pth files included', async (t) => {
  const { v } = await relocated();
  const { status, doc, text } = verify(v.dir);
  t.is(status, 0, text);
  t.true(doc.ok);
  t.deepEqual(
    doc.checks.map((c) => [c.name, c.status]),
    [
      ['foreign-paths', 'ok'],
      ['interpreters', 'ok'],
      ['python', 'ok'],
      ['activate', 'ok'],
      ['pth', 'ok'],
      ['pycs', 'ok'],
      ['record', 'ok'],
    ],
  );
  t.regex(text, /^ {2}ok {4}pycs +\d+ pycs that CPython \d+\.\d+ loads are valid for it$/m);
});

test('a pyc restored from the build, still naming the build path, fails verify naming the pyc; the printed fix clears it', async (t) => {
  const { v, built } = await relocated();
  const rel = ownPyc(v, built);
  fs.writeFileSync(path.join(v.dir, rel), built.get(rel)!);
  const { status, doc, text } = verify(v.dir);
  t.is(status, 1, text);
  t.deepEqual(doc.foreign, [v.builtAt]);
  t.is(doc.state, 'half-relocated');
  t.deepEqual(doc.stale, [{ path: rel, kind: 'pyc', letter: 'B', names: true }]);
  t.deepEqual(
    check(doc, 'foreign-paths').problems.map((p) => p.paths),
    [[rel]],
  );
  t.true(text.includes(`1 pyc file still names ${v.builtAt}: ${rel}`), text);
  t.deepEqual(
    doc.fixes.map((f) => f.argv),
    [['venv-tools', 'relocate', v.dir, '--to', v.dir]],
  );
  t.is(cli(doc.fixes[0]!.argv.slice(1)).status, 0);
  t.is(verify(v.dir).status, 0);
});

test('a .pth naming the old location fails verify naming the .pth, in foreign-paths and pth', async (t) => {
  const { v, site } = await relocated();
  const pth = `${site}/old-place.pth`;
  fs.writeFileSync(path.join(v.dir, pth), `${v.builtAt}/${site}/extra\n`);
  const { status, doc, text } = verify(v.dir);
  t.is(status, 1, text);
  t.deepEqual(doc.foreign, [v.builtAt]);
  t.deepEqual(
    check(doc, 'foreign-paths').problems.map((p) => p.paths),
    [[pth]],
  );
  const p = check(doc, 'pth').problems;
  t.deepEqual(
    p.map((x) => x.paths),
    [[pth]],
  );
  t.is(
    p[0]!.message,
    `${pth} line 1 names ${v.builtAt}/${site}/extra, which does not exist; it is under ${v.builtAt}, where the venv was: the relocate command below rewrites it`,
  );
});

test('a .pth naming a path that is gone, or one inside another venv, fails the pth check naming the file and the fix', async (t) => {
  const { v, site } = await relocated();
  fs.writeFileSync(path.join(v.dir, site, 'gone.pth'), '# a comment\n/nonexistent/place/src\n');
  const other = smallVenv(newest, 'verify-other');
  const otherSite = path.join(other.venv, other.site);
  fs.writeFileSync(path.join(v.dir, site, 'zz-borrow.pth'), `${otherSite}\n`);
  const { status, doc, text } = verify(v.dir);
  t.is(status, 1, text);
  t.deepEqual(
    check(doc, 'pth').problems.map((p) => p.message),
    [
      `${site}/gone.pth line 2 names /nonexistent/place/src, which does not exist; remove the line, or reinstall the package that wrote the file`,
      `${site}/zz-borrow.pth line 1 names ${otherSite}, inside another venv (${other.venv}); remove the line, or install that package into this venv`,
    ],
  );
  t.regex(text, new RegExp(`^ {2}FAIL {2}pth +2 paths of \\d+ in `, 'm'));
});

test('a text file holding the old path percent-encoded in a file: URL, or escaped for JSON, fails verify naming it', async (t) => {
  // Built at a path that every spelling writes differently (a space, a non-ASCII letter), then
  // relocated, with one pyc left from there, so that the evidence names the old place.
  const top = freshDir('verify-spellings');
  const old = path.join(top, 'dé ploy', 'app');
  fs.mkdirSync(path.dirname(old), { recursive: true });
  const v0 = await copyVenv(BASIC, newest, { appDir: old });
  t.is(cli(['--update-path', v0.dir, v0.dir]).status, 0);
  const pycs = new Map([...pycBytes(v0.dir)].map(([p, b]) => [path.relative(v0.dir, p), b]));
  const app = path.join(top, 'plain', 'app');
  fs.mkdirSync(path.dirname(app));
  fs.renameSync(old, app);
  const dir = path.join(app, 'venv');
  t.is(cli(['--update-path', dir, dir]).status, 0);
  const rel = ownPyc(v0, pycs);
  fs.writeFileSync(path.join(dir, rel), pycs.get(rel)!);
  fs.mkdirSync(path.join(dir, 'share'));
  const url = `file://${v0.dir.replace('dé ploy', 'd%C3%A9%20ploy')}/lib`;
  fs.writeFileSync(path.join(dir, 'share', 'notes.txt'), `docs at ${url}\n`);
  const json = JSON.stringify({ argv: [`${v0.dir}/bin/python`] }).replace('é', '\\u00e9');
  t.true(json.includes('d\\u00e9 ploy'), json);
  fs.writeFileSync(path.join(dir, 'share', 'kernel.json'), `${json}\n`);
  const { status, doc, text } = verify(dir);
  t.is(status, 1, text);
  t.deepEqual(doc.foreign, [v0.dir]);
  t.deepEqual(doc.stale.map((f) => [f.path, f.kind]).sort(), [
    [rel, 'pyc'],
    ['share/kernel.json', 'text'],
    ['share/notes.txt', 'text'],
  ]);
  t.true(text.includes(`2 text files still name ${v0.dir}: share/kernel.json, share/notes.txt`));
});

test("a pyc with another Python's magic, or a body marshal cannot read, fails the pycs check naming it and saying to remove it", async (t) => {
  const { v, built } = await relocated();
  const [a, b] = [...built.keys()]
    .sort()
    .filter(
      (p) =>
        p.includes('/pip/__pycache__/') && p.endsWith(`.cpython-${v.version.replace('.', '')}.pyc`),
    );
  if (a === undefined || b === undefined) return t.fail('no pycs of pip');
  const foreign = Buffer.from(fs.readFileSync(path.join(v.dir, a)));
  foreign.writeUInt16LE(3413, 0); // CPython 3.8's magic
  fs.writeFileSync(path.join(v.dir, a), foreign);
  const whole = fs.readFileSync(path.join(v.dir, b));
  fs.writeFileSync(path.join(v.dir, b), whole.subarray(0, Math.floor(whole.length / 2)));
  const { status, doc, text } = verify(v.dir);
  t.is(status, 1, text);
  const c = check(doc, 'pycs');
  t.is(c.status, 'failed');
  t.deepEqual(c.problems.map((p) => p.paths).sort(), [[a], [b]].sort());
  const magic = c.problems.find((p) => p.paths[0] === a)!.message;
  t.is(
    magic,
    `${a}: its magic is CPython 3.8's, not CPython ${v.version}'s. CPython ${v.version} compiles its source again at each import; remove it and Python writes it anew`,
  );
  // A body marshal cannot read fails the import itself (EOFError), as the message says.
  t.regex(
    c.problems.find((p) => p.paths[0] === b)!.message,
    new RegExp(
      `^${b.replace(/[.]/g, '\\.')}: corrupt pyc: truncated.*\\. CPython ${v.version} fails to import its module \\(marshal cannot read it\\); remove it`,
    ),
  );
  t.regex(text, /^ {2}FAIL {2}pycs +2 pycs of \d+ that CPython \S+ loads are refused by it$/m);
});

test('a bin/python link that points at nothing fails verify naming it, and the fix is reinit', async (t) => {
  const { v } = await relocated();
  const link = path.join(v.dir, 'bin', 'python');
  fs.rmSync(link);
  fs.symlinkSync('python3.99', link);
  const { status, doc, text } = verify(v.dir);
  t.is(status, 1, text);
  // The link itself, and every script whose #! names bin/python through it.
  const messages = check(doc, 'interpreters').problems.map((p) => p.message);
  t.true(messages.includes(`bin/python: its interpreter ${v.dir}/bin/python3.99 does not exist`));
  t.true(
    messages.some((m) => m.endsWith(`their interpreter ${v.dir}/bin/python is a broken symlink`)),
    messages.join('\n'),
  );
  t.is(check(doc, 'python').status, 'failed');
  t.deepEqual(
    doc.fixes.map((f) => f.argv),
    [['venv-tools', 'reinit', v.dir]],
  );
});

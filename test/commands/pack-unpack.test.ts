import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BASIC } from '../fixtures/venvs/recipes.js';
import { copyVenv, movedTo, type BuiltVenv, type VenvRecipe } from '../helpers/build-venv.js';
import { checkRelocated, checksFor } from '../helpers/check-relocated.js';
import { cli } from '../helpers/cli.js';
import { findPythons } from '../helpers/pythons.js';
import { runOk } from '../helpers/run.js';
import { freshDir } from '../helpers/scratch.js';

// Issue "pack and unpack": real venvs (python -m venv, pip, the kit's wheels) packed by the built
// CLI and unpacked by it, by GNU tar and by bsdtar; plain `tar czf` archives of venvs in each of
// the three layouts; then every check a user would make on the result.

const python = findPythons().find((p) => p.version === '3.11') ?? findPythons().at(-1);
/** BASIC without the editable source: a venv that moves alone. */
const ALONE: VenvRecipe = { ...BASIC, name: 'basic-alone', editable: false };
const bsdtar = spawnSync('bsdtar', ['--version']).status === 0;
/** A folder name with spaces, quotes, `$` and a backtick, long enough for the exec-form shebang. */
const AWKWARD = `it's "a" $HOME \`x\` ${'long '.repeat(20)}`;

function ok(t: ExecutionContext, r: ReturnType<typeof cli>, what: string): void {
  t.is(r.status, 0, `${what}: ${r.stdout}${r.stderr}`);
}

async function works(
  t: ExecutionContext,
  v: BuiltVenv,
  dir: string,
  oldPath: string,
  extra: object = {},
): Promise<void> {
  const problems = await checkRelocated(dir, {
    ...checksFor({ ...v, dir }),
    oldPath,
    otherOldPaths: [],
    log: (l) => t.log(l),
    ...extra,
  });
  t.deepEqual(problems, [], problems.join('\n'));
}

test('pack, then unpack to a long path with spaces, quotes and $: scripts run, activate works in every shell, pip list and uninstall work, RECORD hashes match, no old path is left', async (t) => {
  if (python === undefined) return t.fail('no Python');
  const v = await copyVenv(ALONE, python);
  const top = freshDir('pack');
  for (const ext of ['tar.zst', 'tar.gz', 'tar']) {
    const archive = path.join(top, `app.${ext}`);
    ok(t, cli(['pack', v.dir, '-o', archive]), `pack ${ext}`);
    const dest = path.join(top, ext, AWKWARD, 'venv');
    const r = cli(['unpack', archive, dest]);
    ok(t, r, `unpack ${ext}`);
    t.regex(r.stdout, /venv-tools manifest; the archive's root is the venv/);
    t.regex(r.stdout, /relocated in the stream/);
    const verify = cli(['verify', dest]);
    t.is(verify.status, 0, `verify ${ext}: ${verify.stdout}`);
    await works(t, v, dest, v.builtAt, ext === 'tar' ? { uninstall: 'vt-demo' } : {});
  }
  // pack only read the venv.
  t.true(fs.existsSync(path.join(v.dir, 'bin', 'vt-demo')));
});

test('pack --to, then GNU tar -xf and bsdtar -xf alone: the venv works with no venv-tools run', async (t) => {
  if (python === undefined) return t.fail('no Python');
  const v = await copyVenv(ALONE, python);
  const top = freshDir('pack-to');
  const final = path.join(top, 'srv', AWKWARD, 'venv');
  const archive = path.join(top, 'app.tar.zst');
  const r = cli(['pack', v.dir, '-o', archive, '--to', final]);
  ok(t, r, 'pack --to');
  t.regex(r.stdout, /relocated in the stream/);
  for (const tool of bsdtar ? ['tar', 'bsdtar'] : ['tar']) {
    fs.rmSync(final, { recursive: true, force: true });
    fs.mkdirSync(final, { recursive: true });
    await runOk(
      tool,
      tool === 'tar' ? ['--zstd', '-xf', archive, '-C', final] : ['-xf', archive, '-C', final],
    );
    await works(t, v, final, v.builtAt);
  }
  if (!bsdtar) t.fail('bsdtar is missing: apt-get install libarchive-tools (.ci/run does)');
});

/** Every entry but folders' times: type, mode, link target, content; `times`: files' mtimes in µs. */
function tree(root: string, times: Map<string, bigint>): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string, rel: string) => {
    for (const name of fs.readdirSync(dir)) {
      const r = rel === '' ? name : `${rel}/${name}`;
      if (name.startsWith('.venv-tools.') && rel === '') continue;
      const p = path.join(dir, name);
      const st = fs.lstatSync(p, { bigint: true });
      const mode = (Number(st.mode) & 0o7777).toString(8);
      if (st.isSymbolicLink()) out.set(r, `link ${fs.readlinkSync(p)}`);
      else if (st.isDirectory()) {
        out.set(r, `dir ${mode}`);
        walk(p, r);
      } else {
        // To the microsecond, give or take one: relocate sets the time from a double of
        // milliseconds, which rounds; tar keeps the nanoseconds, and we compare their floor.
        out.set(r, `file ${mode} ${fs.readFileSync(p).toString('base64')}`);
        times.set(r, st.mtimeNs / 1000n);
      }
    }
  };
  walk(root, '');
  return out;
}

test('pack --to archives byte for byte the tree relocate --to makes (the editable source, a hard link and a read-only file included)', async (t) => {
  if (python === undefined) return t.fail('no Python');
  const v = await copyVenv(BASIC, python);
  // A hard link inside the venv, and a read-only file naming the old place.
  fs.linkSync(path.join(v.dir, 'bin', 'vt-demo'), path.join(v.dir, 'bin', 'vt-demo-again'));
  fs.writeFileSync(path.join(v.dir, 'ro.txt'), `${v.builtAt}/x\n`, { mode: 0o444 });
  const final = path.join(freshDir('final'), 'srv', 'app', 'venv');
  const top = freshDir('pack-eq');
  const archive = path.join(top, 'a.tar');
  ok(t, cli(['pack', v.dir, '-o', archive, '--to', final]), 'pack --to');
  const fromTar = path.join(top, 'x');
  fs.mkdirSync(fromTar);
  await runOk('tar', ['-xf', archive, '-C', fromTar]);
  const copy = await copyVenv(BASIC, python);
  fs.linkSync(path.join(copy.dir, 'bin', 'vt-demo'), path.join(copy.dir, 'bin', 'vt-demo-again'));
  await runOk('cp', ['-a', path.join(v.dir, 'ro.txt'), path.join(copy.dir, 'ro.txt')]);
  const rel = cli(['relocate', copy.dir, '--to', final]);
  ok(t, rel, 'relocate --to');
  const ta = new Map<string, bigint>();
  const tb = new Map<string, bigint>();
  const a = tree(copy.dir, ta);
  const b = tree(fromTar, tb);
  const diff = [...new Set([...a.keys(), ...b.keys()])]
    .filter((k) => a.get(k) !== b.get(k))
    .map((k) => `${k}: relocate ${a.get(k)?.slice(0, 60)} / pack ${b.get(k)?.slice(0, 60)}`);
  t.deepEqual(diff, []);
  const off = [...ta].filter(([k, us]) => {
    const d = us - (tb.get(k) ?? 0n);
    return d > 1n || d < -1n;
  });
  t.deepEqual(off, [], 'mtimes agree to the microsecond');
  t.true(a.size > 1000, `${a.size} entries compared`);
});

test('a plain tar -czf archive of a venv unpacks and works, in each layout: root is the venv, a single top folder is the venv, an app tree holds it', async (t) => {
  if (python === undefined) return t.fail('no Python');
  const top = freshDir('plain');
  // The root is the venv (names ./bin/...), and a single top folder is the venv.
  const v = await copyVenv(ALONE, python);
  const rootTgz = path.join(top, 'root.tar.gz');
  await runOk('tar', ['-czf', rootTgz, '-C', v.dir, '.']);
  const folderTgz = path.join(top, 'folder.tgz');
  await runOk('tar', ['-czf', folderTgz, '-C', path.dirname(v.dir), path.basename(v.dir)]);
  for (const [archive, layout] of [
    [rootTgz, "the archive's root is the venv"],
    [folderTgz, 'its single top folder is the venv'],
  ] as const) {
    const dest = path.join(top, `${path.basename(archive)}-dest`, AWKWARD, 'venv');
    const r = cli(['unpack', archive, dest]);
    ok(t, r, archive);
    t.true(r.stdout.includes(layout), r.stdout);
    t.regex(r.stdout, /relocated after extraction/);
    await works(t, v, dest, v.builtAt);
  }
  // An app tree: app/{venv,src}, with the editable source that moves along.
  const e = await copyVenv(BASIC, python);
  const appTgz = path.join(top, 'app.tar.gz');
  await runOk('tar', [
    '-czf',
    appTgz,
    '-C',
    path.dirname(path.dirname(e.dir)),
    path.basename(path.dirname(e.dir)),
  ]);
  const destApp = path.join(top, 'srv', AWKWARD, '3f9c2e1');
  const r = cli(['unpack', appTgz, destApp]);
  ok(t, r, 'app tree');
  t.true(r.stdout.includes('an app tree holds the venv'), r.stdout);
  const moved = movedTo(e, destApp);
  const problems = await checkRelocated(moved.dir, {
    ...checksFor(moved),
    oldPath: e.builtAt,
    otherOldPaths: [path.join(path.dirname(e.builtAt), 'src')],
    log: (l) => t.log(l),
  });
  t.deepEqual(problems, [], problems.join('\n'));
});

test('DEST must be absent or an empty folder; --force replaces it only with a complete tree, and missing parents are made', async (t) => {
  if (python === undefined) return t.fail('no Python');
  const v = await copyVenv(ALONE, python);
  const top = freshDir('dest');
  const archive = path.join(top, 'app.tar.zst');
  ok(t, cli(['pack', v.dir, '-o', archive]), 'pack');
  const dest = path.join(top, 'a', 'b', 'venv');
  fs.mkdirSync(dest, { recursive: true });
  ok(t, cli(['unpack', archive, dest]), 'into an empty folder');
  const again = cli(['unpack', archive, dest]);
  t.is(again.status, 1);
  t.regex(again.stderr, /exists and is not an empty folder.*--force/);
  // A broken archive with --force: the old tree stays as it was.
  const broken = path.join(top, 'broken.tar.zst');
  fs.writeFileSync(broken, fs.readFileSync(archive).subarray(0, 100_000));
  fs.writeFileSync(path.join(dest, 'marker'), 'old tree');
  const bad = cli(['unpack', broken, dest, '--force']);
  t.is(bad.status, 1, bad.stderr);
  t.is(fs.readFileSync(path.join(dest, 'marker'), 'utf8'), 'old tree');
  const forced = cli(['unpack', archive, dest, '--force']);
  ok(t, forced, '--force');
  t.false(fs.existsSync(path.join(dest, 'marker')));
  t.deepEqual(fs.readdirSync(path.dirname(dest)), ['venv'], 'nothing is left beside DEST');
  await works(t, v, dest, v.builtAt);
});

test('scan and verify read an archive: what unpack would do, and whether it is whole', async (t) => {
  if (python === undefined) return t.fail('no Python');
  const v = await copyVenv(ALONE, python);
  const top = freshDir('inspect');
  const archive = path.join(top, 'app.tar.zst');
  ok(t, cli(['pack', v.dir, '-o', archive]), 'pack');
  const scan = cli(['scan', archive]);
  ok(t, scan, 'scan');
  t.true(scan.stdout.includes(`its files name ${v.builtAt}`), scan.stdout);
  t.regex(scan.stdout, /\d+ shebang.*\d+ pyc/);
  const verify = cli(['verify', archive]);
  ok(t, verify, 'verify');
  t.regex(verify.stdout, /^OK .*whole/);
  const json = JSON.parse(cli(['verify', archive, '--json']).stdout) as {
    ok: boolean;
    manifest: { prefix: string };
  };
  t.true(json.ok);
  t.is(json.manifest.prefix, v.builtAt);
  const cut = path.join(top, 'cut.tar.zst');
  fs.writeFileSync(cut, fs.readFileSync(archive).subarray(0, fs.statSync(archive).size - 5000));
  const bad = cli(['verify', cut]);
  t.is(bad.status, 1);
  t.regex(bad.stdout, /^NOT OK .*(truncated|corrupt)/);
  // A plain archive: scan names its layout and its venvs.
  const plain = path.join(top, 'plain.tgz');
  await runOk('tar', ['-czf', plain, '-C', path.dirname(v.dir), 'venv']);
  const s2 = cli(['scan', plain]);
  ok(t, s2, 'scan plain');
  t.regex(s2.stdout, /single top folder is the venv/);
});

test('the WASM codec writes and reads zstd when the program is not used', async (t) => {
  if (python === undefined) return t.fail('no Python');
  const v = await copyVenv(ALONE, python);
  const top = freshDir('wasm');
  const archive = path.join(top, 'app.tar.zst');
  const env = { VENV_TOOLS_ZSTD: 'wasm' };
  const p = cli(['pack', v.dir, '-o', archive], { env });
  ok(t, p, 'pack');
  t.regex(p.stdout, /zstd-codec/);
  await runOk('tar', ['--zstd', '-tf', archive]);
  const dest = path.join(top, 'venv');
  const u = cli(['unpack', archive, dest], { env });
  ok(t, u, 'unpack');
  await works(t, v, dest, v.builtAt);
});

test("unpack --reinitialize re-points the venv at this machine's python3.X", async (t) => {
  if (python === undefined) return t.fail('no Python');
  const v = await copyVenv(ALONE, python);
  const top = freshDir('reinit');
  const archive = path.join(top, 'app.tar.gz');
  ok(t, cli(['pack', v.dir, '-o', archive]), 'pack');
  const dest = path.join(top, 'venv');
  const r = cli(['unpack', archive, dest, '--reinitialize', '--python', python.exe]);
  ok(t, r, 'unpack --reinitialize');
  t.regex(r.stdout, new RegExp(`interpreter .*Python ${python.full.replace(/\./g, '\\.')}`));
  await works(t, v, dest, v.builtAt);
});

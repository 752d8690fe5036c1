import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RewriteError, VenvToolsError } from '../../src/core/errors.js';
import { fs as vfs } from '../../src/core/fs.js';
import { checkVersionMatch, venvVersionOf } from '../../src/reinit/check-version-match.js';
import { judgeAfterCheck } from '../../src/reinit/check-venv-python.js';
import {
  choosePython,
  type ChooseRequest,
  type ChooseSys,
} from '../../src/reinit/choose-python.js';
import { formatReinit } from '../../src/report/format-reinit.js';
import { planReinit, type AliasState, type ReinitPlanInput } from '../../src/reinit/plan-reinit.js';
import { parseProbeOutput, PROBE_ARGS, type PythonInfo } from '../../src/reinit/probe-python.js';
import { pycVersion } from '../../src/kinds/pyc/pyc-magic.js';
import { reinitialize } from '../../src/commands/reinitialize.js';
import { type ReinitReport } from '../../src/reinit/reinit-report.js';
import {
  baseCfgValues,
  rewritePyvenvCfgBase,
  type BaseCfgValues,
} from '../../src/reinit/rewrite-pyvenv-cfg-base.js';
import { relocate } from '../../src/commands/relocate-venv.js';
import type { Layout } from '../../src/scan/detect-layout.js';
import { makeWheel, parseScriptReport, type WheelSpec } from '../helpers/make-wheel.js';
import { pyenvRoot } from '../helpers/pythons.js';
import { testMissing, type Missing } from '../helpers/require-tool.js';
import { cleanEnv, run, runOk } from '../helpers/run.js';
import { freshDir } from '../helpers/scratch.js';
import { cliArgv } from '../helpers/cli.js';

// ---------------------------------------------------------------------------------------------
// Pure pieces
// ---------------------------------------------------------------------------------------------

function info(over: Partial<PythonInfo> = {}): PythonInfo {
  return {
    version: '3.11.2',
    versionInfo: '3.11.2.final.0',
    majorMinor: '3.11',
    implementation: 'cpython',
    executable: '/usr/bin/python3.11',
    realExecutable: '/usr/bin/python3.11',
    prefix: '/usr',
    execPrefix: '/usr',
    basePrefix: '/usr',
    baseExecPrefix: '/usr',
    baseExecutable: '/usr/bin/python3.11',
    ...over,
  };
}

const USR: BaseCfgValues = baseCfgValues(info(), '/usr/bin/python3.11');

test('rewrites the base keys of a venv pyvenv.cfg and keeps every other byte', (t) => {
  const before =
    '# made on the build host\r\n' +
    'home = /root/.pyenv/versions/3.11.7/bin\r\n' +
    'include-system-site-packages = false\r\n' +
    'version = 3.11.7\r\n' +
    "prompt = 'app'\r\n" +
    'executable = /root/.pyenv/versions/3.11.7/bin/python3.11\r\n' +
    'command = /root/.pyenv/versions/3.11.7/bin/python3 -m venv --copies /build/app/venv\r\n' +
    '# home = /commented/out\r\n';
  const after = rewritePyvenvCfgBase(Buffer.from(before, 'latin1'), { values: USR });
  t.is(
    after?.toString('latin1'),
    '# made on the build host\r\n' +
      'home = /usr/bin\r\n' +
      'include-system-site-packages = false\r\n' +
      'version = 3.11.2\r\n' +
      "prompt = 'app'\r\n" +
      'executable = /usr/bin/python3.11\r\n' +
      'command = /usr/bin/python3.11 -m venv --copies /build/app/venv\r\n' +
      '# home = /commented/out\r\n',
  );
});

test("writes virtualenv's five-part version_info and its base-* keys, spacing as it was", (t) => {
  const before =
    'home=/root/.pyenv/versions/3.11.7/bin\n' +
    'implementation = CPython\n' +
    'version_info =  3.11.7.final.0\n' +
    'virtualenv = 20.17.1+ds\n' +
    'base-prefix = /root/.pyenv/versions/3.11.7\n' +
    'base-exec-prefix = /root/.pyenv/versions/3.11.7\n' +
    'base-executable = /root/.pyenv/versions/3.11.7/bin/python3';
  const after = rewritePyvenvCfgBase(Buffer.from(before), { values: USR })?.toString();
  t.is(
    after,
    'home=/usr/bin\n' +
      'implementation = CPython\n' +
      'version_info =  3.11.2.final.0\n' +
      'virtualenv = 20.17.1+ds\n' +
      'base-prefix = /usr\n' +
      'base-exec-prefix = /usr\n' +
      'base-executable = /usr/bin/python3.11',
  );
});

test("keeps uv's three-part version_info three parts long", (t) => {
  const after = rewritePyvenvCfgBase(
    Buffer.from('home = /opt/py/bin\nversion_info = 3.11.7\nuv = 0.4.0\n'),
    { values: USR },
  );
  t.is(after?.toString(), 'home = /usr/bin\nversion_info = 3.11.2\nuv = 0.4.0\n');
});

test('replaces the whole interpreter of command even when its path holds spaces', (t) => {
  const values = baseCfgValues(info(), '/opt/my python/bin/python3.11');
  const after = rewritePyvenvCfgBase(
    Buffer.from('command = /build host/bin/python3 -m venv /build/app/venv\n'),
    { values },
  );
  t.is(after?.toString(), 'command = /opt/my python/bin/python3.11 -m venv /build/app/venv\n');
});

test('leaves a command whose interpreter is not an absolute path alone', (t) => {
  t.is(
    rewritePyvenvCfgBase(Buffer.from('command = python3 -m venv env\n'), { values: USR }),
    undefined,
  );
});

test('changes nothing in a pyvenv.cfg that already names the interpreter', (t) => {
  const cfg =
    'home = /usr/bin\nversion = 3.11.2\nexecutable = /usr/bin/python3.11\ncommand = /usr/bin/python3.11 -m venv /x\n';
  t.is(rewritePyvenvCfgBase(Buffer.from(cfg), { values: USR }), undefined);
});

test('keeps non-UTF-8 bytes of other lines and writes non-UTF-8 interpreter paths as bytes', (t) => {
  const values = baseCfgValues(
    info({ realExecutable: '/opt/\xe9/python3.11' }),
    '/opt/\xe9/python3.11',
  );
  const after = rewritePyvenvCfgBase(Buffer.from('home = /x\nprompt = \xff\xfe\n', 'latin1'), {
    values,
  });
  t.deepEqual(after, Buffer.from('home = /opt/\xe9\nprompt = \xff\xfe\n', 'latin1'));
});

test('refuses an interpreter path with a line break, which pyvenv.cfg cannot hold', (t) => {
  const values = baseCfgValues(info(), '/opt/a\nb/python3.11');
  const err = t.throws(() => rewritePyvenvCfgBase(Buffer.from('home = /x\n'), { values }));
  t.true(err instanceof RewriteError);
});

test('reads the probe answer byte for byte, hex paths included', (t) => {
  const hex = (s: string) => Buffer.from(s, 'latin1').toString('hex');
  const out = [
    'venv-tools-probe=1',
    'version=3.11.2',
    'version_info=3.11.2.final.0',
    'implementation=cpython',
    `executable=${hex('/opt/\xff py/bin/python3')}`,
    `real_executable=${hex('/opt/\xff py/bin/python3.11')}`,
    `prefix=${hex('/opt/\xff py')}`,
    `exec_prefix=${hex('/opt/\xff py')}`,
    `base_prefix=${hex('/opt/\xff py')}`,
    `base_exec_prefix=${hex('/opt/\xff py')}`,
    `base_executable=${hex('/opt/\xff py/bin/python3')}`,
    '',
  ].join('\n');
  const i = parseProbeOutput(Buffer.from(out));
  t.is(i?.majorMinor, '3.11');
  t.is(i?.executable, '/opt/\xff py/bin/python3');
  t.is(i?.realExecutable, '/opt/\xff py/bin/python3.11');
  t.is(i?.prefix, '/opt/\xff py');
});

test('does not take output without the probe mark for an answer', (t) => {
  t.is(parseProbeOutput(Buffer.from('version=3.11.2\n')), undefined);
  t.is(parseProbeOutput(Buffer.from('')), undefined);
});

/** A fake file system for choosePython: executables and files at the given paths. */
function fakeSys(
  executables: string[],
  files: string[] = [],
  links: Record<string, string> = {},
): ChooseSys {
  return {
    isExecutableFile: (p) => executables.includes(p),
    realpath: (p) => links[p] ?? p,
    isFile: (p) => files.includes(p),
  };
}

const chooseReq = (over: Partial<ChooseRequest> = {}): ChooseRequest => ({
  python: undefined,
  name: 'python3.11',
  pathEnv: '/usr/local/bin:/usr/bin',
  venvRoot: '/srv/app/venv',
  cwd: '/home/deploy',
  ...over,
});

test('takes the first python3.X on PATH', (t) => {
  const c = choosePython(
    chooseReq(),
    fakeSys(['/usr/local/bin/python3.11', '/usr/bin/python3.11']),
  );
  t.is(c.path, '/usr/local/bin/python3.11');
  t.is(c.how, 'PATH');
});

test("passes over the venv's own bin/ and other venvs' bin/ on PATH", (t) => {
  const sys = fakeSys(
    [
      '/srv/app/venv/bin/python3.11',
      '/home/deploy/.venvs/tool/bin/python3.11',
      '/usr/bin/python3.11',
    ],
    ['/home/deploy/.venvs/tool/pyvenv.cfg'],
  );
  const c = choosePython(
    chooseReq({ pathEnv: '/srv/app/venv/bin:/home/deploy/.venvs/tool/bin::/usr/bin' }),
    sys,
  );
  t.is(c.path, '/usr/bin/python3.11');
  t.deepEqual(c.skipped, [
    { path: '/srv/app/venv/bin/python3.11', why: 'the venv itself' },
    { path: '/home/deploy/.venvs/tool/bin/python3.11', why: 'another virtual environment' },
  ]);
});

test('recognises the venv on PATH through a symlinked folder', (t) => {
  const sys = fakeSys(['/current/bin/python3.11', '/usr/bin/python3.11'], [], {
    '/current/bin': '/srv/app/venv/bin',
  });
  const c = choosePython(chooseReq({ pathEnv: '/current/bin:/usr/bin' }), sys);
  t.is(c.path, '/usr/bin/python3.11');
});

test('falls back to /usr/bin, then /usr/local/bin, when PATH has no python3.X', (t) => {
  t.deepEqual(
    [
      choosePython(
        chooseReq({ pathEnv: '/bin' }),
        fakeSys(['/usr/bin/python3.11', '/usr/local/bin/python3.11']),
      ).path,
      choosePython(chooseReq({ pathEnv: undefined }), fakeSys(['/usr/local/bin/python3.11'])).path,
      choosePython(chooseReq({ pathEnv: '' }), fakeSys(['/usr/local/bin/python3.11'])).how,
    ],
    ['/usr/bin/python3.11', '/usr/local/bin/python3.11', 'fallback'],
  );
});

test('uses --python as given, made absolute, and looks a bare name up on PATH', (t) => {
  const sys = fakeSys(['/usr/bin/python3.11']);
  t.is(choosePython(chooseReq({ python: '/opt/py/bin/python3' }), sys).path, '/opt/py/bin/python3');
  t.is(
    choosePython(chooseReq({ python: 'py/bin/python3' }), sys).path,
    '/home/deploy/py/bin/python3',
  );
  const bare = choosePython(chooseReq({ python: 'python3.11' }), sys);
  t.is(bare.path, '/usr/bin/python3.11');
  t.is(bare.how, 'option');
});

test('names what it looked at and the --python flag when no interpreter is found', (t) => {
  const err = t.throws(() =>
    choosePython(
      chooseReq({ pathEnv: '/srv/app/venv/bin' }),
      fakeSys(['/srv/app/venv/bin/python3.11']),
    ),
  );
  t.true(err instanceof VenvToolsError);
  t.is((err as VenvToolsError).code, 'REINIT');
  t.regex(err?.message ?? '', /no python3\.11 found/);
  t.regex(err?.message ?? '', /\/usr\/bin, \/usr\/local\/bin/);
  t.regex(err?.message ?? '', /the venv itself/);
  t.regex(err?.message ?? '', /--python EXE/);
  const bare = t.throws(() => choosePython(chooseReq({ python: 'python9.9' }), fakeSys([])));
  t.regex(bare?.message ?? '', /--python python9\.9: not found on PATH/);
});

const layout311: Layout = {
  binDir: 'bin',
  libDir: 'lib/python3.11',
  sitePackages: 'lib/python3.11/site-packages',
  pythonVersion: '3.11',
  implementation: 'cpython',
  hasPyvenvCfg: true,
  creator: 'venv',
  creatorVersion: undefined,
  cfgVersion: '3.11.7',
};

test("reads the venv's version from pyvenv.cfg, else from lib/pythonX.Y", (t) => {
  t.like(venvVersionOf(layout311), { version: '3.11.7', majorMinor: '3.11', source: 'pyvenv.cfg' });
  t.like(venvVersionOf({ ...layout311, cfgVersion: '3.11.7.final.0' }), {
    version: '3.11.7',
    majorMinor: '3.11',
  });
  t.like(venvVersionOf({ ...layout311, cfgVersion: undefined }), {
    version: '3.11',
    majorMinor: '3.11',
    source: 'lib',
  });
});

test('refuses another minor version naming both versions, the reason and --force', (t) => {
  const ctx = {
    shownVenv: './venv',
    shownExe: '--python /usr/bin/python3.12',
    libDir: 'lib/python3.11',
    force: false,
  };
  const err = t.throws(() =>
    checkVersionMatch(
      venvVersionOf(layout311),
      info({ version: '3.12.1', majorMinor: '3.12' }),
      ctx,
    ),
  );
  t.is((err as VenvToolsError).code, 'REINIT');
  for (const part of [
    '3.12.1',
    '3.11.7',
    'compiled extensions',
    'lib/python3.11',
    '--force',
    '/usr/bin/python3.12',
  ]) {
    t.true(err?.message.includes(part), part);
  }
  const warned = checkVersionMatch(
    venvVersionOf(layout311),
    info({ version: '3.12.1', majorMinor: '3.12' }),
    { ...ctx, force: true },
  );
  t.regex(warned ?? '', /^--force: re-pointed \.\/venv /);
  // A dry run says what a real run would do: nothing was re-pointed.
  const dry = checkVersionMatch(
    venvVersionOf(layout311),
    info({ version: '3.12.1', majorMinor: '3.12' }),
    { ...ctx, force: true, dryRun: true },
  );
  t.regex(dry ?? '', /^--force: a real run would re-point \.\/venv /);
  t.notRegex(dry ?? '', /re-pointed/);
  t.is(checkVersionMatch(venvVersionOf(layout311), info(), ctx), undefined);
});

test('refuses another implementation of the same version unless --force', (t) => {
  const ctx = { shownVenv: './venv', shownExe: 'pypy', libDir: 'lib/python3.11', force: false };
  const err = t.throws(() =>
    checkVersionMatch(venvVersionOf(layout311), info({ implementation: 'pypy' }), ctx),
  );
  t.regex(err?.message ?? '', /PyPy 3\.11\.2, the venv is Python 3\.11\.7/);
});

const ELF = Buffer.concat([Buffer.from('\x7fELF', 'latin1'), Buffer.alloc(60, 1)]);
const NEW_ELF = Buffer.concat([Buffer.from('\x7fELF', 'latin1'), Buffer.alloc(60, 2)]);

function planInput(aliases: AliasState[], over: Partial<ReinitPlanInput> = {}): ReinitPlanInput {
  return {
    root: '/srv/app/venv',
    binDir: 'bin',
    aliases,
    linkTarget: '/usr/bin/python3.11',
    copySource: '/usr/bin/python3.11',
    newBinary: NEW_ELF,
    cfg: undefined,
    cfgValues: USR,
    now: 1_700_000_000_000,
    ...over,
  };
}

test('re-points the absolute link and keeps the relative aliases of a venv', (t) => {
  const plan = planReinit(
    planInput([
      { name: 'python', type: 'symlink', target: 'python3' },
      { name: 'python3', type: 'symlink', target: '/root/.pyenv/versions/3.11.7/bin/python3' },
      { name: 'python3.11', type: 'symlink', target: 'python3' },
    ]),
  );
  t.deepEqual(plan.records, [{ op: 'symlink', rel: 'bin/python3', target: '/usr/bin/python3.11' }]);
  t.deepEqual(
    plan.links.map((l) => [l.path, l.form, l.action]),
    [
      ['bin/python', 'alias-link', 'keep'],
      ['bin/python3', 'interpreter-link', 'relink'],
      ['bin/python3.11', 'alias-link', 'keep'],
    ],
  );
});

test('copies the new binary over each copy of a --copies venv, with its mode and owner', (t) => {
  const file = (name: string): AliasState => ({
    name,
    type: 'file',
    bytes: ELF,
    mode: 0o100750,
    uid: 10,
    gid: 20,
  });
  const plan = planReinit(
    planInput([file('python'), file('python3'), { name: 'python3.11', type: 'missing' }]),
  );
  t.deepEqual(
    plan.records.map((r) =>
      r.op === 'replace' ? [r.rel, r.mode, r.uid, r.gid, r.data === NEW_ELF] : [r.rel],
    ),
    [
      ['bin/python', 0o100750, 10, 20, true],
      ['bin/python3', 0o100750, 10, 20, true],
    ],
  );
  t.true(plan.links.every((l) => l.path === 'bin/python3.11' || (l.copy && l.action === 'copy')));
});

test('leaves a copy that already holds the new binary, and a link that already points right', (t) => {
  const plan = planReinit(
    planInput([
      { name: 'python', type: 'file', bytes: Buffer.from(NEW_ELF), mode: 0o100755, uid: 0, gid: 0 },
      { name: 'python3', type: 'symlink', target: '/usr/bin/python3.11' },
    ]),
  );
  t.deepEqual(plan.records, []);
  t.true(plan.links.every((l) => l.action === 'keep'));
});

test('points a dangling relative chain, or a missing bin/python, straight at the interpreter', (t) => {
  const plan = planReinit(
    planInput([
      { name: 'python', type: 'symlink', target: 'python3' },
      { name: 'python3', type: 'missing' },
      { name: 'python3.11', type: 'missing' },
    ]),
  );
  t.deepEqual(plan.records, [{ op: 'symlink', rel: 'bin/python', target: '/usr/bin/python3.11' }]);
  const none = planReinit(planInput([{ name: 'python', type: 'missing' }]));
  t.deepEqual(none.records, [{ op: 'symlink', rel: 'bin/python', target: '/usr/bin/python3.11' }]);
});

test('leaves a wrapper script in place of bin/python alone, with a warning', (t) => {
  const plan = planReinit(
    planInput([
      {
        name: 'python',
        type: 'file',
        bytes: Buffer.from('#!/bin/sh\nexec /opt/py "$@"\n'),
        mode: 0o100755,
        uid: 0,
        gid: 0,
      },
    ]),
  );
  t.deepEqual(plan.records, []);
  t.is(plan.warnings[0]?.code, 'ALIAS_NOT_BINARY');
});

test('journals pyvenv.cfg in place, or renamed over when it has other hard links, and lists key changes', (t) => {
  const cfg = {
    bytes: Buffer.from('home = /opt/py/bin\nversion = 3.11.7\n'),
    atimeMs: 5,
    mtimeMs: 6,
    nlink: 1,
    mode: 0o100644,
    uid: 0,
    gid: 0,
  };
  const plan = planReinit(planInput([], { cfg }));
  t.deepEqual(plan.cfg, [
    { key: 'home', old: '/opt/py/bin', new: '/usr/bin' },
    { key: 'version', old: '3.11.7', new: '3.11.2' },
  ]);
  t.like(plan.records[plan.records.length - 1], {
    op: 'write',
    rel: 'pyvenv.cfg',
    atimeMs: 5,
    mtimeMs: 6,
  });
  const linked = planReinit(planInput([], { cfg: { ...cfg, nlink: 2 } }));
  t.like(linked.records[linked.records.length - 1], {
    op: 'replace',
    rel: 'pyvenv.cfg',
    mode: 0o100644,
  });
});

test('the after-check names each expectation that failed', (t) => {
  const id = (p: string) => p;
  const ok = judgeAfterCheck(
    '/v/bin/python',
    { info: info({ prefix: '/v', basePrefix: '/usr' }), failure: undefined },
    { root: '/v', base: info() },
    id,
  );
  t.true(ok.ok);
  const bad = judgeAfterCheck(
    '/v/bin/python',
    { info: info({ prefix: '/usr', version: '3.11.7' }), failure: undefined },
    { root: '/v', base: info() },
    id,
  );
  t.false(bad.ok);
  t.is(bad.problems.length, 2);
  const dead = judgeAfterCheck(
    '/v/bin/python',
    { info: undefined, failure: 'no such file' },
    { root: '/v', base: info() },
    id,
  );
  t.deepEqual(dead.problems, ['/v/bin/python does not start: no such file']);
});

test('refuses a folder that is not a venv, or a legacy virtualenv, without leaving a lock', (t) => {
  const dir = freshDir('reinit-notvenv');
  fs.mkdirSync(path.join(dir, 'bin'));
  fs.mkdirSync(path.join(dir, 'lib'));
  const err = t.throws(() => reinitialize({ path: dir, python: '/bin/true' }));
  t.is((err as VenvToolsError).code, 'NOT_A_VENV');
  t.is(err?.message, `${dir} is not a virtualenv: not a directory: ${dir}/lib/python#.#`);
  fs.mkdirSync(path.join(dir, 'lib', 'python3.11', 'site-packages'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'bin', 'activate'), 'VIRTUAL_ENV="/old"\n');
  const legacy = t.throws(() => reinitialize({ path: dir, python: '/bin/true' }));
  t.is((legacy as VenvToolsError).code, 'UNSUPPORTED');
  t.regex(legacy?.message ?? '', /virtualenv < 20/);
  t.deepEqual(fs.readdirSync(dir).sort(), ['bin', 'lib']);
});

test('formats a report: the change per alias and key, the kept aliases and the check', (t) => {
  const report: ReinitReport = {
    path: './venv',
    root: '/srv/venv',
    status: 'reinitialized',
    venv: {
      version: '3.11.7',
      majorMinor: '3.11',
      source: 'pyvenv.cfg',
      implementation: 'cpython',
      creator: 'venv',
      libDir: 'lib/python3.11',
    },
    interpreter: {
      found: '/usr/bin/python3.11',
      how: 'PATH',
      linkTarget: '/usr/bin/python3.11',
      version: '3.11.2',
      versionInfo: '3.11.2.final.0',
      implementation: 'cpython',
      executable: '/usr/bin/python3.11',
      realExecutable: '/usr/bin/python3.11',
      prefix: '/usr',
      execPrefix: '/usr',
      skipped: [{ path: '/srv/venv/bin/python3.11', why: 'the venv itself' }],
    },
    forced: false,
    links: [
      {
        path: 'bin/python',
        form: 'alias-link',
        action: 'keep',
        old: 'python3',
        new: 'python3',
        copy: false,
      },
      {
        path: 'bin/python3',
        form: 'interpreter-link',
        action: 'relink',
        old: '/opt/py/bin/python3',
        new: '/usr/bin/python3.11',
        copy: false,
      },
      {
        path: 'bin/python3.11',
        form: 'copy',
        action: 'copy',
        old: null,
        new: '/usr/bin/python3.11',
        copy: true,
      },
    ],
    cfg: [{ key: 'home', old: '/opt/py/bin', new: '/usr/bin' }],
    recovered: { state: 'none', files: 0 },
    check: {
      ok: false,
      python: '/srv/venv/bin/python',
      version: '3.11.2',
      prefix: '/usr',
      basePrefix: '/usr',
      problems: ['sys.prefix is /usr, not the venv /srv/venv'],
    },
    warnings: [],
  };
  t.deepEqual(formatReinit(report), [
    'Reinitialized ./venv: Python 3.11.7 -> /usr/bin/python3.11 (Python 3.11.2, found on PATH)',
    '  passed over /srv/venv/bin/python3.11 (the venv itself)',
    '  bin/python3: /opt/py/bin/python3 -> /usr/bin/python3.11',
    '  bin/python3.11: fresh copy of /usr/bin/python3.11',
    '  pyvenv.cfg home: /opt/py/bin -> /usr/bin',
    '  kept aliases: bin/python -> python3',
    '  check FAILED: sys.prefix is /usr, not the venv /srv/venv',
  ]);
  t.deepEqual(formatReinit({ ...report, status: 'up-to-date', check: null }), [
    'Already up-to-date: ./venv (/usr/bin/python3.11, Python 3.11.2)',
  ]);
});

// ---------------------------------------------------------------------------------------------
// Real venvs, real interpreters
// ---------------------------------------------------------------------------------------------

interface Python {
  readonly minor: string; // "3.11"
  readonly full: string; // "3.11.7"
  readonly exe: string;
}

/** pyenv's CPython 3.6+ builds on this machine, by version. */
function pyenvPythons(): Python[] {
  const dir = path.join(pyenvRoot(), 'versions');
  let names: string[] = [];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const out: Python[] = [];
  for (const n of names) {
    const m = /^3\.(\d+)\.(\d+)$/.exec(n);
    const exe = `${dir}/${n}/bin/python3`;
    if (m === null || Number(m[1]) < 6 || !fs.existsSync(exe)) continue;
    out.push({ minor: `3.${m[1]}`, full: n, exe });
  }
  return out.sort((a, b) => Number(b.minor.slice(2)) - Number(a.minor.slice(2)));
}

function versionOf(exe: string): string | undefined {
  const r = spawnSync(exe, ['-c', 'import sys; print("%d.%d.%d" % sys.version_info[:3])'], {
    encoding: 'utf8',
  });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

const PYENV = pyenvPythons();
/** Two interpreters of one minor version: a pyenv build and the distribution's /usr/bin one (3.11 first). */
const PAIR = (() => {
  const minors = [...new Set(PYENV.map((p) => p.minor))].sort((a, b) =>
    a === '3.11' ? -1 : b === '3.11' ? 1 : 0,
  );
  for (const minor of minors) {
    const system = `/usr/bin/python${minor}`;
    const full = fs.existsSync(system) ? versionOf(system) : undefined;
    const built = PYENV.find((p) => p.minor === minor);
    if (full !== undefined && built !== undefined)
      return { built, system: { minor, full, exe: system } };
  }
  return undefined;
})();
/** Any interpreter of another minor version than the pair's, for the mismatch refusal. */
const OTHER_MINOR =
  PAIR === undefined ? undefined : PYENV.find((p) => p.minor !== PAIR.built.minor);
const NO_PAIR: Missing = {
  what: "a pyenv CPython 3.X beside Debian's /usr/bin/python3.X (two interpreters of one minor version)",
  install: 'pyenv install 3.11; apt-get install -y python3.11 python3-venv',
};
const NO_OTHER_MINOR: Missing = {
  what: "a pyenv CPython of another minor version than the pair's",
  install: 'pyenv install 3.12',
};

/** Run the built CLI (helpers/cli.ts says which program). */
function runCli(args: readonly string[]) {
  const [file, ...argv] = cliArgv(args);
  return run(file, argv, { env: cleanEnv() });
}

const KIT: WheelSpec = {
  name: 'vt-reinit-kit',
  version: '1.0',
  package: 'vt_reinit_kit',
  consoleScripts: ['vt-reinit-hello'],
};
const LATE: WheelSpec = {
  name: 'vt-reinit-late',
  version: '2.0',
  package: 'vt_reinit_late',
  consoleScripts: ['vt-reinit-late'],
};

/** Build a venv with pip (ensurepip's bundled wheel, offline) and the kit wheel installed. */
async function buildVenv(
  python: string,
  dir: string,
  opts: { copies?: boolean; pip?: boolean } = {},
): Promise<void> {
  const args = [
    '-m',
    'venv',
    ...(opts.copies ? ['--copies'] : []),
    ...(opts.pip === false ? ['--without-pip'] : []),
    dir,
  ];
  await runOk(python, args, { env: cleanEnv() });
  if (opts.pip !== false) await pipInstall(dir, KIT);
}

async function pipInstall(venv: string, spec: WheelSpec): Promise<void> {
  const wheel = makeWheel(freshDir('wheels'), spec);
  await runOk(path.join(venv, 'bin', 'pip'), ['install', '--no-index', '--no-deps', wheel], {
    env: cleanEnv(),
  });
}

/** Every entry of a tree: content hash, link target, mode, so "no byte changed" can be checked. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    const abs = rel === '' ? dir : path.join(dir, rel);
    const st = fs.lstatSync(abs);
    const mode = (st.mode & 0o7777).toString(8);
    if (st.isSymbolicLink()) out[rel] = `link ${fs.readlinkSync(abs)}`;
    else if (st.isDirectory()) {
      out[rel] = `dir ${mode}`;
      for (const n of fs.readdirSync(abs)) walk(rel === '' ? n : `${rel}/${n}`);
    } else
      out[rel] = `file ${mode} ${createHash('sha256').update(fs.readFileSync(abs)).digest('hex')}`;
  };
  walk('');
  return out;
}

/** What the venv's python says about itself. */
function pythonSays(venv: string): { prefix: string; basePrefix: string; version: string } {
  const r = spawnSync(
    path.join(venv, 'bin', 'python'),
    [
      '-c',
      'import sys, json; print(json.dumps([sys.prefix, sys.base_prefix, "%d.%d.%d" % sys.version_info[:3]]))',
    ],
    { encoding: 'utf8', env: cleanEnv(), cwd: '/' },
  );
  if (r.status !== 0) throw new Error(`bin/python failed: ${r.stderr}`);
  const [prefix, basePrefix, version] = JSON.parse(r.stdout) as [string, string, string];
  return { prefix, basePrefix, version };
}

function cfgOf(venv: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of fs.readFileSync(path.join(venv, 'pyvenv.cfg'), 'utf8').split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) m.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  return m;
}

/** The console script, pip, and the installed package work, all under the venv's own python. */
async function assertVenvWorks(
  t: ExecutionContext,
  venv: string,
  expectBase: string,
): Promise<void> {
  const says = pythonSays(venv);
  t.is(fs.realpathSync(says.prefix), fs.realpathSync(venv));
  t.is(says.basePrefix, expectBase);
  const hello = await run(path.join(venv, 'bin', 'vt-reinit-hello'), [], { env: cleanEnv() });
  t.is(hello.status, 0, hello.stderr.toString());
  const report = parseScriptReport(hello.stdout);
  t.is(report?.name, 'vt-reinit-hello');
  t.is(report?.prefix.toString(), venv);
  t.regex(hello.stdout.toString(), /data=notes deep=42/);
  const pipVersion = await run(path.join(venv, 'bin', 'pip'), ['--version'], { env: cleanEnv() });
  t.is(pipVersion.status, 0, pipVersion.stderr.toString());
  t.true(pipVersion.stdout.toString().includes(path.join(venv, 'lib')));
  const list = await run(path.join(venv, 'bin', 'pip'), ['list', '--format=json'], {
    env: cleanEnv(),
  });
  const names = (JSON.parse(list.stdout.toString()) as Array<{ name: string }>).map((d) => d.name);
  t.true(names.includes('vt-reinit-kit'), names.join(' '));
}

function logRun(t: ExecutionContext, r: ReinitReport): void {
  t.log(
    `${r.status}: ${r.venv.version} -> ${r.interpreter.linkTarget} (Python ${r.interpreter.version}, ${r.interpreter.how})`,
  );
}

function reinitError(fn: () => unknown): VenvToolsError {
  try {
    fn();
  } catch (err) {
    if (err instanceof VenvToolsError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

if (PAIR === undefined) {
  testMissing(NO_PAIR, 're-points a real venv between two interpreters of one minor version');
} else {
  const { built, system } = PAIR;

  test(`re-points a ${built.full} venv at ${system.exe} found on PATH, then back with --python`, async (t) => {
    t.log(`interpreters: ${built.exe} (${built.full}), ${system.exe} (${system.full})`);
    const venv = path.join(freshDir('reinit-path'), 'venv');
    await buildVenv(built.exe, venv);
    const original = {
      cfg: fs.readFileSync(path.join(venv, 'pyvenv.cfg')),
      links: snapshot(path.join(venv, 'bin')),
    };
    const absName = path.basename(built.exe); // venv links bin/<name it was run as> absolutely

    // An activated venv puts its own bin/ first on PATH: it must be passed over.
    const env = cleanEnv({ PATH: `${venv}/bin:/usr/bin:/bin` });
    const r = reinitialize({ path: venv, env });
    logRun(t, r);
    t.is(r.status, 'reinitialized');
    t.is(r.interpreter.how, 'PATH');
    t.is(r.interpreter.found, system.exe);
    t.deepEqual(r.interpreter.skipped, [
      { path: `${venv}/bin/python${system.minor}`, why: 'the venv itself' },
    ]);
    t.true(r.check?.ok, r.check?.problems.join('; '));
    t.is(fs.readlinkSync(path.join(venv, 'bin', absName)), system.exe);
    for (const l of r.links.filter((x) => x.path !== `bin/${absName}`)) {
      t.is(l.form, 'alias-link');
      t.is(fs.readlinkSync(path.join(venv, l.path)), absName);
    }
    const cfg = cfgOf(venv);
    t.is(cfg.get('home'), '/usr/bin');
    t.is(cfg.get('version'), system.full);
    t.is(cfg.get('include-system-site-packages'), 'false');
    if (cfg.has('executable')) t.is(cfg.get('executable'), fs.realpathSync(system.exe));
    if (cfg.has('command')) t.is(cfg.get('command'), `${system.exe} -m venv ${venv}`);
    t.false(fs.existsSync(path.join(venv, '.venv-tools.journal')));
    t.false(fs.existsSync(path.join(venv, '.venv-tools.lock')));
    await assertVenvWorks(t, venv, '/usr');

    // pip still installs into the venv, and what it installs runs with the new interpreter.
    await pipInstall(venv, LATE);
    const late = await run(path.join(venv, 'bin', 'vt-reinit-late'), [], { env: cleanEnv() });
    t.is(parseScriptReport(late.stdout)?.prefix.toString(), venv, late.stderr.toString());

    const again = reinitialize({ path: venv, env });
    t.is(again.status, 'up-to-date');
    t.true(again.check?.ok);

    // Back to the interpreter it was built with, named as the venv module was run.
    const back = reinitialize({ path: venv, python: built.exe, env });
    logRun(t, back);
    t.is(back.status, 'reinitialized');
    t.is(back.interpreter.how, 'option');
    t.true(back.check?.ok, back.check?.problems.join('; '));
    t.deepEqual(
      fs.readFileSync(path.join(venv, 'pyvenv.cfg')),
      original.cfg,
      'pyvenv.cfg is byte for byte what venv wrote',
    );
    const links = snapshot(path.join(venv, 'bin'));
    for (const [name, what] of Object.entries(original.links))
      if (what.startsWith('link')) t.is(links[name], what, name);
    await assertVenvWorks(t, venv, path.dirname(path.dirname(fs.realpathSync(built.exe))));
  });

  test(`gives a --copies venv fresh copies of ${system.exe}, and back by PATH discovery`, async (t) => {
    t.log(`interpreters: ${built.exe} (${built.full}), ${system.exe} (${system.full})`);
    const venv = path.join(freshDir('reinit-copies'), 'venv');
    await buildVenv(built.exe, venv, { copies: true });
    const aliases = ['python', 'python3', `python${system.minor}`].filter((n) =>
      fs.existsSync(path.join(venv, 'bin', n)),
    );
    const inodes = aliases.map((n) => fs.statSync(path.join(venv, 'bin', n)).ino);

    const r = reinitialize({ path: venv, python: system.exe, env: cleanEnv({ PATH: '/bin' }) });
    logRun(t, r);
    t.is(r.status, 'reinitialized');
    t.true(r.check?.ok, r.check?.problems.join('; '));
    const binary = fs.readFileSync(fs.realpathSync(system.exe));
    aliases.forEach((n, k) => {
      const p = path.join(venv, 'bin', n);
      const st = fs.lstatSync(p);
      t.true(st.isFile(), `${n} stays a copy`);
      t.is(st.mode & 0o777, 0o755);
      t.not(st.ino, inodes[k], `${n} was renamed over, not written in place`);
      t.true(fs.readFileSync(p).equals(binary), `${n} holds ${system.exe}`);
    });
    await assertVenvWorks(t, venv, '/usr');

    const pyenvBin = path.dirname(built.exe);
    const back = reinitialize({ path: venv, env: cleanEnv({ PATH: `${pyenvBin}:/usr/bin:/bin` }) });
    logRun(t, back);
    t.is(back.interpreter.how, 'PATH');
    t.is(back.interpreter.found, `${pyenvBin}/python${built.minor}`);
    t.true(back.check?.ok, back.check?.problems.join('; '));
    const builtBinary = fs.readFileSync(fs.realpathSync(built.exe));
    for (const n of aliases)
      t.true(fs.readFileSync(path.join(venv, 'bin', n)).equals(builtBinary), n);
    await assertVenvWorks(t, venv, path.dirname(pyenvBin));
  });

  test('a dry run shows the plan and changes nothing', async (t) => {
    const venv = path.join(freshDir('reinit-dry'), 'venv');
    await buildVenv(built.exe, venv, { pip: false });
    const before = snapshot(venv);
    const r = reinitialize({ path: venv, python: system.exe, dryRun: true, env: cleanEnv() });
    t.is(r.status, 'dry-run');
    t.is(r.check, null);
    t.true(r.links.some((l) => l.action === 'relink' && l.new === system.exe));
    t.true(r.cfg.some((c) => c.key === 'home' && c.new === '/usr/bin'));
    t.deepEqual(snapshot(venv), before);
    t.deepEqual(JSON.parse(JSON.stringify(r)), r, 'the report is plain JSON data');
    const lines = formatReinit(r);
    t.regex(lines[0] ?? '', /^Would reinitialize /);
    t.true(lines.some((l) => l.includes(`-> ${system.exe}`)));
  });

  if (OTHER_MINOR === undefined) {
    testMissing(NO_OTHER_MINOR, 'refuses an interpreter of another minor version');
  } else {
    const other = OTHER_MINOR;
    test(`refuses ${other.full} for a ${built.minor} venv and changes no byte, unless --force`, async (t) => {
      t.log(`interpreters: ${built.exe} (${built.full}), ${other.exe} (${other.full})`);
      const venv = path.join(freshDir('reinit-mismatch'), 'venv');
      await buildVenv(built.exe, venv, { pip: false });
      const before = snapshot(venv);
      const err = reinitError(() =>
        reinitialize({ path: venv, python: other.exe, env: cleanEnv() }),
      );
      t.is(err.code, 'REINIT');
      for (const part of [other.full, built.full, other.exe, '--force', `lib/python${built.minor}`])
        t.true(err.message.includes(part), part);
      t.deepEqual(snapshot(venv), before, 'no byte changed, no lock or journal left');

      const forced = reinitialize({ path: venv, python: other.exe, force: true, env: cleanEnv() });
      logRun(t, forced);
      t.true(forced.forced);
      t.true(forced.warnings.some((w) => w.code === 'FORCED_VERSION'));
      t.is(pythonSays(venv).version, other.full);
    });
  }

  test('a reinit that dies half-way is finished by the next run, from its journal', async (t) => {
    const venv = path.join(freshDir('reinit-crash'), 'venv');
    await buildVenv(built.exe, venv, { copies: true, pip: false });
    // Fail the second rename (the second copied binary): the first alias is replaced already.
    // Swapped and restored around one synchronous call, so no other test sees it.
    const realRename = vfs.renameSync;
    let renames = 0;
    vfs.renameSync = ((from: fs.PathLike, to: fs.PathLike) => {
      if (++renames === 2) throw Object.assign(new Error('EIO: i/o error'), { code: 'EIO' });
      realRename(from, to);
    }) as typeof vfs.renameSync;
    let err: unknown;
    try {
      reinitialize({ path: venv, python: system.exe, env: cleanEnv() });
    } catch (e) {
      err = e;
    } finally {
      vfs.renameSync = realRename;
    }
    t.is((err as VenvToolsError).code, 'WRITE_FAILED');
    t.regex((err as Error).message, /EIO/);
    t.true(
      fs.existsSync(path.join(venv, '.venv-tools.journal')),
      'the journal stays for the next run',
    );

    const r = reinitialize({ path: venv, python: system.exe, env: cleanEnv() });
    t.is(r.recovered.state, 'completed');
    t.is(r.status, 'up-to-date');
    t.true(r.check?.ok, r.check?.problems.join('; '));
    const binary = fs.readFileSync(fs.realpathSync(system.exe));
    for (const n of ['python', 'python3', `python${system.minor}`]) {
      t.true(fs.readFileSync(path.join(venv, 'bin', n)).equals(binary), n);
    }
    t.is(cfgOf(venv).get('home'), '/usr/bin');
    t.false(fs.existsSync(path.join(venv, '.venv-tools.journal')));
  });

  test('refuses a --python that does not run, with its error, and changes no byte', async (t) => {
    const dir = freshDir('reinit-badexe');
    const venv = path.join(dir, 'venv');
    await buildVenv(built.exe, venv, { pip: false });
    const failing = path.join(dir, 'failing-python');
    fs.writeFileSync(
      failing,
      '#!/bin/sh\necho "libpython3.11.so.1.0: cannot open shared object file" >&2\nexit 127\n',
      { mode: 0o755 },
    );
    const notExecutable = path.join(dir, 'not-executable');
    fs.writeFileSync(notExecutable, 'text\n', { mode: 0o644 });
    const before = snapshot(venv);
    const cases: Array<[string, RegExp]> = [
      [path.join(dir, 'missing-python'), /no such file/],
      [notExecutable, /permission denied/],
      [failing, /exited with status 127: libpython3\.11\.so\.1\.0: cannot open shared object file/],
      ['/bin/true', /did not answer like a Python interpreter/],
    ];
    for (const [exe, why] of cases) {
      const err = reinitError(() => reinitialize({ path: venv, python: exe, env: cleanEnv() }));
      t.is(err.code, 'REINIT', exe);
      t.true(err.message.includes(exe), exe);
      t.regex(err.message, why);
    }
    t.log(`refused ${cases.length} interpreters that do not run`);
    t.deepEqual(snapshot(venv), before);
  });

  test('refuses the python of another venv as --python, naming its base interpreter', async (t) => {
    const dir = freshDir('reinit-venvexe');
    const venv = path.join(dir, 'venv');
    const other = path.join(dir, 'other');
    await buildVenv(built.exe, venv, { pip: false });
    await buildVenv(system.exe, other, { pip: false });
    const before = snapshot(venv);
    const err = reinitError(() =>
      reinitialize({ path: venv, python: path.join(other, 'bin', 'python'), env: cleanEnv() }),
    );
    t.regex(err.message, /not a base interpreter/);
    t.true(
      err.message.includes(`--python ${fs.realpathSync(system.exe)}`) ||
        err.message.includes(`--python ${system.exe}`),
    );
    t.deepEqual(snapshot(venv), before);
  });

  test('reinit then relocate (--reinitialize --update-path NEW NEW) on a venv that has also moved', async (t) => {
    t.log(`interpreters: ${built.exe} (${built.full}) -> ${system.exe} (${system.full})`);
    const top = freshDir('reinit-moved');
    const built1 = path.join(top, 'build', 'app', 'venv');
    await buildVenv(built.exe, built1);
    const moved = path.join(top, 'srv', 'app', 'venv');
    fs.mkdirSync(path.dirname(moved), { recursive: true });
    fs.renameSync(built1, moved);

    // The CLI runs exactly this: reinitialize first, then relocate to NEW.
    const r = reinitialize({ path: moved, python: system.exe, env: cleanEnv() });
    logRun(t, r);
    t.true(r.check?.ok, r.check?.problems.join('; '));
    const { report } = relocate({ path: moved, to: moved });
    t.is(report.status, 'updated');
    t.is(report.old, built1);
    await assertVenvWorks(t, moved, '/usr');
    const cfg = cfgOf(moved);
    if (cfg.has('command')) t.is(cfg.get('command'), `${system.exe} -m venv ${moved}`);
  });

  {
    test('the CLI re-points a moved venv with --reinitialize --update-path NEW NEW', async (t) => {
      t.log(`interpreters: ${built.exe} (${built.full}) -> ${system.exe} (${system.full})`);
      const top = freshDir('reinit-cli');
      const first = path.join(top, 'build', 'venv');
      await buildVenv(built.exe, first);
      const moved = path.join(top, 'srv', 'venv');
      fs.mkdirSync(path.dirname(moved), { recursive: true });
      fs.renameSync(first, moved);
      const r = await runCli([
        '--reinitialize',
        '--python',
        system.exe,
        '--update-path',
        moved,
        moved,
      ]);
      t.is(r.status, 0, r.stderr.toString());
      t.true(
        r.stdout.toString().includes(`Updated: ${moved} (${first} -> ${moved})`),
        r.stdout.toString(),
      );
      await assertVenvWorks(t, moved, '/usr');
    });

    test('the CLI reinit command refuses a minor-version mismatch with exit 1, then re-points the venv', async (t) => {
      const venv = path.join(freshDir('reinit-cli-mismatch'), 'venv');
      await buildVenv(built.exe, venv, { pip: false });
      const before = snapshot(venv);
      const other = OTHER_MINOR ?? built; // without another minor, refuse a python that is not there
      const exe = OTHER_MINOR === undefined ? path.join(venv, 'no-such-python') : other.exe;
      t.log(`refusing ${exe}`);
      const r = await runCli(['reinit', venv, '--python', exe]);
      t.is(r.status, 1);
      t.regex(r.stderr.toString(), OTHER_MINOR === undefined ? /no such file/ : /--force/);
      t.deepEqual(snapshot(venv), before);
      const ok = await runCli(['reinit', venv, '--python', system.exe]);
      t.is(ok.status, 0, ok.stderr.toString());
      t.is(pythonSays(venv).basePrefix, '/usr');
    });
  }
}

test('the probe runs on every interpreter here, and reads what the interpreter says', (t) => {
  const seen: string[] = [];
  for (const p of [...PYENV, ...(PAIR ? [PAIR.system] : [])]) {
    const r = spawnSync(p.exe, PROBE_ARGS, { cwd: '/', env: cleanEnv() });
    const i = parseProbeOutput(r.stdout);
    t.truthy(i, `${p.exe}: ${r.stderr.toString()}`);
    t.is(i?.version, p.full, p.exe);
    t.is(i?.realExecutable, fs.realpathSync(p.exe));
    t.is(i?.prefix, i?.basePrefix);
    // The magic of the pycs it writes (verify's pycs check holds every pyc to it).
    t.not(i?.magic, undefined, `${p.exe}: its pyc magic`);
    if (i?.majorMinor.startsWith('3.') === true) t.is(pycVersion(i.magic ?? 0), i.majorMinor);
    seen.push(`${p.full} (${p.exe})`);
  }
  t.log(`probed: ${seen.join(', ')}`);
  t.true(seen.length > 0, 'no interpreter found on this machine');
});

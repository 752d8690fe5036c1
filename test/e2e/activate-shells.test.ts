/**
 * Real templates in real shells: venvs built by every CPython 3 on this machine, by PyPy and by
 * Debian's virtualenv get their activate scripts rewritten for tricky new paths, and each
 * script is sourced by the shell it is written for. The environment a child process sees
 * must hold VIRTUAL_ENV exactly equal to the new path and PATH starting with NEW/bin. A
 * virtualenv venv is also relocated by the CLI, and its activate_this.py and activate.xsh are
 * run for real.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import {
  activateFlavor,
  rewriteActivate,
  type ActivateFlavor,
} from '../../src/kinds/rewrite-activate.js';
import { activateEvidence } from '../../src/kinds/activate-evidence.js';
import { utf8ToBytes, type ByteString } from '../../src/core/path-boundary.js';
import { writeActivateXsh } from '../helpers/build-venv.js';
import { checkActivate } from '../helpers/check-activate.js';
import { cli } from '../helpers/cli.js';
import { findPythons } from '../helpers/pythons.js';
import {
  findTool,
  lacks,
  missingTool,
  needing,
  type Missing,
  type Tool,
} from '../helpers/require-tool.js';
import { freshDir } from '../helpers/scratch.js';

interface Creator {
  readonly label: string;
  readonly needs: readonly (Missing | undefined)[];
  readonly make: (dir: string) => void;
}

function run(cmd: string, args: readonly string[]): string | undefined {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0 ? `${r.stdout}${r.stderr}`.trim() : undefined;
}

// venv writes activate scripts since 3.3; findPythons lists 3.6 and later, as supported.
const pythons = findPythons();
const dumper = pythons[0]?.exe;

const creators: Creator[] = pythons.map(({ exe, full }) => ({
  label: `CPython ${full} venv (${exe})`,
  needs: [],
  make: (dir) => {
    const r = spawnSync(exe, ['-m', 'venv', '--without-pip', dir], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`venv failed: ${r.stderr}`);
  },
}));

const pypy = findTool('pypy3');
const pypyVersion =
  pypy === undefined
    ? undefined
    : run(pypy, ['-c', 'import sys; print("%d.%d.%d" % sys.pypy_version_info[:3])']);
creators.push({
  label: pypy === undefined ? 'PyPy venv' : `PyPy ${pypyVersion ?? '?'} venv (${pypy})`,
  needs: [missingTool('pypy3')],
  make: (dir) => {
    const r = spawnSync(pypy ?? 'pypy3', ['-m', 'venv', '--without-pip', dir], {
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`pypy3 -m venv failed: ${r.stderr}`);
  },
});

const virtualenv = findTool('virtualenv');
const virtualenvHelp = virtualenv === undefined ? '' : (run(virtualenv, ['--help']) ?? '');
const virtualenvVersion = virtualenv === undefined ? undefined : run(virtualenv, ['--version']);
const virtualenvFlags = ['--no-pip', '--no-setuptools', '--no-wheel'].filter((f) =>
  virtualenvHelp.includes(f),
);
const virtualenvCreator: Creator = {
  label:
    virtualenv === undefined
      ? 'virtualenv'
      : `${virtualenvVersion?.split(' from ')[0] ?? 'virtualenv ?'} (${virtualenvFlags.join(' ')})`,
  needs: [missingTool('virtualenv')],
  make: (dir) => {
    const r = spawnSync(virtualenv ?? 'virtualenv', [...virtualenvFlags, dir], {
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`virtualenv failed: ${r.stderr}`);
  },
};
creators.push(virtualenvCreator);

/** The shells that source each flavor; each is used only when installed. */
const SHELLS: readonly {
  name: Tool;
  flavor: ActivateFlavor;
  args: (act: string, dump: string) => string[];
}[] = [
  {
    name: 'bash',
    flavor: 'sh',
    args: (a, d) => [
      '--noprofile',
      '--norc',
      '-c',
      '. "$1"; exec "$2" "$3"',
      'bash',
      a,
      dumper ?? '',
      d,
    ],
  },
  {
    name: 'dash',
    flavor: 'sh',
    args: (a, d) => ['-c', '. "$1"; exec "$2" "$3"', 'dash', a, dumper ?? '', d],
  },
  {
    name: 'zsh',
    flavor: 'sh',
    args: (a, d) => ['-f', '-c', '. "$1"; exec "$2" "$3"', 'zsh', a, dumper ?? '', d],
  },
  {
    name: 'fish',
    flavor: 'fish',
    args: (a, d) => [
      '--no-config',
      '-c',
      'source $argv[1]; exec $argv[2] $argv[3]',
      a,
      dumper ?? '',
      d,
    ],
  },
  // `prompt` is set as in an interactive tcsh: CPython 3.6/3.7's activate.csh reads it unguarded
  {
    name: 'tcsh',
    flavor: 'csh',
    args: (a, d) => [
      '-f',
      '-c',
      'set prompt="> "; source $argv[1]; exec $argv[2] $argv[3]',
      a,
      dumper ?? '',
      d,
    ],
  },
];
const shells = SHELLS.map((s) => ({ ...s, exe: findTool(s.name) })).filter(
  (s): s is (typeof SHELLS)[number] & { exe: string } => s.exe !== undefined,
);

const DUMP_PY = [
  'import os, sys',
  'env = os.environb',
  'sys.stdout.write("<VE:%s><PATH:%s>\\n" % (env.get(b"VIRTUAL_ENV", b"").hex(), env.get(b"PATH", b"").hex()))',
  '',
].join('\n');

/** New locations that stress each quoting; all valid UTF-8 so every shell reads them alike. */
function newPaths(dir: string): ByteString[] {
  const old = utf8ToBytes(dir);
  return [
    '/srv/app/3f9c2e1/venv',
    old + '-2',
    old + '/sub',
    utf8ToBytes(
      `/tmp/new dir/it's "q" $HOME \`id\` back\\slash !bang ~x;&|(*)?[a]{b,c}#%^/ünïcødé ☃/venv`,
    ),
    utf8ToBytes('/tmp/\'quoted\'/"dq"/$(echo nope)/${HOME}/end\\'),
  ];
}

const SECOND = utf8ToBytes("/srv/second place/it's $x/venv");

/** VIRTUAL_ENV and PATH from the dumper's `<VE:hex><PATH:hex>` line, wherever it sits in the output. */
function parseDump(stdout: Buffer): { venv: Buffer; path: Buffer } {
  const m = /<VE:([0-9a-f]*)><PATH:([0-9a-f]*)>/.exec(stdout.toString('latin1'));
  return { venv: Buffer.from(m?.[1] ?? '', 'hex'), path: Buffer.from(m?.[2] ?? '', 'hex') };
}

function sourceIn(
  shell: (typeof shells)[number],
  act: string,
  dump: string,
): { venv: Buffer; path: Buffer; err: string } {
  const r = spawnSync(shell.exe, shell.args(act, dump), {
    env: { PATH: '/usr/bin:/bin', HOME: os.tmpdir(), LC_ALL: 'C.UTF-8', TERM: 'dumb' },
    encoding: 'buffer',
    timeout: 60_000,
  });
  return { ...parseDump(r.stdout), err: r.stderr.toString('utf8') };
}

/**
 * tcsh does history substitution (`!`) even in sourced files, and an interactive tcsh also
 * runs the prompt code of the templates: source activate.csh from a tcsh on a terminal. The
 * Python script only provides the pty; its deadline is a safety net, not a timing check.
 */
const PTY_PY = [
  'import os, pty, select, sys, time',
  'tcsh, act, py, dump = sys.argv[1:5]',
  'pid, fd = pty.fork()',
  'if pid == 0:',
  '    os.execve(tcsh, ["tcsh", "-f", "-i"], {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", "TERM": "dumb", "HOME": "/"})',
  // type only once the first prompt is out: tcsh flushes pending input when it sets up the tty
  'cmds, out, deadline = ("source %s\\n%s %s\\nexit\\n" % (act, py, dump)).encode(), b"", time.time() + 60',
  'while time.time() < deadline:',
  '    r, _, _ = select.select([fd], [], [], 1)',
  '    if not r: continue',
  '    try: d = os.read(fd, 65536)',
  '    except OSError: break',
  '    if not d: break',
  '    out += d',
  '    if cmds: os.write(fd, cmds); cmds = b""',
  'try: os.kill(pid, 9)',
  'except OSError: pass',
  'os.waitpid(pid, 0)',
  'sys.stdout.buffer.write(out)',
  '',
].join('\n');

function sourceInInteractiveTcsh(
  tcsh: string,
  act: string,
  dump: string,
  ptyPy: string,
): { venv: Buffer; path: Buffer } {
  const r = spawnSync(dumper ?? 'python3', [ptyPy, tcsh, act, dumper ?? '', dump], {
    encoding: 'buffer',
    timeout: 120_000,
  });
  return parseDump(r.stdout);
}

test('finds CPythons and shells to test the activate templates with', (t) => {
  t.log(`CPythons: ${pythons.map((p) => p.full).join(', ') || 'none'}`);
  t.log(`virtualenv: ${virtualenv ?? 'not installed'}; pypy3: ${pypy ?? 'not installed'}`);
  t.log(`shells: ${shells.map((s) => s.exe).join(', ') || 'none'}`);
  t.true(pythons.length > 0, 'no CPython 3 found to build venvs');
  t.true(shells.length > 0, 'no shell found to source activate scripts');
});

for (const creator of creators) {
  needing(creator.needs)(
    `activate scripts of ${creator.label} set VIRTUAL_ENV and PATH for any new path`,
    (t) => {
      // A missing shell fails the test under VENV_TOOLS_TEST_STRICT=1, and is logged otherwise.
      for (const s of SHELLS)
        lacks(t, missingTool(s.name), `sourcing activate scripts in ${s.name}`);
      const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'venv-tools-activate-'));
      try {
        const dir = path.join(tmp, 'venv');
        creator.make(dir);
        const dump = path.join(tmp, 'dump.py');
        fs.writeFileSync(dump, DUMP_PY);
        const ptyPy = path.join(tmp, 'drive_tty.py');
        fs.writeFileSync(ptyPy, PTY_PY);
        const tcsh = shells.find((s) => s.name === 'tcsh')?.exe;
        const bin = path.join(dir, 'bin');
        const originals = new Map<string, Buffer>();
        for (const f of fs.readdirSync(bin)) {
          if (activateFlavor(f) !== undefined) originals.set(f, fs.readFileSync(path.join(bin, f)));
        }
        t.log(`activate files: ${[...originals.keys()].join(', ')}`);
        t.true(originals.has('activate'));
        const old = utf8ToBytes(dir);

        // the evidence names the build location in every script that assigns VIRTUAL_ENV
        for (const [f, bytes] of originals) {
          const flavor = activateFlavor(f) as ActivateFlavor;
          const ev = activateEvidence(bytes, flavor);
          if (flavor === 'ps1') {
            // venv's and virtualenv's Activate.ps1 compute VIRTUAL_ENV from their own location
            t.deepEqual(ev, [], f);
            t.is(
              rewriteActivate(bytes, { mappings: [{ from: old, to: SECOND }], flavor }),
              undefined,
              f,
            );
          } else {
            t.deepEqual(ev, [old], `evidence of ${f}`);
          }
        }

        const ran = new Set<string>();
        for (const target of newPaths(dir)) {
          // first DIR -> NEW, then NEW -> SECOND on our own output
          const steps: [ByteString, ByteString][] = [
            [old, target],
            [target, SECOND],
          ];
          const current = new Map(originals);
          for (const [from, to] of steps) {
            for (const [f, bytes] of current) {
              const flavor = activateFlavor(f) as ActivateFlavor;
              const out = rewriteActivate(bytes, { mappings: [{ from, to }], flavor });
              if (flavor === 'ps1') continue;
              if (out === undefined) {
                t.fail(`${f} was not rewritten for ${from} -> ${to}`);
                continue;
              }
              current.set(f, out);
              fs.writeFileSync(path.join(bin, f), out);
              t.deepEqual(activateEvidence(out, flavor), [to], `evidence of rewritten ${f}`);
            }
            const want = Buffer.from(to, 'latin1');
            for (const shell of shells) {
              const file =
                shell.flavor === 'sh'
                  ? 'activate'
                  : shell.flavor === 'csh'
                    ? 'activate.csh'
                    : 'activate.fish';
              if (!current.has(file)) continue;
              const got = sourceIn(shell, path.join(bin, file), dump);
              ran.add(shell.name);
              const ok = got.venv.equals(want);
              t.true(
                ok,
                `${shell.name} ${file}: VIRTUAL_ENV ${JSON.stringify(got.venv.toString())} != ${JSON.stringify(want.toString())}\n${got.err}`,
              );
              t.true(
                got.path
                  .subarray(0, want.length + 5)
                  .equals(Buffer.concat([want, Buffer.from('/bin:')])),
                `${shell.name} ${file}: PATH ${JSON.stringify(got.path.toString())}`,
              );
            }
            if (tcsh !== undefined && to.includes('!') && current.has('activate.csh')) {
              const got = sourceInInteractiveTcsh(
                tcsh,
                path.join(bin, 'activate.csh'),
                dump,
                ptyPy,
              );
              ran.add('interactive tcsh');
              t.true(
                got.venv.equals(want),
                `interactive tcsh: VIRTUAL_ENV ${JSON.stringify(got.venv.toString())}`,
              );
              t.true(
                got.path
                  .subarray(0, want.length + 5)
                  .equals(Buffer.concat([want, Buffer.from('/bin:')])),
              );
            }
          }
          for (const [f, bytes] of originals) fs.writeFileSync(path.join(bin, f), bytes);
        }
        t.log(`sourced in: ${[...ran].join(', ')}`);
      } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
      }
    },
  );
}

/** Real places under `top` that stress every quoting, as newPaths does for the rewriter alone. */
function trickyPlaces(top: string): string[] {
  return [
    path.join(
      top,
      `new dir/it's "q" $HOME \`id\` back\\slash !bang ~x;&|(*)?[a]{b,c}#%^/ünïcødé ☃/venv`,
    ),
    path.join(top, `'quoted'/"dq"/$(echo nope)/\${HOME}/end\\/venv`),
  ];
}

needing([missingTool('virtualenv'), missingTool('xonsh')])(
  'activate_this.py and activate.xsh of a virtualenv venv, moved and relocated by the CLI, set VIRTUAL_ENV, sys.prefix and sys.path when run',
  async (t) => {
    const top = freshDir('activate-run');
    let at = path.join(top, 'build', 'venv');
    if (dumper === undefined) return t.fail('no CPython to render activate.xsh with');
    virtualenvCreator.make(at);
    if (!fs.existsSync(path.join(at, 'bin', 'activate.xsh'))) await writeActivateXsh(at, dumper);
    t.true(
      fs.existsSync(path.join(at, 'bin', 'activate_this.py')),
      'virtualenv wrote activate_this.py',
    );
    for (const place of trickyPlaces(top)) {
      fs.mkdirSync(path.dirname(place), { recursive: true });
      fs.renameSync(at, place);
      const r = cli(['--update-path', place, place]);
      t.is(r.status, 0, r.stderr);
      t.is(r.stdout, `Updated: ${place} (${at} -> ${place})\n`);
      const report = await checkActivate(place);
      t.log(`${JSON.stringify(place)}: ran ${report.ran.join(', ')}`);
      t.deepEqual(report.problems, [], report.problems.join('\n'));
      t.true(report.ran.includes('xonsh') && report.ran.includes('activate_this.py'));
      at = place;
    }
  },
);

import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { activateEvidence } from '../../src/kinds/activate-evidence.js';
import {
  makeActivateRelocatable,
  relocatableFlavor,
  type RelocatableFlavor,
} from '../../src/kinds/relocatable-activate.js';
import { activateFlavor } from '../../src/kinds/rewrite-activate.js';
import { findPythons } from '../helpers/pythons.js';
import { findTool, lacks, missingTool, needing, type Missing } from '../helpers/require-tool.js';
import { runOk } from '../helpers/run.js';
import { freshDir } from '../helpers/scratch.js';
import { sourceActivateEverywhere } from '../helpers/source-activate.js';

// The templates are the real ones: every CPython's `python -m venv`, Debian's virtualenv (which
// writes every flavor), and PyPy's venv where it is installed. Each is made relocatable for the
// place it was written for, then sourced from a folder whose name breaks naive quoting, from
// two different current folders, in every shell the machine has.

const pythons = findPythons();
const pypy = findTool('pypy3');
const virtualenv = findTool('virtualenv');

interface Template {
  readonly label: string;
  /** The venv the scripts were written for. */
  readonly place: string;
  readonly bin: string;
}

let templatesPromise: Promise<Template[]> | undefined;

/** One venv per creator, without pip (the activate scripts are all that is needed). */
function templates(): Promise<Template[]> {
  templatesPromise ??= (async () => {
    const top = freshDir('activate-templates');
    const out: Template[] = [];
    for (const py of pythons) {
      const place = path.join(top, `venv-${py.full}`);
      await runOk(py.exe, ['-m', 'venv', '--without-pip', place]);
      out.push({ label: `CPython ${py.full} venv`, place, bin: path.join(place, 'bin') });
    }
    const py = [...pythons].reverse().find((p) => p.version === '3.11') ?? pythons.at(-1);
    // --no-seed: the activate scripts need no pip, so any Python virtualenv knows will do.
    if (py !== undefined && virtualenv !== undefined) {
      const place = path.join(top, 'virtualenv');
      await runOk(virtualenv, ['--no-seed', '--no-periodic-update', '-p', py.exe, place]);
      out.push({ label: `virtualenv (CPython ${py.full})`, place, bin: path.join(place, 'bin') });
    }
    if (pypy !== undefined) {
      const place = path.join(top, 'pypy');
      await runOk(pypy, ['-m', 'venv', '--without-pip', place]);
      out.push({ label: 'PyPy venv', place, bin: path.join(place, 'bin') });
    }
    return out;
  })();
  return templatesPromise;
}

function flavorOf(name: string): RelocatableFlavor | undefined {
  return relocatableFlavor(name);
}

function make(bytes: Buffer, flavor: RelocatableFlavor, place: string, fileName: string) {
  return makeActivateRelocatable(bytes, { flavor, places: [place], fileName });
}

test('every template of every creator: no fixed path remains, the evidence is gone, and a second run changes nothing', async (t) => {
  const seen = new Set<string>();
  for (const tpl of await templates()) {
    for (const name of fs.readdirSync(tpl.bin).sort()) {
      const flavor = flavorOf(name);
      if (flavor === undefined) continue;
      seen.add(name);
      const before = fs.readFileSync(path.join(tpl.bin, name));
      const r = make(before, flavor, tpl.place, name);
      t.deepEqual(r.left, [], `${tpl.label} ${name}`);
      if (!before.includes(tpl.place)) {
        // CPython's Activate.ps1 and virtualenv's activate.ps1 and activate_this.py derive it.
        t.is(r.bytes, undefined, `${tpl.label} ${name} holds no path and stays`);
        continue;
      }
      const after = r.bytes as Buffer;
      t.false(after.includes(tpl.place), `${tpl.label} ${name}: no fixed path`);
      const sh = activateFlavor(name);
      if (sh !== undefined) t.deepEqual(activateEvidence(after, sh), [], `${tpl.label} ${name}`);
      t.deepEqual(make(after, flavor, tpl.place, name), { left: [] }, `${tpl.label} ${name} twice`);
    }
  }
  t.log(`templates: ${[...seen].sort().join(', ')}`);
  lacks(t, missingTool('virtualenv'), "virtualenv's templates");
  lacks(t, missingTool('pypy3'), "PyPy's templates");
  t.true(seen.has('activate') && seen.has('activate.csh') && seen.has('activate.fish'));
});

test('every template, moved to a folder whose name holds spaces, quotes, $ and a backtick, sets VIRTUAL_ENV, PATH and deactivates in every shell, sourced from two places', async (t) => {
  const top = freshDir('activate-moved');
  const ran = new Set<string>();
  const missing = new Map<string, Missing>();
  for (const tpl of await templates()) {
    // `$vt_unset` and not `$HOME`: xonsh expands the variables in every PATH entry it adds
    // (its EnvPath), whatever quoted it, so virtualenv's own activate.xsh cannot hold `$HOME`.
    // A quoting mistake in any other shell expands `$vt_unset` to nothing, which shows.
    const moved = path.join(top, `${path.basename(tpl.place)} it's "q" $vt_unset \`x\` ü`, 'venv');
    fs.mkdirSync(path.join(moved, 'bin'), { recursive: true });
    for (const name of fs.readdirSync(tpl.bin)) {
      const flavor = flavorOf(name);
      if (flavor === undefined) continue;
      const bytes = fs.readFileSync(path.join(tpl.bin, name));
      fs.writeFileSync(
        path.join(moved, 'bin', name),
        make(bytes, flavor, tpl.place, name).bytes ?? bytes,
      );
    }
    // From the venv's own bin/, and from the folder above the venv.
    const r = await sourceActivateEverywhere(moved, [path.join(moved, 'bin'), path.dirname(moved)]);
    t.deepEqual(r.problems, [], tpl.label);
    for (const s of r.ran) ran.add(s);
    for (const m of r.missing) missing.set(m.what, m);
  }
  t.log(`sourced in ${[...ran].sort().join(', ')}`);
  for (const m of missing.values()) lacks(t, m, `sourcing the templates in ${m.what}`);
});

needing([missingTool('bash')])(
  'a sh activate script finds itself through a symlink to it, and holds the one line it prints when a shell cannot tell',
  async (t) => {
    const py = pythons.at(-1);
    if (py === undefined) throw new Error('no CPython 3 found on this machine');
    const place = path.join(freshDir('activate-link'), 'venv');
    await runOk(py.exe, ['-m', 'venv', '--without-pip', place]);
    const file = path.join(place, 'bin', 'activate');
    fs.writeFileSync(file, make(fs.readFileSync(file), 'sh', place, 'activate').bytes as Buffer);
    const links = freshDir('activate-links');
    fs.symlinkSync(file, path.join(links, 'act'));
    const out = await runOk(
      'bash',
      ['--noprofile', '--norc', '-c', '. ./act && printf %s "$VIRTUAL_ENV"'],
      {
        cwd: links,
      },
    );
    t.is(out.stdout.toString(), place);
    // For a shell that names no sourced file, on a system without /proc: what it needs, in one line.
    const text = fs.readFileSync(file, 'utf8');
    t.regex(
      text,
      /cannot tell where this venv is: source this file from bash, zsh, ksh93, or any sh on Linux \(it reads \/proc\)/,
    );
  },
);

needing([missingTool('bash'), missingTool('dash')])(
  'each quoting of the value in an sh script becomes the variable, and sources right in bash and dash',
  async (t) => {
    const top = freshDir('activate-quoting');
    const place = '/build/app/venv';
    const forms = [
      `VIRTUAL_ENV='${place}'`,
      `VIRTUAL_ENV="${place}"`,
      `VIRTUAL_ENV=${place}`,
      `VIRTUAL_ENV=$'${place}'`,
      `VIRTUAL_ENV='/build/app'"/venv"`,
      `VIRTUAL_ENV=$(printf %s "${place}")`,
      `VIRTUAL_ENV='${place}/bin'/..`,
    ];
    for (const [i, form] of forms.entries()) {
      const src = `# a test template\n${form}\nexport VIRTUAL_ENV\n# made for ${place}\n`;
      const r = make(Buffer.from(src), 'sh', place, 'activate');
      t.deepEqual(r.left, [], form);
      const out = (r.bytes as Buffer).toString();
      t.false(out.includes(place), `${form} -> ${out}`);
      const venv = path.join(top, `v${i} 'q' "d" $x`, 'venv');
      fs.mkdirSync(path.join(venv, 'bin'), { recursive: true });
      fs.writeFileSync(path.join(venv, 'bin', 'activate'), out);
      // dash has no $'…' quoting at all (the template would not work in it either).
      for (const sh of form.includes("$'") ? ['bash'] : ['bash', 'dash']) {
        const got = await runOk(sh, ['-c', '. bin/activate && printf %s "$VIRTUAL_ENV"'], {
          cwd: venv,
        });
        const want = form.endsWith('/..') ? `${venv}/bin/..` : venv;
        t.is(got.stdout.toString(), want, `${sh}: ${form}`);
      }
    }
  },
);

test('nushell, PowerShell, cmd, xonsh and activate_this.py forms', async (t) => {
  const place = '/build/app/venv';
  const nu = make(
    Buffer.from(
      `# nu\nexport-env {\n    let virtual_env = '${place}'\n    let bin = "${place}/bin"\n}\n`,
    ),
    'nu',
    place,
    'activate.nu',
  );
  t.is(
    nu.bytes?.toString(),
    `# nu\n# venv-tools make-relocatable: the folder above this file's, found when it is parsed.\n` +
      '# Needs a Nushell with `path self` (0.102 and later have it).\n' +
      'const _venv_tools_venv = path self ..\n' +
      'export-env {\n    let virtual_env = $_venv_tools_venv\n    let bin = $"($_venv_tools_venv)/bin"\n}\n',
  );
  const ps1 = make(
    Buffer.from(`$env:VIRTUAL_ENV = '${place}'\n$x = "${place}/bin"\n`),
    'ps1',
    place,
    'activate.ps1',
  );
  t.is(
    ps1.bytes?.toString(),
    '$env:VIRTUAL_ENV = "$(Split-Path -Parent $PSScriptRoot)"\n$x = "$(Split-Path -Parent $PSScriptRoot)/bin"\n',
  );
  const bat = make(Buffer.from(`@set "VIRTUAL_ENV=${place}"\r\n`), 'bat', place, 'activate.bat');
  t.is(bat.bytes?.toString(), '@set "VIRTUAL_ENV=%~dp0.."\r\n');
  // What cannot be replaced is said, and the file is left whole.
  const mid = make(Buffer.from(`$x = 'see ${place}'\n`), 'ps1', place, 'activate.ps1');
  t.is(mid.bytes, undefined);
  t.deepEqual(mid.left, ['it names the venv inside a longer single-quoted string']);

  // activate_this.py and xonsh's script run for real: __file__ is what they go by.
  const py = pythons.at(-1);
  if (py === undefined) throw new Error('no CPython 3 found on this machine');
  const venv = path.join(freshDir('activate-this'), `q'"$ dir`, 'venv');
  fs.mkdirSync(path.join(venv, 'bin'), { recursive: true });
  const this_ = make(
    Buffer.from(
      `import os\nos.environ["VIRTUAL_ENV"] = r"${place}"\nos.environ["X"] = '${place}/bin'\n`,
    ),
    'py',
    place,
    'activate_this.py',
  );
  const file = path.join(venv, 'bin', 'activate_this.py');
  fs.writeFileSync(file, this_.bytes as Buffer);
  const r = await runOk(py.exe, [
    '-c',
    'import os, sys; f = sys.argv[1]; exec(open(f).read(), {"__file__": f}); print(os.environ["VIRTUAL_ENV"]); print(os.environ["X"])',
    file,
  ]);
  t.is(r.stdout.toString(), `${venv}\n${venv}/bin\n`);
});

needing([missingTool('tcsh')])(
  'csh: every quoting of setenv VIRTUAL_ENV, sourced by tcsh',
  async (t) => {
    const place = '/build/app/venv';
    const top = freshDir('activate-csh');
    for (const [i, form] of [`'${place}'`, `"${place}"`, place].entries()) {
      const src = `# csh\nsetenv VIRTUAL_ENV ${form}\n`;
      const out = make(Buffer.from(src), 'csh', place, 'activate.csh');
      const venv = path.join(top, `c${i} d'q $x`, 'venv');
      fs.mkdirSync(path.join(venv, 'bin'), { recursive: true });
      fs.writeFileSync(path.join(venv, 'bin', 'activate.csh'), out.bytes as Buffer);
      const r = await runOk(
        'tcsh',
        ['-f', '-c', 'source bin/activate.csh; printf %s "$VIRTUAL_ENV:q"'],
        {
          cwd: venv,
        },
      );
      t.is(r.stdout.toString(), venv, form);
    }
  },
);

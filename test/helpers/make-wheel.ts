/**
 * Writes small but complete wheels for the real-venv tests, so that no package index, wheel
 * cache or mirror is ever needed. Every script a wheel installs prints one report line (see
 * `parseScriptReport`) naming itself and the `sys.prefix` it ran under, so a test can tell that
 * the script started at all AND that it ran with the venv's own interpreter.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { zipBytes, type ZipEntry } from './zip.js';

/** What a test wheel holds. The wheel always ships data files and a nested subpackage. */
export interface WheelSpec {
  /** Distribution name as in METADATA, e.g. `vt-demo`. */
  readonly name: string;
  readonly version: string;
  /** Top-level import package, e.g. `vt_demo`. */
  readonly package: string;
  /** `Requires-Dist` lines, e.g. `vt-lib`; pip resolves them from the same wheel folder. */
  readonly requires?: readonly string[];
  /** `[console_scripts]` names; each runs its own function in `PACKAGE.cli`. */
  readonly consoleScripts?: readonly string[];
  /** `[gui_scripts]` names; on POSIX pip writes them exactly like console scripts. */
  readonly guiScripts?: readonly string[];
  /** `NAME-VER.data/scripts/` files starting with `#!python`, which pip points at the venv. */
  readonly dataScripts?: readonly string[];
}

const REPORT = 'testkit-ok';

/** Every name the wheel puts in `bin/`. */
export function wheelScripts(spec: WheelSpec): string[] {
  return [...(spec.consoleScripts ?? []), ...(spec.guiScripts ?? []), ...(spec.dataScripts ?? [])];
}

/** The report line of a kit script: its name and its `sys.prefix` (raw bytes), or undefined. */
export function parseScriptReport(stdout: Buffer): { name: string; prefix: Buffer } | undefined {
  const m = new RegExp(`^${REPORT} (\\S+) prefix=([0-9a-f]*)(?: |$)`, 'm').exec(
    stdout.toString('latin1'),
  );
  if (m === null || m[1] === undefined || m[2] === undefined) return undefined;
  return { name: m[1], prefix: Buffer.from(m[2], 'hex') };
}

/** Write `spec` as a wheel into `dir` (created if needed); returns the wheel's path. */
export function makeWheel(dir: string, spec: WheelSpec): string {
  // The wheel spec (PEP 427) writes the name with runs of -_. as one "_" in file names.
  const escaped = spec.name.replace(/[-_.]+/g, '_');
  const distInfo = `${escaped}-${spec.version}.dist-info`;
  const dataDir = `${escaped}-${spec.version}.data`;
  const pkg = spec.package;
  const files: ZipEntry[] = [
    {
      name: `${pkg}/__init__.py`,
      data: text(
        `"""Test-kit package ${spec.name} ${spec.version}."""\n__version__ = '${spec.version}'\n`,
      ),
    },
    { name: `${pkg}/cli.py`, data: text(cliModule(spec)) },
    { name: `${pkg}/sub/__init__.py`, data: text('') },
    { name: `${pkg}/sub/deep.py`, data: text('ANSWER = 42\n') },
    {
      name: `${pkg}/data/settings.json`,
      data: text(`${JSON.stringify({ marker: 'data', name: spec.name })}\n`),
    },
    { name: `${pkg}/data/notes.txt`, data: text('notes\n') },
    ...(spec.dataScripts ?? []).map((s) => ({
      name: `${dataDir}/scripts/${s}`,
      data: text(dataScript(s)),
      mode: 0o755,
    })),
    { name: `${distInfo}/METADATA`, data: text(metadata(spec)) },
    {
      name: `${distInfo}/WHEEL`,
      data: text(
        'Wheel-Version: 1.0\nGenerator: venv-tools-testkit\nRoot-Is-Purelib: true\nTag: py3-none-any\n',
      ),
    },
    { name: `${distInfo}/entry_points.txt`, data: text(entryPoints(spec)) },
    { name: `${distInfo}/top_level.txt`, data: text(`${pkg}\n`) },
  ];
  const record = files.map((f) => `${f.name},sha256=${digest(f.data)},${f.data.length}\n`).join('');
  files.push({ name: `${distInfo}/RECORD`, data: text(`${record}${distInfo}/RECORD,,\n`) });

  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${escaped}-${spec.version}-py3-none-any.whl`);
  fs.writeFileSync(file, zipBytes(files));
  return file;
}

function text(s: string): Buffer {
  return Buffer.from(s, 'utf8');
}

/** RECORD's hash form: urlsafe base64 of the sha256, without padding. */
function digest(data: Buffer): string {
  return createHash('sha256').update(data).digest('base64url');
}

function functionName(script: string): string {
  return `main_${script.replace(/[^A-Za-z0-9]/g, '_')}`;
}

// Python 3.6-compatible on purpose (no f-strings' newer forms, no importlib.resources): the kit
// builds venvs of every CPython the machine has.
function reportCode(): string {
  return `def report(name, extra=''):
    prefix = binascii.hexlify(os.fsencode(sys.prefix)).decode('ascii')
    sys.stdout.write('${REPORT} %s prefix=%s%s\\n' % (name, prefix, extra))
    sys.stdout.flush()
    return 0
`;
}

function cliModule(spec: WheelSpec): string {
  const scripts = [...(spec.consoleScripts ?? []), ...(spec.guiScripts ?? [])];
  const mains = scripts
    .map(
      (s) =>
        `\n\ndef ${functionName(s)}():\n    return report(${JSON.stringify(s)}, _package_check())\n`,
    )
    .join('');
  return `import binascii
import json
import os
import sys

from ${spec.package}.sub import deep


${reportCode()}

def _package_check():
    # Reads the package data and the nested subpackage, so a broken install shows here too.
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, 'data', 'settings.json')) as f:
        marker = json.load(f)['marker']
    with open(os.path.join(here, 'data', 'notes.txt')) as f:
        notes = f.read().strip()
    return ' %s=%s deep=%d' % (marker, notes, deep.ANSWER)
${mains}`;
}

function dataScript(name: string): string {
  // pip replaces a first line starting with "#!python" by "#!" + the venv's interpreter.
  return `#!python
import binascii
import os
import sys


${reportCode()}

sys.exit(report(${JSON.stringify(name)}))
`;
}

function metadata(spec: WheelSpec): string {
  const requires = (spec.requires ?? []).map((r) => `Requires-Dist: ${r}\n`).join('');
  return `Metadata-Version: 2.1\nName: ${spec.name}\nVersion: ${spec.version}\nSummary: venv-tools test-kit wheel\n${requires}`;
}

function entryPoints(spec: WheelSpec): string {
  const section = (title: string, names: readonly string[] | undefined): string =>
    names === undefined || names.length === 0
      ? ''
      : `[${title}]\n${names.map((n) => `${n} = ${spec.package}.cli:${functionName(n)}\n`).join('')}\n`;
  return section('console_scripts', spec.consoleScripts) + section('gui_scripts', spec.guiScripts);
}

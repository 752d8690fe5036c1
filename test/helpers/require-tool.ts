/**
 * The programs the suite runs besides node (shells, virtualenv, PyPy; the CPythons are in
 * pythons.ts), looked up in one place, and what a missing one means. A test never passes with
 * less checked because something is missing:
 * - by default, a test that needs a missing program is registered as skipped, its title saying
 *   what is missing; a check inside a test that cannot run logs so, by name;
 * - with VENV_TOOLS_TEST_STRICT=1 (CI sets it in .ci/run) every program here is required: the
 *   test is registered as failing, and the message says how to install what is missing.
 */
import test, { type ExecutionContext, type Implementation } from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** True when every expected program is required (VENV_TOOLS_TEST_STRICT=1). */
export const STRICT = process.env['VENV_TOOLS_TEST_STRICT'] === '1';

/** A program the suite needs, with the package that brings it (Debian 12, as CI). */
export type Tool =
  'bash' | 'dash' | 'busybox' | 'zsh' | 'fish' | 'tcsh' | 'xonsh' | 'virtualenv' | 'pypy3';

const INSTALL: Readonly<Record<Tool, string>> = {
  bash: 'apt-get install -y bash',
  dash: 'apt-get install -y dash',
  // Alpine's /bin/sh: make-relocatable's script header and activate script must run in it.
  busybox: 'apt-get install -y busybox',
  zsh: 'apt-get install -y zsh',
  fish: 'apt-get install -y fish',
  tcsh: 'apt-get install -y tcsh',
  xonsh: 'apt-get install -y xonsh',
  virtualenv: 'apt-get install -y python3-virtualenv',
  // Debian splits PyPy's venv module out of the interpreter, as it does CPython's.
  pypy3: 'apt-get install -y pypy3 pypy3-venv',
};

/** Every program of the list, in the order the machine test checks them. */
export const TOOLS: readonly Tool[] = Object.keys(INSTALL) as Tool[];

/** Something a test needs that this machine lacks, and how to get it. */
export interface Missing {
  /** What is missing, as a sentence's subject: "fish", "CPython 3.9 (pyenv)". */
  readonly what: string;
  /** The command that installs it. */
  readonly install: string;
}

/** First executable regular file `name` on PATH, or undefined. No shell is involved. */
export function which(name: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    if (dir === '') continue;
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      if (fs.statSync(file).isFile()) return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

const found = new Map<Tool, string | undefined>();

/** Where `tool` is on PATH, or undefined when it is not installed. */
export function findTool(tool: Tool): string | undefined {
  if (!found.has(tool)) found.set(tool, which(tool));
  return found.get(tool);
}

/** The Missing for `tool`, or undefined when it is installed. */
export function missingTool(tool: Tool): Missing | undefined {
  return findTool(tool) === undefined ? { what: tool, install: INSTALL[tool] } : undefined;
}

/** "fish is not installed (apt-get install -y fish)", for each, joined. */
export function describeMissing(missing: readonly Missing[]): string {
  return missing.map((m) => `${m.what} is not installed (${m.install})`).join('; ');
}

/** The message a strict run fails with. */
export function strictMessage(missing: readonly Missing[]): string {
  return `${describeMissing(missing)}; VENV_TOOLS_TEST_STRICT=1 requires ${missing.length > 1 ? 'them' : 'it'}`;
}

/** How a test is registered: `test` or `test.serial`. */
export type Register = (title: string, impl: Implementation<[]>) => void;

/**
 * How to register a test that needs `needs` (undefined entries are present): as `register` does
 * when nothing is missing. Otherwise the test is skipped, with the reason in its title, or under
 * STRICT it fails with it.
 */
export function needing(
  needs: readonly (Missing | undefined)[],
  register: Register = test,
): Register {
  const missing = needs.filter((m): m is Missing => m !== undefined);
  return (title, impl) => {
    if (missing.length === 0) register(title, impl);
    else if (STRICT) register(title, (t) => t.fail(strictMessage(missing)));
    else test.skip(`${title} (skipped: ${describeMissing(missing)})`, impl);
  };
}

/** Register `title` for a case that cannot be built here: skipped, or failing under STRICT. */
export function testMissing(missing: Missing, title: string): void {
  needing([missing])(title, (t) => t.fail(describeMissing([missing])));
}

/**
 * Inside a running test, for one part of it that needs `missing`: false when nothing is
 * missing. Otherwise true, after failing the test under STRICT or logging the part as skipped.
 */
export function lacks(t: ExecutionContext, missing: Missing | undefined, part: string): boolean {
  if (missing === undefined) return false;
  if (STRICT) t.fail(`${part}: ${strictMessage([missing])}`);
  else t.log(`skipped ${part}: ${describeMissing([missing])}`);
  return true;
}

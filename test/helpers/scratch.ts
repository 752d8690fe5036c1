/**
 * One scratch folder per test process, under the OS tmp dir, removed when the process exits.
 * Built venvs, wheels and the copies handed to tests all live in it, so a crashed run leaves
 * at most one folder behind and two test files never share a build.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

let root: string | undefined;

/** This process's scratch folder, created on first use. */
export function scratchRoot(): string {
  if (root === undefined) {
    const made = fs.mkdtempSync(path.join(os.tmpdir(), 'venv-tools-kit-'));
    root = made;
    process.on('exit', () => fs.rmSync(made, { recursive: true, force: true }));
  }
  return root;
}

/** A new, empty folder in the scratch folder; `label` makes it readable in messages. */
export function freshDir(label: string): string {
  return fs.mkdtempSync(path.join(scratchRoot(), `${label.replace(/[^\w.-]+/g, '_')}-`));
}

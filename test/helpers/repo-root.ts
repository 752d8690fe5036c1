/** The repository's root, found from this file's place in test/ or dist/test/, so that tests can move between folders. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

function find(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('no package.json above the test kit');
    dir = up;
  }
  return dir;
}

/** The folder that holds package.json. */
export const REPO_ROOT = find();

/** A file of the repository, by its path from the root. */
export function repoPath(...parts: string[]): string {
  return path.join(REPO_ROOT, ...parts);
}

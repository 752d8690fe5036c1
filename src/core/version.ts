import { readFileSync } from 'node:fs';

/**
 * This package's version, from its package.json: two folders up from the code in both layouts
 * (dist/src/version.js, and the bundled command's dist/bin/*.js).
 */
export function packageVersion(): string {
  try {
    const pkg = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as {
      version?: unknown;
    };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

import { readFileSync } from 'node:fs';

/**
 * The version the single executable was built with (scripts/build-binary.mjs defines it): it has
 * no package.json beside it. Undefined everywhere else.
 */
declare const VENV_TOOLS_VERSION: string | undefined;

/**
 * This package's version, from its package.json: two folders up from the code in both layouts
 * (dist/src/version.js, and the bundled command's dist/bin/*.js).
 */
export function packageVersion(): string {
  if (typeof VENV_TOOLS_VERSION === 'string') return VENV_TOOLS_VERSION;
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

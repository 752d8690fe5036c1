import { isCompatArgv, type CliRequest } from './cli-request.js';
import { checkArgv } from './check-argv.js';
import { parseCompatArgv } from './parse-compat-argv.js';
import { parsePlainArgv } from './parse-plain-argv.js';
import type { ParseOptions } from './parse-cli-with-yargs.js';

/**
 * Parse argv (without node and script) into a request, or throw UsageError. argv is checked
 * against the vocabulary first (check-argv.ts), so that every usage error is worded as the user
 * typed it. The plain forms are then read without yargs (parseCompatArgv, parsePlainArgv), so
 * that a deploy's `--update-path` or `unpack` run does not pay for importing it; everything else
 * goes to yargs.
 */
export async function parseCli(
  argv: readonly string[],
  opts: ParseOptions = {},
): Promise<CliRequest> {
  // The completion script calls `venv-tools --get-yargs-completions venv-tools WORDS…`; the
  // words may hold anything, but the answer always comes from yargs.
  if (argv[0] !== '--get-yargs-completions') {
    checkArgv(argv);
    if (isCompatArgv(argv)) {
      const request = parseCompatArgv(argv);
      if (request !== undefined) return request;
    } else {
      const request = parsePlainArgv(argv);
      if (request !== undefined) return request;
    }
  }
  const { parseCliWithYargs } = await import('./parse-cli-with-yargs.js');
  return parseCliWithYargs(argv, opts);
}

import { isCompatArgv, type CliRequest } from './cli-request.js';
import { parseCompatArgv } from './parse-compat-argv.js';

/**
 * Parse argv (without node and script) into a request, or throw UsageError. The plain
 * compatible forms are read without yargs (parseCompatArgv), so that a deploy's
 * `--update-path` run does not pay for importing it; everything else goes to yargs.
 */
export async function parseCli(argv: readonly string[]): Promise<CliRequest> {
  // The completion script calls `venv-tools --get-yargs-completions venv-tools WORDS…`; the
  // words may hold --update-path, but the answer always comes from yargs.
  if (argv[0] !== '--get-yargs-completions' && isCompatArgv(argv)) {
    const request = parseCompatArgv(argv);
    if (request !== undefined) return request;
  }
  const { parseCliWithYargs } = await import('./parse-cli-with-yargs.js');
  return parseCliWithYargs(argv);
}

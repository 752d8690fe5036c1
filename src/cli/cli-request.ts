/**
 * What the command line asks for: the request types both parsers produce, and the usage error.
 * A leaf: the parsers import it, and it imports neither of them.
 */

/** What every command takes besides its own options: how much it prints. */
export interface OutputOptions {
  /** `--quiet`: nothing on stdout on success (warnings and errors still go to stderr). */
  readonly quiet: boolean;
  /** False with `--no-progress` (NO_COLOR, CI and a stderr that is not a terminal also turn it off). */
  readonly progress: boolean;
}

/** What the command line asked for; the CLI's only input. */
export type CliRequest =
  | (OutputOptions & {
      readonly mode: 'compat';
      readonly path: string;
      readonly updatePath: string | undefined;
      readonly reinitialize: boolean;
      readonly python: string | undefined;
      readonly verbose: boolean;
      /** Exit 1 when the venv cannot work here (its interpreter is missing); it is still relocated. */
      readonly strict: boolean;
      /** Remove a sourceless pyc that cannot be rewritten rather than refuse the run. */
      readonly dropUnreadablePycs: boolean;
      /** One JSON document on stdout instead of virtualenv-tools' lines (an addition of ours). */
      readonly json: boolean;
    })
  | (OutputOptions & {
      readonly mode: 'relocate';
      readonly path: string;
      readonly to: string;
      readonly from: string | undefined;
      /** Accept --from even if it is a system folder or the venv's files name other locations. */
      readonly forceFrom: boolean;
      readonly maps: ReadonlyArray<{ from: string; to: string }>;
      readonly dryRun: boolean;
      readonly diff: boolean;
      readonly json: boolean;
      readonly verbose: boolean;
      readonly strict: boolean;
      readonly dropUnreadablePycs: boolean;
    })
  | (OutputOptions & {
      readonly mode: 'reinit';
      readonly path: string;
      readonly python: string | undefined;
      readonly force: boolean;
      readonly dryRun: boolean;
      readonly diff: boolean;
      readonly json: boolean;
    })
  | (OutputOptions & {
      readonly mode: 'pack';
      readonly path: string;
      readonly output: string;
      readonly to: string | undefined;
      readonly format: 'tar' | 'tar.gz' | 'tar.zst' | undefined;
      readonly dropUnreadablePycs: boolean;
      readonly json: boolean;
    })
  | (OutputOptions & {
      readonly mode: 'unpack';
      readonly archive: string;
      readonly dest: string;
      readonly force: boolean;
      readonly reinitialize: boolean;
      readonly python: string | undefined;
      readonly dropUnreadablePycs: boolean;
      readonly json: boolean;
    })
  | (OutputOptions & {
      readonly mode: 'scan';
      readonly path: string;
      readonly json: boolean;
      /** List every file a relocation would rewrite, not only the summary. */
      readonly verbose: boolean;
    })
  | (OutputOptions & {
      readonly mode: 'verify';
      readonly path: string;
      readonly json: boolean;
      /** Also check that nothing pins the venv to its path (make-relocatable). */
      readonly relocatable: boolean;
    })
  | (OutputOptions & {
      readonly mode: 'make-relocatable';
      readonly path: string;
      readonly dryRun: boolean;
      readonly diff: boolean;
      readonly json: boolean;
    })
  | { readonly mode: 'output'; readonly text: string };

/** A usage error: exit 2, with the message and a pointer to --help. */
export class UsageError extends Error {
  /** Usage lines to print before the message (a bare `venv-tools`, as argparse prints them). */
  readonly usage: string | undefined;
  constructor(message: string, usage?: string) {
    super(message);
    this.name = 'UsageError';
    this.usage = usage;
  }
}

/**
 * True when argv uses virtualenv-tools' flags: then every positional is the venv PATH. The one
 * exception is `unpack ARCHIVE DEST --reinitialize`, where `--reinitialize` is unpack's own flag:
 * a command named first, with no `--update-path`, is that command.
 */
export function isCompatArgv(argv: readonly string[]): boolean {
  if (
    argv[0] === 'unpack' &&
    !argv.some((a) => a === '--update-path' || a.startsWith('--update-path='))
  ) {
    return false;
  }
  for (const a of argv) {
    if (a === '--') break;
    if (a === '--update-path' || a.startsWith('--update-path=') || a === '--reinitialize')
      return true;
  }
  return false;
}

/** argparse keeps the last of a repeated option; yargs gives an array. */
export function last(v: unknown): string | undefined {
  const x = Array.isArray(v) ? v[v.length - 1] : v;
  return x === undefined ? undefined : String(x);
}

/** `--map OLD=NEW`. */
export function parseMap(s: string): { from: string; to: string } {
  const eq = s.indexOf('=');
  if (eq <= 0 || eq === s.length - 1) throw new UsageError(`--map takes OLD=NEW, got: ${s}`);
  return { from: s.slice(0, eq), to: s.slice(eq + 1) };
}

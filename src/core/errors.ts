/** Error codes for problems a user can fix. Anything that is not a VenvToolsError is a bug. */
export type ErrorCode =
  | 'NOT_A_VENV'
  | 'NOT_ABSOLUTE'
  | 'REFUSED_ROOT'
  | 'REFUSED_LOCATION'
  | 'FROM_CONTRADICTED'
  | 'NO_OLD_PREFIX'
  | 'AMBIGUOUS_OLD_PREFIX'
  | 'UNREADABLE'
  | 'WRITE_FAILED'
  | 'LOCKED'
  | 'JOURNAL'
  | 'UNSUPPORTED'
  | 'BAD_PYC'
  | 'BAD_INPUT'
  | 'INCOMPLETE'
  | 'REINIT'
  /** An archive that is not whole, not a tar, or holds a member unpack refuses. */
  | 'BAD_ARCHIVE'
  /** unpack's destination exists and is not an empty folder (see --force). */
  | 'DEST_EXISTS';

/**
 * A problem the user can fix; its message names the file and the next step. Where the message
 * is virtualenv-tools' own (`PATH is not a virtualenv: not a directory: X`, which deploy
 * scripts match word for word), `hint` says in plain words what is wrong and what to do: `X
 * does not exist`, or the venv that lies below X.
 */
export class VenvToolsError extends Error {
  readonly code: ErrorCode;
  readonly path: string | undefined;
  readonly hint: string | undefined;
  constructor(code: ErrorCode, message: string, path?: string, hint?: string) {
    super(message);
    this.name = 'VenvToolsError';
    this.code = code;
    this.path = path;
    this.hint = hint;
  }
}

/**
 * Thrown by a pure rewriter when its input cannot be rewritten (a corrupt pyc, an unknown
 * magic, a path that cannot be expressed in the file's syntax). The planner turns it into a
 * VenvToolsError that names the file, or into a planned removal where that is safe.
 */
export class RewriteError extends Error {
  readonly reason: string;
  constructor(reason: string, message: string) {
    super(message);
    this.name = 'RewriteError';
    this.reason = reason;
  }
}

/** The errno code of a Node fs error (`ENOENT`, `EACCES`, …), or undefined. */
export function errnoOf(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

/**
 * UNREADABLE: a file that could not be read, named as the user knows it, with its errno and
 * the next step.
 */
export function unreadableError(
  shown: string,
  err: unknown,
  next = 'fix its permissions and run again',
): VenvToolsError {
  return new VenvToolsError(
    'UNREADABLE',
    `cannot read ${shown}: ${errnoOf(err) ?? (err as Error).message}; ${next}`,
    shown,
  );
}

/**
 * A warning: something a run did or left that the user should know, with a stable code
 * (docs/JSON.md lists them). The planner's are about single files; NORMALIZED,
 * INTERPRETER_MISSING and ALREADY_RELOCATABLE are about the run as a whole.
 */
export interface Warning {
  readonly code:
    | 'PYC_REMOVED'
    /** A pyc compiled again by the venv's interpreter, instead of rewritten. */
    | 'PYC_REGENERATED'
    | 'BINARY_NOT_EDITED'
    | 'OUTSIDE_REFERENCE'
    | 'ASSUMED_MOVED_ALONG'
    /** A location that normalising (`.`, `..`, `//`) changed. */
    | 'NORMALIZED'
    /** The venv's interpreter is not on this machine: every script will fail until reinit. */
    | 'INTERPRETER_MISSING'
    /**
     * pyvenv.cfg says `relocatable = true` (make-relocatable): its relative forms hold no path,
     * so no rewriter touches them, and the report says so.
     */
    | 'ALREADY_RELOCATABLE';
  readonly message: string;
  readonly path?: string;
}

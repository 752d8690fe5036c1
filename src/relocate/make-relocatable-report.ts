/**
 * What `venv-tools make-relocatable` did or would do, as data (commands/make-relocatable.ts makes
 * it; report/format-relocatable.ts and format-json.ts render it).
 */
import type { Recovery } from '../apply/recover-journal.js';
import type { FileKind } from '../kinds/file-kind.js';
import type { Layout } from '../scan/detect-layout.js';
import type { PinReason } from './plan-relocatable.js';

/** One file make-relocatable rewrote (or would). */
export interface RelocatableChange {
  readonly path: string;
  readonly kind: FileKind;
  readonly letter: string;
  /** Why: the pin it removes, or `hashes` for a RECORD whose rows follow rewritten files. */
  readonly reason: PinReason;
}

/** A file that still pins the venv, and why it cannot be made relative. */
export interface LeftFile {
  readonly path: string;
  readonly kind: FileKind;
  readonly why: string;
  /** The places it names (empty for binaries, whose matches are counted, not read). */
  readonly names: readonly string[];
}

/** Everything make-relocatable did or would do; the CLI's formatters render it. */
export interface MakeRelocatableReport {
  readonly path: string;
  readonly root: string;
  /** `updated`: files were rewritten; `already-relocatable`: nothing to rewrite; `dry-run`. */
  readonly status: 'updated' | 'already-relocatable' | 'dry-run';
  /** True when nothing is left that pins the venv (verify --relocatable passes on that count). */
  readonly relocatable: boolean;
  readonly layout: Layout;
  /** The places treated as this venv: where it stands and every place its files name. */
  readonly places: readonly string[];
  readonly changes: readonly RelocatableChange[];
  readonly counts: Partial<Record<FileKind, number>>;
  readonly left: readonly LeftFile[];
  readonly recovered: Recovery;
  readonly timings: {
    readonly search: number;
    readonly plan: number;
    readonly apply: number;
    readonly total: number;
  };
}

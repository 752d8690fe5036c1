/** The evidence of where a venv was built: what each piece names, and where it was read. */
import type { ByteString } from '../core/path-boundary.js';

/** Where a piece of evidence comes from. */
export type EvidenceSource =
  | 'activate'
  | 'shebang'
  | 'pyvenv.cfg'
  /** The prefix in front of a pyc's `co_filename`: where it was compiled. */
  | 'pyc'
  /** An absolute RECORD row inside a venv-shaped location. */
  | 'record'
  | 'pth'
  | 'egg-link';

/** One place that names a venv location. */
export interface Evidence {
  /**
   * File it came from, relative to the venv root (byte string). For a summary of several files
   * (`count` > 1), the first of them in path order.
   */
  readonly file: ByteString;
  readonly source: EvidenceSource;
  /** The location it names (byte string, no trailing slash). */
  readonly location: ByteString;
  /**
   * How many files of this source name this location: pycs, RECORDs, .pth and egg-link files
   * are summarised, one piece of evidence per location and source, so reports stay readable.
   * Absent: one.
   */
  readonly count?: number;
}

/** The files the evidence is read from, with their bytes. */
export interface EvidenceFiles {
  /** bin/* regular files: activate scripts and scripts. */
  readonly bin: ReadonlyArray<{ name: ByteString; bytes: Buffer }>;
  readonly pyvenvCfg: Buffer | undefined;
  /** pyvenv.cfg `home`, used to tell the base interpreter's shebangs from the venv's own. */
  readonly home: ByteString | undefined;
}

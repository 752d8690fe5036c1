/**
 * Every command starts here, once: resolve the venv's path (refusing `/`), check that it is a
 * venv, take the lock when the command writes, finish an interrupted run's journal, and read
 * the evidence of where the venv was built. Only commands lock and recover; what they call
 * below works on the venv opened here.
 */
import { resolve as resolvePath } from 'node:path';
import { JOURNAL_NAME } from '../apply/journal-format.js';
import { acquireLock } from '../apply/lock.js';
import { hasJournal, recoverJournal, type Recovery } from '../apply/recover-journal.js';
import { VenvToolsError } from '../core/errors.js';
import { bytesToUtf8, utf8ToBytes, type ByteString } from '../core/path-boundary.js';
import { realOrSelf } from '../core/real-path.js';
import { detectLayout, type Layout } from '../scan/detect-layout.js';
import type { Evidence } from '../scan/evidence.js';
import { readEvidence } from '../scan/read-evidence.js';

/** A venv ready to work on. */
export interface OpenedVenv {
  /** The venv as the user gave it (echoed in messages). */
  readonly path: string;
  /** Its absolute path (a byte string), symlinks in it kept. */
  readonly root: ByteString;
  readonly layout: Layout;
  /** What finishing an interrupted run did, before anything else. */
  readonly recovered: Recovery;
  /** Where its files say it was built (see readEvidence); empty when not asked for. */
  readonly evidence: readonly Evidence[];
  /** A dry run that notes a leftover journal (pendingJournal: 'note') found one. */
  readonly journalPending: boolean;
  /** Let the lock go (nothing, when none was taken); again is harmless. */
  release(): void;
}

/**
 * How a command uses the venv:
 * - `write`: it changes the venv; the lock is held until release();
 * - `dry-run`: it plans a change and writes nothing; a leftover journal is refused, since a plan
 *   made on a half-written venv would be wrong;
 * - `read`: it only reads; a leftover journal is finished under the lock, which is then let go,
 *   so that scan and verify work on a venv they may not write to.
 */
export type OpenMode = 'write' | 'dry-run' | 'read';

export interface OpenOptions {
  readonly mode: OpenMode;
  /**
   * What a dry run does with an interrupted run's journal: refuse (the default: a relocation
   * planned on a half-written venv would be wrong), or note it and plan on the venv as it is (a
   * reinit's few links and keys; its report says a real run may differ).
   */
  readonly pendingJournal?: 'refuse' | 'note';
  /** Read the evidence (the default), or not (reinit needs none). */
  readonly evidence?: boolean;
  /**
   * Whether to read the deep evidence too (every pyc, RECORD and .pth; a read of every pyc),
   * asked with the cheap evidence (scripts, activate, pyvenv.cfg). Never, by default.
   */
  readonly deep?: (cheap: readonly Evidence[]) => boolean;
}

/** Resolve PATH to an absolute byte string, refusing `/` (also through a symlink). */
export function resolveVenvRoot(given: string): ByteString {
  // An unset shell variable ("$VENV") gives ''; it must never mean the current folder.
  if (given === '') {
    throw new VenvToolsError(
      'NOT_A_VENV',
      "the venv's path is empty ('')",
      given,
      "name the venv's folder; '.' is the current one",
    );
  }
  const abs = utf8ToBytes(resolvePath(given));
  if (abs === '/' || realOrSelf(abs) === '/') {
    throw new VenvToolsError(
      'REFUSED_ROOT',
      `refusing to work on / (${given}): name the venv folder itself`,
      given,
    );
  }
  return abs;
}

/** Open the venv at `path` for a command (see OpenMode). Throws VenvToolsError when it is not one. */
export function openVenv(path: string, opts: OpenOptions): OpenedVenv {
  const root = resolveVenvRoot(path);
  // The venv's shape is checked before the lock is taken, so that nothing is written into a
  // folder that is not a venv. The folders checked are never touched by a run, so a torn run
  // cannot change the verdict.
  let layout = detectLayout(path, bytesToUtf8(root));
  let release: () => void = () => undefined;
  let recovered: Recovery = { state: 'none', files: 0 };
  let journalPending = false;
  if (opts.mode === 'write') {
    release = acquireLock(root);
  } else if (opts.mode === 'dry-run' && hasJournal(root)) {
    journalPending = true;
    if (opts.pendingJournal !== 'note') {
      throw new VenvToolsError(
        'JOURNAL',
        `${path} holds the journal of an interrupted run (${JOURNAL_NAME}); a dry run cannot plan on a half-written venv. Run venv-tools without --dry-run to finish it first.`,
        path,
      );
    }
  }
  try {
    if (opts.mode === 'write') {
      recovered = recoverJournal(root);
    } else if (opts.mode === 'read' && hasJournal(root)) {
      const unlock = acquireLock(root);
      try {
        recovered = recoverJournal(root);
      } finally {
        unlock();
      }
    }
    // Again after a recovery, which may have rewritten pyvenv.cfg.
    if (recovered.state !== 'none') layout = detectLayout(path, bytesToUtf8(root));
    const evidence = opts.evidence === false ? [] : readEvidence(root, layout, opts.deep ?? false);
    let released = false;
    return {
      path,
      root,
      layout,
      recovered,
      evidence,
      journalPending,
      release: () => {
        if (released) return;
        released = true;
        release();
      },
    };
  } catch (err) {
    release();
    throw err;
  }
}

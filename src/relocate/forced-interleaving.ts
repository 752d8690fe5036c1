/**
 * Test-only hooks that force one interleaving of the two planning threads (plan-tree.ts and
 * plan-worker.ts), so that the tests drive each branch on purpose instead of hoping that the
 * scheduler takes it. Every real run leaves them off: they are read from environment variables
 * that only the tests set (test/threads-interleave.test.ts).
 *
 * VENV_TOOLS_TEST_INTERLEAVE:
 * - `late`: the worker begins only once the main thread has given up on it (it then finds itself
 *   dropped and plans nothing);
 * - `never`: the worker never begins; the main thread gives up on it;
 * - `early`: the main thread waits for the worker to begin before it plans anything;
 * - `stall`: the worker plans one pyc, then stalls until the main thread has claimed the rest;
 * - `late-records`: the main thread holds its first pass until the worker has planned every pyc
 *   and joined that pass; the RECORDs then wait for the worker's findings.
 *
 * VENV_TOOLS_TEST_THREAD_MIN_FILES lowers the size from which a run takes a second thread by
 * itself, so that a small test venv takes the default (`auto`) path.
 */

export type Interleaving = 'late' | 'never' | 'early' | 'stall' | 'late-records';

const KNOWN: readonly Interleaving[] = ['late', 'never', 'early', 'stall', 'late-records'];

/** The interleaving the tests asked for, or undefined (always, outside the tests). */
export function forcedInterleaving(env: NodeJS.ProcessEnv): Interleaving | undefined {
  const v = env['VENV_TOOLS_TEST_INTERLEAVE'];
  if (v === undefined || v === '') return undefined;
  if (!(KNOWN as readonly string[]).includes(v)) {
    // A typo in a test must not quietly test the default path instead.
    throw new Error(`VENV_TOOLS_TEST_INTERLEAVE=${v}: expected one of ${KNOWN.join(', ')}`);
  }
  return v as Interleaving;
}

/** The size (in files) from which `auto` takes a second thread: `normal`, unless a test lowers it. */
export function threadMinFiles(env: NodeJS.ProcessEnv, normal: number): number {
  const n = Number.parseInt(env['VENV_TOOLS_TEST_THREAD_MIN_FILES'] ?? '', 10);
  return Number.isInteger(n) && n >= 0 ? n : normal;
}

/**
 * Wait until `ok()` holds, looking again every millisecond and calling `meanwhile` between looks
 * (the main thread must keep taking the worker's batches, or the worker stops and waits for it).
 * Gives up after `limitMs`: a hook that cannot happen must not hang the tests.
 */
export function holdUntil(ok: () => boolean, meanwhile: () => void, limitMs = 60_000): boolean {
  const nap = new Int32Array(new SharedArrayBuffer(4));
  const end = Date.now() + limitMs;
  while (!ok()) {
    if (Date.now() > end) return false;
    meanwhile();
    Atomics.wait(nap, 0, 0, 1);
  }
  return true;
}

/** Off in every real run; a test's way to drive one interleaving. */
export const FORCED = forcedInterleaving(process.env);

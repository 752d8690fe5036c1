/**
 * A contender for the venv lock, run as its own process by the concurrency tests:
 * `node reliability-lock-contender.js BASE ROUNDS`. For each round r it blocks reading one byte
 * from stdin (the test writes one to every contender at once, so that they all start
 * together), calls acquireLock(BASE/r) once and prints `r won`, `r locked PID` or
 * `r error MESSAGE`. A winner keeps its lock until the process exits, which it does when the
 * test closes its stdin: a second winner in a round is a real double grant, not a handover.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { VenvToolsError } from '../../src/core/errors.js';
import { utf8ToBytes } from '../../src/core/path-boundary.js';
import { acquireLock } from '../../src/apply/lock.js';

const [base = '', roundsText = '0'] = process.argv.slice(2);
const rounds = Number(roundsText);
const one = Buffer.alloc(1);
const nap = new Int32Array(new SharedArrayBuffer(4));

/** Block until the test writes a byte (true) or closes stdin (false). */
function awaitSignal(): boolean {
  for (;;) {
    try {
      return fs.readSync(0, one, 0, 1, null) === 1;
    } catch (err) {
      // A non-blocking pipe: wait a little and read again.
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      Atomics.wait(nap, 0, 0, 1);
    }
  }
}

for (let r = 0; r < rounds; r++) {
  if (!awaitSignal()) process.exit(1);
  let line: string;
  try {
    acquireLock(utf8ToBytes(path.join(base, String(r))));
    line = `${r} won`;
  } catch (err) {
    if (err instanceof VenvToolsError && err.code === 'LOCKED') {
      line = `${r} locked ${/pid (\d+)/.exec(err.message)?.[1] ?? '?'}`;
    } else {
      line = `${r} error ${err instanceof Error ? err.message : String(err)}`;
    }
  }
  fs.writeSync(1, `${line}\n`);
}
while (awaitSignal()) {
  // until the test closes stdin
}

import test from 'ava';
import { EditLog, type EditSummary } from '../../src/plan/edit-log.js';
import { ALL_KINDS } from '../../src/kinds/file-kind.js';

const OPS: Array<EditSummary['op']> = ['write', 'symlink', 'remove'];

/** Edits of every kind and op, with paths of many lengths and bytes >= 0x80 (names are bytes). */
function edits(n: number): EditSummary[] {
  return Array.from({ length: n }, (_, i) => ({
    rel: `lib/caf\xe9/${'m'.repeat(i % 200)}${i}.py`,
    kind: ALL_KINDS[i % ALL_KINDS.length]!,
    op: OPS[i % OPS.length]!,
  }));
}

test('an edit log gives back every edit it was given, in order', (t) => {
  const want = edits(3000);
  const log = new EditLog();
  t.true(log.empty);
  for (const e of want) log.add(e.rel, e.kind, e.op);
  t.false(log.empty);
  t.deepEqual(log.entries(), want);
});

test('edits packed on one log and added to another read back in order, after its own', (t) => {
  const want = edits(900);
  const main = new EditLog();
  const other = new EditLog();
  for (const e of want.slice(0, 300)) main.add(e.rel, e.kind, e.op);
  for (const e of want.slice(300, 600)) other.add(e.rel, e.kind, e.op);
  main.addPacked(other.take());
  t.true(other.empty, 'take empties the log');
  for (const e of want.slice(600)) other.add(e.rel, e.kind, e.op);
  main.addPacked(other.take());
  t.deepEqual(main.entries(), want);
  t.deepEqual(other.entries(), []);
});

test('an edit log refuses packed bytes it cannot read rather than inventing edits', (t) => {
  const log = new EditLog();
  // Kind 200 does not exist; a path length past the end does not fit.
  log.addPacked(Uint8Array.from([200, 0, 1, 0, 0, 0, 0x78]));
  t.throws(() => log.entries(), { message: /corrupt edit log at byte 0/ });
  const cut = new EditLog();
  cut.addPacked(Uint8Array.from([0, 0, 9, 0, 0, 0, 0x78]));
  t.throws(() => cut.entries(), { message: /corrupt edit log/ });
});

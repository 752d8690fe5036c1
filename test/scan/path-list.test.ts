import test from 'ava';
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import { PathList, PathListBuilder, type PathListData } from '../../src/scan/path-list.js';

/** Paths of every length from 0 to 299 bytes, some with bytes >= 0x80 (names are bytes). */
function paths(n: number): string[] {
  return Array.from({ length: n }, (_, i) =>
    `${i % 7 === 0 ? 'caf\xe9/' : 'lib/'}${'x'.repeat(i % 300)}`.slice(0, i % 300),
  );
}

test('a path list gives back every path it was given, in order', (t) => {
  const want = paths(5000);
  const b = new PathListBuilder();
  for (const p of want) b.add(p);
  const list = b.finish();
  t.is(list.length, want.length);
  t.deepEqual(
    Array.from({ length: list.length }, (_, i) => list.get(i)),
    want,
  );
});

test('a path list outgrows the room it reserved and still gives back every path', (t) => {
  // 5,000 paths of ~150 bytes against 1 KiB reserved: the bytes and the ends both move (the
  // ends start with 128 bytes: 32 paths) several times.
  const want = paths(5000);
  const b = new PathListBuilder(1024);
  for (const p of want) b.add(p);
  const list = b.finish();
  t.true(list.bytes.byteLength > 1024);
  t.deepEqual(
    Array.from({ length: list.length }, (_, i) => list.get(i)),
    want,
  );
});

test('an empty path list has no paths', (t) => {
  const list = new PathListBuilder().finish();
  t.is(list.length, 0);
});

test('a path list posted to another thread reads the same there', (t) => {
  const want = paths(300);
  const b = new PathListBuilder(64);
  for (const p of want) b.add(p);
  const list = b.finish();
  const { port1, port2 } = new MessageChannel();
  const data: PathListData = { bytes: list.bytes, ends: list.ends, length: list.length };
  port1.postMessage(data);
  const got = PathList.of(receiveMessageOnPort(port2)?.message as PathListData);
  port1.close();
  t.deepEqual(
    Array.from({ length: got.length }, (_, i) => got.get(i)),
    want,
  );
});

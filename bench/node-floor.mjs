// The read-and-search floor of a Node process: walk the tree (the product's walkTree), then read
// every regular file with openSync/readSync into one reused buffer and look for the needle, on
// 1 thread and split across N worker threads. This is what venv-tools' scan could cost at best,
// beside ripgrep's floor. Prints one JSON line. Used by bench/run.mjs; run alone as
//   node bench/node-floor.mjs TREE NEEDLE [THREADS]
import { closeSync, constants, openSync, readSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { walkTree } from '../dist/src/scan/walk-tree.js';

const CHUNK = 1 << 20;

/** Read each file once; count those holding the needle and the bytes read. */
function scan(root, rels, needle) {
  const buf = Buffer.allocUnsafe(CHUNK);
  const overlap = needle.length - 1;
  const flags = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
  let hits = 0;
  let bytes = 0;
  for (const rel of rels) {
    const fd = openSync(Buffer.from(`${root}/${rel}`, 'latin1'), flags);
    try {
      let n = readSync(fd, buf, 0, CHUNK, 0);
      bytes += n;
      let pos = n;
      let found = buf.subarray(0, n).indexOf(needle) !== -1;
      while (!found && n === CHUNK) {
        buf.copy(buf, 0, CHUNK - overlap, CHUNK);
        const m = readSync(fd, buf, overlap, CHUNK - overlap, pos);
        if (m === 0) break;
        pos += m;
        bytes += m;
        found = buf.subarray(0, overlap + m).indexOf(needle) !== -1;
        n = m + overlap;
      }
      if (found) hits++;
    } finally {
      closeSync(fd);
    }
  }
  return { hits, bytes };
}

if (!isMainThread) {
  const { root, rels, needle } = workerData;
  parentPort.postMessage(scan(root, rels, Buffer.from(needle, 'latin1')));
} else {
  const [tree, needleArg, threadsArg] = process.argv.slice(2);
  if (needleArg === undefined) {
    process.stderr.write('usage: node bench/node-floor.mjs TREE NEEDLE [THREADS]\n');
    process.exit(2);
  }
  const threads = Number(threadsArg ?? 2);
  const root = Buffer.from(tree, 'utf8').toString('latin1');
  const needle = Buffer.from(needleArg, 'utf8');

  const once = async (n) => {
    const t0 = performance.now();
    const rels = walkTree(root)
      .filter((e) => e.type === 'file')
      .map((e) => e.rel);
    const t1 = performance.now();
    let r;
    if (n === 1) {
      r = scan(root, rels, needle);
    } else {
      // Interleaved split: neighbours in a folder have similar sizes, so each thread gets a fair share.
      const parts = Array.from({ length: n }, (_, k) => rels.filter((_, i) => i % n === k));
      const results = await Promise.all(
        parts.map(
          (part) =>
            new Promise((resolve, reject) => {
              const w = new Worker(fileURLToPath(import.meta.url), {
                workerData: { root, rels: part, needle: needle.toString('latin1') },
              });
              w.once('message', resolve);
              w.once('error', reject);
            }),
        ),
      );
      r = results.reduce((a, b) => ({ hits: a.hits + b.hits, bytes: a.bytes + b.bytes }));
    }
    return { walkMs: t1 - t0, searchMs: performance.now() - t1, files: rels.length, ...r };
  };

  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const out = {};
  for (const n of [1, threads]) {
    const rounds = [];
    for (let i = 0; i < 3; i++) rounds.push(await once(n));
    out[`threads${n}`] = {
      walkMs: median(rounds.map((r) => r.walkMs)),
      searchMs: median(rounds.map((r) => r.searchMs)),
      files: rounds[0].files,
      bytes: rounds[0].bytes,
      hits: rounds[0].hits,
    };
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

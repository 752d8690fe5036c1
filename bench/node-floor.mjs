// The floors of a Node process on the tree, in-process (no startup), printed as one JSON line:
//
// - read and search: walk the tree (the product's walkTree), then read every regular file with
//   openSync/readSync into one reused buffer and look for the needle, on 1 thread and split
//   across N worker threads. What venv-tools' scan could cost at best, beside ripgrep's floor.
// - design: the same reads on N threads, plus the file calls venv-tools' design adds, with no
//   planning at all: each file that holds the needle is journaled (fstat for its times, then a
//   frame of its bytes from the first changed one on: a pyc from the string that holds the path,
//   any other file whole, with a crc32, in 1 MiB batches, one journal per thread), the journals
//   are read back through a 1 MiB window, and each frame is written in place again (open, pwrite,
//   fstat, futimes, close), as applying does. The bytes written are the ones read and the times
//   are put back to the microsecond, so the tree is left as it was (only ctimes move).
//
// Used by bench/run.mjs; run alone (on a copy you do not mind being written in place) as
//   node bench/node-floor.mjs TREE NEEDLE [THREADS] [--design-once]
// --design-once: one design round only, so that the whole process can be timed from outside
// like a venv-tools run (Node's start included).
import {
  closeSync,
  constants,
  fstatSync,
  futimesSync,
  openSync,
  readSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { crc32 } from 'node:zlib';
import { walkTree } from '../dist/src/scan/walk-tree.js';
import { seconds } from './tree.mjs';

const CHUNK = 1 << 20;
const READ_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** Read each file once; count those holding the needle and the bytes read. */
function scan(root, rels, needle) {
  const buf = Buffer.allocUnsafe(CHUNK);
  const overlap = needle.length - 1;
  let hits = 0;
  let bytes = 0;
  for (const rel of rels) {
    const fd = openSync(Buffer.from(`${root}/${rel}`, 'latin1'), READ_FLAGS);
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

/** Read the whole file at fd into buf (grown as needed); returns [buf, length]. */
function readWhole(fd, buf) {
  let n = 0;
  for (;;) {
    if (n === buf.length) {
      const bigger = Buffer.allocUnsafe(buf.length * 2);
      buf.copy(bigger, 0, 0, n);
      buf = bigger;
    }
    const m = readSync(fd, buf, n, buf.length - n, n);
    if (m === 0) return [buf, n];
    n += m;
  }
}

/**
 * The design floor's first half: read every file, journal those that hold the needle. A frame is
 * `u32 length | u32 path length | path | f64 offset | f64 atime | f64 mtime | data | u32 crc`.
 */
function journalAll(root, rels, needle, journal) {
  let buf = Buffer.allocUnsafe(CHUNK);
  const batch = Buffer.allocUnsafe(CHUNK);
  const jfd = openSync(journal, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  let used = 0;
  let records = 0;
  let journaled = 0;
  const flush = () => {
    let off = 0;
    while (off < used) off += writeSync(jfd, batch, off, used - off);
    used = 0;
  };
  try {
    for (const rel of rels) {
      const fd = openSync(Buffer.from(`${root}/${rel}`, 'latin1'), READ_FLAGS);
      try {
        let n;
        [buf, n] = readWhole(fd, buf);
        const at = buf.subarray(0, n).indexOf(needle);
        // Binaries are never edited (venv-tools reports them): the bench's are ELF libraries.
        if (at === -1 || (n >= 4 && buf.readUInt32BE(0) === 0x7f454c46)) continue;
        const st = fstatSync(fd, { bigint: true });
        // A pyc from the marshal string that holds the path (its type and length come first).
        const from = rel.endsWith('.pyc') ? Math.max(0, at - 5) : 0;
        const path = Buffer.from(rel, 'latin1');
        const size = 8 + path.length + 24 + (n - from) + 4;
        if (size > batch.length - used) flush();
        const frame = size <= batch.length ? batch : Buffer.allocUnsafe(size);
        let p = frame === batch ? used : 0;
        const start = p;
        p = frame.writeUInt32LE(size - 8, p);
        p = frame.writeUInt32LE(path.length, p);
        p += path.copy(frame, p);
        p = frame.writeDoubleLE(from, p);
        p = frame.writeDoubleLE(seconds(st.atimeNs), p);
        p = frame.writeDoubleLE(seconds(st.mtimeNs), p);
        p += buf.copy(frame, p, from, n);
        p = frame.writeUInt32LE(crc32(frame.subarray(start + 4, p)), p);
        if (frame === batch) used = p;
        else writeSync(jfd, frame, 0, p);
        records++;
        journaled += n - from;
      } finally {
        closeSync(fd);
      }
    }
    flush();
  } finally {
    closeSync(jfd);
  }
  return { records, journaled };
}

/** The design floor's second half: read the journal back, write each frame in place again. */
function applyAll(root, journal) {
  const jfd = openSync(journal, READ_FLAGS);
  let win = Buffer.allocUnsafe(CHUNK);
  let pos = 0; // the journal's offset of win[0]
  let have = 0;
  let at = 0;
  let written = 0;
  /** Make win[at, at + need) hold the journal's bytes, sliding (and growing) the window. */
  const ensure = (need) => {
    if (at + need <= have) return true;
    if (need > win.length) {
      const bigger = Buffer.allocUnsafe(need);
      win.copy(bigger, 0, at, have);
      win = bigger;
    } else {
      win.copy(win, 0, at, have);
    }
    pos += at;
    have -= at;
    at = 0;
    for (let m = 1; have < win.length && m > 0; have += m) {
      m = readSync(jfd, win, have, win.length - have, pos + have);
    }
    return need <= have;
  };
  try {
    while (ensure(4)) {
      const len = win.readUInt32LE(at);
      if (!ensure(8 + len)) throw new Error(`${journal}: a frame runs past its end`);
      let p = at + 4;
      const plen = win.readUInt32LE(p);
      const rel = win.toString('latin1', p + 4, p + 4 + plen);
      p += 4 + plen;
      const from = win.readDoubleLE(p);
      const atime = win.readDoubleLE(p + 8);
      const mtime = win.readDoubleLE(p + 16);
      p += 24;
      const end = at + 4 + len;
      const fd = openSync(
        Buffer.from(`${root}/${rel}`, 'latin1'),
        constants.O_WRONLY | constants.O_NOFOLLOW,
      );
      try {
        for (let off = p; off < end;) off += writeSync(fd, win, off, end - off, from + off - p);
        fstatSync(fd);
        futimesSync(fd, atime, mtime);
      } finally {
        closeSync(fd);
      }
      written++;
      at = end + 4;
    }
  } finally {
    closeSync(jfd);
  }
  unlinkSync(journal);
  return written;
}

if (!isMainThread && workerData.mode === 'design') {
  // Spawned before the walk, as venv-tools' worker is; gets its share of the files, journals
  // them, and applies its journal once every thread has journaled (the commit).
  const { root, needle, journal, go } = workerData;
  parentPort.once('message', (rels) => {
    parentPort.postMessage(journalAll(root, rels, Buffer.from(needle, 'latin1'), journal));
    Atomics.wait(new Int32Array(go), 0, 0);
    parentPort.postMessage(applyAll(root, journal));
  });
} else if (!isMainThread) {
  const { root, rels, needle } = workerData;
  parentPort.postMessage(scan(root, rels, Buffer.from(needle, 'latin1')));
} else {
  const designOnce = process.argv.includes('--design-once');
  const [tree, needleArg, threadsArg] = process.argv.slice(2).filter((a) => a !== '--design-once');
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

  const design = async (n) => {
    const go = new SharedArrayBuffer(4);
    const journal = (k) => `${root}/.node-floor-journal-${process.pid}-${k}`;
    const workers = Array.from({ length: n - 1 }, (_, i) => {
      const w = new Worker(fileURLToPath(import.meta.url), {
        workerData: {
          mode: 'design',
          root,
          needle: needle.toString('latin1'),
          journal: journal(i + 1),
          go,
        },
      });
      const next = () =>
        new Promise((resolve, reject) => {
          w.once('message', resolve);
          w.once('error', reject);
        });
      return { w, journaled: next() };
    });
    const t0 = performance.now();
    const rels = walkTree(root)
      .filter((e) => e.type === 'file')
      .map((e) => e.rel);
    const t1 = performance.now();
    const share = (k) => rels.filter((_, i) => i % n === k);
    workers.forEach(({ w }, i) => w.postMessage(share(i + 1)));
    const mine = journalAll(root, share(0), needle, journal(0));
    const theirs = await Promise.all(workers.map((x) => x.journaled));
    const t2 = performance.now();
    const applied = workers.map(
      ({ w }) =>
        new Promise((resolve, reject) => {
          w.once('message', resolve);
          w.once('error', reject);
        }),
    );
    Atomics.store(new Int32Array(go), 0, 1);
    Atomics.notify(new Int32Array(go), 0);
    let written = applyAll(root, journal(0));
    for (const w of await Promise.all(applied)) written += w;
    const t3 = performance.now();
    return {
      walkMs: t1 - t0,
      journalMs: t2 - t1,
      applyMs: t3 - t2,
      records: theirs.reduce((a, b) => a + b.records, mine.records),
      journaledBytes: theirs.reduce((a, b) => a + b.journaled, mine.journaled),
      written,
    };
  };

  if (designOnce) {
    process.stdout.write(JSON.stringify({ design: await design(Number(threadsArg ?? 2)) }) + '\n');
    process.exit(0);
  }
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
  const rounds = [];
  for (let i = 0; i < 3; i++) rounds.push(await design(threads));
  const med = (k) => median(rounds.map((r) => r[k]));
  out.design = {
    threads,
    walkMs: med('walkMs'),
    journalMs: med('journalMs'),
    applyMs: med('applyMs'),
    totalMs: median(rounds.map((r) => r.walkMs + r.journalMs + r.applyMs)),
    records: rounds[0].records,
    journaledBytes: rounds[0].journaledBytes,
    written: rounds[0].written,
  };
  process.stdout.write(JSON.stringify(out) + '\n');
}

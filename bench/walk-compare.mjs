// Walk a tree with the product's readdir walk (dist/src/scan/walk-tree.js) and with fast-glob,
// alternately, and print one JSON line: median times, entry counts, and what each does with a
// file name that is not UTF-8. Used by bench/run.mjs; run alone as
//   node bench/walk-compare.mjs TREE [ROUNDS]
import { lstatSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import fg from 'fast-glob';
import { walkTree } from '../dist/src/scan/walk-tree.js';

const [root, roundsArg] = process.argv.slice(2);
if (root === undefined) {
  process.stderr.write('usage: node bench/walk-compare.mjs TREE [ROUNDS]\n');
  process.exit(2);
}
const rounds = Number(roundsArg ?? 5);
const rootBytes = Buffer.from(root, 'utf8').toString('latin1');

// Options that make fast-glob list what walkTree lists: every entry, dot names, no symlink following.
const fgOptions = {
  cwd: root,
  dot: true,
  onlyFiles: false,
  followSymbolicLinks: false,
  unique: false,
};

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const times = { readdir: [], fastGlob: [] };
let counts = { readdir: 0, fastGlob: 0 };
// One untimed round each first, so that neither pays for loading code or the first directory reads.
walkTree(rootBytes);
fg.sync('**', fgOptions);
for (let i = 0; i < rounds; i++) {
  let t = performance.now();
  counts.readdir = walkTree(rootBytes).length;
  times.readdir.push(performance.now() - t);
  t = performance.now();
  counts.fastGlob = fg.sync('**', fgOptions).length;
  times.fastGlob.push(performance.now() - t);
}

// A Latin-1 file name (0xE9 alone is not UTF-8), as a wheel built on a legacy system may carry.
const dir = mkdtempSync(join(tmpdir(), 'venv-tools-walk-'));
const odd = Buffer.concat([Buffer.from(`${dir}/caf`), Buffer.from([0xe9]), Buffer.from('.py')]);
writeFileSync(odd, 'x = 1\n');
const fgName = fg.sync('*.py', { cwd: dir })[0];
let fgStat;
try {
  lstatSync(join(dir, fgName));
  fgStat = 'ok';
} catch (err) {
  fgStat = err.code;
}
const ours = walkTree(Buffer.from(dir).toString('latin1')).find((e) => e.rel.endsWith('.py'));
let ourStat;
try {
  lstatSync(Buffer.from(`${Buffer.from(dir).toString('latin1')}/${ours.rel}`, 'latin1'));
  ourStat = 'ok';
} catch (err) {
  ourStat = err.code;
}
rmSync(dir, { recursive: true, force: true });

process.stdout.write(
  JSON.stringify({
    rounds,
    readdir: { medianMs: median(times.readdir), ms: times.readdir, entries: counts.readdir },
    fastGlob: { medianMs: median(times.fastGlob), ms: times.fastGlob, entries: counts.fastGlob },
    nonUtf8: {
      fastGlobName: JSON.stringify(fgName),
      fastGlobLstat: fgStat,
      readdirName: JSON.stringify(Buffer.from(ours.rel, 'latin1').toString('hex')),
      readdirLstat: ourStat,
    },
  }) + '\n',
);

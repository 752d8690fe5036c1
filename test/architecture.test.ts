import test from 'ava';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

// The folders of src/ follow the pipeline, and every import points down (docs/ARCHITECTURE.md).
// These tests read the `import` lines of the TypeScript sources themselves, so a new arrow
// against the order, or a circle, fails here before anyone has to notice it in review.

/** The repository's root: the nearest folder above this file that holds package.json. */
function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('no package.json above the test');
    dir = up;
  }
  return dir;
}

const ROOT = repoRoot();
const SRC = path.join(ROOT, 'src');

/**
 * Each room of src/ and its floor, top down: a file may import from its own room or from a room
 * on a lower floor. `index` is the library's face (src/index.ts).
 */
const FLOORS: Readonly<Record<string, number>> = {
  index: 13,
  cli: 12,
  commands: 11,
  report: 10,
  verify: 9,
  reinit: 8,
  relocate: 7,
  archive: 6,
  apply: 5,
  plan: 4,
  scan: 3,
  kinds: 2,
  core: 1,
};

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** The room of a source file: its first folder under src/, or `index`. */
function roomOf(file: string): string {
  const rel = path.relative(SRC, file);
  const first = rel.split(path.sep)[0] ?? '';
  return first === 'index.ts' ? 'index' : first;
}

// Static imports and re-exports (`from '…'`), side-effect imports and dynamic `import('…')`.
const SPEC = /(?:\bfrom\s+|\bimport\s*\(\s*|^\s*import\s+)(['"])(\.{1,2}\/[^'"]+)\1/gm;

/** Every relative import of each source file, resolved to the file it names. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sources(SRC)) {
    const text = fs.readFileSync(file, 'utf8');
    const targets: string[] = [];
    for (const m of text.matchAll(SPEC)) {
      const spec = m[2] as string;
      const resolved = path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts'));
      targets.push(resolved);
    }
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

const show = (f: string) => path.relative(ROOT, f);

test('every import of src/ points at a file that exists', (t) => {
  const missing: string[] = [];
  for (const [file, targets] of importGraph()) {
    for (const to of targets) if (!fs.existsSync(to)) missing.push(`${show(file)} -> ${show(to)}`);
  }
  t.deepEqual(missing, []);
});

test('every room of src/ has a floor, and no import runs from a lower floor to a higher one', (t) => {
  const rooms = new Set([...importGraph().keys()].map(roomOf));
  t.deepEqual(
    [...rooms].filter((r) => FLOORS[r] === undefined),
    [],
    'rooms without a floor',
  );
  const up: string[] = [];
  for (const [file, targets] of importGraph()) {
    const from = roomOf(file);
    for (const to of targets) {
      const room = roomOf(to);
      if (room !== from && (FLOORS[room] ?? 0) >= (FLOORS[from] ?? 0)) {
        up.push(`${show(file)} (${from}) -> ${show(to)} (${room})`);
      }
    }
  }
  t.deepEqual(up, []);
});

/** The circles of a graph (its strongly connected parts of two files or more), by Tarjan. */
function circles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const part: string[] = [];
      for (;;) {
        const w = stack.pop()!;
        onStack.delete(w);
        part.push(w);
        if (w === v) break;
      }
      if (part.length > 1) found.push(part.map(show).sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

test('no circle of imports in src/', (t) => {
  t.deepEqual(circles(importGraph()), []);
});

test('the circle finder finds a circle', (t) => {
  const g = new Map([
    ['a', ['b']],
    ['b', ['c']],
    ['c', ['a']],
    ['d', ['a']],
  ]);
  t.deepEqual(circles(g), [['a', 'b', 'c']]);
});

test('no room directly under src/ holds more than 40% of its lines', (t) => {
  const lines = new Map<string, number>();
  let total = 0;
  for (const file of sources(SRC)) {
    const n = fs.readFileSync(file, 'utf8').split('\n').length;
    lines.set(roomOf(file), (lines.get(roomOf(file)) ?? 0) + n);
    total += n;
  }
  const shares = [...lines].map(([room, n]) => `${room} ${((100 * n) / total).toFixed(0)}%`);
  t.log(shares.join(', '));
  t.deepEqual(
    [...lines].filter(([, n]) => n > 0.4 * total).map(([room]) => room),
    [],
  );
});

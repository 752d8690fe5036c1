/**
 * Unified diffs of a plan's text changes, for `--diff`. The format is GNU diff's and git's
 * (`--- a/F`, `+++ b/F`, `@@ -l,n +l,n @@`, three lines of context, `\ No newline at end of
 * file`), so the output can be read by patch(1), `git apply` and diff viewers. Symlinks are
 * shown as git shows them: their target as a one-line file without a newline.
 */
import type { Paint } from './format-report.js';
import { NO_PAINT } from './format-report.js';
import { bytesToUtf8, fromBytes, utf8ToBytes, type ByteString } from '../core/path-boundary.js';
import type { ReinitReport } from '../reinit/reinit-report.js';
import { rewritePyvenvCfgBase } from '../reinit/rewrite-pyvenv-cfg-base.js';
import type { Edit } from '../plan/planner.js';

/** One step of an edit script: keep a line of both, delete one of `a`, insert one of `b`. */
type Op = { readonly t: '=' | '-' | '+'; readonly a: number; readonly b: number };

// Past this many differing lines the shortest edit script costs O(D^2) memory and time for
// little gain; the middle is then shown as one block deleted and one inserted, still correct.
const MAX_D = 2000;

/**
 * The shortest edit script from `a` to `b` (Myers 1986, "An O(ND) Difference Algorithm"),
 * after stripping the common head and tail, which is where a path rewrite leaves most lines.
 */
export function diffOps(a: readonly string[], b: readonly string[]): Op[] {
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (
    tail < a.length - head &&
    tail < b.length - head &&
    a[a.length - 1 - tail] === b[b.length - 1 - tail]
  )
    tail++;
  const ops: Op[] = [];
  for (let i = 0; i < head; i++) ops.push({ t: '=', a: i, b: i });
  ops.push(...middle(a, b, head, a.length - tail, head, b.length - tail));
  for (let k = tail; k > 0; k--) ops.push({ t: '=', a: a.length - k, b: b.length - k });
  return ops;
}

function middle(
  a: readonly string[],
  b: readonly string[],
  a0: number,
  a1: number,
  b0: number,
  b1: number,
): Op[] {
  const n = a1 - a0;
  const m = b1 - b0;
  const block = (): Op[] => [
    ...Array.from({ length: n }, (_, i) => ({ t: '-' as const, a: a0 + i, b: b0 })),
    ...Array.from({ length: m }, (_, j) => ({ t: '+' as const, a: a1, b: b0 + j })),
  ];
  if (n === 0 || m === 0) return block();
  const max = Math.min(n + m, MAX_D);
  const off = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  let found = -1;
  for (let d = 0; d <= max && found < 0; d++) {
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      let x =
        k === -d || (k !== d && (v[off + k - 1] as number) < (v[off + k + 1] as number))
          ? (v[off + k + 1] as number)
          : (v[off + k - 1] as number) + 1;
      let y = x - k;
      while (x < n && y < m && a[a0 + x] === b[b0 + y]) {
        x++;
        y++;
      }
      v[off + k] = x;
      if (x >= n && y >= m) {
        found = d;
        break;
      }
    }
  }
  if (found < 0) return block();
  // Walk the trace back from (n, m). trace[d] holds V as round d found it (round d-1's ends),
  // which tells from which diagonal round d stepped.
  const rev: Op[] = [];
  let x = n;
  let y = m;
  for (let d = found; d >= 0; d--) {
    const vd = trace[d] as Int32Array;
    const k = x - y;
    const down = k === -d || (k !== d && (vd[off + k - 1] as number) < (vd[off + k + 1] as number));
    const pk = down ? k + 1 : k - 1;
    const px = d === 0 ? 0 : (vd[off + pk] as number);
    const py = d === 0 ? 0 : px - pk;
    while (x > px && y > py) {
      x--;
      y--;
      rev.push({ t: '=', a: a0 + x, b: b0 + y });
    }
    if (d === 0) break;
    if (down) rev.push({ t: '+', a: a0 + x, b: b0 + py });
    else rev.push({ t: '-', a: a0 + px, b: b0 + y });
    x = px;
    y = py;
  }
  return rev.reverse();
}

/** Lines of a text, and whether its last line lacks a newline. */
function splitLines(s: string): { lines: string[]; noEol: boolean } {
  if (s === '') return { lines: [], noEol: false };
  const lines = s.split('\n');
  const noEol = lines[lines.length - 1] !== '';
  if (!noEol) lines.pop();
  return { lines, noEol };
}

function range(start: number, count: number): string {
  // GNU diff: an empty range is shown as the line before it, with count 0.
  if (count === 0) return `${start},0`;
  return count === 1 ? `${start + 1}` : `${start + 1},${count}`;
}

/**
 * A unified diff of two byte strings (headers included), or [] when they are equal. Lines are
 * shown as UTF-8 (invalid bytes as U+FFFD).
 */
export function unifiedDiff(
  nameA: string,
  nameB: string,
  before: ByteString,
  after: ByteString,
  paint: Paint = NO_PAINT,
  context = 3,
): string[] {
  if (before === after) return [];
  const A = splitLines(before);
  const B = splitLines(after);
  // The last line's newline is part of the comparison, as in diff(1).
  const a = A.lines.map((l, i) => (i === A.lines.length - 1 && A.noEol ? `${l}\0` : l));
  const b = B.lines.map((l, i) => (i === B.lines.length - 1 && B.noEol ? `${l}\0` : l));
  const ops = diffOps(a, b);
  const out = [paint.bold(`--- ${nameA}`), paint.bold(`+++ ${nameB}`)];
  const changed = ops.map((o, i) => (o.t === '=' ? -1 : i)).filter((i) => i >= 0);
  let k = 0;
  while (k < changed.length) {
    // A hunk: changes closer than 2*context lines apart share one.
    const lo = Math.max(0, (changed[k] as number) - context);
    let last = changed[k] as number;
    while (k + 1 < changed.length && (changed[k + 1] as number) - last <= 2 * context) {
      k++;
      last = changed[k] as number;
    }
    k++;
    const hi = Math.min(ops.length, last + context + 1);
    const hunk = ops.slice(lo, hi);
    const first = hunk[0] as Op;
    const aCount = hunk.filter((o) => o.t !== '+').length;
    const bCount = hunk.filter((o) => o.t !== '-').length;
    out.push(paint.dim(`@@ -${range(first.a, aCount)} +${range(first.b, bCount)} @@`));
    for (const o of hunk) {
      const raw = o.t === '+' ? (b[o.b] as string) : (a[o.a] as string);
      const noEol = raw.endsWith('\0');
      const text = bytesToUtf8(noEol ? raw.slice(0, -1) : raw);
      const line = `${o.t === '=' ? ' ' : o.t}${text}`;
      out.push(o.t === '-' ? paint.red(line) : o.t === '+' ? paint.green(line) : line);
      if (noEol) out.push('\\ No newline at end of file');
    }
  }
  return out;
}

/** A symlink's change, as git shows it: the target as a one-line file without a newline. */
export function symlinkDiff(
  rel: string,
  before: ByteString,
  after: ByteString,
  paint: Paint = NO_PAINT,
): string[] {
  return unifiedDiff(`a/${rel}`, `b/${rel}`, before, after, paint);
}

/**
 * The diff of a relocation plan: every text change and symlink in full, then one line for the
 * binary changes (pycs rewritten at the marshal level, pycs removed), which no diff can show.
 */
export function formatPlanDiff(edits: readonly Edit[], paint: Paint = NO_PAINT): string[] {
  const out: string[] = [];
  let pycs = 0;
  let removed = 0;
  for (const e of edits) {
    const rel = bytesToUtf8(e.rel);
    if (e.op === 'remove') {
      removed++;
    } else if (e.op === 'symlink') {
      out.push(...symlinkDiff(rel, e.before, e.target, paint));
    } else if (e.kind === 'pyc') {
      pycs++;
    } else {
      out.push(
        ...unifiedDiff(`a/${rel}`, `b/${rel}`, fromBytes(e.before), fromBytes(e.bytes), paint),
      );
    }
  }
  const binary = [
    ...(pycs > 0 ? [`${pycs} pyc file${pycs === 1 ? '' : 's'} rewritten`] : []),
    ...(removed > 0 ? [`${removed} pyc file${removed === 1 ? '' : 's'} removed`] : []),
  ];
  if (binary.length > 0) out.push(paint.dim(`(not shown: ${binary.join(', ')}; binary)`));
  return out;
}

/** What reinit changes, for its diff: the report, and pyvenv.cfg before and after. */
export interface ReinitDiffInput {
  readonly links: ReadonlyArray<{
    readonly path: string;
    readonly action: string;
    readonly old: string | null;
    readonly new: string | null;
    readonly copy: boolean;
  }>;
  readonly cfgBefore: Buffer | undefined;
  readonly cfgAfter: Buffer | undefined;
}

/** The diff of a reinit: each re-pointed link as git shows a symlink, and pyvenv.cfg. */
export function formatReinitDiff(input: ReinitDiffInput, paint: Paint = NO_PAINT): string[] {
  const out: string[] = [];
  let copies = 0;
  for (const l of input.links) {
    if (l.action === 'keep') continue;
    if (l.copy) {
      copies++;
      continue;
    }
    out.push(...symlinkDiff(l.path, utf8ToBytes(l.old ?? ''), utf8ToBytes(l.new ?? ''), paint));
  }
  if (input.cfgBefore !== undefined && input.cfgAfter !== undefined) {
    out.push(
      ...unifiedDiff(
        'a/pyvenv.cfg',
        'b/pyvenv.cfg',
        fromBytes(input.cfgBefore),
        fromBytes(input.cfgAfter),
        paint,
      ),
    );
  }
  if (copies > 0) {
    out.push(
      paint.dim(`(not shown: ${copies} interpreter cop${copies === 1 ? 'y' : 'ies'}; binary)`),
    );
  }
  return out;
}

/**
 * pyvenv.cfg as a reinit dry run would write it, from the values its report shows (the report
 * carries no bytes). The same rewriter as the real run; the values are baseCfgValues' own
 * choices: `home` is the link target's folder, `executable` the real executable.
 */
export function plannedPyvenvCfg(before: Buffer, r: ReinitReport): Buffer {
  const i = r.interpreter;
  const link = utf8ToBytes(i.linkTarget);
  const out = rewritePyvenvCfgBase(before, {
    values: {
      home: link.slice(0, Math.max(1, link.lastIndexOf('/'))),
      executable: utf8ToBytes(i.realExecutable),
      baseExecutable: link,
      // reinit refuses an interpreter whose prefix is not its base prefix, so they are one.
      basePrefix: utf8ToBytes(i.prefix),
      baseExecPrefix: utf8ToBytes(i.execPrefix),
      version: i.version,
      versionInfo: i.versionInfo,
      interpreter: link,
    },
  });
  return out ?? before;
}

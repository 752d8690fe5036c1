import test from 'ava';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { RewriteError } from '../../src/core/errors.js';
import { utf8ToBytes, type Mapping } from '../../src/core/path-boundary.js';
import { pycFormat } from '../../src/kinds/pyc/pyc-magic.js';
import { rewritePyc } from '../../src/kinds/pyc/rewrite-pyc.js';
import { findPythons, type Python } from '../helpers/pythons.js';
import { seeded } from '../helpers/reliability-venv.js';

const run = promisify(execFile);
const PYTHONS = findPythons();
const SEED = Number(process.env.PYC_FUZZ_SEED ?? 20240607);
const CASES = Number(process.env.PYC_FUZZ_CASES ?? 12_000);
const SAMPLE = Number(process.env.PYC_FUZZ_SAMPLE ?? 240);

const PY_ENV: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C.UTF-8', PYTHONIOENCODING: 'utf-8' };
delete PY_ENV.SOURCE_DATE_EPOCH;
delete PY_ENV.PYTHONPYCACHEPREFIX;

interface Source {
  readonly python: Python;
  readonly bytes: Buffer;
}

interface Case {
  readonly source: Source;
  readonly input: Buffer;
  readonly mapping: Mapping;
  readonly newSource: Buffer | undefined;
  readonly mutations: string[];
}

function* pycFiles(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* pycFiles(p);
    else if (e.name.endsWith('.pyc')) yield p;
  }
}

/** Real pycs holding `old` in co_filename and in constants, from every Python here. */
async function corpus(base: string, old: string): Promise<Source[]> {
  const pkg = join(old, 'pkg');
  mkdirSync(pkg, { recursive: true });
  const q = JSON.stringify;
  writeFileSync(join(pkg, '__init__.py'), `ROOT = ${q(`${old}/pkg`)}\n`);
  writeFileSync(
    join(pkg, 'mod.py'),
    [
      `HERE = ${q(`${old}/pkg/data`)}`,
      `TABLE = {${q(`${old}/a`)}: (1, 2.5, 3j, 10 ** 30, -7, None, ...), "k": [b"x"]}`,
      'class Thing:',
      `    where = ${q(`file://${old}/thing`)}`,
      '    def method(self, x, *, y=1):',
      '        def inner(z):',
      `            return [lambda w: (w, HERE, ${q(`${old}-2/no`)}) for _ in range(z)]`,
      '        return inner(x)',
      'def member(p):',
      `    return p in {${q(`${old}/f1`)}, ${q(`${old}/f2`)}, 1.5}`,
      'async def coro():',
      '    return {k: k for k in range(3)}',
      '',
    ].join('\n'),
  );
  const sources: Source[] = [];
  for (const python of PYTHONS) {
    const modes = python.version === '3.6' ? [[]] : [[], ['--invalidation-mode', 'checked-hash']];
    for (const mode of modes) {
      const prefix = mkdtempSync(join(base, 'cache-'));
      // Compile the same tree into a separate cache each time (-X pycache_prefix, 3.8+), or in
      // place and read the pycs before the next compile (3.6, 3.7).
      const inPlace = python.version === '3.6' || python.version === '3.7';
      const args = inPlace ? [] : ['-X', `pycache_prefix=${prefix}`];
      await run(python.exe, [...args, '-m', 'compileall', '-q', '-f', ...mode, pkg], {
        env: PY_ENV,
      });
      for (const p of pycFiles(inPlace ? pkg : prefix)) {
        sources.push({ python, bytes: readFileSync(p) });
        if (inPlace) rmSync(p);
      }
    }
  }
  return sources;
}

// Bytes that start a marshalled object with a size after them.
const SIZED = [...'auts([<>l'].map((c) => c.charCodeAt(0));
const TYPE_BYTES = [...'0NFTS.iIfgxylsrt([{cu?<>aA)zZ:'].map((c) => c.charCodeAt(0));
const INTERESTING = [0, 1, 2, 255, 256, 0x7fff, 0x8000, 0xffff, 0x7fffffff, -1, -2, -0x80000000];

function mutate(input: Buffer, rnd: () => number, names: string[]): Buffer {
  const pick = (n: number): number => Math.floor(rnd() * n);
  const positionsOf = (bytes: Buffer, values: number[]): number[] => {
    const out: number[] = [];
    for (let i = 12; i < bytes.length; i++) {
      if (values.includes(bytes[i]! & 0x7f)) out.push(i);
    }
    return out;
  };
  const int32 = (): number =>
    rnd() < 0.5 ? INTERESTING[pick(INTERESTING.length)]! : (pick(0x100000000) | 0) >> pick(32);
  let b = Buffer.from(input);
  const kind = pick(9);
  switch (kind) {
    case 0: {
      names.push('truncate');
      b = b.subarray(0, pick(b.length));
      break;
    }
    case 1: {
      names.push('flip');
      for (let n = 1 + pick(4); n > 0; n--) {
        const at = pick(b.length);
        b[at] = b[at]! ^ (1 + pick(255));
      }
      break;
    }
    case 2: {
      names.push('type');
      const at = 12 + pick(b.length - 12);
      b[at] =
        rnd() < 0.8 ? TYPE_BYTES[pick(TYPE_BYTES.length)]! | (rnd() < 0.3 ? 0x80 : 0) : pick(256);
      break;
    }
    case 3: {
      names.push('bad-ref');
      const refs = positionsOf(b, [0x72]);
      const at = refs.length > 0 ? refs[pick(refs.length)]! : 12 + pick(b.length - 12);
      if (at + 5 <= b.length) b.writeInt32LE(rnd() < 0.5 ? pick(64) : int32(), at + 1);
      break;
    }
    case 4: {
      names.push('huge-length');
      const sized = positionsOf(b, SIZED);
      const at = sized.length > 0 ? sized[pick(sized.length)]! : 12;
      if (at + 5 <= b.length) b.writeInt32LE(int32(), at + 1);
      break;
    }
    case 5: {
      names.push('deep-nesting');
      // Wrap a str (a path, when it is one) in N one-item tuples.
      const strs = positionsOf(b, [0x7a, 0x5a, 0x61, 0x41, 0x75, 0x74]);
      const at = strs.length > 0 ? strs[pick(strs.length)]! : 16;
      const depth = [1 + pick(40), 1990 + pick(20), 100_000][pick(3)]!;
      b = Buffer.concat([
        b.subarray(0, at),
        Buffer.alloc(depth * 2, Buffer.from([0x29, 1])),
        b.subarray(at),
      ]);
      break;
    }
    case 6: {
      names.push('splice');
      const from = pick(b.length);
      const chunk = b.subarray(from, from + 1 + pick(64));
      const at = pick(b.length);
      b = Buffer.concat([
        b.subarray(0, at),
        chunk,
        b.subarray(at + (rnd() < 0.5 ? chunk.length : 0)),
      ]);
      break;
    }
    case 7: {
      names.push('header');
      const at = pick(Math.min(16, b.length));
      b[at] = b[at]! ^ (1 << pick(8));
      break;
    }
    default: {
      names.push('short-length');
      const shorts = positionsOf(b, [0x7a, 0x5a, 0x29]);
      if (shorts.length > 0) {
        const at = shorts[pick(shorts.length)]!;
        if (at + 1 < b.length) b[at + 1] = pick(256);
      }
    }
  }
  return b;
}

function makeCases(sources: Source[], old: string, targets: string[]): Case[] {
  const rnd = seeded(SEED);
  const cases: Case[] = [];
  for (let i = 0; i < CASES; i++) {
    const source = sources[Math.floor(rnd() * sources.length)]!;
    const names: string[] = [];
    let input = source.bytes;
    for (let n = 1 + Math.floor(rnd() * 3); n > 0 && input.length > 0; n--)
      input = mutate(input, rnd, names);
    const to = targets[Math.floor(rnd() * targets.length)]!;
    const newSource =
      rnd() < 0.1 ? Buffer.from(`# ${i}\n`.repeat(1 + Math.floor(rnd() * 9))) : undefined;
    cases.push({
      source,
      input,
      mapping: { from: utf8ToBytes(old), to: utf8ToBytes(to) },
      newSource,
      mutations: names,
    });
  }
  return cases;
}

type Outcome = 'buffer' | 'unchanged' | 'corrupt' | 'unknown-magic';

/** Run every case; anything but a Buffer, undefined or a RewriteError is a failure. */
function runCases(cases: Case[]): {
  outcomes: Outcome[];
  outputs: (Buffer | undefined)[];
  digest: string;
  peak: number;
} {
  const hash = createHash('sha256');
  const outcomes: Outcome[] = [];
  const outputs: (Buffer | undefined)[] = [];
  const base = process.memoryUsage().arrayBuffers;
  let peak = 0;
  cases.forEach((c, i) => {
    let outcome: Outcome;
    let out: Buffer | undefined;
    try {
      out = rewritePyc(c.input, {
        mappings: [c.mapping],
        ...(c.newSource ? { newSource: c.newSource } : {}),
      });
      outcome = out === undefined ? 'unchanged' : 'buffer';
      if (out !== undefined && !Buffer.isBuffer(out)) throw new Error(`case ${i}: not a Buffer`);
    } catch (e) {
      if (
        !(e instanceof RewriteError) ||
        (e.reason !== 'corrupt' && e.reason !== 'unknown-magic')
      ) {
        throw new Error(`case ${i} (seed ${SEED}, ${c.mutations.join('+')}): ${String(e)}`);
      }
      outcome = e.reason;
      hash.update(e.message);
    }
    outcomes.push(outcome);
    outputs.push(out);
    hash.update(outcome);
    if (out !== undefined) hash.update(out);
    if (i % 50 === 0) peak = Math.max(peak, process.memoryUsage().arrayBuffers - base);
  });
  return { outcomes, outputs, digest: hash.digest('hex'), peak };
}

// Loads input and output of each case with the Python's own marshal. Both must load or both
// fail; when they load, the output must equal the input with the mapping applied to every str
// (same boundary rule as path-boundary.ts: name chars are [A-Za-z0-9._\-+@~] and non-ASCII).
//
// One process takes every case, but each load runs in a forked child: on hostile bytecode
// CPython 3.11/3.12 write past its end when quickening it at load time (_PyCode_Quicken), so one
// case could corrupt the heap under the next. For the same reason the comparison reads the raw
// fields only: co_code (3.11+) de-specialises with the same overrun, co_lnotab (3.10+) decodes
// co_linetable without bounds checks.
const CHECK = String.raw`
import os, sys, re, struct, types, marshal, warnings
warnings.simplefilter('ignore')
NAME = 'A-Za-z0-9._\-+@~-􏿿'
FIELDS = ['co_argcount', 'co_posonlyargcount', 'co_kwonlyargcount', 'co_nlocals', 'co_stacksize',
          'co_flags', 'co_consts', 'co_names', 'co_varnames', 'co_freevars', 'co_cellvars',
          'co_filename', 'co_name', 'co_qualname', 'co_firstlineno', 'co_linetable',
          'co_exceptiontable', '_co_code_adaptive' if sys.version_info >= (3, 11) else 'co_code']
if sys.version_info < (3, 10):
    FIELDS.append('co_lnotab')

def canon(o, m):
    # Iterative, flat (prefix order with sizes): nesting as deep as marshal allows is fine.
    out, stack = [], [o]
    while stack:
        x = stack.pop()
        t = type(x)
        if t is str:
            out.append(('str', m(x)))
        elif t is bytes:
            out.append(('bytes', x))
        elif t is float:
            out.append(('float', struct.pack('<d', x)))
        elif t is complex:
            out.append(('complex', struct.pack('<dd', x.real, x.imag)))
        elif t is tuple or t is list:
            out.append((t.__name__, len(x)))
            stack.extend(reversed(x))
        elif t is set or t is frozenset:
            out.append((t.__name__, tuple(sorted(repr(canon(i, m)) for i in x))))
        elif t is dict:
            out.append(('dict', tuple(sorted((repr(canon(k, m)), repr(canon(v, m))) for k, v in x.items()))))
        elif t is slice:
            out.append(('slice',))
            stack.extend([x.step, x.stop, x.start])
        elif t is types.CodeType:
            fields = [f for f in FIELDS if hasattr(x, f)]
            out.append(('code', tuple(fields)))
            stack.extend(reversed([getattr(x, f) for f in fields]))
        else:
            out.append((t.__name__, repr(x)))
    return out

def evaluate(data, m):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            result = 'L' + repr(canon(marshal.loads(data), m))
        except Exception as e:
            result = 'R' + type(e).__name__
        with os.fdopen(w, 'w') as f:
            f.write(result)
        os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        result = f.read()
    _, status = os.waitpid(pid, 0)
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0 or result == '':
        return 'crash', ''
    return ('loads' if result[0] == 'L' else 'refused'), result[1:]

for line in sys.stdin:
    header, frm, to, a, b = line.split()
    header = int(header)
    frm = bytes.fromhex(frm).decode('utf-8', 'surrogateescape')
    to = bytes.fromhex(to).decode('utf-8', 'surrogateescape')
    pattern = re.compile('(?<![' + NAME + '])' + re.escape(frm) + '(?![' + NAME + '])')
    va, ca = evaluate(bytes.fromhex(a)[header:], lambda s: pattern.sub(lambda _: to, s))
    vb, cb = evaluate(bytes.fromhex(b)[header:], lambda s: s)
    if va != vb:
        verdict = 'verdicts differ: input %s %s, output %s %s' % (va, ca[:80], vb, cb[:80])
    elif va == 'loads':
        verdict = 'same' if ca == cb else 'values differ'
    else:
        verdict = 'both refused' if va == 'refused' else 'both crash CPython'
    sys.stdout.write(verdict + '\n')
    sys.stdout.flush()
`;

/** Ask one Python process about many cases (`header from to input output`, in hex). */
async function askPython(python: Python, lines: string[]): Promise<string[]> {
  const child = run(python.exe, ['-c', CHECK], {
    env: PY_ENV,
    maxBuffer: 64 * 1024 * 1024,
    encoding: 'utf8',
  });
  child.child.stdin?.end(lines.join('\n') + '\n');
  return (await child).stdout.split('\n').filter((l) => l !== '');
}

test('survives 10,000+ seeded mutations of real pycs, and CPython agrees with what it writes', async (t) => {
  if (PYTHONS.length === 0) return t.fail('no CPython 3.6+ on this machine');
  const base = mkdtempSync(join(tmpdir(), 'venv-tools-pyc-fuzz-'));
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  const old = join(base, 'old-place');
  const sources = await corpus(base, old);
  t.true(sources.length >= PYTHONS.length * 2, 'a pyc per module and Python');
  const targets = [join(base, 'new'), `/srv/${'long-'.repeat(60)}/new`, join(base, 'nëw-日本')];
  const cases = makeCases(sources, old, targets);

  const first = runCases(cases);
  const again = runCases(makeCases(sources, old, targets));
  t.is(again.digest, first.digest, 'the same seed gives the same outcomes');
  t.true(first.peak < 256 * 1024 * 1024, `peak buffer memory ${first.peak} bytes`);

  const counts = new Map<string, number>();
  first.outcomes.forEach((o) => counts.set(o, (counts.get(o) ?? 0) + 1));
  const byMutation = new Map<string, number>();
  cases.forEach((c) => c.mutations.forEach((m) => byMutation.set(m, (byMutation.get(m) ?? 0) + 1)));
  t.true(cases.length >= 10_000);
  t.true(
    (counts.get('buffer') ?? 0) >= Math.min(SAMPLE, 200),
    'enough rewritten outputs to sample',
  );
  t.true((counts.get('corrupt') ?? 0) > 0 && (counts.get('unknown-magic') ?? 0) > 0);

  // A spread-out sample of the rewritten outputs, checked by each Python's own marshal.
  const rewritten = first.outcomes.flatMap((o, i) => (o === 'buffer' ? [i] : []));
  const step = Math.max(1, Math.floor(rewritten.length / SAMPLE));
  const sample = rewritten.filter((_, k) => k % step === 0).slice(0, SAMPLE);
  const byPython = new Map<Python, number[]>();
  for (const i of sample) {
    const p = cases[i]!.source.python;
    byPython.set(p, [...(byPython.get(p) ?? []), i]);
  }
  const verdicts = new Map<string, number>();
  for (const [python, indexes] of byPython) {
    const lines = indexes.map((i) => {
      const c = cases[i]!;
      const header = pycFormat(c.input.readUInt16LE(0))!.headerSize;
      const hex = (s: string): string => Buffer.from(s, 'latin1').toString('hex');
      return `${header} ${hex(c.mapping.from)} ${hex(c.mapping.to)} ${c.input.toString('hex')} ${first.outputs[i]!.toString('hex')}`;
    });
    const said = await askPython(python, lines);
    t.is(said.length, lines.length, `Python ${python.full} answered every case`);
    said.forEach((v, k) => {
      const kind = ['same', 'both refused', 'both crash CPython'].includes(v) ? v : 'mismatch';
      verdicts.set(kind, (verdicts.get(kind) ?? 0) + 1);
      if (kind === 'mismatch') {
        const c = cases[indexes[k]!]!;
        t.fail(`case ${indexes[k]} (${c.mutations.join('+')}), Python ${python.full}: ${v}`);
      }
    });
  }
  t.true((verdicts.get('same') ?? 0) >= sample.length / 4, 'most samples are pycs CPython loads');
  t.log(
    `seed ${SEED}: ${cases.length} cases from ${sources.length} real pycs of ${PYTHONS.map((p) => p.full).join(', ')}`,
  );
  t.log(`mutations: ${[...byMutation].map(([k, v]) => `${k} ${v}`).join(', ')}`);
  t.log(`outcomes: ${[...counts].map(([k, v]) => `${k} ${v}`).join(', ')}`);
  t.log(
    `CPython marshal on ${sample.length} sampled outputs: ${[...verdicts].map(([k, v]) => `${k} ${v}`).join(', ')}`,
  );
  t.log(`peak buffer memory: ${(first.peak / 1e6).toFixed(1)} MB`);
  return undefined;
});

/**
 * Checks of a relocated venv's pycs with the venv's own Python: each pyc loads with that
 * Python's marshal, every nested code object's co_filename is its source's path at the new
 * place, and Python accepts every pyc as it is (importing and compileall rewrite none).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cleanEnv, run } from './run.js';

const CHECK = String.raw`
import importlib.util, marshal, os, sys, types
root = sys.argv[1]
header = 16 if sys.version_info >= (3, 7) else 12
count = problems = 0
for dirpath, dirs, files in os.walk(root):
    if os.path.basename(dirpath) != '__pycache__':
        continue
    for name in files:
        if not name.endswith('.pyc'):
            continue
        pyc = os.path.join(dirpath, name)
        source = importlib.util.source_from_cache(pyc)
        with open(pyc, 'rb') as f:
            data = f.read()
        try:
            code = marshal.loads(data[header:])
        except Exception as e:
            print('cannot load %s: %r' % (pyc, e)); problems += 1; continue
        count += 1
        todo = [code]
        while todo:
            c = todo.pop()
            if c.co_filename != source:
                print('%s: co_filename %r, not %r' % (pyc, c.co_filename, source)); problems += 1; break
            todo.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
print('checked %d pycs' % count)
`;

/** Every pyc below `dir` with its bytes. */
export function pycBytes(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && e.name.endsWith('.pyc')) out.set(p, fs.readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

/** Problems found by loading every `__pycache__` pyc below `dir` with the venv's marshal. */
export async function checkPycFilenames(
  venvDir: string,
  dir: string,
): Promise<{ problems: string[]; checked: number }> {
  const r = await run(path.join(venvDir, 'bin', 'python'), ['-c', CHECK, dir], { env: cleanEnv() });
  const lines = r.stdout.toString('utf8').trimEnd().split('\n');
  const last = lines.pop() ?? '';
  const m = /^checked (\d+) pycs$/.exec(last);
  if (r.status !== 0 || m === null)
    return { problems: [`pyc check failed: ${r.stderr.toString('utf8')}`], checked: 0 };
  return { problems: lines.filter((l) => l !== ''), checked: Number(m[1]) };
}

/**
 * Import `modules` and run compileall over `dir` with bytecode writing on: Python rewrites any
 * pyc it finds stale, so every pyc that existed must come out byte-identical.
 */
export async function checkPycsStayValid(
  venvDir: string,
  dir: string,
  modules: readonly string[],
): Promise<string[]> {
  const before = pycBytes(dir);
  const py = path.join(venvDir, 'bin', 'python');
  const env = cleanEnv();
  const problems: string[] = [];
  for (const m of modules) {
    const r = await run(py, ['-c', `import ${m}`], { env });
    if (r.status !== 0) problems.push(`import ${m} failed: ${r.stderr.toString('utf8')}`);
  }
  const c = await run(py, ['-m', 'compileall', '-q', dir], { env });
  if (c.status !== 0)
    problems.push(`compileall failed: ${c.stdout.toString('utf8')}${c.stderr.toString('utf8')}`);
  const after = pycBytes(dir);
  for (const [p, bytes] of before) {
    const now = after.get(p);
    if (now === undefined) problems.push(`${p} disappeared`);
    else if (!now.equals(bytes)) problems.push(`${p} was recompiled: Python found it stale`);
  }
  return problems;
}

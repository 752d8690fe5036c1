import { posix } from 'node:path';
import { fs } from '../core/fs.js';
import { errnoOf } from '../core/errors.js';
import { bytesToUtf8, fromBytes, toBytes, type ByteString } from '../core/path-boundary.js';
import { parseShebang } from '../kinds/parse-shebang.js';
import { besideInterpreter } from '../kinds/relocatable-shebang.js';
import { plural, result, someOf, type CheckResult } from './check-result.js';

// Only the head of a script holds its header (see parse-shebang.ts); do not read whole binaries.
const HEAD = 64 * 1024;

function readHead(p: Buffer): Buffer | undefined {
  let fd: number;
  try {
    fd = fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const buf = Buffer.alloc(HEAD);
    const n = fs.readSync(fd, buf, 0, HEAD, 0);
    return buf.subarray(0, n);
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}

/** Why `p` cannot be run as an interpreter, or undefined when it can (symlinks followed, as execve does). */
export function whyNotExecutable(p: ByteString): string | undefined {
  if (!p.startsWith('/'))
    return 'is not an absolute path (the kernel looks it up from the current folder)';
  let st;
  try {
    st = fs.statSync(toBytes(p));
  } catch (err) {
    const code = errnoOf(err);
    if (code === 'ENOENT') {
      try {
        fs.lstatSync(toBytes(p));
        return 'is a broken symlink';
      } catch {
        return 'does not exist';
      }
    }
    return `cannot be reached (${code ?? (err as Error).message})`;
  }
  if (!st.isFile()) return 'is not a file';
  try {
    fs.accessSync(toBytes(p), fs.constants.X_OK);
  } catch {
    return 'is not executable';
  }
  return undefined;
}

/** Where a chain of symlinks ends: the first path that is not a link (or does not exist). */
export function endOfLinks(p: ByteString): ByteString {
  let cur = p;
  // Linux gives up after 40 links (ELOOP); so do we.
  for (let i = 0; i < 40; i++) {
    let st;
    try {
      st = fs.lstatSync(toBytes(cur));
    } catch {
      return cur;
    }
    if (!st.isSymbolicLink()) return cur;
    const t = fromBytes(fs.readlinkSync(toBytes(cur), { encoding: 'buffer' }) as unknown as Buffer);
    cur = t.startsWith('/') ? posix.normalize(t) : posix.join(posix.dirname(cur), t);
  }
  return cur;
}

/**
 * Every script in bin/ names an interpreter that exists and may be executed, and every link in
 * bin/ (python, python3, python3.X) leads to one. A script whose interpreter is gone fails with
 * a bare "No such file or directory" from the kernel, naming the script rather than the
 * interpreter; this check names both.
 */
export function checkInterpreters(root: ByteString, binDir: string): CheckResult {
  const binAbs = `${root}/${binDir}`;
  const names = (fs.readdirSync(toBytes(binAbs), { encoding: 'buffer' }) as unknown as Buffer[])
    .map(fromBytes)
    .sort();
  // Problems grouped by interpreter and reason: pip's scripts share one interpreter.
  const groups = new Map<string, { interpreter: string; why: string; files: string[] }>();
  const add = (interpreter: ByteString, why: string, file: string) => {
    const key = `${interpreter}\0${why}`;
    const g = groups.get(key) ?? { interpreter: bytesToUtf8(interpreter), why, files: [] };
    g.files.push(file);
    groups.set(key, g);
  };
  let scripts = 0;
  let links = 0;
  for (const name of names) {
    const p = `${binAbs}/${name}`;
    const shown = bytesToUtf8(`${binDir}/${name}`);
    let st;
    try {
      st = fs.lstatSync(toBytes(p));
    } catch {
      continue;
    }
    if (st.isSymbolicLink()) {
      links++;
      const end = endOfLinks(p);
      const why = whyNotExecutable(end);
      if (why !== undefined) add(end, why, shown);
      continue;
    }
    if (!st.isFile()) continue;
    const head = readHead(toBytes(p));
    // A relocatable script (make-relocatable's or uv's) runs the interpreter beside it in bin/.
    const beside = head === undefined ? undefined : besideInterpreter(head);
    const sb = head === undefined || beside !== undefined ? undefined : parseShebang(head);
    const interpreter = beside !== undefined ? `${binAbs}/${beside}` : sb?.interpreter;
    if (interpreter === undefined) continue;
    scripts++;
    const why = whyNotExecutable(interpreter);
    if (why !== undefined) add(interpreter, why, shown);
  }
  const problems = [...groups.values()].map((g) => ({
    message: `${someOf(g.files)}: ${g.files.length === 1 ? 'its' : 'their'} interpreter ${g.interpreter} ${g.why}`,
    paths: g.files,
  }));
  const summary =
    problems.length === 0
      ? `${plural(scripts, 'script')} and ${plural(links, 'link')} in ${binDir}/: every interpreter exists and is executable`
      : `${plural(
          problems.reduce((n, p) => n + p.paths.length, 0),
          'entry',
          'entries',
        )} of ${binDir}/ cannot start`;
  return result('interpreters', summary, problems, [], scripts + links === 0);
}

/**
 * Script headers as pip writes them (through distlib's ScriptMaker._build_shebang, the same
 * text from pip 18.1 to 24.2 and in Debian's distlib 0.3.6):
 *
 * - simple: `#!/venv/bin/python -E\n`
 * - exec, when `#!` + interpreter + args + newline would exceed 127 bytes (Linux's old
 *   BINPRM_BUF_SIZE) or the interpreter path holds a space:
 *
 *       #!/bin/sh
 *       '''exec' "/venv path/bin/python" -E "$0" "$@"
 *       ' '''
 *
 *   sh runs line 2 (`''` + `'exec'` is the word `exec`); Python sees a comment and a
 *   triple-quoted string that ends on line 3. distlib quotes the interpreter with `"…"` only
 *   when it holds a space; we may also write it in single quotes (see rewrite-shebang.ts), so
 *   the word is read with sh's quoting rules.
 */
import { type ByteString, fromBytes } from '../core/path-boundary.js';

/** A parsed script header. */
export interface Shebang {
  form: 'simple' | 'exec';
  /** The interpreter path, unquoted. */
  interpreter: ByteString;
  /** What follows the interpreter on its line, e.g. " -E" (without the exec form's `"$0" "$@"`). */
  rest: ByteString;
  /** Byte offset where the body starts (after the header's last line ending). */
  headerEnd: number;
  eol: '\n' | '\r\n';
}

/** The opening of the exec form's second line. */
export const EXEC_OPEN = "'''exec' ";
/** The end of the exec form's second line. */
export const EXEC_TAIL = ' "$0" "$@"';
/** The exec form's third line. */
export const EXEC_CLOSE = "' '''";

// Headers are at most a few path lengths long (PATH_MAX is 4096); do not decode a whole
// multi-megabyte file to find them.
const HEADER_WINDOW = 64 * 1024;

interface Line {
  text: string;
  eol: '' | '\n' | '\r\n';
  next: number;
}

function readLine(s: string, pos: number): Line {
  const nl = s.indexOf('\n', pos);
  if (nl === -1) return { text: s.slice(pos), eol: '', next: s.length };
  if (nl > pos && s.charCodeAt(nl - 1) === 0x0d)
    return { text: s.slice(pos, nl - 1), eol: '\r\n', next: nl + 1 };
  return { text: s.slice(pos, nl), eol: '\n', next: nl + 1 };
}

/**
 * Read one sh word of `text[start, limit)`: quotes '…' and "…", backslash escapes. Returns its
 * value and where it ends (at an unquoted blank or `limit`), or undefined when a quote is left
 * open or the word is empty.
 */
export function readShWord(
  text: string,
  start: number,
  limit: number,
): { value: string; end: number } | undefined {
  let value = '';
  let i = start;
  while (i < limit) {
    const c = text[i];
    if (c === ' ' || c === '\t') break;
    if (c === "'") {
      const close = text.indexOf("'", i + 1);
      if (close === -1 || close >= limit) return undefined;
      value += text.slice(i + 1, close);
      i = close + 1;
    } else if (c === '"') {
      i++;
      let closed = false;
      while (i < limit) {
        const d = text[i];
        if (d === '"') {
          closed = true;
          i++;
          break;
        }
        // Inside "…" a backslash only escapes $ ` " \ and newline (POSIX 2.2.3).
        if (d === '\\' && i + 1 < limit && '$`"\\\n'.includes(text[i + 1] ?? '')) {
          if (text[i + 1] !== '\n') value += text[i + 1];
          i += 2;
          continue;
        }
        value += d;
        i++;
      }
      if (!closed) return undefined;
    } else if (c === '\\') {
      if (i + 1 >= limit) return undefined;
      if (text[i + 1] !== '\n') value += text[i + 1];
      i += 2;
    } else {
      value += c;
      i++;
    }
  }
  if (i === start) return undefined;
  return { value, end: i };
}

function parseExec(s: string, line1: Line): Shebang | undefined {
  if (line1.text !== '#!/bin/sh' || line1.eol === '') return undefined;
  const line2 = readLine(s, line1.next);
  const t = line2.text;
  if (line2.eol === '' || !t.startsWith(EXEC_OPEN) || !t.endsWith(EXEC_TAIL)) return undefined;
  const limit = t.length - EXEC_TAIL.length;
  if (limit <= EXEC_OPEN.length) return undefined;
  const word = readShWord(t, EXEC_OPEN.length, limit);
  if (word === undefined) return undefined;
  const line3 = readLine(s, line2.next);
  if (line3.text !== EXEC_CLOSE) return undefined;
  return {
    form: 'exec',
    interpreter: word.value,
    rest: t.slice(word.end, limit),
    headerEnd: line3.next,
    eol: line1.eol,
  };
}

/** Parse a script header in either pip/distlib form; undefined if it is not one. */
export function parseShebang(bytes: Buffer): Shebang | undefined {
  if (bytes.length < 3 || bytes[0] !== 0x23 || bytes[1] !== 0x21) return undefined;
  const s = fromBytes(bytes.subarray(0, Math.min(bytes.length, HEADER_WINDOW)));
  const line1 = readLine(s, 0);
  if (line1.eol === '' && bytes.length > s.length) return undefined;
  const exec = parseExec(s, line1);
  if (exec !== undefined) return exec;
  // The kernel skips blanks after `#!`, then takes the interpreter up to the next blank.
  const body = line1.text;
  let i = 2;
  while (i < body.length && (body[i] === ' ' || body[i] === '\t')) i++;
  let j = i;
  while (j < body.length && body[j] !== ' ' && body[j] !== '\t') j++;
  if (j === i) return undefined;
  return {
    form: 'simple',
    interpreter: body.slice(i, j),
    rest: body.slice(j),
    headerEnd: line1.next,
    eol: line1.eol === '' ? '\n' : line1.eol,
  };
}

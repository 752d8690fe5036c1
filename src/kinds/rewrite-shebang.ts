/**
 * Script headers (`bin/*` written by pip, distlib or virtualenv): move the interpreter path and
 * pick the header form pip would pick for the new path. See src/scan/parse-shebang.ts for the
 * two forms.
 */
import { isUtf8 } from 'node:buffer';
import { RewriteError } from '../core/errors.js';
import {
  type ByteString,
  type Mapping,
  fromBytes,
  isWholePathAt,
  pathRestAt,
  replacePaths,
  toBytes,
} from '../core/path-boundary.js';
import { EXEC_CLOSE, EXEC_OPEN, EXEC_TAIL, type Shebang, parseShebang } from './parse-shebang.js';

// distlib's limit for a simple header on Linux: `#!` + interpreter + args + newline must fit
// in 127 bytes (BINPRM_BUF_SIZE was 128 until Linux 5.1; distlib keeps 127 for every POSIX but
// macOS). We count the file's own line ending, so a CRLF header is one byte stricter.
const MAX_SIMPLE = 127;

// distlib's FIRST_LINE_RE only treats `…pythonw?[0-9.]*` as Python. The exec form is a sh and
// Python polyglot, so only a Python interpreter may be given it.
const PYTHON_NAME = /(?:^|\/)(?:python|pypy)w?[0-9.]*$/;

// Characters sh treats specially inside double quotes (POSIX 2.2.3).
const SPECIAL_IN_DOUBLE = /["$`\\]/;
// What may stay unquoted: no blanks, globs, expansions, separators or quotes. Bytes >= 0x80
// are taken literally by dash, bash and zsh.
const SAFE_UNQUOTED = /^[A-Za-z0-9_./+@%:,=~\x80-\xff-]+$/;

function textRule(bytes: Buffer, mappings: readonly Mapping[]): Buffer | undefined {
  const out = replacePaths(fromBytes(bytes), mappings);
  return out === undefined ? undefined : toBytes(out);
}

function singleQuote(path: string): string {
  return "'" + path.replace(/'/g, "'\\''") + "'";
}

function doubleQuote(path: string): string {
  return '"' + path.replace(/["$`\\]/g, '\\$&') + '"';
}

function isHex(s: string): boolean {
  return /^[0-9A-Fa-f]+$/.test(s);
}

/**
 * True when `content` can sit inside a Python `'''…'''` string: it holds no unescaped `'''`,
 * and every escape is one the compiler accepts (`\x` needs two hex digits, `\u` four, `\U`
 * eight, and `\N{…}` a Unicode name, which we cannot check, so we refuse it). Escapes that are
 * merely unknown (`\d`) compile, with a SyntaxWarning since Python 3.12.
 */
export function fitsPythonTripleString(content: string): boolean {
  let i = 0;
  while (i < content.length) {
    const c = content[i];
    if (c === '\\') {
      const n = content[i + 1];
      if (n === 'x' && !isHex(content.slice(i + 2, i + 4).padEnd(2, 'z'))) return false;
      if (n === 'u' && !isHex(content.slice(i + 2, i + 6).padEnd(4, 'z'))) return false;
      if (n === 'U') {
        const h = content.slice(i + 2, i + 10);
        if (h.length < 8 || !isHex(h) || parseInt(h, 16) > 0x10ffff) return false;
      }
      if (n === 'N') return false;
      i += 2;
      continue;
    }
    if (c === "'" && content.startsWith("'''", i)) return false;
    i++;
  }
  return true;
}

function execLine(word: string, rest: string): string {
  return EXEC_OPEN + word + rest + EXEC_TAIL;
}

// The sh word for the interpreter in the exec form. distlib writes it bare, or in "…" when it
// holds a space; a path holding " $ ` or \ goes in '…' instead, where nothing is special but
// the quote itself. Each candidate must also leave the exec line valid inside Python's
// triple-quoted string; the other quoting is tried when the preferred one is not.
function quoteForExec(path: string, rest: string, eol: string): string {
  if (SAFE_UNQUOTED.test(path)) return path;
  const candidates = SPECIAL_IN_DOUBLE.test(path)
    ? [singleQuote(path), doubleQuote(path)]
    : [doubleQuote(path), singleQuote(path)];
  for (const word of candidates) {
    // What Python sees: from after the opening ''' to the closing ''' on line 3.
    const content = execLine(word, rest).slice(3) + eol + EXEC_CLOSE.slice(0, -3);
    if (fitsPythonTripleString(content)) return word;
  }
  throw new RewriteError(
    'unquotable',
    `the interpreter path ${JSON.stringify(path)} cannot be quoted in a script header that sh and Python both read`,
  );
}

// pip's data scripts (`#!python` in a wheel's .data/scripts) get `#!` + sys.executable with
// no quoting at all, so a venv path with a space gave `#!/old path/bin/python`. When a mapping
// explains such a header, take the whole path as the interpreter, which the new header will
// quote.
function widenInterpreter(
  sb: Shebang,
  mappings: readonly Mapping[],
): { interpreter: string; rest: string } {
  if (sb.form !== 'simple') return sb;
  const line = sb.interpreter + sb.rest;
  for (const { from, accept } of mappings) {
    if (
      from.length > sb.interpreter.length &&
      line.startsWith(from) &&
      isWholePathAt(line, 0, from.length) &&
      (accept === undefined || accept(pathRestAt(line, from.length)))
    ) {
      let end = from.length;
      while (end < line.length && line[end] !== ' ' && line[end] !== '\t') end++;
      return { interpreter: line.slice(0, end), rest: line.slice(end) };
    }
  }
  return sb;
}

/** Build the header for `interpreter`: simple when it fits, else the exec form, as distlib does. */
export function buildShebang(
  interpreter: ByteString,
  rest: ByteString,
  eol: '\n' | '\r\n',
  options: { python?: boolean; lead?: string; finalEol?: boolean } = {},
): ByteString {
  const python = options.python ?? PYTHON_NAME.test(interpreter);
  const lead = options.lead ?? '';
  const finalEol = options.finalEol ?? true;
  if (/[\n\r]/.test(interpreter)) {
    throw new RewriteError(
      'unquotable',
      `the interpreter path ${JSON.stringify(interpreter)} holds a line break`,
    );
  }
  // Python reads the header as UTF-8 before it can see a coding cookie (PEP 263), and distlib
  // refuses such a shebang too: a non-UTF-8 path makes every such script a SyntaxError.
  if (python && !isUtf8(toBytes(interpreter + rest))) {
    throw new RewriteError(
      'unquotable',
      `the interpreter path ${JSON.stringify(interpreter)} is not UTF-8, which Python requires`,
    );
  }
  const blank = /[ \t]/.test(interpreter);
  const fits = 2 + lead.length + interpreter.length + rest.length + eol.length <= MAX_SIMPLE;
  if (!python) {
    // The exec form would not run another interpreter; a long simple header still runs on
    // Linux >= 5.1 (256 bytes), a blank in the path never does.
    if (blank) {
      throw new RewriteError(
        'unquotable',
        `the interpreter path ${JSON.stringify(interpreter)} holds a blank, which a #! line cannot hold`,
      );
    }
    return '#!' + lead + interpreter + rest + (finalEol ? eol : '');
  }
  if (!blank && fits) return '#!' + lead + interpreter + rest + (finalEol ? eol : '');
  const word = quoteForExec(interpreter, rest, eol);
  return '#!/bin/sh' + eol + execLine(word, rest) + eol + EXEC_CLOSE + (finalEol ? eol : '');
}

/** Move the interpreter path of a script header (either form) and the paths in its body. */
export function rewriteShebang(
  bytes: Buffer,
  ctx: { mappings: readonly Mapping[] },
): Buffer | undefined {
  const sb = parseShebang(bytes);
  if (sb === undefined) return textRule(bytes, ctx.mappings);
  const s = fromBytes(bytes);
  const { interpreter, rest } = widenInterpreter(sb, ctx.mappings);
  const newInterpreter = replacePaths(interpreter, ctx.mappings);
  const newRest = replacePaths(rest, ctx.mappings);
  const body = s.slice(sb.headerEnd);
  const newBody = replacePaths(body, ctx.mappings);
  if (newInterpreter === undefined && newRest === undefined && newBody === undefined)
    return undefined;
  let header = s.slice(0, sb.headerEnd);
  if (newInterpreter !== undefined || newRest !== undefined) {
    const lead = sb.form === 'simple' ? (/^#!([ \t]*)/.exec(s)?.[1] ?? '') : '';
    header = buildShebang(newInterpreter ?? interpreter, newRest ?? rest, sb.eol, {
      python: sb.form === 'exec' || PYTHON_NAME.test(newInterpreter ?? interpreter),
      lead,
      finalEol: header.endsWith('\n'),
    });
  }
  return toBytes(header + (newBody ?? body));
}

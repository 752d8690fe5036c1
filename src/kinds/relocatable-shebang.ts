/**
 * The relocatable script header of `make-relocatable`: a script in bin/ runs the interpreter that
 * sits beside it, found from the script's own place when it starts, so the venv can be moved or
 * copied with no tool run.
 *
 *     #!/bin/sh
 *     <FF># 2>/dev/null || :; _venv_tools_p=$0; …; exec "${_venv_tools_p%/*}/python" "$0" "$@"
 *
 * Line 2 starts with a form feed (0x0c). To Python it is white space before a comment (the
 * language reference, "Indentation": a form feed at the start of a line is ignored), so Python
 * sees two comment lines and then the script's own text, unchanged. That is the point: the
 * polyglot of pip/distlib and uv (`'''exec' … ' '''`) makes Python see a string statement first,
 * which becomes the module's docstring, so a script that starts with its own docstring and then
 * `from __future__ import …` is a SyntaxError ("from __future__ imports must occur at the
 * beginning of the file", astral-sh/uv#6489), and `__doc__` is the header in any script that has
 * a docstring. To sh a form feed is not a blank (POSIX: blanks are space and tab), so `<FF>#` is
 * a command name that is not found: its error goes to /dev/null (sh applies a command's
 * redirections before it reports that the command is missing), `|| :` keeps `set -e` happy,
 * and the rest of the line runs. Checked with dash, BusyBox sh, bash and zsh as sh, under
 * CPython 3.8 to 3.13 and PyPy 3.9.
 *
 * The rest of line 2 is plain POSIX sh: it follows `$0` through symlinks with `readlink`
 * (no options; GNU, BusyBox and BSD all have it) until it is the script itself, so the script
 * works when called through a symlink on PATH, and runs `<that folder>/python` with the path
 * it was called by, as the kernel would have. The path found is only ever expanded inside
 * double quotes, so spaces, quotes and `$` in it are taken as they are. No `realpath --`:
 * BusyBox's realpath rejects `--` (astral-sh/uv#16209).
 */
import { isUtf8 } from 'node:buffer';
import { fromBytes, isWholePathAt, toBytes, type ByteString } from '../core/path-boundary.js';
import { EXEC_CLOSE, parseShebang } from './parse-shebang.js';

/** The variables line 2 uses; unexported names no environment is likely to hold. */
const P = '_venv_tools_p';
const T = '_venv_tools_t';

/** What may follow the interpreter: options pip/distlib pass on (`-E`, `-s`, `-I`), one word each. */
const SAFE_ARG = /^-[A-Za-z0-9]+$/;
/** An interpreter name that needs no quoting inside `"…/NAME"`. */
const SAFE_NAME = /^[A-Za-z0-9._+-]+$/;
const PYTHON_NAME = /^(?:python|pypy)w?[0-9.]*$/;

/** Line 2 of the relocatable header, for the interpreter `name` beside the script. */
export function relocatableExecLine(name: string, args: readonly string[] = []): string {
  const argText = args.map((a) => ` ${a}`).join('');
  return (
    `\f# 2>/dev/null || :; ${P}=$0; case $${P} in /*) ;; *) ${P}=./$${P};; esac; ` +
    `while [ -h "$${P}" ]; do ${T}=$(readlink "$${P}"); case $${T} in /*) ${P}=$${T};; ` +
    `*) ${P}=\${${P}%/*}/$${T};; esac; done; exec "\${${P}%/*}/${name}"${argText} "$0" "$@"`
  );
}

/** The header for `name` (and `args`), both lines, each ending in `\n` (sh reads no `\r`). */
export function relocatableHeader(name: string, args: readonly string[] = []): string {
  return `#!/bin/sh\n${relocatableExecLine(name, args)}\n`;
}

const escapeRe = (t: string): string => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const TEMPLATE = relocatableExecLine('\u0000');
const AT = TEMPLATE.indexOf('\u0000');
const OWN_LINE2 = new RegExp(
  '^' +
    escapeRe(TEMPLATE.slice(0, AT)) +
    // The name, its closing quote, then the options (see relocatableExecLine).
    '([A-Za-z0-9._+-]+)"((?: -[A-Za-z0-9]+)*)' +
    escapeRe(TEMPLATE.slice(AT + 2)) +
    // A coding declaration copied from the script's body (see makeScriptRelocatable).
    '(?: # -\\*- coding: [-\\w.]+ -\\*-)?$',
);

/** A parsed relocatable header: the interpreter's name in bin/, its options, where the body starts. */
export interface RelocatableShebang {
  readonly name: string;
  readonly args: readonly string[];
  readonly headerEnd: number;
}

/** Our own relocatable header, or undefined when `bytes` does not start with it. */
export function parseRelocatableShebang(bytes: Buffer): RelocatableShebang | undefined {
  if (bytes.length < 12 || bytes.toString('latin1', 0, 10) !== '#!/bin/sh\n') return undefined;
  const nl = bytes.indexOf(0x0a, 10);
  if (nl === -1) return undefined;
  const m = OWN_LINE2.exec(bytes.toString('latin1', 10, nl));
  if (m === null) return undefined;
  const args = (m[2] ?? '').split(' ').filter((a) => a !== '');
  return { name: m[1] as string, args, headerEnd: nl + 1 };
}

// uv's relocatable headers (uv-install-wheel, `format_shebang` with relocatable = true): the one
// of uv 0.3 and later, and the earlier one that uv 0.2.3x wrote. Both name the interpreter
// beside the script; make-relocatable replaces them with its own, which BusyBox can run and which
// keeps a script's docstring its own.
const UV_LINE2 = [
  /^'''exec' "\$\(dirname -- "\$\(realpath -- "\$0"\)"\)"\/'([A-Za-z0-9._+-]+)' "\$0" "\$@"$/,
  /^'''exec' "\$\(CDPATH= cd -- "\$\(dirname -- "\$0"\)" && echo "\$PWD"\)"\/'([A-Za-z0-9._+-]+)' "\$0" "\$@"$/,
];

function uvHeader(s: ByteString): { name: string; headerEnd: number } | undefined {
  if (!s.startsWith('#!/bin/sh\n')) return undefined;
  const nl2 = s.indexOf('\n', 10);
  if (nl2 === -1) return undefined;
  const line2 = s.slice(10, nl2);
  const nl3 = s.indexOf('\n', nl2 + 1);
  if (nl3 === -1 || s.slice(nl2 + 1, nl3).replace(/\r$/, '') !== EXEC_CLOSE) return undefined;
  for (const re of UV_LINE2) {
    const m = re.exec(line2.replace(/\r$/, ''));
    if (m !== null) return { name: m[1] as string, headerEnd: nl3 + 1 };
  }
  return undefined;
}

/**
 * The name in bin/ of the interpreter a relocatable script runs (make-relocatable's header or
 * uv's): the Python beside the script. Undefined for any other script.
 */
export function besideInterpreter(bytes: Buffer): string | undefined {
  const own = parseRelocatableShebang(bytes);
  if (own !== undefined) return own.name;
  return uvHeader(fromBytes(bytes.subarray(0, Math.min(bytes.length, 64 * 1024))))?.name;
}

/**
 * What `makeScriptRelocatable` decided: the new bytes; or nothing (already relocatable, or its
 * interpreter is not this venv's); or why a header that runs this venv's Python cannot be made
 * relative (`left`).
 */
export interface ScriptOutcome {
  readonly bytes?: Buffer;
  readonly left?: string;
  /** True when the header replaced was uv's relocatable one (no pin, but not BusyBox-safe). */
  readonly fromUv?: boolean;
}

/** PEP 263's coding declaration, as CPython's tokenizer looks for it on lines 1 and 2. */
const CODING = /^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)/;

/**
 * Give a script in bin/ the relocatable header, when its header (pip's simple `#!/venv/bin/python`
 * or the exec form, or uv's relocatable one) runs `PLACE/<binDir>/NAME`, PLACE being one of
 * `places` (where this venv is or was) and NAME a Python in bin/ (`hasInterpreter`). The body is
 * kept byte for byte; a path to the venv inside it stays (the caller lists it).
 */
export function makeScriptRelocatable(
  bytes: Buffer,
  ctx: {
    readonly places: readonly ByteString[];
    readonly binDir: string;
    readonly hasInterpreter: (name: string) => boolean;
  },
): ScriptOutcome {
  if (parseRelocatableShebang(bytes) !== undefined) return {};
  const s = fromBytes(bytes.subarray(0, Math.min(bytes.length, 64 * 1024)));
  let name: string;
  let args: string[] = [];
  let headerEnd: number;
  const uv = uvHeader(s);
  if (uv !== undefined) {
    ({ name, headerEnd } = uv);
  } else {
    const sb = parseShebang(bytes);
    if (sb === undefined) return {};
    const place = ctx.places.find(
      (p) =>
        sb.interpreter.startsWith(`${p}/${ctx.binDir}/`) &&
        isWholePathAt(sb.interpreter, 0, p.length),
    );
    if (place === undefined) return {};
    name = sb.interpreter.slice(place.length + ctx.binDir.length + 2);
    if (name.includes('/') || !PYTHON_NAME.test(name)) {
      return { left: `its interpreter ${name} is not a Python in ${ctx.binDir}/` };
    }
    args = sb.rest.split(/[ \t]+/).filter((a) => a !== '');
    if (!args.every((a) => SAFE_ARG.test(a))) {
      return { left: `the options after its interpreter (${sb.rest.trim()}) are not plain flags` };
    }
    headerEnd = sb.headerEnd;
  }
  if (!SAFE_NAME.test(name)) return { left: `its interpreter's name ${name} needs quoting` };
  if (!ctx.hasInterpreter(name)) {
    return { left: `its interpreter ${ctx.binDir}/${name} is not in this venv` };
  }
  const body = bytes.subarray(headerEnd);
  let line2 = relocatableExecLine(name, args);
  // The body's first line was the file's line 2, where a coding declaration counts; now it is
  // line 3, where it does not, so line 2 carries it (only when it names another than UTF-8,
  // Python's default, as pip's `# -*- coding: utf-8 -*-` does not).
  const first = fromBytes(body.subarray(0, Math.max(0, body.indexOf(0x0a)))).replace(/\r$/, '');
  const coding = CODING.exec(first)?.[1];
  if (coding !== undefined && !/^utf[-_]?8$/i.test(coding) && isUtf8(toBytes(coding))) {
    line2 += ` # -*- coding: ${coding} -*-`;
  }
  const header = Buffer.from(`#!/bin/sh\n${line2}\n`, 'latin1');
  return { bytes: Buffer.concat([header, body]), ...(uv === undefined ? {} : { fromUv: true }) };
}

/**
 * Byte search of a whole venv for old paths. It shares no code with the product's matcher
 * (src/path-boundary.ts), so a bug there cannot hide itself here: a plain `Buffer.indexOf` of
 * the path's UTF-8 bytes, with its own whole-path rule (`/old/app` is found in
 * `file:///old/app/x` but not in `/old/app2` nor in `/x/old/app`).
 *
 * An old path can hide behind an escape, so each file is also searched in three decoded views:
 * - percent-decoded (`file:///old%20app`, in either hex case, whatever set the encoder kept);
 * - backslash-unescaped (JSON's `\/`, `\"`, `\\`, `\uXXXX`; sh's `"…\$…"`; Python's `\'`, `\xNN`);
 * - sh single quotes rejoined (`'it'\''s'` and `'it'"'"'s'` read as `it's`);
 * and percent-decoded after unescaping (a `file:` URL inside JSON).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** One file (venv-relative) or symlink (`link -> target`), the old paths it names and how they are spelled. */
export interface OldPathHit {
  readonly file: string;
  readonly names: readonly string[];
  /** The spellings found, for each of `names`: `as is`, `percent-encoded`, `backslash-escaped`, `shell-quoted`. */
  readonly spellings: readonly string[];
}

/** Everything that still names an old path, by kind. */
export interface OldPathHits {
  readonly text: OldPathHit[];
  readonly pycs: OldPathHit[];
  readonly binaries: OldPathHit[];
  readonly symlinks: OldPathHit[];
}

// Magic numbers of executables and libraries: ELF, Mach-O (both byte orders, fat), PE/COFF.
const BINARY_MAGICS = [
  Buffer.from([0x7f, 0x45, 0x4c, 0x46]),
  Buffer.from([0xcf, 0xfa, 0xed, 0xfe]),
  Buffer.from([0xce, 0xfa, 0xed, 0xfe]),
  Buffer.from([0xfe, 0xed, 0xfa, 0xcf]),
  Buffer.from([0xca, 0xfe, 0xba, 0xbe]),
  Buffer.from('MZ'),
];

/** Binary for this search: an executable's magic, or a NUL byte in the first 8 KiB (as git and grep judge). */
export function looksBinary(bytes: Buffer): boolean {
  if (BINARY_MAGICS.some((m) => bytes.subarray(0, m.length).equals(m))) return true;
  return bytes.subarray(0, 8192).includes(0);
}

const NAME_PUNCTUATION = new Set([...'._+@~-'].map((c) => c.charCodeAt(0)));

/** A byte that can be part of a file name: `[A-Za-z0-9._+@~-]`, or any byte >= 0x80. */
function isNameByte(b: number | undefined): boolean {
  if (b === undefined) return false;
  return (
    b >= 0x80 ||
    (b >= 0x30 && b <= 0x39) ||
    (b >= 0x41 && b <= 0x5a) ||
    (b >= 0x61 && b <= 0x7a) ||
    NAME_PUNCTUATION.has(b)
  );
}

/** True when `needle` stands in `hay` as a whole path: no name byte right before it, nor right after. */
export function holdsWholePath(hay: Buffer, needle: Buffer): boolean {
  if (needle.length === 0) return false;
  for (let i = hay.indexOf(needle); i !== -1; i = hay.indexOf(needle, i + 1)) {
    if (!isNameByte(hay[i - 1]) && !isNameByte(hay[i + needle.length])) return true;
  }
  return false;
}

function hexValue(b: number | undefined): number {
  if (b === undefined) return -1;
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x41 && b <= 0x46) return b - 0x41 + 10;
  if (b >= 0x61 && b <= 0x66) return b - 0x61 + 10;
  return -1;
}

/** `%XX` (either case) decoded to its byte; anything else kept. */
export function percentDecoded(bytes: Buffer): Buffer {
  const out = Buffer.alloc(bytes.length);
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const hi = bytes[i] === 0x25 ? hexValue(bytes[i + 1]) : -1;
    const lo = hi === -1 ? -1 : hexValue(bytes[i + 2]);
    if (lo !== -1) {
      out[n++] = hi * 16 + lo;
      i += 2;
    } else {
      out[n++] = bytes[i]!;
    }
  }
  return out.subarray(0, n);
}

function hexRun(bytes: Buffer, at: number, digits: number): number {
  let v = 0;
  for (let k = 0; k < digits; k++) {
    const h = hexValue(bytes[at + k]);
    if (h === -1) return -1;
    v = v * 16 + h;
  }
  return v;
}

const CONTROL: Readonly<Record<string, number>> = { n: 0x0a, t: 0x09, r: 0x0d, b: 0x08, f: 0x0c };

/**
 * Backslash escapes undone as JSON, Python string literals and sh double quotes write them:
 * `\uXXXX` (a surrogate pair joined) and `\xNN` become the character's UTF-8 bytes, `\n`, `\t`,
 * `\r`, `\b` and `\f` their control byte, and a backslash before any other byte that byte.
 */
export function backslashUnescaped(bytes: Buffer): Buffer {
  const out: Buffer[] = [];
  let from = 0;
  for (let i = bytes.indexOf(0x5c); i !== -1 && i + 1 < bytes.length; i = bytes.indexOf(0x5c, i)) {
    out.push(bytes.subarray(from, i));
    const c = String.fromCharCode(bytes[i + 1]!);
    let unit = c === 'u' ? hexRun(bytes, i + 2, 4) : c === 'x' ? hexRun(bytes, i + 2, 2) : -1;
    let used = unit === -1 ? 2 : c === 'u' ? 6 : 4;
    if (c === 'u' && unit >= 0xd800 && unit < 0xdc00 && bytes[i + 6] === 0x5c) {
      const low = bytes[i + 7] === 0x75 ? hexRun(bytes, i + 8, 4) : -1;
      if (low >= 0xdc00 && low < 0xe000) {
        unit = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
        used = 12;
      }
    }
    if (unit !== -1) out.push(Buffer.from(String.fromCodePoint(unit), 'utf8'));
    else out.push(Buffer.from([CONTROL[c] ?? bytes[i + 1]!]));
    i += used;
    from = i;
  }
  out.push(bytes.subarray(from));
  return Buffer.concat(out);
}

const SQ_BREAKS = [Buffer.from(`'\\''`), Buffer.from(`'"'"'`)];
const SQ = Buffer.from("'");

/** sh single-quoted strings rejoined: `'\''` and `'"'"'` (a quote written outside the quotes) become `'`. */
export function shellQuotesJoined(bytes: Buffer): Buffer {
  let out = bytes;
  for (const br of SQ_BREAKS) {
    if (out.indexOf(br) === -1) continue;
    const parts: Buffer[] = [];
    let from = 0;
    for (let i = out.indexOf(br); i !== -1; i = out.indexOf(br, from)) {
      parts.push(out.subarray(from, i), SQ);
      from = i + br.length;
    }
    parts.push(out.subarray(from));
    out = Buffer.concat(parts);
  }
  return out;
}

/** The ways of reading a file's bytes that this search tries, each named for the spelling it undoes. */
const VIEWS: readonly { readonly how: string; readonly view: (b: Buffer) => Buffer | undefined }[] =
  [
    { how: 'as is', view: (b) => b },
    { how: 'percent-encoded', view: (b) => (b.includes(0x25) ? percentDecoded(b) : undefined) },
    {
      how: 'backslash-escaped',
      view: (b) => (b.includes(0x5c) ? backslashUnescaped(b) : undefined),
    },
    {
      how: 'shell-quoted',
      view: (b) => (SQ_BREAKS.some((br) => b.includes(br)) ? shellQuotesJoined(b) : undefined),
    },
    {
      how: 'percent-encoded',
      view: (b) =>
        b.includes(0x5c) && b.includes(0x25) ? percentDecoded(backslashUnescaped(b)) : undefined,
    },
  ];

/** The old paths `bytes` names as whole paths, and how each is spelled there (`as is` first). */
export function namedIn(
  bytes: Buffer,
  oldPaths: readonly string[],
): { names: string[]; spellings: string[] } {
  const needles = oldPaths.map((p) => Buffer.from(p, 'utf8'));
  const found = oldPaths.map(() => new Set<string>());
  for (const { how, view } of VIEWS) {
    const v = view(bytes);
    if (v === undefined) continue;
    needles.forEach((needle, k) => {
      if (holdsWholePath(v, needle)) found[k]!.add(how);
    });
  }
  const names: string[] = [];
  const spellings: string[] = [];
  oldPaths.forEach((p, k) => {
    const hows = found[k]!;
    if (hows.size === 0) return;
    names.push(p);
    // A path found as is also shows in the decoded views: name those only when it is not.
    spellings.push(hows.has('as is') ? 'as is' : [...hows].join(', '));
  });
  return { names, spellings };
}

/**
 * Every file and symlink under `root` naming one of `oldPaths` as a whole path, in any of the
 * spellings above. Symlinks are never followed (bin/python points at the base interpreter,
 * outside the venv).
 */
export function findOldPaths(root: string, oldPaths: readonly string[]): OldPathHits {
  const hits: OldPathHits = { text: [], pycs: [], binaries: [], symlinks: [] };
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      const rel = path.relative(root, full);
      if (entry.isSymbolicLink()) {
        const target = fs.readlinkSync(full, { encoding: 'buffer' });
        const named = namedIn(target, oldPaths);
        if (named.names.length > 0) {
          hits.symlinks.push({ file: `${rel} -> ${target.toString('utf8')}`, ...named });
        }
      } else if (entry.isDirectory()) {
        walk(full);
      } else if (entry.isFile()) {
        const bytes = fs.readFileSync(full);
        const named = namedIn(bytes, oldPaths);
        if (named.names.length === 0) continue;
        const hit = { file: rel, ...named };
        if (entry.name.endsWith('.pyc')) hits.pycs.push(hit);
        else if (looksBinary(bytes)) hits.binaries.push(hit);
        else hits.text.push(hit);
      }
    }
  };
  walk(root);
  for (const list of Object.values(hits) as OldPathHit[][])
    list.sort((a, b) => (a.file < b.file ? -1 : 1));
  return hits;
}

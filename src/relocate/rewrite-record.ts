/**
 * `*.dist-info/RECORD` (PEP 376 / PEP 627): CSV rows `path,sha256=<urlsafe b64>,size`.
 *
 * pip writes it with Python's csv module, default dialect (pip 18.1 to 24.2): fields holding
 * `,`, `"`, CR or LF are quoted with `"`, quotes doubled, rows end with `\r\n` (csv's default
 * lineterminator; pip opens the file with newline=""), though rows copied by other installers
 * end with `\n`. Rows of files without a hash (pycs, RECORD itself) have empty hash and size.
 * Paths are relative to site-packages unless the file lies elsewhere, then absolute.
 */
import { createHash } from 'node:crypto';
import {
  type ByteString,
  type Mapping,
  fromBytes,
  replacePaths,
  toBytes,
} from '../path-boundary.js';

/** The new hash and size of a listed file. */
export interface RecordUpdate {
  /** urlsafe base64 of the SHA-256 digest, without padding (a leading `sha256=` is tolerated). */
  sha256: string;
  size: number;
}

/** 'sha256=' + urlsafe base64 of the SHA-256 of `bytes`, without padding, as RECORD lists it. */
export function recordHash(bytes: Buffer): string {
  return 'sha256=' + createHash('sha256').update(bytes).digest('base64url');
}

/** The RecordUpdate of a file's new content. */
export function recordUpdateOf(bytes: Buffer): RecordUpdate {
  return { sha256: createHash('sha256').update(bytes).digest('base64url'), size: bytes.length };
}

interface Field {
  /** Raw text in the file, quotes included. */
  readonly raw: string;
  /** Value after CSV unquoting. */
  readonly value: string;
}

interface Row {
  readonly fields: Field[];
  readonly eol: string;
}

// Python's csv reader, default dialect, strict=False: a quote opens a quoted field only at the
// field's start; after the closing quote, other characters are taken literally.
function parseCsv(s: string): { rows: Row[]; blankBefore: string[] } {
  const rows: Row[] = [];
  const blankBefore: string[] = [];
  let i = 0;
  let blank = '';
  while (i < s.length) {
    const c = s[i];
    if (c === '\n' || c === '\r') {
      // An empty line: csv yields [] for it; keep it byte for byte.
      const len = c === '\r' && s[i + 1] === '\n' ? 2 : 1;
      blank += s.slice(i, i + len);
      i += len;
      continue;
    }
    const fields: Field[] = [];
    let eol = '';
    for (;;) {
      const fieldStart = i;
      let value = '';
      if (s[i] === '"') {
        i++;
        for (;;) {
          if (i >= s.length) break;
          if (s[i] === '"') {
            if (s[i + 1] === '"') {
              value += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          value += s[i];
          i++;
        }
      }
      while (i < s.length && s[i] !== ',' && s[i] !== '\n' && s[i] !== '\r') {
        value += s[i];
        i++;
      }
      fields.push({ raw: s.slice(fieldStart, i), value });
      if (s[i] === ',') {
        i++;
        continue;
      }
      if (s[i] === '\r' && s[i + 1] === '\n') eol = '\r\n';
      else if (s[i] === '\r' || s[i] === '\n') eol = s[i] ?? '';
      i += eol.length;
      break;
    }
    rows.push({ fields, eol });
    blankBefore.push(blank);
    blank = '';
  }
  blankBefore.push(blank);
  return { rows, blankBefore };
}

/** A field as csv.writer (QUOTE_MINIMAL) writes it. */
function csvField(value: string): string {
  return /[,"\r\n]/.test(value) ? '"' + value.replace(/"/g, '""') + '"' : value;
}

/**
 * Rewrite a RECORD: absolute path fields move with the mappings, and each row whose file
 * `updateFor(listed path, after mapping)` knows gets its new `sha256=` and size. Rows without
 * a hash keep none.
 */
export function rewriteRecord(
  bytes: Buffer,
  ctx: {
    mappings: readonly Mapping[];
    updateFor: (listedPath: ByteString) => RecordUpdate | undefined;
  },
): Buffer | undefined {
  const s = fromBytes(bytes);
  const { rows, blankBefore } = parseCsv(s);
  let out = '';
  let changed = false;
  rows.forEach((row, r) => {
    out += blankBefore[r] ?? '';
    const fields = row.fields.map((f) => f.raw);
    const path = row.fields[0]?.value ?? '';
    const moved = path.startsWith('/') ? replacePaths(path, ctx.mappings) : undefined;
    if (moved !== undefined) fields[0] = csvField(moved);
    const hash = row.fields[1]?.value ?? '';
    // Rows without a hash (pip lists pycs and RECORD itself as `path,,`) keep none: do not ask,
    // since working out a new hash means hashing the file's new bytes.
    const update = hash === '' ? undefined : ctx.updateFor(moved ?? path);
    if (update !== undefined) {
      const digest = update.sha256.startsWith('sha256=') ? update.sha256.slice(7) : update.sha256;
      fields[1] = csvField('sha256=' + digest);
      fields[2] = csvField(String(update.size));
    }
    const line = fields.join(',');
    if (line !== row.fields.map((f) => f.raw).join(',')) changed = true;
    out += line + row.eol;
  });
  out += blankBefore[rows.length] ?? '';
  return changed ? toBytes(out) : undefined;
}

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
} from '../core/path-boundary.js';
import { parseRecord } from './record.js';

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

/**
 * The path field (CSV-unquoted, as listed) of every row that carries a hash, in file order:
 * the rows whose files need their new hash when `rewriteRecord` runs.
 */
export function listedWithHash(bytes: Buffer): ByteString[] {
  const out: ByteString[] = [];
  for (const row of parseRecord(fromBytes(bytes)).rows) {
    // pip lists pycs and RECORD itself as `path,,`: no hash, so nothing to recompute.
    if (row.hash !== '') out.push(row.path);
  }
  return out;
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
  return rewriteRecordRows(bytes, {
    move: (path) => (path.startsWith('/') ? replacePaths(path, ctx.mappings) : undefined),
    updateFor: ctx.updateFor,
  });
}

/**
 * Rewrite a RECORD row by row: `move(listed path)` gives a row's new path (undefined: it stays),
 * and each row whose file `updateFor(path, after moving)` knows gets its new `sha256=` and size.
 * Rows without a hash keep none. Every other byte stays.
 */
export function rewriteRecordRows(
  bytes: Buffer,
  ctx: {
    move: (listedPath: ByteString) => ByteString | undefined;
    updateFor: (listedPath: ByteString) => RecordUpdate | undefined;
  },
): Buffer | undefined {
  const s = fromBytes(bytes);
  const { rows, blankBefore } = parseRecord(s);
  let out = '';
  let changed = false;
  rows.forEach((row, r) => {
    out += blankBefore[r] ?? '';
    const moved = ctx.move(row.path);
    // Rows without a hash (pip lists pycs and RECORD itself as `path,,`) keep none: do not ask,
    // since working out a new hash means hashing the file's new bytes.
    const update = row.hash === '' ? undefined : ctx.updateFor(moved ?? row.path);
    if (moved === undefined && update === undefined) {
      out += row.line + row.eol;
      return;
    }
    const fields = row.raws?.slice() ?? row.line.split(',');
    if (moved !== undefined) fields[0] = csvField(moved);
    if (update !== undefined) {
      const digest = update.sha256.startsWith('sha256=') ? update.sha256.slice(7) : update.sha256;
      fields[1] = csvField('sha256=' + digest);
      // A number's decimal form never holds `,`, `"`, CR or LF.
      fields[2] = String(update.size);
    }
    const line = fields.join(',');
    if (line !== row.line) changed = true;
    out += line + row.eol;
  });
  out += blankBefore[rows.length] ?? '';
  return changed ? toBytes(out) : undefined;
}

/**
 * Read a `*.dist-info/RECORD` (PEP 376, PEP 627) the way pip does: with Python's csv module,
 * default dialect, strict=False (pip 18.1 to 24.2). Fields holding `,`, `"` or a line break
 * are quoted with `"`, a quote inside is doubled; a quote opens a quoted field only at the
 * field's start, and after the closing quote other characters are taken literally.
 */
import type { ByteString } from '../core/path-boundary.js';

/** One row: the file (relative to the folder holding the .dist-info, or absolute), its hash and size. */
export interface RecordRow {
  readonly path: ByteString;
  /** `sha256=<urlsafe base64, no padding>`, or '' (pycs, RECORD itself). */
  readonly hash: string;
  /** Decimal size in bytes, or ''. */
  readonly size: string;
}

/** The rows of a RECORD (a byte string); empty lines are skipped, as csv yields [] for them. */
export function readRecordRows(s: ByteString): RecordRow[] {
  const rows: RecordRow[] = [];
  let i = 0;
  while (i < s.length) {
    const fields: string[] = [];
    let field = '';
    let inQuotes = false;
    let atStart = true;
    let ended = false;
    while (i < s.length && !ended) {
      const c = s[i] as string;
      if (inQuotes) {
        if (c === '"') {
          if (s[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          inQuotes = false;
          i++;
          continue;
        }
        field += c;
        i++;
        continue;
      }
      if (c === '"' && atStart) {
        inQuotes = true;
        atStart = false;
        i++;
        continue;
      }
      if (c === ',') {
        fields.push(field);
        field = '';
        atStart = true;
        i++;
        continue;
      }
      if (c === '\r' || c === '\n') {
        i += c === '\r' && s[i + 1] === '\n' ? 2 : 1;
        ended = true;
        continue;
      }
      field += c;
      atStart = false;
      i++;
    }
    fields.push(field);
    if (fields.length === 1 && fields[0] === '') continue;
    rows.push({ path: fields[0] ?? '', hash: fields[1] ?? '', size: fields[2] ?? '' });
  }
  return rows;
}

/**
 * Read a `*.dist-info/RECORD` (PEP 376, PEP 627) the way pip does: with Python's csv module,
 * default dialect, strict=False (pip 18.1 to 24.2). Fields holding `,`, `"` or a line break
 * are quoted with `"`, a quote inside is doubled; a quote opens a quoted field only at the
 * field's start, and after the closing quote other characters are taken literally. The one
 * reader of RECORDs: the rewriter, the evidence and verify all use it.
 */
export interface RecordRow {
  /** The row's raw text without its line ending. */
  readonly line: string;
  /**
   * The raw text of each field, quotes included; absent when the row holds no quote, so that
   * `line.split(',')` gives them.
   */
  readonly raws: string[] | undefined;
  /** The first field's value after CSV unquoting: the listed path. */
  readonly path: string;
  /** The second field's value after CSV unquoting: `sha256=…`, or empty. */
  readonly hash: string;
  /** The third: the size in decimal, or empty. */
  readonly size: string;
  /** `\r\n`, `\n` or `\r` as found, or empty for a last row without one. */
  readonly eol: string;
}

const COMMA = 0x2c;
const QUOTE = 0x22;
const CR = 0x0d;
const LF = 0x0a;

/**
 * The next `ch` at or after `from` (s.length when there is none), reusing `known`, an earlier
 * answer for the same char, while it still lies ahead. Each char is then searched for at most
 * once per position, however long the lines: a file without commas stays linear.
 */
function nextOf(s: string, ch: string, from: number, known: number): number {
  if (known >= from) return known;
  const at = s.indexOf(ch, from);
  return at === -1 ? s.length : at;
}

/** The end of the unquoted text that starts at `i`: the next `,`, CR or LF, or the end. */
function unquotedEnd(s: string, i: number): number {
  const n = s.length;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c === COMMA || c === CR || c === LF) return i;
    i++;
  }
  return n;
}

/**
 * One row that holds a quote, read field by field from `i`. Returns the row's fields and where
 * the row ends (at its CR or LF, or the end of `s`).
 */
function quotedRow(s: string, i: number): { raws: string[]; values: string[]; end: number } {
  const n = s.length;
  const raws: string[] = [];
  const values: string[] = [];
  for (;;) {
    const fieldStart = i;
    if (s.charCodeAt(i) === QUOTE) {
      // `""` stands for one quote; CR, LF and `,` are data until the closing quote.
      let value = '';
      let from = i + 1;
      for (;;) {
        const q = s.indexOf('"', from);
        if (q === -1) {
          value += s.slice(from);
          i = n;
          break;
        }
        if (s.charCodeAt(q + 1) === QUOTE) {
          value += s.slice(from, q + 1);
          from = q + 2;
          continue;
        }
        value += s.slice(from, q);
        i = q + 1;
        break;
      }
      const end = unquotedEnd(s, i);
      if (end > i) value += s.slice(i, end);
      i = end;
      raws.push(s.slice(fieldStart, i));
      values.push(value);
    } else {
      i = unquotedEnd(s, i);
      const raw = s.slice(fieldStart, i);
      raws.push(raw);
      values.push(raw);
    }
    if (s.charCodeAt(i) !== COMMA) return { raws, values, end: i };
    i++;
  }
}

// Python's csv reader, default dialect, strict=False: a quote opens a quoted field only at the
// field's start; after the closing quote, other characters are taken literally. A quoted field
// left open at the end of the file ends there (csv raises "unexpected end of data" only when
// strict). Rows without a quote, nearly all of them, are cut with indexOf and slice: building
// each value a char at a time took 169 ms for the 2.2 MB of RECORDs in the benchmark venv.
export function parseRecord(s: string): { rows: RecordRow[]; blankBefore: string[] } {
  const rows: RecordRow[] = [];
  const blankBefore: string[] = [];
  const n = s.length;
  let quote = -1;
  let comma = -1;
  let cr = -1;
  let lf = -1;
  let i = 0;
  let blankStart = 0;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (c === LF || c === CR) {
      // An empty line: csv yields [] for it; keep it byte for byte.
      i += c === CR && s.charCodeAt(i + 1) === LF ? 2 : 1;
      continue;
    }
    const rowStart = i;
    cr = nextOf(s, '\r', i, cr);
    lf = nextOf(s, '\n', i, lf);
    quote = nextOf(s, '"', i, quote);
    let lineEnd = cr < lf ? cr : lf;
    let raws: string[] | undefined;
    let path: string;
    let hash = '';
    let size = '';
    if (quote >= lineEnd) {
      comma = nextOf(s, ',', i, comma);
      if (comma >= lineEnd) {
        path = s.slice(i, lineEnd);
      } else {
        path = s.slice(i, comma);
        const hashStart = comma + 1;
        comma = nextOf(s, ',', hashStart, comma);
        hash = s.slice(hashStart, comma < lineEnd ? comma : lineEnd);
        if (comma < lineEnd) {
          const sizeStart = comma + 1;
          comma = nextOf(s, ',', sizeStart, comma);
          size = s.slice(sizeStart, comma < lineEnd ? comma : lineEnd);
        }
      }
    } else {
      // A quoted field may hold CR, LF and `,`: read this row field by field.
      const row = quotedRow(s, i);
      raws = row.raws;
      path = row.values[0] ?? '';
      hash = row.values[1] ?? '';
      size = row.values[2] ?? '';
      lineEnd = row.end;
    }
    let eol = '';
    if (lineEnd < n) {
      eol =
        s.charCodeAt(lineEnd) === CR && s.charCodeAt(lineEnd + 1) === LF
          ? '\r\n'
          : s.charAt(lineEnd);
    }
    rows.push({ line: s.slice(rowStart, lineEnd), raws, path, hash, size, eol });
    blankBefore.push(s.slice(blankStart, rowStart));
    i = lineEnd + eol.length;
    blankStart = i;
  }
  blankBefore.push(s.slice(blankStart, n));
  return { rows, blankBefore };
}

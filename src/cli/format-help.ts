/**
 * The parts of --help that yargs would wrap in the middle of a command: the examples, and the
 * list of virtualenv-tools' flags. A command line is never broken: each example stays whole on
 * its line, with its explanation beside it when both fit the terminal's width, or on the line
 * below it when they do not. Explanations are wrapped at spaces.
 */

/** Wrap `text` at spaces into lines of at most `width` characters (a longer word stays whole). */
export function wrapWords(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line === '') line = word;
    else if (line.length + 1 + word.length <= width) line += ` ${word}`;
    else {
      lines.push(line);
      line = word;
    }
  }
  lines.push(line);
  return lines;
}

/** The narrowest an explanation beside its command may be before it goes below instead. */
const MIN_BESIDE = 24;

/**
 * A titled list of (left, right) rows: side by side when every left fits with at least
 * MIN_BESIDE columns of explanation beside it, else each left on its own line and its
 * explanation below, indented. Lefts are never broken.
 */
export function formatRows(
  title: string,
  rows: ReadonlyArray<readonly [string, string]>,
  width: number,
): string[] {
  const lines = [`${title}:`];
  const left = Math.max(...rows.map(([l]) => l.length)) + 2;
  const beside = width - 2 - left;
  if (beside >= MIN_BESIDE) {
    for (const [l, r] of rows) {
      const [first = '', ...more] = wrapWords(r, beside);
      lines.push(`  ${l.padEnd(left)}${first}`.trimEnd());
      for (const m of more) lines.push(`  ${' '.repeat(left)}${m}`);
    }
  } else {
    for (const [l, r] of rows) {
      lines.push(`  ${l}`);
      for (const m of wrapWords(r, Math.max(MIN_BESIDE, width - 6))) lines.push(`      ${m}`);
    }
  }
  return lines;
}

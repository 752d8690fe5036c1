import { NO_PAINT, type Paint } from './format-report.js';
import { CHECK_NAMES, type CheckResult } from '../verify/check-result.js';
import type { VerifyReport } from '../verify/verify-report.js';

/** Check names are padded to one width, so summaries line up. */
const WIDTH = Math.max(...CHECK_NAMES.map((n) => n.length));
/** Problems and notes sit under the summary: "  FAIL  <name>  " is this wide. */
const INDENT = ' '.repeat(2 + 4 + 2 + WIDTH + 2);

function statusWord(c: CheckResult, paint: Paint): string {
  switch (c.status) {
    case 'ok':
      return paint.green('ok  ');
    case 'failed':
      return paint.red('FAIL');
    case 'skipped':
      return paint.dim('skip');
  }
}

/** Why the venv is in the state it is, in one sentence, when verify found problems. */
function diagnosis(r: VerifyReport): string | undefined {
  // A relocatable venv's pycs name where it was made, so its state says nothing about a move.
  if (r.relocatable) {
    return r.problems.some((p) => p.check === 'relocatable')
      ? 'Something pins it to its path, so a plain mv or cp -a may break it.'
      : undefined;
  }
  switch (r.state) {
    case 'moved':
      return `Its files name ${r.foreign.join(' and ')}, but it stands at ${r.root}: it was moved or copied without being relocated.`;
    case 'half-relocated':
      return `Some of its files name ${r.root}, others ${r.foreign.join(' and ')}: a relocation did not finish.`;
    case 'ambiguous':
      return `Its files name several other places (${r.foreign.join(', ')}).`;
    default:
      return undefined;
  }
}

/**
 * The human report of `venv-tools verify`: one line per check, its problems below it, then the
 * commands that fix them. The last line says clean or how many problems.
 */
export function formatVerify(r: VerifyReport, paint: Paint = NO_PAINT): string[] {
  const lines = [`${paint.bold('Verify')} ${r.path} (${r.root})`];
  if (r.recovered.state === 'completed') {
    lines.push(
      paint.yellow(
        `  finished an interrupted run first (${r.recovered.files} files from its journal)`,
      ),
    );
  }
  for (const c of r.checks) {
    lines.push(`  ${statusWord(c, paint)}  ${c.name.padEnd(WIDTH)}  ${c.summary}`);
    for (const p of c.problems) lines.push(`${INDENT}${paint.red('-')} ${p.message}`);
    for (const n of c.notes) lines.push(`${INDENT}${paint.dim(`note: ${n}`)}`);
  }
  lines.push('');
  if (r.ok) {
    lines.push(
      `${paint.green('ok:')} ${r.path} works where it stands${r.relocatable ? ', and nothing pins it to its path' : ''}`,
    );
    return lines;
  }
  const n = r.problems.length;
  lines.push(
    `${paint.red(`${n} problem${n === 1 ? '' : 's'}.`)}${diagnosis(r) === undefined ? '' : ` ${diagnosis(r)}`}`,
  );
  if (r.fixes.length > 0) {
    lines.push(`Fix ${r.fixes.length === 1 ? 'it' : 'them'} with:`);
    for (const f of r.fixes) lines.push(`  ${paint.bold(f.command)}`, paint.dim(`    (${f.why})`));
  }
  return lines;
}

/** The human report of `venv-tools make-relocatable`. */
import type { MakeRelocatableReport } from '../relocate/make-relocatable-report.js';
import { formatByKind, formatCounts, NO_PAINT, type Paint } from './format-report.js';

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

/**
 * What was rewritten (a dry run lists it file by file), then what still pins the venv and why it
 * cannot be made relative, then one line that says whether the venv is relocatable now.
 */
export function formatMakeRelocatable(r: MakeRelocatableReport, paint: Paint = NO_PAINT): string[] {
  const lines: string[] = [];
  if (r.recovered.state === 'completed') {
    lines.push(
      paint.yellow(
        `Finished an interrupted run first (${r.recovered.files} files from its journal).`,
      ),
    );
  }
  if (r.status === 'already-relocatable') {
    lines.push(`${paint.green('Already relocatable:')} ${r.path} (${r.root})`);
  } else {
    const head =
      r.status === 'dry-run'
        ? paint.bold('Would make relocatable')
        : paint.green('Made relocatable');
    lines.push(`${head} ${r.path} (${r.root})`);
    if (r.status === 'dry-run')
      lines.push(...formatByKind(r.changes, paint, (c) => paint.dim(`  (${c.reason})`)));
    const verb = r.status === 'dry-run' ? 'would rewrite' : 'rewrote';
    lines.push(
      `  ${verb} ${r.changes.length}: ${formatCounts(r.counts)}; ${seconds(r.timings.total)}`,
    );
  }
  if (r.left.length > 0) {
    lines.push(
      paint.yellow(
        `  ${r.left.length} file${r.left.length === 1 ? '' : 's'} still name${r.left.length === 1 ? 's' : ''} the venv and cannot be made relative:`,
      ),
    );
    for (const l of r.left) {
      const names = l.names.length === 0 ? '' : ` (names ${l.names.join(' and ')})`;
      lines.push(`    ${l.path}${names}: ${l.why}`);
    }
    lines.push(
      paint.dim(
        `  It works after a move only if these do not matter there; venv-tools verify ${r.path} --relocatable lists them too.`,
      ),
    );
  } else if (r.status !== 'dry-run') {
    lines.push(
      paint.dim(
        '  Nothing pins it to its path: mv, cp -a or tar it anywhere. A later pip install writes absolute script headers again; run make-relocatable again after it.',
      ),
    );
  }
  return lines;
}

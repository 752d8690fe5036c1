import { ALL_KINDS, type FileKind } from '../kinds/file-kind.js';
import type { RelocationReport } from '../relocate/relocation-report.js';

/** Paint functions; the CLI passes chalk's or identity ones (no colour off a TTY). */
export interface Paint {
  readonly bold: (s: string) => string;
  readonly dim: (s: string) => string;
  readonly green: (s: string) => string;
  readonly yellow: (s: string) => string;
  readonly red: (s: string) => string;
}

export const NO_PAINT: Paint = {
  bold: (s) => s,
  dim: (s) => s,
  green: (s) => s,
  yellow: (s) => s,
  red: (s) => s,
};

/**
 * "30 shebang, 5 activate, 2 record" from per-kind counts. Kinds are named as `--json` names
 * them (kinds/file-kind.ts), so that the text and the JSON speak one vocabulary.
 */
export function formatCounts(counts: Partial<Record<FileKind, number>>): string {
  const parts = ALL_KINDS.filter((k) => (counts[k] ?? 0) > 0).map((k) => `${counts[k]} ${k}`);
  return parts.length === 0 ? 'nothing' : parts.join(', ');
}

/** "1.52 s". */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

/** "22.4 MB". */
export function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/** Files grouped by kind, in report order: a header with the count, then one line per file. */
export function formatByKind<
  F extends { readonly path: string; readonly kind: FileKind; readonly letter: string },
>(files: readonly F[], paint: Paint = NO_PAINT, note: (f: F) => string = () => ''): string[] {
  const lines: string[] = [];
  for (const kind of ALL_KINDS) {
    const ofKind = files.filter((f) => f.kind === kind);
    if (ofKind.length === 0) continue;
    lines.push(`  ${paint.bold(kind)} (${ofKind.length})`);
    for (const f of ofKind) lines.push(`    ${f.letter} ${f.path}${note(f)}`);
  }
  return lines;
}

/** The pycs a relocation cannot rewrite, one each: what becomes of it, and why. */
export function formatDroppedPycs(
  dropped: RelocationReport['droppedPycs'],
  paint: Paint = NO_PAINT,
): string[] {
  const lines: string[] = [];
  for (const d of dropped) {
    const what =
      d.outcome === 'regenerated'
        ? `compiled again from ${d.source ?? '?'}`
        : d.outcome === 'refused'
          ? paint.red('refused: no source beside it (--drop-unreadable-pycs removes it)')
          : d.source === undefined
            ? 'removed (no source)'
            : `removed (Python compiles it from ${d.source} on import)`;
    lines.push(`    ${d.path}: ${what}`, paint.dim(`      ${d.reason}`));
  }
  return lines;
}

/**
 * The human summary of a relocation (the `relocate` command's stdout). A dry run lists the plan,
 * file by file, grouped by kind. The last line is the summary: files scanned, files rewritten by
 * kind, warnings, time taken.
 */
export function formatRelocation(r: RelocationReport, paint: Paint = NO_PAINT): string[] {
  const lines: string[] = [];
  if (r.recovered.state === 'completed') {
    lines.push(
      paint.yellow(
        `Finished an interrupted relocation first (${r.recovered.files} files from its journal).`,
      ),
    );
  }
  if (r.status === 'up-to-date') {
    lines.push(`${paint.green('Already up-to-date:')} ${r.path} (${r.new})`);
    return lines;
  }
  const n = r.changes.length;
  const head = r.status === 'dry-run' ? paint.bold('Would relocate') : paint.green('Relocated');
  lines.push(`${head} ${r.path}: ${r.old} -> ${r.new}`);
  for (const m of r.mappings.slice(1)) {
    lines.push(paint.dim(`  also mapping ${m.from} -> ${m.to} (${m.why})`));
  }
  if (r.status === 'dry-run') lines.push(...formatByKind(r.changes, paint));
  if (r.droppedPycs.length > 0) {
    lines.push(`  ${paint.bold('pycs not rewritten')} (${r.droppedPycs.length})`);
    lines.push(...formatDroppedPycs(r.droppedPycs, paint));
  }
  const verb = r.status === 'dry-run' ? 'would rewrite' : 'rewrote';
  lines.push(
    `  ${r.stats.files} files scanned (${mb(r.stats.bytes)}), ${verb} ${n}: ${formatCounts(r.counts)}; ` +
      `${r.warnings.length} warning${r.warnings.length === 1 ? '' : 's'}; ${seconds(r.timings.total)}`,
  );
  return lines;
}

/** Warnings, one a line, for stderr. */
export function formatWarnings(
  r: { readonly warnings: ReadonlyArray<{ readonly message: string }> },
  paint: Paint = NO_PAINT,
): string[] {
  return r.warnings.map((w) => `${paint.yellow('warning:')} ${w.message}`);
}

import { ALL_KINDS, type FileKind } from './kinds.js';
import type { RelocationReport } from './relocate/relocate.js';

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

const KIND_NAMES: Record<FileKind, string> = {
  shebang: 'script',
  activate: 'activate',
  'pyvenv-cfg': 'pyvenv.cfg',
  pth: '.pth',
  'egg-link': 'egg-link',
  finder: 'editable finder',
  'direct-url': 'direct_url.json',
  record: 'RECORD',
  pyc: 'pyc',
  'pyc-removed': 'pyc removed',
  symlink: 'symlink',
  text: 'text',
  binary: 'binary',
};

/** "30 script, 5 activate, 2 RECORD" from per-kind counts. */
export function formatCounts(counts: Partial<Record<FileKind, number>>): string {
  const parts = ALL_KINDS.filter((k) => (counts[k] ?? 0) > 0).map(
    (k) => `${counts[k]} ${KIND_NAMES[k]}`,
  );
  return parts.length === 0 ? 'nothing' : parts.join(', ');
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/** The human summary of a relocation (the `relocate` command's stdout). */
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
  if (r.status === 'dry-run') {
    for (const c of r.changes) lines.push(`  ${c.letter} ${c.path}`);
  }
  const verb = r.status === 'dry-run' ? 'would rewrite' : 'rewrote';
  lines.push(
    `  ${r.stats.files} files scanned (${mb(r.stats.bytes)}), ${verb} ${n}: ${formatCounts(r.counts)}; ` +
      `${r.warnings.length} warning${r.warnings.length === 1 ? '' : 's'}; ${seconds(r.timings.total)}`,
  );
  return lines;
}

/** Warnings, one a line, for stderr. */
export function formatWarnings(r: RelocationReport, paint: Paint = NO_PAINT): string[] {
  return r.warnings.map((w) => `${paint.yellow('warning:')} ${w.message}`);
}

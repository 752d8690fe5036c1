import { ALL_KINDS, type FileKind } from '../kinds/file-kind.js';
import type { RelocationReport } from '../relocate/relocation-report.js';
import type { Layout } from '../scan/detect-layout.js';
import type { ScanReport } from './scan-report.js';
import type { LocationReport, ScanState } from '../scan/locations.js';

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

/** Files grouped by kind, in report order: a header with the count, then one line per file. */
export function formatByKind<
  F extends { readonly path: string; readonly kind: FileKind; readonly letter: string },
>(files: readonly F[], paint: Paint = NO_PAINT, note: (f: F) => string = () => ''): string[] {
  const lines: string[] = [];
  for (const kind of ALL_KINDS) {
    const ofKind = files.filter((f) => f.kind === kind);
    if (ofKind.length === 0) continue;
    lines.push(`  ${paint.bold(KIND_NAMES[kind])} (${ofKind.length})`);
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

function creatorOf(layout: Layout): string {
  const who =
    layout.creatorVersion === undefined
      ? layout.creator
      : `${layout.creator} ${layout.creatorVersion}`;
  const impl = layout.implementation === 'pypy' ? 'PyPy' : 'CPython';
  return `${who}, ${impl} ${layout.cfgVersion ?? layout.pythonVersion}`;
}

/** "bin/activate, bin/pip, … (9 files)" for a list of files. */
function fileList(files: readonly string[]): string {
  const unique = [...new Set(files)];
  if (unique.length <= 4) return unique.join(', ');
  return `${unique.slice(0, 4).join(', ')}, … (${unique.length} files)`;
}

const SUMMARY_WORDS: Partial<Record<LocationReport['evidence'][number]['source'], string>> = {
  pyc: 'pycs',
  record: 'RECORDs',
  pth: '.pth files',
  'egg-link': 'egg-links',
};

/**
 * A location's evidence: its files one by one ("bin/activate, bin/pip, … (9 files)"), and a
 * count for each summarised source ("1736 pycs, e.g. lib/…/mod.cpython-312.pyc").
 */
function evidenceList(evidence: LocationReport['evidence']): string {
  const single = evidence.filter((e) => e.count === 1).map((e) => e.file);
  const parts = single.length === 0 ? [] : [fileList(single)];
  for (const e of evidence) {
    if (e.count === 1) continue;
    parts.push(`${e.count} ${SUMMARY_WORDS[e.source] ?? 'files'}, e.g. ${e.file}`);
  }
  return parts.join('; ');
}

const STATE_WORDS: Record<ScanState, string> = {
  'in-place': 'in place: its files name where it stands',
  moved: 'moved: its files name another place',
  'half-relocated': 'half relocated: some files name where it stands, others another place',
  ambiguous: 'unclear: its files name several other places',
  unknown: 'unknown: no file names a location',
};

/** The human report of `venv-tools scan`. */
export function formatScan(r: ScanReport, paint: Paint = NO_PAINT): string[] {
  const l = r.layout;
  const lines = [
    `${paint.bold('Venv')} ${r.path} (${r.root})`,
    `  created by     ${creatorOf(l)}`,
    `  python         ${l.pythonVersion} (${l.libDir})`,
    `  bin dir        ${l.binDir}`,
    `  site-packages  ${l.sitePackages}`,
    `  location       ${STATE_WORDS[r.state]}`,
  ];
  if (r.recovered.state === 'completed') {
    lines.push(
      paint.yellow(
        `  finished an interrupted run first (${r.recovered.files} files from its journal)`,
      ),
    );
  }
  for (const loc of r.locations) {
    const where = loc.here ? paint.green('here') : paint.yellow('elsewhere');
    lines.push(`  evidence       ${loc.location} (${where}): ${evidenceList(loc.evidence)}`);
  }
  if (r.old !== null) {
    const follows = r.files.filter((f) => !f.names).length;
    lines.push(
      '',
      `${paint.bold(`Files that name ${r.old}`)}: ${r.files.length - follows}` +
        (follows > 0 ? ` (and ${follows} that follow them)` : '') +
        '; a relocation rewrites them all',
    );
    lines.push(
      ...formatByKind(r.files, paint, (f) =>
        f.names ? '' : paint.dim('  (follows a rewritten file)'),
      ),
    );
  }
  if (r.droppedPycs.length > 0) {
    lines.push('', `${paint.bold('Pycs a relocation cannot rewrite')}: ${r.droppedPycs.length}`);
    lines.push(...formatDroppedPycs(r.droppedPycs, paint));
  }
  if (r.binaries.length > 0) {
    lines.push('', `${paint.bold('Binaries that name it')}: ${r.binaries.length}; never edited`);
    for (const b of r.binaries)
      lines.push(`    ${b.path} (${b.format}, ${b.matches} time${b.matches === 1 ? '' : 's'})`);
  }
  for (const m of r.mappings.slice(1))
    lines.push(paint.dim(`  also mapping ${m.from} -> ${m.to} (${m.why})`));
  if (r.fixes.length > 0) {
    lines.push('', `${paint.bold('To make it work where it stands')}:`);
    for (const f of r.fixes) lines.push(`  ${f.command}`);
  }
  lines.push(
    '',
    `${r.stats.files} files scanned (${mb(r.stats.bytes)}), ${r.files.length} to rewrite: ${formatCounts(r.counts)}; ` +
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

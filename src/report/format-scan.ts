/**
 * The human report of `venv-tools scan`: by default a summary to take in at a glance (where
 * the venv thinks it is and where it stands, the files that name the old place by kind, the
 * binaries that hold it, and what a relocation would do and about how long it would take);
 * with --verbose, every file a relocation would rewrite, by kind, too.
 */
import type { FileKind } from '../kinds/file-kind.js';
import type { Layout } from '../scan/detect-layout.js';
import type { LocationReport, ScannedFile, ScanState } from '../scan/locations.js';
import {
  formatByKind,
  formatCounts,
  formatDroppedPycs,
  mb,
  NO_PAINT,
  seconds,
  type Paint,
} from './format-report.js';
import type { ScanReport } from './scan-report.js';
import { commandLine } from '../verify/fix-command.js';

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

/** Where the venv's files say it is. */
function thinks(r: ScanReport): string {
  const others = r.locations.filter((l) => !l.here).map((l) => l.location);
  switch (r.state) {
    case 'in-place':
      return r.old ?? r.root;
    case 'moved':
    case 'half-relocated':
      return others[0] ?? '?';
    case 'ambiguous':
      return `several places: ${others.join(', ')}`;
    case 'unknown':
      return 'nowhere: no file names a location';
  }
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Why files that do not name the location change with those that do, by kind. */
function followers(files: readonly ScannedFile[]): string {
  const byKind = new Map<FileKind, number>();
  for (const f of files) if (!f.names) byKind.set(f.kind, (byKind.get(f.kind) ?? 0) + 1);
  const parts = [...byKind].map(([kind, n]) => {
    if (kind === 'record') return `${n === 1 ? 'a RECORD' : `${n} RECORDs`} listing their hashes`;
    if (kind === 'pyc') return `${n === 1 ? 'a pyc' : `${n} pycs`} recording their source's size`;
    return `${plural(n, kind)}`;
  });
  return parts.join(', ');
}

/**
 * About how long a relocation of the files scan found takes: the reading and planning scan
 * itself just did (a relocation reads and plans the same files the same way), plus writing
 * their new contents twice (the journal, then the files) and a small cost per file. A guess
 * for the order of magnitude, never a promise; a large venv is planned on two threads, which
 * makes it faster.
 */
export function estimateRelocationMs(r: ScanReport): number {
  const planning = r.timings.walk + r.timings.search + r.timings.plan;
  const writing = (2 * r.rewriteBytes) / 300e3 + r.files.length * 0.05;
  return planning + writing;
}

/** "about 0.6 s", "well under a second". */
function about(ms: number): string {
  return ms < 100 ? 'well under a second' : `about ${(ms / 1000).toFixed(1)} s`;
}

/** Options of the scan report. */
export interface ScanTextOptions {
  /** List every file a relocation would rewrite, by kind. */
  readonly verbose?: boolean;
}

/** The human report of `venv-tools scan`. */
export function formatScan(
  r: ScanReport,
  paint: Paint = NO_PAINT,
  opts: ScanTextOptions = {},
): string[] {
  const l = r.layout;
  const lines = [
    `${paint.bold('Venv')} ${r.path} (${r.root})`,
    `  created by     ${creatorOf(l)}`,
    `  python         ${l.pythonVersion} (${l.libDir})`,
    `  bin dir        ${l.binDir}`,
    `  site-packages  ${l.sitePackages}`,
    `  thinks it is   ${thinks(r)}`,
    `  stands at      ${r.root}`,
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
  const inPlace = r.state === 'in-place';
  if (r.old !== null) {
    const follows = r.files.filter((f) => !f.names).length;
    const naming = r.files.length - follows;
    const what = inPlace ? `${r.old}, where it stands` : r.old;
    lines.push(
      '',
      `${paint.bold(`Files that name ${what}`)}: ${naming}` +
        (follows > 0
          ? `, and ${follows} that ${follows === 1 ? 'changes' : 'change'} with them (${followers(r.files)})`
          : ''),
      `  by kind        ${formatCounts(r.counts)}`,
    );
    if (opts.verbose === true) {
      lines.push(
        ...formatByKind(r.files, paint, (f) => (f.names ? '' : paint.dim('  (changes with them)'))),
      );
    }
  }
  if (r.droppedPycs.length > 0) {
    lines.push('', `${paint.bold('Pycs a relocation cannot rewrite')}: ${r.droppedPycs.length}`);
    const shown = opts.verbose === true ? r.droppedPycs : r.droppedPycs.slice(0, 10);
    lines.push(...formatDroppedPycs(shown, paint));
    if (shown.length < r.droppedPycs.length)
      lines.push(
        `    … and ${r.droppedPycs.length - shown.length} more (--verbose lists them all)`,
      );
  }
  if (r.binaries.length > 0) {
    lines.push('', `${paint.bold('Binaries that name it')}: ${r.binaries.length}; never edited`);
    const shown = opts.verbose === true ? r.binaries : r.binaries.slice(0, 10);
    for (const b of shown)
      lines.push(`    ${b.path} (${b.format}, ${b.matches} time${b.matches === 1 ? '' : 's'})`);
    if (shown.length < r.binaries.length)
      lines.push(`    … and ${r.binaries.length - shown.length} more (--verbose lists them all)`);
  } else if (r.old !== null) {
    lines.push(`  binaries       none holds it`);
  }
  const estimate = about(estimateRelocationMs(r));
  const size = `${plural(r.files.length, 'file')} (${mb(r.rewriteBytes)})`;
  if (inPlace) {
    lines.push(
      '',
      `${paint.green('It is in place')}: nothing to relocate. Moved elsewhere, a relocation would rewrite these ${size}, in ${estimate}.`,
    );
  } else if (r.fixes.length > 0) {
    lines.push('', `${paint.bold('To make it work where it stands')}:`);
    for (const f of r.fixes) lines.push(`  ${f.command}`);
    if (r.files.length > 0) lines.push(`  rewrites these ${size}, in ${estimate}`);
  }
  for (const m of r.mappings.slice(1))
    lines.push(paint.dim(`  also mapping ${m.from} -> ${m.to} (${m.why})`));
  const rewrite = inPlace ? 'nothing to rewrite where it stands' : `${r.files.length} to rewrite`;
  lines.push(
    '',
    `${r.stats.files} files scanned (${mb(r.stats.bytes)}), ${rewrite}; ` +
      `${plural(r.warnings.length, 'warning')}; ${seconds(r.timings.total)}`,
  );
  if (opts.verbose !== true && r.files.length > 0) {
    const again = commandLine(['venv-tools', 'scan', r.path, '--verbose']);
    lines.push(paint.dim(`Every file, by kind: ${again}`));
  }
  return lines;
}

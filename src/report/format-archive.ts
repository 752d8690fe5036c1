import type { ArchiveLayout, ArchiveReport, PackReport, UnpackReport } from './archive-report.js';
import { formatCounts, NO_PAINT, type Paint } from './format-report.js';

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

const LAYOUTS: Record<ArchiveLayout, string> = {
  'venv-at-root': "the archive's root is the venv",
  'venv-in-top-folder': 'its single top folder is the venv (stripped)',
  'app-tree': 'an app tree holds the venv(s)',
};

/** `venv-tools pack`'s report. */
export function formatPack(r: PackReport, paint: Paint = NO_PAINT): string[] {
  const lines = [
    `${paint.bold('Packed')} ${r.path} -> ${r.archive} (${r.format}, ${r.codec})`,
    `  members: ${r.members}, ${mb(r.bytes)} of files; archive ${mb(r.archiveBytes)}`,
  ];
  if (r.from !== null) {
    lines.push(`  relocated in the stream: ${r.from} -> ${r.prefix}`);
    lines.push(`  rewrote: ${formatCounts(r.rewritten)}`);
  }
  lines.push(`  names ${r.prefix}: ${formatCounts(r.holders)}`);
  lines.push(paint.dim(`  took ${seconds(r.ms.total)}`));
  return lines;
}

/** `venv-tools unpack`'s report. */
export function formatUnpack(r: UnpackReport, paint: Paint = NO_PAINT): string[] {
  const lines: string[] = [];
  for (const l of r.leftovers) lines.push(`removed the leftover of an interrupted unpack: ${l}`);
  lines.push(
    `${paint.bold('Unpacked')} ${r.archive} -> ${r.dest} (${r.format}${r.manifest ? ', venv-tools manifest' : ''}; ${LAYOUTS[r.layout]})`,
  );
  lines.push(
    `  members: ${r.members}, ${mb(r.bytes)} of files${r.replaced ? '; replaced the old tree' : ''}`,
  );
  for (const v of r.venvs) {
    const how = r.manifest ? 'in the stream' : 'after extraction';
    lines.push(
      v.status === 'up-to-date'
        ? `  ${v.path}: already names its place`
        : `  ${v.path}: relocated ${how} (${v.old ?? '?'} -> ${v.path}): ${formatCounts(v.rewritten)}`,
    );
    if (v.reinit !== null) {
      lines.push(
        `  ${v.path}: interpreter ${v.reinit.interpreter.found} (Python ${v.reinit.interpreter.version})`,
      );
    }
  }
  lines.push(paint.dim(`  took ${seconds(r.ms.total)}`));
  return lines;
}

/** `venv-tools scan ARCHIVE`: what unpack would do with it. */
export function formatArchiveScan(r: ArchiveReport, paint: Paint = NO_PAINT): string[] {
  const lines = [`${paint.bold('Archive')} ${r.archive} (${r.format ?? '?'}, ${r.codec ?? '?'})`];
  if (!r.ok) {
    lines.push(`  ${paint.red('refused:')} ${r.problem ?? ''}`);
    return lines;
  }
  lines.push(`  members: ${r.members}, ${mb(r.bytes)} of files`);
  if (r.layout !== null) lines.push(`  layout: ${LAYOUTS[r.layout]}`);
  if (r.manifest !== null) {
    const m = r.manifest;
    lines.push(
      `  packed by venv-tools ${m.tool} (format ${m.version}) on ${m.platform}: Python ${m.python.full ?? m.python.version} (${m.python.implementation})${m.python.home === null ? '' : `, home ${m.python.home}`}`,
    );
    lines.push(
      `  its files name ${m.prefix}${m.relocated ? ' (relocated for it by pack --to)' : ''}: ${formatCounts(r.holders)}`,
    );
    lines.push(
      `  unpack DEST rewrites those for DEST as they stream past; at ${m.prefix} itself, a plain tar -xf is enough`,
    );
  } else {
    lines.push(`  venvs: ${r.venvs.map((v) => (v === '' ? '(root)' : v)).join(', ')}`);
    lines.push(
      '  no venv-tools manifest: unpack extracts it, then relocates each venv from the location its files name',
    );
  }
  return lines;
}

/** `venv-tools verify ARCHIVE`: whole or not. */
export function formatArchiveVerify(r: ArchiveReport, paint: Paint = NO_PAINT): string[] {
  if (!r.ok) return [`${paint.red('NOT OK')} ${r.archive}: ${r.problem ?? ''}`];
  const proof =
    r.manifest !== null ? "its trailer's member count and checksum match" : 'a complete tar stream';
  return [
    `${paint.green('OK')} ${r.archive}: whole (${r.members} members, ${mb(r.bytes)}; ${proof}), and every member passes unpack's checks`,
  ];
}
